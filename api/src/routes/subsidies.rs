//! `/api/v1/subsidy-programmes` and `/api/v1/subsidy-grants`: special funds
//! (专项资助) prepared by the platform office and approved by the commission,
//! and the grants researchers apply for under them.

use crate::auth::Bearer;
use crate::dto::{all_problems, instant, money, page_args, parse_field};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::routes::fees::local_today;
use crate::routes::{allow, audit, referenced};
use crate::state::{AppState, Ctx};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use labshare_domain::access::{can, request_scope, sees_draft_programmes, Action, RequestScope, Resource};
use labshare_domain::catalogue::Membership;
use labshare_domain::fees::{parse_percent_bp, percent_text};
use labshare_domain::subsidy::{
    self as rules, beneficiary_eligible, check_application, check_editable, check_programme, open_for_grants,
    transition, Beneficiary, Eligibility, GrantError, GrantStatus, Ineligible, NotOpen, ProgrammeAction, ProgrammeData,
    ProgrammeStatus, ProgrammeTransitionError,
};
use labshare_domain::Money;
use labshare_persistence::error::ConflictKind;
use labshare_persistence::subsidies::{self as repo, Grant, GrantFilter, Programme, ProgrammeFilter};
use labshare_persistence::{institutions, lock_row, users, DbConn, Lockable, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// Who and what a programme pays for; an empty list admits everyone.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityView {
    /// Users of member units, of external organisations, or (empty) both.
    #[serde(default)]
    #[schema(schema_with = crate::dto::enums::memberships)]
    pub memberships: Vec<Membership>,
    /// The beneficiary must carry one of these tags (at most 20).
    #[serde(default)]
    #[schema(example = json!(["high_level_talent"]))]
    pub user_tags: Vec<String>,
    /// Only users of institutions without a mature lab.
    #[serde(default)]
    #[schema(example = false)]
    pub without_mature_lab_only: bool,
    /// Only use of another institution's instruments.
    #[serde(default)]
    #[schema(example = true)]
    pub cross_unit_only: bool,
    /// Only instruments whose GB/T 32847 category code starts with one of these (1–6 digits each).
    #[serde(default)]
    #[schema(example = json!(["0303"]))]
    pub category_prefixes: Vec<String>,
}

impl From<EligibilityView> for Eligibility {
    fn from(e: EligibilityView) -> Self {
        Self {
            memberships: e.memberships,
            user_tags: e.user_tags,
            without_mature_lab_only: e.without_mature_lab_only,
            cross_unit_only: e.cross_unit_only,
            category_prefixes: e.category_prefixes,
        }
    }
}

impl From<Eligibility> for EligibilityView {
    fn from(e: Eligibility) -> Self {
        Self {
            memberships: e.memberships,
            user_tags: e.user_tags,
            without_mature_lab_only: e.without_mature_lab_only,
            cross_unit_only: e.cross_unit_only,
            category_prefixes: e.category_prefixes,
        }
    }
}

/// A subsidy programme as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProgrammeView {
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "2027年度大型仪器共享补贴")]
    pub name: String,
    #[schema(example = "南宁市科学技术局")]
    pub funder: String,
    /// The total budget, CNY.
    #[schema(example = "500000.00")]
    pub budget: String,
    /// What charges have drawn so far.
    #[schema(example = "12500.00")]
    pub spent: String,
    /// budget − spent.
    #[schema(example = "487500.00")]
    pub remaining: String,
    #[schema(example = "2027-01-01")]
    pub valid_from: NaiveDate,
    #[schema(example = "2027-12-31")]
    pub valid_until: NaiveDate,
    /// The share of a charge paid, in percent.
    #[schema(example = "50")]
    pub ratio_percent: String,
    /// The most one beneficiary's grant may be; absent: no cap.
    #[schema(example = "20000.00")]
    pub cap_per_beneficiary: Option<String>,
    /// The most paid towards one charge; absent: no cap.
    #[schema(example = "2000.00")]
    pub cap_per_charge: Option<String>,
    pub eligibility: EligibilityView,
    #[schema(schema_with = crate::dto::enums::programme_status)]
    pub status: ProgrammeStatus,
    #[schema(example = 2)]
    pub created_by: i64,
    /// The commission member who approved it.
    #[schema(example = 1)]
    pub approved_by: Option<i64>,
    #[schema(example = "2026-12-10T02:00:00Z")]
    pub approved_at: Option<DateTime<Utc>>,
    #[schema(example = "2026-12-01T02:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-12-10T02:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl From<Programme> for ProgrammeView {
    fn from(p: Programme) -> Self {
        let remaining = p.left().to_string();
        let d = p.data;
        Self {
            id: p.id,
            name: d.name,
            funder: d.funder,
            budget: d.budget.to_string(),
            spent: p.spent.to_string(),
            remaining,
            valid_from: d.valid_from,
            valid_until: d.valid_until,
            ratio_percent: percent_text(d.ratio_bp),
            cap_per_beneficiary: d.cap_per_beneficiary.map(|m| m.to_string()),
            cap_per_charge: d.cap_per_charge.map(|m| m.to_string()),
            eligibility: d.eligibility.into(),
            status: p.status,
            created_by: p.created_by.0,
            approved_by: p.approved_by.map(|u| u.0),
            approved_at: p.approved_at.map(instant),
            created_at: instant(p.created_at),
            updated_at: instant(p.updated_at),
        }
    }
}

