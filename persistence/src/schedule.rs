//! When an instrument can be booked: its booking rules, weekly opening hours and blackouts.

use crate::schema::{blackouts as b, booking_rules as r, opening_hours as o};
use crate::{parse_enum, DbConn, RepoError};
use chrono::{NaiveDateTime, Weekday};
use diesel::prelude::*;
use labshare_domain::booking::{BlackoutKind, BookingRules, OpeningHours, OpeningInterval, TimeWindow};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstrumentId, UserId};

/// The booking rules of an instrument; the defaults when none were set.
///
/// # Errors
/// Database errors.
pub fn rules(conn: &mut DbConn, instrument: InstrumentId) -> Result<BookingRules, RepoError> {
    let row: Option<(i32, i32, i32, Option<i32>, i32, bool)> = r::table
        .find(instrument.0)
        .select((
            r::slot_minutes,
            r::min_minutes,
            r::max_minutes,
            r::lead_minutes,
            r::horizon_days,
            r::auto_approve,
        ))
        .get_result(conn)
        .optional()?;
    Ok(match row {
        None => BookingRules::default(),
        Some((slot, min, max, lead, horizon, auto)) => BookingRules {
            slot_minutes: i64::from(slot),
            min_minutes: i64::from(min),
            max_minutes: i64::from(max),
            lead_minutes: lead.map(i64::from),
            horizon_days: i64::from(horizon),
            auto_approve: auto,
        },
    })
}

fn small(v: i64, column: &str) -> Result<i32, RepoError> {
    i32::try_from(v).map_err(|_| RepoError::Corrupt(format!("{column} out of range")))
}

/// Replaces the booking rules of an instrument.
///
/// # Errors
/// Database errors.
pub fn set_rules(conn: &mut DbConn, instrument: InstrumentId, rules: &BookingRules) -> Result<(), RepoError> {
    diesel::delete(r::table.find(instrument.0)).execute(conn)?;
    diesel::insert_into(r::table)
        .values((
            r::instrument_id.eq(instrument.0),
            r::slot_minutes.eq(small(rules.slot_minutes, "slot_minutes")?),
            r::min_minutes.eq(small(rules.min_minutes, "min_minutes")?),
            r::max_minutes.eq(small(rules.max_minutes, "max_minutes")?),
            r::lead_minutes.eq(rules.lead_minutes.map(|l| small(l, "lead_minutes")).transpose()?),
            r::horizon_days.eq(small(rules.horizon_days, "horizon_days")?),
            r::auto_approve.eq(rules.auto_approve),
        ))
        .execute(conn)?;
    Ok(())
}

fn weekday_number(d: Weekday) -> i32 {
    i32::try_from(d.number_from_monday()).unwrap_or(1)
}

fn weekday_of(n: i32) -> Result<Weekday, RepoError> {
    match n {
        1 => Ok(Weekday::Mon),
        2 => Ok(Weekday::Tue),
        3 => Ok(Weekday::Wed),
        4 => Ok(Weekday::Thu),
        5 => Ok(Weekday::Fri),
        6 => Ok(Weekday::Sat),
        7 => Ok(Weekday::Sun),
        other => Err(RepoError::Corrupt(format!("weekday {other}"))),
    }
}

/// The weekly opening hours of an instrument (closed when none are set).
///
/// # Errors
/// Database errors.
pub fn opening_hours(conn: &mut DbConn, instrument: InstrumentId) -> Result<OpeningHours, RepoError> {
    let rows: Vec<(i32, i32, i32)> = o::table
        .filter(o::instrument_id.eq(instrument.0))
        .order((o::weekday, o::opens_minute))
        .select((o::weekday, o::opens_minute, o::closes_minute))
        .load(conn)?;
    let intervals = rows
        .into_iter()
        .map(|(d, opens, closes)| {
            Ok(OpeningInterval {
                weekday: weekday_of(d)?,
                opens_minute: u16::try_from(opens).map_err(|_| RepoError::Corrupt("opens_minute".into()))?,
                closes_minute: u16::try_from(closes).map_err(|_| RepoError::Corrupt("closes_minute".into()))?,
            })
        })
        .collect::<Result<Vec<_>, RepoError>>()?;
    Ok(OpeningHours { intervals })
}

