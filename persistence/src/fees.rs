//! Fee standards (收费标准): proposals, decisions and the version in force.

use crate::schema::fee_standards as t;
use crate::{parse_enum, DbConn, Page, RepoError};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use labshare_domain::catalogue::ServiceMode;
use labshare_domain::fees::{FeeSchedule, FeeStandardStatus, FeeSubject, FeeUnit, TierPrices};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstitutionId, Money, UserId};

/// A stored fee standard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeStandard {
    pub id: i64,
    /// The institution that proposed it and is paid under it.
    pub institution_id: InstitutionId,
    pub subject: FeeSubject,
    pub version: i32,
    pub schedule: FeeSchedule,
    pub effective_from: NaiveDate,
    pub status: FeeStandardStatus,
    pub note: String,
    pub reason: Option<String>,
    pub proposed_by: UserId,
    pub proposed_at: NaiveDateTime,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    institution_id: i64,
    subject: String,
    instrument_id: Option<i64>,
    mode: Option<String>,
    service_item_id: Option<i64>,
    version: i32,
    unit: String,
    price_internal_fen: i64,
    price_member_fen: i64,
    price_external_fen: i64,
    startup_fee_fen: i64,
    assisted_surcharge_fen: i64,
    minimum_charge_fen: i64,
    effective_from: NaiveDate,
    status: String,
    note: String,
    reason: Option<String>,
    proposed_by: i64,
    proposed_at: NaiveDateTime,
    decided_by: Option<i64>,
    decided_at: Option<NaiveDateTime>,
}

/// Reads a stored amount of fen, reporting a corrupt row when out of range.
pub(crate) fn money(column: &str, fen: i64) -> Result<Money, RepoError> {
    Money::from_fen(fen).map_err(|e| RepoError::Corrupt(format!("{column}: {e}")))
}

impl TryFrom<Row> for FeeStandard {
    type Error = RepoError;
    fn try_from(r: Row) -> Result<Self, RepoError> {
        let subject = match (r.instrument_id, r.mode.as_deref(), r.service_item_id) {
            (Some(instrument_id), Some(mode), None) => FeeSubject::Instrument {
                instrument_id,
                mode: parse_enum::<ServiceMode>("mode", mode)?,
            },
            (None, None, Some(service_item_id)) => FeeSubject::ServiceItem { service_item_id },
            _ => {
                return Err(RepoError::Corrupt(format!(
                    "fee standard {} has no single subject",
                    r.id
                )))
            }
        };
        if subject.key() != r.subject {
            return Err(RepoError::Corrupt(format!(
                "fee standard {}: subject key {}",
                r.id, r.subject
            )));
        }
        Ok(FeeStandard {
            id: r.id,
            institution_id: InstitutionId(r.institution_id),
            subject,
            version: r.version,
            schedule: FeeSchedule {
                unit: parse_enum::<FeeUnit>("unit", &r.unit)?,
                prices: TierPrices {
                    internal: money("price_internal_fen", r.price_internal_fen)?,
                    member: money("price_member_fen", r.price_member_fen)?,
                    external: money("price_external_fen", r.price_external_fen)?,
                },
                startup_fee: money("startup_fee_fen", r.startup_fee_fen)?,
                assisted_surcharge_per_hour: money("assisted_surcharge_fen", r.assisted_surcharge_fen)?,
                minimum_charge: money("minimum_charge_fen", r.minimum_charge_fen)?,
            },
            effective_from: r.effective_from,
            status: parse_enum("status", &r.status)?,
            note: r.note,
            reason: r.reason,
            proposed_by: UserId(r.proposed_by),
            proposed_at: r.proposed_at,
            decided_by: r.decided_by.map(UserId),
            decided_at: r.decided_at,
        })
    }
}

/// A proposal to store.
#[derive(Debug, Clone)]
pub struct NewFeeStandard<'a> {
    pub institution_id: InstitutionId,
    pub subject: FeeSubject,
    pub schedule: FeeSchedule,
    pub effective_from: NaiveDate,
    pub note: &'a str,
    pub proposed_by: UserId,
}

