//! `/api/v1/charges`: what each use and service costs (DESIGN.md §4),
//! created by the events themselves, never edited; corrected by adjustments.

use crate::auth::Bearer;
use crate::dto::{bounded_instant, enum_object, instant, page_args};
use crate::error::{ApiError, FieldProblem};
use crate::export::{self, col, opt, text, Column, Format};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::state::{AppState, Ctx};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::{can, Action, Resource};
use labshare_domain::catalogue::ServiceMode;
use labshare_domain::fees::{ChargeKind, FeeUnit, Tier};
use labshare_domain::money::{format_fen, parse_signed_fen};
use labshare_domain::service::contains_resident_id;
use labshare_persistence::charges::{self as repo, Charge};
use labshare_persistence::DbConn;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

fn charge_kind() -> Object {
    enum_object::<ChargeKind>()
}
fn tier() -> Object {
    enum_object::<Tier>()
}
fn fee_unit() -> Object {
    enum_object::<FeeUnit>()
}

/// The line breakdown of a charge; amounts are CNY decimal strings, each
/// line rounded half-up to the fen. On an adjustment only the totals are set.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChargeLines {
    /// Minutes for an hourly standard, samples or orders otherwise.
    #[schema(example = 150)]
    pub quantity: i64,
    /// `minute`, `sample` or `item`.
    #[schema(example = "minute")]
    pub quantity_unit: String,
    /// The tier's price per hour, sample or item.
    #[schema(example = "240.00")]
    pub unit_price: String,
    /// unit price × quantity (per hour: × minutes ÷ 60).
    #[schema(example = "600.00")]
    pub usage_amount: String,
    /// 开机费, once per session.
    #[schema(example = "50.00")]
    pub startup_fee: String,
    /// For assisted operation, per hour.
    #[schema(example = "0.00")]
    pub assisted_surcharge: String,
    /// Whether the minimum charge applied.
    #[schema(example = false)]
    pub minimum_applied: bool,
    /// What was added to reach the minimum charge.
    #[schema(example = "0.00")]
    pub minimum_top_up: String,
    /// The share of the session fee charged: 100, or the policy's penalty
    /// share for a late cancellation (100), a no-show (150) or a walk-in (200).
    #[schema(example = 100)]
    pub fee_percent: i32,
    /// (usage + start-up + surcharge + top-up) × fee percent; negative for a reduction.
    #[schema(example = "650.00")]
    pub gross: String,
    /// Paid from a subsidy programme; negative when given back.
    #[schema(example = "325.00")]
    pub subsidy: String,
    /// gross − subsidy: what the payer owes.
    #[schema(example = "325.00")]
    pub payable: String,
}

/// A charge as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChargeView {
    #[schema(example = 41)]
    pub id: i64,
    #[schema(schema_with = charge_kind)]
    pub kind: ChargeKind,
    /// The user who used the instrument or ordered the service.
    #[schema(example = 6)]
    pub user_id: i64,
    #[schema(example = 3)]
    pub payer_institution_id: i64,
    #[schema(example = 2)]
    pub provider_institution_id: i64,
    #[schema(example = 7)]
    pub instrument_id: Option<i64>,
    #[schema(example = json!(null))]
    pub service_item_id: Option<i64>,
    #[schema(example = 12)]
    pub booking_id: Option<i64>,
    #[schema(example = 31)]
    pub usage_record_id: Option<i64>,
    #[schema(example = json!(null))]
    pub service_order_id: Option<i64>,
    /// The charge an adjustment corrects.
    #[schema(example = json!(null))]
    pub adjusts_charge_id: Option<i64>,
    /// The fee standard and version the price came from.
    #[schema(example = 4)]
    pub fee_standard_id: Option<i64>,
    #[schema(example = 2)]
    pub fee_standard_version: Option<i32>,
    #[schema(schema_with = tier)]
    pub tier: Tier,
    #[schema(schema_with = crate::dto::enums::service_mode, nullable)]
    pub mode: Option<ServiceMode>,
    #[schema(schema_with = fee_unit)]
    pub unit: FeeUnit,
    pub lines: ChargeLines,
    /// The programme and grant the subsidy came from.
    #[schema(example = 1)]
    pub programme_id: Option<i64>,
    #[schema(example = 3)]
    pub grant_id: Option<i64>,
    /// Why an adjustment was made (empty otherwise).
    #[schema(example = "")]
    pub reason: String,
    /// When the use began: the fee standard in force then applies.
    #[schema(example = "2026-12-02T01:00:00Z")]
    pub used_at: DateTime<Utc>,
    /// Who caused the charge; absent when the platform did (a no-show).
    #[schema(example = 5)]
    pub created_by: Option<i64>,
    /// When the charge was made: the statement month follows it.
    #[schema(example = "2026-12-02T03:30:00Z")]
    pub created_at: DateTime<Utc>,
}

