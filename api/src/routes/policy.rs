//! `/api/v1/policy`: the numbers of the measures marked *(policy)* in
//! DESIGN.md, read by everyone, changed by the platform office, audited.
//! Every request works with the policy stored when it began.

use crate::auth::Bearer;
use crate::dto::instant;
use crate::error::{ApiError, FieldProblem};
use crate::extract::Body;
use crate::routes::{allow, audit};
use crate::state::AppState;
use actix_web::web;
use chrono::{DateTime, Utc};
use labshare_domain::access::{Action, Resource};
use labshare_domain::fees::{parse_percent_bp, percent_text, TierPercents};
use labshare_domain::money::Money;
use labshare_domain::policy::{AssessmentPolicy, Policy};
use labshare_persistence::{policy as repo, DbConn};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A percentage per tier.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TierPercentsDoc {
    #[schema(example = 100)]
    pub internal: i64,
    #[schema(example = 100)]
    pub member: i64,
    #[schema(example = 150)]
    pub external: i64,
}

/// The assessment's weights, targets, cut-offs and flags (DESIGN.md §5).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AssessmentPolicyDoc {
    /// Points for operation (40 × min(U, 1)).
    #[schema(example = 40)]
    pub operation_points: i64,
    /// Points for sharing.
    #[schema(example = 30)]
    pub sharing_points: i64,
    /// Points for service quality.
    #[schema(example = 15)]
    pub quality_points: i64,
    /// Points for management (entered by the assessor); the four add up to 100.
    #[schema(example = 15)]
    pub management_points: i64,
    /// The share rate earning the full sharing share, percent.
    #[schema(example = "30")]
    pub share_rate_target_percent: String,
    /// Other institutions served earning the full share.
    #[schema(example = 5)]
    pub institutions_target: i64,
    /// The quality fraction of an unrated instrument, percent.
    #[schema(example = "60")]
    pub unrated_quality_percent: String,
    #[schema(example = 90)]
    pub excellent_from: i64,
    #[schema(example = 75)]
    pub good_from: i64,
    #[schema(example = 60)]
    pub pass_from: i64,
    /// `idle` below this utilisation, percent.
    #[schema(example = "20")]
    pub idle_below_percent: String,
    /// `low_sharing` below this share rate, percent.
    #[schema(example = "10")]
    pub low_sharing_below_percent: String,
    /// The derived management score counts usage recorded within these days.
    #[schema(example = 7)]
    pub usage_recorded_within_days: i64,
}

/// The platform policy. Money as CNY decimal strings, shares as percentages.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// Instruments worth this much must be listed (入网).
    #[schema(example = "500000.00")]
    pub listing_threshold: String,
    /// Rated annual hours of a new instrument (定额机时).
    #[schema(example = 1600)]
    pub default_rated_annual_hours: i32,
    /// How far ahead a booking must start unless the instrument sets its own.
    #[schema(example = 1440)]
    pub booking_lead_minutes: i64,
    #[schema(example = 15)]
    pub check_in_opens_minutes: i64,
    #[schema(example = 30)]
    pub no_show_after_minutes: i64,
    /// Cancelling is free until this long before the start.
    #[schema(example = 24)]
    pub free_cancellation_hours: i64,
    #[schema(example = 3)]
    pub no_show_limit: i64,
    #[schema(example = 90)]
    pub no_show_window_days: i64,
    #[schema(example = 30)]
    pub suspension_days: i64,
    #[schema(example = 10)]
    pub overrun_grace_minutes: i64,
    #[schema(example = 30)]
    pub billing_increment_minutes: i64,
    /// A late cancellation costs this share of the booked fee.
    #[schema(example = 100)]
    pub late_cancellation_fee_percent: i64,
    #[schema(example = 150)]
    pub no_show_fee_percent: i64,
    #[schema(example = 200)]
    pub walk_in_fee_percent: i64,
    /// The cost calculator's suggested price per tier, percent of the cost.
    pub tier_multiplier_percent: TierPercentsDoc,
    /// Yearly maintenance as a share of the original value, percent.
    #[schema(example = "6")]
    pub maintenance_rate_percent: String,
    #[schema(example = "10")]
    pub management_fee_min_percent: String,
    #[schema(example = "15")]
    pub management_fee_max_percent: String,
    pub assessment: AssessmentPolicyDoc,
    /// New purchases worth this much are reviewed against idle instruments.
    #[schema(example = "2000000.00")]
    pub purchase_review_threshold: String,
    /// A similar instrument used less than this over 12 months: share it instead.
    #[schema(example = 1200)]
    pub share_instead_below_hours: i64,
}

