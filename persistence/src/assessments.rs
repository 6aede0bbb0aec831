//! Assessments and their frozen results, one row per instrument and unit.

use crate::schema::{assessment_instruments as ai, assessment_units as au, assessments as t};
use crate::{parse_enum, DbConn, Page, RepoError};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use labshare_domain::assessment::{AssessmentStatus, Grade};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{Money, UserId};

/// A stored assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub id: i64,
    pub name: String,
    pub period_from: NaiveDate,
    /// The last day of the period (inclusive).
    pub period_to: NaiveDate,
    pub status: AssessmentStatus,
    /// The policy values the results were computed with.
    pub policy_json: String,
    pub reward_pool: Money,
    pub created_by: UserId,
    pub created_at: NaiveDateTime,
    pub computed_at: NaiveDateTime,
    pub published_by: Option<UserId>,
    pub published_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    name: String,
    period_from: NaiveDate,
    period_to: NaiveDate,
    status: String,
    policy_json: String,
    reward_pool_fen: i64,
    created_by: i64,
    created_at: NaiveDateTime,
    computed_at: NaiveDateTime,
    published_by: Option<i64>,
    published_at: Option<NaiveDateTime>,
}

impl TryFrom<Row> for Assessment {
    type Error = RepoError;
    fn try_from(r: Row) -> Result<Self, RepoError> {
        Ok(Assessment {
            id: r.id,
            name: r.name,
            period_from: r.period_from,
            period_to: r.period_to,
            status: parse_enum("status", &r.status)?,
            policy_json: r.policy_json,
            reward_pool: crate::fees::money("reward_pool_fen", r.reward_pool_fen)?,
            created_by: UserId(r.created_by),
            created_at: r.created_at,
            computed_at: r.computed_at,
            published_by: r.published_by.map(UserId),
            published_at: r.published_at,
        })
    }
}

/// A new assessment, computed once created.
#[derive(Debug, Clone)]
pub struct NewAssessment<'a> {
    pub name: &'a str,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub policy_json: &'a str,
    pub reward_pool: Money,
    pub created_by: UserId,
}

/// # Errors
/// Database errors.
pub fn insert(conn: &mut DbConn, n: &NewAssessment<'_>, now: NaiveDateTime) -> Result<Assessment, RepoError> {
    let row: Row = diesel::insert_into(t::table)
        .values((
            t::name.eq(n.name),
            t::period_from.eq(n.period_from),
            t::period_to.eq(n.period_to),
            t::status.eq(AssessmentStatus::Draft.as_str()),
            t::policy_json.eq(n.policy_json),
            t::reward_pool_fen.eq(n.reward_pool.fen()),
            t::created_by.eq(n.created_by.0),
            t::created_at.eq(now),
            t::computed_at.eq(now),
        ))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such assessment.
pub fn get(conn: &mut DbConn, id: i64) -> Result<Assessment, RepoError> {
    t::table.find(id).select(Row::as_select()).get_result(conn)?.try_into()
}

/// Assessments by id; `drafts`: include drafts.
///
/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, drafts: bool, after: Option<i64>, limit: i64) -> Result<Page<Assessment>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if !drafts {
        q = q.filter(t::status.eq(AssessmentStatus::Published.as_str()));
    }
    if let Some(after) = after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(limit + 1).load(conn)?;
    let items = rows
        .into_iter()
        .map(Assessment::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, limit, |x| x.id))
}

/// The result of one instrument.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = ai)]
pub struct InstrumentResult {
    pub instrument_id: i64,
    pub institution_id: i64,
    pub original_value_fen: i64,
    /// The score, a decimal with two places.
    pub total: String,
    pub grade: String,
    pub idle: bool,
    pub low_sharing: bool,
    /// Every figure behind the score, as exact decimal text.
    pub result_json: String,
}

/// The result of one unit and the assessor's management score.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = au)]
pub struct UnitResult {
    pub institution_id: i64,
    pub management_points: Option<String>,
    pub management_note: Option<String>,
    pub entered_by: Option<i64>,
    pub entered_at: Option<NaiveDateTime>,
    pub score: Option<String>,
    pub grade: Option<String>,
    pub reward_fen: i64,
    pub rectification_required: bool,
    pub result_json: String,
}

