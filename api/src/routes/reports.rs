//! `/api/v1/reports`: what regulators pull (DESIGN.md §6) — use by
//! instrument, institution or category, finance between units, and the
//! national large-instrument platform's annual export. JSON by default,
//! CSV (UTF-8 with BOM, Chinese headers) with `format=csv`. The figures are
//! summed in the database ([`labshare_persistence::metrics`]); each line
//! names what it is made of, so that every figure can be traced.

use crate::auth::Bearer;
use crate::error::{ApiError, FieldProblem};
use crate::export::{self, col, opt, text, Column, Format};
use crate::extract::Query;
use crate::routes::allow;
use crate::state::{AppState, Ctx};
use actix_web::{web, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime, SecondsFormat};
use labshare_domain::access::{report_scope, Action, Resource, Scope};
use labshare_domain::assessment::{metrics, InstrumentFacts, InstrumentMetrics};
use labshare_domain::catalogue::{InstrumentStatus, SharingScope};
use labshare_domain::codes::CategoryCode;
use labshare_domain::fees::ChargeKind;
use labshare_domain::money::format_fen;
use labshare_domain::report::{self, category_group, counted, fixed, End, Group, Period, PeriodError};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::InstitutionId;
use labshare_persistence::metrics::{self as repo, InstrumentBasics, Sums};
use labshare_persistence::{DbConn, RepoError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

fn charge_kind() -> Object {
    crate::dto::enum_object::<ChargeKind>()
}

/// How the usage report groups instruments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// One line per instrument.
    #[default]
    Instrument,
    /// One line per owning institution.
    Institution,
    /// One line per middle class (中类) of GB/T 32847-2016: the first four digits of the category code.
    Category,
}

/// The period and grouping of a usage report.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageReportQuery {
    /// First local day of the period, `YYYY-MM-DD`.
    #[param(format = Date, example = "2026-01-01")]
    pub from: String,
    /// Last local day of the period, included, `YYYY-MM-DD`: not before
    /// `from`, at most three years after it.
    #[param(format = Date, example = "2026-12-31")]
    pub to: String,
    /// `instrument` (default), `institution` (the owning institution) or
    /// `category` (the first four digits of the GB/T 32847-2016 code).
    pub group_by: Option<GroupBy>,
    /// Only the instruments of this institution.
    pub institution_id: Option<i64>,
    /// Only instruments whose category code starts with these 1–6 digits.
    pub category_code: Option<String>,
    /// `json` (default) or `csv` (UTF-8 with BOM, Chinese headers).
    pub format: Option<Format>,
}

/// The period of a finance report.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FinanceReportQuery {
    /// First local day of the period, `YYYY-MM-DD`.
    #[param(format = Date, example = "2026-01-01")]
    pub from: String,
    /// Last local day of the period, included, `YYYY-MM-DD`: not before
    /// `from`, at most three years after it.
    #[param(format = Date, example = "2026-12-31")]
    pub to: String,
    /// `json` (default) or `csv` (UTF-8 with BOM, Chinese headers).
    pub format: Option<Format>,
}

/// The year of the national-platform export.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NationalExportQuery {
    /// The calendar year, local time, 2000–9999.
    #[param(example = 2026)]
    pub year: i32,
    /// `json` (default) or `csv` (UTF-8 with BOM, Chinese headers).
    pub format: Option<Format>,
}

/// One line of the usage report: an instrument, an institution's
/// instruments, a category's, or all of them (the totals). Hours have two
/// decimals, ratios four, money is CNY.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UsageRow {
    /// What the line is: the instrument id, the institution id, the
    /// four-digit category prefix, or `total`.
    #[schema(example = "7")]
    pub key: String,
    /// The instrument's or the institution's name; absent for a category
    /// (named by its code) and the totals.
    #[schema(example = "液相色谱-串联质谱仪")]
    pub name: Option<String>,
    #[schema(example = 7)]
    pub instrument_id: Option<i64>,
    /// The owning institution, on instrument and institution lines.
    #[schema(example = 2)]
    pub institution_id: Option<i64>,
    #[schema(example = "南宁市第一人民医院")]
    pub institution_name: Option<String>,
    /// The instrument's six-digit code, or the category line's four-digit prefix.
    #[schema(example = "030201")]
    pub category_code: Option<String>,
    /// How many instruments the line counts.
    #[schema(example = 1)]
    pub instruments: i64,
    /// The instruments the line counts: its figures are theirs, summed.
    #[schema(example = json!([7]))]
    pub instrument_ids: Vec<i64>,
    /// R: rated annual hours pro-rated to the days in service within the
    /// period, minus blackout hours; a group's is the sum of its instruments'.
    #[schema(example = "1500.00")]
    pub rated_hours: String,
    /// H exactly, in minutes: usage records and completed service orders.
    #[schema(example = 960)]
    pub effective_minutes: i64,
    #[schema(example = "16.00")]
    pub effective_hours: String,
    /// E exactly, in minutes: of H, for users of other institutions.
    #[schema(example = 660)]
    pub external_minutes: i64,
    #[schema(example = "11.00")]
    pub external_hours: String,
    /// U = H ÷ R; a group's from its summed hours.
    #[schema(example = "0.0107")]
    pub utilisation: String,
    /// S = E ÷ H; a group's from its summed hours.
    #[schema(example = "0.6875")]
    pub share_rate: String,
    /// Samples of completed service orders.
    #[schema(example = 3)]
    pub samples: i64,
    /// Distinct users served.
    #[schema(example = 2)]
    pub users: i64,
    /// Distinct institutions served other than the instrument's owner.
    #[schema(example = 1)]
    pub institutions_served: i64,
    /// Gross charges to the owning institution's users.
    #[schema(example = "0.00")]
    pub revenue_internal: String,
    /// Gross charges to other institutions' users.
    #[schema(example = "240.00")]
    pub revenue_external: String,
    /// Subsidy paid on those charges.
    #[schema(example = "0.00")]
    pub subsidy: String,
    /// The request listing, one line per instrument, what a group line
    /// sums; absent on instrument lines.
    #[schema(example = json!(null))]
    pub drill_down: Option<String>,
}

