//! The platform policy: the default numbers of the measures that an
//! administrator may change.

use crate::Money;
use chrono::FixedOffset;

/// UTC+8 (Asia/Shanghai), the platform's local time when the policy holds no valid offset.
const CHINA_STANDARD_TIME: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// Policy values the catalogue and booking rules use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Instruments worth at least this much must be listed (入网), 500,000 CNY.
    pub listing_threshold: Money,
    /// Rated annual hours (定额机时) of a new instrument, 1600 h.
    pub default_rated_annual_hours: i32,
    /// How far ahead a booking must start unless the instrument sets its own
    /// lead time, so that managers can prepare: 24 h.
    pub booking_lead_minutes: i64,
    /// Check-in opens this long before the start, so users can set up: 15 min.
    pub check_in_opens_minutes: i64,
    /// A booking not checked in this long after its start is a no-show and
    /// frees the instrument: 30 min.
    pub no_show_after_minutes: i64,
    /// Cancelling is free until this long before the start; later it costs
    /// the booked fee: 24 h.
    pub free_cancellation_hours: i64,
    /// This many no-shows within `no_show_window_days` suspend booking: 3.
    pub no_show_limit: usize,
    /// The window in which no-shows are counted: 90 days.
    pub no_show_window_days: i64,
    /// How long a suspension for no-shows lasts: 30 days.
    pub suspension_days: i64,
    /// The platform's local time as seconds east of UTC (opening hours and
    /// slots are local): 8 h, Asia/Shanghai, which has no daylight saving.
    pub local_offset_seconds: i32,
    /// Use running past the booked end by more than this is billed by the actual time, 10 min.
    pub overrun_grace_minutes: i64,
    /// Billed time is rounded up to this increment, 30 min.
    pub billing_increment_minutes: i64,
    /// A late cancellation costs this share of the booked fee, 100 %.
    pub late_cancellation_fee_percent: i64,
    /// A no-show costs this share of the booked fee, 150 %.
    pub no_show_fee_percent: i64,
    /// A walk-in costs this share of the fee of its time, 200 %.
    pub walk_in_fee_percent: i64,
    /// Suggested price of each tier as a share of the cost per hour:
    /// internal 100 %, member 100 %, external 150 %.
    pub tier_multiplier_percent: crate::fees::TierPercents,
    /// Yearly maintenance as a share of the original value, in basis points: 6 %.
    pub maintenance_rate_bp: i64,
    /// The management fee the cost calculator adds, in basis points: 10 % to 15 %.
    pub management_fee_min_bp: i64,
    pub management_fee_max_bp: i64,
    /// The assessment's score weights and targets (DESIGN.md §5).
    pub assessment: AssessmentPolicy,
    /// New purchases of at least this value are reviewed against idle
    /// instruments (新购查重评议): 2,000,000 CNY.
    pub purchase_review_threshold: Money,
    /// A similar instrument used less than this many effective hours over
    /// the last 12 months means: share it instead of buying, 1200 h.
    pub share_instead_below_hours: i64,
}

/// The numbers of the performance assessment (DESIGN.md §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentPolicy {
    /// Points for operation, 40 × min(utilisation, 1).
    pub operation_points: i64,
    /// Points for sharing, 30 × (⅔ · min(share ÷ target, 1) + ⅓ · min(institutions ÷ target, 1)).
    pub sharing_points: i64,
    /// Points for service quality, 15 × (rating − 1) ÷ 4.
    pub quality_points: i64,
    /// Points for management, entered by the assessor.
    pub management_points: i64,
    /// The share rate that earns the full sharing share, in basis points: 0.3.
    pub share_rate_target_bp: i64,
    /// Institutions served that earn the full institutions share: 5.
    pub institutions_target: i64,
    /// The quality fraction of an instrument nobody rated, in basis points: 0.6.
    pub unrated_quality_bp: i64,
    /// Grade cut-offs on 100 points: excellent ≥ 90, good ≥ 75, pass ≥ 60.
    pub excellent_from: i64,
    pub good_from: i64,
    pub pass_from: i64,
    /// Flag `idle` below this utilisation, in basis points: 0.2.
    pub idle_below_bp: i64,
    /// Flag `low_sharing` below this share rate, in basis points: 0.1.
    pub low_sharing_below_bp: i64,
    /// The derived management score counts usage recorded within this many days of the use: 7.
    pub usage_recorded_within_days: i64,
}

impl Default for AssessmentPolicy {
    fn default() -> Self {
        Self {
            operation_points: 40,
            sharing_points: 30,
            quality_points: 15,
            management_points: 15,
            share_rate_target_bp: 3000,
            institutions_target: 5,
            unrated_quality_bp: 6000,
            excellent_from: 90,
            good_from: 75,
            pass_from: 60,
            idle_below_bp: 2000,
            low_sharing_below_bp: 1000,
            usage_recorded_within_days: 7,
        }
    }
}

impl Policy {
    /// The platform's local offset; UTC+8 when `local_offset_seconds` is out of range.
    pub fn local_offset(&self) -> FixedOffset {
        FixedOffset::east_opt(self.local_offset_seconds).unwrap_or(CHINA_STANDARD_TIME)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            listing_threshold: Money::yuan(500_000),
            default_rated_annual_hours: 1600,
            booking_lead_minutes: 24 * 60,
            check_in_opens_minutes: 15,
            no_show_after_minutes: 30,
            free_cancellation_hours: 24,
            no_show_limit: 3,
            no_show_window_days: 90,
            suspension_days: 30,
            local_offset_seconds: 8 * 3600,
            overrun_grace_minutes: 10,
            billing_increment_minutes: 30,
            late_cancellation_fee_percent: 100,
            no_show_fee_percent: 150,
            walk_in_fee_percent: 200,
            tier_multiplier_percent: crate::fees::TierPercents {
                internal: 100,
                member: 100,
                external: 150,
            },
            maintenance_rate_bp: 600,
            management_fee_min_bp: 1000,
            management_fee_max_bp: 1500,
            assessment: AssessmentPolicy::default(),
            purchase_review_threshold: Money::yuan(2_000_000),
            share_instead_below_hours: 1200,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_local_time_is_china_standard_time() {
        assert_eq!(Policy::default().local_offset().local_minus_utc(), 8 * 3600);
    }

    #[test]
    fn an_out_of_range_offset_falls_back_to_china_standard_time() {
        let policy = Policy {
            local_offset_seconds: 100_000,
            ..Policy::default()
        };
        assert_eq!(policy.local_offset().local_minus_utc(), 8 * 3600);
        let west = Policy {
            local_offset_seconds: -5 * 3600,
            ..Policy::default()
        };
        assert_eq!(west.local_offset().local_minus_utc(), -5 * 3600);
    }
}
