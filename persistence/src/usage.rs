//! Usage records: the actual use of an instrument.

use crate::schedule::window;
use crate::schema::usage_records as t;
use crate::{parse_enum, DbConn, Page, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::booking::TimeWindow;
use labshare_domain::catalogue::ServiceMode;
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstitutionId, InstrumentId, UserId};

/// A stored usage record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    pub id: i64,
    pub instrument_id: InstrumentId,
    pub booking_id: Option<i64>,
    pub user_id: UserId,
    pub institution_id: InstitutionId,
    pub operator_id: UserId,
    pub mode: ServiceMode,
    pub actual: TimeWindow,
    pub effective_minutes: i64,
    pub billed_minutes: i64,
    pub walk_in: bool,
    pub note: String,
    pub recorded_by: UserId,
    pub recorded_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    instrument_id: i64,
    booking_id: Option<i64>,
    user_id: i64,
    institution_id: i64,
    operator_id: i64,
    mode: String,
    started_at: NaiveDateTime,
    ended_at: NaiveDateTime,
    effective_minutes: i32,
    billed_minutes: i32,
    walk_in: bool,
    note: String,
    recorded_by: i64,
    recorded_at: NaiveDateTime,
}

impl TryFrom<Row> for UsageRecord {
    type Error = RepoError;
    fn try_from(r: Row) -> Result<Self, RepoError> {
        Ok(UsageRecord {
            id: r.id,
            instrument_id: InstrumentId(r.instrument_id),
            booking_id: r.booking_id,
            user_id: UserId(r.user_id),
            institution_id: InstitutionId(r.institution_id),
            operator_id: UserId(r.operator_id),
            mode: parse_enum("mode", &r.mode)?,
            actual: window(r.started_at, r.ended_at)?,
            effective_minutes: i64::from(r.effective_minutes),
            billed_minutes: i64::from(r.billed_minutes),
            walk_in: r.walk_in,
            note: r.note,
            recorded_by: UserId(r.recorded_by),
            recorded_at: r.recorded_at,
        })
    }
}

/// A usage record to write.
#[derive(Debug, Clone)]
pub struct NewUsage<'a> {
    pub instrument_id: InstrumentId,
    pub booking_id: Option<i64>,
    pub user_id: UserId,
    pub institution_id: InstitutionId,
    pub operator_id: UserId,
    pub mode: ServiceMode,
    pub actual: TimeWindow,
    pub effective_minutes: i64,
    pub billed_minutes: i64,
    pub note: &'a str,
    pub recorded_by: UserId,
}

fn minutes(v: i64) -> Result<i32, RepoError> {
    i32::try_from(v).map_err(|_| RepoError::Corrupt("minutes out of range".into()))
}

/// # Errors
/// [`RepoError::Conflict`] when the booking already has a record or a reference is unknown.
pub fn insert(conn: &mut DbConn, u: &NewUsage<'_>, now: NaiveDateTime) -> Result<UsageRecord, RepoError> {
    let row: Row = diesel::insert_into(t::table)
        .values((
            t::instrument_id.eq(u.instrument_id.0),
            t::booking_id.eq(u.booking_id),
            t::user_id.eq(u.user_id.0),
            t::institution_id.eq(u.institution_id.0),
            t::operator_id.eq(u.operator_id.0),
            t::mode.eq(u.mode.as_str()),
            t::started_at.eq(u.actual.start.naive_utc()),
            t::ended_at.eq(u.actual.end.naive_utc()),
            t::effective_minutes.eq(minutes(u.effective_minutes)?),
            t::billed_minutes.eq(minutes(u.billed_minutes)?),
            t::walk_in.eq(u.booking_id.is_none()),
            t::note.eq(u.note),
            t::recorded_by.eq(u.recorded_by.0),
            t::recorded_at.eq(now),
        ))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such record.
pub fn get(conn: &mut DbConn, id: i64) -> Result<UsageRecord, RepoError> {
    t::table.find(id).select(Row::as_select()).get_result(conn)?.try_into()
}

/// The actual windows of an instrument's recorded uses overlapping `range`.
///
/// # Errors
/// Database errors.
pub fn uses_between(
    conn: &mut DbConn,
    instrument: InstrumentId,
    range: &TimeWindow,
) -> Result<Vec<TimeWindow>, RepoError> {
    let rows: Vec<(NaiveDateTime, NaiveDateTime)> = t::table
        .filter(t::instrument_id.eq(instrument.0))
        .filter(t::started_at.lt(range.end.naive_utc()))
        .filter(t::ended_at.gt(range.start.naive_utc()))
        .select((t::started_at, t::ended_at))
        .load(conn)?;
    rows.into_iter().map(|(s, e)| window(s, e)).collect()
}

/// Filters of the usage-record list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub instrument_id: Option<InstrumentId>,
    pub user_id: Option<UserId>,
    pub institution_id: Option<InstitutionId>,
    pub walk_in: Option<bool>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Restricts to what one actor may read; `None`: everything.
    pub visible_to: Option<crate::Visibility>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<UsageRecord>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Some(i) = f.instrument_id {
        q = q.filter(t::instrument_id.eq(i.0));
    }
    if let Some(u) = f.user_id {
        q = q.filter(t::user_id.eq(u.0));
    }
    if let Some(i) = f.institution_id {
        q = q.filter(t::institution_id.eq(i.0));
    }
    if let Some(w) = f.walk_in {
        q = q.filter(t::walk_in.eq(w));
    }
    if let Some(from) = f.from {
        q = q.filter(t::ended_at.gt(from));
    }
    if let Some(to) = f.to {
        q = q.filter(t::started_at.lt(to));
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
    let items = rows
        .into_iter()
        .map(UsageRecord::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |u| u.id))
}