/// Use of instruments over a period.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UsageReport {
    #[schema(example = "2026-01-01")]
    pub from: NaiveDate,
    /// Included.
    #[schema(example = "2026-12-31")]
    pub to: NaiveDate,
    #[schema(example = 365)]
    pub period_days: i64,
    pub group_by: GroupBy,
    /// Ordered by instrument id, institution id or category code.
    pub rows: Vec<UsageRow>,
    /// The sums of the lines (users and institutions counted once).
    pub totals: UsageRow,
}

/// What one provider charged one payer in the period.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FinancePair {
    #[schema(example = 2)]
    pub provider_institution_id: i64,
    #[schema(example = "南宁市第一人民医院")]
    pub provider_name: String,
    #[schema(example = 3)]
    pub payer_institution_id: i64,
    #[schema(example = "南宁市第二人民医院")]
    pub payer_name: String,
    #[schema(example = 2)]
    pub count: i64,
    #[schema(example = "500.00")]
    pub gross: String,
    #[schema(example = "130.00")]
    pub subsidy: String,
    #[schema(example = "370.00")]
    pub payable: String,
    /// The charges that make up the line.
    #[schema(
        example = "/api/v1/charges?provider_institution_id=2&payer_institution_id=3&from=2025-12-31T16:00:00Z&to=2026-12-31T16:00:00Z"
    )]
    pub drill_down: String,
}

/// What was charged in the period by kind of charge.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FinanceKind {
    #[schema(schema_with = charge_kind)]
    pub kind: ChargeKind,
    #[schema(example = 3)]
    pub count: i64,
    #[schema(example = "650.00")]
    pub gross: String,
    #[schema(example = "130.00")]
    pub subsidy: String,
    #[schema(example = "520.00")]
    pub payable: String,
    #[schema(example = "/api/v1/charges?kind=walk_in&from=2025-12-31T16:00:00Z&to=2026-12-31T16:00:00Z")]
    pub drill_down: String,
}

/// All charges of the period the reader sees.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FinanceTotals {
    #[schema(example = 5)]
    pub count: i64,
    #[schema(example = "870.00")]
    pub gross: String,
    #[schema(example = "130.00")]
    pub subsidy: String,
    #[schema(example = "740.00")]
    pub payable: String,
    #[schema(example = "/api/v1/charges?from=2025-12-31T16:00:00Z&to=2026-12-31T16:00:00Z")]
    pub drill_down: String,
}

/// Charges made in a period (by when they were made, as statements count
/// them): gross, subsidy and payable per provider and payer, per kind, and
/// in total. Amounts are CNY; adjustments count with their sign.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FinanceReport {
    #[schema(example = "2026-01-01")]
    pub from: NaiveDate,
    #[schema(example = "2026-12-31")]
    pub to: NaiveDate,
    /// Ordered by provider and payer id.
    pub pairs: Vec<FinancePair>,
    /// Every kind, in the order usage, late_cancellation, no_show, walk_in,
    /// service_order, adjustment; zero where none.
    pub kinds: Vec<FinanceKind>,
    pub totals: FinanceTotals,
}

