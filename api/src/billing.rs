//! Charging (DESIGN.md §4): the charge of a completed, late-cancelled or
//! missed booking, a walk-in or a completed service order, priced by the
//! standard in force at the time of use and the payer's tier, subsidised
//! from the beneficiary's grant, written in the same transaction as the
//! event that caused it.

use crate::error::ApiError;
use crate::state::local_date;
use chrono::{DateTime, Utc};
use labshare_domain::fees::{self, ChargeBasis, ChargeKind, FeeSubject};
use labshare_domain::policy::Policy;
use labshare_domain::subsidy::{self, Beneficiary, ChargeScope, SubsidyLimits};
use labshare_domain::{InstitutionId, InstrumentId, Money, UserId};
use labshare_persistence::audit::{record, NewEvent};
use labshare_persistence::charges::{self, Charge, Lines, NewCharge};
use labshare_persistence::subsidies::{self, Grant, Programme};
use labshare_persistence::{fees as standards, institutions, instruments, lock_row, users, DbConn, Lockable};

/// What happened that costs money, and where.
#[derive(Debug, Clone)]
pub struct Event {
    pub basis: ChargeBasis,
    /// The user who used the instrument or ordered the service.
    pub user_id: UserId,
    pub payer: InstitutionId,
    /// The instrument used, or the primary instrument of the service item.
    pub instrument_id: InstrumentId,
    pub service_item_id: Option<i64>,
    pub booking_id: Option<i64>,
    pub usage_record_id: Option<i64>,
    pub service_order_id: Option<i64>,
    /// When the use happened: the standard in force then applies.
    pub used_at: DateTime<Utc>,
}

impl Event {
    /// The event of a booking that completed, was cancelled late or was missed.
    pub fn of_booking(b: &labshare_persistence::bookings::Booking, basis: ChargeBasis, used_at: DateTime<Utc>) -> Self {
        Self {
            basis,
            user_id: b.user_id,
            payer: b.institution_id,
            instrument_id: b.instrument_id,
            service_item_id: None,
            booking_id: Some(b.id),
            usage_record_id: None,
            service_order_id: None,
            used_at,
        }
    }

    /// The event of a late cancellation or a no-show: the booked time is due.
    pub fn of_missed_booking(b: &labshare_persistence::bookings::Booking, no_show: bool) -> Self {
        let booked_minutes = b.window.minutes();
        let basis = if no_show {
            ChargeBasis::NoShow {
                booked_minutes,
                mode: b.mode,
            }
        } else {
            ChargeBasis::LateCancellation {
                booked_minutes,
                mode: b.mode,
            }
        };
        Self::of_booking(b, basis, b.window.start)
    }

    fn subject(&self) -> Result<FeeSubject, ApiError> {
        match (self.basis.mode(), self.service_item_id) {
            (_, Some(service_item_id)) => Ok(FeeSubject::ServiceItem { service_item_id }),
            (Some(mode), None) => Ok(FeeSubject::Instrument {
                instrument_id: self.instrument_id.0,
                mode,
            }),
            (None, None) => Err(ApiError::Internal("a service charge without its item".into())),
        }
    }
}

/// The unique keys that keep one charge per booking, use and order.
const ONCE: [&str; 3] = [
    "charges_once_per_booking",
    "charges_once_per_usage",
    "charges_once_per_order",
];

/// Whether a refused insert hit one of [`ONCE`] (SQLite names the columns
/// of a unique key rather than the key).
fn charged_already(constraint: &str) -> bool {
    ONCE.iter().any(|c| constraint.contains(c)) || constraint.starts_with("UNIQUE constraint failed: charges.")
}

/// Audits a charge (the sweep acts for nobody).
fn audit_charge(c: &mut DbConn, actor: Option<UserId>, charge: &Charge, now: DateTime<Utc>) -> Result<(), ApiError> {
    let after = serde_json::to_value(crate::routes::charges::ChargeView::from(charge.clone()))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let event = NewEvent {
        actor,
        action: "charge.create",
        object_type: "charge",
        object_id: charge.id,
        before: None,
        after: Some(after),
    };
    record(c, &event, now.naive_utc())?;
    Ok(())
}

