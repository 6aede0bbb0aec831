//! `/api/v1/purchase-reviews`: purchase reviews (新购查重评议). A unit asks
//! to buy an instrument worth at least the policy threshold; the platform
//! answers with the instruments of the same category across all units and
//! their effective hours over the twelve months before, recommends sharing
//! an under-used one instead of buying, and the platform office decides.

use crate::auth::Bearer;
use crate::dto::{all_problems, enum_object, instant, money, page_args};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::routes::{allow, audit, referenced};
use crate::state::{AppState, Ctx};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::{can, purchase_review_scope, Action, Resource, Scope};
use labshare_domain::catalogue::{InstrumentStatus, SharingScope};
use labshare_domain::codes::CategoryCode;
use labshare_domain::listing::ListingStatus;
use labshare_domain::money::format_fen;
use labshare_domain::purchase::{
    recommend, transition, usage_window, PurchaseRequest, PurchaseReviewAction, PurchaseReviewError,
    PurchaseReviewStatus, Recommendation, SimilarUse,
};
use labshare_domain::InstitutionId;
use labshare_persistence::purchase_reviews::{
    self as repo, NewPurchaseReview, PurchaseReview, SimilarInstrument, Step,
};
use labshare_persistence::{institutions, DbConn, RepoError};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

fn review_status() -> Object {
    enum_object::<PurchaseReviewStatus>()
}
fn recommendation() -> Object {
    enum_object::<Recommendation>()
}

/// Minutes as hours with two decimals, rounded half-up.
fn hours(minutes: i64) -> String {
    let mut h =
        (Decimal::from(minutes) / Decimal::from(60)).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    h.rescale(2);
    h.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hours_have_two_decimals_rounded_half_up() {
        assert_eq!(super::hours(18_060), "301.00");
        assert_eq!(super::hours(78_090), "1301.50");
        assert_eq!(super::hours(1), "0.02");
        assert_eq!(super::hours(0), "0.00");
        assert_eq!(super::hours(50), "0.83");
    }
}

/// A similar instrument as the platform saw it when the request was filed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SimilarInstrumentView {
    #[schema(example = 7)]
    pub instrument_id: i64,
    #[schema(example = "液相色谱-串联质谱仪")]
    pub name_zh: String,
    #[schema(example = 2)]
    pub institution_id: i64,
    #[schema(example = "南宁市第一人民医院")]
    pub institution_name: String,
    /// 原值, CNY.
    #[schema(example = "3860000.00")]
    pub original_value: String,
    #[schema(schema_with = crate::dto::enums::instrument_status)]
    pub status: InstrumentStatus,
    #[schema(schema_with = crate::dto::enums::sharing_scope)]
    pub sharing_scope: SharingScope,
    #[schema(schema_with = crate::dto::enums::listing_status)]
    pub listing_status: ListingStatus,
    /// 有效机时 over the window, in minutes: actual use started in it.
    #[schema(example = 18000)]
    pub effective_minutes: i64,
    /// The same in hours, rounded half-up to two decimals.
    #[schema(example = "300.00")]
    pub effective_hours: String,
    /// Used less than `share_instead_below_hours`: a candidate for sharing instead of buying.
    #[schema(example = true)]
    pub candidate: bool,
}

impl From<SimilarInstrument> for SimilarInstrumentView {
    fn from(s: SimilarInstrument) -> Self {
        Self {
            instrument_id: s.instrument_id.0,
            name_zh: s.instrument_name,
            institution_id: s.institution_id.0,
            institution_name: s.institution_name,
            original_value: s.original_value.to_string(),
            status: s.status,
            sharing_scope: s.sharing_scope,
            listing_status: s.listing_status,
            effective_minutes: s.effective_minutes,
            effective_hours: hours(s.effective_minutes),
            candidate: s.candidate,
        }
    }
}

