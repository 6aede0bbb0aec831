//! Booking and use (chapter 3, use side): whether a booking request is
//! accepted, how a booking moves from `pending` to `completed`, when a user
//! is suspended for no-shows, and which times of an instrument are free.
//!
//! Instants are UTC; opening hours and slot boundaries are local time, so
//! every function that needs them takes the platform's fixed offset
//! ([`Policy::local_offset`]). Nothing here reads the clock: `now` is an
//! argument.

use crate::catalogue::{BiosafetyLevel, Instrument, InstrumentStatus, ServiceMode, SharingScope};
use crate::ids::InstitutionId;
use crate::listing::ListingStatus;
use crate::policy::Policy;
use crate::text_enum;
use crate::validation::{Checks, Invalid, Violation};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc, Weekday};

text_enum!(
    /// Where a booking stands (预约状态).
    pub enum BookingStatus {
        /// Waiting for a manager's decision.
        Pending = "pending",
        /// Confirmed; the slot is the user's.
        Approved = "approved",
        /// Checked in: the instrument is being used.
        InUse = "in_use",
        /// Checked out; a usage record was written.
        Completed = "completed",
        /// Refused by a manager, with a reason.
        Rejected = "rejected",
        /// Withdrawn before use.
        Cancelled = "cancelled",
        /// Not checked in in time.
        NoShow = "no_show",
        /// Still pending when its start came.
        Expired = "expired",
    }
);

impl BookingStatus {
    /// Whether a booking in this state holds its slot, so that no other
    /// booking of the instrument may overlap it (the database enforces the
    /// same set of states).
    pub fn blocks_slot(self) -> bool {
        matches!(self, Self::Pending | Self::Approved | Self::InUse)
    }
}

text_enum!(
    /// Why an instrument is taken out of booking for a while (停机).
    pub enum BlackoutKind {
        Maintenance = "maintenance",
        Calibration = "calibration",
        Repair = "repair",
    }
);

/// Whether an instant lies in the years both databases store and order
/// correctly (2000–9999); anything else is a client's mistake.
pub fn plausible_instant(t: DateTime<Utc>) -> bool {
    (2000..=9999).contains(&chrono::Datelike::year(&t))
}

/// A half-open UTC interval [start, end).
///
/// Half-open so that back-to-back bookings (09:00–10:00, 10:00–11:00) do
/// not overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    /// # Errors
    /// [`BookingError::InvalidWindow`] when `end` is not after `start`, or
    /// either lies outside the years 2000–9999.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, BookingError> {
        if end <= start || !plausible_instant(start) || !plausible_instant(end) {
            return Err(BookingError::InvalidWindow);
        }
        Ok(Self { start, end })
    }

    /// Whether the two windows share an instant; an empty window overlaps nothing.
    pub fn overlaps(&self, other: &TimeWindow) -> bool {
        self.start < self.end && other.start < other.end && self.start < other.end && other.start < self.end
    }

    /// The length in whole minutes.
    pub fn minutes(&self) -> i64 {
        self.end.signed_duration_since(self.start).num_minutes()
    }

    /// The part of the window inside `range`, if any.
    fn clipped(&self, range: &TimeWindow) -> Option<TimeWindow> {
        let start = self.start.max(range.start);
        let end = self.end.min(range.end);
        (start < end).then_some(TimeWindow { start, end })
    }
}

/// `t` moved by `minutes`, saturating at the ends of representable time
/// (policy numbers come from an administrator and must not panic).
fn shift(t: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    TimeDelta::try_minutes(minutes)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(if minutes < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// Sorts windows and joins those that overlap or touch.
fn merge(mut windows: Vec<TimeWindow>) -> Vec<TimeWindow> {
    windows.retain(|w| w.start < w.end);
    windows.sort();
    let mut merged: Vec<TimeWindow> = Vec::with_capacity(windows.len());
    for w in windows {
        match merged.last_mut() {
            Some(last) if w.start <= last.end => last.end = last.end.max(w.end),
            _ => merged.push(w),
        }
    }
    merged
}

/// Whether any window of `sorted` (merged: sorted and disjoint) overlaps `w`.
fn any_overlap(sorted: &[TimeWindow], w: &TimeWindow) -> bool {
    let i = sorted.partition_point(|s| s.end <= w.start);
    sorted.get(i).is_some_and(|s| s.overlaps(w))
}

const MINUTES_PER_DAY: u16 = 24 * 60;

/// One opening interval of a weekday, local time, minutes after local
/// midnight: opens in 0..1440, closes in 1..=1440, opens < closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct OpeningInterval {
    pub weekday: Weekday,
    pub opens_minute: u16,
    pub closes_minute: u16,
}

/// Weekly opening hours (开放时间) of an instrument; empty means closed always.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct OpeningHours {
    pub intervals: Vec<OpeningInterval>,
}

impl OpeningHours {
    /// Checks each interval and that no two intervals of a weekday overlap
    /// (touching intervals are fine: they join).
    ///
    /// # Errors
    /// [`Invalid`] with fields `intervals/{i}/opens_minute` and
    /// `intervals/{i}/closes_minute` (rules `range`, `order`) and
    /// `intervals/{i}` (rule `overlap`).
    pub fn check(&self) -> Result<(), Invalid> {
        let mut c = Checks::new();
        for (i, iv) in self.intervals.iter().enumerate() {
            c.require(
                iv.opens_minute < MINUTES_PER_DAY,
                &format!("intervals/{i}/opens_minute"),
                "range",
                || "must be between 0 and 1439 minutes after midnight".into(),
            );
            let closes_field = format!("intervals/{i}/closes_minute");
            c.require(
                (1..=MINUTES_PER_DAY).contains(&iv.closes_minute),
                &closes_field,
                "range",
                || "must be between 1 and 1440 minutes after midnight".into(),
            );
            c.require(iv.opens_minute < iv.closes_minute, &closes_field, "order", || {
                "must be after opens_minute".into()
            });
            let earlier = self.intervals.iter().take(i).position(|other| {
                other.weekday == iv.weekday
                    && other.opens_minute < iv.closes_minute
                    && iv.opens_minute < other.closes_minute
            });
            if let Some(j) = earlier {
                c.push(Violation::new(
                    format!("intervals/{i}"),
                    "overlap",
                    format!("overlaps intervals/{j} on {}", iv.weekday),
                ));
            }
        }
        c.finish()
    }

    /// Whether the whole window lies in opening time. Adjacent intervals
    /// join, also across midnight (Mon 00:00–24:00 and Tue 00:00–24:00
    /// cover Mon 22:00 – Tue 02:00).
    pub fn covers(&self, window: &TimeWindow, offset: FixedOffset) -> bool {
        window.start < window.end && self.open_windows(window, offset) == [*window]
    }

    /// The open intervals within `range`, in UTC, merged where they touch
    /// and clipped to `range`, sorted: the free time before bookings and
    /// blackouts are taken out.
    pub fn open_windows(&self, range: &TimeWindow, offset: FixedOffset) -> Vec<TimeWindow> {
        if range.start >= range.end {
            return Vec::new();
        }
        let first_day = range.start.with_timezone(&offset).date_naive();
        let last_day = range.end.with_timezone(&offset).date_naive();
        let mut windows = Vec::new();
        let mut day = first_day;
        loop {
            for iv in self.intervals.iter().filter(|iv| iv.weekday == day.weekday()) {
                let opens = iv.opens_minute.min(MINUTES_PER_DAY);
                let closes = iv.closes_minute.min(MINUTES_PER_DAY);
                if opens >= closes {
                    continue;
                }
                let (Some(start), Some(end)) = (local_to_utc(day, opens, offset), local_to_utc(day, closes, offset))
                else {
                    continue;
                };
                if let Some(w) = (TimeWindow { start, end }).clipped(range) {
                    windows.push(w);
                }
            }
            match day.succ_opt() {
                Some(next) if day < last_day => day = next,
                _ => break,
            }
        }
        merge(windows)
    }
}

/// The UTC instant of `minute` minutes after local midnight of `day`.
fn local_to_utc(day: NaiveDate, minute: u16, offset: FixedOffset) -> Option<DateTime<Utc>> {
    day.and_time(NaiveTime::MIN)
        .checked_add_signed(TimeDelta::minutes(i64::from(minute)))?
        .checked_sub_signed(TimeDelta::seconds(i64::from(offset.local_minus_utc())))
        .map(|n| n.and_utc())
}

/// Per-instrument booking settings, set by its unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRules {
    /// Bookings start and end on multiples of this, counted from local midnight.
    pub slot_minutes: i64,
    pub min_minutes: i64,
    pub max_minutes: i64,
    /// The instrument's own lead time; `None` uses the policy's.
    pub lead_minutes: Option<i64>,
    /// How far ahead a booking may start.
    pub horizon_days: i64,
    /// Qualified users' bookings are approved without a manager.
    pub auto_approve: bool,
}

