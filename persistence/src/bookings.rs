//! Bookings (预约) of instrument time.
//!
//! The database itself refuses overlapping slot-holding bookings of one
//! instrument (an exclusion constraint on PostgreSQL, triggers on SQLite);
//! such a refusal surfaces as [`RepoError::Conflict`] with the constraint
//! `bookings_no_overlap`.

use crate::schedule::window;
use crate::schema::bookings as t;
use crate::{parse_enum, DbConn, Page, RepoError, Visibility};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use labshare_domain::booking::{BookingStatus, TimeWindow};
use labshare_domain::catalogue::ServiceMode;
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstitutionId, InstrumentId, UserId};

/// The statuses that hold a slot.
pub const BLOCKING: [&str; 3] = ["pending", "approved", "in_use"];

/// [`BLOCKING`] as the condition of the `bookings_holding` partial index,
/// word for word: a query names the statuses so, as literals, for the
/// database to see that the index (only the slot-holding bookings, not an
/// instrument's whole history) holds every row it asks for.
pub const HOLDING_CONDITION: &str = "status IN ('pending', 'approved', 'in_use')";

/// [`HOLDING_CONDITION`] as an expression of a bookings query. Unlike
/// `diesel::dsl::sql`, a statement with it stays prepared between uses.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId, diesel::expression::ValidGrouping)]
struct Holding;

impl Expression for Holding {
    type SqlType = diesel::sql_types::Bool;
}

impl diesel::expression::AppearsOnTable<t::table> for Holding {}
impl diesel::expression::SelectableExpression<t::table> for Holding {}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for Holding {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(HOLDING_CONDITION);
        Ok(())
    }
}

