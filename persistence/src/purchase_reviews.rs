//! Purchase reviews (新购查重评议) and the similar instruments each one was
//! answered with, kept as they were at filing.

use crate::schema::{
    institutions as inst, instruments as i, purchase_review_instruments as s, purchase_reviews as t, usage_records as u,
};
use crate::{parse_enum, DbConn, Page, RepoError};
use chrono::NaiveDateTime;
use diesel::dsl::sum;
use diesel::prelude::*;
use labshare_domain::catalogue::{InstrumentStatus, SharingScope};
use labshare_domain::codes::CategoryCode;
use labshare_domain::listing::ListingStatus;
use labshare_domain::purchase::{PurchaseRequest, PurchaseReviewStatus, Recommendation};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstitutionId, InstrumentId, Money, UserId};
use std::collections::BTreeMap;

/// An instrument of the requested category and its use over the review's window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimilarInstrument {
    pub instrument_id: InstrumentId,
    pub institution_id: InstitutionId,
    pub institution_name: String,
    /// The Chinese name.
    pub instrument_name: String,
    pub original_value: Money,
    pub status: InstrumentStatus,
    pub sharing_scope: SharingScope,
    pub listing_status: ListingStatus,
    /// 有效机时 in minutes: actual use started in the window.
    pub effective_minutes: i64,
    /// Used less than the policy's hours: a candidate for sharing instead of buying.
    pub candidate: bool,
}

/// A stored purchase review with its snapshot of similar instruments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseReview {
    pub id: i64,
    pub institution_id: InstitutionId,
    pub request: PurchaseRequest,
    /// Use started in `[usage_from, usage_to)` was weighed.
    pub usage_from: NaiveDateTime,
    pub usage_to: NaiveDateTime,
    pub share_instead_below_hours: i64,
    pub recommendation: Recommendation,
    pub status: PurchaseReviewStatus,
    pub filed_by: UserId,
    pub filed_at: NaiveDateTime,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<NaiveDateTime>,
    pub decision_reason: Option<String>,
    pub withdrawn_by: Option<UserId>,
    pub withdrawn_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    /// In instrument id order.
    pub similar: Vec<SimilarInstrument>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    institution_id: i64,
    category_code: String,
    instrument_name: String,
    specs: String,
    price_fen: i64,
    quantity: i32,
    reason: String,
    usage_from: NaiveDateTime,
    usage_to: NaiveDateTime,
    share_instead_below_hours: i32,
    recommendation: String,
    status: String,
    filed_by: i64,
    filed_at: NaiveDateTime,
    decided_by: Option<i64>,
    decided_at: Option<NaiveDateTime>,
    decision_reason: Option<String>,
    withdrawn_by: Option<i64>,
    withdrawn_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = s)]
struct SnapshotRow {
    review_id: i64,
    instrument_id: i64,
    institution_id: i64,
    institution_name: String,
    instrument_name: String,
    original_value_fen: i64,
    status: String,
    sharing_scope: String,
    listing_status: String,
    effective_minutes: i64,
    candidate: bool,
}

fn money(column: &str, fen: i64) -> Result<Money, RepoError> {
    Money::from_fen(fen).map_err(|e| RepoError::Corrupt(format!("{column}: {e}")))
}

impl TryFrom<SnapshotRow> for SimilarInstrument {
    type Error = RepoError;
    fn try_from(r: SnapshotRow) -> Result<Self, RepoError> {
        Ok(SimilarInstrument {
            instrument_id: InstrumentId(r.instrument_id),
            institution_id: InstitutionId(r.institution_id),
            institution_name: r.institution_name,
            instrument_name: r.instrument_name,
            original_value: money("original_value_fen", r.original_value_fen)?,
            status: parse_enum("status", &r.status)?,
            sharing_scope: parse_enum("sharing_scope", &r.sharing_scope)?,
            listing_status: parse_enum("listing_status", &r.listing_status)?,
            effective_minutes: r.effective_minutes,
            candidate: r.candidate,
        })
    }
}

