//! What the measured requests need, found in (and written to) the loaded
//! database before the server starts: readers, bookable windows that the
//! API itself accepts, and bookings in use to check out.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use diesel::{QueryableByName, RunQueryDsl};
use labshare_api::error::ApiError;
use labshare_api::routes::bookings::{create_in, BookingInput};
use labshare_api::state::Ctx;
use labshare_domain::booking::{BookingStatus, TimeWindow};
use labshare_domain::catalogue::ServiceMode;
use labshare_domain::policy::Policy;
use labshare_domain::{InstrumentId, UserId};
use labshare_persistence::bookings::{self, Change, NewBooking};
use labshare_persistence::{users, write_tx, DbConn, DbPool};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// A booking request to send, and who sends it.
#[derive(Debug, Clone)]
pub struct Booking {
    pub username: String,
    pub user_id: i64,
    pub body: Value,
}

/// Everything the two sides measure with.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Researchers of member units: (id, username).
    pub readers: Vec<(i64, String)>,
    /// Listed instruments, for availability.
    pub instruments: Vec<i64>,
    /// The week asked for.
    pub week: (DateTime<Utc>, DateTime<Utc>),
    /// Distinct accepted windows: the first half for the API, the second in-process.
    pub windows: Vec<Booking>,
    /// Bookings in use: the first half checked out through the API, the second in-process.
    pub in_use: Vec<i64>,
    pub admin_id: i64,
    /// How many of each of `windows` and `in_use` each side takes.
    pub writes: usize,
}

#[derive(QueryableByName)]
struct IdName {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Pair {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    user_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    instrument_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    username: String,
}

/// Runs one statement.
pub fn execute(conn: &mut DbConn, sql: &str) -> Result<(), String> {
    diesel::sql_query(sql)
        .execute(conn)
        .map(|_| ())
        .map_err(|e| format!("{sql}: {e}"))
}

fn id_names(conn: &mut DbConn, sql: &str) -> Result<Vec<(i64, String)>, String> {
    let rows: Vec<IdName> = diesel::sql_query(sql).load(conn).map_err(|e| format!("{sql}: {e}"))?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}

/// The context a handler builds for `user`.
///
/// # Errors
/// The database's.
pub fn ctx(c: &mut DbConn, user: i64) -> Result<Ctx, ApiError> {
    let actor = users::actor(c, UserId(user))?;
    let policy = labshare_api::routes::policy::current(c, &Policy::default())?;
    Ok(Ctx {
        actor,
        now: Utc::now(),
        policy: Arc::new(policy),
    })
}

/// Local (+08:00) midnight `days` after today, as an instant.
fn local_midnight(days: i64) -> Result<DateTime<Utc>, String> {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).ok_or("offset")?;
    let today = Utc::now().with_timezone(&offset).date_naive();
    let day = today + Duration::days(days);
    offset
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| "local midnight".to_owned())
}

/// Finds what the measurements need; writes the bookings in use.
///
/// # Errors
/// A database error, or too few bookable windows.
pub fn plan(pool: &DbPool, writes: usize) -> Result<Plan, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let c = &mut *conn;
    let readers = id_names(
        c,
        "SELECT u.id AS id, u.username AS name FROM users u JOIN institutions i ON i.id = u.institution_id \
         WHERE u.username LIKE 'r0%' AND i.membership <> 'external' ORDER BY u.id",
    )?
    .into_iter()
    .take(crate::CONCURRENCY)
    .collect::<Vec<_>>();
    let instruments: Vec<i64> = id_names(
        c,
        "SELECT id, name_zh AS name FROM instruments WHERE listing_status = 'approved' AND sharing_scope <> 'internal' ORDER BY id",
    )?
    .into_iter()
    .map(|(id, _)| id)
    .collect();
    let admin_id = id_names(c, "SELECT id, username AS name FROM users WHERE username = 'admin'")?
        .first()
        .map(|(id, _)| *id)
        .ok_or("no admin account")?;
    let pairs: Vec<Pair> = diesel::sql_query(
        "SELECT q.user_id AS user_id, q.instrument_id AS instrument_id, u.username AS username \
         FROM qualifications q JOIN users u ON u.id = q.user_id JOIN instruments i ON i.id = q.instrument_id \
         WHERE q.kind = 'instrument' AND q.revoked_at IS NULL AND i.listing_status = 'approved' \
         ORDER BY q.instrument_id, q.user_id",
    )
    .load(c)
    .map_err(|e| e.to_string())?;
    let mut by_instrument: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
    for p in pairs {
        by_instrument
            .entry(p.instrument_id)
            .or_default()
            .push((p.user_id, p.username));
    }
    let windows = windows(c, &by_instrument, 2 * writes)?;
    let in_use = in_use(c, &by_instrument, 2 * writes)?;
    let from = local_midnight(7)?;
    Ok(Plan {
        readers,
        instruments,
        week: (from, from + Duration::days(7)),
        windows,
        in_use,
        admin_id,
        writes,
    })
}

