//! `/api/v1/bookings`: booking instrument time (预约), and its life from
//! approval to check-out.

use crate::auth::Bearer;
use crate::billing;
use crate::dto::{instant, page_args};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::routes::{allow, audit, request_readers, RequestReaders};
use crate::state::{AppState, Ctx};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::{Action, Actor, BookingAccess, Resource};
use labshare_domain::booking::{
    cancellation_costs_fee, check_booking, transition, BookingAction, BookingContext, BookingError, BookingRequest,
    BookingStatus, TimeWindow, TransitionError,
};
use labshare_domain::catalogue::ServiceMode;
use labshare_domain::fees::ChargeBasis;
use labshare_domain::listing::ListingStatus;
use labshare_domain::qualification::{biosafety_level_on, qualified_on};
use labshare_domain::{InstitutionId, InstrumentId, UserId};
use labshare_persistence::bookings::{self as repo, Booking, Change, NewBooking};
use labshare_persistence::error::ConflictKind;
use labshare_persistence::{instruments, labs, qualifications, schedule, users, DbConn, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A booking as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BookingView {
    #[schema(example = 12)]
    pub id: i64,
    #[schema(example = 7)]
    pub instrument_id: i64,
    #[schema(example = 6)]
    pub user_id: i64,
    /// The booker's institution.
    #[schema(example = 3)]
    pub institution_id: i64,
    #[schema(schema_with = crate::dto::enums::service_mode)]
    pub mode: ServiceMode,
    #[schema(example = "血清维生素D检测方法学验证")]
    pub purpose: String,
    #[schema(example = "2026-12-02T01:00:00Z")]
    pub starts_at: DateTime<Utc>,
    #[schema(example = "2026-12-02T03:00:00Z")]
    pub ends_at: DateTime<Utc>,
    #[schema(schema_with = crate::dto::enums::booking_status)]
    pub status: BookingStatus,
    #[schema(example = 5)]
    pub decided_by: Option<i64>,
    #[schema(example = "2026-11-26T05:00:00Z")]
    pub decided_at: Option<DateTime<Utc>>,
    /// Why it was rejected.
    #[schema(example = "该时段需要技术人员全程陪同")]
    pub reason: Option<String>,
    /// Cancelled less than 24 h before its start: the booked fee is due.
    #[schema(example = false)]
    pub late_cancellation: bool,
    #[schema(example = "2026-12-02T00:55:00Z")]
    pub checked_in_at: Option<DateTime<Utc>>,
    #[schema(example = "2026-12-02T03:05:00Z")]
    pub checked_out_at: Option<DateTime<Utc>>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl From<Booking> for BookingView {
    fn from(b: Booking) -> Self {
        Self {
            id: b.id,
            instrument_id: b.instrument_id.0,
            user_id: b.user_id.0,
            institution_id: b.institution_id.0,
            mode: b.mode,
            purpose: b.purpose,
            starts_at: b.window.start,
            ends_at: b.window.end,
            status: b.status,
            decided_by: b.decided_by.map(|u| u.0),
            decided_at: b.decided_at.map(instant),
            reason: b.reason,
            late_cancellation: b.late_cancellation,
            checked_in_at: b.checked_in_at.map(instant),
            checked_out_at: b.checked_out_at.map(instant),
            created_at: instant(b.created_at),
            updated_at: instant(b.updated_at),
        }
    }
}

/// A booking request.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct BookingInput {
    #[schema(example = 7)]
    pub instrument_id: i64,
    /// RFC 3339 with offset; on a slot boundary of the instrument.
    #[schema(example = "2026-12-02T09:00:00+08:00")]
    pub starts_at: DateTime<Utc>,
    #[schema(example = "2026-12-02T11:00:00+08:00")]
    pub ends_at: DateTime<Utc>,
    #[schema(schema_with = crate::dto::enums::service_mode)]
    pub mode: ServiceMode,
    /// What the time is for, 1–500 characters.
    #[schema(example = "血清维生素D检测方法学验证")]
    pub purpose: String,
    /// Book for another person of one's own institution: a unit admin — or
    /// a hospital system's service account holding that role — books for a
    /// researcher. The booking, the rules it is checked against
    /// (qualifications, suspension, tier) and its charges are that person's.
    /// Absent: for oneself.
    #[serde(default)]
    #[schema(example = 6)]
    pub for_user_id: Option<i64>,
}

/// A rejection, with its reason.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    #[validate(length(min = 1, max = 500))]
    #[schema(example = "该时段需要技术人员全程陪同")]
    pub reason: String,
}