impl From<Charge> for ChargeView {
    fn from(c: Charge) -> Self {
        let l = c.lines;
        let quantity_unit = match c.unit {
            FeeUnit::Hour => "minute",
            FeeUnit::Sample => "sample",
            FeeUnit::Item => "item",
        };
        Self {
            id: c.id,
            kind: c.kind,
            user_id: c.user_id.0,
            payer_institution_id: c.payer_institution_id.0,
            provider_institution_id: c.provider_institution_id.0,
            instrument_id: c.instrument_id,
            service_item_id: c.service_item_id,
            booking_id: c.booking_id,
            usage_record_id: c.usage_record_id,
            service_order_id: c.service_order_id,
            adjusts_charge_id: c.adjusts_charge_id,
            fee_standard_id: c.fee_standard_id,
            fee_standard_version: c.fee_standard_version,
            tier: c.tier,
            mode: c.mode,
            unit: c.unit,
            lines: ChargeLines {
                quantity: l.quantity,
                quantity_unit: quantity_unit.into(),
                unit_price: format_fen(l.unit_price),
                usage_amount: format_fen(l.usage),
                startup_fee: format_fen(l.startup_fee),
                assisted_surcharge: format_fen(l.assisted_surcharge),
                minimum_applied: l.minimum_top_up > 0,
                minimum_top_up: format_fen(l.minimum_top_up),
                fee_percent: l.fee_percent,
                gross: format_fen(l.gross),
                subsidy: format_fen(l.subsidy),
                payable: format_fen(l.payable),
            },
            programme_id: c.programme_id,
            grant_id: c.grant_id,
            reason: c.reason,
            used_at: instant(c.used_at),
            created_by: c.created_by.map(|u| u.0),
            created_at: instant(c.created_at),
        }
    }
}

/// A charge with its adjustments and what it stands at after them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChargeDetail {
    #[serde(flatten)]
    pub charge: ChargeView,
    /// The adjustments of this charge, oldest first.
    #[schema(example = json!([57]))]
    pub adjustment_ids: Vec<i64>,
    /// gross after every adjustment.
    #[schema(example = "550.00")]
    pub corrected_gross: String,
    #[schema(example = "275.00")]
    pub corrected_subsidy: String,
    #[schema(example = "275.00")]
    pub corrected_payable: String,
}

page_type!(ChargePage, ChargeView);

/// Filters of the charge list; it holds only charges the reader may see.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChargeQuery {
    #[param(schema_with = charge_kind)]
    pub kind: Option<ChargeKind>,
    pub user_id: Option<i64>,
    pub payer_institution_id: Option<i64>,
    pub provider_institution_id: Option<i64>,
    pub instrument_id: Option<i64>,
    pub booking_id: Option<i64>,
    pub service_order_id: Option<i64>,
    /// Charges that drew on this subsidy programme.
    pub programme_id: Option<i64>,
    /// Charges a statement settles.
    pub statement_id: Option<i64>,
    /// Charges made at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Charges made before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filters of a charge export.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChargeExportQuery {
    /// `csv` (default; UTF-8 with BOM, Chinese headers) or `json`.
    pub format: Option<Format>,
    #[param(schema_with = charge_kind)]
    pub kind: Option<ChargeKind>,
    pub user_id: Option<i64>,
    pub payer_institution_id: Option<i64>,
    pub provider_institution_id: Option<i64>,
    pub instrument_id: Option<i64>,
    pub programme_id: Option<i64>,
    pub statement_id: Option<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// What the reader may see: `None` all, else its own and, for a unit
/// admin, those to and from its unit.
fn visible(ctx: &Ctx) -> Option<(i64, Option<i64>)> {
    use labshare_domain::access::{request_scope, RequestScope};
    match request_scope(&ctx.actor) {
        RequestScope::All => None,
        RequestScope::Limited { unit } => Some((ctx.actor.user_id.0, unit.map(|u| u.0))),
    }
}

fn resource(c: &Charge) -> Resource<'static> {
    Resource::Charge {
        user_id: c.user_id,
        payer: c.payer_institution_id,
        provider: c.provider_institution_id,
    }
}

