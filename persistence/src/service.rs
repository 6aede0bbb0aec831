//! Sample services: service items, orders and their samples.

use crate::schema::{samples as s, service_item_instruments as si, service_items as i, service_orders as o};
use crate::{parse_enum, DbConn, Page, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::catalogue::BiosafetyLevel;
use labshare_domain::service::{OrderStatus, Sample, ServiceItemData};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstitutionId, InstrumentId, UserId};

/// A stored service item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceItem {
    pub id: i64,
    /// The provider: the institution owning the instruments.
    pub institution_id: InstitutionId,
    pub data: ServiceItemData,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

type ItemRow = (
    i64,
    i64,
    i64,
    String,
    String,
    i32,
    String,
    String,
    bool,
    NaiveDateTime,
    NaiveDateTime,
);

fn item(conn: &mut DbConn, r: ItemRow) -> Result<ServiceItem, RepoError> {
    let (id, institution, _primary, name, unit, turnaround, requirements, biosafety, active, created, updated) = r;
    let instrument_ids: Vec<i64> = si::table
        .filter(si::service_item_id.eq(id))
        .order(si::position)
        .select(si::instrument_id)
        .load(conn)?;
    Ok(ServiceItem {
        id,
        institution_id: InstitutionId(institution),
        data: ServiceItemData {
            name,
            instrument_ids: instrument_ids.into_iter().map(InstrumentId).collect(),
            unit: parse_enum("unit", &unit)?,
            turnaround_days: turnaround,
            sample_requirements: requirements,
            required_biosafety: parse_enum("required_biosafety", &biosafety)?,
        },
        active,
        created_at: created,
        updated_at: updated,
    })
}

const ITEM_COLUMNS: (
    i::id,
    i::institution_id,
    i::primary_instrument_id,
    i::name,
    i::unit,
    i::turnaround_days,
    i::sample_requirements,
    i::required_biosafety,
    i::active,
    i::created_at,
    i::updated_at,
) = (
    i::id,
    i::institution_id,
    i::primary_instrument_id,
    i::name,
    i::unit,
    i::turnaround_days,
    i::sample_requirements,
    i::required_biosafety,
    i::active,
    i::created_at,
    i::updated_at,
);