/// A new programme; it starts as a draft.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeInput {
    #[schema(example = "2027年度大型仪器共享补贴")]
    pub name: String,
    #[schema(example = "南宁市科学技术局")]
    pub funder: String,
    /// CNY, more than 0.
    #[schema(example = "500000.00")]
    pub budget: String,
    #[schema(example = "2027-01-01")]
    pub valid_from: NaiveDate,
    #[schema(example = "2027-12-31")]
    pub valid_until: NaiveDate,
    /// The share of a charge paid, in percent: more than 0, at most 100, two decimals at most.
    #[schema(example = "50")]
    pub ratio_percent: String,
    /// The most one beneficiary's grant may be, CNY; absent: no cap.
    #[schema(example = "20000.00")]
    pub cap_per_beneficiary: Option<String>,
    /// The most paid towards one charge, CNY; absent: no cap.
    #[schema(example = "2000.00")]
    pub cap_per_charge: Option<String>,
    /// Absent: everyone is eligible.
    #[serde(default)]
    pub eligibility: EligibilityView,
}

/// Changes to a draft programme; absent fields keep their value, `null` removes a cap.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ProgrammePatch {
    #[schema(example = "2027年度大型仪器共享补贴")]
    pub name: Option<String>,
    #[schema(example = "南宁市科学技术局")]
    pub funder: Option<String>,
    #[schema(example = "600000.00")]
    pub budget: Option<String>,
    #[schema(example = "2027-01-01")]
    pub valid_from: Option<NaiveDate>,
    #[schema(example = "2027-12-31")]
    pub valid_until: Option<NaiveDate>,
    #[schema(example = "40")]
    pub ratio_percent: Option<String>,
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<String>, example = "20000.00")]
    pub cap_per_beneficiary: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<String>, example = "2000.00")]
    pub cap_per_charge: Option<Option<String>>,
    /// Replaces the whole eligibility.
    pub eligibility: Option<EligibilityView>,
}

/// Parses an optional cap, recording its problem.
fn cap(problems: &mut Vec<FieldProblem>, field: &str, text: Option<&str>) -> Option<Money> {
    text.and_then(|t| money(field, t).map_err(|p| problems.push(p)).ok())
}

/// A budget stands in with this when it does not parse, so that it is reported once.
const SOME_BUDGET: Money = Money::yuan(1);

impl ProgrammeInput {
    fn data(self) -> (ProgrammeData, Vec<FieldProblem>) {
        let mut problems = Vec::new();
        let budget = parse_field(&mut problems, "budget", "money", Money::parse(&self.budget), || {
            SOME_BUDGET
        });
        let ratio_bp = parse_field(
            &mut problems,
            "ratio_percent",
            "percent",
            parse_percent_bp(&self.ratio_percent, 100),
            || 10_000,
        );
        let data = ProgrammeData {
            name: self.name,
            funder: self.funder,
            budget,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            ratio_bp,
            cap_per_beneficiary: cap(
                &mut problems,
                "cap_per_beneficiary",
                self.cap_per_beneficiary.as_deref(),
            ),
            cap_per_charge: cap(&mut problems, "cap_per_charge", self.cap_per_charge.as_deref()),
            eligibility: self.eligibility.into(),
        };
        (data, problems)
    }
}

