//! Calendar feeds (issue 3, item 9): which bookings and blackouts each feed
//! carries and how they read, before [`crate::ical::calendar`] renders them.
//!
//! An instrument's feed shows its busy time and nothing about people: a
//! booking reads "已预约 Booked", never who booked or why. A user's own feed,
//! reached through a secret URL, shows that user's bookings with the
//! instrument and the purpose.

use crate::booking::{BlackoutKind, BookingStatus, TimeWindow};
use crate::ical::{Event, EventStatus};
use chrono::{DateTime, TimeDelta, Utc};

/// An instrument feed without `from` starts this many days before now.
pub const DEFAULT_PAST_DAYS: i64 = 7;
/// An instrument feed without `to` ends this many days after now.
pub const DEFAULT_FUTURE_DAYS: i64 = 60;
/// The longest range one instrument feed may cover.
pub const MAX_RANGE_DAYS: i64 = 120;
/// A user's own feed holds the bookings ending at most this many days ago
/// (and every later one), so that it stays small for long-time users.
pub const PERSONAL_PAST_DAYS: i64 = 180;

/// The summary of a booking in an instrument's feed: that the time is taken, not by whom.
pub const BOOKED_SUMMARY: &str = "已预约 Booked";

/// Why a requested feed range is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("`to` must be after `from`")]
    Empty,
    #[error("the range may cover at most {max_days} days")]
    TooLong { max_days: i64 },
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::try_days(n).unwrap_or(TimeDelta::MAX)
}

/// The range of an instrument feed: as asked, or by default from
/// [`DEFAULT_PAST_DAYS`] before now to [`DEFAULT_FUTURE_DAYS`] after it.
/// When only one end is given, the other keeps the default length
/// (67 days) from it.
///
/// # Errors
/// [`RangeError::Empty`] when `to` is not after `from`;
/// [`RangeError::TooLong`] beyond [`MAX_RANGE_DAYS`].
pub fn feed_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<TimeWindow, RangeError> {
    let span = days(DEFAULT_PAST_DAYS + DEFAULT_FUTURE_DAYS);
    let later = |t: DateTime<Utc>| t.checked_add_signed(span).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let earlier = |t: DateTime<Utc>| t.checked_sub_signed(span).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let (start, end) = match (from, to) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, later(f)),
        (None, Some(t)) => (earlier(t), t),
        (None, None) => (
            now.checked_sub_signed(days(DEFAULT_PAST_DAYS)).unwrap_or(now),
            now.checked_add_signed(days(DEFAULT_FUTURE_DAYS)).unwrap_or(now),
        ),
    };
    if end <= start {
        return Err(RangeError::Empty);
    }
    if end.signed_duration_since(start) > days(MAX_RANGE_DAYS) {
        return Err(RangeError::TooLong {
            max_days: MAX_RANGE_DAYS,
        });
    }
    TimeWindow::new(start, end).map_err(|_| RangeError::Empty)
}

/// Whether a booking in this state shows as busy time in its instrument's
/// feed: while it holds the slot, and once used (so that past busy time
/// does not vanish from subscribers' calendars at check-out).
pub fn shows_as_busy(status: BookingStatus) -> bool {
    status.blocks_slot() || status == BookingStatus::Completed
}

/// The booking states an instrument's feed shows.
pub fn busy_statuses() -> Vec<BookingStatus> {
    <BookingStatus as crate::text_enum::TextEnum>::ALL
        .iter()
        .copied()
        .filter(|s| shows_as_busy(*s))
        .collect()
}

/// How a booking appears in its booker's own feed: a pending one is
/// tentative, a cancelled one stays as cancelled (so that subscribed
/// clients drop it), a refused or lapsed request is left out, and any
/// other is confirmed.
pub fn personal_status(status: BookingStatus) -> Option<EventStatus> {
    match status {
        BookingStatus::Pending => Some(EventStatus::Tentative),
        BookingStatus::Cancelled => Some(EventStatus::Cancelled),
        BookingStatus::Rejected | BookingStatus::Expired => None,
        BookingStatus::Approved | BookingStatus::InUse | BookingStatus::Completed | BookingStatus::NoShow => {
            Some(EventStatus::Confirmed)
        }
    }
}