/// One instrument in the layout of the national large-instrument platform
/// (国家网络管理平台 大型科研仪器): its record and the year's run data.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NationalRow {
    #[schema(example = 7)]
    pub instrument_id: i64,
    #[schema(example = "液相色谱-串联质谱仪")]
    pub name_zh: String,
    #[schema(example = "LC-MS/MS system")]
    pub name_en: Option<String>,
    #[schema(example = "030201")]
    pub category_code: String,
    #[schema(example = "Triple Quad 4500MD")]
    pub model: String,
    #[schema(example = "SCIEX")]
    pub manufacturer: String,
    #[schema(example = "新加坡")]
    pub country_of_origin: String,
    #[schema(example = "NN-2019-0001")]
    pub asset_number: String,
    /// 原值 in 万元 (10,000 CNY), exact: two decimals, more where the fen need them.
    #[schema(example = "386.00")]
    pub original_value_10k_cny: String,
    #[schema(example = "2019-06-18")]
    pub purchase_date: NaiveDate,
    #[schema(example = "2019-08-17")]
    pub commissioning_date: Option<NaiveDate>,
    #[schema(example = "质量范围 5–2000 m/z；ESI/APCI 离子源")]
    pub technical_specs: String,
    #[schema(example = "小分子化合物定性定量分析")]
    pub functions: String,
    #[schema(example = "维生素D、类固醇激素、治疗药物浓度监测")]
    pub service_content: String,
    #[schema(example = json!(["临床医学", "基础医学"]))]
    pub disciplines: Vec<String>,
    #[schema(example = 2)]
    pub institution_id: i64,
    #[schema(example = "南宁市第一人民医院")]
    pub institution_name: String,
    #[schema(example = "中心实验室")]
    pub lab_name: String,
    #[schema(example = "黄志强")]
    pub contact_name: String,
    #[schema(example = "0771-2636100")]
    pub contact_phone: String,
    #[schema(schema_with = crate::dto::enums::instrument_status)]
    pub status: InstrumentStatus,
    #[schema(schema_with = crate::dto::enums::sharing_scope)]
    pub sharing_scope: SharingScope,
    /// R of the year: rated annual hours pro-rated to the days in service, minus blackouts.
    #[schema(example = "1600.00")]
    pub rated_hours: String,
    /// 年度有效机时.
    #[schema(example = "3.00")]
    pub effective_hours: String,
    /// 对外服务机时: for users of other institutions.
    #[schema(example = "3.00")]
    pub external_hours: String,
    #[schema(example = "0.0019")]
    pub utilisation: String,
    #[schema(example = "1.0000")]
    pub share_rate: String,
    #[schema(example = 0)]
    pub samples: i64,
    #[schema(example = 2)]
    pub users: i64,
    /// Distinct other institutions served.
    #[schema(example = 2)]
    pub institutions_served: i64,
    /// Gross charges for the instrument's use and services, CNY.
    #[schema(example = "0.00")]
    pub revenue: String,
    /// Of which from other institutions' users.
    #[schema(example = "0.00")]
    pub revenue_external: String,
}

/// The national-platform export of a year.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NationalExport {
    #[schema(example = 2026)]
    pub year: i32,
    #[schema(example = 365)]
    pub period_days: i64,
    /// One per listed instrument counted in the year, by instrument id.
    pub rows: Vec<NationalRow>,
}

fn parameter(name: &str, rule: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem::parameter(name, rule, message)
}

/// A day given as `YYYY-MM-DD`, exactly.
fn date_param(name: &str, text: &str) -> Result<NaiveDate, FieldProblem> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| d.format("%Y-%m-%d").to_string() == text)
        .ok_or_else(|| parameter(name, "date", format!("`{text}` is not a date written YYYY-MM-DD")))
}

fn period_problem(e: &PeriodError, names: (&str, &str)) -> FieldProblem {
    let name = match e.end() {
        End::From => names.0,
        End::To => names.1,
    };
    let rule = match e {
        PeriodError::OutOfRange(_) => "range",
        PeriodError::Reversed => "not_before_from",
        PeriodError::TooLong { .. } => "max_period",
    };
    parameter(name, rule, e.to_string())
}

/// The period of `from` and `to`, every problem named by its parameter.
///
/// # Errors
/// [`ApiError::InvalidParameter`].
pub fn period(from: &str, to: &str) -> Result<Period, ApiError> {
    match (date_param("from", from), date_param("to", to)) {
        (Ok(f), Ok(t)) => {
            Period::new(f, t).map_err(|e| ApiError::InvalidParameter(vec![period_problem(&e, ("from", "to"))]))
        }
        (f, t) => Err(ApiError::InvalidParameter(
            [f.err(), t.err()].into_iter().flatten().collect(),
        )),
    }
}

/// The reader's scope of the reports.
///
/// # Errors
/// [`ApiError::Forbidden`] for researchers and instrument managers.
pub fn scope(ctx: &Ctx) -> Result<Scope, ApiError> {
    report_scope(&ctx.actor).ok_or(ApiError::Forbidden)
}

fn sees(scope: Scope, institution: i64) -> bool {
    match scope {
        Scope::All => true,
        Scope::Institution(i) => i.0 == institution,
    }
}

