//! Reports for regulators (DESIGN.md §6): the period a report covers, which
//! instruments it counts, and how the figures of a group of instruments add
//! up. An instrument's own figures are the assessment's
//! ([`crate::assessment::metrics`]); a group's utilisation and share rate
//! come from its summed hours, never from an average of its instruments'
//! ratios, so that a large idle instrument weighs as much as its hours.

use crate::assessment::{InstrumentFacts, InstrumentMetrics};
use crate::catalogue::{InstrumentStatus, SharingScope};
use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use rust_decimal::{Decimal, RoundingStrategy};

/// The longest period one report covers: three years, in months.
pub const MAX_PERIOD_MONTHS: u32 = 36;

/// The years a report may cover: those both databases store.
pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 9999;

/// Which end of a period a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    From,
    To,
}

/// Why a period is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("must be between the years 2000 and 9999")]
    OutOfRange(End),
    #[error("must not be before `from`")]
    Reversed,
    #[error("a report covers at most three years: the last day may be {last} at the latest")]
    TooLong { last: NaiveDate },
}

impl PeriodError {
    /// The end of the period the problem is about.
    pub fn end(&self) -> End {
        match self {
            Self::OutOfRange(end) => *end,
            Self::Reversed | Self::TooLong { .. } => End::To,
        }
    }
}

/// A period of whole local days, `from` to `to` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

fn in_years(d: NaiveDate) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&d.year())
}

/// Local midnight of a date as a UTC instant, for a platform `offset_seconds` east of UTC.
fn midnight_utc(d: NaiveDate, offset_seconds: i32) -> NaiveDateTime {
    let local = d.and_time(NaiveTime::MIN);
    local
        .checked_sub_signed(TimeDelta::seconds(i64::from(offset_seconds)))
        .unwrap_or(local)
}

impl Period {
    /// # Errors
    /// [`PeriodError`] when a day lies outside the storable years, `to` is
    /// before `from`, or the period is longer than three years.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, PeriodError> {
        if !in_years(from) {
            return Err(PeriodError::OutOfRange(End::From));
        }
        if !in_years(to) {
            return Err(PeriodError::OutOfRange(End::To));
        }
        if to < from {
            return Err(PeriodError::Reversed);
        }
        let last = from
            .checked_add_months(Months::new(MAX_PERIOD_MONTHS))
            .and_then(|d| d.pred_opt())
            .unwrap_or(NaiveDate::MAX);
        if to > last {
            return Err(PeriodError::TooLong { last });
        }
        Ok(Self { from, to })
    }

    /// A calendar year, 1 January to 31 December.
    ///
    /// # Errors
    /// [`PeriodError::OutOfRange`] outside the storable years.
    pub fn year(year: i32) -> Result<Self, PeriodError> {
        let day = |m, d| NaiveDate::from_ymd_opt(year, m, d).ok_or(PeriodError::OutOfRange(End::From));
        Self::new(day(1, 1)?, day(12, 31)?)
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// Days of the period, both ends included.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// Days of the period on or after `start` (the day an instrument was
    /// commissioned, or bought when no commissioning date is known).
    pub fn in_service_days(&self, start: NaiveDate) -> i64 {
        if start > self.to {
            0
        } else {
            (self.to - start.max(self.from)).num_days() + 1
        }
    }

    /// The first and last day of the period on or after `start`, `None`
    /// when the instrument came into service after the period.
    pub fn in_service(&self, start: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        (start <= self.to).then(|| (start.max(self.from), self.to))
    }

    /// The period as UTC instants `[start, end)`: local midnight of `from`
    /// and of the day after `to`, for a platform `offset_seconds` east of UTC.
    pub fn instants(&self, offset_seconds: i32) -> (NaiveDateTime, NaiveDateTime) {
        let last_instant = NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31)
            .and_then(|d| d.and_hms_opt(23, 59, 59))
            .unwrap_or(NaiveDateTime::MAX);
        let end = self
            .to
            .succ_opt()
            .map_or(last_instant, |d| midnight_utc(d, offset_seconds));
        (midnight_utc(self.from, offset_seconds), end.min(last_instant))
    }
}

/// Whether anything happened on an instrument in the period: use, samples,
/// users served, or money charged or subsidised.
pub fn active(f: &InstrumentFacts) -> bool {
    [
        f.effective_minutes,
        f.samples,
        f.orders_completed,
        f.users,
        f.revenue_internal,
        f.revenue_external,
        f.subsidy,
    ]
    .iter()
    .any(|v| *v != 0)
}

/// Whether an instrument has a line in a report: with activity in the
/// period always; without, while it was in service during the period and is
/// not retired (an idle instrument is reported as idle, a retired one is not).
pub fn counted(status: InstrumentStatus, f: &InstrumentFacts) -> bool {
    active(f) || (status != InstrumentStatus::Retired && f.in_service.is_some())
}

