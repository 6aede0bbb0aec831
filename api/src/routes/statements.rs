//! `/api/v1/statements`: the monthly settlement (结算单) between each payer
//! and provider, and the subsidy each programme's funder owes each provider.

use crate::auth::Bearer;
use crate::dto::{enum_object, instant, page_args};
use crate::error::{ApiError, FieldProblem};
use crate::export::{self, col, opt, text, Column, Format};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::routes::{allow, audit};
use crate::state::{AppState, Ctx};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::{can, statement_scope, Action, Resource, Scope};
use labshare_domain::money::format_fen;
use labshare_domain::service::contains_resident_id;
use labshare_domain::statement::{transition, Month, StatementAction, StatementError, StatementKind, StatementStatus};
use labshare_persistence::statements::{self as repo, Statement, Step};
use labshare_persistence::{lock_row, DbConn, Lockable, RepoError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

fn statement_kind() -> Object {
    enum_object::<StatementKind>()
}
fn statement_status() -> Object {
    enum_object::<StatementStatus>()
}

/// A statement as the API shows it. Amounts are CNY decimal strings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatementView {
    #[schema(example = 9)]
    pub id: i64,
    #[schema(schema_with = statement_kind)]
    pub kind: StatementKind,
    /// The local month, `YYYY-MM`, up to whose end the statement collects
    /// charges not settled before.
    #[schema(example = "2026-12")]
    pub month: String,
    /// The paying institution of a settlement.
    #[schema(example = 3)]
    pub payer_institution_id: Option<i64>,
    /// The programme whose funder owes a subsidy statement.
    #[schema(example = json!(null))]
    pub programme_id: Option<i64>,
    #[schema(example = 2)]
    pub provider_institution_id: i64,
    #[schema(schema_with = statement_status)]
    pub status: StatementStatus,
    #[schema(example = 14)]
    pub charge_count: i32,
    /// The sum of the charges' gross.
    #[schema(example = "9650.00")]
    pub gross: String,
    /// The sum of their subsidy.
    #[schema(example = "1200.00")]
    pub subsidy: String,
    /// What is owed: gross − subsidy for a settlement, the subsidy for a subsidy statement.
    #[schema(example = "8450.00")]
    pub net: String,
    #[schema(example = 4)]
    pub issued_by: Option<i64>,
    #[schema(example = "2027-01-03T02:00:00Z")]
    pub issued_at: Option<DateTime<Utc>>,
    #[schema(example = json!(null))]
    pub paid_at: Option<DateTime<Utc>>,
    #[schema(example = json!(null))]
    pub dispute_reason: Option<String>,
    #[schema(example = json!(null))]
    pub resolution_note: Option<String>,
    #[schema(example = "2027-01-02T01:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2027-01-03T02:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl From<Statement> for StatementView {
    fn from(s: Statement) -> Self {
        Self {
            id: s.id,
            kind: s.kind,
            month: s.month,
            payer_institution_id: s.payer_institution_id.map(|i| i.0),
            programme_id: s.programme_id,
            provider_institution_id: s.provider_institution_id.0,
            status: s.status,
            charge_count: s.charge_count,
            gross: format_fen(s.gross),
            subsidy: format_fen(s.subsidy),
            net: format_fen(s.net),
            issued_by: s.issued_by.map(|u| u.0),
            issued_at: s.issued_at.map(instant),
            paid_at: s.paid_at.map(instant),
            dispute_reason: s.dispute_reason,
            resolution_note: s.resolution_note,
            created_at: instant(s.created_at),
            updated_at: instant(s.updated_at),
        }
    }
}

page_type!(StatementPage, StatementView);

/// Which month to generate.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct GenerateInput {
    /// A local month that has ended, `YYYY-MM`.
    #[schema(example = "2026-12")]
    pub month: String,
}

/// The drafts a generation opened or added to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Generated {
    #[schema(example = "2026-12")]
    pub month: String,
    /// Charges newly settled by this run.
    #[schema(example = 14)]
    pub charges_settled: usize,
    pub statements: Vec<StatementView>,
}

/// A reason for a dispute or a note resolving it.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct DisputeInput {
    #[schema(example = "12月5日机时记录与实际不符")]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    #[schema(example = "已于1月开具调整单 #57")]
    pub note: String,
}