/// An instant as the charge list's `from` and `to` take it.
fn utc(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn corrupt(column: &str, e: impl std::fmt::Display) -> ApiError {
    RepoError::Corrupt(format!("{column}: {e}")).into()
}

/// The facts of an instrument over a period, as the assessment reads them.
fn facts(b: &InstrumentBasics, s: &Sums, period: &Period) -> InstrumentFacts {
    InstrumentFacts {
        rated_annual_hours: i64::from(b.rated_annual_hours),
        in_service: period.in_service(b.commissioning_date.unwrap_or(b.purchase_date)),
        blackout_minutes: s.blackout_minutes,
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
    }
}

/// An instrument counted in a report, with its figures.
struct Counted {
    basics: InstrumentBasics,
    facts: InstrumentFacts,
    metrics: InstrumentMetrics,
}

/// The instruments a report counts over a period, with their figures.
fn counted_instruments(
    c: &mut DbConn,
    ctx: &Ctx,
    period: &Period,
    keep: impl Fn(&InstrumentBasics) -> bool,
) -> Result<Vec<Counted>, ApiError> {
    let (start, end, offset) = instants(ctx, period);
    let sums = repo::sums(c, start, end, offset, ctx.policy.assessment.usage_recorded_within_days)?;
    let none = Sums::default();
    let mut out = Vec::new();
    for b in repo::instruments(c)? {
        if !keep(&b) {
            continue;
        }
        let status = InstrumentStatus::parse(&b.status).map_err(|e| corrupt("instruments.status", e))?;
        let facts = facts(&b, sums.get(&b.id).unwrap_or(&none), period);
        if counted(status, &facts) {
            out.push(Counted {
                metrics: metrics(&facts),
                basics: b,
                facts,
            });
        }
    }
    Ok(out)
}

/// A period's first and last instants, and the local offset that placed them.
fn instants(ctx: &Ctx, period: &Period) -> (chrono::NaiveDateTime, chrono::NaiveDateTime, i32) {
    let offset = ctx.policy.local_offset().local_minus_utc();
    let (start, end) = period.instants(offset);
    (start, end, offset)
}

/// Builds the usage report's query string for a drill-down.
struct UsageLink {
    base: String,
    institution_id: Option<i64>,
    category_code: Option<String>,
}

impl UsageLink {
    fn to(&self, institution_id: Option<i64>, category_code: Option<&str>) -> String {
        let mut link = self.base.clone();
        if let Some(i) = institution_id.or(self.institution_id) {
            link.push_str(&format!("&institution_id={i}"));
        }
        if let Some(code) = category_code.or(self.category_code.as_deref()) {
            link.push_str(&format!("&category_code={code}"));
        }
        link
    }
}

/// A line of the usage report from its group; an instrument's line shows
/// the assessment's own figures of the instrument.
fn usage_row(key: String, g: &Group, one: Option<&InstrumentMetrics>) -> UsageRow {
    let (rated, utilisation, share) = match one {
        Some(m) => (m.rated_hours, m.utilisation, m.share_rate),
        None => (g.rated_hours, g.utilisation(), g.share_rate()),
    };
    UsageRow {
        key,
        name: None,
        instrument_id: None,
        institution_id: None,
        institution_name: None,
        category_code: None,
        instruments: i64::try_from(g.instruments.len()).unwrap_or(i64::MAX),
        instrument_ids: g.instruments.clone(),
        rated_hours: fixed(rated, 2),
        effective_minutes: g.effective_minutes,
        effective_hours: fixed(g.effective_hours(), 2),
        external_minutes: g.external_minutes,
        external_hours: fixed(g.external_hours(), 2),
        utilisation: fixed(utilisation, 4),
        share_rate: fixed(share, 4),
        samples: g.samples,
        users: g.users(),
        institutions_served: g.institutions(),
        revenue_internal: format_fen(g.revenue_internal),
        revenue_external: format_fen(g.revenue_external),
        subsidy: format_fen(g.subsidy),
        drill_down: None,
    }
}

/// Filters of the usage report, checked.
/// What narrows a usage report.
pub struct UsageFilters {
    pub group_by: GroupBy,
    pub institution_id: Option<i64>,
    pub category_code: Option<String>,
}

/// The usage report of `period` for a reader of `scope`.
///
/// # Errors
/// A database error.
pub fn usage_report(
    c: &mut DbConn,
    ctx: &Ctx,
    period: &Period,
    f: &UsageFilters,
    scope: Scope,
) -> Result<UsageReport, ApiError> {
    let instruments = counted_instruments(c, ctx, period, |b| {
        sees(scope, b.institution_id)
            && f.institution_id.is_none_or(|i| b.institution_id == i)
            && f.category_code
                .as_deref()
                .is_none_or(|p| b.category_code.starts_with(p))
    })?;
    let names = repo::institution_names(c)?;
    let name_of = |i: i64| names.get(&i).cloned();
    let link = UsageLink {
        base: format!(
            "/api/v1/reports/usage?from={}&to={}&group_by=instrument",
            period.from(),
            period.to()
        ),
        institution_id: f.institution_id,
        category_code: f.category_code.clone(),
    };
    // Every line's group, keyed so that lines come out in their order.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Key {
        Id(i64),
        Code(String),
    }
    let key_of = |b: &InstrumentBasics| match f.group_by {
        GroupBy::Instrument => Key::Id(b.id),
        GroupBy::Institution => Key::Id(b.institution_id),
        GroupBy::Category => Key::Code(category_group(&b.category_code).to_owned()),
    };
    let mut groups: BTreeMap<Key, Group> = BTreeMap::new();
    let mut totals = Group::default();
    let mut owner: BTreeMap<i64, &Counted> = BTreeMap::new();
    for i in &instruments {
        groups
            .entry(key_of(&i.basics))
            .or_default()
            .add(i.basics.id, &i.facts, &i.metrics);
        totals.add(i.basics.id, &i.facts, &i.metrics);
        owner.insert(i.basics.id, i);
    }
    // Users and institutions count once per line however many of its
    // instruments they used: counted by the database (an instrument's own
    // are among its facts).
    let counted: Vec<i64> = instruments.iter().map(|i| i.basics.id).collect();
    let (start, end, _) = instants(ctx, period);
    let by = match f.group_by {
        GroupBy::Instrument => None,
        GroupBy::Institution => Some(repo::ServedBy::Institution),
        GroupBy::Category => Some(repo::ServedBy::Category),
    };
    let mut served = match by {
        Some(by) => repo::served_counts(c, start, end, by, &counted)?,
        None => BTreeMap::new(),
    };
    for (key, g) in &mut groups {
        let s = match key {
            Key::Id(id) if f.group_by == GroupBy::Instrument => {
                owner.get(id).map_or_else(Default::default, |i| repo::ServedCounts {
                    users: i.facts.users,
                    institutions: i.facts.institutions,
                })
            }
            Key::Id(id) => served.remove(&id.to_string()).unwrap_or_default(),
            Key::Code(code) => served.remove(code).unwrap_or_default(),
        };
        g.served(s.users, s.institutions);
    }
    let all = repo::served_counts(c, start, end, repo::ServedBy::Whole, &counted)?
        .remove("")
        .unwrap_or_default();
    totals.served(all.users, all.institutions);
    let rows = groups
        .iter()
        .map(|(key, g)| match key {
            Key::Id(id) if f.group_by == GroupBy::Instrument => {
                let i = owner.get(id);
                UsageRow {
                    name: i.map(|i| i.basics.name_zh.clone()),
                    instrument_id: Some(*id),
                    institution_id: i.map(|i| i.basics.institution_id),
                    institution_name: i.and_then(|i| name_of(i.basics.institution_id)),
                    category_code: i.map(|i| i.basics.category_code.clone()),
                    ..usage_row(id.to_string(), g, i.map(|i| &i.metrics))
                }
            }
            Key::Id(id) => UsageRow {
                name: name_of(*id),
                institution_id: Some(*id),
                institution_name: name_of(*id),
                drill_down: Some(link.to(Some(*id), None)),
                ..usage_row(id.to_string(), g, None)
            },
            Key::Code(code) => UsageRow {
                category_code: Some(code.clone()),
                drill_down: Some(link.to(None, Some(code))),
                ..usage_row(code.clone(), g, None)
            },
        })
        .collect();
    Ok(UsageReport {
        from: period.from(),
        to: period.to(),
        period_days: period.days(),
        group_by: f.group_by,
        rows,
        totals: UsageRow {
            drill_down: (f.group_by != GroupBy::Instrument).then(|| link.to(None, None)),
            ..usage_row("total".into(), &totals, None)
        },
    })
}

