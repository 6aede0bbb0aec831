//! Fees (chapter 4 of the measures): fee standards, the price of a use or a
//! sample service for the user's tier, and the cost calculator that suggests
//! prices.
//!
//! Every amount is computed in exact decimals and rounded half-up to the fen
//! once per line, so that the lines of a charge add up to its total.

use crate::catalogue::{Membership, ServiceMode};
use crate::ids::InstitutionId;
use crate::money::{Money, MAX_FEN};
use crate::policy::Policy;
use crate::service::ServiceUnit;
use crate::text_enum;
use crate::validation::{Checks, Invalid};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

text_enum!(
    /// What a fee standard prices.
    pub enum FeeUnit {
        /// Instrument time, per hour (billed by the minute).
        Hour = "hour",
        /// Each sample of a service order.
        Sample = "sample",
        /// Each service order as a whole.
        Item = "item",
    }
);

text_enum!(
    /// The price tier of a user, by where they come from.
    pub enum Tier {
        /// The institution that owns the instrument.
        Internal = "internal",
        /// Another member unit of the commission.
        Member = "member",
        /// A social user (社会用户).
        External = "external",
    }
);

text_enum!(
    /// Where a fee standard is in its approval.
    pub enum FeeStandardStatus {
        /// Proposed by the unit, waiting for the platform office.
        Proposed = "proposed",
        /// Approved: in force from its effective date.
        Approved = "approved",
        Rejected = "rejected",
    }
);

text_enum!(
    /// Why a charge was made.
    pub enum ChargeKind {
        /// A booking completed (checked out).
        Usage = "usage",
        /// A booking cancelled by its user less than the free period before its start.
        LateCancellation = "late_cancellation",
        /// A booking nobody checked in to.
        NoShow = "no_show",
        /// Use recorded without a booking.
        WalkIn = "walk_in",
        /// A sample service order completed.
        ServiceOrder = "service_order",
        /// A correction of an earlier charge, with a reason.
        Adjustment = "adjustment",
    }
);

/// The tier of a payer at a provider: internal at its own institution,
/// member at another member unit's, external otherwise.
pub fn tier(payer: InstitutionId, payer_membership: Membership, provider: InstitutionId) -> Tier {
    if payer == provider {
        Tier::Internal
    } else if payer_membership == Membership::Member {
        Tier::Member
    } else {
        Tier::External
    }
}

/// One amount per tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierPrices {
    pub internal: Money,
    pub member: Money,
    pub external: Money,
}

impl TierPrices {
    pub fn get(&self, tier: Tier) -> Money {
        match tier {
            Tier::Internal => self.internal,
            Tier::Member => self.member,
            Tier::External => self.external,
        }
    }
}

/// A percentage per tier (the tier multipliers of the policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierPercents {
    pub internal: i64,
    pub member: i64,
    pub external: i64,
}

impl TierPercents {
    pub fn get(&self, tier: Tier) -> i64 {
        match tier {
            Tier::Internal => self.internal,
            Tier::Member => self.member,
            Tier::External => self.external,
        }
    }
}

/// What a fee standard applies to: an instrument used in one mode, or a
/// sample-service item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeSubject {
    Instrument { instrument_id: i64, mode: ServiceMode },
    ServiceItem { service_item_id: i64 },
}

impl FeeSubject {
    /// A stable key naming the subject; versions are numbered per key.
    pub fn key(&self) -> String {
        match self {
            Self::Instrument { instrument_id, mode } => format!("instrument:{instrument_id}:{mode}"),
            Self::ServiceItem { service_item_id } => format!("service_item:{service_item_id}"),
        }
    }
}

/// The priced content of a fee standard (收费标准).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeSchedule {
    pub unit: FeeUnit,
    pub prices: TierPrices,
    /// 开机费: once per session (booking, walk-in or order).
    pub startup_fee: Money,
    /// Per hour of assisted operation, on top of the price.
    pub assisted_surcharge_per_hour: Money,
    /// The least a session costs before any penalty share.
    pub minimum_charge: Money,
}

/// The most any price, fee or minimum of a standard may be, 1,000,000.00
/// CNY: far above any real price, and low enough that no use or order can
/// be priced beyond the largest amount stored.
pub const PRICE_CEILING: Money = Money::yuan(1_000_000);

