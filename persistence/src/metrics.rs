//! What the records say about each instrument over a period, computed by
//! aggregate queries in the database (one row per instrument, never one per
//! use), on both backends. The assessment and the reports read these.

use crate::schema::{blackouts as b, fee_standards as fs, instruments as i};
use crate::{DbConn, RepoError};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Timestamp};
use std::collections::BTreeMap;

/// The sums of one instrument over a period; what is absent is zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sums {
    pub effective_minutes: i64,
    pub external_minutes: i64,
    pub users: i64,
    pub institutions: i64,
    pub samples: i64,
    pub orders_completed: i64,
    pub orders_on_time: i64,
    pub revenue_internal: i64,
    pub revenue_external: i64,
    pub subsidy: i64,
    pub ratings: i64,
    pub rating_sum: i64,
    pub bookings_due: i64,
    pub no_shows: i64,
    pub blackout_minutes: i64,
    /// Usage records of the period written more than the policy's days after the use.
    pub late_records: i64,
}

/// An instrument as the assessment and the reports see it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = i)]
pub struct InstrumentBasics {
    pub id: i64,
    pub institution_id: i64,
    pub lab_id: i64,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub category_code: String,
    pub model: String,
    pub manufacturer: String,
    pub country_of_origin: String,
    pub asset_number: String,
    pub original_value_fen: i64,
    pub purchase_date: NaiveDate,
    pub commissioning_date: Option<NaiveDate>,
    pub technical_specs: String,
    pub functions: String,
    pub service_content: String,
    pub disciplines: String,
    pub photo_url: Option<String>,
    pub contact_name: String,
    pub contact_phone: String,
    pub status: String,
    pub sharing_scope: String,
    pub rated_annual_hours: i32,
    pub listing_status: String,
}

/// Every instrument, by id (the catalogue is hundreds of rows).
///
/// # Errors
/// Database errors.
pub fn instruments(conn: &mut DbConn) -> Result<Vec<InstrumentBasics>, RepoError> {
    Ok(i::table.order(i::id).select(InstrumentBasics::as_select()).load(conn)?)
}

/// The instruments with an approved fee standard in force on or before
/// `on`, for their time or for a service item they run (as its primary
/// instrument).
///
/// # Errors
/// Database errors.
pub fn priced_instruments(conn: &mut DbConn, on: NaiveDate) -> Result<Vec<i64>, RepoError> {
    use crate::schema::service_items as si;
    let approved = fs::table
        .filter(fs::status.eq("approved"))
        .filter(fs::effective_from.le(on));
    let mut ids: Vec<i64> = approved
        .filter(fs::instrument_id.is_not_null())
        .select(fs::instrument_id.assume_not_null())
        .distinct()
        .load(conn)?;
    let items: Vec<i64> = fs::table
        .inner_join(si::table.on(si::id.nullable().eq(fs::service_item_id)))
        .filter(fs::status.eq("approved"))
        .filter(fs::effective_from.le(on))
        .select(si::primary_instrument_id)
        .distinct()
        .load(conn)?;
    ids.extend(items);
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

#[derive(QueryableByName)]
struct Agg {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    a: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    b: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    c: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    d: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    e: Option<i64>,
}

/// Runs an aggregate over `[from, to)` answering `id, a, b, c, d, e`
/// (missing columns are selected as NULL). Placeholders are `$1` (from) and
/// `$2` (to): PostgreSQL numbers them, SQLite names them, and both bind by
/// the order they first appear.
fn aggregate(conn: &mut DbConn, sql: &str, from: NaiveDateTime, to: NaiveDateTime) -> Result<Vec<Agg>, RepoError> {
    Ok(diesel::sql_query(sql)
        .bind::<Timestamp, _>(from)
        .bind::<Timestamp, _>(to)
        .load(conn)?)
}

/// Local calendar days between two instants as SQL, for the backend.
fn local_day_diff(conn: &DbConn, later: &str, earlier: &str, offset_seconds: i32) -> String {
    match conn {
        DbConn::Postgresql(_) => format!(
            "(CAST({later} + interval '{offset_seconds} seconds' AS DATE) - CAST({earlier} + interval '{offset_seconds} seconds' AS DATE))"
        ),
        DbConn::Sqlite(_) => format!(
            "CAST(julianday(date({later}, '{offset_seconds:+} seconds')) - julianday(date({earlier}, '{offset_seconds:+} seconds')) AS INTEGER)"
        ),
    }
}

/// Whether `later` is more than `days` after `earlier`, as SQL.
fn more_than_days_after(conn: &DbConn, later: &str, earlier: &str, days: i64) -> String {
    match conn {
        DbConn::Postgresql(_) => format!("{later} > {earlier} + interval '{days} days'"),
        DbConn::Sqlite(_) => format!("julianday({later}) - julianday({earlier}) > {days}"),
    }
}

// The yearly aggregates per instrument reach their rows from each
// instrument, through an index that starts with the instrument and the time
// and holds every column the aggregate reads (migration
// 2026-12-09-000001_aggregate_indexes): only the period's entries are read,
// and no row is fetched from the table. On SQLite the instruments stay the
// outer loop (`join_as_written`), so the groups come in instrument order
// and stream out with no sort. SQLite has no hash aggregation: over rows in
// any other order it sorts the whole year, and rows found through an index
// without their columns are fetched out of the table's order. Both grow
// faster than the data once a year no longer fits in memory (×4.4 to ×6 for
// ×3.9 more rows from scale 4 to 16, against ×3.75 to ×4.05 this way).
// PostgreSQL hashes the groups.

/// A join SQLite performs in the order it is written, the left side as the
/// outer loop (its CROSS JOIN, with the same result as JOIN). PostgreSQL
/// joins as it sees fit.
fn join_as_written(conn: &DbConn) -> &'static str {
    match conn {
        DbConn::Sqlite(_) => "CROSS JOIN",
        DbConn::Postgresql(_) => "JOIN",
    }
}