/// A booking as an instrument's feed knows it: when, and nothing of who or why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyBooking {
    pub id: i64,
    pub status: BookingStatus,
    pub window: TimeWindow,
}

/// A live blackout of an instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyBlackout {
    pub id: i64,
    pub kind: BlackoutKind,
    pub reason: String,
    pub window: TimeWindow,
}

/// How a blackout reads: its kind in Chinese and English, then its reason.
pub fn blackout_summary(kind: BlackoutKind, reason: &str) -> String {
    let name = match kind {
        BlackoutKind::Maintenance => "维护 Maintenance",
        BlackoutKind::Calibration => "校准 Calibration",
        BlackoutKind::Repair => "维修 Repair",
    };
    format!("停用 {name}: {reason}")
}

/// The title of an instrument's feed.
pub fn instrument_calendar_name(instrument_name: &str) -> String {
    format!("{instrument_name} 占用时间 Busy time")
}

/// The title of a user's own feed.
pub const PERSONAL_CALENDAR_NAME: &str = "LabShare 我的预约 My bookings";

/// The events of an instrument's feed, in time order: one per booking that
/// shows as busy (pending ones tentative) and one per blackout.
pub fn instrument_events(bookings: &[BusyBooking], blackouts: &[BusyBlackout], stamp: DateTime<Utc>) -> Vec<Event> {
    let mut events: Vec<Event> = bookings
        .iter()
        .filter(|b| shows_as_busy(b.status))
        .map(|b| Event {
            uid: format!("busy-booking-{}@labshare", b.id),
            start: b.window.start,
            end: b.window.end,
            summary: BOOKED_SUMMARY.into(),
            description: None,
            status: Some(if b.status == BookingStatus::Pending {
                EventStatus::Tentative
            } else {
                EventStatus::Confirmed
            }),
            stamp,
        })
        .chain(blackouts.iter().map(|b| Event {
            uid: format!("blackout-{}@labshare", b.id),
            start: b.window.start,
            end: b.window.end,
            summary: blackout_summary(b.kind, &b.reason),
            description: None,
            status: Some(EventStatus::Confirmed),
            stamp,
        }))
        .collect();
    events.sort_by(|a, b| (a.start, a.end, &a.uid).cmp(&(b.start, b.end, &b.uid)));
    events
}

/// A booking of the feed's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnBooking {
    pub id: i64,
    pub status: BookingStatus,
    pub window: TimeWindow,
    pub instrument_name: String,
    pub purpose: String,
}