const USAGE_COLUMNS: [Column; 23] = [
    col("分组"),
    text("名称"),
    col("仪器编号"),
    col("单位编号"),
    text("单位名称"),
    col("分类代码"),
    col("仪器台数"),
    col("所含仪器编号"),
    col("额定机时(小时)"),
    col("有效机时(分钟)"),
    col("有效机时(小时)"),
    col("对外服务机时(分钟)"),
    col("对外服务机时(小时)"),
    col("使用率"),
    col("共享率"),
    col("服务样品数"),
    col("服务用户数"),
    col("服务外单位数"),
    col("内部收入(元)"),
    col("外部收入(元)"),
    col("补贴金额(元)"),
    col("明细查询"),
    col("统计期间"),
];

fn usage_line(r: &UsageRow, label: &str, period: &str) -> Vec<String> {
    vec![
        label.to_owned(),
        r.name.clone().unwrap_or_default(),
        opt(r.instrument_id),
        opt(r.institution_id),
        r.institution_name.clone().unwrap_or_default(),
        r.category_code.clone().unwrap_or_default(),
        r.instruments.to_string(),
        r.instrument_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(";"),
        r.rated_hours.clone(),
        r.effective_minutes.to_string(),
        r.effective_hours.clone(),
        r.external_minutes.to_string(),
        r.external_hours.clone(),
        r.utilisation.clone(),
        r.share_rate.clone(),
        r.samples.to_string(),
        r.users.to_string(),
        r.institutions_served.to_string(),
        r.revenue_internal.clone(),
        r.revenue_external.clone(),
        r.subsidy.clone(),
        r.drill_down.clone().unwrap_or_default(),
        period.to_owned(),
    ]
}