/// Sums per instrument over the rows of `table` (aliased `alias`) whose
/// `time` column falls in `[$1, $2)` and that meet `condition`, reached from
/// each instrument `i` as the note above says; `sums` selects `a` to `e`.
fn per_instrument(conn: &DbConn, sums: &str, table: &str, alias: &str, time: &str, condition: &str) -> String {
    let join = join_as_written(conn);
    format!(
        "SELECT i.id AS id, {sums}
         FROM instruments i {join} {table} {alias} ON {alias}.instrument_id = i.id
         WHERE {condition} {alias}.{time} >= $1 AND {alias}.{time} < $2
         GROUP BY i.id"
    )
}

fn usage_sums_sql(conn: &DbConn, record_days: i64) -> String {
    let late = more_than_days_after(conn, "u.recorded_at", "u.ended_at", record_days);
    let sums = format!(
        "CAST(SUM(u.effective_minutes) AS BIGINT) AS a,
                CAST(SUM(CASE WHEN u.institution_id <> i.institution_id THEN u.effective_minutes ELSE 0 END) AS BIGINT) AS b,
                CAST(SUM(CASE WHEN {late} THEN 1 ELSE 0 END) AS BIGINT) AS c,
                CAST(NULL AS BIGINT) AS d, CAST(NULL AS BIGINT) AS e"
    );
    per_instrument(conn, &sums, "usage_records", "u", "started_at", "")
}

/// Completed service orders per primary instrument. They are grouped
/// through their service item, so SQLite sorts them: fewer than a tenth
/// as many rows as the usage records.
fn order_sums_sql(conn: &DbConn, offset_seconds: i32) -> String {
    let days = local_day_diff(conn, "o.completed_at", "o.received_at", offset_seconds);
    format!(
        "SELECT s.primary_instrument_id AS id,
                CAST(SUM(COALESCE(o.instrument_minutes, 0)) AS BIGINT) AS a,
                CAST(SUM(CASE WHEN o.institution_id <> o.provider_institution_id
                              THEN COALESCE(o.instrument_minutes, 0) ELSE 0 END) AS BIGINT) AS b,
                CAST(SUM(COALESCE(o.sample_count, 0)) AS BIGINT) AS c,
                CAST(COUNT(*) AS BIGINT) AS d,
                CAST(SUM(CASE WHEN o.received_at IS NOT NULL AND {days} <= s.turnaround_days
                              THEN 1 ELSE 0 END) AS BIGINT) AS e
         FROM service_orders o JOIN service_items s ON s.id = o.service_item_id
         WHERE o.status = 'completed' AND o.completed_at >= $1 AND o.completed_at < $2
         GROUP BY s.primary_instrument_id"
    )
}

fn served_sums_sql(conn: &DbConn) -> String {
    // On SQLite the uses come merged in instrument order (the usage
    // records instrument by instrument, the few orders sorted), so the
    // groups stream.
    let order = match conn {
        DbConn::Sqlite(_) => "ORDER BY 1",
        DbConn::Postgresql(_) => "",
    };
    format!(
        "SELECT x.id AS id, {SERVED_COUNTS}, CAST(NULL AS BIGINT) AS c, CAST(NULL AS BIGINT) AS d, CAST(NULL AS BIGINT) AS e
         FROM ({} {order}) x
         GROUP BY x.id",
        served(conn, None)
    )
}

