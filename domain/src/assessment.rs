//! Performance assessment (chapter 5 of the measures): how much each
//! instrument and unit is used and shared, its score of 100 points, its
//! grade and flags, and how the results are used.

use crate::money::Money;
use crate::policy::AssessmentPolicy;
use crate::text_enum;
use chrono::{Datelike, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

text_enum!(
    /// A grade of the assessment.
    pub enum Grade {
        /// 优秀
        Excellent = "excellent",
        /// 良好
        Good = "good",
        /// 合格
        Pass = "pass",
        /// 不合格
        Fail = "fail",
    }
);

text_enum!(
    /// Where an assessment is.
    pub enum AssessmentStatus {
        /// Computed; assessors enter management scores; may be recomputed.
        Draft = "draft",
        /// Published by the commission: frozen.
        Published = "published",
    }
);

/// What the records say about one instrument over the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InstrumentFacts {
    /// Rated annual hours (定额机时) of the instrument.
    pub rated_annual_hours: i64,
    /// The first and last day of the period the instrument was in service
    /// (commissioned), `None` when it was not in service at all.
    pub in_service: Option<(NaiveDate, NaiveDate)>,
    /// Minutes of blackouts (maintenance, calibration, repair) within the
    /// days in service, overlaps merged.
    pub blackout_minutes: i64,
    /// Effective minutes: actual use and service-order instrument time.
    pub effective_minutes: i64,
    /// Of which by users of other institutions.
    pub external_minutes: i64,
    /// Distinct users served.
    pub users: i64,
    /// Distinct other institutions served.
    pub institutions: i64,
    pub samples: i64,
    /// Service orders completed, and of those on time.
    pub orders_completed: i64,
    pub orders_on_time: i64,
    /// Revenue from the owning institution's users, and from others (fen).
    pub revenue_internal: i64,
    pub revenue_external: i64,
    pub subsidy: i64,
    pub ratings: i64,
    pub rating_sum: i64,
    /// Bookings that started in the period and were completed or missed.
    pub bookings_due: i64,
    pub no_shows: i64,
}

/// A ratio kept exact: numerator ÷ denominator.
fn ratio(n: i64, d: i64) -> Decimal {
    if d <= 0 {
        Decimal::ZERO
    } else {
        Decimal::from(n) / Decimal::from(d)
    }
}

fn bp(v: i64) -> Decimal {
    Decimal::new(v, 4)
}

/// Rounds to four decimals (ratios) or two (points), half-up.
fn round(d: Decimal, dp: u32) -> Decimal {
    d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// The derived figures of one instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstrumentMetrics {
    /// R: rated hours pro-rated to the days in service, minus blackout hours.
    pub rated_hours: Decimal,
    /// H and E, in hours.
    pub effective_hours: Decimal,
    pub external_hours: Decimal,
    /// U = H ÷ R (0 when R is 0), four decimals.
    pub utilisation: Decimal,
    /// S = E ÷ H (0 when H is 0), four decimals.
    pub share_rate: Decimal,
    /// Orders on time ÷ completed, `None` without orders.
    pub on_time_rate: Option<Decimal>,
    /// Average rating, `None` when unrated.
    pub average_rating: Option<Decimal>,
    /// No-shows ÷ bookings due, `None` without bookings.
    pub no_show_rate: Option<Decimal>,
}

/// The years a span of days makes, each day counted as a share of its own
/// calendar year (a day of a leap year is 1/366): a whole year is exactly 1.
pub fn year_fraction(first: NaiveDate, last: NaiveDate) -> Decimal {
    let mut total = Decimal::ZERO;
    let mut year = first.year();
    while year <= last.year() {
        let (Some(jan1), Some(next)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year + 1, 1, 1),
        ) else {
            break;
        };
        let from = first.max(jan1);
        let to = last.min(next - chrono::Duration::days(1));
        if to >= from {
            let days = (to - from).num_days() + 1;
            total += ratio(days, (next - jan1).num_days());
        }
        year += 1;
    }
    total
}

