//! Charges: immutable records of what a use or a service costs, with the
//! line breakdown, the standard version used and the subsidy drawn.

use crate::schema::charges as t;
use crate::{parse_enum, DbConn, Page, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::catalogue::ServiceMode;
use labshare_domain::fees::{ChargeKind, FeeUnit, Tier};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstitutionId, UserId};

/// The line breakdown of a charge, in fen (signed for adjustments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lines {
    /// Minutes for an hourly standard, samples or orders otherwise.
    pub quantity: i64,
    pub unit_price: i64,
    pub usage: i64,
    pub startup_fee: i64,
    pub assisted_surcharge: i64,
    pub minimum_top_up: i64,
    pub fee_percent: i32,
    pub gross: i64,
    pub subsidy: i64,
    /// gross − subsidy.
    pub payable: i64,
}

/// A stored charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub id: i64,
    pub kind: ChargeKind,
    pub user_id: UserId,
    pub payer_institution_id: InstitutionId,
    pub provider_institution_id: InstitutionId,
    pub instrument_id: Option<i64>,
    pub service_item_id: Option<i64>,
    pub booking_id: Option<i64>,
    pub usage_record_id: Option<i64>,
    pub service_order_id: Option<i64>,
    pub adjusts_charge_id: Option<i64>,
    pub fee_standard_id: Option<i64>,
    pub fee_standard_version: Option<i32>,
    pub tier: Tier,
    pub mode: Option<ServiceMode>,
    pub unit: FeeUnit,
    pub lines: Lines,
    pub programme_id: Option<i64>,
    pub grant_id: Option<i64>,
    pub reason: String,
    pub used_at: NaiveDateTime,
    pub created_by: Option<UserId>,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    kind: String,
    user_id: i64,
    payer_institution_id: i64,
    provider_institution_id: i64,
    instrument_id: Option<i64>,
    service_item_id: Option<i64>,
    booking_id: Option<i64>,
    usage_record_id: Option<i64>,
    service_order_id: Option<i64>,
    adjusts_charge_id: Option<i64>,
    fee_standard_id: Option<i64>,
    fee_standard_version: Option<i32>,
    tier: String,
    mode: Option<String>,
    unit: String,
    quantity: i64,
    unit_price_fen: i64,
    usage_fen: i64,
    startup_fee_fen: i64,
    assisted_surcharge_fen: i64,
    minimum_top_up_fen: i64,
    fee_percent: i32,
    gross_fen: i64,
    subsidy_fen: i64,
    payable_fen: i64,
    programme_id: Option<i64>,
    grant_id: Option<i64>,
    reason: String,
    used_at: NaiveDateTime,
    created_by: Option<i64>,
    created_at: NaiveDateTime,
}

impl TryFrom<Row> for Charge {
    type Error = RepoError;
    fn try_from(r: Row) -> Result<Self, RepoError> {
        Ok(Charge {
            id: r.id,
            kind: parse_enum("kind", &r.kind)?,
            user_id: UserId(r.user_id),
            payer_institution_id: InstitutionId(r.payer_institution_id),
            provider_institution_id: InstitutionId(r.provider_institution_id),
            instrument_id: r.instrument_id,
            service_item_id: r.service_item_id,
            booking_id: r.booking_id,
            usage_record_id: r.usage_record_id,
            service_order_id: r.service_order_id,
            adjusts_charge_id: r.adjusts_charge_id,
            fee_standard_id: r.fee_standard_id,
            fee_standard_version: r.fee_standard_version,
            tier: parse_enum("tier", &r.tier)?,
            mode: r.mode.as_deref().map(|m| parse_enum("mode", m)).transpose()?,
            unit: parse_enum("unit", &r.unit)?,
            lines: Lines {
                quantity: r.quantity,
                unit_price: r.unit_price_fen,
                usage: r.usage_fen,
                startup_fee: r.startup_fee_fen,
                assisted_surcharge: r.assisted_surcharge_fen,
                minimum_top_up: r.minimum_top_up_fen,
                fee_percent: r.fee_percent,
                gross: r.gross_fen,
                subsidy: r.subsidy_fen,
                payable: r.payable_fen,
            },
            programme_id: r.programme_id,
            grant_id: r.grant_id,
            reason: r.reason,
            used_at: r.used_at,
            created_by: r.created_by.map(UserId),
            created_at: r.created_at,
        })
    }
}

/// A charge to write; `id` and `created_at` are ignored.
pub type NewCharge = Charge;