fn money_sums_sql(conn: &DbConn) -> String {
    let sums = "CAST(SUM(CASE WHEN c.tier = 'internal' THEN c.gross_fen ELSE 0 END) AS BIGINT) AS a,
                CAST(SUM(CASE WHEN c.tier <> 'internal' THEN c.gross_fen ELSE 0 END) AS BIGINT) AS b,
                CAST(SUM(c.subsidy_fen) AS BIGINT) AS c,
                CAST(NULL AS BIGINT) AS d, CAST(NULL AS BIGINT) AS e";
    per_instrument(conn, sums, "charges", "c", "used_at", "")
}

fn rating_sums_sql(conn: &DbConn) -> String {
    let sums = "CAST(COUNT(*) AS BIGINT) AS a, CAST(SUM(r.score) AS BIGINT) AS b,
                CAST(NULL AS BIGINT) AS c, CAST(NULL AS BIGINT) AS d, CAST(NULL AS BIGINT) AS e";
    per_instrument(conn, sums, "ratings", "r", "created_at", "")
}

fn booking_sums_sql(conn: &DbConn) -> String {
    let sums = "CAST(COUNT(*) AS BIGINT) AS a,
                CAST(SUM(CASE WHEN b.status = 'no_show' THEN 1 ELSE 0 END) AS BIGINT) AS b,
                CAST(NULL AS BIGINT) AS c, CAST(NULL AS BIGINT) AS d, CAST(NULL AS BIGINT) AS e";
    per_instrument(
        conn,
        sums,
        "bookings",
        "b",
        "starts_at",
        "b.status IN ('completed', 'no_show') AND",
    )
}

/// The statements [`sums`] and [`served_counts`] run over a period's rows
/// that must read an index in instrument order on SQLite, by name, with
/// `$1` and `$2` for the period: for checking how the database plans them.
/// ([`sums`] also sums the service orders, which it groups through their
/// service item.)
#[doc(hidden)]
pub fn planned_statements(conn: &DbConn) -> Vec<(&'static str, String)> {
    vec![
        ("usage", usage_sums_sql(conn, 7)),
        ("served", served_sums_sql(conn)),
        ("money", money_sums_sql(conn)),
        ("ratings", rating_sums_sql(conn)),
        ("bookings", booking_sums_sql(conn)),
        (
            "served by institution",
            served_counts_sql(conn, ServedBy::Institution, &[1, 2]),
        ),
        (
            "served by category",
            served_counts_sql(conn, ServedBy::Category, &[1, 2]),
        ),
        ("served in all", served_counts_sql(conn, ServedBy::Whole, &[1, 2])),
    ]
}

/// The sums of every instrument with any activity in `[from, to)`; the
/// local offset places order turnaround on calendar days, `record_days`
/// is the policy's limit for recording use.
///
/// # Errors
/// Database errors.
pub fn sums(
    conn: &mut DbConn,
    from: NaiveDateTime,
    to: NaiveDateTime,
    offset_seconds: i32,
    record_days: i64,
) -> Result<BTreeMap<i64, Sums>, RepoError> {
    let mut out: BTreeMap<i64, Sums> = BTreeMap::new();
    let usage = usage_sums_sql(conn, record_days);
    for r in aggregate(conn, &usage, from, to)? {
        let s = out.entry(r.id).or_default();
        s.effective_minutes += r.a.unwrap_or(0);
        s.external_minutes += r.b.unwrap_or(0);
        s.late_records += r.c.unwrap_or(0);
    }
    let orders = order_sums_sql(conn, offset_seconds);
    for r in aggregate(conn, &orders, from, to)? {
        let s = out.entry(r.id).or_default();
        s.effective_minutes += r.a.unwrap_or(0);
        s.external_minutes += r.b.unwrap_or(0);
        s.samples += r.c.unwrap_or(0);
        s.orders_completed += r.d.unwrap_or(0);
        s.orders_on_time += r.e.unwrap_or(0);
    }
    let served = served_sums_sql(conn);
    for r in aggregate(conn, &served, from, to)? {
        let s = out.entry(r.id).or_default();
        s.users = r.a.unwrap_or(0);
        s.institutions = r.b.unwrap_or(0);
    }
    let money = money_sums_sql(conn);
    for r in aggregate(conn, &money, from, to)? {
        let s = out.entry(r.id).or_default();
        s.revenue_internal = r.a.unwrap_or(0);
        s.revenue_external = r.b.unwrap_or(0);
        s.subsidy = r.c.unwrap_or(0);
    }
    let ratings = rating_sums_sql(conn);
    for r in aggregate(conn, &ratings, from, to)? {
        let s = out.entry(r.id).or_default();
        s.ratings = r.a.unwrap_or(0);
        s.rating_sum = r.b.unwrap_or(0);
    }
    let bookings = booking_sums_sql(conn);
    for r in aggregate(conn, &bookings, from, to)? {
        let s = out.entry(r.id).or_default();
        s.bookings_due = r.a.unwrap_or(0);
        s.no_shows = r.b.unwrap_or(0);
    }
    for (id, spans) in blackouts(conn, from, to)? {
        out.entry(id).or_default().blackout_minutes = spans.iter().map(|(s, e)| (*e - *s).num_minutes()).sum();
    }
    Ok(out)
}

