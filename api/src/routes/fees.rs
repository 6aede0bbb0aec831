//! `/api/v1/fee-standards`: fee standards (收费标准) proposed by the owning
//! unit, approved by the platform office and versioned per subject, and the
//! cost calculator that suggests prices.

use crate::auth::Bearer;
use crate::dto::{all_problems, instant, money, page_args};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::routes::{allow, audit, referenced};
use crate::state::{AppState, Ctx};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use labshare_domain::access::{fee_proposal_scope, Action, Resource, Scope};
use labshare_domain::catalogue::ServiceMode;
use labshare_domain::fees::{
    check_proposal, decide, estimate, parse_percent_bp, percent_text, CostInputs, FeeDecision, FeeDecisionError,
    FeeSchedule, FeeStandardStatus, FeeSubject, FeeUnit, TierPercents, TierPrices,
};
use labshare_domain::{InstitutionId, InstrumentId, Money};
use labshare_persistence::fees::{self as repo, FeeStandard, NewFeeStandard};
use labshare_persistence::{instruments, lock_row, service, DbConn, Lockable, RepoError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// The platform's local date now, in the policy's local time.
pub fn local_today(ctx: &Ctx) -> NaiveDate {
    ctx.now.with_timezone(&ctx.policy.local_offset()).date_naive()
}

/// One amount of CNY per user tier.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierPricesView {
    /// Users of the institution that owns the instrument.
    #[schema(example = "200.00")]
    pub internal: String,
    /// Users of another member unit.
    #[schema(example = "240.00")]
    pub member: String,
    /// Social users (社会用户).
    #[schema(example = "360.00")]
    pub external: String,
}

impl From<TierPrices> for TierPricesView {
    fn from(p: TierPrices) -> Self {
        Self {
            internal: p.internal.to_string(),
            member: p.member.to_string(),
            external: p.external.to_string(),
        }
    }
}

/// A fee standard as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeeStandardView {
    #[schema(example = 3)]
    pub id: i64,
    /// The institution that proposed it and is paid under it.
    #[schema(example = 2)]
    pub institution_id: i64,
    /// Instrument time: the instrument (absent for a service item).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 7)]
    pub instrument_id: Option<i64>,
    /// Instrument time: the service mode priced (absent for a service item).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::dto::enums::service_mode)]
    pub mode: Option<ServiceMode>,
    /// Sample service: the item priced (absent for instrument time).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 2)]
    pub service_item_id: Option<i64>,
    /// Numbered per subject from 1; a charge records the version it used.
    #[schema(example = 2)]
    pub version: i32,
    #[schema(schema_with = crate::dto::enums::fee_unit)]
    pub unit: FeeUnit,
    /// The price per unit for each tier, CNY.
    pub prices: TierPricesView,
    /// 开机费, once per session, CNY.
    #[schema(example = "50.00")]
    pub startup_fee: String,
    /// Per hour of assisted operation, on top of the price, CNY.
    #[schema(example = "80.00")]
    pub assisted_surcharge: String,
    /// The least a session costs, CNY.
    #[schema(example = "100.00")]
    pub minimum_charge: String,
    /// In force from this local date once approved.
    #[schema(example = "2026-12-01")]
    pub effective_from: NaiveDate,
    #[schema(schema_with = crate::dto::enums::fee_standard_status)]
    pub status: FeeStandardStatus,
    #[schema(example = "按2026年成本测算调整")]
    pub note: String,
    /// Why it was rejected.
    #[schema(example = "外部价格高于成本测算的1.5倍，请说明")]
    pub reason: Option<String>,
    #[schema(example = 4)]
    pub proposed_by: i64,
    #[schema(example = "2026-11-28T02:00:00Z")]
    pub proposed_at: DateTime<Utc>,
    #[schema(example = 2)]
    pub decided_by: Option<i64>,
    #[schema(example = "2026-11-29T06:30:00Z")]
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<FeeStandard> for FeeStandardView {
    fn from(f: FeeStandard) -> Self {
        let (instrument_id, mode, service_item_id) = match f.subject {
            FeeSubject::Instrument { instrument_id, mode } => (Some(instrument_id), Some(mode), None),
            FeeSubject::ServiceItem { service_item_id } => (None, None, Some(service_item_id)),
        };
        let s = f.schedule;
        Self {
            id: f.id,
            institution_id: f.institution_id.0,
            instrument_id,
            mode,
            service_item_id,
            version: f.version,
            unit: s.unit,
            prices: s.prices.into(),
            startup_fee: s.startup_fee.to_string(),
            assisted_surcharge: s.assisted_surcharge_per_hour.to_string(),
            minimum_charge: s.minimum_charge.to_string(),
            effective_from: f.effective_from,
            status: f.status,
            note: f.note,
            reason: f.reason,
            proposed_by: f.proposed_by.0,
            proposed_at: instant(f.proposed_at),
            decided_by: f.decided_by.map(|u| u.0),
            decided_at: f.decided_at.map(instant),
        }
    }
}