page_type!(BookingPage, BookingView);

/// Filters of the booking list; the list holds only bookings the reader may see.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BookingQuery {
    /// Only the reader's own bookings.
    pub mine: Option<bool>,
    /// The manager's queue: pending bookings of the instruments the reader runs.
    pub queue: Option<bool>,
    pub user_id: Option<i64>,
    pub instrument_id: Option<i64>,
    /// Bookings made by members of this institution.
    pub institution_id: Option<i64>,
    /// Bookings of instruments owned by this institution.
    pub owner_institution_id: Option<i64>,
    #[param(schema_with = crate::dto::enums::booking_status)]
    pub status: Option<BookingStatus>,
    /// Bookings ending after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Bookings starting before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<BookingError> for ApiError {
    fn from(e: BookingError) -> Self {
        use BookingError as E;
        let (status, kind) = match &e {
            E::NotBookable => (StatusCode::CONFLICT, "booking-not-bookable"),
            E::NotShared => (StatusCode::FORBIDDEN, "booking-not-shared"),
            E::ModeNotOffered => (StatusCode::UNPROCESSABLE_ENTITY, "booking-mode-not-offered"),
            E::InvalidWindow => (StatusCode::UNPROCESSABLE_ENTITY, "booking-invalid-window"),
            E::PurposeRequired => (StatusCode::UNPROCESSABLE_ENTITY, "booking-purpose-required"),
            E::Misaligned { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "booking-misaligned"),
            E::TooShort { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "booking-too-short"),
            E::TooLong { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "booking-too-long"),
            E::TooEarly { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "booking-too-early"),
            E::TooLate { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "booking-too-late"),
            E::OutsideOpeningHours => (StatusCode::CONFLICT, "booking-outside-opening-hours"),
            E::Blackout => (StatusCode::CONFLICT, "booking-blackout"),
            E::Overlap => (StatusCode::CONFLICT, "booking-overlap"),
            E::NotQualified => (StatusCode::FORBIDDEN, "booking-not-qualified"),
            E::Biosafety { .. } => (StatusCode::FORBIDDEN, "booking-biosafety"),
            E::Suspended { .. } => (StatusCode::FORBIDDEN, "booking-suspended"),
        };
        ApiError::Refused {
            status,
            kind,
            detail: e.to_string(),
        }
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        use TransitionError as E;
        match &e {
            E::InvalidTransition { .. } => ApiError::conflict("booking-transition", e.to_string()),
            E::ReasonRequired => ApiError::Validation(vec![FieldProblem::body("/reason", "required", e.to_string())]),
            E::CheckInNotOpen { .. } => ApiError::conflict("booking-check-in-not-open", e.to_string()),
            E::TooEarlyForNoShow { .. } => ApiError::conflict("booking-too-early-for-no-show", e.to_string()),
            E::NotStartedYet => ApiError::conflict("booking-not-started", e.to_string()),
            E::AlreadyStarted => ApiError::conflict("booking-already-started", e.to_string()),
        }
    }
}

fn overlap_as_problem(e: RepoError) -> ApiError {
    match e {
        RepoError::Conflict {
            kind: ConflictKind::Exclusion,
            ..
        } => BookingError::Overlap.into(),
        other => other.into(),
    }
}