/// Checks a proposed fee standard against its subject: instrument time is
/// priced per hour in the self-operated, assisted or remote mode (sample
/// work is priced by service items); a service item is priced in its own
/// unit; the assisted surcharge applies to instrument time in the assisted
/// mode only.
///
/// # Errors
/// [`Invalid`] naming `unit` (`unit_matches_subject`), `mode`
/// (`mode_priced_by_service_items`) or `assisted_surcharge`
/// (`assisted_only`).
pub fn check_schedule(
    schedule: &FeeSchedule,
    subject: &FeeSubject,
    item_unit: Option<ServiceUnit>,
) -> Result<(), Invalid> {
    let mut c = Checks::new();
    let amounts = [
        ("prices/internal", schedule.prices.internal),
        ("prices/member", schedule.prices.member),
        ("prices/external", schedule.prices.external),
        ("startup_fee", schedule.startup_fee),
        ("assisted_surcharge", schedule.assisted_surcharge_per_hour),
        ("minimum_charge", schedule.minimum_charge),
    ];
    for (field, amount) in amounts {
        c.require(amount <= PRICE_CEILING, field, "price_ceiling", || {
            format!("must not exceed {PRICE_CEILING} per unit")
        });
    }
    match subject {
        FeeSubject::Instrument { mode, .. } => {
            c.require(
                *mode != ServiceMode::Sample,
                "mode",
                "mode_priced_by_service_items",
                || "sample work is priced by the service items; use self_operated, assisted or remote".into(),
            );
            c.require(schedule.unit == FeeUnit::Hour, "unit", "unit_matches_subject", || {
                "instrument time is priced per hour".into()
            });
            c.require(
                *mode == ServiceMode::Assisted || schedule.assisted_surcharge_per_hour == Money::ZERO,
                "assisted_surcharge",
                "assisted_only",
                || "only a standard for the assisted mode has an assisted surcharge".into(),
            );
        }
        FeeSubject::ServiceItem { .. } => {
            let expected = match item_unit {
                Some(ServiceUnit::Sample) => Some(FeeUnit::Sample),
                Some(ServiceUnit::Item) => Some(FeeUnit::Item),
                None => None,
            };
            c.require(
                expected.is_none_or(|u| u == schedule.unit),
                "unit",
                "unit_matches_subject",
                || {
                    format!(
                        "the service item is priced per {}",
                        expected.map(|u| u.to_string()).unwrap_or_default()
                    )
                },
            );
            c.require(
                schedule.assisted_surcharge_per_hour == Money::ZERO,
                "assisted_surcharge",
                "assisted_only",
                || "a service item has no assisted surcharge".into(),
            );
        }
    }
    c.finish()
}

/// Checks a proposed fee standard: its schedule against its subject
/// ([`check_schedule`]), the mode against the modes the instrument offers,
/// and its effective date, which may not lie before `today` (the platform's
/// local date): a price never applies to use that already happened.
///
/// # Errors
/// [`Invalid`] naming every field and rule broken: those of
/// [`check_schedule`], `mode` (`mode_offered`) and `effective_from`
/// (`not_retroactive`).
pub fn check_proposal(
    schedule: &FeeSchedule,
    subject: &FeeSubject,
    item_unit: Option<ServiceUnit>,
    offered_modes: &[ServiceMode],
    effective_from: chrono::NaiveDate,
    today: chrono::NaiveDate,
) -> Result<(), Invalid> {
    let mut c = Checks::new();
    if let Err(invalid) = check_schedule(schedule, subject, item_unit) {
        invalid.0.into_iter().for_each(|v| c.push(v));
    }
    if let FeeSubject::Instrument { mode, .. } = subject {
        // Sample work is refused by `check_schedule` already.
        c.require(
            *mode == ServiceMode::Sample || offered_modes.contains(mode),
            "mode",
            "mode_offered",
            || format!("the instrument does not offer the {mode} mode"),
        );
    }
    c.require(effective_from >= today, "effective_from", "not_retroactive", || {
        format!("must not be before today ({today}): prices never apply to past use")
    });
    c.finish()
}

/// The platform office's decision on a proposed fee standard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeeDecision {
    Approve,
    /// With a reason of 1 to 500 characters, for the unit.
    Reject {
        reason: String,
    },
}

impl FeeDecision {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject { .. } => "reject",
        }
    }
}

/// Why a decision on a fee standard is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeDecisionError {
    #[error("cannot {action} a fee standard that is {from}")]
    InvalidTransition {
        from: FeeStandardStatus,
        action: &'static str,
    },
    /// Approving now would make the standard apply to use before the approval.
    #[error(
        "the standard takes effect on {effective_from}, before today ({today}); prices are never retroactive: \
         the unit proposes it again from today or later"
    )]
    Retroactive {
        effective_from: chrono::NaiveDate,
        today: chrono::NaiveDate,
    },
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// Proposed → approved or rejected, once. A standard whose effective date
/// has passed while it waited is not approved: it would reprice past use.
///
/// # Errors
/// [`FeeDecisionError::InvalidTransition`] unless proposed;
/// [`FeeDecisionError::Retroactive`] for an approval after the effective
/// date; [`FeeDecisionError::Invalid`] naming `reason` for a rejection
/// without one.
pub fn decide(
    from: FeeStandardStatus,
    decision: &FeeDecision,
    effective_from: chrono::NaiveDate,
    today: chrono::NaiveDate,
) -> Result<FeeStandardStatus, FeeDecisionError> {
    if from != FeeStandardStatus::Proposed {
        return Err(FeeDecisionError::InvalidTransition {
            from,
            action: decision.name(),
        });
    }
    match decision {
        FeeDecision::Approve if effective_from < today => Err(FeeDecisionError::Retroactive { effective_from, today }),
        FeeDecision::Approve => Ok(FeeStandardStatus::Approved),
        FeeDecision::Reject { reason } => {
            let mut c = Checks::new();
            c.required_text("reason", reason, 500);
            c.finish()?;
            Ok(FeeStandardStatus::Rejected)
        }
    }
}

/// What is being priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricingInput {
    pub tier: Tier,
    /// Minutes for an hourly standard, samples or orders otherwise.
    pub quantity: i64,
    /// Staff operated the instrument with the user (adds the surcharge).
    pub assisted: bool,
    /// The share of the fee charged: 100 for use, more or less for the
    /// penalties of the policy (late cancellation, no-show, walk-in).
    pub fee_percent: i64,
}