fn zero() -> String {
    "0.00".into()
}

/// A proposed fee standard: for an instrument used in one mode
/// (`instrument_id` and `mode`), or for a service item (`service_item_id`).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct FeeStandardInput {
    /// Instrument time: the instrument; give `mode` with it.
    #[schema(example = 7)]
    pub instrument_id: Option<i64>,
    /// Instrument time: `self_operated`, `assisted` or `remote` (sample work is priced by service items).
    #[schema(schema_with = crate::dto::enums::service_mode)]
    pub mode: Option<ServiceMode>,
    /// Sample service: the item, instead of `instrument_id` and `mode`.
    #[schema(example = 2)]
    pub service_item_id: Option<i64>,
    /// `hour` for instrument time; the item's own unit (`sample` or `item`) for a service item.
    #[schema(schema_with = crate::dto::enums::fee_unit)]
    pub unit: FeeUnit,
    /// The price per unit for each tier, CNY with at most two decimals.
    pub prices: TierPricesView,
    /// 开机费 per session; default "0.00".
    #[serde(default = "zero")]
    #[schema(example = "50.00")]
    pub startup_fee: String,
    /// Per hour of assisted operation, only for the `assisted` mode; default "0.00".
    #[serde(default = "zero")]
    #[schema(example = "80.00")]
    pub assisted_surcharge: String,
    /// The least a session costs; default "0.00".
    #[serde(default = "zero")]
    #[schema(example = "100.00")]
    pub minimum_charge: String,
    /// Today or later (the platform's local date): prices are never retroactive.
    #[schema(example = "2026-12-01")]
    pub effective_from: NaiveDate,
    #[serde(default)]
    #[validate(length(max = 1000))]
    #[schema(example = "按2026年成本测算调整")]
    pub note: String,
}

impl FeeStandardInput {
    /// The subject named by the body.
    fn subject(&self) -> Result<FeeSubject, FieldProblem> {
        match (self.instrument_id, self.mode, self.service_item_id) {
            (Some(instrument_id), Some(mode), None) => Ok(FeeSubject::Instrument { instrument_id, mode }),
            (None, None, Some(service_item_id)) => Ok(FeeSubject::ServiceItem { service_item_id }),
            (Some(_), None, None) => Err(FieldProblem::body(
                "/mode",
                "required",
                "instrument time is priced per service mode: give the mode",
            )),
            (None, Some(_) | None, None) => Err(FieldProblem::body(
                "/instrument_id",
                "required",
                "give instrument_id with mode, or service_item_id",
            )),
            (_, _, Some(_)) => Err(FieldProblem::body(
                "/service_item_id",
                "one_subject",
                "give either service_item_id, or instrument_id with mode, not both",
            )),
        }
    }

    /// The schedule, each amount parsed; the problems of those that do not parse.
    fn schedule(&self) -> (FeeSchedule, Vec<FieldProblem>) {
        let mut problems = Vec::new();
        let mut amount = |field: &str, text: &str| {
            money(field, text).unwrap_or_else(|p| {
                problems.push(p);
                Money::ZERO
            })
        };
        let schedule = FeeSchedule {
            unit: self.unit,
            prices: TierPrices {
                internal: amount("prices/internal", &self.prices.internal),
                member: amount("prices/member", &self.prices.member),
                external: amount("prices/external", &self.prices.external),
            },
            startup_fee: amount("startup_fee", &self.startup_fee),
            assisted_surcharge_per_hour: amount("assisted_surcharge", &self.assisted_surcharge),
            minimum_charge: amount("minimum_charge", &self.minimum_charge),
        };
        (schedule, problems)
    }
}