impl Default for BookingRules {
    /// The measures' defaults: 30-minute slots, 30 minutes to 4 hours, the
    /// policy's lead time, 30 days ahead, approval by a manager.
    fn default() -> Self {
        Self {
            slot_minutes: 30,
            min_minutes: 30,
            max_minutes: 240,
            lead_minutes: None,
            horizon_days: 30,
            auto_approve: false,
        }
    }
}

impl BookingRules {
    /// Checks the settings fit together, so that every check of a booking is
    /// meaningful (a slot that does not divide the day would drift).
    ///
    /// # Errors
    /// [`Invalid`] on `slot_minutes` (5..=240, divides 1440), `min_minutes`
    /// and `max_minutes` (positive multiples of the slot, min ≤ max ≤ 1440),
    /// `lead_minutes` (0 to 30 days) and `horizon_days` (1..=365).
    pub fn check(&self) -> Result<(), Invalid> {
        let mut c = Checks::new();
        let slot = self.slot_minutes;
        let slot_in_range = (5..=240).contains(&slot);
        c.require(slot_in_range, "slot_minutes", "range", || {
            "must be between 5 and 240 minutes".into()
        });
        if slot_in_range {
            let divides_day = 1440 % slot == 0;
            c.require(divides_day, "slot_minutes", "divides_day", || {
                "must divide a day (1440 minutes) evenly".into()
            });
            if divides_day {
                for (field, value) in [("min_minutes", self.min_minutes), ("max_minutes", self.max_minutes)] {
                    c.require(value > 0 && value % slot == 0, field, "multiple", || {
                        format!("must be a positive multiple of slot_minutes ({slot})")
                    });
                }
            }
        }
        c.require(self.max_minutes <= 24 * 60, "max_minutes", "range", || {
            "must be at most 1440 minutes (a day)".into()
        });
        c.require(self.min_minutes <= self.max_minutes, "max_minutes", "order", || {
            "must not be less than min_minutes".into()
        });
        if let Some(lead) = self.lead_minutes {
            c.require((0..=30 * 24 * 60).contains(&lead), "lead_minutes", "range", || {
                "must be between 0 and 43200 minutes (30 days)".into()
            });
        }
        c.require((1..=365).contains(&self.horizon_days), "horizon_days", "range", || {
            "must be between 1 and 365 days".into()
        });
        c.finish()
    }
}

/// Everything [`check_booking`] needs, loaded by the caller.
#[derive(Debug, Clone, Copy)]
pub struct BookingContext<'a> {
    /// Its listing status, operating status, sharing scope and service modes decide bookability.
    pub instrument: &'a Instrument,
    pub rules: &'a BookingRules,
    pub opening: &'a OpeningHours,
    pub lab_biosafety: BiosafetyLevel,
    /// Approved blackouts of the instrument that overlap the window.
    pub blackouts: &'a [TimeWindow],
    /// Bookings of the instrument that block slots (blocks_slot()) and overlap the window.
    pub existing: &'a [TimeWindow],
    /// The user holds an unexpired, unrevoked qualification on this instrument at the window's start.
    pub qualified: bool,
    /// The highest unexpired biosafety qualification level of the user, if any.
    pub biosafety: Option<BiosafetyLevel>,
    /// Times of the user's no-shows (any instrument).
    pub no_shows: &'a [DateTime<Utc>],
}

/// A user's request for a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRequest {
    pub user_institution: InstitutionId,
    /// Whether the user's institution is a member unit (admits `system` scope).
    pub user_member: bool,
    pub mode: ServiceMode,
    pub window: TimeWindow,
    pub purpose: String,
}

/// A request that passed every rule, with the state it starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedBooking {
    /// `approved` when the instrument approves automatically, else `pending`.
    pub status: BookingStatus,
}

/// Why a booking request is refused; one variant per rule of DESIGN.md §3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    #[error("the instrument cannot be booked: it is not listed or not in service")]
    NotBookable,
    #[error("the instrument is not shared with the user's institution")]
    NotShared,
    #[error("the instrument does not offer this service mode for booking (samples go through service orders)")]
    ModeNotOffered,
    #[error("the end must be after the start, both between the years 2000 and 9999")]
    InvalidWindow,
    #[error("a purpose of 1 to 500 characters is required, without personal identity numbers")]
    PurposeRequired,
    #[error("start and end must fall on {slot_minutes}-minute slot boundaries of local time")]
    Misaligned { slot_minutes: i64 },
    #[error("a booking must last at least {min_minutes} minutes")]
    TooShort { min_minutes: i64 },
    #[error("a booking may last at most {max_minutes} minutes")]
    TooLong { max_minutes: i64 },
    #[error("a booking must start at least {lead_minutes} minutes ahead")]
    TooEarly { lead_minutes: i64 },
    #[error("a booking may start at most {horizon_days} days ahead")]
    TooLate { horizon_days: i64 },
    #[error("the window is outside the instrument's opening hours")]
    OutsideOpeningHours,
    #[error("the instrument is out of service (maintenance, calibration or repair) during the window")]
    Blackout,
    #[error("the window overlaps another booking of the instrument")]
    Overlap,
    #[error("self-operated use needs a valid qualification on this instrument")]
    NotQualified,
    #[error("the lab is {required}: a biosafety qualification of at least that level is required")]
    Biosafety { required: BiosafetyLevel },
    #[error("booking is suspended until {until} after repeated no-shows")]
    Suspended { until: DateTime<Utc> },
}

/// Whether a sharing scope admits a user of `user_institution` to an
/// instrument owned by `owner`. Scope `none` admits nobody, not even the owner:
/// an unshared instrument is not booked through the platform.
fn shares_with(scope: SharingScope, owner: InstitutionId, user_institution: InstitutionId, member: bool) -> bool {
    match scope {
        SharingScope::None => false,
        SharingScope::Internal => user_institution == owner,
        SharingScope::System => member || user_institution == owner,
        SharingScope::Public => true,
    }
}

/// Whether `t` falls on a slot boundary counted from local midnight; a slot
/// that is not positive aligns nothing.
fn on_slot(t: DateTime<Utc>, slot_minutes: i64, offset: FixedOffset) -> bool {
    let local = t.with_timezone(&offset);
    let seconds = i64::from(local.num_seconds_from_midnight());
    local.nanosecond() == 0
        && slot_minutes
            .checked_mul(60)
            .filter(|slot| *slot > 0)
            .is_some_and(|slot| seconds % slot == 0)
}

