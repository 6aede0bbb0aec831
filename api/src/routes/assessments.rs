//! `/api/v1/assessments`: the performance assessment of every instrument and
//! unit (DESIGN.md §5), computed from the records by aggregate queries,
//! completed by the assessors' management scores, published and frozen by
//! the commission, and used: rewards, rectification, reallocation.

use crate::auth::Bearer;
use crate::dto::{enum_object, instant, page_args};
use crate::error::{ApiError, FieldProblem};
use crate::export::{self, col, Column, Format};
use crate::extract::{Body, Query};
use crate::page_type;
use crate::routes::policy::PolicyDoc;
use crate::routes::{allow, audit};
use crate::state::{AppState, Ctx};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use labshare_domain::access::{can, Action, Resource};
use labshare_domain::assessment::{self as rules, AssessmentStatus, Grade, InstrumentFacts};
use labshare_domain::money::format_fen;
use labshare_domain::policy::Policy;
use labshare_domain::service::contains_resident_id;
use labshare_domain::Money;
use labshare_persistence::assessments::{self as repo, Assessment, InstrumentResult, NewAssessment, UnitResult};
use labshare_persistence::metrics;
use labshare_persistence::{DbConn, RepoError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

fn grade_schema() -> Object {
    enum_object::<Grade>()
}
fn status_schema() -> Object {
    enum_object::<AssessmentStatus>()
}

/// A decimal with a fixed number of places, as text.
fn fixed(d: Decimal, dp: u32) -> String {
    let mut x = d.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    x.rescale(dp);
    x.to_string()
}

/// The score of an instrument, part by part.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScoreView {
    #[schema(example = "24.00")]
    pub operation: String,
    #[schema(example = "26.00")]
    pub sharing: String,
    #[schema(example = "12.19")]
    pub quality: String,
    #[schema(example = "15.00")]
    pub management: String,
    #[schema(example = "77.19")]
    pub total: String,
}

/// Every figure behind an instrument's result. Hours and points with two
/// decimals, ratios with four, money as CNY decimal strings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstrumentResultView {
    #[schema(example = 7)]
    pub instrument_id: i64,
    #[schema(example = 2)]
    pub institution_id: i64,
    #[schema(example = "液相色谱-串联质谱仪")]
    pub name: String,
    #[schema(example = "030301")]
    pub category_code: String,
    #[schema(example = "3860000.00")]
    pub original_value: String,
    /// Days of the period the instrument was in service.
    #[schema(example = 365)]
    pub in_service_days: i64,
    #[schema(example = "100.00")]
    pub blackout_hours: String,
    /// R: rated hours pro-rated to the days in service, minus blackout hours.
    #[schema(example = "1500.00")]
    pub rated_hours: String,
    /// H: actual use and service-order instrument time.
    #[schema(example = "900.00")]
    pub effective_hours: String,
    /// E: of which for users of other institutions.
    #[schema(example = "270.00")]
    pub external_hours: String,
    /// U = H ÷ R.
    #[schema(example = "0.6000")]
    pub utilisation: String,
    /// S = E ÷ H.
    #[schema(example = "0.3000")]
    pub share_rate: String,
    #[schema(example = 12)]
    pub users_served: i64,
    /// Other institutions served.
    #[schema(example = 3)]
    pub institutions_served: i64,
    #[schema(example = 40)]
    pub samples: i64,
    #[schema(example = 8)]
    pub orders_completed: i64,
    #[schema(example = "0.7500")]
    pub on_time_rate: Option<String>,
    #[schema(example = "1000.00")]
    pub revenue_internal: String,
    #[schema(example = "2500.00")]
    pub revenue_external: String,
    #[schema(example = "500.00")]
    pub subsidy: String,
    #[schema(example = 4)]
    pub ratings: i64,
    #[schema(example = "4.25")]
    pub average_rating: Option<String>,
    #[schema(example = 2)]
    pub no_shows: i64,
    #[schema(example = "0.0400")]
    pub no_show_rate: Option<String>,
    /// `entered` by the assessor for the unit, or `derived` from the records.
    #[schema(example = "derived")]
    pub management_source: String,
    pub score: ScoreView,
    #[schema(schema_with = grade_schema)]
    pub grade: Grade,
    /// Utilisation below the policy's threshold: a candidate for reallocation (调剂).
    #[schema(example = false)]
    pub idle: bool,
    #[schema(example = false)]
    pub low_sharing: bool,
}