/// A stored booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: i64,
    pub instrument_id: InstrumentId,
    pub user_id: UserId,
    /// The booker's institution at the time of booking.
    pub institution_id: InstitutionId,
    pub mode: ServiceMode,
    pub purpose: String,
    pub window: TimeWindow,
    pub status: BookingStatus,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<NaiveDateTime>,
    pub reason: Option<String>,
    pub late_cancellation: bool,
    pub checked_in_at: Option<NaiveDateTime>,
    pub checked_out_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    instrument_id: i64,
    user_id: i64,
    institution_id: i64,
    mode: String,
    purpose: String,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    status: String,
    decided_by: Option<i64>,
    decided_at: Option<NaiveDateTime>,
    reason: Option<String>,
    late_cancellation: bool,
    checked_in_at: Option<NaiveDateTime>,
    checked_out_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<Row> for Booking {
    type Error = RepoError;
    fn try_from(r: Row) -> Result<Self, RepoError> {
        Ok(Booking {
            id: r.id,
            instrument_id: InstrumentId(r.instrument_id),
            user_id: UserId(r.user_id),
            institution_id: InstitutionId(r.institution_id),
            mode: parse_enum("mode", &r.mode)?,
            purpose: r.purpose,
            window: window(r.starts_at, r.ends_at)?,
            status: parse_enum("status", &r.status)?,
            decided_by: r.decided_by.map(UserId),
            decided_at: r.decided_at,
            reason: r.reason,
            late_cancellation: r.late_cancellation,
            checked_in_at: r.checked_in_at,
            checked_out_at: r.checked_out_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A booking to insert.
#[derive(Debug, Clone)]
pub struct NewBooking<'a> {
    pub instrument_id: InstrumentId,
    pub user_id: UserId,
    pub institution_id: InstitutionId,
    pub mode: ServiceMode,
    pub purpose: &'a str,
    pub window: TimeWindow,
    pub status: BookingStatus,
}

/// # Errors
/// [`RepoError::Conflict`] (`bookings_no_overlap`) when the slot is taken.
pub fn insert(conn: &mut DbConn, b: &NewBooking<'_>, now: NaiveDateTime) -> Result<Booking, RepoError> {
    let auto = b.status == BookingStatus::Approved;
    let row: Row = diesel::insert_into(t::table)
        .values((
            t::instrument_id.eq(b.instrument_id.0),
            t::user_id.eq(b.user_id.0),
            t::institution_id.eq(b.institution_id.0),
            t::mode.eq(b.mode.as_str()),
            t::purpose.eq(b.purpose),
            t::starts_at.eq(b.window.start.naive_utc()),
            t::ends_at.eq(b.window.end.naive_utc()),
            t::status.eq(b.status.as_str()),
            t::decided_at.eq(auto.then_some(now)),
            t::late_cancellation.eq(false),
            t::created_at.eq(now),
            t::updated_at.eq(now),
        ))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such booking.
pub fn get(conn: &mut DbConn, id: i64) -> Result<Booking, RepoError> {
    t::table.find(id).select(Row::as_select()).get_result(conn)?.try_into()
}

/// The windows of an instrument's slot-holding bookings overlapping `range`.
///
/// # Errors
/// Database errors.
pub fn blocking_between(
    conn: &mut DbConn,
    instrument: InstrumentId,
    range: &TimeWindow,
) -> Result<Vec<TimeWindow>, RepoError> {
    let rows: Vec<(NaiveDateTime, NaiveDateTime)> = t::table
        .filter(t::instrument_id.eq(instrument.0))
        .filter(Holding)
        .filter(t::starts_at.lt(range.end.naive_utc()))
        .filter(t::ends_at.gt(range.start.naive_utc()))
        .order(t::starts_at)
        .select((t::starts_at, t::ends_at))
        .load(conn)?;
    rows.into_iter().map(|(s, e)| window(s, e)).collect()
}

/// An instrument's bookings in the given states overlapping `range`, in
/// time order: id, state and window only (what a busy-time feed may show).
///
/// # Errors
/// Database errors.
pub fn windows_between(
    conn: &mut DbConn,
    instrument: InstrumentId,
    range: &TimeWindow,
    statuses: &[BookingStatus],
) -> Result<Vec<(i64, BookingStatus, TimeWindow)>, RepoError> {
    let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let rows: Vec<(i64, String, NaiveDateTime, NaiveDateTime)> = t::table
        .filter(t::instrument_id.eq(instrument.0))
        .filter(t::status.eq_any(statuses))
        .filter(t::starts_at.lt(range.end.naive_utc()))
        .filter(t::ends_at.gt(range.start.naive_utc()))
        .order((t::starts_at, t::id))
        .select((t::id, t::status, t::starts_at, t::ends_at))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, status, s, e)| Ok((id, parse_enum("status", &status)?, window(s, e)?)))
        .collect()
}

/// A user's bookings ending after `ending_after`, in time order, each with
/// the Chinese name of its instrument.
///
/// # Errors
/// Database errors.
pub fn of_user_with_instrument(
    conn: &mut DbConn,
    user: UserId,
    ending_after: NaiveDateTime,
) -> Result<Vec<(Booking, String)>, RepoError> {
    use crate::schema::instruments as i;
    let rows: Vec<(Row, String)> = t::table
        .inner_join(i::table)
        .filter(t::user_id.eq(user.0))
        .filter(t::ends_at.gt(ending_after))
        .order((t::starts_at, t::id))
        .select((Row::as_select(), i::name_zh))
        .load(conn)?;
    rows.into_iter()
        .map(|(row, name)| Ok((Booking::try_from(row)?, name)))
        .collect()
}

/// When a user's bookings turned into no-shows (their start times) since `since`.
///
/// # Errors
/// Database errors.
pub fn no_shows_since(conn: &mut DbConn, user: UserId, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>, RepoError> {
    let rows: Vec<NaiveDateTime> = t::table
        .filter(t::user_id.eq(user.0))
        .filter(t::status.eq(BookingStatus::NoShow.as_str()))
        .filter(t::starts_at.ge(since.naive_utc()))
        .order(t::starts_at)
        .select(t::starts_at)
        .load(conn)?;
    Ok(rows.into_iter().map(|r| r.and_utc()).collect())
}

/// What a transition writes besides the status.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub decided_by: Option<UserId>,
    pub decided_at: Option<NaiveDateTime>,
    pub reason: Option<String>,
    pub late_cancellation: Option<bool>,
    pub checked_in_at: Option<NaiveDateTime>,
    pub checked_out_at: Option<NaiveDateTime>,
}

/// Moves a booking from `from` to `to`, only if it is still in `from` (a
/// concurrent transition makes this one fail with [`RepoError::NotFound`]).
///
/// # Errors
/// [`RepoError::NotFound`] when the booking is gone or moved on;
/// [`RepoError::Conflict`] when the database refuses the new state.
pub fn transition(
    conn: &mut DbConn,
    id: i64,
    from: BookingStatus,
    to: BookingStatus,
    change: &Change,
    now: NaiveDateTime,
) -> Result<Booking, RepoError> {
    let current = get(conn, id)?;
    let n = diesel::update(t::table.find(id).filter(t::status.eq(from.as_str())))
        .set((
            t::status.eq(to.as_str()),
            t::decided_by.eq(change.decided_by.map(|u| u.0).or(current.decided_by.map(|u| u.0))),
            t::decided_at.eq(change.decided_at.or(current.decided_at)),
            t::reason.eq(change.reason.clone().or(current.reason)),
            t::late_cancellation.eq(change.late_cancellation.unwrap_or(current.late_cancellation)),
            t::checked_in_at.eq(change.checked_in_at.or(current.checked_in_at)),
            t::checked_out_at.eq(change.checked_out_at.or(current.checked_out_at)),
            t::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get(conn, id)
}

/// Filters of the booking lists.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<UserId>,
    /// Bookings of these instruments only (a manager's queue).
    pub instrument_ids: Option<Vec<i64>>,
    pub instrument_id: Option<InstrumentId>,
    /// Bookings made by members of, or on instruments of, this institution.
    pub institution_id: Option<InstitutionId>,
    /// Instruments owned by this institution.
    pub owner_institution_id: Option<InstitutionId>,
    pub status: Option<BookingStatus>,
    /// Bookings ending after this instant.
    pub from: Option<NaiveDateTime>,
    /// Bookings starting before this instant.
    pub to: Option<NaiveDateTime>,
    /// Restricts the list to what one actor may read; `None`: everything.
    pub visible_to: Option<Visibility>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<Booking>, RepoError> {
    use crate::schema::instruments as i;
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Some(u) = f.user_id {
        q = q.filter(t::user_id.eq(u.0));
    }
    if let Some(ids) = &f.instrument_ids {
        q = q.filter(t::instrument_id.eq_any(ids.clone()));
    }
    if let Some(id) = f.instrument_id {
        q = q.filter(t::instrument_id.eq(id.0));
    }
    if let Some(inst) = f.institution_id {
        q = q.filter(t::institution_id.eq(inst.0));
    }
    if let Some(owner) = f.owner_institution_id {
        q = q.filter(t::instrument_id.eq_any(i::table.filter(i::institution_id.eq(owner.0)).select(i::id)));
    }
    if let Some(s) = f.status {
        q = q.filter(t::status.eq(s.as_str()));
    }
    if let Some(from) = f.from {
        q = q.filter(t::ends_at.gt(from));
    }
    if let Some(to) = f.to {
        q = q.filter(t::starts_at.lt(to));
    }
    if let Some(v) = &f.visible_to {
        let own = t::user_id
            .eq(v.user_id)
            .or(t::instrument_id.eq_any(v.instrument_ids.clone()));
        q = match v.institution_id {
            Some(inst) => q.filter(own.or(t::institution_id.eq(inst))),
            None => q.filter(own),
        };
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let items = rows.into_iter().map(Booking::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |b| b.id))
}

/// Pending bookings whose start has passed (to expire) and approved ones
/// not checked in by `no_show_cutoff` after their start (to mark no-show).
///
/// # Errors
/// Database errors.
pub fn due_for_sweep(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    no_show_after: chrono::Duration,
) -> Result<(Vec<i64>, Vec<i64>), RepoError> {
    let expire: Vec<i64> = t::table
        .filter(t::status.eq(BookingStatus::Pending.as_str()))
        .filter(t::starts_at.le(now.naive_utc()))
        .order(t::id)
        .select(t::id)
        .load(conn)?;
    let no_show: Vec<i64> = t::table
        .filter(t::status.eq(BookingStatus::Approved.as_str()))
        .filter(t::checked_in_at.is_null())
        .filter(t::starts_at.le((now - no_show_after).naive_utc()))
        .order(t::id)
        .select(t::id)
        .load(conn)?;
    Ok((expire, no_show))
}