/// Filters of the statement list.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    #[param(schema_with = statement_kind)]
    pub kind: Option<StatementKind>,
    /// `YYYY-MM`.
    pub month: Option<String>,
    #[param(schema_with = statement_status)]
    pub status: Option<StatementStatus>,
    pub payer_institution_id: Option<i64>,
    pub provider_institution_id: Option<i64>,
    pub programme_id: Option<i64>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filters of a statement export.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementExportQuery {
    /// `csv` (default; UTF-8 with BOM, Chinese headers) or `json`.
    pub format: Option<Format>,
    #[param(schema_with = statement_kind)]
    pub kind: Option<StatementKind>,
    pub month: Option<String>,
    #[param(schema_with = statement_status)]
    pub status: Option<StatementStatus>,
    pub payer_institution_id: Option<i64>,
    pub provider_institution_id: Option<i64>,
    pub programme_id: Option<i64>,
}

fn resource(s: &Statement) -> Resource<'static> {
    Resource::Statement {
        payer: s.payer_institution_id,
        provider: s.provider_institution_id,
        draft: s.status == StatementStatus::Draft,
    }
}

fn month_param(month: Option<String>) -> Result<Option<String>, ApiError> {
    month
        .map(|m| {
            Month::parse(&m)
                .map(|m| m.to_string())
                .map_err(|e| ApiError::InvalidParameter(vec![FieldProblem::parameter("month", "month", e)]))
        })
        .transpose()
}

fn party(ctx: &Ctx) -> Result<Option<i64>, ApiError> {
    match statement_scope(&ctx.actor) {
        Some(Scope::All) => Ok(None),
        Some(Scope::Institution(i)) => Ok(Some(i.0)),
        None => Err(ApiError::Forbidden),
    }
}

/// Collects the charges not yet settled up to the end of `month` into the
/// month's draft statements, one per pair; a pair whose statement for the
/// month is already issued keeps its new charges for the next month.
fn generate_month(c: &mut DbConn, ctx: &Ctx, month: Month) -> Result<Generated, ApiError> {
    let end = month.end(ctx.policy.local_offset()).naive_utc();
    let label = month.to_string();
    let mut settled = 0;
    let mut touched = Vec::new();
    for kind in [StatementKind::Settlement, StatementKind::Subsidy] {
        let mut pairs: BTreeMap<(i64, i64), Vec<i64>> = BTreeMap::new();
        for u in repo::unsettled(c, kind, end)? {
            pairs
                .entry((u.counterparty_id, u.provider_institution_id))
                .or_default()
                .push(u.charge_id);
        }
        for ((counterparty, provider), charge_ids) in pairs {
            let statement = match repo::find(c, kind, &label, counterparty, provider)? {
                Some(s) if s.status == StatementStatus::Draft => s,
                Some(_) => continue,
                None => repo::insert_draft(c, kind, &label, counterparty, provider, ctx.now_naive())?,
            };
            // Issued meanwhile? Then these charges wait for the next month.
            lock_row(c, Lockable::Statements, statement.id)?;
            let statement = repo::get(c, statement.id)?;
            if statement.status != StatementStatus::Draft {
                continue;
            }
            let after = repo::settle(c, &statement, &charge_ids, ctx.now_naive())?;
            settled += charge_ids.len();
            let (before, after) = (StatementView::from(statement), StatementView::from(after));
            audit(
                c,
                ctx,
                "statement.generate",
                "statement",
                after.id,
                Some(&before),
                Some(&after),
            )?;
            touched.push(after);
        }
    }
    Ok(Generated {
        month: label,
        charges_settled: settled,
        statements: touched,
    })
}

/// Generate a month's statements.
///
/// The platform office collects, for a local month that has ended, every
/// charge not yet on a statement into draft statements: one per payer and
/// provider (gross, subsidy, net), and one per programme and provider (the
/// subsidy the funder owes). Running it again adds charges made since to
/// the drafts; issued statements never change, and charges for a pair
/// whose statement is issued wait for the next month's.
#[utoipa::path(post, path = "/api/v1/statements/generate", tag = "statements", operation_id = "generateStatements",
    request_body = GenerateInput,
    responses((status = 200, description = "The drafts opened or added to", body = Generated),
              (status = 409, description = "The month has not ended", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn generate(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<GenerateInput>,
) -> Result<web::Json<Generated>, ApiError> {
    let month = Month::parse(&body.0.month)
        .map_err(|e| ApiError::Validation(vec![FieldProblem::body("/month", "month", e)]))?;
    let out = state
        .write(&bearer, move |c, ctx| {
            allow(ctx, Action::GenerateStatements, &Resource::Platform)?;
            if month.end(ctx.policy.local_offset()) > ctx.now {
                return Err(ApiError::conflict(
                    "statement-month-open",
                    format!("{month} has not ended; statements are generated after the month"),
                ));
            }
            generate_month(c, ctx, month)
        })
        .await?;
    Ok(web::Json(out))
}

/// List statements.
///
/// A unit admin sees the statements its unit provides, and those it pays
/// once they are issued; the platform office, commission and regulators all.
#[utoipa::path(get, path = "/api/v1/statements", tag = "statements", operation_id = "listStatements",
    params(StatementQuery),
    responses((status = 200, description = "A page of statements", body = StatementPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<StatementQuery>,
) -> Result<web::Json<StatementPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let month = month_param(q.month)?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let filter = repo::Filter {
                kind: q.kind,
                month,
                status: q.status,
                payer_institution_id: q.payer_institution_id,
                provider_institution_id: q.provider_institution_id,
                programme_id: q.programme_id,
                party: party(ctx)?,
                after,
                limit,
            };
            Ok(repo::list(c, &filter)?)
        })
        .await?;
    Ok(web::Json(StatementPage::from_page(page, StatementView::from)))
}