/// A unit's result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnitResultView {
    #[schema(example = 2)]
    pub institution_id: i64,
    #[schema(example = 4)]
    pub instruments: i64,
    /// The original-value-weighted mean of its instruments' scores.
    #[schema(example = "81.35")]
    pub score: Option<String>,
    #[schema(schema_with = grade_schema, nullable)]
    pub grade: Option<Grade>,
    #[schema(example = "52300.00")]
    pub revenue_external: String,
    /// The management points entered by the assessor (else derived per instrument).
    #[schema(example = "13.5")]
    pub management_points: Option<String>,
    #[schema(example = "机组管理制度健全，记录及时")]
    pub management_note: Option<String>,
    /// Its share of the reward pool.
    #[schema(example = "30000.00")]
    pub reward: String,
    /// A failing unit must file a rectification plan.
    #[schema(example = false)]
    pub rectification_required: bool,
}

/// An assessment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssessmentView {
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "2026年度大型仪器开放共享考核")]
    pub name: String,
    #[schema(example = "2026-01-01")]
    pub period_from: NaiveDate,
    /// The last day of the period.
    #[schema(example = "2026-12-31")]
    pub period_to: NaiveDate,
    #[schema(schema_with = status_schema)]
    pub status: AssessmentStatus,
    #[schema(example = "1000000.00")]
    pub reward_pool: String,
    /// The policy values the results were computed with.
    pub policy: PolicyDoc,
    #[schema(example = 2)]
    pub created_by: i64,
    #[schema(example = "2027-01-05T02:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2027-01-06T02:00:00Z")]
    pub computed_at: DateTime<Utc>,
    #[schema(example = json!(null))]
    pub published_by: Option<i64>,
    #[schema(example = json!(null))]
    pub published_at: Option<DateTime<Utc>>,
}

fn assessment_view(a: Assessment) -> Result<AssessmentView, ApiError> {
    let policy: PolicyDoc = serde_json::from_str(&a.policy_json)
        .map_err(|e| ApiError::Internal(format!("assessment {} policy: {e}", a.id)))?;
    Ok(AssessmentView {
        id: a.id,
        name: a.name,
        period_from: a.period_from,
        period_to: a.period_to,
        status: a.status,
        reward_pool: a.reward_pool.to_string(),
        policy,
        created_by: a.created_by.0,
        created_at: instant(a.created_at),
        computed_at: instant(a.computed_at),
        published_by: a.published_by.map(|u| u.0),
        published_at: a.published_at.map(instant),
    })
}

/// Local midnight of a date, as a stored UTC instant.
fn local_midnight(date: NaiveDate, policy: &Policy) -> chrono::NaiveDateTime {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    policy
        .local_offset()
        .from_local_datetime(&midnight)
        .single()
        .map(|t| t.naive_utc())
        .unwrap_or(midnight)
}

/// Whether the catalogue record carries what the national platform asks for.
fn catalogue_complete(i: &metrics::InstrumentBasics) -> bool {
    let filled = |s: &str| !s.trim().is_empty();
    i.name_en.as_deref().is_some_and(filled)
        && filled(&i.technical_specs)
        && filled(&i.functions)
        && filled(&i.service_content)
        && filled(&i.disciplines)
        && filled(&i.contact_phone)
        && i.commissioning_date.is_some()
}