/// A rejection of a proposed fee standard.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct FeeStandardRejection {
    /// Why it is rejected, for the unit, 1–500 characters.
    #[validate(length(min = 1, max = 500))]
    #[schema(example = "外部价格高于成本测算的1.5倍，请说明")]
    pub reason: String,
}

page_type!(FeeStandardPage, FeeStandardView);

/// Filters of the fee-standard list; it holds only standards the reader may see.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeeStandardQuery {
    /// Standards of this (proposing) institution.
    pub institution_id: Option<i64>,
    pub instrument_id: Option<i64>,
    pub service_item_id: Option<i64>,
    #[param(schema_with = crate::dto::enums::fee_standard_status)]
    pub status: Option<FeeStandardStatus>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<FeeDecisionError> for ApiError {
    fn from(e: FeeDecisionError) -> Self {
        match e {
            FeeDecisionError::InvalidTransition { .. } => ApiError::conflict("fee-standard-transition", e.to_string()),
            FeeDecisionError::Retroactive { .. } => ApiError::Refused {
                status: StatusCode::CONFLICT,
                kind: "fee-standard-retroactive",
                detail: e.to_string(),
            },
            FeeDecisionError::Invalid(invalid) => invalid.into(),
        }
    }
}

/// Whether the actor sees a standard: approved ones everybody, proposals
/// and rejections their unit's admin and the platform's overseers.
fn visible(ctx: &Ctx, f: &FeeStandard) -> bool {
    f.status == FeeStandardStatus::Approved
        || match fee_proposal_scope(&ctx.actor) {
            Some(Scope::All) => true,
            Some(Scope::Institution(unit)) => unit == f.institution_id,
            None => false,
        }
}

fn load_visible(c: &mut DbConn, ctx: &Ctx, id: i64) -> Result<FeeStandard, ApiError> {
    let f = repo::get(c, id)?;
    if visible(ctx, &f) {
        Ok(f)
    } else {
        Err(ApiError::NotFound)
    }
}

/// What a proposal is checked against: the owner, the instrument whose row
/// serialises the versions, the item's unit and the instrument's modes.
struct SubjectFacts {
    owner: InstitutionId,
    lock: InstrumentId,
    item_unit: Option<labshare_domain::service::ServiceUnit>,
    offered_modes: Vec<ServiceMode>,
}

fn subject_facts(c: &mut DbConn, subject: &FeeSubject) -> Result<SubjectFacts, ApiError> {
    match *subject {
        FeeSubject::Instrument { instrument_id, .. } => {
            let id = InstrumentId(instrument_id);
            let rec = referenced(instruments::get(c, id), "/instrument_id", "no such instrument")?;
            Ok(SubjectFacts {
                owner: rec.value.instrument.institution_id,
                lock: id,
                item_unit: None,
                offered_modes: rec.value.instrument.data.service_modes,
            })
        }
        FeeSubject::ServiceItem { service_item_id } => {
            let item = referenced(
                service::get_item(c, service_item_id),
                "/service_item_id",
                "no such service item",
            )?;
            let primary = item.data.instrument_ids.first().copied().ok_or(ApiError::NotFound)?;
            Ok(SubjectFacts {
                owner: item.institution_id,
                lock: primary,
                item_unit: Some(item.data.unit),
                offered_modes: Vec::new(),
            })
        }
    }
}

/// Propose a fee standard.
///
/// The unit admin of the institution owning the instrument or service item,
/// or the platform office. The proposal becomes the next version of its
/// subject and waits for the platform office.
#[utoipa::path(post, path = "/api/v1/fee-standards", tag = "fees", operation_id = "proposeFeeStandard",
    request_body = FeeStandardInput,
    responses((status = 201, description = "Proposed", body = FeeStandardView)),
    security(("bearer" = [])))]