/// The category group of a GB/T 32847-2016 code: its middle class (中类),
/// the first four of its six digits (`030201` → `0302`).
pub fn category_group(code: &str) -> &str {
    code.get(..4).unwrap_or(code)
}

/// Rounds half away from zero to `dp` decimals, as the assessment does.
fn round(d: Decimal, dp: u32) -> Decimal {
    d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// A decimal with exactly `dp` decimals (`"1500.00"`, `"0.0107"`), rounded half-up.
pub fn fixed(d: Decimal, dp: u32) -> String {
    let mut r = round(d, dp);
    r.rescale(dp);
    r.to_string()
}

fn hours(minutes: i64) -> Decimal {
    Decimal::from(minutes) / Decimal::from(60)
}

/// The figures of a group of instruments (an institution's, a category's,
/// or all of a report's), added up instrument by instrument.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Group {
    /// The instruments counted, in the order added.
    pub instruments: Vec<i64>,
    /// R: the sum of the instruments' rated hours as each one's line shows them.
    pub rated_hours: Decimal,
    pub effective_minutes: i64,
    pub external_minutes: i64,
    pub samples: i64,
    /// Fen.
    pub revenue_internal: i64,
    pub revenue_external: i64,
    pub subsidy: i64,
    users: i64,
    institutions: i64,
}

impl Group {
    /// Adds an instrument with its facts and its metrics.
    pub fn add(&mut self, instrument: i64, f: &InstrumentFacts, m: &InstrumentMetrics) {
        self.instruments.push(instrument);
        self.rated_hours += m.rated_hours;
        self.effective_minutes += f.effective_minutes;
        self.external_minutes += f.external_minutes;
        self.samples += f.samples;
        self.revenue_internal += f.revenue_internal;
        self.revenue_external += f.revenue_external;
        self.subsidy += f.subsidy;
    }

    /// Records how many distinct users the group's instruments served and
    /// how many distinct institutions other than the owner of the
    /// instrument used: each counted once however many of the group's
    /// instruments they used.
    pub fn served(&mut self, users: i64, institutions: i64) {
        self.users = users;
        self.institutions = institutions;
    }

    /// H in hours, two decimals.
    pub fn effective_hours(&self) -> Decimal {
        round(hours(self.effective_minutes), 2)
    }

    /// E in hours, two decimals.
    pub fn external_hours(&self) -> Decimal {
        round(hours(self.external_minutes), 2)
    }

    /// U = H ÷ R of the group's sums, four decimals; 0 when R is 0.
    pub fn utilisation(&self) -> Decimal {
        if self.rated_hours <= Decimal::ZERO {
            Decimal::ZERO
        } else {
            round(hours(self.effective_minutes) / self.rated_hours, 4)
        }
    }

    /// S = E ÷ H of the group's sums, four decimals; 0 when H is 0.
    pub fn share_rate(&self) -> Decimal {
        if self.effective_minutes <= 0 {
            Decimal::ZERO
        } else {
            round(
                Decimal::from(self.external_minutes) / Decimal::from(self.effective_minutes),
                4,
            )
        }
    }

    /// Distinct users served.
    pub fn users(&self) -> i64 {
        self.users
    }

    /// Distinct institutions served other than the owner of the instrument used.
    pub fn institutions(&self) -> i64 {
        self.institutions
    }
}

/// An amount of fen in 万元 (10,000 CNY), exactly: at least two decimals,
/// more only where the fen need them (`386000000` → `"386.00"`).
pub fn wan_yuan(fen: i64) -> String {
    let mut d = Decimal::new(fen, 6).normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    d.to_string()
}

/// The operating status as the national platform's layout words it.
pub fn status_label(s: InstrumentStatus) -> &'static str {
    match s {
        InstrumentStatus::Normal => "正常",
        InstrumentStatus::Standby => "待机",
        InstrumentStatus::Faulty => "故障",
        InstrumentStatus::UnderRepair => "维修中",
        InstrumentStatus::Retired => "已报废",
    }
}