/// Replaces the results of a draft and records when they were computed.
///
/// # Errors
/// [`RepoError::Conflict`] on `assessments_frozen` once published.
pub fn replace_results(
    conn: &mut DbConn,
    id: i64,
    instruments: &[InstrumentResult],
    units: &[UnitResult],
    now: NaiveDateTime,
) -> Result<(), RepoError> {
    diesel::delete(ai::table.filter(ai::assessment_id.eq(id))).execute(conn)?;
    diesel::delete(au::table.filter(au::assessment_id.eq(id))).execute(conn)?;
    for r in instruments {
        diesel::insert_into(ai::table)
            .values((
                ai::assessment_id.eq(id),
                ai::instrument_id.eq(r.instrument_id),
                ai::institution_id.eq(r.institution_id),
                ai::original_value_fen.eq(r.original_value_fen),
                ai::total.eq(&r.total),
                ai::grade.eq(&r.grade),
                ai::idle.eq(r.idle),
                ai::low_sharing.eq(r.low_sharing),
                ai::result_json.eq(&r.result_json),
            ))
            .execute(conn)?;
    }
    for u in units {
        diesel::insert_into(au::table)
            .values((
                au::assessment_id.eq(id),
                au::institution_id.eq(u.institution_id),
                au::management_points.eq(&u.management_points),
                au::management_note.eq(&u.management_note),
                au::entered_by.eq(u.entered_by),
                au::entered_at.eq(u.entered_at),
                au::score.eq(&u.score),
                au::grade.eq(&u.grade),
                au::reward_fen.eq(u.reward_fen),
                au::rectification_required.eq(u.rectification_required),
                au::result_json.eq(&u.result_json),
            ))
            .execute(conn)?;
    }
    diesel::update(t::table.find(id))
        .set(t::computed_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// The instrument results of an assessment, optionally of one unit, by instrument.
///
/// # Errors
/// Database errors.
pub fn instrument_results(
    conn: &mut DbConn,
    id: i64,
    institution: Option<i64>,
) -> Result<Vec<InstrumentResult>, RepoError> {
    let mut q = ai::table
        .filter(ai::assessment_id.eq(id))
        .select(InstrumentResult::as_select())
        .order(ai::instrument_id)
        .into_boxed();
    if let Some(i) = institution {
        q = q.filter(ai::institution_id.eq(i));
    }
    Ok(q.load(conn)?)
}

/// The unit results of an assessment, by institution.
///
/// # Errors
/// Database errors.
pub fn unit_results(conn: &mut DbConn, id: i64) -> Result<Vec<UnitResult>, RepoError> {
    Ok(au::table
        .filter(au::assessment_id.eq(id))
        .select(UnitResult::as_select())
        .order(au::institution_id)
        .load(conn)?)
}

/// Publishes a draft.
///
/// # Errors
/// [`RepoError::NotFound`] when it is no longer a draft.
pub fn publish(conn: &mut DbConn, id: i64, by: UserId, now: NaiveDateTime) -> Result<Assessment, RepoError> {
    let n = diesel::update(
        t::table
            .filter(t::id.eq(id))
            .filter(t::status.eq(AssessmentStatus::Draft.as_str())),
    )
    .set((
        t::status.eq(AssessmentStatus::Published.as_str()),
        t::published_by.eq(by.0),
        t::published_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get(conn, id)
}

/// Records the policy a recomputation used.
///
/// # Errors
/// Database errors.
pub fn set_policy(conn: &mut DbConn, id: i64, policy_json: &str) -> Result<(), RepoError> {
    diesel::update(t::table.find(id))
        .set(t::policy_json.eq(policy_json))
        .execute(conn)?;
    Ok(())
}

/// Parses a stored grade.
///
/// # Errors
/// [`RepoError::Corrupt`] for an unknown grade.
pub fn grade(text: &str) -> Result<Grade, RepoError> {
    parse_enum("grade", text)
}
