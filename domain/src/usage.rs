//! Usage records (机时记录): the time an instrument was actually used, what
//! is billed for it and what counts as effective hours for assessment.

use crate::booking::TimeWindow;
use crate::policy::Policy;
use crate::validation::{Checks, Invalid};
use chrono::{DateTime, Utc};

/// The longest single use recorded at once: a day.
pub const MAX_USE_MINUTES: i64 = 24 * 60;

/// Who operated the instrument: the user in self-operated or remote use,
/// the staff member who ran it in assisted or sample work.
pub fn operator(mode: crate::catalogue::ServiceMode, user: crate::UserId, staff: crate::UserId) -> crate::UserId {
    use crate::catalogue::ServiceMode::*;
    match mode {
        SelfOperated | Remote => user,
        Assisted | Sample => staff,
    }
}

/// Minutes rounded up to the billing increment.
pub fn round_up(minutes: i64, increment: i64) -> i64 {
    if increment <= 0 || minutes <= 0 {
        return minutes.max(0);
    }
    minutes.div_euclid(increment) * increment + if minutes % increment == 0 { 0 } else { increment }
}

/// Billed minutes (DESIGN.md §3). With a booking: the booked time; when the
/// use ran past the booked end by more than the grace, the actual time
/// rounded up to the increment — never less than the booked time, since the
/// slot was held. A walk-in (no booking): the actual time rounded up.
pub fn billed_minutes(booked: Option<&TimeWindow>, actual: &TimeWindow, policy: &Policy) -> i64 {
    let actual_rounded = round_up(actual.minutes(), policy.billing_increment_minutes);
    match booked {
        None => actual_rounded,
        Some(b) => {
            let overrun = (actual.end - b.end).num_minutes();
            if overrun > policy.overrun_grace_minutes {
                actual_rounded.max(b.minutes())
            } else {
                b.minutes()
            }
        }
    }
}

/// Effective minutes (有效机时) for assessment: the actual time only.
pub fn effective_minutes(actual: &TimeWindow) -> i64 {
    actual.minutes()
}

/// Checks a use recorded by a manager without a booking (walk-in): it has
/// happened (ends no later than now), lasts at most a day, and overlaps no
/// other recorded use of the instrument.
///
/// # Errors
/// [`Invalid`] naming `ended_at` or `started_at`.
pub fn check_walk_in(actual: &TimeWindow, other_uses: &[TimeWindow], now: DateTime<Utc>) -> Result<(), Invalid> {
    let mut c = Checks::new();
    c.require(actual.end <= now, "ended_at", "not_in_future", || {
        "a use is recorded after it happened".into()
    });
    c.require(
        (1..=MAX_USE_MINUTES).contains(&actual.minutes()),
        "ended_at",
        "range",
        || "a single use lasts from one minute to 24 hours".into(),
    );
    c.require(
        !other_uses.iter().any(|o| o.overlaps(actual)),
        "started_at",
        "overlap",
        || "the instrument was in use by someone else then".into(),
    );
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, h, m, 0).single().unwrap_or_default()
    }

    fn w(a: (u32, u32), b: (u32, u32)) -> TimeWindow {
        TimeWindow::new(t(a.0, a.1), t(b.0, b.1)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn billed_time_is_the_booked_time_unless_the_use_overran_the_grace() {
        let p = Policy::default();
        let booked = w((9, 0), (11, 0));
        let cases = [
            (w((9, 0), (10, 0)), 120, "an early finish still pays the booked slot"),
            (w((9, 0), (11, 10)), 120, "ten minutes over is within the grace"),
            (
                w((9, 0), (11, 11)),
                150,
                "eleven minutes over bills the actual time rounded up",
            ),
            (w((9, 0), (11, 40)), 180, "forty minutes over rounds up to three hours"),
            (
                w((10, 50), (11, 20)),
                120,
                "a late start that overruns never bills less than the booking",
            ),
        ];
        for (actual, billed, why) in cases {
            assert_eq!(billed_minutes(Some(&booked), &actual, &p), billed, "{why}");
            assert_eq!(effective_minutes(&actual), actual.minutes(), "{why}");
        }
    }

    #[test]
    fn a_walk_in_bills_its_actual_time_rounded_up() {
        let p = Policy::default();
        assert_eq!(billed_minutes(None, &w((9, 0), (9, 1)), &p), 30);
        assert_eq!(billed_minutes(None, &w((9, 0), (9, 30)), &p), 30);
        assert_eq!(billed_minutes(None, &w((9, 0), (10, 31)), &p), 120);
    }

    #[test]
    fn a_walk_in_must_have_happened_and_not_overlap_other_use() {
        let now = t(12, 0);
        assert_eq!(check_walk_in(&w((9, 0), (10, 0)), &[w((10, 0), (11, 0))], now), Ok(()));
        let overlap = check_walk_in(&w((9, 0), (10, 30)), &[w((10, 0), (11, 0))], now);
        assert_eq!(overlap.err().map(|e| e.0[0].field.clone()), Some("started_at".into()));
        let future = check_walk_in(&w((11, 0), (13, 0)), &[], now);
        assert_eq!(future.err().map(|e| e.0[0].rule), Some("not_in_future"));
    }

    proptest! {
        #[test]
        fn billing_is_never_below_the_booking_and_grows_with_the_use(extra in 0i64..600, more in 0i64..120) {
            let p = Policy::default();
            let booked = w((9, 0), (11, 0));
            let a = TimeWindow::new(booked.start, booked.end + chrono::Duration::minutes(extra)).unwrap_or(booked);
            let b = TimeWindow::new(booked.start, a.end + chrono::Duration::minutes(more)).unwrap_or(a);
            let (ba, bb) = (billed_minutes(Some(&booked), &a, &p), billed_minutes(Some(&booked), &b, &p));
            prop_assert!(ba >= booked.minutes());
            prop_assert!(bb >= ba);
            prop_assert_eq!(ba % p.billing_increment_minutes, 0);
        }
    }
}