/// The line breakdown of a price; every line rounded half-up to the fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceBreakdown {
    pub unit: FeeUnit,
    pub tier: Tier,
    pub quantity: i64,
    /// The tier's price per unit.
    pub unit_price: Money,
    /// unit price × quantity (per hour: × minutes ÷ 60).
    pub usage_amount: Money,
    pub startup_fee: Money,
    /// surcharge per hour × minutes ÷ 60, for assisted use.
    pub assisted_surcharge: Money,
    /// What was added to reach the minimum charge (zero when above it).
    pub minimum_top_up: Money,
    pub fee_percent: i64,
    /// (usage + start-up + surcharge + top-up) × fee percent ÷ 100.
    pub gross: Money,
}

/// Why a price cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("the quantity must not be negative")]
    NegativeQuantity,
    #[error("the fee percentage must be between 0 and 1000")]
    FeePercent,
    #[error("the amount exceeds 99999999999.99")]
    TooLarge,
}

/// Rounds an amount of fen half-up (away from zero at .5) to a whole fen.
///
/// # Errors
/// [`PricingError::TooLarge`] beyond the largest amount.
pub fn round_fen(fen: Decimal) -> Result<Money, PricingError> {
    let rounded = fen.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    let fen = rounded.to_i64().ok_or(PricingError::TooLarge)?;
    Money::from_fen(fen.max(0)).map_err(|_| PricingError::TooLarge)
}

fn dec(m: Money) -> Decimal {
    Decimal::from(m.fen())
}

fn sum(parts: &[Money]) -> Result<Money, PricingError> {
    let total = parts.iter().try_fold(0i64, |acc, m| acc.checked_add(m.fen()));
    match total {
        Some(fen) if fen <= MAX_FEN => Money::from_fen(fen).map_err(|_| PricingError::TooLarge),
        _ => Err(PricingError::TooLarge),
    }
}

/// per unit × quantity ÷ divisor, multiplied before dividing so that a
/// repeating fraction (minutes ÷ 60) never loses the exact half fen.
fn times(per_unit: Money, quantity: i64, divisor: i64) -> Result<Money, PricingError> {
    let product = dec(per_unit)
        .checked_mul(Decimal::from(quantity))
        .ok_or(PricingError::TooLarge)?;
    round_fen(product / Decimal::from(divisor))
}

/// Prices one session under a fee schedule (DESIGN.md §4).
///
/// # Errors
/// [`PricingError`] for a negative quantity, a fee percentage outside
/// 0–1000 or an amount out of range.
pub fn price(schedule: &FeeSchedule, input: &PricingInput) -> Result<PriceBreakdown, PricingError> {
    if input.quantity < 0 {
        return Err(PricingError::NegativeQuantity);
    }
    if !(0..=1000).contains(&input.fee_percent) {
        return Err(PricingError::FeePercent);
    }
    let per = match schedule.unit {
        FeeUnit::Hour => 60,
        FeeUnit::Sample | FeeUnit::Item => 1,
    };
    let unit_price = schedule.prices.get(input.tier);
    let usage_amount = times(unit_price, input.quantity, per)?;
    let assisted_surcharge = if input.assisted && schedule.unit == FeeUnit::Hour {
        times(schedule.assisted_surcharge_per_hour, input.quantity, per)?
    } else {
        Money::ZERO
    };
    let before_minimum = sum(&[usage_amount, schedule.startup_fee, assisted_surcharge])?;
    let minimum_top_up = Money::from_fen((schedule.minimum_charge.fen() - before_minimum.fen()).max(0))
        .map_err(|_| PricingError::TooLarge)?;
    let session = sum(&[before_minimum, minimum_top_up])?;
    let gross = round_fen(dec(session) * Decimal::from(input.fee_percent) / Decimal::ONE_HUNDRED)?;
    Ok(PriceBreakdown {
        unit: schedule.unit,
        tier: input.tier,
        quantity: input.quantity,
        unit_price,
        usage_amount,
        startup_fee: schedule.startup_fee,
        assisted_surcharge,
        minimum_top_up,
        fee_percent: input.fee_percent,
        gross,
    })
}

/// What a charge is for, as far as its price is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeBasis {
    /// A completed booking: its billed minutes.
    Usage { billed_minutes: i64, mode: ServiceMode },
    /// A booking cancelled late: its booked minutes.
    LateCancellation { booked_minutes: i64, mode: ServiceMode },
    /// A booking nobody checked in to: its booked minutes.
    NoShow { booked_minutes: i64, mode: ServiceMode },
    /// Use without a booking: its billed (rounded-up) minutes.
    WalkIn { billed_minutes: i64, mode: ServiceMode },
    /// A completed service order: its samples done.
    ServiceOrder { samples: i64 },
}

impl ChargeBasis {
    pub fn kind(&self) -> ChargeKind {
        match self {
            Self::Usage { .. } => ChargeKind::Usage,
            Self::LateCancellation { .. } => ChargeKind::LateCancellation,
            Self::NoShow { .. } => ChargeKind::NoShow,
            Self::WalkIn { .. } => ChargeKind::WalkIn,
            Self::ServiceOrder { .. } => ChargeKind::ServiceOrder,
        }
    }

