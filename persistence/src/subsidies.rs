//! Subsidy programmes and grants, and the counters that keep every budget
//! within its limit.

use crate::fees::money;
use crate::schema::{subsidy_grants as g, subsidy_programmes as p};
use crate::{parse_enum, DbConn, Page, RepoError};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use labshare_domain::catalogue::Membership;
use labshare_domain::subsidy::{Eligibility, GrantStatus, ProgrammeData, ProgrammeStatus};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstitutionId, Money, UserId};

/// A stored subsidy programme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Programme {
    pub id: i64,
    pub data: ProgrammeData,
    pub spent: Money,
    pub status: ProgrammeStatus,
    pub created_by: UserId,
    pub approved_by: Option<UserId>,
    pub approved_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Programme {
    /// What the budget has left.
    pub fn left(&self) -> Money {
        Money::from_fen(self.data.budget.fen() - self.spent.fen()).unwrap_or(Money::ZERO)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = p)]
struct ProgrammeRow {
    id: i64,
    name: String,
    funder: String,
    budget_fen: i64,
    spent_fen: i64,
    valid_from: NaiveDate,
    valid_until: NaiveDate,
    ratio_bp: i32,
    cap_per_beneficiary_fen: Option<i64>,
    cap_per_charge_fen: Option<i64>,
    memberships: String,
    user_tags: String,
    without_mature_lab_only: bool,
    cross_unit_only: bool,
    category_prefixes: String,
    status: String,
    created_by: i64,
    approved_by: Option<i64>,
    approved_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn list_text(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    items
        .into_iter()
        .map(|s| s.as_ref().to_owned())
        .collect::<Vec<_>>()
        .join(",")
}

fn split(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').filter(|s| !s.is_empty())
}

impl TryFrom<ProgrammeRow> for Programme {
    type Error = RepoError;
    fn try_from(r: ProgrammeRow) -> Result<Self, RepoError> {
        let cap = |column: &str, v: Option<i64>| v.map(|f| money(column, f)).transpose();
        Ok(Programme {
            id: r.id,
            data: ProgrammeData {
                name: r.name,
                funder: r.funder,
                budget: money("budget_fen", r.budget_fen)?,
                valid_from: r.valid_from,
                valid_until: r.valid_until,
                ratio_bp: i64::from(r.ratio_bp),
                cap_per_beneficiary: cap("cap_per_beneficiary_fen", r.cap_per_beneficiary_fen)?,
                cap_per_charge: cap("cap_per_charge_fen", r.cap_per_charge_fen)?,
                eligibility: Eligibility {
                    memberships: split(&r.memberships)
                        .map(|m| parse_enum::<Membership>("memberships", m))
                        .collect::<Result<_, _>>()?,
                    user_tags: split(&r.user_tags).map(str::to_owned).collect(),
                    without_mature_lab_only: r.without_mature_lab_only,
                    cross_unit_only: r.cross_unit_only,
                    category_prefixes: split(&r.category_prefixes).map(str::to_owned).collect(),
                },
            },
            spent: money("spent_fen", r.spent_fen)?,
            status: parse_enum("status", &r.status)?,
            created_by: UserId(r.created_by),
            approved_by: r.approved_by.map(UserId),
            approved_at: r.approved_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn ratio(bp: i64) -> Result<i32, RepoError> {
    i32::try_from(bp).map_err(|_| RepoError::Corrupt("ratio out of range".into()))
}

/// Stores a new draft programme.
///
/// # Errors
/// [`RepoError::Conflict`] when a constraint refuses it.
pub fn insert_programme(
    conn: &mut DbConn,
    d: &ProgrammeData,
    by: UserId,
    now: NaiveDateTime,
) -> Result<Programme, RepoError> {
    let e = &d.eligibility;
    let row: ProgrammeRow = diesel::insert_into(p::table)
        .values((
            p::name.eq(&d.name),
            p::funder.eq(&d.funder),
            p::budget_fen.eq(d.budget.fen()),
            p::spent_fen.eq(0i64),
            p::valid_from.eq(d.valid_from),
            p::valid_until.eq(d.valid_until),
            p::ratio_bp.eq(ratio(d.ratio_bp)?),
            p::cap_per_beneficiary_fen.eq(d.cap_per_beneficiary.map(Money::fen)),
            p::cap_per_charge_fen.eq(d.cap_per_charge.map(Money::fen)),
            p::memberships.eq(list_text(e.memberships.iter().map(|m| m.as_str()))),
            p::user_tags.eq(list_text(&e.user_tags)),
            p::without_mature_lab_only.eq(e.without_mature_lab_only),
            p::cross_unit_only.eq(e.cross_unit_only),
            p::category_prefixes.eq(list_text(&e.category_prefixes)),
            p::status.eq(ProgrammeStatus::Draft.as_str()),
            p::created_by.eq(by.0),
            p::created_at.eq(now),
            p::updated_at.eq(now),
        ))
        .returning(p::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// Replaces the fields of a programme still in draft.
///
/// # Errors
/// [`RepoError::NotFound`] when there is no such draft.
pub fn update_programme(
    conn: &mut DbConn,
    id: i64,
    d: &ProgrammeData,
    now: NaiveDateTime,
) -> Result<Programme, RepoError> {
    let e = &d.eligibility;
    let n = diesel::update(
        p::table
            .filter(p::id.eq(id))
            .filter(p::status.eq(ProgrammeStatus::Draft.as_str())),
    )
    .set((
        p::name.eq(&d.name),
        p::funder.eq(&d.funder),
        p::budget_fen.eq(d.budget.fen()),
        p::valid_from.eq(d.valid_from),
        p::valid_until.eq(d.valid_until),
        p::ratio_bp.eq(ratio(d.ratio_bp)?),
        p::cap_per_beneficiary_fen.eq(d.cap_per_beneficiary.map(Money::fen)),
        p::cap_per_charge_fen.eq(d.cap_per_charge.map(Money::fen)),
        p::memberships.eq(list_text(e.memberships.iter().map(|m| m.as_str()))),
        p::user_tags.eq(list_text(&e.user_tags)),
        p::without_mature_lab_only.eq(e.without_mature_lab_only),
        p::cross_unit_only.eq(e.cross_unit_only),
        p::category_prefixes.eq(list_text(&e.category_prefixes)),
        p::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get_programme(conn, id)
}

/// Moves a programme from `from` to `to` (approval records who approved).
///
/// # Errors
/// [`RepoError::NotFound`] when the programme is no longer in `from`.
pub fn set_programme_status(
    conn: &mut DbConn,
    id: i64,
    from: ProgrammeStatus,
    to: ProgrammeStatus,
    by: UserId,
    now: NaiveDateTime,
) -> Result<Programme, RepoError> {
    let target = p::table.filter(p::id.eq(id)).filter(p::status.eq(from.as_str()));
    let n = if to == ProgrammeStatus::Approved {
        diesel::update(target)
            .set((
                p::status.eq(to.as_str()),
                p::approved_by.eq(by.0),
                p::approved_at.eq(now),
                p::updated_at.eq(now),
            ))
            .execute(conn)?
    } else {
        diesel::update(target)
            .set((p::status.eq(to.as_str()), p::updated_at.eq(now)))
            .execute(conn)?
    };
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get_programme(conn, id)
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such programme.
pub fn get_programme(conn: &mut DbConn, id: i64) -> Result<Programme, RepoError> {
    p::table
        .find(id)
        .select(ProgrammeRow::as_select())
        .get_result(conn)?
        .try_into()
}

/// Programmes, optionally of one status, by id.
///
/// # Errors
/// Database errors.
pub fn list_programmes(
    conn: &mut DbConn,
    status: Option<ProgrammeStatus>,
    after: Option<i64>,
    limit: i64,
) -> Result<Page<Programme>, RepoError> {
    list_programmes_by(
        conn,
        &ProgrammeFilter {
            status,
            with_drafts: true,
            after,
            limit,
        },
    )
}

/// Filters of the programme list.
#[derive(Debug, Clone, Default)]
pub struct ProgrammeFilter {
    pub status: Option<ProgrammeStatus>,
    /// Whether the reader sees programmes still in draft.
    pub with_drafts: bool,
    pub after: Option<i64>,
    pub limit: i64,
}

/// Programmes by id.
///
/// # Errors
/// Database errors.
pub fn list_programmes_by(conn: &mut DbConn, f: &ProgrammeFilter) -> Result<Page<Programme>, RepoError> {
    let mut q = p::table.select(ProgrammeRow::as_select()).order(p::id).into_boxed();
    if let Some(s) = f.status {
        q = q.filter(p::status.eq(s.as_str()));
    }
    if !f.with_drafts {
        q = q.filter(p::status.ne(ProgrammeStatus::Draft.as_str()));
    }
    if let Some(after) = f.after {
        q = q.filter(p::id.gt(after));
    }
    let rows: Vec<ProgrammeRow> = q.limit(f.limit + 1).load(conn)?;
    let items = rows
        .into_iter()
        .map(Programme::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |x| x.id))
}

/// A stored grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: i64,
    pub programme_id: i64,
    pub user_id: UserId,
    pub institution_id: InstitutionId,
    pub requested: Money,
    pub purpose: String,
    pub status: GrantStatus,
    /// The approved amount.
    pub amount: Option<Money>,
    pub used: Money,
    pub reason: Option<String>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Grant {
    /// What the grant has left (nothing unless approved).
    pub fn left(&self) -> Money {
        let amount = self.amount.map_or(0, Money::fen);
        Money::from_fen(amount - self.used.fen()).unwrap_or(Money::ZERO)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = g)]
struct GrantRow {
    id: i64,
    programme_id: i64,
    user_id: i64,
    institution_id: i64,
    requested_fen: i64,
    purpose: String,
    status: String,
    amount_fen: Option<i64>,
    used_fen: i64,
    reason: Option<String>,
    decided_by: Option<i64>,
    decided_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<GrantRow> for Grant {
    type Error = RepoError;
    fn try_from(r: GrantRow) -> Result<Self, RepoError> {
        Ok(Grant {
            id: r.id,
            programme_id: r.programme_id,
            user_id: UserId(r.user_id),
            institution_id: InstitutionId(r.institution_id),
            requested: money("requested_fen", r.requested_fen)?,
            purpose: r.purpose,
            status: parse_enum("status", &r.status)?,
            amount: r.amount_fen.map(|f| money("amount_fen", f)).transpose()?,
            used: money("used_fen", r.used_fen)?,
            reason: r.reason,
            decided_by: r.decided_by.map(UserId),
            decided_at: r.decided_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Stores an application.
///
/// # Errors
/// [`RepoError::Conflict`] on `subsidy_grants_one_open` when the user
/// already has a pending or approved grant under the programme.
pub fn insert_grant(
    conn: &mut DbConn,
    programme_id: i64,
    user: UserId,
    institution: InstitutionId,
    requested: Money,
    purpose: &str,
    now: NaiveDateTime,
) -> Result<Grant, RepoError> {
    let row: GrantRow = diesel::insert_into(g::table)
        .values((
            g::programme_id.eq(programme_id),
            g::user_id.eq(user.0),
            g::institution_id.eq(institution.0),
            g::requested_fen.eq(requested.fen()),
            g::purpose.eq(purpose),
            g::status.eq(GrantStatus::Pending.as_str()),
            g::used_fen.eq(0i64),
            g::created_at.eq(now),
            g::updated_at.eq(now),
        ))
        .returning(g::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such grant.
pub fn get_grant(conn: &mut DbConn, id: i64) -> Result<Grant, RepoError> {
    g::table
        .find(id)
        .select(GrantRow::as_select())
        .get_result(conn)?
        .try_into()
}

/// Records the decision on a grant still pending.
///
/// # Errors
/// [`RepoError::NotFound`] when the grant is no longer pending.
pub fn decide_grant(
    conn: &mut DbConn,
    id: i64,
    status: GrantStatus,
    amount: Option<Money>,
    reason: Option<&str>,
    by: UserId,
    now: NaiveDateTime,
) -> Result<Grant, RepoError> {
    let n = diesel::update(
        g::table
            .filter(g::id.eq(id))
            .filter(g::status.eq(GrantStatus::Pending.as_str())),
    )
    .set((
        g::status.eq(status.as_str()),
        g::amount_fen.eq(amount.map(Money::fen)),
        g::reason.eq(reason),
        g::decided_by.eq(by.0),
        g::decided_at.eq(now),
        g::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get_grant(conn, id)
}

/// A user's approved grants with something left under active programmes
/// with budget left, in programme order (then grant order): callers lock
/// programmes in this order, so that concurrent charges never deadlock.
///
/// # Errors
/// Database errors.
pub fn approved_grants_of(conn: &mut DbConn, user: UserId) -> Result<Vec<(Grant, Programme)>, RepoError> {
    let rows: Vec<(GrantRow, ProgrammeRow)> = g::table
        .inner_join(p::table.on(p::id.eq(g::programme_id)))
        .filter(g::user_id.eq(user.0))
        .filter(g::status.eq(GrantStatus::Approved.as_str()))
        .filter(p::status.eq(ProgrammeStatus::Active.as_str()))
        .filter(g::used_fen.lt(g::amount_fen.assume_not_null()))
        .filter(p::spent_fen.lt(p::budget_fen))
        .order((p::id, g::id))
        .select((GrantRow::as_select(), ProgrammeRow::as_select()))
        .load(conn)?;
    rows.into_iter()
        .map(|(gr, pr)| Ok((Grant::try_from(gr)?, Programme::try_from(pr)?)))
        .collect()
}

/// Draws (positive) or gives back (negative) `delta` fen on a grant and its
/// programme. The updates are guarded so that neither counter leaves its
/// bounds even if the caller's check raced; the CHECK constraints are the
/// last line.
///
/// # Errors
/// [`RepoError::Conflict`] when a counter would leave its bounds.
pub fn draw(
    conn: &mut DbConn,
    programme_id: i64,
    grant_id: i64,
    delta: i64,
    now: NaiveDateTime,
) -> Result<(), RepoError> {
    if delta == 0 {
        return Ok(());
    }
    let exhausted = |constraint: &str| RepoError::Conflict {
        kind: crate::error::ConflictKind::Check,
        constraint: constraint.into(),
    };
    let n = diesel::update(
        p::table
            .filter(p::id.eq(programme_id))
            .filter((p::spent_fen + delta).le(p::budget_fen))
            .filter((p::spent_fen + delta).ge(0i64)),
    )
    .set((p::spent_fen.eq(p::spent_fen + delta), p::updated_at.eq(now)))
    .execute(conn)?;
    if n == 0 {
        return Err(exhausted("subsidy_programmes_within_budget"));
    }
    let n = diesel::update(
        g::table
            .filter(g::id.eq(grant_id))
            .filter(g::programme_id.eq(programme_id))
            .filter(g::amount_fen.is_not_null())
            .filter((g::used_fen + delta).le(g::amount_fen.assume_not_null()))
            .filter((g::used_fen + delta).ge(0i64)),
    )
    .set((g::used_fen.eq(g::used_fen + delta), g::updated_at.eq(now)))
    .execute(conn)?;
    if n == 0 {
        return Err(exhausted("subsidy_grants_within_amount"));
    }
    Ok(())
}

/// Filters of the grant list.
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    pub programme_id: Option<i64>,
    pub user_id: Option<i64>,
    pub status: Option<GrantStatus>,
    /// The reader's limit: its own grants, or also its unit's (`None`: all).
    pub visible: Option<(i64, Option<i64>)>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list_grants(conn: &mut DbConn, f: &GrantFilter) -> Result<Page<Grant>, RepoError> {
    let mut q = g::table.select(GrantRow::as_select()).order(g::id).into_boxed();
    if let Some(id) = f.programme_id {
        q = q.filter(g::programme_id.eq(id));
    }
    if let Some(id) = f.user_id {
        q = q.filter(g::user_id.eq(id));
    }
    if let Some(s) = f.status {
        q = q.filter(g::status.eq(s.as_str()));
    }
    match f.visible {
        None => {}
        Some((user, None)) => q = q.filter(g::user_id.eq(user)),
        Some((user, Some(unit))) => q = q.filter(g::user_id.eq(user).or(g::institution_id.eq(unit))),
    }
    if let Some(after) = f.after {
        q = q.filter(g::id.gt(after));
    }
    let rows: Vec<GrantRow> = q.limit(f.limit + 1).load(conn)?;
    let items = rows.into_iter().map(Grant::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |x| x.id))
}