/// Read a statement.
///
/// Its charges are listed by `GET /api/v1/charges?statement_id=…`.
#[utoipa::path(get, path = "/api/v1/statements/{id}", tag = "statements", operation_id = "getStatement",
    params(("id" = i64, Path, description = "Statement id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The statement", body = StatementView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| {
            let s = repo::get(c, id.0)?;
            if !can(&ctx.actor, Action::ReadStatement, &resource(&s)) {
                return Err(ApiError::NotFound);
            }
            Ok(StatementView::from(s))
        })
        .await?;
    pre.read(&view)
}

const STATEMENT_COLUMNS: [Column; 15] = [
    col("编号"),
    col("类型"),
    col("月份"),
    col("付费单位编号"),
    col("资助项目编号"),
    col("服务单位编号"),
    col("状态"),
    col("费用笔数"),
    col("应收合计(元)"),
    col("补贴合计(元)"),
    col("应付净额(元)"),
    col("开具时间"),
    col("付款时间"),
    text("争议原因"),
    text("处理说明"),
];

fn statement_row(v: &StatementView) -> Vec<String> {
    vec![
        v.id.to_string(),
        v.kind.to_string(),
        v.month.clone(),
        opt(v.payer_institution_id),
        opt(v.programme_id),
        v.provider_institution_id.to_string(),
        v.status.to_string(),
        v.charge_count.to_string(),
        v.gross.clone(),
        v.subsidy.clone(),
        v.net.clone(),
        opt(v.issued_at.map(|t| t.to_rfc3339())),
        opt(v.paid_at.map(|t| t.to_rfc3339())),
        v.dispute_reason.clone().unwrap_or_default(),
        v.resolution_note.clone().unwrap_or_default(),
    ]
}

/// Export statements.
///
/// Every statement matching the filters that the reader may see, as CSV
/// (UTF-8 with BOM, Chinese headers) or a JSON array.
#[utoipa::path(get, path = "/api/v1/statements/export", tag = "statements", operation_id = "exportStatements",
    params(StatementExportQuery),
    responses((status = 200, description = "The statements: CSV (UTF-8 with BOM) by default, a JSON array with format=json",
        content((String = "text/csv", example = json!("\u{feff}编号,类型,月份,…\r\n9,settlement,2026-12,…\r\n")), (Vec<StatementView> = "application/json")))),
    security(("bearer" = [])))]
pub async fn export_statements(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<StatementExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let format = q.format.unwrap_or_default();
    let month = month_param(q.month)?;
    let items = state
        .read(&bearer, move |c, ctx| {
            let party = party(ctx)?;
            crate::routes::charges::all_pages(|after, limit| {
                let filter = repo::Filter {
                    kind: q.kind,
                    month: month.clone(),
                    status: q.status,
                    payer_institution_id: q.payer_institution_id,
                    provider_institution_id: q.provider_institution_id,
                    programme_id: q.programme_id,
                    party,
                    after,
                    limit,
                };
                Ok(repo::list(c, &filter)?)
            })
        })
        .await?;
    let views: Vec<StatementView> = items.into_iter().map(StatementView::from).collect();
    Ok(export::respond(
        format,
        "statements",
        &STATEMENT_COLUMNS,
        &views,
        statement_row,
    ))
}