/// A purchase review as the API shows it: the request, the platform's
/// answer as it was given at filing, and the decision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PurchaseReviewView {
    #[schema(example = 5)]
    pub id: i64,
    /// The unit that wants to buy.
    #[schema(example = 2)]
    pub institution_id: i64,
    /// GB/T 32847-2016 category of the instrument to buy.
    #[schema(example = "030201")]
    pub category_code: String,
    #[schema(example = "液相色谱-串联质谱仪")]
    pub instrument_name: String,
    #[schema(example = "质量范围 5–2000 m/z；ESI/APCI 离子源")]
    pub specs: String,
    /// The price of one instrument, CNY.
    #[schema(example = "3500000.00")]
    pub price: String,
    #[schema(example = 1)]
    pub quantity: i64,
    /// price × quantity, CNY.
    #[schema(example = "3500000.00")]
    pub total_value: String,
    #[schema(example = "新生儿遗传代谢病筛查样本量三年增长一倍，现有设备满负荷")]
    pub reason: String,
    #[schema(schema_with = review_status)]
    pub status: PurchaseReviewStatus,
    /// `share_instead` when a similar instrument was used less than `share_instead_below_hours`.
    #[schema(schema_with = recommendation)]
    pub recommendation: Recommendation,
    /// The policy's hours in force at filing.
    #[schema(example = 1200)]
    pub share_instead_below_hours: i64,
    /// Use started at or after this instant was weighed (twelve months before filing).
    #[schema(example = "2025-12-01T02:00:00Z")]
    pub usage_from: DateTime<Utc>,
    /// …and before this one (the filing).
    #[schema(example = "2026-12-01T02:00:00Z")]
    pub usage_to: DateTime<Utc>,
    /// Every instrument of the category in all units, retired ones excepted, with its use; by instrument id.
    pub similar_instruments: Vec<SimilarInstrumentView>,
    /// The similar instruments used less than the policy's hours.
    #[schema(example = json!([9]))]
    pub candidate_instrument_ids: Vec<i64>,
    #[schema(example = 4)]
    pub filed_by: i64,
    #[schema(example = "2026-12-01T02:00:00Z")]
    pub filed_at: DateTime<Utc>,
    #[schema(example = 2)]
    pub decided_by: Option<i64>,
    #[schema(example = "2026-12-03T06:00:00Z")]
    pub decided_at: Option<DateTime<Utc>>,
    /// Why the platform office approved or rejected it.
    #[schema(example = "疾控中心同类设备年有效机时不足300小时，请通过平台共享使用")]
    pub decision_reason: Option<String>,
    #[schema(example = json!(null))]
    pub withdrawn_by: Option<i64>,
    #[schema(example = json!(null))]
    pub withdrawn_at: Option<DateTime<Utc>>,
    #[schema(example = "2026-12-03T06:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl From<PurchaseReview> for PurchaseReviewView {
    fn from(r: PurchaseReview) -> Self {
        let total = r.request.total_fen();
        let candidates = r
            .similar
            .iter()
            .filter(|s| s.candidate)
            .map(|s| s.instrument_id.0)
            .collect();
        Self {
            id: r.id,
            institution_id: r.institution_id.0,
            category_code: r.request.category_code.to_string(),
            instrument_name: r.request.instrument_name,
            specs: r.request.specs,
            price: r.request.price.to_string(),
            quantity: r.request.quantity,
            total_value: format_fen(total),
            reason: r.request.reason,
            status: r.status,
            recommendation: r.recommendation,
            share_instead_below_hours: r.share_instead_below_hours,
            usage_from: instant(r.usage_from),
            usage_to: instant(r.usage_to),
            similar_instruments: r.similar.into_iter().map(SimilarInstrumentView::from).collect(),
            candidate_instrument_ids: candidates,
            filed_by: r.filed_by.0,
            filed_at: instant(r.filed_at),
            decided_by: r.decided_by.map(|u| u.0),
            decided_at: r.decided_at.map(instant),
            decision_reason: r.decision_reason,
            withdrawn_by: r.withdrawn_by.map(|u| u.0),
            withdrawn_at: r.withdrawn_at.map(instant),
            updated_at: instant(r.updated_at),
        }
    }
}

page_type!(PurchaseReviewPage, PurchaseReviewView);