/// Computes R, H, E, U, S and the rates of DESIGN.md §5. R is the rated
/// annual hours pro-rated to the days in service, less the share of that
/// time lost to blackouts (a week's repair costs a week's share of the rated
/// hours, not 168 of them); an instrument used although R is 0 counts as
/// fully used.
pub fn metrics(f: &InstrumentFacts) -> InstrumentMetrics {
    let sixty = Decimal::from(60);
    let rated_hours = match f.in_service {
        Some((first, last)) if last >= first => {
            let minutes = ((last - first).num_days() + 1) * 24 * 60;
            let available = (Decimal::ONE - ratio(f.blackout_minutes, minutes)).max(Decimal::ZERO);
            Decimal::from(f.rated_annual_hours) * year_fraction(first, last) * available
        }
        _ => Decimal::ZERO,
    };
    let effective_hours = Decimal::from(f.effective_minutes) / sixty;
    let external_hours = Decimal::from(f.external_minutes) / sixty;
    let utilisation = if rated_hours.is_zero() {
        if f.effective_minutes > 0 {
            Decimal::ONE
        } else {
            Decimal::ZERO
        }
    } else {
        round(effective_hours / rated_hours, 4)
    };
    InstrumentMetrics {
        rated_hours: round(rated_hours, 2),
        effective_hours: round(effective_hours, 2),
        external_hours: round(external_hours, 2),
        utilisation,
        share_rate: round(ratio(f.external_minutes, f.effective_minutes), 4),
        on_time_rate: (f.orders_completed > 0).then(|| round(ratio(f.orders_on_time, f.orders_completed), 4)),
        average_rating: (f.ratings > 0).then(|| round(ratio(f.rating_sum, f.ratings), 2)),
        no_show_rate: (f.bookings_due > 0).then(|| round(ratio(f.no_shows, f.bookings_due), 4)),
    }
}

/// The score of an instrument, part by part, in points with two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    pub operation: Decimal,
    pub sharing: Decimal,
    pub quality: Decimal,
    pub management: Decimal,
    pub total: Decimal,
}

/// Scores an instrument (DESIGN.md §5): operation × min(U, 1); sharing ×
/// (⅔ · min(S ÷ target, 1) + ⅓ · min(institutions ÷ target, 1)); quality ×
/// (rating − 1) ÷ 4, or the unrated fraction; management as entered.
pub fn score(m: &InstrumentMetrics, institutions: i64, management: Decimal, p: &AssessmentPolicy) -> Score {
    let one = Decimal::ONE;
    let operation = Decimal::from(p.operation_points) * m.utilisation.min(one);
    let share_part = if p.share_rate_target_bp > 0 {
        (m.share_rate / bp(p.share_rate_target_bp)).min(one)
    } else {
        one
    };
    let institutions_part = ratio(institutions, p.institutions_target.max(1)).min(one);
    let sharing = Decimal::from(p.sharing_points) * (Decimal::TWO * share_part + institutions_part) / Decimal::from(3);
    let quality_fraction = match m.average_rating {
        Some(r) => ((r - one) / Decimal::from(4)).max(Decimal::ZERO).min(one),
        None => bp(p.unrated_quality_bp),
    };
    let quality = Decimal::from(p.quality_points) * quality_fraction;
    let management = management.max(Decimal::ZERO).min(Decimal::from(p.management_points));
    let (operation, sharing, quality, management) = (
        round(operation, 2),
        round(sharing, 2),
        round(quality, 2),
        round(management, 2),
    );
    Score {
        operation,
        sharing,
        quality,
        management,
        total: operation + sharing + quality + management,
    }
}

/// The default management score before the assessor enters one: the share
/// of three checks met (catalogue fields complete, an approved fee
/// standard, usage recorded within the policy's days) × the management points.
pub fn derived_management(
    catalogue_complete: bool,
    fee_standard: bool,
    recorded_promptly: bool,
    p: &AssessmentPolicy,
) -> Decimal {
    let met = [catalogue_complete, fee_standard, recorded_promptly]
        .iter()
        .filter(|b| **b)
        .count();
    round(
        Decimal::from(p.management_points) * Decimal::from(met as i64) / Decimal::from(3),
        2,
    )
}

/// The grade of a score.
pub fn grade(total: Decimal, p: &AssessmentPolicy) -> Grade {
    if total >= Decimal::from(p.excellent_from) {
        Grade::Excellent
    } else if total >= Decimal::from(p.good_from) {
        Grade::Good
    } else if total >= Decimal::from(p.pass_from) {
        Grade::Pass
    } else {
        Grade::Fail
    }
}

/// `idle` (U below the threshold) and `low_sharing` (S below the threshold).
pub fn flags(m: &InstrumentMetrics, p: &AssessmentPolicy) -> (bool, bool) {
    (
        m.utilisation < bp(p.idle_below_bp),
        m.share_rate < bp(p.low_sharing_below_bp),
    )
}