/// The policy in force and who set it; `policy` is what `PUT` takes back.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyView {
    pub policy: PolicyDoc,
    /// Absent while the defaults of the measures hold.
    #[schema(example = 2)]
    pub updated_by: Option<i64>,
    #[schema(example = "2026-12-01T02:00:00Z")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<&Policy> for PolicyDoc {
    fn from(p: &Policy) -> Self {
        let a = &p.assessment;
        Self {
            listing_threshold: p.listing_threshold.to_string(),
            default_rated_annual_hours: p.default_rated_annual_hours,
            booking_lead_minutes: p.booking_lead_minutes,
            check_in_opens_minutes: p.check_in_opens_minutes,
            no_show_after_minutes: p.no_show_after_minutes,
            free_cancellation_hours: p.free_cancellation_hours,
            no_show_limit: i64::try_from(p.no_show_limit).unwrap_or(i64::MAX),
            no_show_window_days: p.no_show_window_days,
            suspension_days: p.suspension_days,
            overrun_grace_minutes: p.overrun_grace_minutes,
            billing_increment_minutes: p.billing_increment_minutes,
            late_cancellation_fee_percent: p.late_cancellation_fee_percent,
            no_show_fee_percent: p.no_show_fee_percent,
            walk_in_fee_percent: p.walk_in_fee_percent,
            tier_multiplier_percent: TierPercentsDoc {
                internal: p.tier_multiplier_percent.internal,
                member: p.tier_multiplier_percent.member,
                external: p.tier_multiplier_percent.external,
            },
            maintenance_rate_percent: percent_text(p.maintenance_rate_bp),
            management_fee_min_percent: percent_text(p.management_fee_min_bp),
            management_fee_max_percent: percent_text(p.management_fee_max_bp),
            assessment: AssessmentPolicyDoc {
                operation_points: a.operation_points,
                sharing_points: a.sharing_points,
                quality_points: a.quality_points,
                management_points: a.management_points,
                share_rate_target_percent: percent_text(a.share_rate_target_bp),
                institutions_target: a.institutions_target,
                unrated_quality_percent: percent_text(a.unrated_quality_bp),
                excellent_from: a.excellent_from,
                good_from: a.good_from,
                pass_from: a.pass_from,
                idle_below_percent: percent_text(a.idle_below_bp),
                low_sharing_below_percent: percent_text(a.low_sharing_below_bp),
                usage_recorded_within_days: a.usage_recorded_within_days,
            },
            purchase_review_threshold: p.purchase_review_threshold.to_string(),
            share_instead_below_hours: p.share_instead_below_hours,
        }
    }
}

/// Collects every broken rule of a policy document at once.
struct Problems(Vec<FieldProblem>);

impl Problems {
    fn range(&mut self, field: &str, value: i64, lo: i64, hi: i64) -> i64 {
        if !(lo..=hi).contains(&value) {
            self.0.push(FieldProblem::body(
                format!("/{field}"),
                "range",
                format!("must be between {lo} and {hi}"),
            ));
        }
        value
    }
    fn money(&mut self, field: &str, text: &str) -> Money {
        Money::parse(text).unwrap_or_else(|e| {
            self.0
                .push(FieldProblem::body(format!("/{field}"), "money", e.to_string()));
            Money::ZERO
        })
    }
    fn percent(&mut self, field: &str, text: &str, max: i64) -> i64 {
        parse_percent_bp(text, max).unwrap_or_else(|e| {
            self.0.push(FieldProblem::body(format!("/{field}"), "percent", e));
            0
        })
    }
    fn require(&mut self, ok: bool, field: &str, rule: &str, message: &str) {
        if !ok {
            self.0.push(FieldProblem::body(format!("/{field}"), rule, message));
        }
    }
}

