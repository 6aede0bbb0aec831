//! Throttling of password guessing: too many failed sign-ins for one
//! account, or from one address, within a window make further attempts
//! wait, whether the password is right or not.

use chrono::{Duration, NaiveDateTime};

/// How many failures within how long are tolerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub window: Duration,
    /// Failures of one account (by username) within the window: 5.
    pub per_account: i64,
    /// Failures from one address within the window, any account: 20.
    pub per_address: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            window: Duration::minutes(15),
            per_account: 5,
            per_address: 20,
        }
    }
}

/// Failures counted within the window, with the oldest of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counted {
    pub by_account: i64,
    pub account_oldest: Option<NaiveDateTime>,
    pub by_address: i64,
    pub address_oldest: Option<NaiveDateTime>,
}

/// Whole seconds until a sign-in may be tried again, `None` when it may now:
/// when a limit is reached, until its oldest counted failure leaves the window.
pub fn wait(c: &Counted, limits: &Limits, now: NaiveDateTime) -> Option<i64> {
    // Rounded up: a client that waits exactly this long is let through.
    let until = |oldest: Option<NaiveDateTime>| {
        oldest.map(|t| {
            let ms = (t + limits.window - now).num_milliseconds();
            ((ms + 999) / 1000).max(1)
        })
    };
    let account = (c.by_account >= limits.per_account)
        .then(|| until(c.account_oldest))
        .flatten();
    let address = (c.by_address >= limits.per_address)
        .then(|| until(c.address_oldest))
        .flatten();
    account.max(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default()
    }

    #[test]
    fn five_failures_of_an_account_make_it_wait_until_the_first_ages_out() {
        let l = Limits::default();
        let four = Counted {
            by_account: 4,
            account_oldest: Some(at(0)),
            ..Counted::default()
        };
        assert_eq!(wait(&four, &l, at(3)), None);
        let five = Counted { by_account: 5, ..four };
        assert_eq!(wait(&five, &l, at(3)), Some(12 * 60));
        let just_after = at(3) + Duration::milliseconds(250);
        assert_eq!(
            wait(&five, &l, just_after),
            Some(12 * 60),
            "a part of a second counts as a second"
        );
    }

    #[test]
    fn an_address_trying_many_accounts_waits_too() {
        let l = Limits::default();
        let c = Counted {
            by_address: 20,
            address_oldest: Some(at(10)),
            ..Counted::default()
        };
        assert_eq!(wait(&c, &l, at(20)), Some(5 * 60));
        let both = Counted {
            by_account: 5,
            account_oldest: Some(at(14)),
            ..c
        };
        assert_eq!(wait(&both, &l, at(20)), Some(9 * 60), "the longer wait holds");
    }
}