fn detail(c: &mut DbConn, charge: Charge) -> Result<ChargeDetail, ApiError> {
    let adjustments = repo::adjustments_of(c, charge.id)?;
    let sum = |f: fn(&Charge) -> i64| f(&charge) + adjustments.iter().map(f).sum::<i64>();
    Ok(ChargeDetail {
        adjustment_ids: adjustments.iter().map(|a| a.id).collect(),
        corrected_gross: format_fen(sum(|x| x.lines.gross)),
        corrected_subsidy: format_fen(sum(|x| x.lines.subsidy)),
        corrected_payable: format_fen(sum(|x| x.lines.payable)),
        charge: charge.into(),
    })
}

/// Read a charge.
///
/// With its adjustments and the corrected totals. Seen by its user, the
/// admins of the paying and providing units, and the platform office,
/// commission and regulators.
#[utoipa::path(get, path = "/api/v1/charges/{id}", tag = "charges", operation_id = "getCharge",
    params(("id" = i64, Path, description = "Charge id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The charge", body = ChargeDetail)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| {
            let charge = repo::get(c, id.0)?;
            if !can(&ctx.actor, Action::ReadCharge, &resource(&charge)) {
                return Err(ApiError::NotFound);
            }
            detail(c, charge)
        })
        .await?;
    pre.read(&view)
}

/// List charges.
///
/// A user sees their own charges, a unit admin also the charges to and
/// from its unit, the platform office, commission and regulators all.
#[utoipa::path(get, path = "/api/v1/charges", tag = "charges", operation_id = "listCharges",
    params(ChargeQuery),
    responses((status = 200, description = "A page of charges", body = ChargePage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<ChargeQuery>,
) -> Result<web::Json<ChargePage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let filter = repo::Filter {
                kind: q.kind,
                user_id: q.user_id,
                payer_institution_id: q.payer_institution_id,
                provider_institution_id: q.provider_institution_id,
                instrument_id: q.instrument_id,
                booking_id: q.booking_id,
                service_order_id: q.service_order_id,
                programme_id: q.programme_id,
                statement_id: q.statement_id,
                from: bounded_instant("from", q.from)?,
                to: bounded_instant("to", q.to)?,
                visible: visible(ctx),
                after,
                limit,
            };
            Ok(repo::list(c, &filter)?)
        })
        .await?;
    Ok(web::Json(ChargePage::from_page(page, ChargeView::from)))
}

const CHARGE_COLUMNS: [Column; 31] = [
    col("编号"),
    col("类型"),
    col("使用人编号"),
    col("付费单位编号"),
    col("服务单位编号"),
    col("仪器编号"),
    col("实验项目编号"),
    col("预约编号"),
    col("机时记录编号"),
    col("委托单编号"),
    col("调整原单编号"),
    col("收费标准编号"),
    col("收费标准版本"),
    col("用户类别"),
    col("服务方式"),
    col("计费单位"),
    col("数量"),
    col("数量单位"),
    col("单价(元)"),
    col("机时/样品费(元)"),
    col("开机费(元)"),
    col("协助操作费(元)"),
    col("最低收费补足(元)"),
    col("收费比例(%)"),
    col("应收金额(元)"),
    col("补贴金额(元)"),
    col("应付金额(元)"),
    col("资助项目编号"),
    text("调整原因"),
    col("使用时间"),
    col("记账时间"),
];

fn charge_row(v: &ChargeView) -> Vec<String> {
    let l = &v.lines;
    vec![
        v.id.to_string(),
        v.kind.to_string(),
        v.user_id.to_string(),
        v.payer_institution_id.to_string(),
        v.provider_institution_id.to_string(),
        opt(v.instrument_id),
        opt(v.service_item_id),
        opt(v.booking_id),
        opt(v.usage_record_id),
        opt(v.service_order_id),
        opt(v.adjusts_charge_id),
        opt(v.fee_standard_id),
        opt(v.fee_standard_version),
        v.tier.to_string(),
        opt(v.mode),
        v.unit.to_string(),
        l.quantity.to_string(),
        l.quantity_unit.clone(),
        l.unit_price.clone(),
        l.usage_amount.clone(),
        l.startup_fee.clone(),
        l.assisted_surcharge.clone(),
        l.minimum_top_up.clone(),
        l.fee_percent.to_string(),
        l.gross.clone(),
        l.subsidy.clone(),
        l.payable.clone(),
        opt(v.programme_id),
        v.reason.clone(),
        v.used_at.to_rfc3339(),
        v.created_at.to_rfc3339(),
    ]
}