impl PolicyDoc {
    /// The policy this document sets, on top of what it cannot change (the
    /// local time comes from configuration).
    ///
    /// # Errors
    /// Every field outside its range, at once.
    pub fn to_policy(&self, base: &Policy) -> Result<Policy, Vec<FieldProblem>> {
        let mut p = Problems(Vec::new());
        let a = &self.assessment;
        let assessment = AssessmentPolicy {
            operation_points: p.range("assessment/operation_points", a.operation_points, 0, 100),
            sharing_points: p.range("assessment/sharing_points", a.sharing_points, 0, 100),
            quality_points: p.range("assessment/quality_points", a.quality_points, 0, 100),
            management_points: p.range("assessment/management_points", a.management_points, 0, 100),
            share_rate_target_bp: p.percent(
                "assessment/share_rate_target_percent",
                &a.share_rate_target_percent,
                100,
            ),
            institutions_target: p.range("assessment/institutions_target", a.institutions_target, 1, 1000),
            unrated_quality_bp: p.percent("assessment/unrated_quality_percent", &a.unrated_quality_percent, 100),
            excellent_from: p.range("assessment/excellent_from", a.excellent_from, 0, 100),
            good_from: p.range("assessment/good_from", a.good_from, 0, 100),
            pass_from: p.range("assessment/pass_from", a.pass_from, 0, 100),
            idle_below_bp: p.percent("assessment/idle_below_percent", &a.idle_below_percent, 100),
            low_sharing_below_bp: p.percent(
                "assessment/low_sharing_below_percent",
                &a.low_sharing_below_percent,
                100,
            ),
            usage_recorded_within_days: p.range(
                "assessment/usage_recorded_within_days",
                a.usage_recorded_within_days,
                1,
                365,
            ),
        };
        let points = a.operation_points + a.sharing_points + a.quality_points + a.management_points;
        p.require(
            points == 100,
            "assessment/management_points",
            "points_add_up",
            "the four parts of the score must add up to 100 points",
        );
        p.require(
            a.excellent_from >= a.good_from && a.good_from >= a.pass_from,
            "assessment/good_from",
            "grade_order",
            "cut-offs must not rise from excellent to good to pass",
        );
        p.require(
            assessment.share_rate_target_bp > 0,
            "assessment/share_rate_target_percent",
            "positive",
            "must be more than 0",
        );
        let tiers = &self.tier_multiplier_percent;
        let policy = Policy {
            listing_threshold: p.money("listing_threshold", &self.listing_threshold),
            default_rated_annual_hours: i32::try_from(p.range(
                "default_rated_annual_hours",
                i64::from(self.default_rated_annual_hours),
                1,
                8784,
            ))
            .unwrap_or(1600),
            booking_lead_minutes: p.range("booking_lead_minutes", self.booking_lead_minutes, 0, 43_200),
            check_in_opens_minutes: p.range("check_in_opens_minutes", self.check_in_opens_minutes, 0, 240),
            no_show_after_minutes: p.range("no_show_after_minutes", self.no_show_after_minutes, 1, 240),
            free_cancellation_hours: p.range("free_cancellation_hours", self.free_cancellation_hours, 0, 720),
            no_show_limit: usize::try_from(p.range("no_show_limit", self.no_show_limit, 1, 100)).unwrap_or(3),
            no_show_window_days: p.range("no_show_window_days", self.no_show_window_days, 1, 365),
            suspension_days: p.range("suspension_days", self.suspension_days, 0, 365),
            local_offset_seconds: base.local_offset_seconds,
            overrun_grace_minutes: p.range("overrun_grace_minutes", self.overrun_grace_minutes, 0, 240),
            billing_increment_minutes: p.range("billing_increment_minutes", self.billing_increment_minutes, 1, 240),
            late_cancellation_fee_percent: p.range(
                "late_cancellation_fee_percent",
                self.late_cancellation_fee_percent,
                0,
                1000,
            ),
            no_show_fee_percent: p.range("no_show_fee_percent", self.no_show_fee_percent, 0, 1000),
            walk_in_fee_percent: p.range("walk_in_fee_percent", self.walk_in_fee_percent, 0, 1000),
            tier_multiplier_percent: TierPercents {
                internal: p.range("tier_multiplier_percent/internal", tiers.internal, 1, 1000),
                member: p.range("tier_multiplier_percent/member", tiers.member, 1, 1000),
                external: p.range("tier_multiplier_percent/external", tiers.external, 1, 1000),
            },
            maintenance_rate_bp: p.percent("maintenance_rate_percent", &self.maintenance_rate_percent, 100),
            management_fee_min_bp: p.percent("management_fee_min_percent", &self.management_fee_min_percent, 100),
            management_fee_max_bp: p.percent("management_fee_max_percent", &self.management_fee_max_percent, 100),
            assessment,
            purchase_review_threshold: p.money("purchase_review_threshold", &self.purchase_review_threshold),
            share_instead_below_hours: p.range("share_instead_below_hours", self.share_instead_below_hours, 0, 8784),
        };
        p.require(
            policy.management_fee_min_bp <= policy.management_fee_max_bp,
            "management_fee_max_percent",
            "range_order",
            "must not be below management_fee_min_percent",
        );
        if p.0.is_empty() {
            Ok(policy)
        } else {
            p.0.sort_by(|a, b| a.pointer.cmp(&b.pointer));
            Err(p.0)
        }
    }
}