/// The grant and programme that pay towards a charge, locked for the rest
/// of the transaction and read afresh, with what they have left; `None`
/// when the beneficiary holds no grant under a programme that covers it.
fn subsidy_source(
    c: &mut DbConn,
    user: UserId,
    beneficiary: &Beneficiary<'_>,
    scope: &ChargeScope<'_>,
) -> Result<Option<(Grant, Programme)>, ApiError> {
    for (grant, programme) in subsidies::approved_grants_of(c, user)? {
        if subsidy::charge_eligible(programme.status, &programme.data, beneficiary, scope).is_err() {
            continue;
        }
        // Programme first, then grant: every charging transaction locks in this order.
        lock_row(c, Lockable::SubsidyProgrammes, programme.id)?;
        lock_row(c, Lockable::SubsidyGrants, grant.id)?;
        let programme = subsidies::get_programme(c, programme.id)?;
        let grant = subsidies::get_grant(c, grant.id)?;
        if subsidy::charge_eligible(programme.status, &programme.data, beneficiary, scope).is_ok()
            && grant.left() > Money::ZERO
            && programme.left() > Money::ZERO
        {
            return Ok(Some((grant, programme)));
        }
    }
    Ok(None)
}

/// Writes the charge of an event, or nothing when no approved standard is in
/// force for it at the time of use (the use stays recorded; it is free).
///
/// # Errors
/// Database errors; [`ApiError::Conflict`] when the event was charged already.
pub fn charge(
    c: &mut DbConn,
    event: &Event,
    policy: &Policy,
    actor: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<Option<Charge>, ApiError> {
    let subject = event.subject()?;
    let used_on = local_date(event.used_at);
    let Some(standard) = standards::in_force(c, &subject, used_on)? else {
        return Ok(None);
    };
    let payer = institutions::get(c, event.payer)?.value;
    let instrument = instruments::get(c, event.instrument_id)?.value.instrument;
    let provider = standard.institution_id;
    let tier = fees::tier(payer.id, payer.data.membership, provider);
    let input = event.basis.pricing_input(tier, standard.schedule.unit, policy);
    let price = fees::price(&standard.schedule, &input).map_err(|e| ApiError::Refused {
        status: actix_web::http::StatusCode::CONFLICT,
        kind: "charge-not-priceable",
        detail: format!("the fee standard in force cannot price this use: {e}"),
    })?;

    let tags = users::tags_of(c, event.user_id)?;
    let beneficiary = Beneficiary {
        membership: payer.data.membership,
        has_mature_lab: payer.data.has_mature_lab,
        tags: &tags,
    };
    let scope = ChargeScope {
        cross_unit: payer.id != provider,
        category_code: Some(instrument.data.category_code.as_str()),
        used_on,
    };
    let (subsidy, source) = match subsidy_source(c, event.user_id, &beneficiary, &scope)? {
        Some((grant, programme)) => {
            let limits = SubsidyLimits {
                ratio_bp: programme.data.ratio_bp,
                cap_per_charge: programme.data.cap_per_charge,
                grant_left: grant.left(),
                programme_left: programme.left(),
            };
            let s = subsidy::subsidy(price.gross, &limits);
            (s, (s > Money::ZERO).then_some((programme.id, grant.id)))
        }
        None => (Money::ZERO, None),
    };
    if let Some((programme_id, grant_id)) = source {
        subsidies::draw(c, programme_id, grant_id, subsidy.fen(), now.naive_utc())?;
    }
    let new = NewCharge {
        id: 0,
        kind: event.basis.kind(),
        user_id: event.user_id,
        payer_institution_id: payer.id,
        provider_institution_id: provider,
        instrument_id: Some(event.instrument_id.0),
        service_item_id: event.service_item_id,
        booking_id: event.booking_id,
        usage_record_id: event.usage_record_id,
        service_order_id: event.service_order_id,
        adjusts_charge_id: None,
        fee_standard_id: Some(standard.id),
        fee_standard_version: Some(standard.version),
        tier,
        mode: event.basis.mode(),
        unit: standard.schedule.unit,
        lines: Lines {
            quantity: price.quantity,
            unit_price: price.unit_price.fen(),
            usage: price.usage_amount.fen(),
            startup_fee: price.startup_fee.fen(),
            assisted_surcharge: price.assisted_surcharge.fen(),
            minimum_top_up: price.minimum_top_up.fen(),
            fee_percent: i32::try_from(price.fee_percent).unwrap_or(100),
            gross: price.gross.fen(),
            subsidy: subsidy.fen(),
            payable: price.gross.fen() - subsidy.fen(),
        },
        programme_id: source.map(|s| s.0),
        grant_id: source.map(|s| s.1),
        reason: String::new(),
        used_at: event.used_at.naive_utc(),
        created_by: actor,
        created_at: now.naive_utc(),
    };
    let charge = match charges::insert(c, &new, now.naive_utc()) {
        Ok(charge) => charge,
        Err(labshare_persistence::RepoError::Conflict { constraint, .. }) if charged_already(&constraint) => {
            return Err(ApiError::conflict("charge-exists", "this use has been charged already"));
        }
        Err(e) => return Err(e.into()),
    };
    audit_charge(c, actor, &charge, now)?;
    Ok(Some(charge))
}

/// Corrects a charge by `delta` fen with a reason: a new adjustment charge
/// of its own, the original untouched. The subsidy is recomputed on the
/// corrected amount and what is no longer due goes back to the grant and
/// the programme; a correction upwards draws no more subsidy.
///
/// # Errors
/// [`fees::AdjustError`] as [`ApiError::Refused`]; database errors.
pub fn adjust(
    c: &mut DbConn,
    original: &Charge,
    delta: i64,
    reason: &str,
    actor: UserId,
    now: DateTime<Utc>,
) -> Result<Charge, ApiError> {
    let refuse = |e: fees::AdjustError| ApiError::Refused {
        status: actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        kind: "charge-adjustment",
        detail: e.to_string(),
    };
    lock_row(c, Lockable::Charges, original.id)?;
    let earlier = charges::adjustments_of(c, original.id)?;
    let current_gross = original.lines.gross + earlier.iter().map(|a| a.lines.gross).sum::<i64>();
    let current_subsidy = original.lines.subsidy + earlier.iter().map(|a| a.lines.subsidy).sum::<i64>();
    let corrected = fees::corrected_gross(original.kind, current_gross, delta).map_err(refuse)?;
    let current = Money::from_fen(current_subsidy).unwrap_or(Money::ZERO);
    let subsidy_delta = match (original.programme_id, original.grant_id) {
        (Some(programme_id), Some(grant_id)) => {
            lock_row(c, Lockable::SubsidyProgrammes, programme_id)?;
            lock_row(c, Lockable::SubsidyGrants, grant_id)?;
            let programme = subsidies::get_programme(c, programme_id)?;
            let after = subsidy::subsidy_after_adjustment(
                current,
                corrected,
                programme.data.ratio_bp,
                programme.data.cap_per_charge,
            );
            let d = after.fen() - current.fen();
            subsidies::draw(c, programme_id, grant_id, d, now.naive_utc())?;
            d
        }
        _ => 0,
    };
    let new = NewCharge {
        id: 0,
        kind: ChargeKind::Adjustment,
        booking_id: None,
        usage_record_id: None,
        service_order_id: None,
        adjusts_charge_id: Some(original.id),
        lines: Lines {
            gross: delta,
            subsidy: subsidy_delta,
            payable: delta - subsidy_delta,
            ..Lines::default()
        },
        reason: reason.to_owned(),
        created_by: Some(actor),
        created_at: now.naive_utc(),
        ..original.clone()
    };
    let charge = charges::insert(c, &new, now.naive_utc())?;
    audit_charge(c, Some(actor), &charge, now)?;
    Ok(charge)
}