impl ProgrammePatch {
    /// Applies the patch, returning the problems of the fields parsed here.
    fn apply(self, d: &mut ProgrammeData) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        if let Some(v) = self.name {
            d.name = v;
        }
        if let Some(v) = self.funder {
            d.funder = v;
        }
        if let Some(v) = self.budget {
            d.budget = parse_field(&mut problems, "budget", "money", Money::parse(&v), || SOME_BUDGET);
        }
        if let Some(v) = self.valid_from {
            d.valid_from = v;
        }
        if let Some(v) = self.valid_until {
            d.valid_until = v;
        }
        if let Some(v) = self.ratio_percent {
            d.ratio_bp = parse_field(
                &mut problems,
                "ratio_percent",
                "percent",
                parse_percent_bp(&v, 100),
                || 10_000,
            );
        }
        if let Some(v) = self.cap_per_beneficiary {
            d.cap_per_beneficiary = cap(&mut problems, "cap_per_beneficiary", v.as_deref());
        }
        if let Some(v) = self.cap_per_charge {
            d.cap_per_charge = cap(&mut problems, "cap_per_charge", v.as_deref());
        }
        if let Some(v) = self.eligibility {
            d.eligibility = v.into();
        }
        problems
    }
}

page_type!(ProgrammePage, ProgrammeView);

/// Filters of the programme list.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProgrammeQuery {
    #[param(schema_with = crate::dto::enums::programme_status)]
    pub status: Option<ProgrammeStatus>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<ProgrammeTransitionError> for ApiError {
    fn from(e: ProgrammeTransitionError) -> Self {
        ApiError::conflict("programme-transition", e.to_string())
    }
}

impl From<NotOpen> for ApiError {
    fn from(e: NotOpen) -> Self {
        ApiError::Refused {
            status: StatusCode::CONFLICT,
            kind: "programme-not-open",
            detail: e.to_string(),
        }
    }
}

impl From<Ineligible> for ApiError {
    fn from(e: Ineligible) -> Self {
        let (status, kind) = match e {
            Ineligible::Membership => (StatusCode::FORBIDDEN, "grant-ineligible-membership"),
            Ineligible::Tags => (StatusCode::FORBIDDEN, "grant-ineligible-tags"),
            Ineligible::MatureLab => (StatusCode::FORBIDDEN, "grant-ineligible-mature-lab"),
            Ineligible::CrossUnit => (StatusCode::FORBIDDEN, "grant-ineligible-cross-unit"),
            Ineligible::Category => (StatusCode::FORBIDDEN, "grant-ineligible-category"),
            Ineligible::NotActive => (StatusCode::CONFLICT, "programme-not-active"),
            Ineligible::OutsideValidity => (StatusCode::CONFLICT, "programme-outside-validity"),
        };
        ApiError::Refused {
            status,
            kind,
            detail: e.to_string(),
        }
    }
}

impl From<GrantError> for ApiError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::InvalidTransition { .. } => ApiError::conflict("grant-transition", e.to_string()),
            GrantError::Invalid(invalid) => invalid.into(),
        }
    }
}

/// Loads a programme the actor may see: drafts only for those who prepare,
/// approve or oversee programmes.
fn load_programme(c: &mut DbConn, ctx: &Ctx, id: i64) -> Result<Programme, ApiError> {
    let p = repo::get_programme(c, id)?;
    if p.status == ProgrammeStatus::Draft && !sees_draft_programmes(&ctx.actor) {
        Err(ApiError::NotFound)
    } else {
        Ok(p)
    }
}

/// Prepare a subsidy programme.
///
/// Platform office only. The programme starts as a draft, which the
/// commission approves.
#[utoipa::path(post, path = "/api/v1/subsidy-programmes", tag = "subsidies", operation_id = "createSubsidyProgramme",
    request_body = ProgrammeInput,
    responses((status = 201, description = "Created as a draft", body = ProgrammeView)),
    security(("bearer" = [])))]
