//! When an instrument can be booked: booking rules, weekly opening hours,
//! blackouts, and the availability derived from them and the bookings.

use crate::auth::Bearer;
use crate::dto::instant;
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, Id, Query};
use crate::routes::{allow, audit, instruments::load_visible};
use crate::state::{AppState, Ctx};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc, Weekday};
use labshare_domain::access::{Action, Resource};
use labshare_domain::booking::{
    availability, Availability, BlackoutKind, BookingRules, OpeningHours, OpeningInterval, TimeWindow,
};
use labshare_domain::InstrumentId;
use labshare_persistence::schedule::{self as repo, Blackout};
use labshare_persistence::{bookings, lock_row, DbConn, Lockable};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// The longest range one availability request may cover.
pub const MAX_AVAILABILITY_DAYS: i64 = 31;

/// How an instrument is booked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct BookingRulesView {
    /// Bookings start and end on multiples of this many minutes from local midnight.
    #[schema(example = 30)]
    pub slot_minutes: i64,
    #[schema(example = 30)]
    pub min_minutes: i64,
    #[schema(example = 240)]
    pub max_minutes: i64,
    /// How long before its start a booking must be made; absent: the policy's (24 h).
    #[schema(example = 1440)]
    pub lead_minutes: Option<i64>,
    /// How far ahead a booking may start.
    #[schema(example = 30)]
    pub horizon_days: i64,
    /// Approve bookings of qualified users without a manager.
    #[schema(example = false)]
    pub auto_approve: bool,
}

impl From<BookingRules> for BookingRulesView {
    fn from(r: BookingRules) -> Self {
        Self {
            slot_minutes: r.slot_minutes,
            min_minutes: r.min_minutes,
            max_minutes: r.max_minutes,
            lead_minutes: r.lead_minutes,
            horizon_days: r.horizon_days,
            auto_approve: r.auto_approve,
        }
    }
}

impl From<BookingRulesView> for BookingRules {
    fn from(r: BookingRulesView) -> Self {
        Self {
            slot_minutes: r.slot_minutes,
            min_minutes: r.min_minutes,
            max_minutes: r.max_minutes,
            lead_minutes: r.lead_minutes,
            horizon_days: r.horizon_days,
            auto_approve: r.auto_approve,
        }
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl From<Day> for Weekday {
    fn from(d: Day) -> Self {
        match d {
            Day::Mon => Weekday::Mon,
            Day::Tue => Weekday::Tue,
            Day::Wed => Weekday::Wed,
            Day::Thu => Weekday::Thu,
            Day::Fri => Weekday::Fri,
            Day::Sat => Weekday::Sat,
            Day::Sun => Weekday::Sun,
        }
    }
}

impl From<Weekday> for Day {
    fn from(d: Weekday) -> Self {
        match d {
            Weekday::Mon => Day::Mon,
            Weekday::Tue => Day::Tue,
            Weekday::Wed => Day::Wed,
            Weekday::Thu => Day::Thu,
            Weekday::Fri => Day::Fri,
            Weekday::Sat => Day::Sat,
            Weekday::Sun => Day::Sun,
        }
    }
}

/// One opening interval, local time (Asia/Shanghai).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningIntervalView {
    pub weekday: Day,
    /// `HH:MM`, local time.
    #[schema(example = "08:30")]
    pub opens: String,
    /// `HH:MM`, local time; `24:00` for midnight at the end of the day.
    #[schema(example = "17:30")]
    pub closes: String,
}

/// The weekly opening hours of an instrument; none means closed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct OpeningHoursView {
    #[validate(length(max = 70))]
    pub intervals: Vec<OpeningIntervalView>,
}

fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn parse_hhmm(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

impl From<OpeningHours> for OpeningHoursView {
    fn from(o: OpeningHours) -> Self {
        Self {
            intervals: o
                .intervals
                .into_iter()
                .map(|i| OpeningIntervalView {
                    weekday: i.weekday.into(),
                    opens: hhmm(i.opens_minute),
                    closes: hhmm(i.closes_minute),
                })
                .collect(),
        }
    }
}

fn parse_opening(v: OpeningHoursView) -> Result<OpeningHours, ApiError> {
    let mut problems = Vec::new();
    let mut intervals = Vec::new();
    for (i, iv) in v.intervals.into_iter().enumerate() {
        let opens = parse_hhmm(&iv.opens);
        let closes = parse_hhmm(&iv.closes);
        if opens.is_none() {
            problems.push(FieldProblem::body(
                format!("/intervals/{i}/opens"),
                "time",
                "must be HH:MM",
            ));
        }
        if closes.is_none() {
            problems.push(FieldProblem::body(
                format!("/intervals/{i}/closes"),
                "time",
                "must be HH:MM (24:00 allowed)",
            ));
        }
        if let (Some(opens_minute), Some(closes_minute)) = (opens, closes) {
            intervals.push(OpeningInterval {
                weekday: iv.weekday.into(),
                opens_minute,
                closes_minute,
            });
        }
    }
    crate::dto::no_problems(problems)?;
    let hours = OpeningHours { intervals };
    // The domain names `intervals/{i}/opens_minute`; the API calls them `opens`/`closes`.
    hours.check().map_err(|e| {
        ApiError::Validation(
            e.0.into_iter()
                .map(|v| {
                    let field = v
                        .field
                        .replace("opens_minute", "opens")
                        .replace("closes_minute", "closes");
                    FieldProblem::body(format!("/{field}"), v.rule, v.message)
                })
                .collect(),
        )
    })?;
    Ok(hours)
}

/// A blackout of an instrument.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlackoutView {
    #[schema(example = 3)]
    pub id: i64,
    #[schema(example = 7)]
    pub instrument_id: i64,
    #[schema(schema_with = crate::dto::enums::blackout_kind)]
    pub kind: BlackoutKind,
    #[schema(example = "年度预防性维护")]
    pub reason: String,
    #[schema(example = "2026-12-01T01:00:00Z")]
    pub starts_at: DateTime<Utc>,
    #[schema(example = "2026-12-01T09:00:00Z")]
    pub ends_at: DateTime<Utc>,
    #[schema(example = 5)]
    pub created_by: i64,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-11-27T03:00:00Z")]
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl From<Blackout> for BlackoutView {
    fn from(b: Blackout) -> Self {
        Self {
            id: b.id,
            instrument_id: b.instrument_id.0,
            kind: b.kind,
            reason: b.reason,
            starts_at: b.window.start,
            ends_at: b.window.end,
            created_by: b.created_by.0,
            created_at: instant(b.created_at),
            cancelled_at: b.cancelled_at.map(instant),
        }
    }
}

/// A new blackout.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct BlackoutInput {
    #[schema(schema_with = crate::dto::enums::blackout_kind)]
    pub kind: BlackoutKind,
    /// Why the instrument is unavailable, 1–200 characters.
    #[validate(length(min = 1, max = 200))]
    #[schema(example = "年度预防性维护")]
    pub reason: String,
    #[schema(example = "2026-12-01T01:00:00Z")]
    pub starts_at: DateTime<Utc>,
    #[schema(example = "2026-12-01T09:00:00Z")]
    pub ends_at: DateTime<Utc>,
}

/// A time range of a request.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Start of the range (RFC 3339).
    pub from: DateTime<Utc>,
    /// End of the range (RFC 3339), at most 31 days after `from`.
    pub to: DateTime<Utc>,
}

impl RangeQuery {
    fn window(&self) -> Result<TimeWindow, ApiError> {
        let bad = |m: &str| ApiError::InvalidParameter(vec![FieldProblem::parameter("to", "range", m)]);
        if self.to <= self.from {
            return Err(bad("must be after `from`"));
        }
        if self.to - self.from > chrono::Duration::days(MAX_AVAILABILITY_DAYS) {
            return Err(bad("at most 31 days after `from`"));
        }
        TimeWindow::new(self.from, self.to).map_err(|e| bad(&e.to_string()))
    }
}

/// One stretch of an instrument's time.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AvailabilityInterval {
    #[schema(example = "2026-12-01T00:30:00Z")]
    pub starts_at: DateTime<Utc>,
    #[schema(example = "2026-12-01T04:00:00Z")]
    pub ends_at: DateTime<Utc>,
    /// `free`, or why it is busy: `closed`, `blackout`, `booked`.
    #[schema(example = "free")]
    pub state: String,
}

/// Free and busy time of an instrument, without anyone's personal details.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AvailabilityView {
    #[schema(example = 7)]
    pub instrument_id: i64,
    pub intervals: Vec<AvailabilityInterval>,
}

/// The list of an instrument's blackouts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BlackoutList {
    pub items: Vec<BlackoutView>,
}

fn state_name(a: &Availability) -> &'static str {
    match a {
        Availability::Free => "free",
        Availability::Closed => "closed",
        Availability::Blackout => "blackout",
        Availability::Booked => "booked",
    }
}

/// Read the booking rules of an instrument.
///
/// Slot length, shortest and longest booking, lead time, horizon and whether bookings are approved automatically: what every booking of the instrument is checked against.
#[utoipa::path(get, path = "/api/v1/instruments/{id}/booking-rules", tag = "schedule", operation_id = "getBookingRules",
    params(("id" = i64, Path, description = "Instrument id")),
    responses((status = 200, description = "The rules", body = BookingRulesView)),
    security(("bearer" = [])))]