    /// The mode of instrument time, `None` for a service order.
    pub fn mode(&self) -> Option<ServiceMode> {
        match self {
            Self::Usage { mode, .. }
            | Self::LateCancellation { mode, .. }
            | Self::NoShow { mode, .. }
            | Self::WalkIn { mode, .. } => Some(*mode),
            Self::ServiceOrder { .. } => None,
        }
    }

    /// The share of the fee the policy charges for this kind of charge.
    pub fn fee_percent(&self, policy: &Policy) -> i64 {
        match self {
            Self::Usage { .. } | Self::ServiceOrder { .. } => 100,
            Self::LateCancellation { .. } => policy.late_cancellation_fee_percent,
            Self::NoShow { .. } => policy.no_show_fee_percent,
            Self::WalkIn { .. } => policy.walk_in_fee_percent,
        }
    }

    /// The pricing input of this basis for a user of `tier`; a service
    /// order priced per item is one item.
    pub fn pricing_input(&self, tier: Tier, unit: FeeUnit, policy: &Policy) -> PricingInput {
        let quantity = match (self, unit) {
            (Self::ServiceOrder { .. }, FeeUnit::Item) => 1,
            (Self::ServiceOrder { samples }, _) => *samples,
            (
                Self::Usage { billed_minutes: m, .. }
                | Self::WalkIn { billed_minutes: m, .. }
                | Self::LateCancellation { booked_minutes: m, .. }
                | Self::NoShow { booked_minutes: m, .. },
                _,
            ) => *m,
        };
        PricingInput {
            tier,
            quantity,
            assisted: self.mode() == Some(ServiceMode::Assisted),
            fee_percent: self.fee_percent(policy),
        }
    }
}

/// Why an adjustment of a charge is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdjustError {
    #[error("an adjustment is corrected by adjusting the charge it adjusts")]
    OfAdjustment,
    #[error("the adjustment must not be zero")]
    Zero,
    #[error("the adjustment would make the charge negative: it stands at {}", crate::money::format_fen(*.0))]
    BelowZero(i64),
    #[error("the adjustment would make the charge exceed 99999999999.99")]
    TooLarge,
}

/// The gross of a charge after an adjustment of `delta` fen, given it
/// stands at `current_gross` (the original and its earlier adjustments): a
/// charge is corrected (never an adjustment itself), by a non-zero amount,
/// and never below zero or beyond the largest amount.
///
/// # Errors
/// [`AdjustError`] naming the rule broken.
pub fn corrected_gross(kind: ChargeKind, current_gross: i64, delta: i64) -> Result<Money, AdjustError> {
    if kind == ChargeKind::Adjustment {
        return Err(AdjustError::OfAdjustment);
    }
    if delta == 0 {
        return Err(AdjustError::Zero);
    }
    let corrected = current_gross.checked_add(delta).ok_or(AdjustError::TooLarge)?;
    if corrected < 0 {
        return Err(AdjustError::BelowZero(current_gross));
    }
    Money::from_fen(corrected).map_err(|_| AdjustError::TooLarge)
}

/// The inputs of the cost model of DESIGN.md §4, per instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostInputs {
    pub original_value: Money,
    /// Years over which the instrument is depreciated, 1–50.
    pub depreciation_years: i64,
    /// Rated annual hours (定额机时), 1–8784.
    pub rated_annual_hours: i64,
    pub consumables_per_hour: Money,
    pub energy_per_hour: Money,
    pub labour_per_hour: Money,
    /// Management fee in basis points, within the policy's range (10 %–15 %).
    pub management_fee_bp: i64,
}

/// The cost per hour of an instrument and the prices it suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostEstimate {
    /// original value ÷ (depreciation years × rated hours).
    pub depreciation_per_hour: Money,
    /// maintenance rate × original value ÷ rated hours.
    pub maintenance_per_hour: Money,
    pub consumables_per_hour: Money,
    pub energy_per_hour: Money,
    pub labour_per_hour: Money,
    /// The sum of the five lines above.
    pub direct_cost_per_hour: Money,
    /// direct cost × management fee.
    pub management_fee_per_hour: Money,
    /// direct cost + management fee: the internal cost of an hour.
    pub cost_per_hour: Money,
    /// cost per hour × each tier's multiplier.
    pub suggested: TierPrices,
}