fn step(c: &mut DbConn, ctx: &Ctx, id: i64, action: StatementAction) -> Result<StatementView, ApiError> {
    // Locked before it is read, so that the step acts on the totals it shows.
    lock_row(c, Lockable::Statements, id)?;
    let before = repo::get(c, id)?;
    if !can(&ctx.actor, Action::ReadStatement, &resource(&before)) {
        return Err(ApiError::NotFound);
    }
    let (permission, name) = match &action {
        StatementAction::Issue => (Action::SettleStatement, "statement.issue"),
        StatementAction::Pay => (Action::SettleStatement, "statement.pay"),
        StatementAction::Resolve { .. } => (Action::SettleStatement, "statement.resolve"),
        StatementAction::Dispute { .. } => (Action::DisputeStatement, "statement.dispute"),
    };
    allow(ctx, permission, &resource(&before))?;
    let to = transition(before.status, &action).map_err(|e| match e {
        StatementError::InvalidTransition { .. } => ApiError::conflict("statement-transition", e.to_string()),
        StatementError::Invalid(invalid) => invalid.into(),
    })?;
    let now = ctx.now_naive();
    let change = match action {
        StatementAction::Issue => Step {
            issued_by: Some(ctx.actor.user_id),
            issued_at: Some(now),
            ..Step::default()
        },
        StatementAction::Pay => Step {
            paid_at: Some(now),
            ..Step::default()
        },
        StatementAction::Dispute { reason } => Step {
            dispute_reason: Some(reason),
            ..Step::default()
        },
        StatementAction::Resolve { note } => Step {
            resolution_note: Some(note),
            ..Step::default()
        },
    };
    let after = match repo::transition(c, id, before.status, to, &change, now) {
        Ok(s) => s,
        Err(RepoError::NotFound) => {
            return Err(ApiError::conflict(
                "statement-transition",
                "the statement changed meanwhile; read it again",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let (before, after) = (StatementView::from(before), StatementView::from(after));
    audit(c, ctx, name, "statement", id, Some(&before), Some(&after))?;
    Ok(after)
}

fn no_resident_id(pointer: &str, text: &str) -> Result<(), ApiError> {
    if contains_resident_id(text) {
        return Err(ApiError::Validation(vec![FieldProblem::body(
            pointer,
            "resident_id",
            "must not contain a resident identity number",
        )]));
    }
    Ok(())
}

/// Issue a draft statement.
///
/// The provider's unit admin or the platform office sends it to the payer;
/// from then on it never changes.
#[utoipa::path(post, path = "/api/v1/statements/{id}/issue", tag = "statements", operation_id = "issueStatement",
    params(("id" = i64, Path, description = "Statement id")),
    responses((status = 200, description = "The statement, issued", body = StatementView),
              (status = 409, description = "Not a draft", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn issue(state: web::Data<AppState>, bearer: Bearer, id: Id) -> Result<web::Json<StatementView>, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| step(c, ctx, id.0, StatementAction::Issue))
        .await?;
    Ok(web::Json(view))
}

/// Confirm payment of a statement.
///
/// The provider's unit admin (or the platform office) confirms the money arrived.
#[utoipa::path(post, path = "/api/v1/statements/{id}/pay", tag = "statements", operation_id = "payStatement",
    params(("id" = i64, Path, description = "Statement id")),
    responses((status = 200, description = "The statement, paid", body = StatementView),
              (status = 409, description = "Not issued or disputed", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn pay(state: web::Data<AppState>, bearer: Bearer, id: Id) -> Result<web::Json<StatementView>, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| step(c, ctx, id.0, StatementAction::Pay))
        .await?;
    Ok(web::Json(view))
}

/// Dispute an issued statement.
///
/// The payer's unit admin (the platform office for a programme's funder)
/// contests it with a reason; the provider settles it by adjustments, which
/// fall on the next statement, and resolves the dispute.
#[utoipa::path(post, path = "/api/v1/statements/{id}/dispute", tag = "statements", operation_id = "disputeStatement",
    params(("id" = i64, Path, description = "Statement id")),
    request_body = DisputeInput,
    responses((status = 200, description = "The statement, disputed", body = StatementView),
              (status = 409, description = "Not issued", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn dispute(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<DisputeInput>,
) -> Result<web::Json<StatementView>, ApiError> {
    let reason = body.0.reason;
    no_resident_id("/reason", &reason)?;
    let view = state
        .write(&bearer, move |c, ctx| {
            step(c, ctx, id.0, StatementAction::Dispute { reason })
        })
        .await?;
    Ok(web::Json(view))
}

/// Resolve a dispute.
///
/// The provider's unit admin or the platform office records how it was
/// settled; the statement stands as issued.
#[utoipa::path(post, path = "/api/v1/statements/{id}/resolve", tag = "statements", operation_id = "resolveStatement",
    params(("id" = i64, Path, description = "Statement id")),
    request_body = ResolveInput,
    responses((status = 200, description = "The statement, issued again", body = StatementView),
              (status = 409, description = "Not disputed", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn resolve(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<ResolveInput>,
) -> Result<web::Json<StatementView>, ApiError> {
    let note = body.0.note;
    no_resident_id("/note", &note)?;
    let view = state
        .write(&bearer, move |c, ctx| {
            step(c, ctx, id.0, StatementAction::Resolve { note })
        })
        .await?;
    Ok(web::Json(view))
}