pub async fn get_rules(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
) -> Result<web::Json<BookingRulesView>, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| {
            let i = load_visible(c, ctx, InstrumentId(id.0))?;
            Ok(repo::rules(c, i.value.instrument.id)?.into())
        })
        .await?;
    Ok(web::Json(view))
}

/// Set the booking rules of an instrument.
///
/// Its managers, its unit's admin, or the platform office.
#[utoipa::path(put, path = "/api/v1/instruments/{id}/booking-rules", tag = "schedule", operation_id = "setBookingRules",
    params(("id" = i64, Path, description = "Instrument id")),
    request_body = BookingRulesView,
    responses((status = 200, description = "The rules", body = BookingRulesView)),
    security(("bearer" = [])))]
pub async fn set_rules(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<BookingRulesView>,
) -> Result<web::Json<BookingRulesView>, ApiError> {
    let rules: BookingRules = body.0.into();
    rules.check()?;
    let view = state
        .write(&bearer, move |c, ctx| {
            let id = InstrumentId(id.0);
            lock_row(c, Lockable::Instruments, id.0)?;
            let i = load_visible(c, ctx, id)?;
            allow(ctx, Action::ManageSchedule, &Resource::Instrument(&i.value.access()))?;
            let before = BookingRulesView::from(repo::rules(c, id)?);
            repo::set_rules(c, id, &rules)?;
            let after = BookingRulesView::from(repo::rules(c, id)?);
            audit(
                c,
                ctx,
                "instrument.booking_rules",
                "instrument",
                id.0,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

/// Read the weekly opening hours of an instrument.
///
/// The weekly windows, in local time (+08:00), in which the instrument can be booked.
#[utoipa::path(get, path = "/api/v1/instruments/{id}/opening-hours", tag = "schedule", operation_id = "getOpeningHours",
    params(("id" = i64, Path, description = "Instrument id")),
    responses((status = 200, description = "The opening hours", body = OpeningHoursView)),
    security(("bearer" = [])))]
pub async fn get_opening(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
) -> Result<web::Json<OpeningHoursView>, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| {
            let i = load_visible(c, ctx, InstrumentId(id.0))?;
            Ok(repo::opening_hours(c, i.value.instrument.id)?.into())
        })
        .await?;
    Ok(web::Json(view))
}

/// Replace the weekly opening hours of an instrument.
///
/// Local time (Asia/Shanghai). Existing bookings are kept.
#[utoipa::path(put, path = "/api/v1/instruments/{id}/opening-hours", tag = "schedule", operation_id = "setOpeningHours",
    params(("id" = i64, Path, description = "Instrument id")),
    request_body = OpeningHoursView,
    responses((status = 200, description = "The opening hours", body = OpeningHoursView)),
    security(("bearer" = [])))]