/// Stores a proposal as the next version of its subject. The caller holds
/// a lock on the subject's instrument (or the item's primary instrument) so
/// that two proposals never take the same number; the unique key is the
/// backstop.
///
/// # Errors
/// [`RepoError::Conflict`] on a version taken concurrently or a bad reference.
pub fn insert(conn: &mut DbConn, n: &NewFeeStandard<'_>, now: NaiveDateTime) -> Result<FeeStandard, RepoError> {
    let key = n.subject.key();
    let last: Option<i32> = t::table
        .filter(t::subject.eq(&key))
        .select(diesel::dsl::max(t::version))
        .get_result(conn)?;
    let (instrument_id, mode, service_item_id) = match n.subject {
        FeeSubject::Instrument { instrument_id, mode } => (Some(instrument_id), Some(mode.as_str()), None),
        FeeSubject::ServiceItem { service_item_id } => (None, None, Some(service_item_id)),
    };
    let s = &n.schedule;
    let row: Row = diesel::insert_into(t::table)
        .values((
            t::institution_id.eq(n.institution_id.0),
            t::subject.eq(&key),
            t::instrument_id.eq(instrument_id),
            t::mode.eq(mode),
            t::service_item_id.eq(service_item_id),
            t::version.eq(last.unwrap_or(0) + 1),
            t::unit.eq(s.unit.as_str()),
            t::price_internal_fen.eq(s.prices.internal.fen()),
            t::price_member_fen.eq(s.prices.member.fen()),
            t::price_external_fen.eq(s.prices.external.fen()),
            t::startup_fee_fen.eq(s.startup_fee.fen()),
            t::assisted_surcharge_fen.eq(s.assisted_surcharge_per_hour.fen()),
            t::minimum_charge_fen.eq(s.minimum_charge.fen()),
            t::effective_from.eq(n.effective_from),
            t::status.eq(FeeStandardStatus::Proposed.as_str()),
            t::note.eq(n.note),
            t::proposed_by.eq(n.proposed_by.0),
            t::proposed_at.eq(now),
        ))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such standard.
pub fn get(conn: &mut DbConn, id: i64) -> Result<FeeStandard, RepoError> {
    t::table.find(id).select(Row::as_select()).get_result(conn)?.try_into()
}

/// Records the platform office's decision on a proposal still proposed.
///
/// # Errors
/// [`RepoError::NotFound`] when the standard is no longer proposed (decided concurrently).
pub fn decide(
    conn: &mut DbConn,
    id: i64,
    status: FeeStandardStatus,
    reason: Option<&str>,
    by: UserId,
    now: NaiveDateTime,
) -> Result<FeeStandard, RepoError> {
    let n = diesel::update(
        t::table
            .filter(t::id.eq(id))
            .filter(t::status.eq(FeeStandardStatus::Proposed.as_str())),
    )
    .set((
        t::status.eq(status.as_str()),
        t::reason.eq(reason),
        t::decided_by.eq(by.0),
        t::decided_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get(conn, id)
}

/// The approved standard of a subject in force on a local date.
///
/// # Errors
/// Database errors.
pub fn in_force(conn: &mut DbConn, subject: &FeeSubject, date: NaiveDate) -> Result<Option<FeeStandard>, RepoError> {
    let row: Option<Row> = t::table
        .filter(t::subject.eq(subject.key()))
        .filter(t::status.eq(FeeStandardStatus::Approved.as_str()))
        .filter(t::effective_from.le(date))
        .order((t::effective_from.desc(), t::version.desc()))
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    row.map(FeeStandard::try_from).transpose()
}

/// Filters of the fee-standard list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub institution_id: Option<InstitutionId>,
    pub instrument_id: Option<i64>,
    pub service_item_id: Option<i64>,
    pub status: Option<FeeStandardStatus>,
    /// Besides approved standards, the proposals and rejections of these
    /// institutions only (`None`: of all).
    pub unpublished_of: Option<Vec<i64>>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<FeeStandard>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Some(i) = f.institution_id {
        q = q.filter(t::institution_id.eq(i.0));
    }
    if let Some(i) = f.instrument_id {
        q = q.filter(t::instrument_id.eq(i));
    }
    if let Some(i) = f.service_item_id {
        q = q.filter(t::service_item_id.eq(i));
    }
    if let Some(s) = f.status {
        q = q.filter(t::status.eq(s.as_str()));
    }
    if let Some(own) = &f.unpublished_of {
        q = q.filter(
            t::status
                .eq(FeeStandardStatus::Approved.as_str())
                .or(t::institution_id.eq_any(own.clone())),
        );
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let items = rows
        .into_iter()
        .map(FeeStandard::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |x| x.id))
}