/// # Errors
/// [`RepoError::Conflict`] when the source already has a charge of this
/// kind (`charges_once_per_booking`, `…_usage`, `…_order`) or a constraint
/// refuses the amounts.
pub fn insert(conn: &mut DbConn, c: &NewCharge, now: NaiveDateTime) -> Result<Charge, RepoError> {
    let l = &c.lines;
    let row: Row = diesel::insert_into(t::table)
        .values((
            (
                t::kind.eq(c.kind.as_str()),
                t::user_id.eq(c.user_id.0),
                t::payer_institution_id.eq(c.payer_institution_id.0),
                t::provider_institution_id.eq(c.provider_institution_id.0),
                t::instrument_id.eq(c.instrument_id),
                t::service_item_id.eq(c.service_item_id),
                t::booking_id.eq(c.booking_id),
                t::usage_record_id.eq(c.usage_record_id),
                t::service_order_id.eq(c.service_order_id),
                t::adjusts_charge_id.eq(c.adjusts_charge_id),
                t::fee_standard_id.eq(c.fee_standard_id),
                t::fee_standard_version.eq(c.fee_standard_version),
                t::tier.eq(c.tier.as_str()),
                t::mode.eq(c.mode.map(|m| m.as_str())),
                t::unit.eq(c.unit.as_str()),
            ),
            (
                t::quantity.eq(l.quantity),
                t::unit_price_fen.eq(l.unit_price),
                t::usage_fen.eq(l.usage),
                t::startup_fee_fen.eq(l.startup_fee),
                t::assisted_surcharge_fen.eq(l.assisted_surcharge),
                t::minimum_top_up_fen.eq(l.minimum_top_up),
                t::fee_percent.eq(l.fee_percent),
                t::gross_fen.eq(l.gross),
                t::subsidy_fen.eq(l.subsidy),
                t::payable_fen.eq(l.payable),
                t::programme_id.eq(c.programme_id),
                t::grant_id.eq(c.grant_id),
                t::reason.eq(&c.reason),
                t::used_at.eq(c.used_at),
                t::created_by.eq(c.created_by.map(|u| u.0)),
                t::created_at.eq(now),
            ),
        ))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such charge.
pub fn get(conn: &mut DbConn, id: i64) -> Result<Charge, RepoError> {
    t::table.find(id).select(Row::as_select()).get_result(conn)?.try_into()
}

/// The adjustments of a charge, oldest first.
///
/// # Errors
/// Database errors.
pub fn adjustments_of(conn: &mut DbConn, id: i64) -> Result<Vec<Charge>, RepoError> {
    let rows: Vec<Row> = t::table
        .filter(t::adjusts_charge_id.eq(id))
        .order(t::id)
        .select(Row::as_select())
        .load(conn)?;
    rows.into_iter().map(Charge::try_from).collect()
}

/// Filters of the charge list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<ChargeKind>,
    pub user_id: Option<i64>,
    pub payer_institution_id: Option<i64>,
    pub provider_institution_id: Option<i64>,
    pub instrument_id: Option<i64>,
    pub booking_id: Option<i64>,
    pub service_order_id: Option<i64>,
    pub programme_id: Option<i64>,
    /// Charges a statement settles.
    pub statement_id: Option<i64>,
    /// Charges made at or after this instant.
    pub from: Option<NaiveDateTime>,
    /// Charges made before this instant.
    pub to: Option<NaiveDateTime>,
    /// The reader's limit: its own charges, or also those to and from its
    /// unit (`None`: all).
    pub visible: Option<(i64, Option<i64>)>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<Charge>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Some(k) = f.kind {
        q = q.filter(t::kind.eq(k.as_str()));
    }
    if let Some(v) = f.user_id {
        q = q.filter(t::user_id.eq(v));
    }
    if let Some(v) = f.payer_institution_id {
        q = q.filter(t::payer_institution_id.eq(v));
    }
    if let Some(v) = f.provider_institution_id {
        q = q.filter(t::provider_institution_id.eq(v));
    }
    if let Some(v) = f.instrument_id {
        q = q.filter(t::instrument_id.eq(v));
    }
    if let Some(v) = f.booking_id {
        q = q.filter(t::booking_id.eq(v));
    }
    if let Some(v) = f.service_order_id {
        q = q.filter(t::service_order_id.eq(v));
    }
    if let Some(v) = f.programme_id {
        q = q.filter(t::programme_id.eq(v));
    }
    if let Some(v) = f.statement_id {
        use crate::schema::statement_charges as sc;
        q = q.filter(t::id.eq_any(sc::table.filter(sc::statement_id.eq(v)).select(sc::charge_id)));
    }
    if let Some(v) = f.from {
        q = q.filter(t::created_at.ge(v));
    }
    if let Some(v) = f.to {
        q = q.filter(t::created_at.lt(v));
    }
    match f.visible {
        None => {}
        Some((user, None)) => q = q.filter(t::user_id.eq(user)),
        Some((user, Some(unit))) => {
            q = q.filter(
                t::user_id
                    .eq(user)
                    .or(t::payer_institution_id.eq(unit))
                    .or(t::provider_institution_id.eq(unit)),
            )
        }
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let items = rows.into_iter().map(Charge::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |x| x.id))
}