/// The policy in force: the one stored, else `base` (the measures' defaults).
///
/// # Errors
/// Database errors; a stored document that no longer reads is reported
/// and the defaults are used, so that a bad row never stops the platform.
pub fn current(c: &mut DbConn, base: &Policy) -> Result<Policy, ApiError> {
    let Some(stored) = repo::load(c)? else {
        return Ok(base.clone());
    };
    let parsed = serde_json::from_str::<PolicyDoc>(&stored.body)
        .map_err(|e| e.to_string())
        .and_then(|doc| doc.to_policy(base).map_err(|p| format!("{p:?}")));
    match parsed {
        Ok(p) => Ok(p),
        Err(e) => {
            log::error!("the stored policy does not read ({e}); the defaults hold");
            Ok(base.clone())
        }
    }
}

fn view(c: &mut DbConn, policy: &Policy) -> Result<PolicyView, ApiError> {
    let stored = repo::load(c)?;
    Ok(PolicyView {
        policy: PolicyDoc::from(policy),
        updated_by: stored.as_ref().and_then(|s| s.updated_by.map(|u| u.0)),
        updated_at: stored.map(|s| instant(s.updated_at)),
    })
}

/// Read the platform policy.
///
/// The numbers every rule of the measures uses, as in force now.
#[utoipa::path(get, path = "/api/v1/policy", tag = "policy", operation_id = "getPolicy",
    params(crate::etag::IfNoneMatch),
    responses((status = 200, description = "The policy in force", body = PolicyView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
) -> Result<actix_web::HttpResponse, ApiError> {
    let v = state.read(&bearer, move |c, ctx| view(c, &ctx.policy)).await?;
    pre.read(&v)
}

/// Change the platform policy.
///
/// The platform office sets every number at once (read `policy` from `GET`,
/// change what is needed, send it back); each field is checked against its range. Takes
/// effect for requests that begin afterwards; assessments keep the values
/// they were computed with.
#[utoipa::path(put, path = "/api/v1/policy", tag = "policy", operation_id = "updatePolicy",
    params(crate::etag::IfMatch),
    request_body = PolicyDoc,
    responses((status = 200, description = "The policy now in force", body = PolicyView)),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    body: Body<PolicyDoc>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let doc = body.0;
    let base = state.policy.clone();
    let v = state
        .write(&bearer, move |c, ctx| {
            allow(ctx, Action::UpdatePolicy, &Resource::Platform)?;
            // Read again under the lock: a concurrent change committed meanwhile is seen.
            repo::lock(c)?;
            let in_force = current(c, &base)?;
            pre.check(&view(c, &in_force)?)?;
            let policy = doc.to_policy(&in_force).map_err(ApiError::Validation)?;
            let before = PolicyDoc::from(&in_force);
            let after = PolicyDoc::from(&policy);
            let text = serde_json::to_string(&after).map_err(|e| ApiError::Internal(e.to_string()))?;
            repo::store(c, &text, ctx.actor.user_id, ctx.now_naive())?;
            audit(c, ctx, "policy.update", "policy", 1, Some(&before), Some(&after))?;
            view(c, &policy)
        })
        .await?;
    crate::etag::tagged(&v)
}