/// Book instrument time.
///
/// Accepted only within the instrument's rules (DESIGN.md §3): listed and
/// shared with the booker, inside opening hours, outside blackouts, on
/// slot boundaries, between the minimum and maximum length, between the
/// lead time and the horizon, qualified (self-operated) and biosafety-cleared
/// (BSL2+ labs), not suspended, and overlapping no other booking — which the
/// database guarantees under concurrent requests. Each refusal has its own
/// problem `type`. Approved at once where the instrument auto-approves.
#[utoipa::path(post, path = "/api/v1/bookings", tag = "bookings", operation_id = "createBooking",
    request_body = BookingInput,
    responses((status = 201, description = "Booked (pending or approved)", body = BookingView),
              (status = 409, description = "Slot taken, outside opening hours, in a blackout, or the instrument is not bookable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<BookingInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let window = TimeWindow::new(i.starts_at, i.ends_at)?;
    let view = state
        .write(&bearer, move |c, ctx| create_in(c, ctx, &i, window))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The transaction of [`create`]: checks the request against the
/// instrument's rules and the bookings in place, and writes the booking.
///
/// # Errors
/// What `POST /api/v1/bookings` answers besides 401.
pub fn create_in(c: &mut DbConn, ctx: &Ctx, i: &BookingInput, window: TimeWindow) -> Result<BookingView, ApiError> {
    let id = InstrumentId(i.instrument_id);
    let no_such = || {
        ApiError::Validation(vec![FieldProblem::body(
            "/instrument_id",
            "exists",
            "no such instrument",
        )])
    };
    let rec = match instruments::get(c, id) {
        Err(RepoError::NotFound) => return Err(no_such()),
        other => other?,
    };
    if !labshare_domain::access::can(
        &ctx.actor,
        Action::ReadInstrument,
        &Resource::Instrument(&rec.value.access()),
    ) {
        // A listed instrument is public knowledge; one still unpublished does not exist for the booker.
        return Err(if rec.value.instrument.listing_status == ListingStatus::Approved {
            BookingError::NotShared.into()
        } else {
            no_such()
        });
    }
    let booker = booker(c, ctx, i.for_user_id)?;
    if !labshare_domain::access::can(&booker, Action::Book, &Resource::Instrument(&rec.value.access())) {
        return Err(match i.for_user_id {
            Some(_) => ApiError::Validation(vec![FieldProblem::body(
                "/for_user_id",
                "may_book",
                "this person may not book this instrument",
            )]),
            None => ApiError::Forbidden,
        });
    }
    // Bookers of one instrument queue here, so each sees the others'
    // committed bookings (on PostgreSQL two racing inserts could
    // otherwise deadlock on the exclusion constraint).
    labshare_persistence::lock_row(c, labshare_persistence::Lockable::Instruments, id.0)?;
    let lab = labs::get(c, rec.value.instrument.lab_id)?;
    let rules = schedule::rules(c, id)?;
    let opening = schedule::opening_hours(c, id)?;
    let blackouts: Vec<TimeWindow> = schedule::blackouts_between(c, id, &window)?
        .into_iter()
        .map(|b| b.window)
        .collect();
    let existing = repo::blocking_between(c, id, &window)?;
    let quals = qualifications::of_user(c, booker.user_id)?;
    // The whole history: each no-show counts towards one suspension only.
    let since = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let no_shows = repo::no_shows_since(c, booker.user_id, since)?;
    let start_day = window.start.with_timezone(&ctx.policy.local_offset()).date_naive();
    let booking_ctx = BookingContext {
        instrument: &rec.value.instrument,
        rules: &rules,
        opening: &opening,
        lab_biosafety: lab.value.data.biosafety_level,
        blackouts: &blackouts,
        existing: &existing,
        qualified: qualified_on(&quals, id, start_day),
        biosafety: biosafety_level_on(&quals, start_day),
        no_shows: &no_shows,
    };
    let request = BookingRequest {
        user_institution: booker.institution_id,
        user_member: booker.member,
        mode: i.mode,
        window,
        purpose: i.purpose.clone(),
    };
    let accepted = check_booking(&request, &booking_ctx, &ctx.policy, ctx.now)?;
    let new = NewBooking {
        instrument_id: id,
        user_id: booker.user_id,
        institution_id: booker.institution_id,
        mode: i.mode,
        purpose: &i.purpose,
        window,
        status: accepted.status,
    };
    let booking = repo::insert(c, &new, ctx.now_naive()).map_err(overlap_as_problem)?;
    let view = BookingView::from(booking);
    audit(c, ctx, "booking.create", "booking", view.id, None::<&()>, Some(&view))?;
    Ok(view)
}

/// Who a new booking is for: the actor, or a person of an institution the
/// actor administers (`for_user_id`).
fn booker(c: &mut DbConn, ctx: &Ctx, for_user_id: Option<i64>) -> Result<Actor, ApiError> {
    let Some(id) = for_user_id.filter(|id| *id != ctx.actor.user_id.0) else {
        return Ok(ctx.actor.clone());
    };
    let problem =
        |rule: &str, message: &str| ApiError::Validation(vec![FieldProblem::body("/for_user_id", rule, message)]);
    // Whether the actor books for anyone at all (its own institution's people).
    allow(ctx, Action::BookFor, &Resource::Institution(ctx.actor.institution_id))?;
    // An unknown account and one of an institution the actor does not
    // administer answer alike: the id tells nothing about other institutions.
    let user = match users::get(c, UserId(id)) {
        Err(RepoError::NotFound) => None,
        other => Some(other?),
    }
    .filter(|u| {
        labshare_domain::access::can(
            &ctx.actor,
            Action::BookFor,
            &Resource::Institution(u.value.institution_id),
        )
    })
    .ok_or_else(|| {
        problem(
            "person_of_your_institution",
            "no such person in an institution you administer",
        )
    })?;
    if user.value.service_account || !user.value.active {
        return Err(problem(
            "person",
            "bookings are made for an active person, not a service account",
        ));
    }
    match users::actor(c, user.value.id) {
        Err(RepoError::NotFound) => Err(problem("person", "the account is deactivated")),
        other => Ok(other?),
    }
}

fn access(c: &mut DbConn, b: &Booking) -> Result<BookingAccess, ApiError> {
    let instrument = instruments::get(c, b.instrument_id)?;
    Ok(BookingAccess {
        user_id: b.user_id,
        institution_id: b.institution_id,
        instrument: instrument.value.access(),
    })
}

/// Loads a booking the actor may read; others do not exist for it.
pub(crate) fn load_readable(c: &mut DbConn, ctx: &Ctx, id: i64) -> Result<(Booking, BookingAccess), ApiError> {
    let b = repo::get(c, id)?;
    let a = access(c, &b)?;
    if labshare_domain::access::can(&ctx.actor, Action::ReadBooking, &Resource::Booking(&a)) {
        Ok((b, a))
    } else {
        Err(ApiError::NotFound)
    }
}

/// Read a booking.
///
/// Visible to the booker, the instrument's managers, the booker's and the owner's unit admins, the platform office, the commission and regulators.
#[utoipa::path(get, path = "/api/v1/bookings/{id}", tag = "bookings", operation_id = "getBooking",
    params(("id" = i64, Path, description = "Booking id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The booking", body = BookingView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view: BookingView = state
        .read(&bearer, move |c, ctx| Ok(load_readable(c, ctx, id.0)?.0.into()))
        .await?;
    pre.read(&view)
}

/// List bookings.
///
/// A researcher sees its own; a manager also those of the instruments it
/// runs (`queue=true`: the pending ones); a unit admin also those its
/// members made and those on its instruments; the platform office,
/// commission and regulators all. Filter by institution and time window
/// for integration.
#[utoipa::path(get, path = "/api/v1/bookings", tag = "bookings", operation_id = "listBookings",
    params(BookingQuery),
    responses((status = 200, description = "A page of bookings", body = BookingPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<BookingQuery>,
) -> Result<web::Json<BookingPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let a = &ctx.actor;
            let RequestReaders { visible_to, runs } = request_readers(c, ctx)?;
            let queue = q.queue == Some(true);
            let filter = repo::Filter {
                user_id: if q.mine == Some(true) {
                    Some(a.user_id)
                } else {
                    q.user_id.map(UserId)
                },
                instrument_ids: queue.then_some(runs),
                instrument_id: q.instrument_id.map(InstrumentId),
                institution_id: q.institution_id.map(InstitutionId),
                owner_institution_id: q.owner_institution_id.map(InstitutionId),
                status: if queue { Some(BookingStatus::Pending) } else { q.status },
                from: crate::dto::bounded_instant("from", q.from)?,
                to: crate::dto::bounded_instant("to", q.to)?,
                visible_to,
                after,
                limit,
            };
            Ok(repo::list(c, &filter)?)
        })
        .await?;
    Ok(web::Json(BookingPage::from_page(page, BookingView::from)))
}

/// Applies a transition for the actor: permission, state machine, write, audit.
///
/// # Errors
/// What the transition endpoints answer besides 401.
pub fn step(c: &mut DbConn, ctx: &Ctx, id: i64, action: BookingAction) -> Result<BookingView, ApiError> {
    let (before, a) = load_readable(c, ctx, id)?;
    let (permission, name) = match &action {
        BookingAction::Approve => (Action::DecideBooking, "booking.approve"),
        BookingAction::Reject { .. } => (Action::DecideBooking, "booking.reject"),
        BookingAction::Cancel => (Action::CancelBooking, "booking.cancel"),
        BookingAction::CheckIn => (Action::OperateBooking, "booking.check_in"),
        BookingAction::CheckOut => (Action::OperateBooking, "booking.check_out"),
        BookingAction::MarkNoShow => (Action::OperateBooking, "booking.no_show"),
        BookingAction::Expire => (Action::OperateBooking, "booking.expire"),
    };
    allow(ctx, permission, &Resource::Booking(&a))?;
    let to = transition(before.status, &action, &before.window, &ctx.policy, ctx.now)?;
    let now = ctx.now_naive();
    let change = match &action {
        BookingAction::Approve => Change {
            decided_by: Some(ctx.actor.user_id),
            decided_at: Some(now),
            ..Change::default()
        },
        BookingAction::Reject { reason } => Change {
            decided_by: Some(ctx.actor.user_id),
            decided_at: Some(now),
            reason: Some(reason.clone()),
            ..Change::default()
        },
        BookingAction::Cancel => Change {
            late_cancellation: Some(cancellation_costs_fee(
                labshare_domain::access::acts_for_booker(&ctx.actor, &a),
                before.status,
                &before.window,
                &ctx.policy,
                ctx.now,
            )),
            ..Change::default()
        },
        BookingAction::CheckIn => Change {
            checked_in_at: Some(now),
            ..Change::default()
        },
        BookingAction::CheckOut => Change {
            checked_out_at: Some(now),
            ..Change::default()
        },
        BookingAction::MarkNoShow | BookingAction::Expire => Change::default(),
    };
    let after = match repo::transition(c, id, before.status, to, &change, now) {
        Ok(b) => b,
        Err(RepoError::NotFound) => {
            return Err(ApiError::conflict(
                "booking-transition",
                "the booking changed meanwhile; read it again",
            ))
        }
        Err(e) => return Err(overlap_as_problem(e)),
    };
    match to {
        BookingStatus::Completed => {
            let usage = crate::routes::usage::record_check_out(c, ctx, &after)?;
            let basis = ChargeBasis::Usage {
                billed_minutes: usage.billed_minutes,
                mode: after.mode,
            };
            let event = billing::Event {
                usage_record_id: Some(usage.id),
                ..billing::Event::of_booking(&after, basis, usage.started_at)
            };
            billing::charge(c, &event, &ctx.policy, Some(ctx.actor.user_id), ctx.now)?;
        }
        BookingStatus::Cancelled if after.late_cancellation => {
            let event = billing::Event::of_missed_booking(&after, false);
            billing::charge(c, &event, &ctx.policy, Some(ctx.actor.user_id), ctx.now)?;
        }
        BookingStatus::NoShow => {
            let event = billing::Event::of_missed_booking(&after, true);
            billing::charge(c, &event, &ctx.policy, Some(ctx.actor.user_id), ctx.now)?;
        }
        _ => {}
    }
    let (before, after) = (BookingView::from(before), BookingView::from(after));
    audit(c, ctx, name, "booking", id, Some(&before), Some(&after))?;
    Ok(after)
}

macro_rules! transition_endpoint {
    ($fn:ident, $verb:literal, $op:literal, $summary:literal, $description:literal, $action:expr) => {
        #[doc = $summary]
        #[doc = ""]
        #[doc = $description]
        #[utoipa::path(post, path = concat!("/api/v1/bookings/{id}/", $verb), tag = "bookings", operation_id = $op,
            params(("id" = i64, Path, description = "Booking id")),
            responses((status = 200, description = "The booking after the step", body = BookingView),
                      (status = 409, description = "Not allowed from the booking's state or at this time", body = Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        pub async fn $fn(state: web::Data<AppState>, bearer: Bearer, id: Id) -> Result<web::Json<BookingView>, ApiError> {
            let view = state.write(&bearer, move |c, ctx| step(c, ctx, id.0, $action)).await?;
            Ok(web::Json(view))
        }
    };
}

transition_endpoint!(
    approve,
    "approve",
    "approveBooking",
    "Approve a pending booking (its instrument's managers or unit admin).",
    "A pending booking becomes approved; approval-free instruments confirm bookings at once.",
    BookingAction::Approve
);
transition_endpoint!(
    cancel,
    "cancel",
    "cancelBooking",
    "Cancel a booking (the booker or a manager); free until 24 h before the start, later the booked fee is due.",
    "A cancellation by the booker later than the free-cancellation window writes a late-cancellation charge in the same transaction; a manager's cancellation is free.",
    BookingAction::Cancel
);
transition_endpoint!(
    check_in,
    "check-in",
    "checkInBooking",
    "Check the user in: from 15 min before the start.",
    "The instrument's managers record that the user arrived; after the no-show window the booking can only be marked as a no-show.",
    BookingAction::CheckIn
);
transition_endpoint!(
    check_out,
    "check-out",
    "checkOutBooking",
    "Check the user out; the booking is completed.",
    "Writes the usage record (effective and billed minutes) and its charge, priced by the fee standard in force, in the same transaction.",
    BookingAction::CheckOut
);
transition_endpoint!(
    no_show,
    "no-show",
    "markBookingNoShow",
    "Record a no-show: 30 min after the start without check-in.",
    "Writes the no-show charge and counts towards the no-show limit that suspends booking; the sweep does the same unattended.",
    BookingAction::MarkNoShow
);

/// Reject a pending booking, with a reason.
///
/// The instrument's managers or its unit admin refuse a pending booking; the reason is shown to the booker and the slot is freed.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/reject", tag = "bookings", operation_id = "rejectBooking",
    params(("id" = i64, Path, description = "Booking id")),
    request_body = RejectInput,
    responses((status = 200, description = "The rejected booking", body = BookingView),
              (status = 409, description = "The booking is not pending", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reject(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<RejectInput>,
) -> Result<web::Json<BookingView>, ApiError> {
    let reason = body.0.reason;
    let view = state
        .write(&bearer, move |c, ctx| {
            step(c, ctx, id.0, BookingAction::Reject { reason })
        })
        .await?;
    Ok(web::Json(view))
}