/// Report use of instruments.
///
/// Per instrument, owning institution or category (the first four digits
/// of the GB/T 32847-2016 code) over a period of local days: instruments
/// counted, rated hours R (pro-rated to the days in service, minus
/// blackouts), effective hours H, external hours E, utilisation H ÷ R,
/// share rate E ÷ H, samples, users, institutions served, revenue and
/// subsidy, and the totals. A group's ratios come from its summed hours.
/// Every instrument of the catalogue, listed or not, counts while in
/// service in the period, idle ones with zeros; retired ones, and ones not
/// yet commissioned, only if used. Each line lists its instruments, and a
/// group line the request that lists them one by one. A unit admin sees
/// its own institution's instruments; the commission, the platform office
/// and regulators all.
#[utoipa::path(get, path = "/api/v1/reports/usage", tag = "reports", operation_id = "reportUsage",
    params(UsageReportQuery),
    responses((status = 200, description = "The report: JSON by default, CSV (UTF-8 with BOM, Chinese headers, totals last) with format=csv",
        content((UsageReport = "application/json"), (String = "text/csv", example = json!("\u{feff}分组,名称,仪器编号,…\r\n7,液相色谱-串联质谱仪,7,…\r\n合计,,,…\r\n"))))),
    security(("bearer" = [])))]
pub async fn usage(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<UsageReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let period = period(&q.from, &q.to)?;
    let category_code = q
        .category_code
        .as_deref()
        .map(|p| {
            CategoryCode::parse_prefix(p).map(str::to_owned).map_err(|e| {
                ApiError::InvalidParameter(vec![parameter("category_code", "category_prefix", e.to_string())])
            })
        })
        .transpose()?;
    let filters = UsageFilters {
        group_by: q.group_by.unwrap_or_default(),
        institution_id: q.institution_id,
        category_code,
    };
    let report = state
        .report(&bearer, move |c, ctx| {
            let scope = scope(ctx)?;
            if let Some(i) = filters.institution_id {
                allow(ctx, Action::ReadReports, &Resource::Institution(InstitutionId(i)))?;
            }
            usage_report(c, ctx, &period, &filters, scope)
        })
        .await?;
    Ok(match q.format.unwrap_or(Format::Json) {
        Format::Json => HttpResponse::Ok().json(report),
        Format::Csv => {
            let span = format!("{}~{}", report.from, report.to);
            let mut lines: Vec<Vec<String>> = report.rows.iter().map(|r| usage_line(r, &r.key, &span)).collect();
            lines.push(usage_line(&report.totals, "合计", &span));
            let name = format!("usage-{}-{}", report.from, report.to);
            export::respond(Format::Csv, &name, &USAGE_COLUMNS, &lines, Clone::clone)
        }
    })
}

/// Sums of charges.
#[derive(Debug, Clone, Copy, Default)]
struct ChargeTotals {
    count: i64,
    gross: i64,
    subsidy: i64,
    payable: i64,
}

impl ChargeTotals {
    fn add(&mut self, s: &repo::ChargeSums) {
        self.count += s.count;
        self.gross += s.gross;
        self.subsidy += s.subsidy;
        self.payable += s.payable;
    }
}

fn finance_report(c: &mut DbConn, ctx: &Ctx, period: &Period, scope: Scope) -> Result<FinanceReport, ApiError> {
    let (start, end) = period.instants(ctx.policy.local_offset().local_minus_utc());
    let names = repo::institution_names(c)?;
    let name_of = |i: i64| names.get(&i).cloned().unwrap_or_default();
    let window = format!("from={}&to={}", utc(start), utc(end));
    let mut pairs: BTreeMap<(i64, i64), ChargeTotals> = BTreeMap::new();
    let mut kinds: BTreeMap<ChargeKind, ChargeTotals> =
        ChargeKind::ALL.iter().map(|k| (*k, ChargeTotals::default())).collect();
    let mut totals = ChargeTotals::default();
    for s in repo::charge_sums(c, start, end)? {
        // A unit admin sees what its unit charged and what it was charged.
        if !(sees(scope, s.provider_institution_id) || sees(scope, s.payer_institution_id)) {
            continue;
        }
        pairs
            .entry((s.provider_institution_id, s.payer_institution_id))
            .or_default()
            .add(&s);
        kinds.entry(s.kind).or_default().add(&s);
        totals.add(&s);
    }
    Ok(FinanceReport {
        from: period.from(),
        to: period.to(),
        pairs: pairs
            .into_iter()
            .map(|((provider, payer), m)| FinancePair {
                provider_institution_id: provider,
                provider_name: name_of(provider),
                payer_institution_id: payer,
                payer_name: name_of(payer),
                count: m.count,
                gross: format_fen(m.gross),
                subsidy: format_fen(m.subsidy),
                payable: format_fen(m.payable),
                drill_down: format!(
                    "/api/v1/charges?provider_institution_id={provider}&payer_institution_id={payer}&{window}"
                ),
            })
            .collect(),
        kinds: kinds
            .into_iter()
            .map(|(kind, m)| FinanceKind {
                kind,
                count: m.count,
                gross: format_fen(m.gross),
                subsidy: format_fen(m.subsidy),
                payable: format_fen(m.payable),
                drill_down: format!("/api/v1/charges?kind={kind}&{window}"),
            })
            .collect(),
        totals: FinanceTotals {
            count: totals.count,
            gross: format_fen(totals.gross),
            subsidy: format_fen(totals.subsidy),
            payable: format_fen(totals.payable),
            drill_down: format!("/api/v1/charges?{window}"),
        },
    })
}