/// The blackouts of each instrument within `[from, to)`, clipped to it and
/// with overlaps merged. Only blackouts announced before they began, or
/// within a day of it (a breakdown is reported as it happens), count: a
/// blackout entered afterwards for a past window does not reduce the
/// rated hours. Blackouts are few (a handful per instrument a year).
///
/// # Errors
/// Database errors.
pub fn blackouts(
    conn: &mut DbConn,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<BTreeMap<i64, Vec<(NaiveDateTime, NaiveDateTime)>>, RepoError> {
    let rows: Vec<(i64, NaiveDateTime, NaiveDateTime, NaiveDateTime)> = b::table
        .filter(b::cancelled_at.is_null())
        .filter(b::starts_at.lt(to))
        .filter(b::ends_at.gt(from))
        .order((b::instrument_id, b::starts_at))
        .select((b::instrument_id, b::starts_at, b::ends_at, b::created_at))
        .load(conn)?;
    let mut out: BTreeMap<i64, Vec<(NaiveDateTime, NaiveDateTime)>> = BTreeMap::new();
    for (id, start, end, created) in rows {
        if created > start + chrono::Duration::days(1) {
            continue;
        }
        let (start, end) = (start.max(from), end.min(to));
        let spans = out.entry(id).or_default();
        match spans.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => spans.push((start, end)),
        }
    }
    Ok(out)
}

/// Every use of an instrument in `[from, to)` by usage and completed
/// service orders as `id` (the instrument), `user_id`, `inst` (the user's
/// institution) and `owner` (the instrument's); of `instruments` only, when
/// given (ids, written into the statement).
fn served(conn: &DbConn, instruments: Option<&[i64]>) -> String {
    let join = join_as_written(conn);
    let (usage_of, orders_of) = match instruments {
        Some(ids) => {
            let ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            (
                format!("i.id IN ({ids}) AND"),
                format!("s.primary_instrument_id IN ({ids}) AND"),
            )
        }
        None => (String::new(), String::new()),
    };
    format!(
        "SELECT i.id AS id, u.user_id AS user_id, u.institution_id AS inst, i.institution_id AS owner
               FROM instruments i {join} usage_records u ON u.instrument_id = i.id
               WHERE {usage_of} u.started_at >= $1 AND u.started_at < $2
               UNION ALL
               SELECT s.primary_instrument_id, o.user_id, o.institution_id, o.provider_institution_id
               FROM service_orders o JOIN service_items s ON s.id = o.service_item_id
               WHERE {orders_of} o.status = 'completed' AND o.completed_at >= $1 AND o.completed_at < $2"
    )
}

/// Over rows `x` of [`served`]: `a`, the distinct users served, and `b`,
/// the distinct institutions served other than the owner of the
/// instrument used.
const SERVED_COUNTS: &str = "CAST(COUNT(DISTINCT x.user_id) AS BIGINT) AS a,
                CAST(COUNT(DISTINCT CASE WHEN x.inst <> x.owner THEN x.inst END) AS BIGINT) AS b";

/// Users and institutions served by a group of instruments, each counted
/// once however many of the group's instruments they used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServedCounts {
    pub users: i64,
    /// Other than the owner of the instrument used.
    pub institutions: i64,
}

/// The groups of instruments [`served_counts`] counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServedBy {
    /// Per owning institution; keyed by its id.
    Institution,
    /// Per category group (the first four digits of the code); keyed by it.
    Category,
    /// All of them together; keyed by "".
    Whole,
}

#[derive(QueryableByName)]
struct ServedRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    k: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    a: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    b: Option<i64>,
}