pub async fn create_programme(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<ProgrammeInput>,
) -> Result<HttpResponse, ApiError> {
    let (data, problems) = body.0.data();
    let view = state
        .write(&bearer, move |c, ctx| {
            allow(ctx, Action::ManageProgrammes, &Resource::Platform)?;
            all_problems(problems, check_programme(&data))?;
            let view = ProgrammeView::from(repo::insert_programme(c, &data, ctx.actor.user_id, ctx.now_naive())?);
            audit(
                c,
                ctx,
                "subsidy_programme.create",
                "subsidy_programme",
                view.id,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Change a draft programme.
///
/// Platform office only; once approved, a programme keeps the terms the
/// commission approved (`/problems/programme-transition`).
#[utoipa::path(patch, path = "/api/v1/subsidy-programmes/{id}", tag = "subsidies", operation_id = "updateSubsidyProgramme",
    params(("id" = i64, Path, description = "Programme id"), crate::etag::IfMatch),
    request_body = ProgrammePatch,
    responses((status = 200, description = "The changed programme", body = ProgrammeView),
              (status = 409, description = "Not a draft", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update_programme(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
    body: Body<ProgrammePatch>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let patch = body.0;
    let view = state
        .write(&bearer, move |c, ctx| {
            lock_row(c, Lockable::SubsidyProgrammes, id.0)?;
            let before = load_programme(c, ctx, id.0)?;
            allow(ctx, Action::ManageProgrammes, &Resource::Platform)?;
            pre.check(&ProgrammeView::from(before.clone()))?;
            check_editable(before.status)?;
            let mut data = before.data.clone();
            let problems = patch.apply(&mut data);
            all_problems(problems, check_programme(&data))?;
            let after = ProgrammeView::from(repo::update_programme(c, id.0, &data, ctx.now_naive())?);
            audit(
                c,
                ctx,
                "subsidy_programme.update",
                "subsidy_programme",
                id.0,
                Some(&ProgrammeView::from(before)),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    crate::etag::tagged(&view)
}

/// Read a subsidy programme, with its budget, spending and what is left.
///
/// Every signed-in user; drafts only the platform office, commission and regulators.
#[utoipa::path(get, path = "/api/v1/subsidy-programmes/{id}", tag = "subsidies", operation_id = "getSubsidyProgramme",
    params(("id" = i64, Path, description = "Programme id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The programme", body = ProgrammeView)),
    security(("bearer" = [])))]
pub async fn get_programme(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view: ProgrammeView = state
        .read(&bearer, move |c, ctx| Ok(load_programme(c, ctx, id.0)?.into()))
        .await?;
    pre.read(&view)
}

/// List subsidy programmes.
///
/// Every signed-in user; drafts only the platform office, commission and regulators.
#[utoipa::path(get, path = "/api/v1/subsidy-programmes", tag = "subsidies", operation_id = "listSubsidyProgrammes",
    params(ProgrammeQuery),
    responses((status = 200, description = "A page of programmes", body = ProgrammePage)),
    security(("bearer" = [])))]
pub async fn list_programmes(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<ProgrammeQuery>,
) -> Result<web::Json<ProgrammePage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let filter = ProgrammeFilter {
                status: q.status,
                with_drafts: sees_draft_programmes(&ctx.actor),
                after,
                limit,
            };
            Ok(repo::list_programmes_by(c, &filter)?)
        })
        .await?;
    Ok(web::Json(ProgrammePage::from_page(page, ProgrammeView::from)))
}

fn programme_step(c: &mut DbConn, ctx: &Ctx, id: i64, action: ProgrammeAction) -> Result<ProgrammeView, ApiError> {
    lock_row(c, Lockable::SubsidyProgrammes, id)?;
    let before = load_programme(c, ctx, id)?;
    let permission = match action {
        ProgrammeAction::Approve => Action::ApproveProgramme,
        ProgrammeAction::Activate | ProgrammeAction::Close => Action::ManageProgrammes,
    };
    allow(ctx, permission, &Resource::Platform)?;
    let to = transition(before.status, action)?;
    let after = match repo::set_programme_status(c, id, before.status, to, ctx.actor.user_id, ctx.now_naive()) {
        Ok(p) => p,
        Err(RepoError::NotFound) => {
            return Err(ApiError::conflict(
                "programme-transition",
                "the programme changed meanwhile; read it again",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let name = match action {
        ProgrammeAction::Approve => "subsidy_programme.approve",
        ProgrammeAction::Activate => "subsidy_programme.activate",
        ProgrammeAction::Close => "subsidy_programme.close",
    };
    let (before, after) = (ProgrammeView::from(before), ProgrammeView::from(after));
    audit(c, ctx, name, "subsidy_programme", id, Some(&before), Some(&after))?;
    Ok(after)
}

macro_rules! programme_endpoint {
    ($fn:ident, $verb:literal, $op:literal, $summary:literal, $detail:literal, $action:expr) => {
        #[doc = $summary]
        #[doc = ""]
        #[doc = $detail]
        #[utoipa::path(post, path = concat!("/api/v1/subsidy-programmes/{id}/", $verb), tag = "subsidies", operation_id = $op,
            params(("id" = i64, Path, description = "Programme id")),
            responses((status = 200, description = "The programme after the step", body = ProgrammeView),
                      (status = 409, description = "Not allowed from the programme's state (`/problems/programme-transition`)", body = Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        pub async fn $fn(state: web::Data<AppState>, bearer: Bearer, id: Id) -> Result<web::Json<ProgrammeView>, ApiError> {
            let view = state.write(&bearer, move |c, ctx| programme_step(c, ctx, id.0, $action)).await?;
            Ok(web::Json(view))
        }
    };
}

programme_endpoint!(
    approve_programme,
    "approve",
    "approveSubsidyProgramme",
    "Approve a draft programme.",
    "The commission only. Researchers may apply for grants from then on.",
    ProgrammeAction::Approve
);
programme_endpoint!(
    activate_programme,
    "activate",
    "activateSubsidyProgramme",
    "Open an approved programme: it pays subsidy on eligible charges.",
    "The platform office only.",
    ProgrammeAction::Activate
);
programme_endpoint!(
    close_programme,
    "close",
    "closeSubsidyProgramme",
    "Close a programme: it pays nothing more and takes no applications.",
    "The platform office only; a draft or approved programme may be closed without ever paying.",
    ProgrammeAction::Close
);

/// A grant as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantView {
    #[schema(example = 5)]
    pub id: i64,
    #[schema(example = 1)]
    pub programme_id: i64,
    /// The beneficiary.
    #[schema(example = 6)]
    pub user_id: i64,
    /// The beneficiary's institution.
    #[schema(example = 3)]
    pub institution_id: i64,
    #[schema(example = "10000.00")]
    pub requested_amount: String,
    #[schema(example = "血清维生素D检测课题的质谱机时")]
    pub purpose: String,
    #[schema(schema_with = crate::dto::enums::grant_status)]
    pub status: GrantStatus,
    /// The amount approved.
    #[schema(example = "8000.00")]
    pub amount: Option<String>,
    /// What charges have drawn from it.
    #[schema(example = "1200.00")]
    pub used: String,
    /// amount − used; "0.00" unless approved.
    #[schema(example = "6800.00")]
    pub remaining: String,
    /// Why it was rejected.
    #[schema(example = "课题不在资助范围内")]
    pub reason: Option<String>,
    #[schema(example = 2)]
    pub decided_by: Option<i64>,
    #[schema(example = "2027-01-05T02:00:00Z")]
    pub decided_at: Option<DateTime<Utc>>,
    #[schema(example = "2027-01-03T02:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2027-01-05T02:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl From<Grant> for GrantView {
    fn from(g: Grant) -> Self {
        let remaining = g.left().to_string();
        Self {
            id: g.id,
            programme_id: g.programme_id,
            user_id: g.user_id.0,
            institution_id: g.institution_id.0,
            requested_amount: g.requested.to_string(),
            purpose: g.purpose,
            status: g.status,
            amount: g.amount.map(|m| m.to_string()),
            used: g.used.to_string(),
            remaining,
            reason: g.reason,
            decided_by: g.decided_by.map(|u| u.0),
            decided_at: g.decided_at.map(instant),
            created_at: instant(g.created_at),
            updated_at: instant(g.updated_at),
        }
    }
}

/// An application for a grant, for oneself.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct GrantInput {
    #[schema(example = 1)]
    pub programme_id: i64,
    /// CNY, more than 0 and at most the programme's cap per beneficiary.
    #[schema(example = "10000.00")]
    pub requested_amount: String,
    /// 1–500 characters.
    #[schema(example = "血清维生素D检测课题的质谱机时")]
    pub purpose: String,
}

/// The approval of a grant.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct GrantApproval {
    /// CNY, more than 0 and at most the programme's cap per beneficiary.
    #[schema(example = "8000.00")]
    pub amount: String,
}

/// The rejection of a grant.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct GrantRejection {
    /// Why it is rejected, 1–500 characters.
    #[validate(length(min = 1, max = 500))]
    #[schema(example = "课题不在资助范围内")]
    pub reason: String,
}

page_type!(GrantPage, GrantView);

/// Filters of the grant list; it holds only grants the reader may see.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantQuery {
    pub programme_id: Option<i64>,
    pub user_id: Option<i64>,
    #[param(schema_with = crate::dto::enums::grant_status)]
    pub status: Option<GrantStatus>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn load_grant(c: &mut DbConn, ctx: &Ctx, id: i64) -> Result<Grant, ApiError> {
    let g = repo::get_grant(c, id)?;
    let resource = Resource::Grant {
        user_id: g.user_id,
        institution_id: g.institution_id,
    };
    if can(&ctx.actor, Action::ReadGrant, &resource) {
        Ok(g)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Apply for a grant under a programme.
///
/// For oneself, under a programme the commission has approved that is
/// neither closed nor past its validity. The applicant must be eligible:
/// its institution's membership, whether its institution has a mature lab,
/// and its tags (`/problems/grant-ineligible-membership`,
/// `/problems/grant-ineligible-tags`, `/problems/grant-ineligible-mature-lab`).
/// One pending or approved grant per user and programme.
#[utoipa::path(post, path = "/api/v1/subsidy-grants", tag = "subsidies", operation_id = "applyForSubsidyGrant",
    request_body = GrantInput,
    responses((status = 201, description = "Applied; pending", body = GrantView),
              (status = 403, description = "Not eligible under the programme (`/problems/grant-ineligible-…`), or not allowed", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "An open grant exists (`/problems/grant-open`), or the programme takes no applications (`/problems/programme-not-open`)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn apply(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<GrantInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let mut problems = Vec::new();
    let requested = parse_field(
        &mut problems,
        "requested_amount",
        "money",
        Money::parse(&i.requested_amount),
        || SOME_BUDGET,
    );
    let view = state
        .write(&bearer, move |c, ctx| {
            allow(ctx, Action::ApplyForGrant, &Resource::Platform)?;
            lock_row(c, Lockable::SubsidyProgrammes, i.programme_id)?;
            let programme = match referenced(
                repo::get_programme(c, i.programme_id),
                "/programme_id",
                "no such programme",
            )? {
                p if p.status == ProgrammeStatus::Draft && !sees_draft_programmes(&ctx.actor) => {
                    return Err(ApiError::Validation(vec![FieldProblem::body(
                        "/programme_id",
                        "exists",
                        "no such programme",
                    )]))
                }
                p => p,
            };
            open_for_grants(programme.status, &programme.data, local_today(ctx))?;
            all_problems(
                problems,
                check_application(requested, &i.purpose, programme.data.cap_per_beneficiary),
            )?;
            let institution = institutions::get(c, ctx.actor.institution_id)?;
            let tags = users::tags_of(c, ctx.actor.user_id)?;
            let beneficiary = Beneficiary {
                membership: institution.value.data.membership,
                has_mature_lab: institution.value.data.has_mature_lab,
                tags: &tags,
            };
            beneficiary_eligible(&programme.data.eligibility, &beneficiary)?;
            let grant = repo::insert_grant(
                c,
                programme.id,
                ctx.actor.user_id,
                ctx.actor.institution_id,
                requested,
                &i.purpose,
                ctx.now_naive(),
            )
            .map_err(|e| match e {
                RepoError::Conflict {
                    kind: ConflictKind::Unique,
                    ..
                } => ApiError::conflict(
                    "grant-open",
                    "you already have a pending or approved grant under this programme",
                ),
                other => other.into(),
            })?;
            let view = GrantView::from(grant);
            audit(
                c,
                ctx,
                "subsidy_grant.apply",
                "subsidy_grant",
                view.id,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Read a grant.
///
/// One's own; a unit admin's unit's; any for the platform office, commission and regulators.
#[utoipa::path(get, path = "/api/v1/subsidy-grants/{id}", tag = "subsidies", operation_id = "getSubsidyGrant",
    params(("id" = i64, Path, description = "Grant id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The grant", body = GrantView)),
    security(("bearer" = [])))]
pub async fn get_grant(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view: GrantView = state
        .read(&bearer, move |c, ctx| Ok(load_grant(c, ctx, id.0)?.into()))
        .await?;
    pre.read(&view)
}

/// List grants.
///
/// One's own; a unit admin also its unit's; all for the platform office,
/// commission and regulators.
#[utoipa::path(get, path = "/api/v1/subsidy-grants", tag = "subsidies", operation_id = "listSubsidyGrants",
    params(GrantQuery),
    responses((status = 200, description = "A page of grants", body = GrantPage)),
    security(("bearer" = [])))]
pub async fn list_grants(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<GrantQuery>,
) -> Result<web::Json<GrantPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let visible = match request_scope(&ctx.actor) {
                RequestScope::All => None,
                RequestScope::Limited { unit } => Some((ctx.actor.user_id.0, unit.map(|u| u.0))),
            };
            let filter = GrantFilter {
                programme_id: q.programme_id,
                user_id: q.user_id,
                status: q.status,
                visible,
                after,
                limit,
            };
            Ok(repo::list_grants(c, &filter)?)
        })
        .await?;
    Ok(web::Json(GrantPage::from_page(page, GrantView::from)))
}

/// The decision of the platform office on a pending grant.
enum GrantDecision {
    Approve(Money),
    Reject(String),
}

fn decide_grant(c: &mut DbConn, ctx: &Ctx, id: i64, decision: GrantDecision) -> Result<GrantView, ApiError> {
    lock_row(c, Lockable::SubsidyGrants, id)?;
    let before = load_grant(c, ctx, id)?;
    allow(ctx, Action::DecideGrant, &Resource::Platform)?;
    let programme = repo::get_programme(c, before.programme_id)?;
    let (to, amount, reason, name) = match &decision {
        GrantDecision::Approve(amount) => {
            let to = rules::approve_grant(before.status, *amount, programme.data.cap_per_beneficiary)?;
            open_for_grants(programme.status, &programme.data, local_today(ctx))?;
            (to, Some(*amount), None, "subsidy_grant.approve")
        }
        GrantDecision::Reject(reason) => (
            rules::reject_grant(before.status, reason)?,
            None,
            Some(reason.as_str()),
            "subsidy_grant.reject",
        ),
    };
    let after = match repo::decide_grant(c, id, to, amount, reason, ctx.actor.user_id, ctx.now_naive()) {
        Ok(g) => g,
        Err(RepoError::NotFound) => {
            return Err(ApiError::conflict(
                "grant-transition",
                "the grant was decided meanwhile; read it again",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let (before, after) = (GrantView::from(before), GrantView::from(after));
    audit(c, ctx, name, "subsidy_grant", id, Some(&before), Some(&after))?;
    Ok(after)
}

/// Approve a pending grant with an amount.
///
/// Platform office only; the amount is more than 0 and at most the
/// programme's cap per beneficiary, and the programme still takes grants.
#[utoipa::path(post, path = "/api/v1/subsidy-grants/{id}/approve", tag = "subsidies", operation_id = "approveSubsidyGrant",
    params(("id" = i64, Path, description = "Grant id")),
    request_body = GrantApproval,
    responses((status = 200, description = "The approved grant", body = GrantView),
              (status = 409, description = "Not pending (`/problems/grant-transition`), or the programme takes no more grants (`/problems/programme-not-open`)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn approve_grant(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<GrantApproval>,
) -> Result<web::Json<GrantView>, ApiError> {
    let amount = money("amount", &body.0.amount).map_err(|p| ApiError::Validation(vec![p]))?;
    let view = state
        .write(&bearer, move |c, ctx| {
            decide_grant(c, ctx, id.0, GrantDecision::Approve(amount))
        })
        .await?;
    Ok(web::Json(view))
}

/// Reject a pending grant, with a reason.
///
/// Platform office only.
#[utoipa::path(post, path = "/api/v1/subsidy-grants/{id}/reject", tag = "subsidies", operation_id = "rejectSubsidyGrant",
    params(("id" = i64, Path, description = "Grant id")),
    request_body = GrantRejection,
    responses((status = 200, description = "The rejected grant", body = GrantView),
              (status = 409, description = "Not pending", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reject_grant(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<GrantRejection>,
) -> Result<web::Json<GrantView>, ApiError> {
    let reason = body.0.reason;
    let view = state
        .write(&bearer, move |c, ctx| {
            decide_grant(c, ctx, id.0, GrantDecision::Reject(reason))
        })
        .await?;
    Ok(web::Json(view))
}