/// Decides a booking request against the rules of DESIGN.md §3. The rules
/// are checked in a fixed order and the first one broken is reported:
/// NotBookable, NotShared, ModeNotOffered, InvalidWindow, PurposeRequired,
/// Suspended, Misaligned, TooShort, TooLong, TooEarly, TooLate,
/// OutsideOpeningHours, Blackout, NotQualified, Biosafety, Overlap.
///
/// The overlap check here reads what the caller loaded; the database
/// guarantees it under concurrent requests.
///
/// # Errors
/// The [`BookingError`] of the first rule the request breaks.
pub fn check_booking(
    req: &BookingRequest,
    ctx: &BookingContext<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<AcceptedBooking, BookingError> {
    let instrument = ctx.instrument;
    let data = &instrument.data;
    if instrument.listing_status != ListingStatus::Approved
        || !matches!(data.status, InstrumentStatus::Normal | InstrumentStatus::Standby)
    {
        return Err(BookingError::NotBookable);
    }
    if !shares_with(
        data.sharing_scope,
        instrument.institution_id,
        req.user_institution,
        req.user_member,
    ) {
        return Err(BookingError::NotShared);
    }
    if req.mode == ServiceMode::Sample || !data.service_modes.contains(&req.mode) {
        return Err(BookingError::ModeNotOffered);
    }
    let window = req.window;
    if window.end <= window.start {
        return Err(BookingError::InvalidWindow);
    }
    if req.purpose.trim().is_empty()
        || req.purpose.chars().count() > 500
        || crate::service::contains_resident_id(&req.purpose)
    {
        return Err(BookingError::PurposeRequired);
    }
    if let Some(until) = suspended_until(ctx.no_shows, policy, now) {
        return Err(BookingError::Suspended { until });
    }
    let rules = ctx.rules;
    let offset = policy.local_offset();
    if !(on_slot(window.start, rules.slot_minutes, offset) && on_slot(window.end, rules.slot_minutes, offset)) {
        return Err(BookingError::Misaligned {
            slot_minutes: rules.slot_minutes,
        });
    }
    let minutes = window.minutes();
    if minutes < rules.min_minutes {
        return Err(BookingError::TooShort {
            min_minutes: rules.min_minutes,
        });
    }
    if minutes > rules.max_minutes {
        return Err(BookingError::TooLong {
            max_minutes: rules.max_minutes,
        });
    }
    let lead_minutes = rules.lead_minutes.unwrap_or(policy.booking_lead_minutes);
    if window.start < shift(now, lead_minutes) {
        return Err(BookingError::TooEarly { lead_minutes });
    }
    if window.start > shift(now, rules.horizon_days.saturating_mul(24 * 60)) {
        return Err(BookingError::TooLate {
            horizon_days: rules.horizon_days,
        });
    }
    if !ctx.opening.covers(&window, offset) {
        return Err(BookingError::OutsideOpeningHours);
    }
    if ctx.blackouts.iter().any(|b| b.overlaps(&window)) {
        return Err(BookingError::Blackout);
    }
    if req.mode == ServiceMode::SelfOperated && !ctx.qualified {
        return Err(BookingError::NotQualified);
    }
    let lab = ctx.lab_biosafety;
    if matches!(lab, BiosafetyLevel::Bsl2 | BiosafetyLevel::Bsl3) && ctx.biosafety.is_none_or(|level| level < lab) {
        return Err(BookingError::Biosafety { required: lab });
    }
    if ctx.existing.iter().any(|e| e.overlaps(&window)) {
        return Err(BookingError::Overlap);
    }
    // Approval is automatic where the instrument says so and the user is
    // qualified on it (DESIGN.md §3); anyone else waits for a manager.
    let status = if rules.auto_approve && ctx.qualified {
        BookingStatus::Approved
    } else {
        BookingStatus::Pending
    };
    Ok(AcceptedBooking { status })
}

/// The end of the no-show suspension in force at `now`, if any:
/// `no_show_limit` no-shows (3) within `no_show_window_days` (90, the
/// earliest less than 90 days before the last) suspend booking for
/// `suspension_days` (30) from the last of them. Each no-show counts
/// towards one suspension only, so a suspension served is not extended by
/// the no-shows that caused it. No-shows after `now` are ignored, and a
/// limit of 0 turns suspension off.
pub fn suspended_until(no_shows: &[DateTime<Utc>], policy: &Policy, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if policy.no_show_limit == 0 {
        return None;
    }
    let mut past: Vec<DateTime<Utc>> = no_shows.iter().copied().filter(|t| *t <= now).collect();
    past.sort();
    let window = TimeDelta::try_days(policy.no_show_window_days).unwrap_or(TimeDelta::MAX);
    let mut counted: Vec<DateTime<Utc>> = Vec::new();
    let mut until = None;
    for t in past {
        counted.retain(|earlier| t.signed_duration_since(*earlier) < window);
        counted.push(t);
        if counted.len() >= policy.no_show_limit {
            counted.clear();
            let end = shift(t, policy.suspension_days.saturating_mul(24 * 60));
            if now < end {
                until = Some(end);
            }
        }
    }
    until
}

/// A step in the life of a booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingAction {
    /// A manager confirms a pending booking.
    Approve,
    /// A manager refuses a pending booking; the reason is shown to the user.
    Reject {
        reason: String,
    },
    /// The user (or a manager) withdraws a booking not yet in use.
    Cancel,
    CheckIn,
    /// Ends use; the caller writes the usage record.
    CheckOut,
    MarkNoShow,
    /// A pending booking whose start has come.
    Expire,
}

impl BookingAction {
    fn name(&self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject { .. } => "reject",
            Self::Cancel => "cancel",
            Self::CheckIn => "check_in",
            Self::CheckOut => "check_out",
            Self::MarkNoShow => "mark_no_show",
            Self::Expire => "expire",
        }
    }
}

/// Why a step of a booking is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {action} a booking that is {from}")]
    InvalidTransition { from: BookingStatus, action: &'static str },
    #[error("a rejection needs a reason of 1 to 500 characters")]
    ReasonRequired,
    #[error("check-in is open from {opens_at} until the no-show cut-off after the start")]
    CheckInNotOpen { opens_at: DateTime<Utc> },
    #[error("a booking can be marked as a no-show from {at}")]
    TooEarlyForNoShow { at: DateTime<Utc> },
    #[error("a pending booking expires only once its start has come")]
    NotStartedYet,
    /// Approving or cancelling is possible only before the start.
    #[error("the booking has started; it can no longer be approved or cancelled")]
    AlreadyStarted,
}