/// The sharing scope as the national platform's layout words it.
pub fn sharing_label(s: SharingScope) -> &'static str {
    match s {
        SharingScope::None => "不共享",
        SharingScope::Internal => "单位内部共享",
        SharingScope::System => "系统内共享",
        SharingScope::Public => "对社会开放共享",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessment::metrics;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn a_period_runs_from_a_day_to_a_day_of_at_most_three_years() {
        let p = Period::new(date(2026, 1, 1), date(2026, 12, 31));
        assert_eq!(p.map(|p| p.days()), Ok(365));
        assert_eq!(Period::new(date(2026, 3, 5), date(2026, 3, 5)).map(|p| p.days()), Ok(1));
        assert_eq!(
            Period::new(date(2024, 1, 1), date(2026, 12, 31)).map(|p| p.days()),
            Ok(1096)
        );
        assert_eq!(
            Period::new(date(2024, 1, 1), date(2027, 1, 1)),
            Err(PeriodError::TooLong {
                last: date(2026, 12, 31)
            })
        );
        assert_eq!(
            Period::new(date(2026, 3, 5), date(2026, 3, 4)),
            Err(PeriodError::Reversed)
        );
        assert_eq!(
            Period::new(date(1999, 12, 31), date(2000, 1, 1)),
            Err(PeriodError::OutOfRange(End::From))
        );
        assert_eq!(PeriodError::Reversed.end(), End::To);
        assert_eq!(Period::year(2024).map(|p| p.days()), Ok(366));
        assert!(Period::year(1999).is_err());
    }

    #[test]
    fn in_service_days_count_from_the_commissioning_day_within_the_period() {
        let p = Period::year(2026).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.in_service_days(date(2019, 8, 17)), 365);
        assert_eq!(p.in_service_days(date(2026, 1, 1)), 365);
        assert_eq!(p.in_service_days(date(2026, 10, 20)), 73);
        assert_eq!(p.in_service_days(date(2026, 12, 31)), 1);
        assert_eq!(p.in_service_days(date(2027, 1, 1)), 0);
    }

    #[test]
    fn a_period_is_local_days_as_utc_instants() {
        let p = Period::new(date(2026, 1, 1), date(2026, 1, 31)).unwrap_or_else(|e| panic!("{e}"));
        let (start, end) = p.instants(8 * 3600);
        assert_eq!(start, date(2025, 12, 31).and_hms_opt(16, 0, 0).unwrap_or_default());
        assert_eq!(end, date(2026, 1, 31).and_hms_opt(16, 0, 0).unwrap_or_default());
        let (_, last) = Period::year(9999).unwrap_or_else(|e| panic!("{e}")).instants(-5 * 3600);
        assert_eq!(last, date(9999, 12, 31).and_hms_opt(23, 59, 59).unwrap_or_default());
    }

    #[test]
    fn idle_instruments_are_counted_and_retired_ones_only_with_activity() {
        let idle = InstrumentFacts {
            in_service: NaiveDate::from_ymd_opt(2026, 1, 1).zip(NaiveDate::from_ymd_opt(2026, 12, 31)),
            ..InstrumentFacts::default()
        };
        assert!(!active(&idle));
        assert!(counted(InstrumentStatus::Normal, &idle));
        assert!(!counted(InstrumentStatus::Retired, &idle));
        let not_yet = InstrumentFacts {
            in_service: None,
            ..idle
        };
        assert!(!counted(InstrumentStatus::Normal, &not_yet));
        let used = InstrumentFacts {
            effective_minutes: 90,
            ..idle
        };
        assert!(counted(InstrumentStatus::Retired, &used));
        let charged_only = InstrumentFacts {
            revenue_external: -2000,
            ..not_yet
        };
        assert!(counted(InstrumentStatus::Retired, &charged_only));
    }

    #[test]
    fn a_groups_ratios_come_from_its_summed_hours_not_from_averaged_ratios() {
        let busy = InstrumentFacts {
            rated_annual_hours: 20,
            in_service: NaiveDate::from_ymd_opt(2026, 1, 1).zip(NaiveDate::from_ymd_opt(2026, 12, 31)),
            effective_minutes: 600,
            external_minutes: 600,
            ..InstrumentFacts::default()
        };
        let idle = InstrumentFacts {
            rated_annual_hours: 980,
            effective_minutes: 0,
            external_minutes: 0,
            ..busy
        };
        let mut g = Group::default();
        g.add(1, &busy, &metrics(&busy));
        g.add(2, &idle, &metrics(&idle));
        assert_eq!(metrics(&busy).utilisation, dec("0.5"));
        assert_eq!(g.rated_hours, dec("1000"));
        assert_eq!(g.effective_hours(), dec("10"));
        assert_eq!(g.utilisation(), dec("0.01"), "10 h of 1000 h, not (0.5 + 0) ÷ 2");
        assert_eq!(g.share_rate(), dec("1"));
        assert_eq!(g.instruments, vec![1, 2]);
        assert_eq!(Group::default().utilisation(), Decimal::ZERO);
        assert_eq!(Group::default().share_rate(), Decimal::ZERO);
    }

    #[test]
    fn figures_are_written_with_fixed_decimals_and_values_in_wan_yuan() {
        assert_eq!(fixed(dec("1600"), 2), "1600.00");
        assert_eq!(fixed(dec("0.00625"), 4), "0.0063");
        assert_eq!(fixed(dec("15.833333"), 2), "15.83");
        assert_eq!(wan_yuan(386_000_000), "386.00");
        assert_eq!(wan_yuan(125_000_000), "125.00");
        assert_eq!(wan_yuan(123_456), "0.123456");
        assert_eq!(wan_yuan(1_234_500_000), "1234.50");
        assert_eq!(category_group("030201"), "0302");
        assert_eq!(category_group("03"), "03");
        assert_eq!(status_label(InstrumentStatus::Retired), "已报废");
        assert_eq!(sharing_label(SharingScope::System), "系统内共享");
    }
}