/// Suggests hourly prices from the cost model used by Chinese facilities.
///
/// # Errors
/// [`Invalid`] naming `depreciation_years`, `rated_annual_hours` or
/// `management_fee_percent` (`range`), or `original_value` (`too_large`)
/// when an amount overflows.
pub fn estimate(inputs: &CostInputs, policy: &Policy) -> Result<CostEstimate, Invalid> {
    let mut c = Checks::new();
    c.require(
        (1..=50).contains(&inputs.depreciation_years),
        "depreciation_years",
        "range",
        || "must be between 1 and 50".into(),
    );
    c.require(
        (1..=8784).contains(&inputs.rated_annual_hours),
        "rated_annual_hours",
        "range",
        || "must be between 1 and 8784".into(),
    );
    let (lo, hi) = (policy.management_fee_min_bp, policy.management_fee_max_bp);
    c.require(
        (lo..=hi).contains(&inputs.management_fee_bp),
        "management_fee_percent",
        "range",
        || format!("must be between {} and {}", percent_text(lo), percent_text(hi)),
    );
    c.finish()?;
    let too_large = |_| Invalid::one("original_value", "too_large", "the amounts are too large to price");
    let value = dec(inputs.original_value);
    let hours = Decimal::from(inputs.rated_annual_hours);
    let depreciation_per_hour =
        round_fen(value / (Decimal::from(inputs.depreciation_years) * hours)).map_err(too_large)?;
    let maintenance_per_hour =
        round_fen(value * Decimal::from(policy.maintenance_rate_bp) / Decimal::from(10_000) / hours)
            .map_err(too_large)?;
    let direct_cost_per_hour = sum(&[
        depreciation_per_hour,
        maintenance_per_hour,
        inputs.consumables_per_hour,
        inputs.energy_per_hour,
        inputs.labour_per_hour,
    ])
    .map_err(too_large)?;
    let management_fee_per_hour =
        round_fen(dec(direct_cost_per_hour) * Decimal::from(inputs.management_fee_bp) / Decimal::from(10_000))
            .map_err(too_large)?;
    let cost_per_hour = sum(&[direct_cost_per_hour, management_fee_per_hour]).map_err(too_large)?;
    let tier_price = |tier: Tier| {
        round_fen(dec(cost_per_hour) * Decimal::from(policy.tier_multiplier_percent.get(tier)) / Decimal::ONE_HUNDRED)
            .map_err(too_large)
    };
    Ok(CostEstimate {
        depreciation_per_hour,
        maintenance_per_hour,
        consumables_per_hour: inputs.consumables_per_hour,
        energy_per_hour: inputs.energy_per_hour,
        labour_per_hour: inputs.labour_per_hour,
        direct_cost_per_hour,
        management_fee_per_hour,
        cost_per_hour,
        suggested: TierPrices {
            internal: tier_price(Tier::Internal)?,
            member: tier_price(Tier::Member)?,
            external: tier_price(Tier::External)?,
        },
    })
}

/// Basis points as a percentage text: 1000 → "10", 1250 → "12.5".
pub fn percent_text(bp: i64) -> String {
    Decimal::new(bp, 2).normalize().to_string()
}

/// Parses a percentage with at most two decimals ("50", "12.5") into basis points.
///
/// # Errors
/// A message when the text is not such a number or lies outside 0–`max_percent`.
pub fn parse_percent_bp(text: &str, max_percent: i64) -> Result<i64, String> {
    let bad = || format!("must be a decimal string between 0 and {max_percent} with at most two decimals");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let d: Decimal = text.parse().map_err(|_| bad())?;
    if d.scale() > 2 || d > Decimal::from(max_percent) {
        return Err(bad());
    }
    (d * Decimal::ONE_HUNDRED).to_i64().ok_or_else(bad)
}