/// A request to buy an instrument.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PurchaseReviewInput {
    /// The unit that wants to buy; default the filer's own. A unit admin files for its own unit only.
    #[schema(example = 2)]
    pub institution_id: Option<i64>,
    /// GB/T 32847-2016 category, 6 digits.
    #[schema(example = "030201")]
    pub category_code: String,
    /// 1–100 characters.
    #[schema(example = "液相色谱-串联质谱仪")]
    pub instrument_name: String,
    /// Main technical specifications, at most 500 characters.
    #[serde(default)]
    #[schema(example = "质量范围 5–2000 m/z；ESI/APCI 离子源")]
    pub specs: String,
    /// The price of one instrument, CNY; at least the policy's review threshold (2,000,000).
    #[schema(example = "3500000.00")]
    pub price: String,
    /// 1–100.
    #[schema(example = 1)]
    pub quantity: i64,
    /// Why the unit needs it, 1–1000 characters.
    #[schema(example = "新生儿遗传代谢病筛查样本量三年增长一倍，现有设备满负荷")]
    pub reason: String,
}

/// The platform office's decision, with its reason.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PurchaseDecisionInput {
    /// Why, for the unit, 1–500 characters; required whether or not the
    /// decision follows the recommendation.
    #[validate(length(min = 1, max = 500))]
    #[schema(example = "疾控中心同类设备年有效机时不足300小时，请通过平台共享使用")]
    pub reason: String,
}

/// Filters of the purchase-review list; it holds only reviews the reader may see.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PurchaseReviewQuery {
    /// Reviews of this (requesting) institution.
    pub institution_id: Option<i64>,
    #[param(schema_with = review_status)]
    pub status: Option<PurchaseReviewStatus>,
    /// A 6-digit GB/T 32847-2016 category.
    pub category_code: Option<String>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<PurchaseReviewError> for ApiError {
    fn from(e: PurchaseReviewError) -> Self {
        match e {
            PurchaseReviewError::InvalidTransition { .. } => {
                ApiError::conflict("purchase-review-transition", e.to_string())
            }
            PurchaseReviewError::Invalid(invalid) => invalid.into(),
        }
    }
}

fn load_visible(c: &mut DbConn, ctx: &Ctx, id: i64) -> Result<PurchaseReview, ApiError> {
    let r = repo::get(c, id)?;
    if can(
        &ctx.actor,
        Action::ReadPurchaseReview,
        &Resource::Institution(r.institution_id),
    ) {
        Ok(r)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Finds the similar instruments and their use, recommends, and files the review.
fn file_review(
    c: &mut DbConn,
    ctx: &Ctx,
    owner: InstitutionId,
    request: &PurchaseRequest,
) -> Result<PurchaseReviewView, ApiError> {
    let (from, to) = usage_window(ctx.now, ctx.policy.local_offset());
    let mut similar = repo::similar_instruments(c, &request.category_code, from.naive_utc(), to.naive_utc())?;
    let uses: Vec<SimilarUse> = similar
        .iter()
        .map(|s| SimilarUse {
            instrument_id: s.instrument_id,
            effective_minutes: s.effective_minutes,
        })
        .collect();
    let advice = recommend(&uses, &ctx.policy);
    for s in &mut similar {
        s.candidate = advice.candidates.contains(&s.instrument_id);
    }
    let new = NewPurchaseReview {
        institution_id: owner,
        request,
        usage_from: from.naive_utc(),
        usage_to: to.naive_utc(),
        share_instead_below_hours: ctx.policy.share_instead_below_hours,
        recommendation: advice.recommendation,
        similar: &similar,
        filed_by: ctx.actor.user_id,
    };
    let view = PurchaseReviewView::from(repo::insert(c, &new, ctx.now_naive())?);
    audit(
        c,
        ctx,
        "purchase_review.file",
        "purchase_review",
        view.id,
        None::<&()>,
        Some(&view),
    )?;
    Ok(view)
}

/// File a purchase review.
///
/// A unit admin for its own unit, or the platform office for any unit,
/// before buying an instrument whose price (of one instrument) is at least
/// the policy threshold (2,000,000 CNY); a cheaper one needs no review and
/// is refused (422 on `price`, rule `below_review_threshold`). The answer
/// lists every instrument of the same category in all units, retired ones
/// excepted, with its effective hours over the twelve months before filing,
/// and recommends `share_instead` when any was used less than the policy's
/// hours (1200), naming those as candidates; else `purchase`. The answer is
/// stored with the review and does not change as more use is recorded.
#[utoipa::path(post, path = "/api/v1/purchase-reviews", tag = "purchase-reviews", operation_id = "filePurchaseReview",
    request_body = PurchaseReviewInput,
    responses((status = 201, description = "Filed; submitted, with the platform's answer", body = PurchaseReviewView)),
    security(("bearer" = [])))]