const FINANCE_COLUMNS: [Column; 12] = [
    col("分组"),
    col("服务单位编号"),
    text("服务单位名称"),
    col("付费单位编号"),
    text("付费单位名称"),
    col("费用类型"),
    col("笔数"),
    col("应收金额(元)"),
    col("补贴金额(元)"),
    col("应付金额(元)"),
    col("明细查询"),
    col("统计期间"),
];

/// Report charges between units.
///
/// The charges made in a period of local days (by when they were made, as
/// monthly statements count them), summed in the database: count, gross,
/// subsidy and payable per provider and payer institution, per kind of
/// charge, and in total; adjustments count with their sign. Each line names
/// the charge list request that lists its charges. A unit admin sees the
/// lines its institution provides or pays; the commission, the platform
/// office and regulators all.
#[utoipa::path(get, path = "/api/v1/reports/finance", tag = "reports", operation_id = "reportFinance",
    params(FinanceReportQuery),
    responses((status = 200, description = "The report: JSON by default, CSV (UTF-8 with BOM, Chinese headers; lines `pair`, `kind`, then `total`) with format=csv",
        content((FinanceReport = "application/json"), (String = "text/csv", example = json!("\u{feff}分组,服务单位编号,服务单位名称,…\r\npair,2,南宁市第一人民医院,…\r\n"))))),
    security(("bearer" = [])))]
