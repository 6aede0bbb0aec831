//! Ratings (DESIGN.md §3): a user rates a completed booking of their own,
//! 1 to 5 with a comment, once; anyone who may see the instrument reads its
//! ratings, without the rater's identity.
//!
//! Ratings of service orders come with the service orders themselves: the
//! store already takes them (a rating of kind `order`), and the same rules
//! ([`may_rate`], one per order) apply.

use crate::auth::Bearer;
use crate::dto::{instant, page_args};
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::routes::{audit, bookings::load_readable};
use crate::state::{AppState, Ctx};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::{can, instrument_visibility, Action, Resource};
use labshare_domain::booking::BookingStatus;
use labshare_domain::rating::{may_rate, RatedKind, RatingDraft, RatingError};
use labshare_domain::InstrumentId;
use labshare_persistence::error::ConflictKind;
use labshare_persistence::ratings::{self as repo, NewRating, Rated, Rating};
use labshare_persistence::RepoError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A rating as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RatingView {
    #[schema(example = 4)]
    pub id: i64,
    #[schema(schema_with = crate::dto::enums::rated_kind)]
    pub kind: RatedKind,
    /// The booking rated (kind `booking`).
    #[schema(example = 12)]
    pub booking_id: Option<i64>,
    /// The service order rated (kind `order`).
    #[schema(example = json!(null))]
    pub order_id: Option<i64>,
    #[schema(example = 7)]
    pub instrument_id: i64,
    /// Who rated: shown only to the rater, the platform office, the
    /// commission and regulators; absent for everyone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 6)]
    pub user_id: Option<i64>,
    /// 1 (poor) to 5 (excellent).
    #[schema(example = 5)]
    pub score: i32,
    #[schema(example = "技术人员讲解细致，数据当天可取")]
    pub comment: String,
    #[schema(example = "2026-12-02T04:00:00Z")]
    pub created_at: DateTime<Utc>,
}

impl RatingView {
    /// The rating as `ctx`'s actor may see it.
    fn for_reader(r: Rating, ctx: &Ctx) -> Self {
        let identified = can(
            &ctx.actor,
            Action::IdentifyRater,
            &Resource::Rating { rater: r.user_id },
        );
        Self {
            id: r.id,
            kind: r.kind,
            // The booking or order would name the rater to whoever may read it.
            booking_id: r.booking_id.filter(|_| identified),
            order_id: r.order_id.filter(|_| identified),
            instrument_id: r.instrument_id.0,
            user_id: identified.then_some(r.user_id.0),
            score: r.score,
            comment: r.comment,
            created_at: instant(r.created_at),
        }
    }
}

/// A rating as the user gives it.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RatingInput {
    /// 1 (poor) to 5 (excellent).
    #[schema(example = 5)]
    pub score: i32,
    /// At most 500 characters; may be empty; no resident identity numbers.
    #[serde(default)]
    #[schema(example = "技术人员讲解细致，数据当天可取")]
    pub comment: String,
}

page_type!(RatingPage, RatingView);

/// Filters of the rating list; it holds only ratings of instruments the reader may see.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RatingQuery {
    pub instrument_id: Option<i64>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<RatingError> for ApiError {
    fn from(e: RatingError) -> Self {
        let (status, kind) = match &e {
            RatingError::NotYours => (StatusCode::FORBIDDEN, "rating-not-yours"),
            RatingError::NotCompleted => (StatusCode::CONFLICT, "rating-not-completed"),
        };
        ApiError::Refused {
            status,
            kind,
            detail: e.to_string(),
        }
    }
}

fn duplicate_as_problem(e: RepoError) -> ApiError {
    match e {
        RepoError::Conflict {
            kind: ConflictKind::Unique,
            ..
        } => ApiError::conflict("rating-exists", "this booking has already been rated"),
        other => other.into(),
    }
}