/// The state machine of DESIGN.md §3: Approve and Reject (with a reason of
/// 1 to 500 characters, not blank) from `pending`; Cancel from `pending` or
/// `approved` before the start; CheckIn from `approved` from
/// `check_in_opens_minutes` before the start until the no-show cut-off; CheckOut from `in_use`; MarkNoShow from
/// `approved` from `no_show_after_minutes` after the start; Expire from
/// `pending` once the start has come.
///
/// # Errors
/// [`TransitionError`] when the step is not allowed from `from` or not at `now`.
pub fn transition(
    from: BookingStatus,
    action: &BookingAction,
    window: &TimeWindow,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<BookingStatus, TransitionError> {
    use BookingStatus::*;
    let require = |allowed: bool| {
        if allowed {
            Ok(())
        } else {
            Err(TransitionError::InvalidTransition {
                from,
                action: action.name(),
            })
        }
    };
    match action {
        BookingAction::Approve => {
            require(from == Pending)?;
            // A request nobody approved before its start expires instead.
            if now >= window.start {
                return Err(TransitionError::AlreadyStarted);
            }
            Ok(Approved)
        }
        BookingAction::Reject { reason } => {
            require(from == Pending)?;
            if reason.trim().is_empty() || reason.chars().count() > 500 {
                return Err(TransitionError::ReasonRequired);
            }
            Ok(Rejected)
        }
        BookingAction::Cancel => {
            require(matches!(from, Pending | Approved))?;
            // Once started, a booking is used or becomes a no-show: it can no longer be cancelled.
            if now >= window.start {
                return Err(TransitionError::AlreadyStarted);
            }
            Ok(Cancelled)
        }
        BookingAction::CheckIn => {
            require(from == Approved)?;
            let opens_at = shift(window.start, policy.check_in_opens_minutes.saturating_neg());
            // Check-in closes when the booking would become a no-show.
            let closes_at = shift(window.start, policy.no_show_after_minutes).min(window.end);
            if now < opens_at || now >= closes_at {
                return Err(TransitionError::CheckInNotOpen { opens_at });
            }
            Ok(InUse)
        }
        BookingAction::CheckOut => {
            require(from == InUse)?;
            Ok(Completed)
        }
        BookingAction::MarkNoShow => {
            require(from == Approved)?;
            let at = shift(window.start, policy.no_show_after_minutes);
            if now < at {
                return Err(TransitionError::TooEarlyForNoShow { at });
            }
            Ok(NoShow)
        }
        BookingAction::Expire => {
            require(from == Pending)?;
            if now < window.start {
                return Err(TransitionError::NotStartedYet);
            }
            Ok(Expired)
        }
    }
}

/// A cancellation is late (and costs the booked fee) when made less than
/// `free_cancellation_hours` before the start; exactly that far ahead is free.
pub fn is_late_cancellation(window: &TimeWindow, policy: &Policy, now: DateTime<Utc>) -> bool {
    now > shift(
        window.start,
        policy.free_cancellation_hours.saturating_mul(60).saturating_neg(),
    )
}

/// Whether a cancellation costs the booked fee: only the booker's own late
/// cancellation of a confirmed (approved) booking does; a manager cancelling
/// (a fault, a blackout) or withdrawing a request never approved is free.
pub fn cancellation_costs_fee(
    by_booker: bool,
    status: BookingStatus,
    window: &TimeWindow,
    policy: &Policy,
    now: DateTime<Utc>,
) -> bool {
    by_booker && status == BookingStatus::Approved && is_late_cancellation(window, policy, now)
}

text_enum!(
    /// What a stretch of an instrument's calendar is, for availability.
    pub enum Availability {
        /// Open and not taken: bookable, rules permitting.
        Free = "free",
        /// Outside opening hours.
        Closed = "closed",
        /// Out of service for maintenance, calibration or repair.
        Blackout = "blackout",
        /// Held by a booking.
        Booked = "booked",
    }
);

/// The calendar of an instrument over `range`: consecutive, non-overlapping
/// segments covering it exactly, each free or why not (when several reasons
/// apply, Blackout before Booked before Closed, so a booking outside
/// opening hours still shows). Neighbouring segments of the same kind are
/// merged. An empty range has no segments.
pub fn availability(
    range: &TimeWindow,
    opening: &OpeningHours,
    blackouts: &[TimeWindow],
    bookings: &[TimeWindow],
    offset: FixedOffset,
) -> Vec<(TimeWindow, Availability)> {
    if range.start >= range.end {
        return Vec::new();
    }
    let open = opening.open_windows(range, offset);
    let blackouts = merge(blackouts.iter().filter_map(|w| w.clipped(range)).collect());
    let bookings = merge(bookings.iter().filter_map(|w| w.clipped(range)).collect());
    let mut cuts = vec![range.start, range.end];
    for w in open.iter().chain(&blackouts).chain(&bookings) {
        cuts.push(w.start);
        cuts.push(w.end);
    }
    cuts.sort();
    cuts.dedup();
    let mut segments: Vec<(TimeWindow, Availability)> = Vec::new();
    for (start, end) in cuts.iter().zip(cuts.iter().skip(1)) {
        let segment = TimeWindow {
            start: *start,
            end: *end,
        };
        // Every window's ends are cuts, so a window overlapping the segment covers all of it.
        let kind = if any_overlap(&blackouts, &segment) {
            Availability::Blackout
        } else if any_overlap(&bookings, &segment) {
            Availability::Booked
        } else if any_overlap(&open, &segment) {
            Availability::Free
        } else {
            Availability::Closed
        };
        match segments.last_mut() {
            Some((last, last_kind)) if *last_kind == kind => last.end = segment.end,
            _ => segments.push((segment, kind)),
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Contact, InstrumentData};
    use crate::codes::CategoryCode;
    use crate::ids::{InstrumentId, LabId};
    use crate::money::Money;
    use crate::text_enum::TextEnum;
    use proptest::prelude::*;
    use BookingStatus::*;

    const OWNER: InstitutionId = InstitutionId(1);
    const OTHER: InstitutionId = InstitutionId(2);

    /// A local (UTC+8) time as a UTC instant.
    fn local(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        local_s(y, m, d, h, mi, 0)
    }

    fn local_s(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        let naive = NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|day| day.and_hms_opt(h, mi, s))
            .unwrap_or_else(|| panic!("{y}-{m}-{d} {h}:{mi}:{s} is not a time"));
        (naive - TimeDelta::hours(8)).and_utc()
    }

    /// Monday 3 March 2025, local time.
    fn monday(h: u32, mi: u32) -> DateTime<Utc> {
        local(2025, 3, 3, h, mi)
    }

    fn window(start: DateTime<Utc>, end: DateTime<Utc>) -> TimeWindow {
        TimeWindow::new(start, end).unwrap_or_else(|e| panic!("{e}"))
    }

    fn cst() -> FixedOffset {
        Policy::default().local_offset()
    }

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap_or_else(|| panic!("UTC is an offset"))
    }

    fn interval(weekday: Weekday, opens: (u16, u16), closes: (u16, u16)) -> OpeningInterval {
        OpeningInterval {
            weekday,
            opens_minute: opens.0 * 60 + opens.1,
            closes_minute: closes.0 * 60 + closes.1,
        }
    }

    /// Monday to Friday 08:00–12:00 and 12:00–18:00.
    fn office_hours() -> OpeningHours {
        let days = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];
        OpeningHours {
            intervals: days
                .iter()
                .flat_map(|d| [interval(*d, (8, 0), (12, 0)), interval(*d, (12, 0), (18, 0))])
                .collect(),
        }
    }

    fn instrument() -> Instrument {
        Instrument {
            id: InstrumentId(7),
            lab_id: LabId(3),
            institution_id: OWNER,
            data: InstrumentData {
                name_zh: "流式细胞仪".into(),
                name_en: None,
                category_code: CategoryCode::parse("031005").unwrap_or_else(|e| panic!("{e}")),
                model: "FACSCanto II".into(),
                manufacturer: "BD".into(),
                country_of_origin: "美国".into(),
                asset_number: "A-1".into(),
                original_value: Money::yuan(1_450_000),
                purchase_date: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default(),
                commissioning_date: None,
                technical_specs: String::new(),
                functions: String::new(),
                service_content: String::new(),
                disciplines: vec![],
                photo_url: None,
                contact: Contact {
                    name: "王".into(),
                    phone: "0771-1234567".into(),
                    email: None,
                },
                status: InstrumentStatus::Normal,
                sharing_scope: SharingScope::System,
                service_modes: vec![ServiceMode::SelfOperated, ServiceMode::Assisted, ServiceMode::Sample],
                rated_annual_hours: 1600,
            },
            listing_status: ListingStatus::Approved,
        }
    }

    /// Everything a booking decision reads, owned, so that a test case can change one thing.
    #[derive(Debug, Clone)]
    struct Scenario {
        instrument: Instrument,
        rules: BookingRules,
        opening: OpeningHours,
        lab: BiosafetyLevel,
        blackouts: Vec<TimeWindow>,
        existing: Vec<TimeWindow>,
        qualified: bool,
        biosafety: Option<BiosafetyLevel>,
        no_shows: Vec<DateTime<Utc>>,
        request: BookingRequest,
        now: DateTime<Utc>,
    }

    impl Scenario {
        /// A member unit's researcher asks on Saturday morning for Monday 09:00–10:00, assisted.
        fn new() -> Self {
            Self {
                instrument: instrument(),
                rules: BookingRules::default(),
                opening: office_hours(),
                lab: BiosafetyLevel::Bsl1,
                blackouts: vec![],
                existing: vec![],
                qualified: true,
                biosafety: None,
                no_shows: vec![],
                request: BookingRequest {
                    user_institution: OTHER,
                    user_member: true,
                    mode: ServiceMode::Assisted,
                    window: window(monday(9, 0), monday(10, 0)),
                    purpose: "CD4+ T 细胞计数".into(),
                },
                now: local(2025, 3, 1, 10, 0),
            }
        }

        fn check(&self) -> Result<AcceptedBooking, BookingError> {
            let ctx = BookingContext {
                instrument: &self.instrument,
                rules: &self.rules,
                opening: &self.opening,
                lab_biosafety: self.lab,
                blackouts: &self.blackouts,
                existing: &self.existing,
                qualified: self.qualified,
                biosafety: self.biosafety,
                no_shows: &self.no_shows,
            };
            check_booking(&self.request, &ctx, &Policy::default(), self.now)
        }

        fn set_window(&mut self, start: DateTime<Utc>, end: DateTime<Utc>) {
            self.request.window = TimeWindow { start, end };
        }
    }

    #[test]
    fn the_test_calendar_starts_on_a_monday() {
        assert_eq!(monday(9, 0).with_timezone(&cst()).weekday(), Weekday::Mon);
        assert_eq!(
            monday(9, 0),
            "2025-03-03T01:00:00Z".parse::<DateTime<Utc>>().unwrap_or_default()
        );
    }

    #[test]
    fn each_booking_rule_refuses_with_its_own_error() {
        type Case = (&'static str, fn(&mut Scenario), Result<BookingStatus, BookingError>);
        use BookingError as E;
        let cases: Vec<Case> = vec![
            ("a valid request waits for a manager", |_| {}, Ok(Pending)),
            (
                "auto-approval confirms at once",
                |s| s.rules.auto_approve = true,
                Ok(Approved),
            ),
            (
                "auto-approval waits for a manager when the user is not qualified",
                |s| {
                    s.rules.auto_approve = true;
                    s.qualified = false;
                },
                Ok(Pending),
            ),
            (
                "a qualified user may operate it",
                |s| s.request.mode = ServiceMode::SelfOperated,
                Ok(Pending),
            ),
            (
                "a qualified user operating an auto-approved instrument is confirmed",
                |s| {
                    s.request.mode = ServiceMode::SelfOperated;
                    s.rules.auto_approve = true;
                },
                Ok(Approved),
            ),
            (
                "a submitted listing is not bookable",
                |s| s.instrument.listing_status = ListingStatus::Submitted,
                Err(E::NotBookable),
            ),
            (
                "a faulty instrument is not bookable",
                |s| s.instrument.data.status = InstrumentStatus::Faulty,
                Err(E::NotBookable),
            ),
            (
                "a retired instrument is not bookable",
                |s| s.instrument.data.status = InstrumentStatus::Retired,
                Err(E::NotBookable),
            ),
            (
                "a standby instrument is bookable",
                |s| s.instrument.data.status = InstrumentStatus::Standby,
                Ok(Pending),
            ),
            (
                "scope none admits not even the owner",
                |s| {
                    s.instrument.data.sharing_scope = SharingScope::None;
                    s.request.user_institution = OWNER;
                },
                Err(E::NotShared),
            ),
            (
                "scope internal refuses another unit",
                |s| s.instrument.data.sharing_scope = SharingScope::Internal,
                Err(E::NotShared),
            ),
            (
                "scope internal admits the owner",
                |s| {
                    s.instrument.data.sharing_scope = SharingScope::Internal;
                    s.request.user_institution = OWNER;
                },
                Ok(Pending),
            ),
            (
                "scope system refuses a social user",
                |s| s.request.user_member = false,
                Err(E::NotShared),
            ),
            (
                "scope system admits the owner even if not a member",
                |s| {
                    s.request.user_member = false;
                    s.request.user_institution = OWNER;
                },
                Ok(Pending),
            ),
            (
                "scope public admits a social user",
                |s| {
                    s.instrument.data.sharing_scope = SharingScope::Public;
                    s.request.user_member = false;
                },
                Ok(Pending),
            ),
            (
                "a mode not offered is refused",
                |s| s.request.mode = ServiceMode::Remote,
                Err(E::ModeNotOffered),
            ),
            (
                "samples go through service orders",
                |s| s.request.mode = ServiceMode::Sample,
                Err(E::ModeNotOffered),
            ),
            (
                "an empty window is refused",
                |s| s.set_window(monday(9, 0), monday(9, 0)),
                Err(E::InvalidWindow),
            ),
            (
                "a reversed window is refused",
                |s| s.set_window(monday(10, 0), monday(9, 0)),
                Err(E::InvalidWindow),
            ),
            (
                "a blank purpose is refused",
                |s| s.request.purpose = " \t ".into(),
                Err(E::PurposeRequired),
            ),
            (
                "a purpose of 501 characters is refused",
                |s| s.request.purpose = "测".repeat(501),
                Err(E::PurposeRequired),
            ),
            (
                "a purpose of 500 characters is accepted",
                |s| s.request.purpose = "测".repeat(500),
                Ok(Pending),
            ),
            (
                "a suspended user is refused",
                |s| {
                    s.no_shows = vec![
                        local(2025, 2, 10, 9, 30),
                        local(2025, 2, 20, 9, 30),
                        local(2025, 2, 28, 9, 30),
                    ]
                },
                Err(E::Suspended {
                    until: local(2025, 3, 30, 9, 30),
                }),
            ),
            (
                "a start off the slot is refused",
                |s| s.set_window(monday(9, 15), monday(10, 15)),
                Err(E::Misaligned { slot_minutes: 30 }),
            ),
            (
                "an end off the slot is refused",
                |s| s.set_window(monday(9, 0), monday(9, 50)),
                Err(E::Misaligned { slot_minutes: 30 }),
            ),
            (
                "seconds are off the slot",
                |s| s.set_window(local_s(2025, 3, 3, 9, 0, 30), monday(10, 0)),
                Err(E::Misaligned { slot_minutes: 30 }),
            ),
            (
                "slots count from local midnight",
                |s| {
                    s.rules.slot_minutes = 60;
                    s.rules.min_minutes = 60;
                    s.set_window(monday(9, 30), monday(10, 30));
                },
                Err(E::Misaligned { slot_minutes: 60 }),
            ),
            (
                "shorter than the minimum is refused",
                |s| s.rules.min_minutes = 90,
                Err(E::TooShort { min_minutes: 90 }),
            ),
            (
                "longer than the maximum is refused",
                |s| s.set_window(monday(9, 0), monday(13, 30)),
                Err(E::TooLong { max_minutes: 240 }),
            ),
            (
                "exactly the maximum is accepted",
                |s| s.set_window(monday(9, 0), monday(13, 0)),
                Ok(Pending),
            ),
            (
                "inside the policy lead time is refused",
                |s| s.now = local(2025, 3, 2, 10, 0),
                Err(E::TooEarly { lead_minutes: 1440 }),
            ),
            (
                "exactly the policy lead time is accepted",
                |s| s.now = local(2025, 3, 2, 9, 0),
                Ok(Pending),
            ),
            (
                "the instrument's own lead time wins",
                |s| s.rules.lead_minutes = Some(3 * 1440),
                Err(E::TooEarly { lead_minutes: 4320 }),
            ),
            (
                "a lead time of zero admits a start a minute away",
                |s| {
                    s.rules.lead_minutes = Some(0);
                    s.now = monday(8, 59);
                },
                Ok(Pending),
            ),
            (
                "beyond the horizon is refused",
                |s| s.now = local(2025, 1, 31, 9, 0),
                Err(E::TooLate { horizon_days: 30 }),
            ),
            (
                "exactly at the horizon is accepted",
                |s| s.now = local(2025, 2, 1, 9, 0),
                Ok(Pending),
            ),
            (
                "before opening is refused",
                |s| s.set_window(monday(7, 30), monday(8, 30)),
                Err(E::OutsideOpeningHours),
            ),
            (
                "past closing is refused",
                |s| s.set_window(monday(17, 30), monday(18, 30)),
                Err(E::OutsideOpeningHours),
            ),
            (
                "a weekend day is refused",
                |s| s.set_window(local(2025, 3, 8, 9, 0), local(2025, 3, 8, 10, 0)),
                Err(E::OutsideOpeningHours),
            ),
            (
                "adjacent opening intervals join",
                |s| s.set_window(monday(11, 0), monday(13, 0)),
                Ok(Pending),
            ),
            (
                "an instrument with no opening hours is never open",
                |s| s.opening = OpeningHours::default(),
                Err(E::OutsideOpeningHours),
            ),
            (
                "an overlapping blackout refuses",
                |s| s.blackouts = vec![window(monday(9, 30), monday(12, 0))],
                Err(E::Blackout),
            ),
            (
                "a blackout ending at the start does not",
                |s| s.blackouts = vec![window(monday(8, 0), monday(9, 0))],
                Ok(Pending),
            ),
            (
                "self-operated use needs a qualification",
                |s| {
                    s.request.mode = ServiceMode::SelfOperated;
                    s.qualified = false;
                },
                Err(E::NotQualified),
            ),
            ("assisted use needs none", |s| s.qualified = false, Ok(Pending)),
            (
                "a BSL2 lab needs biosafety",
                |s| s.lab = BiosafetyLevel::Bsl2,
                Err(E::Biosafety {
                    required: BiosafetyLevel::Bsl2,
                }),
            ),
            (
                "a BSL1 qualification does not admit to a BSL2 lab",
                |s| {
                    s.lab = BiosafetyLevel::Bsl2;
                    s.biosafety = Some(BiosafetyLevel::Bsl1);
                },
                Err(E::Biosafety {
                    required: BiosafetyLevel::Bsl2,
                }),
            ),
            (
                "a BSL2 qualification does not admit to a BSL3 lab",
                |s| {
                    s.lab = BiosafetyLevel::Bsl3;
                    s.biosafety = Some(BiosafetyLevel::Bsl2);
                },
                Err(E::Biosafety {
                    required: BiosafetyLevel::Bsl3,
                }),
            ),
            (
                "a BSL3 qualification admits to a BSL2 lab",
                |s| {
                    s.lab = BiosafetyLevel::Bsl2;
                    s.biosafety = Some(BiosafetyLevel::Bsl3);
                },
                Ok(Pending),
            ),
            (
                "a lab without biosafety level needs none",
                |s| s.lab = BiosafetyLevel::None,
                Ok(Pending),
            ),
            (
                "an overlapping booking refuses",
                |s| s.existing = vec![window(monday(9, 30), monday(10, 30))],
                Err(E::Overlap),
            ),
            (
                "an enclosing booking refuses",
                |s| s.existing = vec![window(monday(8, 0), monday(12, 0))],
                Err(E::Overlap),
            ),
            (
                "back-to-back bookings do not overlap",
                |s| s.existing = vec![window(monday(8, 0), monday(9, 0)), window(monday(10, 0), monday(11, 0))],
                Ok(Pending),
            ),
        ];
        for (name, change, expected) in cases {
            let mut s = Scenario::new();
            change(&mut s);
            assert_eq!(s.check().map(|a| a.status), expected, "{name}");
        }
    }

    #[test]
    fn the_first_broken_rule_is_reported_in_the_documented_order() {
        use BookingError as E;
        let mut s = Scenario::new();
        s.instrument.listing_status = ListingStatus::Unlisted;
        s.instrument.data.sharing_scope = SharingScope::None;
        s.request.mode = ServiceMode::Sample;
        s.qualified = false;
        s.set_window(monday(9, 15), monday(9, 15));
        s.request.purpose = String::new();
        s.no_shows = vec![
            local(2025, 2, 26, 9, 0),
            local(2025, 2, 27, 9, 0),
            local(2025, 2, 28, 9, 0),
        ];
        s.rules.min_minutes = 60;
        s.now = monday(8, 0);
        s.lab = BiosafetyLevel::Bsl3;
        s.existing = vec![window(monday(9, 0), monday(10, 0))];
        type Step = (BookingError, fn(&mut Scenario));
        let steps: Vec<Step> = vec![
            (E::NotBookable, |s| {
                s.instrument.listing_status = ListingStatus::Approved
            }),
            (E::NotShared, |s| s.instrument.data.sharing_scope = SharingScope::Public),
            (E::ModeNotOffered, |s| s.request.mode = ServiceMode::SelfOperated),
            (E::InvalidWindow, |s| s.set_window(monday(9, 15), monday(9, 45))),
            (E::PurposeRequired, |s| s.request.purpose = "测序".into()),
            (
                E::Suspended {
                    until: local(2025, 3, 30, 9, 0),
                },
                |s| s.no_shows.clear(),
            ),
            (E::Misaligned { slot_minutes: 30 }, |s| {
                s.set_window(monday(7, 0), monday(7, 30))
            }),
            (E::TooShort { min_minutes: 60 }, |s| {
                s.set_window(monday(7, 0), monday(12, 0))
            }),
            (E::TooLong { max_minutes: 240 }, |s| {
                s.set_window(monday(7, 0), monday(8, 0))
            }),
            (E::TooEarly { lead_minutes: 1440 }, |s| s.now = local(2025, 1, 1, 9, 0)),
            (E::TooLate { horizon_days: 30 }, |s| s.now = local(2025, 3, 1, 9, 0)),
            (E::OutsideOpeningHours, |s| {
                s.set_window(monday(9, 0), monday(10, 0));
                s.blackouts = vec![window(monday(9, 0), monday(9, 30))];
            }),
            (E::Blackout, |s| s.blackouts.clear()),
            (E::NotQualified, |s| s.qualified = true),
            (
                E::Biosafety {
                    required: BiosafetyLevel::Bsl3,
                },
                |s| s.biosafety = Some(BiosafetyLevel::Bsl3),
            ),
            (E::Overlap, |s| s.existing.clear()),
        ];
        for (expected, fix) in steps {
            assert_eq!(s.check(), Err(expected.clone()));
            fix(&mut s);
        }
        assert_eq!(s.check(), Ok(AcceptedBooking { status: Pending }));
    }

    #[test]
    fn a_time_window_is_half_open_and_never_empty() {
        assert_eq!(
            TimeWindow::new(monday(9, 0), monday(9, 0)),
            Err(BookingError::InvalidWindow)
        );
        assert_eq!(
            TimeWindow::new(monday(10, 0), monday(9, 0)),
            Err(BookingError::InvalidWindow)
        );
        let w = window(monday(9, 0), monday(10, 30));
        assert_eq!(w.minutes(), 90);
        assert!(w.overlaps(&window(monday(10, 0), monday(11, 0))));
        assert!(w.overlaps(&window(monday(9, 30), monday(9, 45))));
        assert!(!w.overlaps(&window(monday(10, 30), monday(11, 0))));
        assert!(!w.overlaps(&window(monday(8, 0), monday(9, 0))));
        let empty = TimeWindow {
            start: monday(9, 30),
            end: monday(9, 30),
        };
        assert!(!w.overlaps(&empty));
        assert!(!empty.overlaps(&w));
    }

    #[test]
    fn only_pending_approved_and_in_use_bookings_hold_their_slot() {
        for status in BookingStatus::ALL {
            assert_eq!(
                status.blocks_slot(),
                matches!(status, Pending | Approved | InUse),
                "{status}"
            );
        }
    }

    #[test]
    fn adjacent_opening_intervals_cover_a_window_across_their_join() {
        let hours = OpeningHours {
            intervals: vec![
                interval(Weekday::Mon, (8, 0), (12, 0)),
                interval(Weekday::Mon, (12, 0), (18, 0)),
            ],
        };
        assert!(hours.covers(&window(monday(10, 0), monday(14, 0)), cst()));
        assert!(hours.covers(&window(monday(8, 0), monday(18, 0)), cst()));
        assert!(!hours.covers(&window(monday(7, 30), monday(9, 0)), cst()));
        assert!(!hours.covers(&window(monday(17, 30), monday(18, 30)), cst()));
        let morning = OpeningHours {
            intervals: vec![interval(Weekday::Mon, (8, 0), (12, 0))],
        };
        assert!(!morning.covers(&window(monday(10, 0), monday(14, 0)), cst()));
        let lunch_break = OpeningHours {
            intervals: vec![
                interval(Weekday::Mon, (8, 0), (12, 0)),
                interval(Weekday::Mon, (13, 0), (18, 0)),
            ],
        };
        assert!(!lunch_break.covers(&window(monday(11, 0), monday(14, 0)), cst()));
        assert!(lunch_break.covers(&window(monday(13, 0), monday(14, 0)), cst()));
    }

    #[test]
    fn whole_days_join_across_midnight_and_across_the_end_of_the_week() {
        let mon_tue = OpeningHours {
            intervals: vec![
                interval(Weekday::Mon, (0, 0), (24, 0)),
                interval(Weekday::Tue, (0, 0), (24, 0)),
            ],
        };
        let night = window(monday(22, 0), local(2025, 3, 4, 2, 0));
        assert!(mon_tue.covers(&night, cst()));
        let monday_only = OpeningHours {
            intervals: vec![interval(Weekday::Mon, (0, 0), (24, 0))],
        };
        assert!(!monday_only.covers(&night, cst()));
        let sun_mon = OpeningHours {
            intervals: vec![
                interval(Weekday::Sun, (20, 0), (24, 0)),
                interval(Weekday::Mon, (0, 0), (4, 0)),
            ],
        };
        assert!(sun_mon.covers(&window(local(2025, 3, 2, 23, 0), monday(1, 0)), cst()));
        assert!(!sun_mon.covers(&window(local(2025, 3, 2, 23, 0), monday(5, 0)), cst()));
    }

    #[test]
    fn opening_hours_are_local_time() {
        let hours = OpeningHours {
            intervals: vec![interval(Weekday::Mon, (8, 0), (12, 0))],
        };
        // Monday 09:00 at +08:00 is Monday 01:00 UTC.
        let nine = window(monday(9, 0), monday(10, 0));
        assert_eq!(nine.start.with_timezone(&utc()).hour(), 1);
        assert!(hours.covers(&nine, cst()));
        assert!(!hours.covers(&nine, utc()));
        // Monday 07:00 local is Sunday 23:00 UTC, before the local Monday opening.
        let early = OpeningHours {
            intervals: vec![interval(Weekday::Mon, (6, 0), (9, 0))],
        };
        let across_utc_midnight = window(monday(7, 0), monday(8, 30));
        assert_eq!(across_utc_midnight.start.weekday(), Weekday::Sun);
        assert!(early.covers(&across_utc_midnight, cst()));
        assert!(!OpeningHours::default().covers(&nine, cst()));
    }

    #[test]
    fn open_windows_are_merged_clipped_and_in_utc() {
        let range = window(monday(0, 0), local(2025, 3, 5, 0, 0));
        assert_eq!(
            office_hours().open_windows(&range, cst()),
            vec![
                window(monday(8, 0), monday(18, 0)),
                window(local(2025, 3, 4, 8, 0), local(2025, 3, 4, 18, 0)),
            ]
        );
        let afternoon = window(monday(10, 0), monday(20, 0));
        assert_eq!(
            office_hours().open_windows(&afternoon, cst()),
            vec![window(monday(10, 0), monday(18, 0))]
        );
    }

    #[test]
    fn opening_hours_name_each_broken_interval() {
        assert_eq!(office_hours().check(), Ok(()));
        let fields = |hours: OpeningHours| -> Vec<(String, &'static str)> {
            hours
                .check()
                .err()
                .map(|e| e.0.into_iter().map(|v| (v.field, v.rule)).collect())
                .unwrap_or_default()
        };
        let bad = |weekday, opens_minute, closes_minute| OpeningInterval {
            weekday,
            opens_minute,
            closes_minute,
        };
        assert_eq!(
            fields(OpeningHours {
                intervals: vec![bad(Weekday::Mon, 1440, 1440)],
            }),
            vec![
                ("intervals/0/opens_minute".to_owned(), "range"),
                ("intervals/0/closes_minute".to_owned(), "order"),
            ]
        );
        assert_eq!(
            fields(OpeningHours {
                intervals: vec![bad(Weekday::Mon, 0, 0), bad(Weekday::Tue, 600, 1441)],
            }),
            vec![
                ("intervals/0/closes_minute".to_owned(), "range"),
                ("intervals/0/closes_minute".to_owned(), "order"),
                ("intervals/1/closes_minute".to_owned(), "range"),
            ]
        );
        assert_eq!(
            fields(OpeningHours {
                intervals: vec![
                    bad(Weekday::Mon, 480, 720),
                    bad(Weekday::Tue, 600, 900),
                    bad(Weekday::Mon, 660, 780)
                ],
            }),
            vec![("intervals/2".to_owned(), "overlap")]
        );
        assert_eq!(
            fields(OpeningHours {
                intervals: vec![bad(Weekday::Mon, 480, 720), bad(Weekday::Mon, 720, 1440)],
            }),
            vec![]
        );
    }

    #[test]
    fn booking_rules_name_each_broken_setting() {
        assert_eq!(BookingRules::default().check(), Ok(()));
        let fields = |rules: BookingRules| -> Vec<(String, &'static str)> {
            rules
                .check()
                .err()
                .map(|e| e.0.into_iter().map(|v| (v.field, v.rule)).collect())
                .unwrap_or_default()
        };
        let r = BookingRules::default;
        let cases: Vec<(BookingRules, Vec<(&str, &'static str)>)> = vec![
            (BookingRules { slot_minutes: 4, ..r() }, vec![("slot_minutes", "range")]),
            (
                BookingRules {
                    slot_minutes: 300,
                    ..r()
                },
                vec![("slot_minutes", "range")],
            ),
            (
                BookingRules { slot_minutes: 7, ..r() },
                vec![("slot_minutes", "divides_day")],
            ),
            (
                BookingRules { min_minutes: 45, ..r() },
                vec![("min_minutes", "multiple")],
            ),
            (
                BookingRules { min_minutes: 0, ..r() },
                vec![("min_minutes", "multiple")],
            ),
            (
                BookingRules {
                    min_minutes: 300,
                    ..r()
                },
                vec![("max_minutes", "order")],
            ),
            (
                BookingRules {
                    max_minutes: 1470,
                    ..r()
                },
                vec![("max_minutes", "range")],
            ),
            (
                BookingRules {
                    lead_minutes: Some(-1),
                    ..r()
                },
                vec![("lead_minutes", "range")],
            ),
            (
                BookingRules {
                    lead_minutes: Some(30 * 1440 + 1),
                    ..r()
                },
                vec![("lead_minutes", "range")],
            ),
            (BookingRules { horizon_days: 0, ..r() }, vec![("horizon_days", "range")]),
            (
                BookingRules {
                    horizon_days: 366,
                    ..r()
                },
                vec![("horizon_days", "range")],
            ),
            (
                BookingRules {
                    slot_minutes: 60,
                    min_minutes: 60,
                    max_minutes: 1440,
                    lead_minutes: Some(0),
                    horizon_days: 365,
                    auto_approve: true,
                },
                vec![],
            ),
        ];
        for (rules, expected) in cases {
            let expected: Vec<(String, &str)> = expected.into_iter().map(|(f, rule)| (f.to_owned(), rule)).collect();
            assert_eq!(fields(rules.clone()), expected, "{rules:?}");
        }
    }

    #[test]
    fn two_no_shows_do_not_suspend() {
        let p = Policy::default();
        let no_shows = [local(2025, 2, 1, 9, 0), local(2025, 2, 2, 9, 0)];
        assert_eq!(suspended_until(&no_shows, &p, local(2025, 2, 3, 9, 0)), None);
    }

    #[test]
    fn three_no_shows_within_ninety_days_suspend_for_thirty_days_from_the_third() {
        let p = Policy::default();
        let no_shows = [
            local(2025, 3, 1, 9, 0),
            local(2025, 1, 1, 9, 0),
            local(2025, 2, 1, 9, 0),
        ];
        let until = local(2025, 3, 31, 9, 0);
        assert_eq!(suspended_until(&no_shows, &p, local(2025, 3, 1, 9, 0)), Some(until));
        assert_eq!(suspended_until(&no_shows, &p, local(2025, 3, 31, 8, 59)), Some(until));
        assert_eq!(suspended_until(&no_shows, &p, local(2025, 2, 28, 9, 0)), None);
    }

    #[test]
    fn three_no_shows_spread_over_a_hundred_days_do_not_suspend() {
        let p = Policy::default();
        let no_shows = [
            local(2025, 1, 1, 9, 0),
            local(2025, 2, 15, 9, 0),
            local(2025, 4, 11, 9, 0),
        ];
        assert_eq!(suspended_until(&no_shows, &p, local(2025, 4, 12, 9, 0)), None);
    }

    #[test]
    fn a_suspension_ends_after_thirty_days() {
        let p = Policy::default();
        let no_shows = [
            local(2025, 1, 1, 9, 0),
            local(2025, 1, 2, 9, 0),
            local(2025, 1, 3, 9, 0),
        ];
        assert_eq!(suspended_until(&no_shows, &p, local(2025, 2, 2, 9, 0)), None);
        assert_eq!(suspended_until(&no_shows, &p, local(2025, 3, 1, 9, 0)), None);
    }

    #[test]
    fn a_no_show_counts_towards_one_suspension_only() {
        let p = Policy::default();
        let first = [
            local(2025, 1, 1, 9, 0),
            local(2025, 1, 2, 9, 0),
            local(2025, 1, 3, 9, 0),
        ];
        let mut two_more = first.to_vec();
        two_more.extend([local(2025, 2, 10, 9, 0), local(2025, 2, 11, 9, 0)]);
        assert_eq!(suspended_until(&two_more, &p, local(2025, 2, 12, 9, 0)), None);
        let mut three_more = two_more.clone();
        three_more.push(local(2025, 2, 12, 9, 0));
        assert_eq!(
            suspended_until(&three_more, &p, local(2025, 2, 12, 9, 0)),
            Some(local(2025, 3, 14, 9, 0))
        );
    }

    #[test]
    fn future_no_shows_and_a_zero_limit_suspend_nobody() {
        let no_shows = [
            local(2025, 1, 1, 9, 0),
            local(2025, 1, 2, 9, 0),
            local(2025, 1, 3, 9, 0),
        ];
        assert_eq!(
            suspended_until(&no_shows, &Policy::default(), local(2025, 1, 2, 12, 0)),
            None
        );
        let off = Policy {
            no_show_limit: 0,
            ..Policy::default()
        };
        assert_eq!(suspended_until(&no_shows, &off, local(2025, 1, 4, 9, 0)), None);
    }

    fn reject(reason: &str) -> BookingAction {
        BookingAction::Reject { reason: reason.into() }
    }

    #[test]
    fn only_the_bookers_late_cancellation_of_an_approved_booking_costs_the_fee() {
        let p = Policy::default();
        let w = window(monday(9, 0), monday(10, 0));
        let late = monday(8, 0);
        let early = monday(9, 0) - chrono::Duration::hours(25);
        assert!(cancellation_costs_fee(true, Approved, &w, &p, late));
        assert!(!cancellation_costs_fee(true, Approved, &w, &p, early));
        assert!(!cancellation_costs_fee(false, Approved, &w, &p, late));
        assert!(!cancellation_costs_fee(true, Pending, &w, &p, late));
    }

    #[test]
    fn a_booking_moves_only_along_the_arrows_of_its_state_machine() {
        use BookingAction as A;
        use TransitionError as T;
        let w = window(monday(9, 0), monday(10, 0));
        let invalid = |from, action| Err(T::InvalidTransition { from, action });
        type Row = (
            BookingStatus,
            BookingAction,
            DateTime<Utc>,
            Result<BookingStatus, TransitionError>,
        );
        let table: Vec<Row> = vec![
            (Pending, A::Approve, monday(8, 0), Ok(Approved)),
            (Approved, A::Approve, monday(8, 0), invalid(Approved, "approve")),
            (Rejected, A::Approve, monday(8, 0), invalid(Rejected, "approve")),
            (Pending, reject("样品类型不符"), monday(8, 0), Ok(Rejected)),
            (Pending, reject("  "), monday(8, 0), Err(T::ReasonRequired)),
            (Pending, reject(&"长".repeat(501)), monday(8, 0), Err(T::ReasonRequired)),
            (Pending, reject(&"长".repeat(500)), monday(8, 0), Ok(Rejected)),
            (Approved, reject("迟了"), monday(8, 0), invalid(Approved, "reject")),
            (Pending, A::Cancel, monday(8, 0), Ok(Cancelled)),
            (Approved, A::Cancel, monday(8, 0), Ok(Cancelled)),
            (InUse, A::Cancel, monday(9, 10), invalid(InUse, "cancel")),
            (Completed, A::Cancel, monday(11, 0), invalid(Completed, "cancel")),
            (Approved, A::CheckIn, monday(8, 45), Ok(InUse)),
            (Approved, A::CheckIn, monday(9, 29), Ok(InUse)),
            (
                Approved,
                A::CheckIn,
                monday(9, 30),
                Err(T::CheckInNotOpen {
                    opens_at: monday(8, 45),
                }),
            ),
            (Pending, A::Approve, monday(9, 0), Err(T::AlreadyStarted)),
            (Approved, A::Cancel, monday(9, 0), Err(T::AlreadyStarted)),
            (Pending, A::Cancel, monday(9, 5), Err(T::AlreadyStarted)),
            (
                Approved,
                A::CheckIn,
                monday(8, 44),
                Err(T::CheckInNotOpen {
                    opens_at: monday(8, 45),
                }),
            ),
            (
                Approved,
                A::CheckIn,
                monday(10, 0),
                Err(T::CheckInNotOpen {
                    opens_at: monday(8, 45),
                }),
            ),
            (Pending, A::CheckIn, monday(9, 0), invalid(Pending, "check_in")),
            (InUse, A::CheckIn, monday(9, 0), invalid(InUse, "check_in")),
            (InUse, A::CheckOut, monday(10, 0), Ok(Completed)),
            (InUse, A::CheckOut, monday(11, 30), Ok(Completed)),
            (Approved, A::CheckOut, monday(10, 0), invalid(Approved, "check_out")),
            (Approved, A::MarkNoShow, monday(9, 30), Ok(NoShow)),
            (
                Approved,
                A::MarkNoShow,
                monday(9, 29),
                Err(T::TooEarlyForNoShow { at: monday(9, 30) }),
            ),
            (InUse, A::MarkNoShow, monday(9, 45), invalid(InUse, "mark_no_show")),
            (Pending, A::MarkNoShow, monday(9, 45), invalid(Pending, "mark_no_show")),
            (Pending, A::Expire, monday(9, 0), Ok(Expired)),
            (Pending, A::Expire, monday(8, 59), Err(T::NotStartedYet)),
            (Approved, A::Expire, monday(9, 30), invalid(Approved, "expire")),
            (Expired, A::Expire, monday(9, 30), invalid(Expired, "expire")),
        ];
        let p = Policy::default();
        for (from, action, now, expected) in table {
            assert_eq!(
                transition(from, &action, &w, &p, now),
                expected,
                "{from} {action:?} at {now}"
            );
        }
    }

    #[test]
    fn cancelling_exactly_twenty_four_hours_ahead_is_free_and_a_minute_later_is_not() {
        let p = Policy::default();
        let w = window(monday(9, 0), monday(10, 0));
        assert!(!is_late_cancellation(&w, &p, local(2025, 3, 1, 9, 0)));
        assert!(!is_late_cancellation(&w, &p, local(2025, 3, 2, 9, 0)));
        // 23 h 59 min before the start.
        assert!(is_late_cancellation(&w, &p, local(2025, 3, 2, 9, 1)));
        assert!(is_late_cancellation(&w, &p, monday(9, 30)));
    }

    #[test]
    fn availability_shows_blackouts_over_bookings_over_closed_time() {
        let range = window(monday(7, 0), monday(19, 0));
        let blackouts = [window(monday(10, 0), monday(11, 0))];
        let bookings = [
            window(monday(10, 30), monday(12, 0)),
            window(monday(13, 0), monday(14, 0)),
            window(monday(17, 30), monday(18, 30)),
        ];
        let got = availability(&range, &office_hours(), &blackouts, &bookings, cst());
        use Availability as Av;
        let expected = vec![
            (window(monday(7, 0), monday(8, 0)), Av::Closed),
            (window(monday(8, 0), monday(10, 0)), Av::Free),
            (window(monday(10, 0), monday(11, 0)), Av::Blackout),
            (window(monday(11, 0), monday(12, 0)), Av::Booked),
            (window(monday(12, 0), monday(13, 0)), Av::Free),
            (window(monday(13, 0), monday(14, 0)), Av::Booked),
            (window(monday(14, 0), monday(17, 30)), Av::Free),
            (window(monday(17, 30), monday(18, 30)), Av::Booked),
            (window(monday(18, 30), monday(19, 0)), Av::Closed),
        ];
        assert_eq!(got, expected);
        let empty = TimeWindow {
            start: monday(9, 0),
            end: monday(9, 0),
        };
        assert_eq!(availability(&empty, &office_hours(), &[], &[], cst()), vec![]);
    }

    const WEEK: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    fn any_interval() -> impl Strategy<Value = OpeningInterval> {
        (0usize..7, 0u16..1440, 1u16..=1440).prop_map(|(day, a, len)| OpeningInterval {
            weekday: WEEK[day],
            opens_minute: a,
            closes_minute: (a + len).min(1440),
        })
    }

    /// A window within a week from Monday 00:00 local, in whole minutes.
    fn any_window(max_minutes: i64) -> impl Strategy<Value = TimeWindow> {
        (0i64..7 * 1440, 1..=max_minutes).prop_map(|(start, len)| TimeWindow {
            start: shift(monday(0, 0), start),
            end: shift(monday(0, 0), start + len),
        })
    }

    /// A window of Monday 06:00–20:00 local on a 30-minute grid.
    fn any_slot_window() -> impl Strategy<Value = TimeWindow> {
        (12i64..40, 1i64..=8).prop_map(|(slot, len)| TimeWindow {
            start: shift(monday(0, 0), slot * 30),
            end: shift(monday(0, 0), (slot + len) * 30),
        })
    }

    proptest! {
        #[test]
        fn availability_segments_cover_the_range_exactly_without_overlap(
            range in any_window(3 * 1440),
            intervals in proptest::collection::vec(any_interval(), 0..8),
            blackouts in proptest::collection::vec(any_window(600), 0..5),
            bookings in proptest::collection::vec(any_window(600), 0..10),
        ) {
            let opening = OpeningHours { intervals };
            let segments = availability(&range, &opening, &blackouts, &bookings, cst());
            prop_assert!(!segments.is_empty());
            prop_assert_eq!(segments.first().map(|s| s.0.start), Some(range.start));
            prop_assert_eq!(segments.last().map(|s| s.0.end), Some(range.end));
            for (segment, kind) in &segments {
                prop_assert!(segment.start < segment.end);
                let blacked_out = blackouts.iter().any(|b| b.overlaps(segment));
                let booked = bookings.iter().any(|b| b.overlaps(segment));
                match kind {
                    Availability::Free => {
                        prop_assert!(!blacked_out && !booked);
                        prop_assert!(opening.covers(segment, cst()));
                    }
                    Availability::Booked => prop_assert!(!blacked_out),
                    Availability::Closed => prop_assert!(!blacked_out && !booked),
                    Availability::Blackout => prop_assert!(blacked_out),
                }
            }
            for pair in segments.windows(2) {
                if let [(a, ka), (b, kb)] = pair {
                    prop_assert_eq!(a.end, b.start);
                    prop_assert_ne!(ka, kb);
                }
            }
        }

        #[test]
        fn an_accepted_booking_never_overlaps_an_existing_one(
            request in any_slot_window(),
            existing in proptest::collection::vec(prop_oneof![any_slot_window(), any_window(300)], 0..6),
        ) {
            let mut s = Scenario::new();
            s.rules.lead_minutes = Some(0);
            s.now = monday(0, 0);
            s.request.window = request;
            s.existing = existing;
            if s.check().is_ok() {
                prop_assert!(s.existing.iter().all(|e| !e.overlaps(&request)));
            }
            if s.existing.is_empty() && s.opening.covers(&request, cst()) && request.minutes() <= 240 {
                prop_assert!(s.check().is_ok());
            }
        }

        #[test]
        fn no_step_leaves_a_finished_booking(
            from in proptest::sample::select(BookingStatus::ALL.to_vec()),
            action in prop_oneof![
                Just(BookingAction::Approve),
                Just(reject("设备故障")),
                Just(BookingAction::Cancel),
                Just(BookingAction::CheckIn),
                Just(BookingAction::CheckOut),
                Just(BookingAction::MarkNoShow),
                Just(BookingAction::Expire),
            ],
            minutes in -3000i64..3000,
        ) {
            let w = window(monday(9, 0), monday(10, 0));
            let now = shift(monday(9, 0), minutes);
            let result = transition(from, &action, &w, &Policy::default(), now);
            if !from.blocks_slot() {
                let is_invalid = matches!(result, Err(TransitionError::InvalidTransition { .. }));
                prop_assert!(is_invalid);
            }
            if let Ok(next) = result {
                let arrows = [
                    (Pending, Approved), (Pending, Rejected), (Pending, Cancelled), (Pending, Expired),
                    (Approved, Cancelled), (Approved, InUse), (Approved, NoShow), (InUse, Completed),
                ];
                prop_assert!(arrows.contains(&(from, next)));
            }
        }
    }
}