pub async fn set_opening(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<OpeningHoursView>,
) -> Result<web::Json<OpeningHoursView>, ApiError> {
    let hours = parse_opening(body.0)?;
    let view = state
        .write(&bearer, move |c, ctx| {
            let id = InstrumentId(id.0);
            lock_row(c, Lockable::Instruments, id.0)?;
            let i = load_visible(c, ctx, id)?;
            allow(ctx, Action::ManageSchedule, &Resource::Instrument(&i.value.access()))?;
            let before = OpeningHoursView::from(repo::opening_hours(c, id)?);
            repo::set_opening_hours(c, id, &hours)?;
            let after = OpeningHoursView::from(repo::opening_hours(c, id)?);
            audit(
                c,
                ctx,
                "instrument.opening_hours",
                "instrument",
                id.0,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

/// Announce a blackout (maintenance, calibration, repair).
///
/// Its managers, its unit's admin, or the platform office. Bookings already
/// made in the window are not cancelled here; new ones are refused.
#[utoipa::path(post, path = "/api/v1/instruments/{id}/blackouts", tag = "schedule", operation_id = "createBlackout",
    params(("id" = i64, Path, description = "Instrument id")),
    request_body = BlackoutInput,
    responses((status = 201, description = "Created", body = BlackoutView)),
    security(("bearer" = [])))]
pub async fn create_blackout(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<BlackoutInput>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    if labshare_domain::service::contains_resident_id(&b.reason) {
        // The reason is published in the instrument's calendar feed.
        return Err(ApiError::Validation(vec![FieldProblem::body(
            "/reason",
            "resident_id",
            "must not contain a resident identity number",
        )]));
    }
    if b.reason.trim().is_empty() {
        return Err(ApiError::Validation(vec![FieldProblem::body(
            "/reason",
            "required",
            "must not be blank",
        )]));
    }
    let window = TimeWindow::new(b.starts_at, b.ends_at)
        .map_err(|e| ApiError::Validation(vec![FieldProblem::body("/ends_at", "date_order", e.to_string())]))?;
    let view = state
        .write(&bearer, move |c, ctx| {
            let id = InstrumentId(id.0);
            let i = load_visible(c, ctx, id)?;
            allow(ctx, Action::ManageSchedule, &Resource::Instrument(&i.value.access()))?;
            let stored = repo::insert_blackout(c, id, b.kind, &b.reason, &window, ctx.actor.user_id, ctx.now_naive())?;
            let view = BlackoutView::from(stored);
            audit(c, ctx, "blackout.create", "blackout", view.id, None::<&()>, Some(&view))?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// List an instrument's blackouts in a time range.
///
/// Blackouts (maintenance, repair, calibration) overlapping the range, cancelled ones included with their state, for anyone who may see the instrument.
#[utoipa::path(get, path = "/api/v1/instruments/{id}/blackouts", tag = "schedule", operation_id = "listBlackouts",
    params(("id" = i64, Path, description = "Instrument id"), RangeQuery),
    responses((status = 200, description = "The blackouts overlapping the range", body = BlackoutList)),
    security(("bearer" = [])))]
pub async fn list_blackouts(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    query: Query<RangeQuery>,
) -> Result<web::Json<BlackoutList>, ApiError> {
    let range = query.0.window()?;
    let items = state
        .read(&bearer, move |c, ctx| {
            let i = load_visible(c, ctx, InstrumentId(id.0))?;
            Ok(repo::blackouts_between(c, i.value.instrument.id, &range)?)
        })
        .await?;
    Ok(web::Json(BlackoutList {
        items: items.into_iter().map(BlackoutView::from).collect(),
    }))
}

/// Cancel a blackout.
///
/// The instrument's managers or its unit admin lift an announced blackout; the time becomes bookable again and assessment no longer deducts it.
#[utoipa::path(post, path = "/api/v1/blackouts/{id}/cancel", tag = "schedule", operation_id = "cancelBlackout",
    params(("id" = i64, Path, description = "Blackout id")),
    responses((status = 200, description = "The cancelled blackout", body = BlackoutView),
              (status = 409, description = "The blackout is already cancelled", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cancel_blackout(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
) -> Result<web::Json<BlackoutView>, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| {
            let before = repo::get_blackout(c, id.0)?;
            let i = load_visible(c, ctx, before.instrument_id)?;
            allow(ctx, Action::ManageSchedule, &Resource::Instrument(&i.value.access()))?;
            if before.cancelled_at.is_some() {
                return Err(ApiError::conflict(
                    "blackout-cancelled",
                    "the blackout is already cancelled",
                ));
            }
            let after = BlackoutView::from(repo::cancel_blackout(c, id.0, ctx.now_naive())?);
            audit(
                c,
                ctx,
                "blackout.cancel",
                "blackout",
                id.0,
                Some(&BlackoutView::from(before)),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

/// Free and busy time of an instrument.
///
/// Busy time is `closed` (outside opening hours), `blackout` or `booked`;
/// whose bookings they are is not shown.
#[utoipa::path(get, path = "/api/v1/instruments/{id}/availability", tag = "schedule", operation_id = "getAvailability",
    params(("id" = i64, Path, description = "Instrument id"), RangeQuery),
    responses((status = 200, description = "Consecutive intervals covering the range", body = AvailabilityView)),
    security(("bearer" = [])))]
pub async fn get_availability(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    query: Query<RangeQuery>,
) -> Result<web::Json<AvailabilityView>, ApiError> {
    let range = query.0.window()?;
    let view = state
        .read(&bearer, move |c, ctx| availability_in(c, ctx, id.0, &range))
        .await?;
    Ok(web::Json(view))
}

/// The transaction of [`get_availability`].
///
/// # Errors
/// 404 for an instrument the actor may not see; a database error.
pub fn availability_in(c: &mut DbConn, ctx: &Ctx, id: i64, range: &TimeWindow) -> Result<AvailabilityView, ApiError> {
    let i = load_visible(c, ctx, InstrumentId(id))?;
    let id = i.value.instrument.id;
    let opening = repo::opening_hours(c, id)?;
    let blackouts: Vec<TimeWindow> = repo::blackouts_between(c, id, range)?
        .into_iter()
        .map(|b| b.window)
        .collect();
    let booked = bookings::blocking_between(c, id, range)?;
    let intervals = availability(range, &opening, &blackouts, &booked, ctx.policy.local_offset())
        .into_iter()
        .map(|(w, a)| AvailabilityInterval {
            starts_at: w.start,
            ends_at: w.end,
            state: state_name(&a).into(),
        })
        .collect();
    Ok(AvailabilityView {
        instrument_id: id.0,
        intervals,
    })
}