pub async fn finance(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<FinanceReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let period = period(&q.from, &q.to)?;
    let report = state
        .report(&bearer, move |c, ctx| {
            let scope = scope(ctx)?;
            finance_report(c, ctx, &period, scope)
        })
        .await?;
    Ok(match q.format.unwrap_or(Format::Json) {
        Format::Json => HttpResponse::Ok().json(report),
        Format::Csv => {
            let span = format!("{}~{}", report.from, report.to);
            let mut lines: Vec<Vec<String>> = report
                .pairs
                .iter()
                .map(|p| {
                    vec![
                        "pair".to_owned(),
                        p.provider_institution_id.to_string(),
                        p.provider_name.clone(),
                        p.payer_institution_id.to_string(),
                        p.payer_name.clone(),
                        String::new(),
                        p.count.to_string(),
                        p.gross.clone(),
                        p.subsidy.clone(),
                        p.payable.clone(),
                        p.drill_down.clone(),
                        span.clone(),
                    ]
                })
                .collect();
            lines.extend(report.kinds.iter().map(|k| {
                vec![
                    "kind".to_owned(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    k.kind.to_string(),
                    k.count.to_string(),
                    k.gross.clone(),
                    k.subsidy.clone(),
                    k.payable.clone(),
                    k.drill_down.clone(),
                    span.clone(),
                ]
            }));
            let t = &report.totals;
            lines.push(vec![
                "total".to_owned(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                t.count.to_string(),
                t.gross.clone(),
                t.subsidy.clone(),
                t.payable.clone(),
                t.drill_down.clone(),
                span,
            ]);
            let name = format!("finance-{}-{}", report.from, report.to);
            export::respond(Format::Csv, &name, &FINANCE_COLUMNS, &lines, Clone::clone)
        }
    })
}

fn national_export(
    c: &mut DbConn,
    ctx: &Ctx,
    year: i32,
    period: &Period,
    scope: Scope,
) -> Result<NationalExport, ApiError> {
    let instruments = counted_instruments(c, ctx, period, |b| {
        b.listing_status == labshare_domain::listing::ListingStatus::Approved.as_str() && sees(scope, b.institution_id)
    })?;
    let names = repo::institution_names(c)?;
    let labs = repo::lab_names(c)?;
    let mut rows = Vec::with_capacity(instruments.len());
    for i in instruments {
        let (b, f, m) = (i.basics, i.facts, i.metrics);
        let disciplines: Vec<String> =
            serde_json::from_str(&b.disciplines).map_err(|e| corrupt("instruments.disciplines", e))?;
        rows.push(NationalRow {
            instrument_id: b.id,
            name_zh: b.name_zh,
            name_en: b.name_en,
            category_code: b.category_code,
            model: b.model,
            manufacturer: b.manufacturer,
            country_of_origin: b.country_of_origin,
            asset_number: b.asset_number,
            original_value_10k_cny: report::wan_yuan(b.original_value_fen),
            purchase_date: b.purchase_date,
            commissioning_date: b.commissioning_date,
            technical_specs: b.technical_specs,
            functions: b.functions,
            service_content: b.service_content,
            disciplines,
            institution_id: b.institution_id,
            institution_name: names.get(&b.institution_id).cloned().unwrap_or_default(),
            lab_name: labs.get(&b.lab_id).cloned().unwrap_or_default(),
            contact_name: b.contact_name,
            contact_phone: b.contact_phone,
            status: InstrumentStatus::parse(&b.status).map_err(|e| corrupt("instruments.status", e))?,
            sharing_scope: SharingScope::parse(&b.sharing_scope)
                .map_err(|e| corrupt("instruments.sharing_scope", e))?,
            rated_hours: fixed(m.rated_hours, 2),
            effective_hours: fixed(m.effective_hours, 2),
            external_hours: fixed(m.external_hours, 2),
            utilisation: fixed(m.utilisation, 4),
            share_rate: fixed(m.share_rate, 4),
            samples: f.samples,
            users: f.users,
            institutions_served: f.institutions,
            revenue: format_fen(f.revenue_internal + f.revenue_external),
            revenue_external: format_fen(f.revenue_external),
        });
    }
    Ok(NationalExport {
        year,
        period_days: period.days(),
        rows,
    })
}

const NATIONAL_COLUMNS: [Column; 32] = [
    col("仪器编号"),
    text("仪器名称"),
    text("英文名称"),
    col("分类编码"),
    text("规格型号"),
    text("生产制造商"),
    text("产地国别"),
    text("资产编号"),
    col("原值(万元)"),
    col("购置日期"),
    col("启用日期"),
    text("主要技术指标"),
    text("主要功能"),
    text("服务内容"),
    text("主要学科领域"),
    col("所属单位编号"),
    text("所属单位"),
    text("所在实验室"),
    text("联系人"),
    text("联系电话"),
    col("运行状态"),
    col("共享范围"),
    col("年度额定机时(小时)"),
    col("年度有效机时(小时)"),
    col("对外服务机时(小时)"),
    col("使用率"),
    col("共享率"),
    col("服务样品数"),
    col("服务用户数"),
    col("服务单位数"),
    col("服务收入(元)"),
    col("对外服务收入(元)"),
];

fn national_line(r: &NationalRow) -> Vec<String> {
    vec![
        r.instrument_id.to_string(),
        r.name_zh.clone(),
        r.name_en.clone().unwrap_or_default(),
        r.category_code.clone(),
        r.model.clone(),
        r.manufacturer.clone(),
        r.country_of_origin.clone(),
        r.asset_number.clone(),
        r.original_value_10k_cny.clone(),
        r.purchase_date.to_string(),
        opt(r.commissioning_date),
        r.technical_specs.clone(),
        r.functions.clone(),
        r.service_content.clone(),
        r.disciplines.join("、"),
        r.institution_id.to_string(),
        r.institution_name.clone(),
        r.lab_name.clone(),
        r.contact_name.clone(),
        r.contact_phone.clone(),
        report::status_label(r.status).to_owned(),
        report::sharing_label(r.sharing_scope).to_owned(),
        r.rated_hours.clone(),
        r.effective_hours.clone(),
        r.external_hours.clone(),
        r.utilisation.clone(),
        r.share_rate.clone(),
        r.samples.to_string(),
        r.users.to_string(),
        r.institutions_served.to_string(),
        r.revenue.clone(),
        r.revenue_external.clone(),
    ]
}

/// Export a year for the national platform.
///
/// The layout of the national large-instrument platform (国家网络管理平台
/// 大型科研仪器): one line per listed instrument with its catalogue record
/// (original value in 万元) and the year's run data — rated, effective and
/// external hours, utilisation, share rate, samples, users and institutions
/// served, revenue. Retired instruments appear only if used in the year.
/// The CSV words status and sharing scope as the national layout does
/// (正常, 系统内共享, …); JSON gives their codes. A unit admin exports its
/// own institution's instruments; the commission, the platform office and
/// regulators all.
#[utoipa::path(get, path = "/api/v1/reports/national-export", tag = "reports", operation_id = "exportNationalPlatform",
    params(NationalExportQuery),
    responses((status = 200, description = "The export: JSON by default, CSV (UTF-8 with BOM, Chinese headers) with format=csv",
        content((NationalExport = "application/json"), (String = "text/csv", example = json!("\u{feff}仪器编号,仪器名称,英文名称,…\r\n7,液相色谱-串联质谱仪,LC-MS/MS system,…\r\n"))))),
    security(("bearer" = [])))]
pub async fn national(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<NationalExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let year = q.year;
    let period =
        Period::year(year).map_err(|e| ApiError::InvalidParameter(vec![period_problem(&e, ("year", "year"))]))?;
    let export = state
        .report(&bearer, move |c, ctx| {
            let scope = scope(ctx)?;
            national_export(c, ctx, year, &period, scope)
        })
        .await?;
    Ok(match q.format.unwrap_or(Format::Json) {
        Format::Json => HttpResponse::Ok().json(export),
        Format::Csv => export::respond(
            Format::Csv,
            &format!("national-export-{year}"),
            &NATIONAL_COLUMNS,
            &export.rows,
            national_line,
        ),
    })
}