/// A unit's score: the original-value-weighted mean of its instruments'
/// (two decimals); `None` without instruments of value.
pub fn unit_score(instruments: &[(Money, Decimal)]) -> Option<Decimal> {
    let weight: i64 = instruments.iter().map(|(v, _)| v.fen()).sum();
    if weight <= 0 {
        return None;
    }
    let weighted: Decimal = instruments.iter().map(|(v, s)| Decimal::from(v.fen()) * *s).sum();
    Some(round(weighted / Decimal::from(weight), 2))
}

/// Splits a reward pool among excellent and good units in proportion to
/// score × external revenue; every share is rounded down to the fen and
/// the fen left over go one by one to the largest remainders (ties to the
/// earlier unit), so that the shares add up to the pool exactly. Units with
/// no weight get nothing; with no weight at all nothing is paid.
pub fn split_reward(pool: Money, units: &[(Decimal, i64)]) -> Vec<Money> {
    let weights: Vec<Decimal> = units
        .iter()
        .map(|(score, external)| (*score * Decimal::from(*external)).max(Decimal::ZERO))
        .collect();
    let total: Decimal = weights.iter().copied().sum();
    if total.is_zero() {
        return vec![Money::ZERO; units.len()];
    }
    let exact: Vec<Decimal> = weights.iter().map(|w| Decimal::from(pool.fen()) * *w / total).collect();
    let mut shares: Vec<i64> = exact.iter().map(|e| e.floor().to_i64().unwrap_or(0)).collect();
    let mut left = pool.fen() - shares.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by(|a, b| {
        let ra = exact[*a] - exact[*a].floor();
        let rb = exact[*b] - exact[*b].floor();
        rb.cmp(&ra).then(a.cmp(b))
    });
    for i in order {
        if left <= 0 {
            break;
        }
        if weights[i] > Decimal::ZERO {
            shares[i] += 1;
            left -= 1;
        }
    }
    shares
        .into_iter()
        .map(|f| Money::from_fen(f).unwrap_or(Money::ZERO))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn facts() -> InstrumentFacts {
        InstrumentFacts {
            rated_annual_hours: 1500,
            in_service: Some((date("2026-01-01"), date("2026-12-31"))),
            blackout_minutes: 0,
            effective_minutes: 900 * 60,
            external_minutes: 270 * 60,
            users: 12,
            institutions: 3,
            samples: 40,
            orders_completed: 8,
            orders_on_time: 6,
            revenue_internal: 100_000,
            revenue_external: 250_000,
            subsidy: 50_000,
            ratings: 4,
            rating_sum: 17,
            bookings_due: 50,
            no_shows: 2,
        }
    }

    #[test]
    fn rated_hours_are_pro_rated_and_exclude_blackouts() {
        // 73 days of a 365-day year; a tenth of them lost to a repair.
        let part = metrics(&InstrumentFacts {
            rated_annual_hours: 1600,
            in_service: Some((date("2026-10-20"), date("2026-12-31"))),
            blackout_minutes: 73 * 24 * 6,
            ..facts()
        });
        assert_eq!(part.rated_hours, d("288"), "1600 × 73/365 × 0.9");
        // A leap year is one year too.
        let leap = metrics(&InstrumentFacts {
            in_service: Some((date("2028-01-01"), date("2028-12-31"))),
            ..facts()
        });
        assert_eq!(leap.rated_hours, d("1500"));
        assert_eq!(
            year_fraction(date("2027-07-02"), date("2028-07-01")),
            d("183") / d("365") + d("183") / d("366")
        );
        // Used although nothing was rated (blacked out throughout): fully used.
        let out = metrics(&InstrumentFacts {
            blackout_minutes: 366 * 24 * 60,
            ..facts()
        });
        assert_eq!((out.rated_hours, out.utilisation), (Decimal::ZERO, Decimal::ONE));
        let m = metrics(&facts());
        assert_eq!(m.rated_hours, d("1500"));
        assert_eq!(m.effective_hours, d("900"));
        assert_eq!(m.utilisation, d("0.6"));
        assert_eq!(m.share_rate, d("0.3"));
        assert_eq!(m.on_time_rate, Some(d("0.75")));
        assert_eq!(m.average_rating, Some(d("4.25")));
        assert_eq!(m.no_show_rate, Some(d("0.04")));
        let none = metrics(&InstrumentFacts::default());
        assert_eq!(
            (none.utilisation, none.share_rate, none.average_rating),
            (Decimal::ZERO, Decimal::ZERO, None)
        );
    }

    #[test]
    fn the_score_follows_the_default_weights() {
        let p = AssessmentPolicy::default();
        let m = metrics(&facts());
        let s = score(&m, 3, d("15"), &p);
        // 40 × 0.6; 30 × (⅔ × 1 + ⅓ × 3/5) = 26; 15 × 3.25/4; 15.
        assert_eq!(s.operation, d("24"));
        assert_eq!(s.sharing, d("26"));
        assert_eq!(s.quality, d("12.19"));
        assert_eq!(s.total, d("77.19"));
        assert_eq!(grade(s.total, &p), Grade::Good);
        let unrated = metrics(&InstrumentFacts {
            ratings: 0,
            rating_sum: 0,
            ..facts()
        });
        assert_eq!(score(&unrated, 3, d("15"), &p).quality, d("9"), "15 × 0.6");
        assert_eq!(
            score(&m, 3, d("99"), &p).management,
            d("15"),
            "management is capped at its points"
        );
    }

    #[test]
    fn grades_and_flags_follow_the_cut_offs() {
        let p = AssessmentPolicy::default();
        assert_eq!(grade(d("90"), &p), Grade::Excellent);
        assert_eq!(grade(d("89.99"), &p), Grade::Good);
        assert_eq!(grade(d("75"), &p), Grade::Good);
        assert_eq!(grade(d("60"), &p), Grade::Pass);
        assert_eq!(grade(d("59.99"), &p), Grade::Fail);
        let idle = metrics(&InstrumentFacts {
            effective_minutes: 299 * 60,
            external_minutes: 29 * 60,
            ..facts()
        });
        assert_eq!(flags(&idle, &p), (true, true));
        assert_eq!(flags(&metrics(&facts()), &p), (false, false));
    }

    #[test]
    fn a_units_score_is_weighted_by_original_value() {
        let s = unit_score(&[(Money::yuan(3_000_000), d("90")), (Money::yuan(1_000_000), d("50"))]);
        assert_eq!(s, Some(d("80")));
        assert_eq!(unit_score(&[]), None);
    }

    #[test]
    fn management_is_derived_from_three_checks() {
        let p = AssessmentPolicy::default();
        assert_eq!(derived_management(true, true, true, &p), d("15"));
        assert_eq!(derived_management(true, false, true, &p), d("10"));
        assert_eq!(derived_management(false, false, false, &p), d("0"));
    }

    #[test]
    fn the_reward_pool_is_split_by_score_times_external_revenue() {
        let shares = split_reward(Money::yuan(100), &[(d("90"), 2_000), (d("80"), 1_000), (d("95"), 0)]);
        // 180000 : 80000 → 69.230769… and 30.769230…
        assert_eq!(
            shares.iter().map(|m| m.fen()).collect::<Vec<_>>(),
            vec![6_923, 3_077, 0]
        );
        assert_eq!(split_reward(Money::yuan(100), &[(d("90"), 0)]), vec![Money::ZERO]);
    }

    proptest! {
        #[test]
        fn reward_shares_add_up_to_the_pool(pool in 0i64..10_000_000_000, units in proptest::collection::vec((0i64..10_000, 0i64..1_000_000_000), 1..12)) {
            let units: Vec<(Decimal, i64)> = units.into_iter().map(|(s, e)| (Decimal::new(s, 2), e)).collect();
            let pool = Money::from_fen(pool).unwrap_or_default();
            let shares = split_reward(pool, &units);
            let paid: i64 = shares.iter().map(|m| m.fen()).sum();
            let weighted = units.iter().any(|(s, e)| *s > Decimal::ZERO && *e > 0);
            prop_assert_eq!(paid, if weighted { pool.fen() } else { 0 });
        }

        #[test]
        fn a_score_stays_within_100_points(u in 0i64..5_000_000, e in 0i64..5_000_000, inst in 0i64..50, m in 0i64..2000, r in 0i64..20) {
            let f = InstrumentFacts { effective_minutes: u, external_minutes: e.min(u), ratings: r.min(1), rating_sum: (r % 5 + 1) * r.min(1), ..facts() };
            let s = score(&metrics(&f), inst, Decimal::new(m, 2), &AssessmentPolicy::default());
            prop_assert!(s.total >= Decimal::ZERO && s.total <= Decimal::from(100));
        }
    }
}