/// Replaces the weekly opening hours of an instrument.
///
/// # Errors
/// Database errors.
pub fn set_opening_hours(conn: &mut DbConn, instrument: InstrumentId, hours: &OpeningHours) -> Result<(), RepoError> {
    diesel::delete(o::table.filter(o::instrument_id.eq(instrument.0))).execute(conn)?;
    for i in &hours.intervals {
        diesel::insert_into(o::table)
            .values((
                o::instrument_id.eq(instrument.0),
                o::weekday.eq(weekday_number(i.weekday)),
                o::opens_minute.eq(i32::from(i.opens_minute)),
                o::closes_minute.eq(i32::from(i.closes_minute)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A blackout (maintenance, calibration, repair) of an instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blackout {
    pub id: i64,
    pub instrument_id: InstrumentId,
    pub kind: BlackoutKind,
    pub reason: String,
    pub window: TimeWindow,
    pub created_by: UserId,
    pub created_at: NaiveDateTime,
    pub cancelled_at: Option<NaiveDateTime>,
}

type BlackoutRow = (
    i64,
    i64,
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
    i64,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

fn blackout(row: BlackoutRow) -> Result<Blackout, RepoError> {
    let (id, instrument, kind, reason, starts, ends, by, at, cancelled) = row;
    Ok(Blackout {
        id,
        instrument_id: InstrumentId(instrument),
        kind: parse_enum("kind", &kind)?,
        reason,
        window: window(starts, ends)?,
        created_by: UserId(by),
        created_at: at,
        cancelled_at: cancelled,
    })
}

/// A stored window as a domain time window.
pub(crate) fn window(starts: NaiveDateTime, ends: NaiveDateTime) -> Result<TimeWindow, RepoError> {
    TimeWindow::new(starts.and_utc(), ends.and_utc()).map_err(|e| RepoError::Corrupt(format!("window: {e}")))
}

const BLACKOUT_COLUMNS: (
    b::id,
    b::instrument_id,
    b::kind,
    b::reason,
    b::starts_at,
    b::ends_at,
    b::created_by,
    b::created_at,
    b::cancelled_at,
) = (
    b::id,
    b::instrument_id,
    b::kind,
    b::reason,
    b::starts_at,
    b::ends_at,
    b::created_by,
    b::created_at,
    b::cancelled_at,
);

/// # Errors
/// Database errors.
pub fn insert_blackout(
    conn: &mut DbConn,
    instrument: InstrumentId,
    kind: BlackoutKind,
    reason: &str,
    window: &TimeWindow,
    by: UserId,
    now: NaiveDateTime,
) -> Result<Blackout, RepoError> {
    let row: BlackoutRow = diesel::insert_into(b::table)
        .values((
            b::instrument_id.eq(instrument.0),
            b::kind.eq(kind.as_str()),
            b::reason.eq(reason),
            b::starts_at.eq(window.start.naive_utc()),
            b::ends_at.eq(window.end.naive_utc()),
            b::created_by.eq(by.0),
            b::created_at.eq(now),
        ))
        .returning(BLACKOUT_COLUMNS)
        .get_result(conn)?;
    blackout(row)
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such blackout.
pub fn get_blackout(conn: &mut DbConn, id: i64) -> Result<Blackout, RepoError> {
    blackout(b::table.find(id).select(BLACKOUT_COLUMNS).get_result(conn)?)
}

/// Cancels a blackout that is not cancelled yet.
///
/// # Errors
/// [`RepoError::NotFound`] when there is no such live blackout.
pub fn cancel_blackout(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> Result<Blackout, RepoError> {
    let n = diesel::update(b::table.find(id).filter(b::cancelled_at.is_null()))
        .set(b::cancelled_at.eq(now))
        .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get_blackout(conn, id)
}

/// Live blackouts of an instrument overlapping a window, in time order.
///
/// # Errors
/// Database errors.
pub fn blackouts_between(
    conn: &mut DbConn,
    instrument: InstrumentId,
    range: &TimeWindow,
) -> Result<Vec<Blackout>, RepoError> {
    let rows: Vec<BlackoutRow> = b::table
        .filter(b::instrument_id.eq(instrument.0))
        .filter(b::cancelled_at.is_null())
        .filter(b::starts_at.lt(range.end.naive_utc()))
        .filter(b::ends_at.gt(range.start.naive_utc()))
        .order(b::starts_at)
        .select(BLACKOUT_COLUMNS)
        .load(conn)?;
    rows.into_iter().map(blackout).collect()
}