/// Loads every page of a list up to [`export::MAX_ROWS`].
///
/// # Errors
/// [`ApiError::InvalidParameter`] when more rows match than an export holds.
pub fn all_pages<T>(
    mut page: impl FnMut(Option<i64>, i64) -> Result<labshare_persistence::Page<T>, ApiError>,
) -> Result<Vec<T>, ApiError> {
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let p = page(after, 1000)?;
        items.extend(p.items);
        if items.len() > export::MAX_ROWS {
            return Err(ApiError::InvalidParameter(vec![FieldProblem::parameter(
                "from",
                "export_size",
                format!(
                    "more than {} rows match; narrow the period or filters",
                    export::MAX_ROWS
                ),
            )]));
        }
        match p.next_after {
            Some(next) => after = Some(next),
            None => return Ok(items),
        }
    }
}

/// Export charges.
///
/// Every charge matching the filters that the reader may see, as CSV
/// (UTF-8 with BOM, Chinese headers, opens in Excel) or a JSON array.
#[utoipa::path(get, path = "/api/v1/charges/export", tag = "charges", operation_id = "exportCharges",
    params(ChargeExportQuery),
    responses((status = 200, description = "The charges: CSV (UTF-8 with BOM) by default, a JSON array with format=json",
        content((String = "text/csv", example = json!("\u{feff}编号,类型,使用人编号,…\r\n41,usage,6,…\r\n")), (Vec<ChargeView> = "application/json")))),
    security(("bearer" = [])))]
pub async fn export_charges(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<ChargeExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let format = q.format.unwrap_or_default();
    let items = state
        .read(&bearer, move |c, ctx| {
            let from = bounded_instant("from", q.from)?;
            let to = bounded_instant("to", q.to)?;
            let scope = visible(ctx);
            all_pages(|after, limit| {
                let filter = repo::Filter {
                    kind: q.kind,
                    user_id: q.user_id,
                    payer_institution_id: q.payer_institution_id,
                    provider_institution_id: q.provider_institution_id,
                    instrument_id: q.instrument_id,
                    programme_id: q.programme_id,
                    statement_id: q.statement_id,
                    from,
                    to,
                    visible: scope,
                    after,
                    limit,
                    ..repo::Filter::default()
                };
                Ok(repo::list(c, &filter)?)
            })
        })
        .await?;
    let views: Vec<ChargeView> = items.into_iter().map(ChargeView::from).collect();
    Ok(export::respond(format, "charges", &CHARGE_COLUMNS, &views, charge_row))
}

/// A correction of a charge.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct AdjustInput {
    /// The change of the gross amount in CNY: negative reduces, positive
    /// adds (`"-50.00"`). The charge may not fall below zero.
    #[schema(example = "-50.00")]
    pub amount: String,
    /// Why, for the payer and the auditors: 1 to 500 characters.
    #[schema(example = "仪器故障中断30分钟，减免相应机时费")]
    pub reason: String,
}

/// Adjust a charge.
///
/// The provider's unit admin or the platform office corrects a charge with
/// a reason: a new charge of kind `adjustment` records the change; the
/// original never changes. Subsidy no longer due goes back to the grant
/// and the programme.
#[utoipa::path(post, path = "/api/v1/charges/{id}/adjust", tag = "charges", operation_id = "adjustCharge",
    params(("id" = i64, Path, description = "Charge id")),
    request_body = AdjustInput,
    responses((status = 201, description = "The adjustment", body = ChargeView),
              (status = 422, description = "The amount or reason is invalid, or would make the charge negative", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn adjust(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<AdjustInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let mut problems = Vec::new();
    let delta = crate::dto::parse_field(&mut problems, "amount", "money", parse_signed_fen(&i.amount), || 0);
    let reason = i.reason;
    if reason.trim().is_empty() || reason.chars().count() > 500 {
        problems.push(FieldProblem::body(
            "/reason",
            "length",
            "must have 1 to 500 characters, not all blank",
        ));
    } else if contains_resident_id(&reason) {
        problems.push(FieldProblem::body(
            "/reason",
            "resident_id",
            "must not contain a resident identity number",
        ));
    }
    crate::dto::no_problems(problems)?;
    let view = state
        .write(&bearer, move |c, ctx| {
            let original = repo::get(c, id.0)?;
            if !can(&ctx.actor, Action::ReadCharge, &resource(&original)) {
                return Err(ApiError::NotFound);
            }
            crate::routes::allow(ctx, Action::AdjustCharge, &resource(&original))?;
            let adjustment = crate::billing::adjust(c, &original, delta, &reason, ctx.actor.user_id, ctx.now)?;
            Ok(ChargeView::from(adjustment))
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}