pub async fn propose(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<FeeStandardInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let subject = input.subject().map_err(|p| ApiError::Validation(vec![p]))?;
    let (schedule, problems) = input.schedule();
    let view = state
        .write(&bearer, move |c, ctx| {
            let facts = subject_facts(c, &subject)?;
            allow(ctx, Action::ProposeFeeStandard, &Resource::Institution(facts.owner))?;
            // Versions of one subject are numbered one at a time.
            lock_row(c, Lockable::Instruments, facts.lock.0)?;
            let check = check_proposal(
                &schedule,
                &subject,
                facts.item_unit,
                &facts.offered_modes,
                input.effective_from,
                local_today(ctx),
            );
            all_problems(problems, check)?;
            let new = NewFeeStandard {
                institution_id: facts.owner,
                subject,
                schedule,
                effective_from: input.effective_from,
                note: &input.note,
                proposed_by: ctx.actor.user_id,
            };
            let view = FeeStandardView::from(repo::insert(c, &new, ctx.now_naive())?);
            audit(
                c,
                ctx,
                "fee_standard.propose",
                "fee_standard",
                view.id,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Read a fee standard.
///
/// Approved standards are public to every signed-in user; proposals and
/// rejections only to the owning unit's admin and the platform office,
/// commission and regulators.
#[utoipa::path(get, path = "/api/v1/fee-standards/{id}", tag = "fees", operation_id = "getFeeStandard",
    params(("id" = i64, Path, description = "Fee standard id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The fee standard", body = FeeStandardView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view: FeeStandardView = state
        .read(&bearer, move |c, ctx| Ok(load_visible(c, ctx, id.0)?.into()))
        .await?;
    pre.read(&view)
}

/// List fee standards.
///
/// Every version, oldest first; proposals and rejections only for those
/// who may see them.
#[utoipa::path(get, path = "/api/v1/fee-standards", tag = "fees", operation_id = "listFeeStandards",
    params(FeeStandardQuery),
    responses((status = 200, description = "A page of fee standards", body = FeeStandardPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<FeeStandardQuery>,
) -> Result<web::Json<FeeStandardPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let unpublished_of = match fee_proposal_scope(&ctx.actor) {
                Some(Scope::All) => None,
                Some(Scope::Institution(unit)) => Some(vec![unit.0]),
                None => Some(Vec::new()),
            };
            let filter = repo::Filter {
                institution_id: q.institution_id.map(InstitutionId),
                instrument_id: q.instrument_id,
                service_item_id: q.service_item_id,
                status: q.status,
                unpublished_of,
                after,
                limit,
            };
            Ok(repo::list(c, &filter)?)
        })
        .await?;
    Ok(web::Json(FeeStandardPage::from_page(page, FeeStandardView::from)))
}

fn decide_step(c: &mut DbConn, ctx: &Ctx, id: i64, decision: FeeDecision) -> Result<FeeStandardView, ApiError> {
    let before = load_visible(c, ctx, id)?;
    allow(ctx, Action::DecideFeeStandard, &Resource::Platform)?;
    let to = decide(before.status, &decision, before.effective_from, local_today(ctx))?;
    let reason = match &decision {
        FeeDecision::Approve => None,
        FeeDecision::Reject { reason } => Some(reason.as_str()),
    };
    let after = match repo::decide(c, id, to, reason, ctx.actor.user_id, ctx.now_naive()) {
        Ok(a) => a,
        Err(RepoError::NotFound) => {
            return Err(ApiError::conflict(
                "fee-standard-transition",
                "the standard was decided meanwhile; read it again",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let name = match decision {
        FeeDecision::Approve => "fee_standard.approve",
        FeeDecision::Reject { .. } => "fee_standard.reject",
    };
    let (before, after) = (FeeStandardView::from(before), FeeStandardView::from(after));
    audit(c, ctx, name, "fee_standard", id, Some(&before), Some(&after))?;
    Ok(after)
}

/// Approve a proposed fee standard.
///
/// Platform office only. A proposal whose effective date has already
/// passed is refused (`/problems/fee-standard-retroactive`): prices never
/// apply to past use, so the unit proposes it again with a later date.
#[utoipa::path(post, path = "/api/v1/fee-standards/{id}/approve", tag = "fees", operation_id = "approveFeeStandard",
    params(("id" = i64, Path, description = "Fee standard id")),
    responses((status = 200, description = "The approved standard", body = FeeStandardView),
              (status = 409, description = "Not proposed (`/problems/fee-standard-transition`), or its effective date has passed (`/problems/fee-standard-retroactive`)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn approve(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
) -> Result<web::Json<FeeStandardView>, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| decide_step(c, ctx, id.0, FeeDecision::Approve))
        .await?;
    Ok(web::Json(view))
}

/// Reject a proposed fee standard, with a reason.
///
/// Platform office only.
#[utoipa::path(post, path = "/api/v1/fee-standards/{id}/reject", tag = "fees", operation_id = "rejectFeeStandard",
    params(("id" = i64, Path, description = "Fee standard id")),
    request_body = FeeStandardRejection,
    responses((status = 200, description = "The rejected standard", body = FeeStandardView),
              (status = 409, description = "Not proposed", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reject(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<FeeStandardRejection>,
) -> Result<web::Json<FeeStandardView>, ApiError> {
    let reason = body.0.reason;
    let view = state
        .write(&bearer, move |c, ctx| {
            decide_step(c, ctx, id.0, FeeDecision::Reject { reason })
        })
        .await?;
    Ok(web::Json(view))
}

fn ten() -> String {
    "10".into()
}

/// The inputs of the cost calculator.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct EstimateInput {
    /// Takes `original_value` and `rated_annual_hours` from this instrument when they are not given.
    #[schema(example = 7)]
    pub instrument_id: Option<i64>,
    /// 原值, CNY; required without `instrument_id`.
    #[schema(example = "3800000.00")]
    pub original_value: Option<String>,
    /// Years over which the instrument is depreciated, 1–50.
    #[schema(example = 10)]
    pub depreciation_years: i64,
    /// 定额机时 per year, 1–8784; default the instrument's, else the policy's (1600).
    #[schema(example = 1600)]
    pub rated_annual_hours: Option<i64>,
    #[schema(example = "60.00")]
    pub consumables_per_hour: String,
    #[schema(example = "8.50")]
    pub energy_per_hour: String,
    #[schema(example = "45.00")]
    pub labour_per_hour: String,
    /// A percentage within the policy's range (10–15); default "10".
    #[serde(default = "ten")]
    #[schema(example = "10")]
    pub management_fee_percent: String,
}

/// The multiplier of the cost per hour for each tier, as decimal strings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TierMultipliersView {
    #[schema(example = "1")]
    pub internal: String,
    #[schema(example = "1")]
    pub member: String,
    #[schema(example = "1.5")]
    pub external: String,
}

impl From<TierPercents> for TierMultipliersView {
    fn from(p: TierPercents) -> Self {
        let text = |percent: i64| Decimal::new(percent, 2).normalize().to_string();
        Self {
            internal: text(p.internal),
            member: text(p.member),
            external: text(p.external),
        }
    }
}

/// The cost of an hour of an instrument, line by line, and the prices it suggests.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EstimateView {
    /// The inputs used (given, or taken from the instrument or the policy).
    #[schema(example = "3800000.00")]
    pub original_value: String,
    #[schema(example = 10)]
    pub depreciation_years: i64,
    #[schema(example = 1600)]
    pub rated_annual_hours: i64,
    /// Yearly maintenance as a percentage of the original value (policy).
    #[schema(example = "6")]
    pub maintenance_rate_percent: String,
    #[schema(example = "10")]
    pub management_fee_percent: String,
    /// original value ÷ (depreciation years × rated hours).
    #[schema(example = "237.50")]
    pub depreciation_per_hour: String,
    /// maintenance rate × original value ÷ rated hours.
    #[schema(example = "142.50")]
    pub maintenance_per_hour: String,
    #[schema(example = "60.00")]
    pub consumables_per_hour: String,
    #[schema(example = "8.50")]
    pub energy_per_hour: String,
    #[schema(example = "45.00")]
    pub labour_per_hour: String,
    /// The sum of the five lines above.
    #[schema(example = "493.50")]
    pub direct_cost_per_hour: String,
    /// direct cost × management fee.
    #[schema(example = "49.35")]
    pub management_fee_per_hour: String,
    /// direct cost + management fee.
    #[schema(example = "542.85")]
    pub cost_per_hour: String,
    /// The tier multipliers of the policy.
    pub multipliers: TierMultipliersView,
    /// cost per hour × each tier's multiplier, rounded half-up to the fen.
    pub suggested: TierPricesView,
}

/// Suggest hourly prices from the cost of an instrument.
///
/// Depreciation per hour = original value ÷ (depreciation years × rated
/// hours), plus maintenance (6 % of the original value per year ÷ rated
/// hours), consumables, energy and labour, plus the management fee; each
/// tier's price is the cost times its multiplier. Any signed-in user; nothing
/// is stored.
#[utoipa::path(post, path = "/api/v1/fee-standards/estimate", tag = "fees", operation_id = "estimateFees",
    request_body = EstimateInput,
    responses((status = 200, description = "The cost per hour and the suggested prices", body = EstimateView)),
    security(("bearer" = [])))]
pub async fn estimate_fees(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<EstimateInput>,
) -> Result<web::Json<EstimateView>, ApiError> {
    let i = body.0;
    let mut problems = Vec::new();
    let mut amount = |field: &str, text: &str| {
        money(field, text).unwrap_or_else(|p| {
            problems.push(p);
            Money::ZERO
        })
    };
    let given_value = i.original_value.as_deref().map(|v| amount("original_value", v));
    let consumables = amount("consumables_per_hour", &i.consumables_per_hour);
    let energy = amount("energy_per_hour", &i.energy_per_hour);
    let labour = amount("labour_per_hour", &i.labour_per_hour);
    let fee_bp = parse_percent_bp(&i.management_fee_percent, 100)
        .map_err(|message| problems.push(FieldProblem::body("/management_fee_percent", "percent", message)))
        .ok();
    let view = state
        .read(&bearer, move |c, ctx| {
            let instrument = match i.instrument_id {
                Some(id) => match crate::routes::instruments::load_visible(c, ctx, InstrumentId(id)) {
                    Ok(rec) => Some(rec.value.instrument.data),
                    Err(ApiError::NotFound) => {
                        return Err(ApiError::Validation(vec![FieldProblem::body(
                            "/instrument_id",
                            "exists",
                            "no such instrument",
                        )]))
                    }
                    Err(e) => return Err(e),
                },
                None => None,
            };
            let original_value = match (given_value, &instrument) {
                (Some(v), _) => v,
                (None, Some(d)) => d.original_value,
                (None, None) => {
                    problems.push(FieldProblem::body(
                        "/original_value",
                        "required",
                        "give the original value, or an instrument_id to take it from",
                    ));
                    Money::ZERO
                }
            };
            let rated_annual_hours = i
                .rated_annual_hours
                .or_else(|| instrument.as_ref().map(|d| i64::from(d.rated_annual_hours)))
                .unwrap_or_else(|| i64::from(ctx.policy.default_rated_annual_hours));
            let inputs = CostInputs {
                original_value,
                depreciation_years: i.depreciation_years,
                rated_annual_hours,
                consumables_per_hour: consumables,
                energy_per_hour: energy,
                labour_per_hour: labour,
                // An unparsable percentage is reported once, not again as out of range.
                management_fee_bp: fee_bp.unwrap_or(ctx.policy.management_fee_min_bp),
            };
            let result = estimate(&inputs, &ctx.policy);
            all_problems(problems, result.clone().map(|_| ()))?;
            let e = result?;
            Ok(EstimateView {
                original_value: original_value.to_string(),
                depreciation_years: inputs.depreciation_years,
                rated_annual_hours,
                maintenance_rate_percent: percent_text(ctx.policy.maintenance_rate_bp),
                management_fee_percent: percent_text(inputs.management_fee_bp),
                depreciation_per_hour: e.depreciation_per_hour.to_string(),
                maintenance_per_hour: e.maintenance_per_hour.to_string(),
                consumables_per_hour: e.consumables_per_hour.to_string(),
                energy_per_hour: e.energy_per_hour.to_string(),
                labour_per_hour: e.labour_per_hour.to_string(),
                direct_cost_per_hour: e.direct_cost_per_hour.to_string(),
                management_fee_per_hour: e.management_fee_per_hour.to_string(),
                cost_per_hour: e.cost_per_hour.to_string(),
                multipliers: ctx.policy.tier_multiplier_percent.into(),
                suggested: e.suggested.into(),
            })
        })
        .await?;
    Ok(web::Json(view))
}