impl Row {
    fn into_review(self, similar: Vec<SimilarInstrument>) -> Result<PurchaseReview, RepoError> {
        Ok(PurchaseReview {
            id: self.id,
            institution_id: InstitutionId(self.institution_id),
            request: PurchaseRequest {
                category_code: CategoryCode::parse(&self.category_code)
                    .map_err(|e| RepoError::Corrupt(format!("category_code: {e}")))?,
                instrument_name: self.instrument_name,
                specs: self.specs,
                price: money("price_fen", self.price_fen)?,
                quantity: i64::from(self.quantity),
                reason: self.reason,
            },
            usage_from: self.usage_from,
            usage_to: self.usage_to,
            share_instead_below_hours: i64::from(self.share_instead_below_hours),
            recommendation: parse_enum("recommendation", &self.recommendation)?,
            status: parse_enum("status", &self.status)?,
            filed_by: UserId(self.filed_by),
            filed_at: self.filed_at,
            decided_by: self.decided_by.map(UserId),
            decided_at: self.decided_at,
            decision_reason: self.decision_reason,
            withdrawn_by: self.withdrawn_by.map(UserId),
            withdrawn_at: self.withdrawn_at,
            updated_at: self.updated_at,
            similar,
        })
    }
}

/// Every instrument of a category in all units, retired ones excepted
/// (whatever their listing), with the effective minutes of the use started
/// in `[from, to)`: one aggregate query over the usage records, grouped by
/// instrument. `candidate` is left false for the caller to decide.
///
/// # Errors
/// Database errors.
pub fn similar_instruments(
    conn: &mut DbConn,
    category: &CategoryCode,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<Vec<SimilarInstrument>, RepoError> {
    type Used = (i64, i64, String, i64, String, String, String, Option<i64>);
    let rows: Vec<Used> = i::table
        .left_join(
            u::table.on(u::instrument_id
                .eq(i::id)
                .and(u::started_at.ge(from))
                .and(u::started_at.lt(to))),
        )
        .filter(i::category_code.eq(category.as_str()))
        .filter(i::status.ne(InstrumentStatus::Retired.as_str()))
        .group_by(i::id)
        .select((
            i::id,
            i::institution_id,
            i::name_zh,
            i::original_value_fen,
            i::status,
            i::sharing_scope,
            i::listing_status,
            sum(u::effective_minutes.nullable()),
        ))
        .order(i::id)
        .load(conn)?;
    let institution_ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let names: BTreeMap<i64, String> = inst::table
        .filter(inst::id.eq_any(institution_ids))
        .select((inst::id, inst::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    rows.into_iter()
        .map(|(id, institution, name, value, status, scope, listing, minutes)| {
            Ok(SimilarInstrument {
                instrument_id: InstrumentId(id),
                institution_id: InstitutionId(institution),
                institution_name: names
                    .get(&institution)
                    .cloned()
                    .ok_or_else(|| RepoError::Corrupt(format!("instrument {id}: institution {institution}")))?,
                instrument_name: name,
                original_value: money("original_value_fen", value)?,
                status: parse_enum("status", &status)?,
                sharing_scope: parse_enum("sharing_scope", &scope)?,
                listing_status: parse_enum("listing_status", &listing)?,
                effective_minutes: minutes.unwrap_or(0),
                candidate: false,
            })
        })
        .collect()
}

/// A purchase review to file.
#[derive(Debug, Clone)]
pub struct NewPurchaseReview<'a> {
    pub institution_id: InstitutionId,
    pub request: &'a PurchaseRequest,
    pub usage_from: NaiveDateTime,
    pub usage_to: NaiveDateTime,
    pub share_instead_below_hours: i64,
    pub recommendation: Recommendation,
    /// The answer given: the similar instruments with their use and whether each is a candidate.
    pub similar: &'a [SimilarInstrument],
    pub filed_by: UserId,
}

/// Files a request, submitted, with the snapshot of its answer.
///
/// # Errors
/// [`RepoError::Conflict`] when a reference is unknown or a value is out of
/// the database's range; database errors.
pub fn insert(conn: &mut DbConn, n: &NewPurchaseReview<'_>, now: NaiveDateTime) -> Result<PurchaseReview, RepoError> {
    let out_of_range = |what: &str| RepoError::Corrupt(format!("{what} out of range"));
    let quantity = i32::try_from(n.request.quantity).map_err(|_| out_of_range("quantity"))?;
    let hours = i32::try_from(n.share_instead_below_hours).map_err(|_| out_of_range("share_instead_below_hours"))?;
    let row: Row = diesel::insert_into(t::table)
        .values((
            t::institution_id.eq(n.institution_id.0),
            t::category_code.eq(n.request.category_code.as_str()),
            t::instrument_name.eq(&n.request.instrument_name),
            t::specs.eq(&n.request.specs),
            t::price_fen.eq(n.request.price.fen()),
            t::quantity.eq(quantity),
            t::reason.eq(&n.request.reason),
            t::usage_from.eq(n.usage_from),
            t::usage_to.eq(n.usage_to),
            t::share_instead_below_hours.eq(hours),
            t::recommendation.eq(n.recommendation.as_str()),
            t::status.eq(PurchaseReviewStatus::Submitted.as_str()),
            t::filed_by.eq(n.filed_by.0),
            t::filed_at.eq(now),
            t::updated_at.eq(now),
        ))
        .returning(t::all_columns)
        .get_result(conn)?;
    for x in n.similar {
        diesel::insert_into(s::table)
            .values((
                s::review_id.eq(row.id),
                s::instrument_id.eq(x.instrument_id.0),
                s::institution_id.eq(x.institution_id.0),
                s::institution_name.eq(&x.institution_name),
                s::instrument_name.eq(&x.instrument_name),
                s::original_value_fen.eq(x.original_value.fen()),
                s::status.eq(x.status.as_str()),
                s::sharing_scope.eq(x.sharing_scope.as_str()),
                s::listing_status.eq(x.listing_status.as_str()),
                s::effective_minutes.eq(x.effective_minutes),
                s::candidate.eq(x.candidate),
            ))
            .execute(conn)?;
    }
    get(conn, row.id)
}

/// The snapshots of some reviews, by review, each in instrument id order.
fn snapshots(conn: &mut DbConn, ids: &[i64]) -> Result<BTreeMap<i64, Vec<SimilarInstrument>>, RepoError> {
    let rows: Vec<SnapshotRow> = s::table
        .filter(s::review_id.eq_any(ids))
        .order((s::review_id, s::instrument_id))
        .select(SnapshotRow::as_select())
        .load(conn)?;
    let mut out: BTreeMap<i64, Vec<SimilarInstrument>> = BTreeMap::new();
    for r in rows {
        let review = r.review_id;
        out.entry(review).or_default().push(r.try_into()?);
    }
    Ok(out)
}

fn with_snapshots(conn: &mut DbConn, rows: Vec<Row>) -> Result<Vec<PurchaseReview>, RepoError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut similar = snapshots(conn, &ids)?;
    rows.into_iter()
        .map(|r| {
            let mine = similar.remove(&r.id).unwrap_or_default();
            r.into_review(mine)
        })
        .collect()
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such review.
pub fn get(conn: &mut DbConn, id: i64) -> Result<PurchaseReview, RepoError> {
    let row: Row = t::table.find(id).select(Row::as_select()).get_result(conn)?;
    with_snapshots(conn, vec![row])?.pop().ok_or(RepoError::NotFound)
}

/// What a step of a review records besides its status.
#[derive(Debug, Clone)]
pub enum Step<'a> {
    /// Approved or rejected by `by`, with a reason.
    Decided {
        by: UserId,
        reason: &'a str,
    },
    Withdrawn {
        by: UserId,
    },
}

/// Moves a review from `from` to `to`, in one statement.
///
/// # Errors
/// [`RepoError::NotFound`] when the review is no longer in `from`.
pub fn transition(
    conn: &mut DbConn,
    id: i64,
    from: PurchaseReviewStatus,
    to: PurchaseReviewStatus,
    step: &Step<'_>,
    now: NaiveDateTime,
) -> Result<PurchaseReview, RepoError> {
    let target = t::table.filter(t::id.eq(id)).filter(t::status.eq(from.as_str()));
    let n = match step {
        Step::Decided { by, reason } => diesel::update(target)
            .set((
                t::status.eq(to.as_str()),
                t::decided_by.eq(by.0),
                t::decided_at.eq(now),
                t::decision_reason.eq(*reason),
                t::updated_at.eq(now),
            ))
            .execute(conn)?,
        Step::Withdrawn { by } => diesel::update(target)
            .set((
                t::status.eq(to.as_str()),
                t::withdrawn_by.eq(by.0),
                t::withdrawn_at.eq(now),
                t::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get(conn, id)
}

/// Filters of the purchase-review list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub institution_id: Option<InstitutionId>,
    pub status: Option<PurchaseReviewStatus>,
    pub category_code: Option<CategoryCode>,
    /// Only this institution's reviews (`None`: all).
    pub unit: Option<InstitutionId>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<PurchaseReview>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Some(v) = f.institution_id {
        q = q.filter(t::institution_id.eq(v.0));
    }
    if let Some(v) = f.status {
        q = q.filter(t::status.eq(v.as_str()));
    }
    if let Some(v) = &f.category_code {
        q = q.filter(t::category_code.eq(v.as_str().to_owned()));
    }
    if let Some(v) = f.unit {
        q = q.filter(t::institution_id.eq(v.0));
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let page = Page::from_overfetch(rows, f.limit, |r| r.id);
    let next_after = page.next_after;
    Ok(Page {
        items: with_snapshots(conn, page.items)?,
        next_after,
    })
}