pub async fn file(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<PurchaseReviewInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let mut problems = Vec::new();
    let category_code = CategoryCode::parse(&i.category_code).unwrap_or_else(|e| {
        problems.push(FieldProblem::body("/category_code", "category_code", e.to_string()));
        CategoryCode::parse("000000").unwrap_or_else(|_| unreachable!("six digits"))
    });
    // An unparsable price is reported once, not again as below the threshold.
    let price = money("price", &i.price).unwrap_or_else(|p| {
        problems.push(p);
        state.policy.purchase_review_threshold
    });
    let request = PurchaseRequest {
        category_code,
        instrument_name: i.instrument_name,
        specs: i.specs,
        price,
        quantity: i.quantity,
        reason: i.reason,
    };
    let view = state
        .write(&bearer, move |c, ctx| {
            let owner = match i.institution_id {
                Some(id) => {
                    referenced(
                        institutions::get(c, InstitutionId(id)),
                        "/institution_id",
                        "no such institution",
                    )?
                    .value
                    .id
                }
                None => ctx.actor.institution_id,
            };
            allow(ctx, Action::FileOrWithdrawPurchaseReview, &Resource::Institution(owner))?;
            all_problems(problems, request.check(&ctx.policy))?;
            file_review(c, ctx, owner, &request)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// List purchase reviews.
///
/// A unit admin sees its own unit's; the platform office, commission and
/// regulators all; other roles may not list them (403). Oldest first.
#[utoipa::path(get, path = "/api/v1/purchase-reviews", tag = "purchase-reviews", operation_id = "listPurchaseReviews",
    params(PurchaseReviewQuery),
    responses((status = 200, description = "A page of purchase reviews", body = PurchaseReviewPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<PurchaseReviewQuery>,
) -> Result<web::Json<PurchaseReviewPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let category_code = q
        .category_code
        .as_deref()
        .map(CategoryCode::parse)
        .transpose()
        .map_err(|e| {
            ApiError::InvalidParameter(vec![FieldProblem::parameter(
                "category_code",
                "category_code",
                e.to_string(),
            )])
        })?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let unit = match purchase_review_scope(&ctx.actor) {
                Some(Scope::All) => None,
                Some(Scope::Institution(i)) => Some(i),
                None => return Err(ApiError::Forbidden),
            };
            let filter = repo::Filter {
                institution_id: q.institution_id.map(InstitutionId),
                status: q.status,
                category_code,
                unit,
                after,
                limit,
            };
            Ok(repo::list(c, &filter)?)
        })
        .await?;
    Ok(web::Json(PurchaseReviewPage::from_page(page, PurchaseReviewView::from)))
}

/// Read a purchase review.
///
/// The requesting unit's admin, the platform office, commission and
/// regulators; to anyone else it does not exist (404).
#[utoipa::path(get, path = "/api/v1/purchase-reviews/{id}", tag = "purchase-reviews", operation_id = "getPurchaseReview",
    params(("id" = i64, Path, description = "Purchase review id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The purchase review", body = PurchaseReviewView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view: PurchaseReviewView = state
        .read(&bearer, move |c, ctx| Ok(load_visible(c, ctx, id.0)?.into()))
        .await?;
    pre.read(&view)
}

fn step(c: &mut DbConn, ctx: &Ctx, id: i64, action: PurchaseReviewAction) -> Result<PurchaseReviewView, ApiError> {
    let before = load_visible(c, ctx, id)?;
    match &action {
        PurchaseReviewAction::Withdraw => allow(
            ctx,
            Action::FileOrWithdrawPurchaseReview,
            &Resource::Institution(before.institution_id),
        )?,
        PurchaseReviewAction::Approve { .. } | PurchaseReviewAction::Reject { .. } => {
            allow(ctx, Action::DecidePurchaseReview, &Resource::Platform)?
        }
    }
    let to = transition(before.status, &action)?;
    let (change, name) = match &action {
        PurchaseReviewAction::Approve { reason } => (
            Step::Decided {
                by: ctx.actor.user_id,
                reason,
            },
            "purchase_review.approve",
        ),
        PurchaseReviewAction::Reject { reason } => (
            Step::Decided {
                by: ctx.actor.user_id,
                reason,
            },
            "purchase_review.reject",
        ),
        PurchaseReviewAction::Withdraw => (Step::Withdrawn { by: ctx.actor.user_id }, "purchase_review.withdraw"),
    };
    let after = match repo::transition(c, id, before.status, to, &change, ctx.now_naive()) {
        Ok(r) => r,
        Err(RepoError::NotFound) => {
            return Err(ApiError::conflict(
                "purchase-review-transition",
                "the review changed meanwhile; read it again",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let (before, after) = (PurchaseReviewView::from(before), PurchaseReviewView::from(after));
    audit(c, ctx, name, "purchase_review", id, Some(&before), Some(&after))?;
    Ok(after)
}

/// Approve a purchase review, with a reason.
///
/// Platform office only; the reason is required also when the decision
/// follows the recommendation, and the decision may go against it.
#[utoipa::path(post, path = "/api/v1/purchase-reviews/{id}/approve", tag = "purchase-reviews", operation_id = "approvePurchaseReview",
    params(("id" = i64, Path, description = "Purchase review id")),
    request_body = PurchaseDecisionInput,
    responses((status = 200, description = "The review, approved", body = PurchaseReviewView),
              (status = 409, description = "Not submitted (`/problems/purchase-review-transition`)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn approve(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<PurchaseDecisionInput>,
) -> Result<web::Json<PurchaseReviewView>, ApiError> {
    let reason = body.0.reason;
    let view = state
        .write(&bearer, move |c, ctx| {
            step(c, ctx, id.0, PurchaseReviewAction::Approve { reason })
        })
        .await?;
    Ok(web::Json(view))
}

/// Reject a purchase review, with a reason.
///
/// Platform office only; typically the unit is to share a candidate
/// instrument instead of buying.
#[utoipa::path(post, path = "/api/v1/purchase-reviews/{id}/reject", tag = "purchase-reviews", operation_id = "rejectPurchaseReview",
    params(("id" = i64, Path, description = "Purchase review id")),
    request_body = PurchaseDecisionInput,
    responses((status = 200, description = "The review, rejected", body = PurchaseReviewView),
              (status = 409, description = "Not submitted (`/problems/purchase-review-transition`)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reject(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<PurchaseDecisionInput>,
) -> Result<web::Json<PurchaseReviewView>, ApiError> {
    let reason = body.0.reason;
    let view = state
        .write(&bearer, move |c, ctx| {
            step(c, ctx, id.0, PurchaseReviewAction::Reject { reason })
        })
        .await?;
    Ok(web::Json(view))
}

/// Withdraw a purchase review.
///
/// The requesting unit's admin (or the platform office), while it is still submitted.
#[utoipa::path(post, path = "/api/v1/purchase-reviews/{id}/withdraw", tag = "purchase-reviews", operation_id = "withdrawPurchaseReview",
    params(("id" = i64, Path, description = "Purchase review id")),
    responses((status = 200, description = "The review, withdrawn", body = PurchaseReviewView),
              (status = 409, description = "Not submitted (`/problems/purchase-review-transition`)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn withdraw(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
) -> Result<web::Json<PurchaseReviewView>, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| {
            step(c, ctx, id.0, PurchaseReviewAction::Withdraw)
        })
        .await?;
    Ok(web::Json(view))
}