/// Tries a booking as the API would make it, and rolls it back.
fn accepted(c: &mut DbConn, user: i64, body: &Value) -> Result<bool, String> {
    let input: BookingInput = serde_json::from_value(body.clone()).map_err(|e| e.to_string())?;
    let window = TimeWindow::new(input.starts_at, input.ends_at).map_err(|e| e.to_string())?;
    let mut ok = false;
    let r: Result<(), ApiError> = write_tx(c, |c| {
        let ctx = ctx(c, user)?;
        ok = create_in(c, &ctx, &input, window).is_ok();
        // Always roll back: this only asks whether the API would accept it.
        Err(ApiError::NotFound)
    });
    match r {
        Err(ApiError::NotFound) => Ok(ok),
        Err(e) => Err(format!("{e:?}")),
        Ok(()) => Ok(ok),
    }
}

/// `n` distinct booking windows the API accepts now, spread over instruments
/// and days so that none overlaps another.
fn windows(
    c: &mut DbConn,
    by_instrument: &BTreeMap<i64, Vec<(i64, String)>>,
    n: usize,
) -> Result<Vec<Booking>, String> {
    let mut out = Vec::with_capacity(n);
    let mut dead: HashSet<i64> = HashSet::new();
    let mut misses: BTreeMap<i64, u32> = BTreeMap::new();
    let mut trials = 0usize;
    'days: for day in 3..=28i64 {
        let midnight = local_midnight(day)?;
        for (instrument, users) in by_instrument {
            if out.len() >= n {
                break 'days;
            }
            if dead.contains(instrument) || users.is_empty() {
                continue;
            }
            let (user, username) = &users[usize::try_from(day).unwrap_or(0) % users.len()];
            let mut found = false;
            for (hour, minutes) in [(9, 60), (10, 120), (14, 60)] {
                let start = midnight + Duration::hours(hour);
                let body = json!({
                    "instrument_id": instrument,
                    "starts_at": start.to_rfc3339(),
                    "ends_at": (start + Duration::minutes(minutes)).to_rfc3339(),
                    "mode": "self_operated",
                    "purpose": format!("负载测试 {instrument}-{day}"),
                });
                trials += 1;
                if accepted(c, *user, &body)? {
                    out.push(Booking {
                        username: username.clone(),
                        user_id: *user,
                        body,
                    });
                    found = true;
                    break;
                }
            }
            if !found {
                let m = misses.entry(*instrument).or_default();
                *m += 1;
                if *m >= 4 {
                    dead.insert(*instrument);
                }
            }
        }
    }
    if out.len() < n {
        return Err(format!(
            "only {} of {n} booking windows found acceptable in {trials} tries; use fewer --writes",
            out.len()
        ));
    }
    Ok(out)
}

/// `n` bookings checked in, in distinct past hours of their instruments.
fn in_use(c: &mut DbConn, by_instrument: &BTreeMap<i64, Vec<(i64, String)>>, n: usize) -> Result<Vec<i64>, String> {
    let now = Utc::now();
    let hour = now - Duration::minutes(i64::from(chrono::Timelike::minute(&now)) + 60);
    let instruments: Vec<(&i64, &Vec<(i64, String)>)> = by_instrument.iter().filter(|(_, u)| !u.is_empty()).collect();
    if instruments.is_empty() {
        return Err("no qualified researchers".into());
    }
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
        let made: Result<Vec<i64>, ApiError> = write_tx(c, |c| {
            let mut made = Vec::new();
            for k in chunk {
                let (instrument, users) = instruments[k % instruments.len()];
                let round = i64::try_from(k / instruments.len()).unwrap_or(0);
                let (user, _) = &users[k % users.len()];
                let actor = users::actor(c, UserId(*user))?;
                let start = hour - Duration::hours(round + 1);
                let window = TimeWindow::new(start, start + Duration::hours(1))?;
                let now = Utc::now().naive_utc();
                let b = bookings::insert(
                    c,
                    &NewBooking {
                        instrument_id: InstrumentId(*instrument),
                        user_id: actor.user_id,
                        institution_id: actor.institution_id,
                        mode: ServiceMode::SelfOperated,
                        purpose: "负载测试 上机",
                        window,
                        status: BookingStatus::Approved,
                    },
                    now,
                )?;
                let b = bookings::transition(
                    c,
                    b.id,
                    BookingStatus::Approved,
                    BookingStatus::InUse,
                    &Change {
                        checked_in_at: Some(start.naive_utc()),
                        ..Change::default()
                    },
                    now,
                )?;
                made.push(b.id);
            }
            Ok(made)
        });
        ids.extend(made.map_err(|e| format!("preparing bookings in use: {e:?}"))?);
    }
    Ok(ids)
}