fn set_instruments(conn: &mut DbConn, item: i64, instruments: &[InstrumentId]) -> Result<(), RepoError> {
    diesel::delete(si::table.filter(si::service_item_id.eq(item))).execute(conn)?;
    for (n, instrument) in instruments.iter().enumerate() {
        diesel::insert_into(si::table)
            .values((
                si::service_item_id.eq(item),
                si::instrument_id.eq(instrument.0),
                si::position.eq(i32::try_from(n).unwrap_or(i32::MAX)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// # Errors
/// [`RepoError::Conflict`] on a duplicate name in the institution.
pub fn insert_item(
    conn: &mut DbConn,
    provider: InstitutionId,
    d: &ServiceItemData,
    active: bool,
    now: NaiveDateTime,
) -> Result<ServiceItem, RepoError> {
    let primary = d
        .instrument_ids
        .first()
        .map(|x| x.0)
        .ok_or_else(|| RepoError::Corrupt("no instrument".into()))?;
    let id: i64 = diesel::insert_into(i::table)
        .values((
            i::institution_id.eq(provider.0),
            i::primary_instrument_id.eq(primary),
            i::name.eq(&d.name),
            i::unit.eq(d.unit.as_str()),
            i::turnaround_days.eq(d.turnaround_days),
            i::sample_requirements.eq(&d.sample_requirements),
            i::required_biosafety.eq(d.required_biosafety.as_str()),
            i::active.eq(active),
            i::created_at.eq(now),
            i::updated_at.eq(now),
        ))
        .returning(i::id)
        .get_result(conn)?;
    set_instruments(conn, id, &d.instrument_ids)?;
    get_item(conn, id)
}

/// # Errors
/// [`RepoError::NotFound`], or [`RepoError::Conflict`] on a duplicate name.
pub fn update_item(
    conn: &mut DbConn,
    id: i64,
    d: &ServiceItemData,
    active: bool,
    now: NaiveDateTime,
) -> Result<ServiceItem, RepoError> {
    let primary = d
        .instrument_ids
        .first()
        .map(|x| x.0)
        .ok_or_else(|| RepoError::Corrupt("no instrument".into()))?;
    let n = diesel::update(i::table.find(id))
        .set((
            i::primary_instrument_id.eq(primary),
            i::name.eq(&d.name),
            i::unit.eq(d.unit.as_str()),
            i::turnaround_days.eq(d.turnaround_days),
            i::sample_requirements.eq(&d.sample_requirements),
            i::required_biosafety.eq(d.required_biosafety.as_str()),
            i::active.eq(active),
            i::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    set_instruments(conn, id, &d.instrument_ids)?;
    get_item(conn, id)
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such item.
pub fn get_item(conn: &mut DbConn, id: i64) -> Result<ServiceItem, RepoError> {
    let row: ItemRow = i::table.find(id).select(ITEM_COLUMNS).get_result(conn)?;
    item(conn, row)
}

/// Filters of the service-item list.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    pub institution_id: Option<InstitutionId>,
    pub instrument_id: Option<InstrumentId>,
    pub active: Option<bool>,
    pub q: Option<String>,
    /// Only items whose primary instrument is among these (what the reader may see).
    pub visible_instruments: Option<Vec<i64>>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list_items(conn: &mut DbConn, f: &ItemFilter) -> Result<Page<ServiceItem>, RepoError> {
    let mut q = i::table.select(ITEM_COLUMNS).order(i::id).into_boxed();
    if let Some(inst) = f.institution_id {
        q = q.filter(i::institution_id.eq(inst.0));
    }
    if let Some(instrument) = f.instrument_id {
        q = q.filter(
            i::id.eq_any(
                si::table
                    .filter(si::instrument_id.eq(instrument.0))
                    .select(si::service_item_id),
            ),
        );
    }
    if let Some(a) = f.active {
        q = q.filter(i::active.eq(a));
    }
    if let Some(text) = &f.q {
        q = q.filter(
            crate::text::lower(i::name)
                .like(crate::text::contains_pattern(text))
                .escape('\\'),
        );
    }
    if let Some(ids) = &f.visible_instruments {
        q = q.filter(i::primary_instrument_id.eq_any(ids.clone()));
    }
    if let Some(after) = f.after {
        q = q.filter(i::id.gt(after));
    }
    let rows: Vec<ItemRow> = q.limit(f.limit + 1).load(conn)?;
    let items = rows.into_iter().map(|r| item(conn, r)).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |x| x.id))
}

/// A stored service order with its samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: i64,
    pub service_item_id: i64,
    pub user_id: UserId,
    /// The orderer's institution.
    pub institution_id: InstitutionId,
    pub provider_institution_id: InstitutionId,
    pub status: OrderStatus,
    pub notes: String,
    pub samples: Vec<Sample>,
    pub reason: Option<String>,
    pub report_reference: Option<String>,
    pub sample_count: Option<i32>,
    pub instrument_minutes: Option<i64>,
    pub decided_by: Option<UserId>,
    pub accepted_at: Option<NaiveDateTime>,
    pub received_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = o)]
struct OrderRow {
    id: i64,
    service_item_id: i64,
    user_id: i64,
    institution_id: i64,
    provider_institution_id: i64,
    status: String,
    notes: String,
    reason: Option<String>,
    report_reference: Option<String>,
    sample_count: Option<i32>,
    instrument_minutes: Option<i32>,
    decided_by: Option<i64>,
    accepted_at: Option<NaiveDateTime>,
    received_at: Option<NaiveDateTime>,
    completed_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn order(conn: &mut DbConn, r: OrderRow) -> Result<Order, RepoError> {
    let rows: Vec<(String, String, String, bool, Option<String>)> = s::table
        .filter(s::order_id.eq(r.id))
        .order(s::id)
        .select((s::code, s::sample_type, s::risk_level, s::human, s::ethics_approval))
        .load(conn)?;
    let samples = rows
        .into_iter()
        .map(|(code, kind, risk, human, ethics)| {
            Ok(Sample {
                code,
                sample_type: parse_enum("sample_type", &kind)?,
                risk_level: parse_enum::<BiosafetyLevel>("risk_level", &risk)?,
                human,
                ethics_approval: ethics,
            })
        })
        .collect::<Result<Vec<_>, RepoError>>()?;
    Ok(Order {
        id: r.id,
        service_item_id: r.service_item_id,
        user_id: UserId(r.user_id),
        institution_id: InstitutionId(r.institution_id),
        provider_institution_id: InstitutionId(r.provider_institution_id),
        status: parse_enum("status", &r.status)?,
        notes: r.notes,
        samples,
        reason: r.reason,
        report_reference: r.report_reference,
        sample_count: r.sample_count,
        instrument_minutes: r.instrument_minutes.map(i64::from),
        decided_by: r.decided_by.map(UserId),
        accepted_at: r.accepted_at,
        received_at: r.received_at,
        completed_at: r.completed_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

/// A new order.
#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    pub service_item_id: i64,
    pub user_id: UserId,
    pub institution_id: InstitutionId,
    pub provider_institution_id: InstitutionId,
    pub notes: &'a str,
    pub samples: &'a [Sample],
}

/// # Errors
/// Database errors.
pub fn insert_order(conn: &mut DbConn, n: &NewOrder<'_>, now: NaiveDateTime) -> Result<Order, RepoError> {
    let id: i64 = diesel::insert_into(o::table)
        .values((
            o::service_item_id.eq(n.service_item_id),
            o::user_id.eq(n.user_id.0),
            o::institution_id.eq(n.institution_id.0),
            o::provider_institution_id.eq(n.provider_institution_id.0),
            o::status.eq(OrderStatus::Submitted.as_str()),
            o::notes.eq(n.notes),
            o::created_at.eq(now),
            o::updated_at.eq(now),
        ))
        .returning(o::id)
        .get_result(conn)?;
    for sample in n.samples {
        diesel::insert_into(s::table)
            .values((
                s::order_id.eq(id),
                s::code.eq(&sample.code),
                s::sample_type.eq(sample.sample_type.as_str()),
                s::risk_level.eq(sample.risk_level.as_str()),
                s::human.eq(sample.human),
                s::ethics_approval.eq(sample.ethics_approval.as_deref()),
            ))
            .execute(conn)?;
    }
    get_order(conn, id)
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such order.
pub fn get_order(conn: &mut DbConn, id: i64) -> Result<Order, RepoError> {
    let row: OrderRow = o::table.find(id).select(OrderRow::as_select()).get_result(conn)?;
    order(conn, row)
}

/// What a transition writes besides the status.
#[derive(Debug, Clone, Default)]
pub struct OrderChange {
    pub reason: Option<String>,
    pub report_reference: Option<String>,
    pub sample_count: Option<i32>,
    pub instrument_minutes: Option<i64>,
    pub decided_by: Option<UserId>,
    pub accepted_at: Option<NaiveDateTime>,
    pub received_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
}

/// Moves an order from `from` to `to`, only if it is still in `from`.
///
/// # Errors
/// [`RepoError::NotFound`] when the order is gone or moved on.
pub fn transition_order(
    conn: &mut DbConn,
    id: i64,
    from: OrderStatus,
    to: OrderStatus,
    c: &OrderChange,
    now: NaiveDateTime,
) -> Result<Order, RepoError> {
    let cur = get_order(conn, id)?;
    let minutes = c
        .instrument_minutes
        .or(cur.instrument_minutes)
        .map(|m| i32::try_from(m).map_err(|_| RepoError::Corrupt("instrument_minutes".into())))
        .transpose()?;
    let n = diesel::update(o::table.find(id).filter(o::status.eq(from.as_str())))
        .set((
            o::status.eq(to.as_str()),
            o::reason.eq(c.reason.clone().or(cur.reason)),
            o::report_reference.eq(c.report_reference.clone().or(cur.report_reference)),
            o::sample_count.eq(c.sample_count.or(cur.sample_count)),
            o::instrument_minutes.eq(minutes),
            o::decided_by.eq(c.decided_by.or(cur.decided_by).map(|u| u.0)),
            o::accepted_at.eq(c.accepted_at.or(cur.accepted_at)),
            o::received_at.eq(c.received_at.or(cur.received_at)),
            o::completed_at.eq(c.completed_at.or(cur.completed_at)),
            o::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get_order(conn, id)
}

/// Filters of the order list.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub user_id: Option<UserId>,
    pub service_item_id: Option<i64>,
    pub institution_id: Option<InstitutionId>,
    pub provider_institution_id: Option<InstitutionId>,
    pub status: Option<OrderStatus>,
    /// Restricts to what one actor may read; `None`: everything.
    pub visible_to: Option<crate::Visibility>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list_orders(conn: &mut DbConn, f: &OrderFilter) -> Result<Page<Order>, RepoError> {
    let mut q = o::table.select(OrderRow::as_select()).order(o::id).into_boxed();
    if let Some(u) = f.user_id {
        q = q.filter(o::user_id.eq(u.0));
    }
    if let Some(item) = f.service_item_id {
        q = q.filter(o::service_item_id.eq(item));
    }
    if let Some(inst) = f.institution_id {
        q = q.filter(o::institution_id.eq(inst.0));
    }
    if let Some(inst) = f.provider_institution_id {
        q = q.filter(o::provider_institution_id.eq(inst.0));
    }
    if let Some(st) = f.status {
        q = q.filter(o::status.eq(st.as_str()));
    }
    if let Some(v) = &f.visible_to {
        // Orders are run through the item's primary instrument, as a single order's reader check does.
        let items_run = i::table
            .filter(i::primary_instrument_id.eq_any(v.instrument_ids.clone()))
            .select(i::id);
        let own = o::user_id.eq(v.user_id).or(o::service_item_id.eq_any(items_run));
        q = match v.institution_id {
            Some(inst) => q.filter(
                own.or(o::institution_id.eq(inst))
                    .or(o::provider_institution_id.eq(inst)),
            ),
            None => q.filter(own),
        };
    }
    if let Some(after) = f.after {
        q = q.filter(o::id.gt(after));
    }
    let rows: Vec<OrderRow> = q.limit(f.limit + 1).load(conn)?;
    let items = rows
        .into_iter()
        .map(|r| order(conn, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |x| x.id))
}