/// Computes (or recomputes) a draft from the records, keeping the
/// assessors' management scores.
fn compute(c: &mut DbConn, a: &Assessment, policy: &Policy, now: chrono::NaiveDateTime) -> Result<(), ApiError> {
    let p = &policy.assessment;
    let from = local_midnight(a.period_from, policy);
    let to = local_midnight(a.period_to + chrono::Duration::days(1), policy);
    let outages = metrics::blackouts(c, from, to)?;
    let sums = metrics::sums(c, from, to, policy.local_offset_seconds, p.usage_recorded_within_days)?;
    let priced: HashSet<i64> = metrics::priced_instruments(c, a.period_to)?.into_iter().collect();
    let entered: HashMap<i64, UnitResult> = repo::unit_results(c, a.id)?
        .into_iter()
        .filter(|u| u.management_points.is_some())
        .map(|u| (u.institution_id, u))
        .collect();
    let mut results = Vec::new();
    let mut by_unit: BTreeMap<i64, Vec<(Money, Decimal, i64)>> = BTreeMap::new();
    for i in metrics::instruments(c)? {
        let s = sums.get(&i.id).copied().unwrap_or_default();
        let used = s.effective_minutes > 0 || s.orders_completed > 0 || s.bookings_due > 0;
        let start = i.commissioning_date.unwrap_or(i.purchase_date).max(a.period_from);
        let in_service = (start <= a.period_to).then_some((start, a.period_to));
        // Listed and in service during the period, or used in it whatever it is now.
        let in_pool = i.listing_status == "approved" && i.status != "retired" && in_service.is_some();
        if !(in_pool || used) {
            continue;
        }
        let in_service_days = in_service.map_or(0, |(first, last)| (last - first).num_days() + 1);
        let service_from = local_midnight(start, policy);
        let blackout_minutes: i64 = outages
            .get(&i.id)
            .map(|spans| {
                spans
                    .iter()
                    .map(|(b0, b1)| ((*b1).min(to) - (*b0).max(service_from)).num_minutes().max(0))
                    .sum()
            })
            .unwrap_or(0);
        let facts = InstrumentFacts {
            rated_annual_hours: i64::from(i.rated_annual_hours),
            in_service,
            blackout_minutes,
            effective_minutes: s.effective_minutes,
            external_minutes: s.external_minutes,
            users: s.users,
            institutions: s.institutions,
            samples: s.samples,
            orders_completed: s.orders_completed,
            orders_on_time: s.orders_on_time,
            revenue_internal: s.revenue_internal,
            revenue_external: s.revenue_external,
            subsidy: s.subsidy,
            ratings: s.ratings,
            rating_sum: s.rating_sum,
            bookings_due: s.bookings_due,
            no_shows: s.no_shows,
        };
        let m = rules::metrics(&facts);
        let (management, source) = match entered
            .get(&i.institution_id)
            .and_then(|u| u.management_points.as_deref())
        {
            Some(points) => (points.parse::<Decimal>().unwrap_or_default(), "entered"),
            None => (
                rules::derived_management(catalogue_complete(&i), priced.contains(&i.id), s.late_records == 0, p),
                "derived",
            ),
        };
        let score = rules::score(&m, s.institutions, management, p);
        let grade = rules::grade(score.total, p);
        let (idle, low_sharing) = rules::flags(&m, p);
        let value = Money::from_fen(i.original_value_fen).unwrap_or(Money::ZERO);
        let view = InstrumentResultView {
            instrument_id: i.id,
            institution_id: i.institution_id,
            name: i.name_zh.clone(),
            category_code: i.category_code.clone(),
            original_value: value.to_string(),
            in_service_days,
            blackout_hours: fixed(Decimal::from(blackout_minutes) / Decimal::from(60), 2),
            rated_hours: fixed(m.rated_hours, 2),
            effective_hours: fixed(m.effective_hours, 2),
            external_hours: fixed(m.external_hours, 2),
            utilisation: fixed(m.utilisation, 4),
            share_rate: fixed(m.share_rate, 4),
            users_served: s.users,
            institutions_served: s.institutions,
            samples: s.samples,
            orders_completed: s.orders_completed,
            on_time_rate: m.on_time_rate.map(|r| fixed(r, 4)),
            revenue_internal: format_fen(s.revenue_internal),
            revenue_external: format_fen(s.revenue_external),
            subsidy: format_fen(s.subsidy),
            ratings: s.ratings,
            average_rating: m.average_rating.map(|r| fixed(r, 2)),
            no_shows: s.no_shows,
            no_show_rate: m.no_show_rate.map(|r| fixed(r, 4)),
            management_source: source.into(),
            score: ScoreView {
                operation: fixed(score.operation, 2),
                sharing: fixed(score.sharing, 2),
                quality: fixed(score.quality, 2),
                management: fixed(score.management, 2),
                total: fixed(score.total, 2),
            },
            grade,
            idle,
            low_sharing,
        };
        by_unit
            .entry(i.institution_id)
            .or_default()
            .push((value, score.total, s.revenue_external));
        results.push(InstrumentResult {
            instrument_id: i.id,
            institution_id: i.institution_id,
            original_value_fen: i.original_value_fen,
            total: fixed(score.total, 2),
            grade: grade.to_string(),
            idle,
            low_sharing,
            result_json: serde_json::to_string(&view).map_err(|e| ApiError::Internal(e.to_string()))?,
        });
    }
    let mut units: Vec<UnitResultView> = by_unit
        .iter()
        .map(|(institution, items)| {
            let weighted: Vec<(Money, Decimal)> = items.iter().map(|(v, s, _)| (*v, *s)).collect();
            let score = rules::unit_score(&weighted);
            let grade = score.map(|s| rules::grade(s, p));
            let entry = entered.get(institution);
            UnitResultView {
                institution_id: *institution,
                instruments: i64::try_from(items.len()).unwrap_or(i64::MAX),
                score: score.map(|s| fixed(s, 2)),
                grade,
                revenue_external: format_fen(items.iter().map(|(_, _, e)| e).sum()),
                management_points: entry.and_then(|u| u.management_points.clone()),
                management_note: entry.and_then(|u| u.management_note.clone()),
                reward: Money::ZERO.to_string(),
                rectification_required: grade == Some(Grade::Fail),
            }
        })
        .collect();
    // The reward pool goes to excellent and good units, by score × external revenue.
    let eligible: Vec<usize> = (0..units.len())
        .filter(|k| matches!(units[*k].grade, Some(Grade::Excellent | Grade::Good)))
        .collect();
    let weights: Vec<(Decimal, i64)> = eligible
        .iter()
        .map(|k| {
            let items = &by_unit[&units[*k].institution_id];
            let score = units[*k]
                .score
                .as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or_default();
            (score, items.iter().map(|(_, _, e)| e).sum())
        })
        .collect();
    let shares = rules::split_reward(a.reward_pool, &weights);
    let mut rewards = HashMap::new();
    for (k, share) in eligible.iter().zip(shares) {
        units[*k].reward = share.to_string();
        rewards.insert(units[*k].institution_id, share.fen());
    }
    let rows = units
        .iter()
        .map(|u| {
            let entry = entered.get(&u.institution_id);
            Ok(UnitResult {
                institution_id: u.institution_id,
                management_points: u.management_points.clone(),
                management_note: u.management_note.clone(),
                entered_by: entry.and_then(|e| e.entered_by),
                entered_at: entry.and_then(|e| e.entered_at),
                score: u.score.clone(),
                grade: u.grade.map(|g| g.to_string()),
                reward_fen: rewards.get(&u.institution_id).copied().unwrap_or(0),
                rectification_required: u.rectification_required,
                result_json: serde_json::to_string(u).map_err(|e| ApiError::Internal(e.to_string()))?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    // Management scores entered for units without instruments assessed are
    // kept, with no result of their own.
    let mut rows = rows;
    for (institution, u) in &entered {
        if !by_unit.contains_key(institution) {
            rows.push(UnitResult {
                score: None,
                grade: None,
                reward_fen: 0,
                rectification_required: false,
                result_json: "{}".into(),
                ..u.clone()
            });
        }
    }
    repo::replace_results(c, a.id, &results, &rows, now)?;
    Ok(())
}

fn policy_json(policy: &Policy) -> Result<String, ApiError> {
    serde_json::to_string(&PolicyDoc::from(policy)).map_err(|e| ApiError::Internal(e.to_string()))
}

fn frozen(e: RepoError) -> ApiError {
    match e {
        RepoError::Conflict { constraint, .. } if constraint.contains("assessments_frozen") => {
            ApiError::conflict("assessment-published", "a published assessment never changes")
        }
        RepoError::NotFound => ApiError::conflict("assessment-published", "a published assessment never changes"),
        other => other.into(),
    }
}

fn load_readable(c: &mut DbConn, ctx: &Ctx, id: i64) -> Result<Assessment, ApiError> {
    let a = repo::get(c, id)?;
    if a.status == AssessmentStatus::Draft && !can(&ctx.actor, Action::ReadDraftAssessment, &Resource::Platform) {
        return Err(ApiError::NotFound);
    }
    Ok(a)
}

/// A new assessment.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct AssessmentInput {
    #[validate(length(min = 1, max = 200))]
    #[schema(example = "2026年度大型仪器开放共享考核")]
    pub name: String,
    /// The first day of the period (local).
    #[schema(example = "2026-01-01")]
    pub period_from: NaiveDate,
    /// The last day of the period (local), at most 3 years after the first, not in the future.
    #[schema(example = "2026-12-31")]
    pub period_to: NaiveDate,
    /// The reward pool shared by excellent and good units, CNY.
    #[serde(default = "zero")]
    #[schema(example = "1000000.00")]
    pub reward_pool: String,
}

fn zero() -> String {
    "0.00".into()
}

/// Create and compute an assessment.
///
/// The platform office assesses a period (a year by default in the
/// measures): every listed instrument's metrics and score, every unit's
/// score, computed from the records as a draft with the policy in force.
#[utoipa::path(post, path = "/api/v1/assessments", tag = "assessments", operation_id = "createAssessment",
    request_body = AssessmentInput,
    responses((status = 201, description = "The draft, computed", body = AssessmentView)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<AssessmentInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let mut problems = Vec::new();
    let pool = crate::dto::parse_field(
        &mut problems,
        "reward_pool",
        "money",
        Money::parse(&i.reward_pool),
        || Money::ZERO,
    );
    if i.name.trim().is_empty() {
        problems.push(FieldProblem::body("/name", "required", "must not be blank"));
    } else if contains_resident_id(&i.name) {
        problems.push(FieldProblem::body(
            "/name",
            "resident_id",
            "must not contain a resident identity number",
        ));
    }
    if i.period_from.year() < 2000 {
        problems.push(FieldProblem::body(
            "/period_from",
            "range",
            "must be in the year 2000 or later",
        ));
    }
    if i.period_to < i.period_from {
        problems.push(FieldProblem::body(
            "/period_to",
            "date_order",
            "must not be before period_from",
        ));
    } else if (i.period_to - i.period_from).num_days() > 3 * 366 {
        problems.push(FieldProblem::body(
            "/period_to",
            "range",
            "a period lasts at most 3 years",
        ));
    }
    let view = state
        .write(&bearer, move |c, ctx| {
            allow(ctx, Action::RunAssessment, &Resource::Platform)?;
            if i.period_to >= ctx.today() {
                problems.push(FieldProblem::body(
                    "/period_to",
                    "period_ended",
                    "the period must have ended (before today)",
                ));
            }
            crate::dto::no_problems(problems)?;
            create_in(c, ctx, &i, pool)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The transaction of [`create`] once the input is valid: writes the
/// assessment and computes it.
///
/// # Errors
/// A database error, or a policy that cannot be stored.
pub fn create_in(c: &mut DbConn, ctx: &Ctx, i: &AssessmentInput, pool: Money) -> Result<AssessmentView, ApiError> {
    let json = policy_json(&ctx.policy)?;
    let new = NewAssessment {
        name: &i.name,
        period_from: i.period_from,
        period_to: i.period_to,
        policy_json: &json,
        reward_pool: pool,
        created_by: ctx.actor.user_id,
    };
    let a = repo::insert(c, &new, ctx.now_naive())?;
    compute(c, &a, &ctx.policy, ctx.now_naive())?;
    let view = assessment_view(repo::get(c, a.id)?)?;
    audit(
        c,
        ctx,
        "assessment.create",
        "assessment",
        view.id,
        None::<&()>,
        Some(&view),
    )?;
    Ok(view)
}

page_type!(AssessmentPage, AssessmentView);

/// Page arguments.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssessmentQuery {
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List assessments.
///
/// Published assessments for everyone; drafts too for the platform office,
/// the commission and regulators.
#[utoipa::path(get, path = "/api/v1/assessments", tag = "assessments", operation_id = "listAssessments",
    params(AssessmentQuery),
    responses((status = 200, description = "A page of assessments", body = AssessmentPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<AssessmentQuery>,
) -> Result<web::Json<AssessmentPage>, ApiError> {
    let (after, limit) = page_args(query.0.limit, query.0.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let drafts = can(&ctx.actor, Action::ReadDraftAssessment, &Resource::Platform);
            let page = repo::list(c, drafts, after, limit)?;
            let next_cursor = page.next_after.map(crate::dto::encode_cursor);
            let items = page
                .items
                .into_iter()
                .map(assessment_view)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(AssessmentPage { items, next_cursor })
        })
        .await?;
    Ok(web::Json(page))
}

/// Read an assessment, with the policy values it used.
///
/// Published assessments are visible to every signed-in user; drafts to the platform office, the commission and regulators. The answer carries the policy document the results were computed with.
#[utoipa::path(get, path = "/api/v1/assessments/{id}", tag = "assessments", operation_id = "getAssessment",
    params(("id" = i64, Path, description = "Assessment id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The assessment", body = AssessmentView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: crate::extract::Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| assessment_view(load_readable(c, ctx, id.0)?))
        .await?;
    pre.read(&view)
}

/// Recompute a draft.
///
/// From the records as they are now and the policy in force now (recorded
/// with the results); management scores entered are kept.
#[utoipa::path(post, path = "/api/v1/assessments/{id}/compute", tag = "assessments", operation_id = "computeAssessment",
    params(("id" = i64, Path, description = "Assessment id")),
    responses((status = 200, description = "The draft, recomputed", body = AssessmentView),
              (status = 409, description = "Published: frozen", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn recompute(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: crate::extract::Id,
) -> Result<web::Json<AssessmentView>, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| {
            allow(ctx, Action::RunAssessment, &Resource::Platform)?;
            labshare_persistence::lock_row(c, labshare_persistence::Lockable::Assessments, id.0)?;
            let a = repo::get(c, id.0)?;
            if a.status != AssessmentStatus::Draft {
                return Err(frozen(RepoError::NotFound));
            }
            let before = assessment_view(a.clone())?;
            repo::set_policy(c, a.id, &policy_json(&ctx.policy)?).map_err(frozen)?;
            compute(c, &a, &ctx.policy, ctx.now_naive()).map_err(|e| match e {
                ApiError::Conflict { .. } => frozen(RepoError::NotFound),
                other => other,
            })?;
            let after = assessment_view(repo::get(c, a.id)?)?;
            audit(
                c,
                ctx,
                "assessment.compute",
                "assessment",
                a.id,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

/// An assessor's management score for a unit.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ManagementInput {
    /// Points, 0 to the policy's management points (15), at most two decimals.
    #[schema(example = "13.5")]
    pub points: String,
    /// Why, 1 to 1000 characters.
    #[schema(example = "机组管理制度健全，记录及时，收费公示")]
    pub note: String,
}

/// Enter a unit's management score.
///
/// The platform office, as assessor, scores a unit's management with a
/// note; it replaces the derived default for every instrument of the unit
/// and the draft is recomputed.
#[utoipa::path(put, path = "/api/v1/assessments/{id}/units/{institution_id}/management", tag = "assessments",
    operation_id = "setManagementScore",
    params(("id" = i64, Path, description = "Assessment id"), ("institution_id" = i64, Path, description = "The unit")),
    request_body = ManagementInput,
    responses((status = 200, description = "The unit's result", body = UnitResultView),
              (status = 409, description = "Published: frozen", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_management(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: crate::extract::Id,
    institution: crate::extract::InstitutionParam,
    body: Body<ManagementInput>,
) -> Result<web::Json<UnitResultView>, ApiError> {
    let (id, institution) = (id.0, institution.0);
    let i = body.0;
    let view = state
        .write(&bearer, move |c, ctx| {
            allow(ctx, Action::RunAssessment, &Resource::Platform)?;
            labshare_persistence::lock_row(c, labshare_persistence::Lockable::Assessments, id)?;
            let a = repo::get(c, id)?;
            if a.status != AssessmentStatus::Draft {
                return Err(frozen(RepoError::NotFound));
            }
            let policy: PolicyDoc =
                serde_json::from_str(&a.policy_json).map_err(|e| ApiError::Internal(e.to_string()))?;
            let max = policy.assessment.management_points;
            let mut problems = Vec::new();
            let points = match i.points.parse::<Decimal>() {
                Ok(p)
                    if p.scale() <= 2
                        && p >= Decimal::ZERO
                        && p <= Decimal::from(max)
                        && !i.points.contains(['e', 'E']) =>
                {
                    p
                }
                _ => {
                    problems.push(FieldProblem::body(
                        "/points",
                        "range",
                        format!("must be a decimal between 0 and {max} with at most two decimals"),
                    ));
                    Decimal::ZERO
                }
            };
            if i.note.trim().is_empty() || i.note.chars().count() > 1000 {
                problems.push(FieldProblem::body(
                    "/note",
                    "length",
                    "must have 1 to 1000 characters, not all blank",
                ));
            } else if contains_resident_id(&i.note) {
                problems.push(FieldProblem::body(
                    "/note",
                    "resident_id",
                    "must not contain a resident identity number",
                ));
            }
            crate::dto::no_problems(problems)?;
            labshare_persistence::institutions::get(c, labshare_domain::InstitutionId(institution))?;
            let mut units = repo::unit_results(c, id)?;
            let before = units.iter().find(|u| u.institution_id == institution).cloned();
            let entry = UnitResult {
                institution_id: institution,
                management_points: Some(points.to_string()),
                management_note: Some(i.note.clone()),
                entered_by: Some(ctx.actor.user_id.0),
                entered_at: Some(ctx.now_naive()),
                score: None,
                grade: None,
                reward_fen: 0,
                rectification_required: false,
                result_json: "{}".into(),
            };
            units.retain(|u| u.institution_id != institution);
            units.push(entry);
            let instruments = repo::instrument_results(c, id, None)?;
            repo::replace_results(c, id, &instruments, &units, ctx.now_naive()).map_err(frozen)?;
            // The scores follow from the policy the assessment recorded.
            let recorded = policy.to_policy(&ctx.policy).map_err(ApiError::Validation)?;
            compute(c, &a, &recorded, ctx.now_naive())?;
            let after = repo::unit_results(c, id)?
                .into_iter()
                .find(|u| u.institution_id == institution)
                .ok_or(ApiError::NotFound)?;
            let view = unit_view(&after)?;
            audit(
                c,
                ctx,
                "assessment.management",
                "assessment",
                id,
                before.map(|u| (u.management_points, u.management_note)).as_ref(),
                Some(&(institution, &view.management_points, &view.management_note)),
            )?;
            Ok(view)
        })
        .await?;
    Ok(web::Json(view))
}

fn unit_view(u: &UnitResult) -> Result<UnitResultView, ApiError> {
    if u.result_json == "{}" {
        // A unit with no instruments assessed: only the assessor's entry.
        return Ok(UnitResultView {
            institution_id: u.institution_id,
            instruments: 0,
            score: None,
            grade: None,
            revenue_external: "0.00".into(),
            management_points: u.management_points.clone(),
            management_note: u.management_note.clone(),
            reward: "0.00".into(),
            rectification_required: false,
        });
    }
    serde_json::from_str(&u.result_json).map_err(|e| ApiError::Internal(format!("unit result: {e}")))
}

/// Publish an assessment.
///
/// The commission publishes the results; from then on they never change,
/// whatever is recorded later.
#[utoipa::path(post, path = "/api/v1/assessments/{id}/publish", tag = "assessments", operation_id = "publishAssessment",
    params(("id" = i64, Path, description = "Assessment id")),
    responses((status = 200, description = "The assessment, published", body = AssessmentView),
              (status = 409, description = "Already published", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn publish(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: crate::extract::Id,
) -> Result<web::Json<AssessmentView>, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| {
            labshare_persistence::lock_row(c, labshare_persistence::Lockable::Assessments, id.0)?;
            let a = load_readable(c, ctx, id.0)?;
            allow(ctx, Action::PublishAssessment, &Resource::Platform)?;
            let before = assessment_view(a)?;
            let after = assessment_view(repo::publish(c, id.0, ctx.actor.user_id, ctx.now_naive()).map_err(frozen)?)?;
            audit(
                c,
                ctx,
                "assessment.publish",
                "assessment",
                id.0,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

/// Filters of an assessment's instrument results.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultQuery {
    pub institution_id: Option<i64>,
    #[param(schema_with = grade_schema)]
    pub grade: Option<Grade>,
    pub idle: Option<bool>,
    pub low_sharing: Option<bool>,
    /// `json` (default) or `csv` (UTF-8 with BOM, Chinese headers).
    pub format: Option<Format>,
}

const RESULT_COLUMNS: [Column; 28] = [
    col("仪器编号"),
    col("单位编号"),
    col("仪器名称"),
    col("分类编码"),
    col("原值(元)"),
    col("在役天数"),
    col("停机时数"),
    col("定额机时"),
    col("有效机时"),
    col("对外服务机时"),
    col("使用率"),
    col("共享率"),
    col("服务用户数"),
    col("服务单位数"),
    col("样品数"),
    col("完成委托数"),
    col("按时率"),
    col("校内收入(元)"),
    col("校外收入(元)"),
    col("补贴(元)"),
    col("平均评分"),
    col("爽约次数"),
    col("运行得分"),
    col("共享得分"),
    col("服务质量得分"),
    col("管理得分"),
    col("总分"),
    col("等级"),
];

fn result_row(v: &InstrumentResultView) -> Vec<String> {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    vec![
        v.instrument_id.to_string(),
        v.institution_id.to_string(),
        v.name.clone(),
        v.category_code.clone(),
        v.original_value.clone(),
        v.in_service_days.to_string(),
        v.blackout_hours.clone(),
        v.rated_hours.clone(),
        v.effective_hours.clone(),
        v.external_hours.clone(),
        v.utilisation.clone(),
        v.share_rate.clone(),
        v.users_served.to_string(),
        v.institutions_served.to_string(),
        v.samples.to_string(),
        v.orders_completed.to_string(),
        opt(&v.on_time_rate),
        v.revenue_internal.clone(),
        v.revenue_external.clone(),
        v.subsidy.clone(),
        opt(&v.average_rating),
        v.no_shows.to_string(),
        v.score.operation.clone(),
        v.score.sharing.clone(),
        v.score.quality.clone(),
        v.score.management.clone(),
        v.score.total.clone(),
        v.grade.to_string(),
    ]
}

fn instrument_views(c: &mut DbConn, id: i64, institution: Option<i64>) -> Result<Vec<InstrumentResultView>, ApiError> {
    repo::instrument_results(c, id, institution)?
        .iter()
        .map(|r| {
            serde_json::from_str(&r.result_json).map_err(|e| ApiError::Internal(format!("instrument result: {e}")))
        })
        .collect()
}

/// An assessment's instrument results.
///
/// Every figure behind each score; `format=csv` for Excel.
#[utoipa::path(get, path = "/api/v1/assessments/{id}/instruments", tag = "assessments", operation_id = "listAssessmentInstruments",
    params(("id" = i64, Path, description = "Assessment id"), ResultQuery),
    responses((status = 200, description = "The instrument results",
        content((Vec<InstrumentResultView> = "application/json"), (String = "text/csv", example = json!("\u{feff}仪器编号,单位编号,…\r\n")))),),
    security(("bearer" = [])))]
pub async fn instruments(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: crate::extract::Id,
    query: Query<ResultQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let format = q.format.unwrap_or(Format::Json);
    let items = state
        .read(&bearer, move |c, ctx| {
            load_readable(c, ctx, id.0)?;
            let items = instrument_views(c, id.0, q.institution_id)?;
            Ok(items
                .into_iter()
                .filter(|v| q.grade.is_none_or(|g| g == v.grade))
                .filter(|v| q.idle.is_none_or(|b| b == v.idle))
                .filter(|v| q.low_sharing.is_none_or(|b| b == v.low_sharing))
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(export::respond(
        format,
        "assessment-instruments",
        &RESULT_COLUMNS,
        &items,
        result_row,
    ))
}

/// An assessment's unit results.
///
/// One line per assessed unit: its score (the original-value-weighted mean of its instruments'), grade, management points entered by the assessor, external revenue, reward share and whether it must file a rectification plan.
#[utoipa::path(get, path = "/api/v1/assessments/{id}/units", tag = "assessments", operation_id = "listAssessmentUnits",
    params(("id" = i64, Path, description = "Assessment id")),
    responses((status = 200, description = "The unit results", body = Vec<UnitResultView>)),
    security(("bearer" = [])))]
pub async fn units(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: crate::extract::Id,
) -> Result<web::Json<Vec<UnitResultView>>, ApiError> {
    let items = state
        .read(&bearer, move |c, ctx| {
            load_readable(c, ctx, id.0)?;
            repo::unit_results(c, id.0)?.iter().map(unit_view).collect()
        })
        .await?;
    Ok(web::Json(items))
}

/// What the results lead to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UseOfResults {
    /// Excellent and good units and their share of the reward pool.
    pub rewards: Vec<UnitResultView>,
    /// Failing units, which must file a rectification plan.
    pub rectification: Vec<UnitResultView>,
    /// Idle instruments: candidates for reallocation (调剂).
    pub reallocation_candidates: Vec<InstrumentResultView>,
}

/// The use of an assessment's results.
///
/// The reward pool split among excellent and good units in proportion to
/// score × external revenue, the failing units due a rectification plan,
/// and the idle instruments to reallocate.
#[utoipa::path(get, path = "/api/v1/assessments/{id}/use-of-results", tag = "assessments", operation_id = "getUseOfResults",
    params(("id" = i64, Path, description = "Assessment id")),
    responses((status = 200, description = "Rewards, rectification and reallocation", body = UseOfResults)),
    security(("bearer" = [])))]
pub async fn use_of_results(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: crate::extract::Id,
) -> Result<web::Json<UseOfResults>, ApiError> {
    let out = state
        .read(&bearer, move |c, ctx| {
            load_readable(c, ctx, id.0)?;
            let units = repo::unit_results(c, id.0)?
                .iter()
                .map(unit_view)
                .collect::<Result<Vec<_>, _>>()?;
            let rewards = units
                .iter()
                .filter(|u| matches!(u.grade, Some(Grade::Excellent | Grade::Good)))
                .cloned()
                .collect();
            let rectification = units.iter().filter(|u| u.rectification_required).cloned().collect();
            let reallocation_candidates = instrument_views(c, id.0, None)?
                .into_iter()
                .filter(|v| v.idle)
                .collect();
            Ok(UseOfResults {
                rewards,
                rectification,
                reallocation_candidates,
            })
        })
        .await?;
    Ok(web::Json(out))
}