/// The standard in force at `date` among approved versions of one subject:
/// the latest effective date on or before it, the highest version on a tie.
pub fn in_force<T>(
    versions: &[T],
    date: chrono::NaiveDate,
    effective_from: impl Fn(&T) -> chrono::NaiveDate,
    version: impl Fn(&T) -> i64,
) -> Option<&T> {
    versions
        .iter()
        .filter(|v| effective_from(v) <= date)
        .max_by_key(|v| (effective_from(v), version(v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn yuan(text: &str) -> Money {
        Money::parse(text).unwrap_or_default()
    }

    fn schedule() -> FeeSchedule {
        FeeSchedule {
            unit: FeeUnit::Hour,
            prices: TierPrices {
                internal: yuan("200.00"),
                member: yuan("240.00"),
                external: yuan("360.00"),
            },
            startup_fee: yuan("50.00"),
            assisted_surcharge_per_hour: yuan("80.00"),
            minimum_charge: yuan("100.00"),
        }
    }

    fn input(tier: Tier, minutes: i64) -> PricingInput {
        PricingInput {
            tier,
            quantity: minutes,
            assisted: false,
            fee_percent: 100,
        }
    }

    #[test]
    fn the_tier_follows_the_payer_and_the_provider() {
        let (own, other) = (InstitutionId(1), InstitutionId(2));
        assert_eq!(tier(own, Membership::Member, own), Tier::Internal);
        assert_eq!(tier(other, Membership::Member, own), Tier::Member);
        assert_eq!(tier(other, Membership::External, own), Tier::External);
    }

    #[test]
    fn two_and_a_half_hours_at_the_member_price_with_start_up_fee() {
        let p = price(&schedule(), &input(Tier::Member, 150)).map_err(|e| e.to_string());
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.unit_price, yuan("240.00"));
        assert_eq!(p.usage_amount, yuan("600.00"));
        assert_eq!(p.startup_fee, yuan("50.00"));
        assert_eq!(p.minimum_top_up, Money::ZERO);
        assert_eq!(p.gross, yuan("650.00"));
    }

    #[test]
    fn a_short_session_is_topped_up_to_the_minimum() {
        let mut s = schedule();
        s.startup_fee = Money::ZERO;
        let p = price(&s, &input(Tier::Internal, 20)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.usage_amount, yuan("66.67"));
        assert_eq!(p.minimum_top_up, yuan("33.33"));
        assert_eq!(p.gross, yuan("100.00"));
    }

    #[test]
    fn assisted_use_adds_the_surcharge_per_hour() {
        let mut i = input(Tier::External, 90);
        i.assisted = true;
        let p = price(&schedule(), &i).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.usage_amount, yuan("540.00"));
        assert_eq!(p.assisted_surcharge, yuan("120.00"));
        assert_eq!(p.gross, yuan("710.00"));
    }

    #[test]
    fn penalties_are_a_share_of_the_whole_session_fee() {
        let mut i = input(Tier::Internal, 60);
        i.fee_percent = 150;
        let p = price(&schedule(), &i).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.gross, yuan("375.00"));
    }

    #[test]
    fn half_a_fen_rounds_up() {
        let s = FeeSchedule {
            unit: FeeUnit::Hour,
            prices: TierPrices {
                internal: yuan("0.01"),
                member: yuan("0.01"),
                external: yuan("0.01"),
            },
            startup_fee: Money::ZERO,
            assisted_surcharge_per_hour: Money::ZERO,
            minimum_charge: Money::ZERO,
        };
        let p = price(&s, &input(Tier::Internal, 30)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.usage_amount.fen(), 1, "0.005 rounds half-up to 0.01");
        let p = price(&s, &input(Tier::Internal, 29)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.usage_amount.fen(), 0, "0.00483 rounds down");
        assert_eq!(round_fen(Decimal::new(25, 1)).map(Money::fen), Ok(3));
        assert_eq!(round_fen(Decimal::new(249, 2)).map(Money::fen), Ok(2));
    }

    #[test]
    fn samples_are_priced_per_sample_and_items_per_order() {
        let mut s = schedule();
        s.unit = FeeUnit::Sample;
        s.startup_fee = Money::ZERO;
        s.assisted_surcharge_per_hour = Money::ZERO;
        let basis = ChargeBasis::ServiceOrder { samples: 12 };
        let policy = Policy::default();
        let p = price(&s, &basis.pricing_input(Tier::Member, FeeUnit::Sample, &policy));
        assert_eq!(p.map(|p| p.gross), Ok(yuan("2880.00")));
        s.unit = FeeUnit::Item;
        let p = price(&s, &basis.pricing_input(Tier::Member, FeeUnit::Item, &policy));
        assert_eq!(p.map(|p| (p.quantity, p.gross)), Ok((1, yuan("240.00"))));
    }

    #[test]
    fn each_kind_of_charge_takes_its_share_from_the_policy() {
        let policy = Policy::default();
        let mode = ServiceMode::SelfOperated;
        let cases = [
            (
                ChargeBasis::Usage {
                    billed_minutes: 60,
                    mode,
                },
                100,
            ),
            (
                ChargeBasis::LateCancellation {
                    booked_minutes: 60,
                    mode,
                },
                100,
            ),
            (
                ChargeBasis::NoShow {
                    booked_minutes: 60,
                    mode,
                },
                150,
            ),
            (
                ChargeBasis::WalkIn {
                    billed_minutes: 60,
                    mode,
                },
                200,
            ),
            (ChargeBasis::ServiceOrder { samples: 3 }, 100),
        ];
        for (basis, percent) in cases {
            assert_eq!(basis.fee_percent(&policy), percent, "{:?}", basis.kind());
        }
    }

    #[test]
    fn bad_pricing_inputs_are_refused() {
        assert_eq!(
            price(&schedule(), &input(Tier::Member, -1)),
            Err(PricingError::NegativeQuantity)
        );
        let mut i = input(Tier::Member, 60);
        i.fee_percent = 1001;
        assert_eq!(price(&schedule(), &i), Err(PricingError::FeePercent));
        let mut s = schedule();
        s.prices.member = Money::from_fen(MAX_FEN).unwrap_or_default();
        assert_eq!(price(&s, &input(Tier::Member, 600)), Err(PricingError::TooLarge));
    }

    #[test]
    fn a_schedule_must_fit_its_subject() {
        let instrument = |mode| FeeSubject::Instrument { instrument_id: 1, mode };
        assert!(check_schedule(&schedule(), &instrument(ServiceMode::Assisted), None).is_ok());
        let fields = |r: Result<(), Invalid>| r.err().map(|e| e.0.iter().map(|v| v.rule).collect::<Vec<_>>());
        let mut dear = schedule();
        dear.prices.external = Money::yuan(1_000_001);
        assert_eq!(
            fields(check_schedule(&dear, &instrument(ServiceMode::Assisted), None)),
            Some(vec!["price_ceiling"])
        );
        dear.prices.external = PRICE_CEILING;
        assert!(check_schedule(&dear, &instrument(ServiceMode::Assisted), None).is_ok());
        assert_eq!(
            fields(check_schedule(
                &schedule(),
                &instrument(ServiceMode::SelfOperated),
                None
            )),
            Some(vec!["assisted_only"])
        );
        assert_eq!(
            fields(check_schedule(&schedule(), &instrument(ServiceMode::Sample), None)),
            Some(vec!["mode_priced_by_service_items", "assisted_only"])
        );
        let mut s = schedule();
        s.assisted_surcharge_per_hour = Money::ZERO;
        let item = FeeSubject::ServiceItem { service_item_id: 4 };
        assert_eq!(
            fields(check_schedule(&s, &item, Some(ServiceUnit::Sample))),
            Some(vec!["unit_matches_subject"])
        );
        s.unit = FeeUnit::Sample;
        assert!(check_schedule(&s, &item, Some(ServiceUnit::Sample)).is_ok());
    }

    #[test]
    fn a_proposal_names_each_broken_rule_and_is_never_retroactive() {
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap_or_default();
        let today = d("2026-12-03");
        let subject = FeeSubject::Instrument {
            instrument_id: 1,
            mode: ServiceMode::SelfOperated,
        };
        let offered = [ServiceMode::Assisted, ServiceMode::Sample];
        let rules = |r: Result<(), Invalid>| {
            r.err()
                .map(|e| e.0.into_iter().map(|v| (v.field, v.rule)).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert_eq!(
            rules(check_proposal(
                &schedule(),
                &subject,
                None,
                &offered,
                d("2026-12-02"),
                today
            )),
            vec![
                ("assisted_surcharge".to_owned(), "assisted_only"),
                ("mode".to_owned(), "mode_offered"),
                ("effective_from".to_owned(), "not_retroactive"),
            ]
        );
        let assisted = FeeSubject::Instrument {
            instrument_id: 1,
            mode: ServiceMode::Assisted,
        };
        assert!(check_proposal(&schedule(), &assisted, None, &offered, today, today).is_ok());
    }

    #[test]
    fn a_standard_is_decided_once_and_never_approved_after_its_effective_date() {
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap_or_default();
        let (today, proposed) = (d("2026-12-03"), FeeStandardStatus::Proposed);
        assert_eq!(
            decide(proposed, &FeeDecision::Approve, today, today),
            Ok(FeeStandardStatus::Approved)
        );
        assert!(matches!(
            decide(proposed, &FeeDecision::Approve, d("2026-12-02"), today),
            Err(FeeDecisionError::Retroactive { .. })
        ));
        let reject = |reason: &str| FeeDecision::Reject { reason: reason.into() };
        assert_eq!(
            decide(proposed, &reject("价格偏高"), d("2026-12-02"), today),
            Ok(FeeStandardStatus::Rejected)
        );
        assert!(matches!(
            decide(proposed, &reject(" "), today, today),
            Err(FeeDecisionError::Invalid(_))
        ));
        assert!(matches!(
            decide(FeeStandardStatus::Approved, &reject("x"), today, today),
            Err(FeeDecisionError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn an_adjustment_corrects_a_charge_within_zero_and_the_largest_amount() {
        assert_eq!(
            corrected_gross(ChargeKind::Usage, 69_000, -20_000),
            Ok(Money::from_fen(49_000).unwrap_or_default())
        );
        assert_eq!(corrected_gross(ChargeKind::NoShow, 69_000, -69_000), Ok(Money::ZERO));
        assert_eq!(
            corrected_gross(ChargeKind::Usage, 69_000, -69_001),
            Err(AdjustError::BelowZero(69_000))
        );
        assert_eq!(corrected_gross(ChargeKind::Usage, 69_000, 0), Err(AdjustError::Zero));
        assert_eq!(
            corrected_gross(ChargeKind::Adjustment, 100, -1),
            Err(AdjustError::OfAdjustment)
        );
        assert_eq!(
            corrected_gross(ChargeKind::Usage, MAX_FEN, 1),
            Err(AdjustError::TooLarge)
        );
        assert_eq!(
            AdjustError::BelowZero(69_000).to_string(),
            "the adjustment would make the charge negative: it stands at 690.00"
        );
    }

    #[test]
    fn the_cost_model_of_a_3_8_million_mass_spectrometer() {
        let inputs = CostInputs {
            original_value: yuan("3800000.00"),
            depreciation_years: 10,
            rated_annual_hours: 1600,
            consumables_per_hour: yuan("60.00"),
            energy_per_hour: yuan("8.50"),
            labour_per_hour: yuan("45.00"),
            management_fee_bp: 1000,
        };
        let e = estimate(&inputs, &Policy::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.depreciation_per_hour, yuan("237.50"));
        assert_eq!(e.maintenance_per_hour, yuan("142.50"));
        assert_eq!(e.direct_cost_per_hour, yuan("493.50"));
        assert_eq!(e.management_fee_per_hour, yuan("49.35"));
        assert_eq!(e.cost_per_hour, yuan("542.85"));
        assert_eq!(e.suggested.internal, yuan("542.85"));
        assert_eq!(
            e.suggested.external,
            yuan("814.28"),
            "542.85 × 1.5 = 814.275 rounds half-up"
        );
    }

    #[test]
    fn the_cost_model_refuses_out_of_range_inputs() {
        let inputs = CostInputs {
            original_value: yuan("1000.00"),
            depreciation_years: 0,
            rated_annual_hours: 9000,
            consumables_per_hour: Money::ZERO,
            energy_per_hour: Money::ZERO,
            labour_per_hour: Money::ZERO,
            management_fee_bp: 2000,
        };
        let fields = estimate(&inputs, &Policy::default())
            .err()
            .map(|e| e.0.into_iter().map(|v| v.field).collect::<Vec<_>>());
        assert_eq!(
            fields,
            Some(vec![
                "depreciation_years".to_owned(),
                "rated_annual_hours".to_owned(),
                "management_fee_percent".to_owned()
            ])
        );
    }

    #[test]
    fn percentages_parse_to_basis_points() {
        assert_eq!(parse_percent_bp("50", 100), Ok(5000));
        assert_eq!(parse_percent_bp("12.5", 100), Ok(1250));
        assert_eq!(parse_percent_bp("0.01", 100), Ok(1));
        assert!(parse_percent_bp("100.01", 100).is_err());
        assert!(parse_percent_bp("1.005", 100).is_err());
        assert!(parse_percent_bp("-1", 100).is_err());
        assert!(parse_percent_bp("", 100).is_err());
        assert_eq!(percent_text(1250), "12.5");
        assert_eq!(percent_text(5000), "50");
    }

    #[test]
    fn the_latest_effective_version_is_in_force() {
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap_or_default();
        let versions = [
            (1, d("2026-01-01")),
            (2, d("2026-12-01")),
            (3, d("2026-12-01")),
            (4, d("2027-01-01")),
        ];
        let pick = |date| in_force(&versions, d(date), |v| v.1, |v| v.0).map(|v| v.0);
        assert_eq!(pick("2025-12-31"), None);
        assert_eq!(pick("2026-11-30"), Some(1));
        assert_eq!(pick("2026-12-01"), Some(3));
        assert_eq!(pick("2027-06-01"), Some(4));
    }

    fn any_schedule() -> impl Strategy<Value = FeeSchedule> {
        (
            prop_oneof![Just(FeeUnit::Hour), Just(FeeUnit::Sample), Just(FeeUnit::Item)],
            0i64..1_000_000,
            0i64..1_000_000,
            0i64..1_000_000,
            0i64..100_000,
            0i64..100_000,
            0i64..200_000,
        )
            .prop_map(|(unit, a, b, c, startup, surcharge, minimum)| {
                let mut tiers = [a, b, c];
                tiers.sort_unstable();
                let m = |f| Money::from_fen(f).unwrap_or_default();
                FeeSchedule {
                    unit,
                    prices: TierPrices {
                        internal: m(tiers[0]),
                        member: m(tiers[1]),
                        external: m(tiers[2]),
                    },
                    startup_fee: m(startup),
                    assisted_surcharge_per_hour: m(surcharge),
                    minimum_charge: m(minimum),
                }
            })
    }

    fn tiers() -> impl Strategy<Value = Tier> {
        prop_oneof![Just(Tier::Internal), Just(Tier::Member), Just(Tier::External)]
    }

    proptest! {
        #[test]
        fn a_price_is_never_below_the_minimum_share_and_its_lines_add_up(
            s in any_schedule(), t in tiers(), q in 0i64..100_000, assisted: bool, percent in 0i64..=300
        ) {
            let p = price(&s, &PricingInput { tier: t, quantity: q, assisted, fee_percent: percent })
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let session = p.usage_amount.fen() + p.startup_fee.fen() + p.assisted_surcharge.fen() + p.minimum_top_up.fen();
            prop_assert!(session >= s.minimum_charge.fen());
            prop_assert!(p.minimum_top_up.fen() == 0 || session == s.minimum_charge.fen());
            // The gross is the session fee × percent, within half a fen.
            let exact = session * percent;
            prop_assert!((p.gross.fen() * 100 - exact).abs() <= 50);
            prop_assert!(p.gross.fen() >= 0);
        }

        #[test]
        fn a_price_never_falls_when_more_is_used(
            s in any_schedule(), t in tiers(), q in 0i64..100_000, extra in 0i64..1_000, assisted: bool
        ) {
            let at = |quantity| price(&s, &PricingInput { tier: t, quantity, assisted, fee_percent: 100 })
                .map(|p| p.gross)
                .map_err(|e| TestCaseError::fail(e.to_string()));
            prop_assert!(at(q)? <= at(q + extra)?);
        }

        #[test]
        fn tiers_are_charged_in_the_order_of_their_prices(
            s in any_schedule(), q in 0i64..100_000, assisted: bool, percent in 0i64..=300
        ) {
            let at = |tier| price(&s, &PricingInput { tier, quantity: q, assisted, fee_percent: percent })
                .map(|p| p.gross)
                .map_err(|e| TestCaseError::fail(e.to_string()));
            prop_assert!(at(Tier::Internal)? <= at(Tier::Member)?);
            prop_assert!(at(Tier::Member)? <= at(Tier::External)?);
        }

        #[test]
        fn each_line_is_the_exact_amount_rounded_half_up(price_fen in 0i64..10_000_000, minutes in 0i64..10_000) {
            let m = Money::from_fen(price_fen).unwrap_or_default();
            let s = FeeSchedule {
                unit: FeeUnit::Hour,
                prices: TierPrices { internal: m, member: m, external: m },
                startup_fee: Money::ZERO,
                assisted_surcharge_per_hour: Money::ZERO,
                minimum_charge: Money::ZERO,
            };
            let p = price(&s, &PricingInput { tier: Tier::Internal, quantity: minutes, assisted: false, fee_percent: 100 })
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            // Integer half-up: floor((price × minutes × 2 + 60) ÷ 120).
            let expected = (i128::from(price_fen) * i128::from(minutes) * 2 + 60) / 120;
            prop_assert_eq!(i128::from(p.usage_amount.fen()), expected);
        }
    }
}