/// Rate a completed booking.
///
/// Only the booker, only once the booking is completed, and only once: a
/// second rating is refused (the database keeps one per booking). The
/// comment is shown to the lab and to other users, without the rater.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/rating", tag = "ratings", operation_id = "rateBooking",
    params(("id" = i64, Path, description = "Booking id")),
    request_body = RatingInput,
    responses((status = 201, description = "Rated", body = RatingView),
              (status = 403, description = "Not the booker's own booking (`/problems/rating-not-yours`), or not allowed", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not completed (`/problems/rating-not-completed`) or already rated (`/problems/rating-exists`)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn rate_booking(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<RatingInput>,
) -> Result<HttpResponse, ApiError> {
    let draft = RatingDraft {
        score: body.0.score,
        comment: body.0.comment,
    };
    draft.check()?;
    let view = state
        .write(&bearer, move |c, ctx| {
            let (booking, _) = load_readable(c, ctx, id.0)?;
            may_rate(
                booking.user_id == ctx.actor.user_id,
                booking.status == BookingStatus::Completed,
            )?;
            let new = NewRating {
                rated: Rated::Booking(booking.id),
                user_id: ctx.actor.user_id,
                instrument_id: booking.instrument_id,
                score: draft.score,
                comment: &draft.comment,
            };
            let rating = repo::insert(c, &new, ctx.now_naive()).map_err(duplicate_as_problem)?;
            let view = RatingView::for_reader(rating, ctx);
            audit(c, ctx, "rating.create", "rating", view.id, None::<&()>, Some(&view))?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Rate a completed service order.
///
/// Only the orderer, only once the order is completed, and only once. The
/// rating is shown under the service item's primary instrument.
#[utoipa::path(post, path = "/api/v1/service-orders/{id}/rating", tag = "ratings", operation_id = "rateServiceOrder",
    params(("id" = i64, Path, description = "Order id")),
    request_body = RatingInput,
    responses((status = 201, description = "Rated", body = RatingView),
              (status = 403, description = "Not the orderer's own order (`/problems/rating-not-yours`)", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not completed (`/problems/rating-not-completed`) or already rated (`/problems/rating-exists`)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn rate_order(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<RatingInput>,
) -> Result<HttpResponse, ApiError> {
    let draft = RatingDraft {
        score: body.0.score,
        comment: body.0.comment,
    };
    draft.check()?;
    let view = state
        .write(&bearer, move |c, ctx| {
            let (order, _, item) = crate::routes::service::load_order(c, ctx, id.0)?;
            may_rate(
                order.user_id == ctx.actor.user_id,
                order.status == labshare_domain::service::OrderStatus::Completed,
            )?;
            let new = NewRating {
                rated: Rated::Order(order.id),
                user_id: ctx.actor.user_id,
                instrument_id: item.data.instrument_ids.first().copied().ok_or(ApiError::NotFound)?,
                score: draft.score,
                comment: &draft.comment,
            };
            let rating = repo::insert(c, &new, ctx.now_naive()).map_err(duplicate_as_problem)?;
            let view = RatingView::for_reader(rating, ctx);
            audit(c, ctx, "rating.create", "rating", view.id, None::<&()>, Some(&view))?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// List ratings.
///
/// Ratings of the instruments the reader may see, oldest first. Who rated
/// is shown only to the rater, the platform office, the commission and
/// regulators.
#[utoipa::path(get, path = "/api/v1/ratings", tag = "ratings", operation_id = "listRatings",
    params(RatingQuery),
    responses((status = 200, description = "A page of ratings", body = RatingPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<RatingQuery>,
) -> Result<web::Json<RatingPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let filter = repo::Filter {
                visibility: instrument_visibility(&ctx.actor),
                instrument_id: q.instrument_id.map(InstrumentId),
                after,
                limit,
            };
            let page = repo::list(c, &filter)?;
            Ok(RatingPage::from_page(page, |r| RatingView::for_reader(r, ctx)))
        })
        .await?;
    Ok(web::Json(page))
}