fn served_counts_sql(conn: &DbConn, by: ServedBy, instruments: &[i64]) -> String {
    let served = served(conn, Some(instruments));
    // The category group is the domain's `report::category_group`: the
    // first four digits of the code.
    let (key, group) = match by {
        ServedBy::Institution => ("CAST(g.institution_id AS TEXT)", "GROUP BY g.institution_id"),
        ServedBy::Category => (
            "substr(g.category_code, 1, 4)",
            "GROUP BY substr(g.category_code, 1, 4)",
        ),
        ServedBy::Whole => {
            return format!("SELECT '' AS k, {SERVED_COUNTS} FROM ({served}) x");
        }
    };
    // The uses first, each instrument's from the usage index, then their
    // instrument by its key. Left to choose, SQLite goes the other way
    // round: it stores every use of the year in an index of its own to find
    // them per instrument (×1.8 the time per unit at scale 16).
    let join = join_as_written(conn);
    format!(
        "SELECT {key} AS k, {SERVED_COUNTS}
         FROM ({served}) x {join} instruments g ON g.id = x.id
         {group}"
    )
}

/// The users and institutions served in `[from, to)` by usage and completed
/// service orders on `instruments`, counted in the database per group of
/// `by`: a year of a large pool serves millions of distinct (instrument,
/// user) pairs, which are neither sent over nor held. Per instrument,
/// [`sums`] has them.
///
/// # Errors
/// Database errors.
pub fn served_counts(
    conn: &mut DbConn,
    from: NaiveDateTime,
    to: NaiveDateTime,
    by: ServedBy,
    instruments: &[i64],
) -> Result<BTreeMap<String, ServedCounts>, RepoError> {
    if instruments.is_empty() {
        return Ok(BTreeMap::new());
    }
    let sql = served_counts_sql(conn, by, instruments);
    let rows: Vec<ServedRow> = diesel::sql_query(sql)
        .bind::<Timestamp, _>(from)
        .bind::<Timestamp, _>(to)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let counts = ServedCounts {
                users: r.a.unwrap_or(0),
                institutions: r.b.unwrap_or(0),
            };
            (r.k, counts)
        })
        .collect())
}

/// The charges of one provider to one payer of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeSums {
    pub provider_institution_id: i64,
    pub payer_institution_id: i64,
    pub kind: labshare_domain::fees::ChargeKind,
    pub count: i64,
    /// Fen; adjustments count with their sign.
    pub gross: i64,
    pub subsidy: i64,
    pub payable: i64,
}

#[derive(QueryableByName)]
struct ChargeRow {
    #[diesel(sql_type = BigInt)]
    provider: i64,
    #[diesel(sql_type = BigInt)]
    payer: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    gross: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    subsidy: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    payable: Option<i64>,
}

/// The charges made in `[from, to)` (by `created_at`, as statements and
/// the charge list count them), summed per provider, payer and kind in one
/// aggregate query.
///
/// # Errors
/// Database errors; a kind the domain does not know is reported as corrupt.
pub fn charge_sums(conn: &mut DbConn, from: NaiveDateTime, to: NaiveDateTime) -> Result<Vec<ChargeSums>, RepoError> {
    let sql = "SELECT provider_institution_id AS provider, payer_institution_id AS payer, kind,
                CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(gross_fen) AS BIGINT) AS gross,
                CAST(SUM(subsidy_fen) AS BIGINT) AS subsidy, CAST(SUM(payable_fen) AS BIGINT) AS payable
         FROM charges
         WHERE created_at >= $1 AND created_at < $2
         GROUP BY provider_institution_id, payer_institution_id, kind
         ORDER BY provider_institution_id, payer_institution_id, kind";
    let rows: Vec<ChargeRow> = diesel::sql_query(sql)
        .bind::<Timestamp, _>(from)
        .bind::<Timestamp, _>(to)
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok(ChargeSums {
                provider_institution_id: r.provider,
                payer_institution_id: r.payer,
                kind: crate::parse_enum("charges.kind", &r.kind)?,
                count: r.n,
                gross: r.gross.unwrap_or(0),
                subsidy: r.subsidy.unwrap_or(0),
                payable: r.payable.unwrap_or(0),
            })
        })
        .collect()
}

/// The name of every institution, by id (a few dozen rows).
///
/// # Errors
/// Database errors.
pub fn institution_names(conn: &mut DbConn) -> Result<BTreeMap<i64, String>, RepoError> {
    use crate::schema::institutions as t;
    let rows: Vec<(i64, String)> = t::table.select((t::id, t::name)).load(conn)?;
    Ok(rows.into_iter().collect())
}

/// The name of every lab, by id.
///
/// # Errors
/// Database errors.
pub fn lab_names(conn: &mut DbConn) -> Result<BTreeMap<i64, String>, RepoError> {
    use crate::schema::labs as t;
    let rows: Vec<(i64, String)> = t::table.select((t::id, t::name)).load(conn)?;
    Ok(rows.into_iter().collect())
}