/// The events of a user's own feed, in time order: the instrument as
/// summary, the purpose as description, the status per [`personal_status`].
pub fn personal_events(bookings: &[OwnBooking], stamp: DateTime<Utc>) -> Vec<Event> {
    let mut events: Vec<Event> = bookings
        .iter()
        .filter_map(|b| {
            personal_status(b.status).map(|status| Event {
                uid: format!("booking-{}@labshare", b.id),
                start: b.window.start,
                end: b.window.end,
                summary: b.instrument_name.clone(),
                description: Some(b.purpose.clone()),
                status: Some(status),
                stamp,
            })
        })
        .collect();
    events.sort_by(|a, b| (a.start, a.end, &a.uid).cmp(&(b.start, b.end, &b.uid)));
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_enum::TextEnum;
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("2026-12-{d} {h}:00 is a time"))
    }

    fn window(d: u32, h0: u32, h1: u32) -> TimeWindow {
        TimeWindow::new(at(d, h0), at(d, h1)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_feed_range_defaults_to_a_week_back_and_two_months_ahead() {
        let now = at(10, 12);
        let span = days(67);
        type Case = (
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Result<(DateTime<Utc>, DateTime<Utc>), RangeError>,
        );
        let table: Vec<Case> = vec![
            (None, None, Ok((now - days(7), now + days(60)))),
            (Some(at(1, 0)), None, Ok((at(1, 0), at(1, 0) + span))),
            (None, Some(at(20, 0)), Ok((at(20, 0) - span, at(20, 0)))),
            (Some(at(1, 0)), Some(at(2, 0)), Ok((at(1, 0), at(2, 0)))),
            (
                Some(at(1, 0)),
                Some(at(1, 0) + days(120)),
                Ok((at(1, 0), at(1, 0) + days(120))),
            ),
            (
                Some(at(1, 0)),
                Some(at(1, 0) + days(120) + TimeDelta::seconds(1)),
                Err(RangeError::TooLong { max_days: 120 }),
            ),
            (Some(at(2, 0)), Some(at(2, 0)), Err(RangeError::Empty)),
            (Some(at(3, 0)), Some(at(2, 0)), Err(RangeError::Empty)),
            (Some(DateTime::<Utc>::MAX_UTC), None, Err(RangeError::Empty)),
        ];
        for (from, to, expected) in table {
            let got = feed_range(from, to, now).map(|w| (w.start, w.end));
            assert_eq!(got, expected, "{from:?} .. {to:?}");
        }
    }

    #[test]
    fn an_instrument_feed_shows_held_and_used_slots_only() {
        let busy: Vec<&str> = busy_statuses().iter().map(|s| s.as_str()).collect();
        assert_eq!(busy, ["pending", "approved", "in_use", "completed"]);
    }

    #[test]
    fn each_booking_state_has_its_place_in_the_personal_feed() {
        use BookingStatus as S;
        let table = [
            (S::Pending, Some(EventStatus::Tentative)),
            (S::Approved, Some(EventStatus::Confirmed)),
            (S::InUse, Some(EventStatus::Confirmed)),
            (S::Completed, Some(EventStatus::Confirmed)),
            (S::NoShow, Some(EventStatus::Confirmed)),
            (S::Cancelled, Some(EventStatus::Cancelled)),
            (S::Rejected, None),
            (S::Expired, None),
        ];
        assert_eq!(table.len(), S::ALL.len());
        for (status, expected) in table {
            assert_eq!(personal_status(status), expected, "{status}");
        }
    }

    #[test]
    fn an_instrument_feed_tells_nothing_of_who_booked_or_why() {
        let bookings = [
            BusyBooking {
                id: 2,
                status: BookingStatus::Approved,
                window: window(3, 9, 11),
            },
            BusyBooking {
                id: 1,
                status: BookingStatus::Pending,
                window: window(2, 9, 10),
            },
            BusyBooking {
                id: 3,
                status: BookingStatus::Cancelled,
                window: window(2, 14, 15),
            },
        ];
        let blackouts = [BusyBlackout {
            id: 7,
            kind: BlackoutKind::Calibration,
            reason: "年度计量校准".into(),
            window: window(2, 12, 13),
        }];
        let events = instrument_events(&bookings, &blackouts, at(1, 0));
        let seen: Vec<(&str, &str, Option<EventStatus>, Option<&String>)> = events
            .iter()
            .map(|e| (e.uid.as_str(), e.summary.as_str(), e.status, e.description.as_ref()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "busy-booking-1@labshare",
                    "已预约 Booked",
                    Some(EventStatus::Tentative),
                    None
                ),
                (
                    "blackout-7@labshare",
                    "停用 校准 Calibration: 年度计量校准",
                    Some(EventStatus::Confirmed),
                    None
                ),
                (
                    "busy-booking-2@labshare",
                    "已预约 Booked",
                    Some(EventStatus::Confirmed),
                    None
                ),
            ]
        );
        assert_eq!((events[0].start, events[0].end), (at(2, 9), at(2, 10)));
    }

    #[test]
    fn a_personal_feed_names_the_instrument_and_the_purpose() {
        let own = |id: i64, status: BookingStatus, d: u32| OwnBooking {
            id,
            status,
            window: window(d, 9, 10),
            instrument_name: "流式细胞仪".into(),
            purpose: "淋巴细胞亚群检测".into(),
        };
        let bookings = [
            own(5, BookingStatus::Cancelled, 4),
            own(4, BookingStatus::Rejected, 3),
            own(3, BookingStatus::Approved, 2),
            own(2, BookingStatus::Expired, 1),
        ];
        let events = personal_events(&bookings, at(1, 0));
        let seen: Vec<(&str, Option<EventStatus>)> = events.iter().map(|e| (e.uid.as_str(), e.status)).collect();
        assert_eq!(
            seen,
            [
                ("booking-3@labshare", Some(EventStatus::Confirmed)),
                ("booking-5@labshare", Some(EventStatus::Cancelled)),
            ]
        );
        assert!(events
            .iter()
            .all(|e| e.summary == "流式细胞仪" && e.description.as_deref() == Some("淋巴细胞亚群检测")));
    }
}
