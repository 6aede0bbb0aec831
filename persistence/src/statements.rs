//! Statements (结算单) and the charges each one settles.

use crate::schema::{charges as c, statement_charges as sc, statements as t};
use crate::{parse_enum, DbConn, Page, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::statement::{StatementKind, StatementStatus};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstitutionId, UserId};

/// A stored statement. Amounts in fen; `net` is what the payer owes (for a
/// subsidy statement, the subsidy the funder owes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub id: i64,
    pub kind: StatementKind,
    pub month: String,
    pub payer_institution_id: Option<InstitutionId>,
    pub programme_id: Option<i64>,
    pub provider_institution_id: InstitutionId,
    pub status: StatementStatus,
    pub charge_count: i32,
    pub gross: i64,
    pub subsidy: i64,
    pub net: i64,
    pub issued_by: Option<UserId>,
    pub issued_at: Option<NaiveDateTime>,
    pub paid_at: Option<NaiveDateTime>,
    pub dispute_reason: Option<String>,
    pub resolution_note: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    kind: String,
    month: String,
    payer_institution_id: Option<i64>,
    programme_id: Option<i64>,
    counterparty_id: i64,
    provider_institution_id: i64,
    status: String,
    charge_count: i32,
    gross_fen: i64,
    subsidy_fen: i64,
    net_fen: i64,
    issued_by: Option<i64>,
    issued_at: Option<NaiveDateTime>,
    paid_at: Option<NaiveDateTime>,
    dispute_reason: Option<String>,
    resolution_note: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<Row> for Statement {
    type Error = RepoError;
    fn try_from(r: Row) -> Result<Self, RepoError> {
        let kind: StatementKind = parse_enum("kind", &r.kind)?;
        let counterparty = match kind {
            StatementKind::Settlement => r.payer_institution_id,
            StatementKind::Subsidy => r.programme_id,
        };
        if counterparty != Some(r.counterparty_id) {
            return Err(RepoError::Corrupt(format!("statement {}: counterparty", r.id)));
        }
        Ok(Statement {
            id: r.id,
            kind,
            month: r.month,
            payer_institution_id: r.payer_institution_id.map(InstitutionId),
            programme_id: r.programme_id,
            provider_institution_id: InstitutionId(r.provider_institution_id),
            status: parse_enum("status", &r.status)?,
            charge_count: r.charge_count,
            gross: r.gross_fen,
            subsidy: r.subsidy_fen,
            net: r.net_fen,
            issued_by: r.issued_by.map(UserId),
            issued_at: r.issued_at,
            paid_at: r.paid_at,
            dispute_reason: r.dispute_reason,
            resolution_note: r.resolution_note,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A charge not yet settled by a statement of some kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsettled {
    pub charge_id: i64,
    /// The payer institution, or the programme for a subsidy statement.
    pub counterparty_id: i64,
    pub provider_institution_id: i64,
}

/// Charges made before `end` that no statement of `kind` settles yet, by id:
/// every charge for a settlement; charges that moved subsidy for a subsidy
/// statement.
///
/// # Errors
/// Database errors.
pub fn unsettled(conn: &mut DbConn, kind: StatementKind, end: NaiveDateTime) -> Result<Vec<Unsettled>, RepoError> {
    let settled = sc::table.filter(sc::kind.eq(kind.as_str())).select(sc::charge_id);
    let base = c::table
        .filter(c::created_at.lt(end))
        .filter(c::id.ne_all(settled))
        .order(c::id);
    let rows: Vec<(i64, i64, i64)> = match kind {
        StatementKind::Settlement => base
            .select((c::id, c::payer_institution_id, c::provider_institution_id))
            .load(conn)?,
        StatementKind::Subsidy => base
            .filter(c::subsidy_fen.ne(0i64))
            .filter(c::programme_id.is_not_null())
            .select((c::id, c::programme_id.assume_not_null(), c::provider_institution_id))
            .load(conn)?,
    };
    Ok(rows
        .into_iter()
        .map(|(charge_id, counterparty_id, provider_institution_id)| Unsettled {
            charge_id,
            counterparty_id,
            provider_institution_id,
        })
        .collect())
}

/// The statement of a month and pair, if any.
///
/// # Errors
/// Database errors.
pub fn find(
    conn: &mut DbConn,
    kind: StatementKind,
    month: &str,
    counterparty_id: i64,
    provider: i64,
) -> Result<Option<Statement>, RepoError> {
    let row: Option<Row> = t::table
        .filter(t::kind.eq(kind.as_str()))
        .filter(t::month.eq(month))
        .filter(t::counterparty_id.eq(counterparty_id))
        .filter(t::provider_institution_id.eq(provider))
        .select(Row::as_select())
        .get_result(conn)
        .optional()?;
    row.map(Statement::try_from).transpose()
}

/// Opens an empty draft statement for a month and pair.
///
/// # Errors
/// [`RepoError::Conflict`] on `statements_one_per_month` when it exists.
pub fn insert_draft(
    conn: &mut DbConn,
    kind: StatementKind,
    month: &str,
    counterparty_id: i64,
    provider: i64,
    now: NaiveDateTime,
) -> Result<Statement, RepoError> {
    let (payer, programme) = match kind {
        StatementKind::Settlement => (Some(counterparty_id), None),
        StatementKind::Subsidy => (None, Some(counterparty_id)),
    };
    let row: Row = diesel::insert_into(t::table)
        .values((
            t::kind.eq(kind.as_str()),
            t::month.eq(month),
            t::payer_institution_id.eq(payer),
            t::programme_id.eq(programme),
            t::counterparty_id.eq(counterparty_id),
            t::provider_institution_id.eq(provider),
            t::status.eq(StatementStatus::Draft.as_str()),
            t::charge_count.eq(0),
            t::gross_fen.eq(0i64),
            t::subsidy_fen.eq(0i64),
            t::net_fen.eq(0i64),
            t::created_at.eq(now),
            t::updated_at.eq(now),
        ))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// Adds charges to a draft statement and recomputes its totals from every
/// charge it settles.
///
/// # Errors
/// [`RepoError::Conflict`] on `statement_charges_once` when a charge is
/// already settled, or `statements_frozen` when the statement is no longer a draft.
pub fn settle(
    conn: &mut DbConn,
    statement: &Statement,
    charge_ids: &[i64],
    now: NaiveDateTime,
) -> Result<Statement, RepoError> {
    for id in charge_ids {
        diesel::insert_into(sc::table)
            .values((
                sc::statement_id.eq(statement.id),
                sc::charge_id.eq(id),
                sc::kind.eq(statement.kind.as_str()),
            ))
            .execute(conn)?;
    }
    let amounts: Vec<(i64, i64, i64)> = sc::table
        .inner_join(c::table)
        .filter(sc::statement_id.eq(statement.id))
        .select((c::gross_fen, c::subsidy_fen, c::payable_fen))
        .load(conn)?;
    let overflow = || RepoError::Corrupt(format!("statement {} totals overflow", statement.id));
    let (mut gross, mut subsidy, mut payable) = (0i64, 0i64, 0i64);
    for (g, s, p) in &amounts {
        gross = gross.checked_add(*g).ok_or_else(overflow)?;
        subsidy = subsidy.checked_add(*s).ok_or_else(overflow)?;
        payable = payable.checked_add(*p).ok_or_else(overflow)?;
    }
    let net = match statement.kind {
        StatementKind::Settlement => payable,
        StatementKind::Subsidy => subsidy,
    };
    let count = i32::try_from(amounts.len()).map_err(|_| overflow())?;
    diesel::update(t::table.find(statement.id))
        .set((
            t::charge_count.eq(count),
            t::gross_fen.eq(gross),
            t::subsidy_fen.eq(subsidy),
            t::net_fen.eq(net),
            t::updated_at.eq(now),
        ))
        .execute(conn)?;
    get(conn, statement.id)
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such statement.
pub fn get(conn: &mut DbConn, id: i64) -> Result<Statement, RepoError> {
    t::table.find(id).select(Row::as_select()).get_result(conn)?.try_into()
}

/// What a step of a statement records besides its status.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub issued_by: Option<UserId>,
    pub issued_at: Option<NaiveDateTime>,
    pub paid_at: Option<NaiveDateTime>,
    pub dispute_reason: Option<String>,
    pub resolution_note: Option<String>,
}

/// Moves a statement from `from` to `to`.
///
/// # Errors
/// [`RepoError::NotFound`] when the statement is no longer in `from`.
pub fn transition(
    conn: &mut DbConn,
    id: i64,
    from: StatementStatus,
    to: StatementStatus,
    step: &Step,
    now: NaiveDateTime,
) -> Result<Statement, RepoError> {
    let target = t::table.filter(t::id.eq(id)).filter(t::status.eq(from.as_str()));
    let n = diesel::update(target)
        .set((t::status.eq(to.as_str()), t::updated_at.eq(now)))
        .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    let row = t::table.filter(t::id.eq(id));
    if let Some(by) = step.issued_by {
        diesel::update(row)
            .set((t::issued_by.eq(by.0), t::issued_at.eq(step.issued_at)))
            .execute(conn)?;
    }
    if step.paid_at.is_some() {
        diesel::update(row).set(t::paid_at.eq(step.paid_at)).execute(conn)?;
    }
    if let Some(reason) = &step.dispute_reason {
        diesel::update(row).set(t::dispute_reason.eq(reason)).execute(conn)?;
    }
    if let Some(note) = &step.resolution_note {
        diesel::update(row).set(t::resolution_note.eq(note)).execute(conn)?;
    }
    get(conn, id)
}

/// Filters of the statement list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<StatementKind>,
    pub month: Option<String>,
    pub status: Option<StatementStatus>,
    pub payer_institution_id: Option<i64>,
    pub provider_institution_id: Option<i64>,
    pub programme_id: Option<i64>,
    /// Only statements this institution provides, or pays once issued (`None`: all).
    pub party: Option<i64>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<Statement>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Some(v) = f.kind {
        q = q.filter(t::kind.eq(v.as_str()));
    }
    if let Some(v) = &f.month {
        q = q.filter(t::month.eq(v.clone()));
    }
    if let Some(v) = f.status {
        q = q.filter(t::status.eq(v.as_str()));
    }
    if let Some(v) = f.payer_institution_id {
        q = q.filter(t::payer_institution_id.eq(v));
    }
    if let Some(v) = f.provider_institution_id {
        q = q.filter(t::provider_institution_id.eq(v));
    }
    if let Some(v) = f.programme_id {
        q = q.filter(t::programme_id.eq(v));
    }
    if let Some(v) = f.party {
        // The payer sees a statement once it is issued; the provider its drafts too.
        q = q.filter(
            t::provider_institution_id.eq(v).or(t::payer_institution_id
                .eq(v)
                .and(t::status.ne(StatementStatus::Draft.as_str()))),
        );
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let items = rows
        .into_iter()
        .map(Statement::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |x| x.id))
}
