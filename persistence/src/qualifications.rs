//! Qualifications of users: on instruments, and for biosafety levels.

use crate::schema::qualifications as t;
use crate::{parse_enum, DbConn, Page, RepoError};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use labshare_domain::qualification::{NewQualification, Qualification};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstrumentId, UserId};

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    user_id: i64,
    kind: String,
    instrument_id: Option<i64>,
    biosafety_level: Option<String>,
    certified_by: i64,
    certified_at: NaiveDateTime,
    expires_on: NaiveDate,
    note: String,
    revoked_at: Option<NaiveDateTime>,
    #[allow(dead_code)]
    revoked_by: Option<i64>,
}

impl TryFrom<Row> for Qualification {
    type Error = RepoError;
    fn try_from(r: Row) -> Result<Self, RepoError> {
        Ok(Qualification {
            id: r.id,
            user_id: UserId(r.user_id),
            kind: parse_enum("kind", &r.kind)?,
            instrument_id: r.instrument_id.map(InstrumentId),
            biosafety_level: r
                .biosafety_level
                .map(|l| parse_enum("biosafety_level", &l))
                .transpose()?,
            certified_by: UserId(r.certified_by),
            certified_at: r.certified_at,
            expires_on: r.expires_on,
            note: r.note,
            revoked_at: r.revoked_at,
        })
    }
}

/// # Errors
/// [`RepoError::Conflict`] for an unknown user or instrument.
pub fn insert(
    conn: &mut DbConn,
    q: &NewQualification,
    by: UserId,
    now: NaiveDateTime,
) -> Result<Qualification, RepoError> {
    let row: Row = diesel::insert_into(t::table)
        .values((
            t::user_id.eq(q.user_id.0),
            t::kind.eq(q.kind.as_str()),
            t::instrument_id.eq(q.instrument_id.map(|i| i.0)),
            t::biosafety_level.eq(q.biosafety_level.map(|l| l.as_str())),
            t::certified_by.eq(by.0),
            t::certified_at.eq(now),
            t::expires_on.eq(q.expires_on),
            t::note.eq(&q.note),
        ))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such qualification.
pub fn get(conn: &mut DbConn, id: i64) -> Result<Qualification, RepoError> {
    t::table.find(id).select(Row::as_select()).get_result(conn)?.try_into()
}

/// Revokes a qualification that is not revoked yet.
///
/// # Errors
/// [`RepoError::NotFound`] when there is no such live qualification.
pub fn revoke(conn: &mut DbConn, id: i64, by: UserId, now: NaiveDateTime) -> Result<Qualification, RepoError> {
    let n = diesel::update(t::table.find(id).filter(t::revoked_at.is_null()))
        .set((t::revoked_at.eq(now), t::revoked_by.eq(by.0)))
        .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get(conn, id)
}

/// Every qualification of a user (valid or not), for the booking checks.
///
/// # Errors
/// Database errors.
pub fn of_user(conn: &mut DbConn, user: UserId) -> Result<Vec<Qualification>, RepoError> {
    let rows: Vec<Row> = t::table
        .filter(t::user_id.eq(user.0))
        .order(t::id)
        .select(Row::as_select())
        .load(conn)?;
    rows.into_iter().map(Qualification::try_from).collect()
}

/// Filters of the qualification list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<UserId>,
    pub instrument_id: Option<InstrumentId>,
    /// Only qualifications on these instruments or of these users (what an actor may see).
    pub instrument_ids: Option<Vec<i64>>,
    pub user_ids: Option<Vec<i64>>,
    /// Leave out revoked and expired ones (as of this date).
    pub valid_on: Option<NaiveDate>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<Qualification>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Some(u) = f.user_id {
        q = q.filter(t::user_id.eq(u.0));
    }
    if let Some(i) = f.instrument_id {
        q = q.filter(t::instrument_id.eq(i.0));
    }
    match (&f.instrument_ids, &f.user_ids) {
        (Some(i), Some(u)) => q = q.filter(t::instrument_id.eq_any(i.clone()).or(t::user_id.eq_any(u.clone()))),
        (Some(i), None) => q = q.filter(t::instrument_id.eq_any(i.clone())),
        (None, Some(u)) => q = q.filter(t::user_id.eq_any(u.clone())),
        (None, None) => {}
    }
    if let Some(d) = f.valid_on {
        q = q.filter(t::revoked_at.is_null()).filter(t::expires_on.ge(d));
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let items = rows
        .into_iter()
        .map(Qualification::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |q| q.id))
}
