//! Webhooks: subscriptions, the transactional outbox and the delivery log.
//!
//! [`publish`] runs inside the transaction of the change it reports (the
//! audit trail calls it), so an event exists if and only if its change was
//! committed. It fans the event out at once to the active subscriptions it
//! concerns, one `webhook_deliveries` row each (unique per subscription and
//! event). The dispatcher then [`claim`]s due deliveries under a lease, sends
//! them outside any transaction, and [`finish`]es each with the attempt it
//! made; a dispatcher that dies holding a lease only delays the delivery
//! until the lease runs out, and the retry carries the same event id.

use crate::schema::{
    bookings, charges, fee_standards, instruments, outbox_events as ev, purchase_reviews, service_orders, statements,
    subsidy_grants, usage_records, webhook_attempts as at, webhook_deliveries as d, webhooks as w,
};
use crate::{DbConn, Page, RepoError};
use chrono::{NaiveDateTime, SubsecRound};
use diesel::prelude::*;
use labshare_domain::webhook::{event_type_of, subscribed_to};

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    /// `None`: platform-wide.
    pub institution_id: Option<i64>,
    pub url: String,
    pub event_types: Vec<String>,
    pub secret: String,
    pub active: bool,
    pub description: String,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = w)]
struct Row {
    id: i64,
    institution_id: Option<i64>,
    url: String,
    event_types: String,
    secret: String,
    active: bool,
    description: String,
    created_by: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn types_json(types: &[String]) -> String {
    serde_json::Value::from(types.to_vec()).to_string()
}

impl TryFrom<Row> for Webhook {
    type Error = RepoError;
    fn try_from(r: Row) -> Result<Self, RepoError> {
        let event_types: Vec<String> =
            serde_json::from_str(&r.event_types).map_err(|e| RepoError::Corrupt(format!("event_types: {e}")))?;
        Ok(Self {
            id: r.id,
            institution_id: r.institution_id,
            url: r.url,
            event_types,
            secret: r.secret,
            active: r.active,
            description: r.description,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A new subscription.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub institution_id: Option<i64>,
    pub url: String,
    pub event_types: Vec<String>,
    pub secret: String,
    pub active: bool,
    pub description: String,
    pub created_by: i64,
}

/// # Errors
/// Database errors ([`RepoError::Conflict`] for an unknown institution).
pub fn insert(conn: &mut DbConn, n: &NewWebhook, now: NaiveDateTime) -> Result<Webhook, RepoError> {
    let row: Row = diesel::insert_into(w::table)
        .values((
            w::institution_id.eq(n.institution_id),
            w::url.eq(&n.url),
            w::event_types.eq(types_json(&n.event_types)),
            w::secret.eq(&n.secret),
            w::active.eq(n.active),
            w::description.eq(&n.description),
            w::created_by.eq(n.created_by),
            w::created_at.eq(now),
            w::updated_at.eq(now),
        ))
        .returning((
            w::id,
            w::institution_id,
            w::url,
            w::event_types,
            w::secret,
            w::active,
            w::description,
            w::created_by,
            w::created_at,
            w::updated_at,
        ))
        .get_result(conn)?;
    row.try_into()
}

/// A subscription that was not deleted.
///
/// # Errors
/// [`RepoError::NotFound`].
pub fn get(conn: &mut DbConn, id: i64) -> Result<Webhook, RepoError> {
    w::table
        .find(id)
        .filter(w::deleted_at.is_null())
        .select(Row::as_select())
        .get_result(conn)?
        .try_into()
}

/// What a change of a subscription sets.
#[derive(Debug, Clone)]
pub struct Changes {
    pub url: String,
    pub event_types: Vec<String>,
    pub active: bool,
    pub description: String,
}

/// # Errors
/// [`RepoError::NotFound`].
pub fn update(conn: &mut DbConn, id: i64, c: &Changes, now: NaiveDateTime) -> Result<Webhook, RepoError> {
    diesel::update(w::table.find(id).filter(w::deleted_at.is_null()))
        .set((
            w::url.eq(&c.url),
            w::event_types.eq(types_json(&c.event_types)),
            w::active.eq(c.active),
            w::description.eq(&c.description),
            w::updated_at.eq(now),
        ))
        .execute(conn)?;
    get(conn, id)
}

/// # Errors
/// [`RepoError::NotFound`].
pub fn set_secret(conn: &mut DbConn, id: i64, secret: &str, now: NaiveDateTime) -> Result<Webhook, RepoError> {
    let n = diesel::update(w::table.find(id).filter(w::deleted_at.is_null()))
        .set((w::secret.eq(secret), w::updated_at.eq(now)))
        .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get(conn, id)
}

/// Deletes a subscription: it receives nothing more, and what was still
/// waiting to be delivered is cancelled. Its delivery log is kept.
///
/// # Errors
/// [`RepoError::NotFound`].
pub fn delete(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> Result<(), RepoError> {
    let n = diesel::update(w::table.find(id).filter(w::deleted_at.is_null()))
        .set((w::deleted_at.eq(now), w::active.eq(false), w::updated_at.eq(now)))
        .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    diesel::update(d::table.filter(d::webhook_id.eq(id)).filter(d::status.eq("pending")))
        .set((
            d::status.eq("cancelled"),
            d::locked_until.eq(None::<NaiveDateTime>),
            d::last_error.eq(Some("the subscription was deleted")),
            d::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Filters of the subscription list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `None`: every subscription; `Some(i)`: those of institution `i`.
    pub institution_id: Option<i64>,
    /// Only platform-wide subscriptions.
    pub platform_wide: bool,
    pub after: Option<i64>,
    pub limit: i64,
}

/// Pauses the active subscriptions `user` made (a service account being
/// revoked); returns them as they were before.
///
/// # Errors
/// Database errors.
pub fn pause_made_by(conn: &mut DbConn, user: i64, now: NaiveDateTime) -> Result<Vec<Webhook>, RepoError> {
    let ids: Vec<i64> = w::table
        .filter(w::created_by.eq(user))
        .filter(w::active.eq(true))
        .filter(w::deleted_at.is_null())
        .select(w::id)
        .load(conn)?;
    let mut paused = Vec::with_capacity(ids.len());
    for &id in &ids {
        paused.push(get(conn, id)?);
    }
    diesel::update(w::table.filter(w::id.eq_any(&ids)))
        .set((w::active.eq(false), w::updated_at.eq(now)))
        .execute(conn)?;
    Ok(paused)
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<Webhook>, RepoError> {
    let mut q = w::table
        .filter(w::deleted_at.is_null())
        .select(Row::as_select())
        .order(w::id)
        .into_boxed();
    if let Some(i) = f.institution_id {
        q = q.filter(w::institution_id.eq(i));
    }
    if f.platform_wide {
        q = q.filter(w::institution_id.is_null());
    }
    if let Some(after) = f.after {
        q = q.filter(w::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let items = rows.into_iter().map(Webhook::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |h| h.id))
}

/// The institutions an object concerns: the booker's and the instrument
/// owner's for a booking, payer and provider for a charge, a statement or
/// an order, the owner for an instrument. Platform-wide objects
/// (assessments) concern no single institution.
///
/// # Errors
/// Database errors.
pub fn concerned_institutions(conn: &mut DbConn, object_type: &str, id: i64) -> Result<Vec<i64>, RepoError> {
    let owner_of = |conn: &mut DbConn, instrument: i64| -> Result<i64, RepoError> {
        Ok(instruments::table
            .find(instrument)
            .select(instruments::institution_id)
            .get_result(conn)?)
    };
    let mut ids: Vec<i64> = match object_type {
        "booking" => {
            let (own, instrument): (i64, i64) = bookings::table
                .find(id)
                .select((bookings::institution_id, bookings::instrument_id))
                .get_result(conn)?;
            vec![own, owner_of(conn, instrument)?]
        }
        "usage_record" => {
            let (own, instrument): (i64, i64) = usage_records::table
                .find(id)
                .select((usage_records::institution_id, usage_records::instrument_id))
                .get_result(conn)?;
            vec![own, owner_of(conn, instrument)?]
        }
        "service_order" => {
            let (a, b): (i64, i64) = service_orders::table
                .find(id)
                .select((service_orders::institution_id, service_orders::provider_institution_id))
                .get_result(conn)?;
            vec![a, b]
        }
        "charge" => {
            let (a, b): (i64, i64) = charges::table
                .find(id)
                .select((charges::payer_institution_id, charges::provider_institution_id))
                .get_result(conn)?;
            vec![a, b]
        }
        "statement" => {
            let (a, b): (Option<i64>, i64) = statements::table
                .find(id)
                .select((statements::payer_institution_id, statements::provider_institution_id))
                .get_result(conn)?;
            a.into_iter().chain([b]).collect()
        }
        "instrument" => vec![owner_of(conn, id)?],
        "fee_standard" => vec![fee_standards::table
            .find(id)
            .select(fee_standards::institution_id)
            .get_result(conn)?],
        "subsidy_grant" => vec![subsidy_grants::table
            .find(id)
            .select(subsidy_grants::institution_id)
            .get_result(conn)?],
        "purchase_review" => vec![purchase_reviews::table
            .find(id)
            .select(purchase_reviews::institution_id)
            .get_result(conn)?],
        _ => Vec::new(),
    };
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// An event to publish.
#[derive(Debug, Clone)]
pub struct NewOutboxEvent<'a> {
    pub event_type: &'a str,
    pub object_type: &'a str,
    pub object_id: i64,
    /// The object as the API shows it after the change.
    pub data: &'a serde_json::Value,
    pub institution_ids: &'a [i64],
}

/// Publishes the event of an audited change, if its action is in the
/// catalogue: writes it to the outbox and fans it out to the active
/// subscriptions it concerns, in the caller's transaction. Subscriptions
/// made later do not receive it: the fan-out happens now, once.
///
/// # Errors
/// Database errors.
pub fn publish_change(
    conn: &mut DbConn,
    action: &str,
    object_type: &str,
    object_id: i64,
    data: Option<&serde_json::Value>,
    now: NaiveDateTime,
) -> Result<Option<i64>, RepoError> {
    let Some(event_type) = event_type_of(action) else {
        return Ok(None);
    };
    let institutions = concerned_institutions(conn, object_type, object_id)?;
    let empty = serde_json::Value::Object(serde_json::Map::new());
    let event = NewOutboxEvent {
        event_type,
        object_type,
        object_id,
        data: data.unwrap_or(&empty),
        institution_ids: &institutions,
    };
    let id = insert_event(conn, &event, now)?;
    let subscribers: Vec<Row> = w::table
        .filter(w::deleted_at.is_null())
        .filter(w::active.eq(true))
        .select(Row::as_select())
        .order(w::id)
        .load(conn)?;
    for hook in subscribers {
        let hook = Webhook::try_from(hook)?;
        let concerned = hook.institution_id.is_none_or(|i| institutions.contains(&i));
        if concerned && subscribed_to(&hook.event_types, event_type) {
            insert_delivery(conn, hook.id, id, now)?;
        }
    }
    Ok(Some(id))
}

/// Publishes an event to one subscription only (a test delivery).
///
/// # Errors
/// Database errors.
pub fn publish_to(
    conn: &mut DbConn,
    webhook_id: i64,
    event: &NewOutboxEvent<'_>,
    now: NaiveDateTime,
) -> Result<Delivery, RepoError> {
    let id = insert_event(conn, event, now)?;
    let delivery = insert_delivery(conn, webhook_id, id, now)?;
    get_delivery(conn, webhook_id, delivery)
}

fn insert_event(conn: &mut DbConn, e: &NewOutboxEvent<'_>, now: NaiveDateTime) -> Result<i64, RepoError> {
    let ids = serde_json::Value::from(e.institution_ids.to_vec()).to_string();
    Ok(diesel::insert_into(ev::table)
        .values((
            ev::event_type.eq(e.event_type),
            ev::object_type.eq(e.object_type),
            ev::object_id.eq(e.object_id),
            ev::occurred_at.eq(now.trunc_subsecs(6)),
            ev::payload_json.eq(e.data.to_string()),
            ev::institution_ids.eq(ids),
        ))
        .returning(ev::id)
        .get_result(conn)?)
}

fn insert_delivery(conn: &mut DbConn, webhook_id: i64, event_id: i64, now: NaiveDateTime) -> Result<i64, RepoError> {
    Ok(diesel::insert_into(d::table)
        .values((
            d::webhook_id.eq(webhook_id),
            d::event_id.eq(event_id),
            d::status.eq("pending"),
            d::attempts.eq(0),
            d::next_attempt_at.eq(now),
            d::created_at.eq(now),
            d::updated_at.eq(now),
        ))
        .returning(d::id)
        .get_result(conn)?)
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = ev)]
pub struct OutboxEvent {
    pub id: i64,
    pub event_type: String,
    pub object_type: String,
    pub object_id: i64,
    pub occurred_at: NaiveDateTime,
    pub payload_json: String,
    pub institution_ids: String,
}

/// A delivery claimed by a dispatcher: what to send where.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery_id: i64,
    pub webhook_id: i64,
    /// The attempt this claim stands for, logged at once.
    pub attempt_id: i64,
    /// Attempts made, this one included.
    pub attempts: i32,
    /// The lease this claim holds; the outcome is recorded on the delivery
    /// only while the lease is still this one.
    pub lease_until: NaiveDateTime,
    pub url: String,
    pub secret: String,
    pub event: OutboxEvent,
}

/// Why a delivery failed whose attempts all ended without an outcome.
pub const GAVE_UP: &str = "gave up: no outcome could be recorded for any attempt";

/// What an attempt's log says until its outcome is recorded.
pub const NO_OUTCOME: &str = "no outcome recorded: in progress, or the dispatcher stopped before the answer";

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Claims up to `limit` due deliveries until `lease_until`: pending, due,
/// not leased by another dispatcher, of an active subscription. On
/// PostgreSQL the rows are locked with `SKIP LOCKED`, so concurrent
/// dispatchers claim disjoint sets; SQLite's immediate write transaction
/// serialises them. Each claim is logged as an attempt at once, so that an
/// attempt whose dispatcher stopped before recording its outcome still
/// shows in the log.
///
/// # Errors
/// Database errors.
pub fn claim(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Claimed>, RepoError> {
    use diesel::sql_types::{BigInt, Timestamp};
    use labshare_domain::webhook::MAX_ATTEMPTS;
    // Stored as PostgreSQL keeps it, so that `finish` can recognise its own lease.
    let lease_until = lease_until.trunc_subsecs(6);
    // A delivery whose every attempt ended without an outcome recorded (the
    // dispatcher stopped, or the outcome could not be stored) gives up too.
    diesel::update(
        d::table
            .filter(d::status.eq("pending"))
            .filter(d::attempts.ge(MAX_ATTEMPTS))
            .filter(d::locked_until.le(now)),
    )
    .set((
        d::status.eq("failed"),
        d::locked_until.eq(None::<NaiveDateTime>),
        d::last_error.eq(Some(GAVE_UP)),
        d::updated_at.eq(now),
    ))
    .execute(conn)?;
    let due = "SELECT d.id AS id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
               WHERE d.status = 'pending' AND d.next_attempt_at <= {1} \
               AND (d.locked_until IS NULL OR d.locked_until <= {1}) \
               AND d.attempts < {3} \
               AND w.active AND w.deleted_at IS NULL \
               ORDER BY d.next_attempt_at, d.id LIMIT {2}";
    let ids: Vec<IdRow> = match conn {
        DbConn::Postgresql(_) => diesel::sql_query(format!(
            "{} FOR UPDATE OF d SKIP LOCKED",
            due.replace("{1}", "$1").replace("{2}", "$2").replace("{3}", "$3")
        ))
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .bind::<diesel::sql_types::Integer, _>(MAX_ATTEMPTS)
        .load(conn)?,
        DbConn::Sqlite(_) => diesel::sql_query(due.replace("{1}", "?1").replace("{2}", "?2").replace("{3}", "?3"))
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .bind::<diesel::sql_types::Integer, _>(MAX_ATTEMPTS)
            .load(conn)?,
    };
    let ids: Vec<i64> = ids.into_iter().map(|r| r.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(d::table.filter(d::id.eq_any(&ids)))
        .set((
            d::locked_until.eq(Some(lease_until)),
            d::attempts.eq(d::attempts + 1),
            d::updated_at.eq(now),
        ))
        .execute(conn)?;
    let rows: Vec<(i64, i64, i32, String, String, OutboxEvent)> = d::table
        .inner_join(w::table)
        .inner_join(ev::table)
        .filter(d::id.eq_any(&ids))
        .order((d::next_attempt_at, d::id))
        .select((
            d::id,
            d::webhook_id,
            d::attempts,
            w::url,
            w::secret,
            OutboxEvent::as_select(),
        ))
        .load(conn)?;
    let mut claimed = Vec::with_capacity(rows.len());
    for (delivery_id, webhook_id, attempts, url, secret, event) in rows {
        let attempt_id: i64 = diesel::insert_into(at::table)
            .values((
                at::delivery_id.eq(delivery_id),
                at::attempted_at.eq(now),
                at::duration_ms.eq(0_i64),
                at::status_code.eq(None::<i32>),
                at::error.eq(Some(NO_OUTCOME)),
            ))
            .returning(at::id)
            .get_result(conn)?;
        claimed.push(Claimed {
            delivery_id,
            webhook_id,
            attempt_id,
            attempts,
            lease_until,
            url,
            secret,
            event,
        });
    }
    Ok(claimed)
}

/// One attempt to deliver, as made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAt(NaiveDateTime),
    GiveUp,
}

/// Records the outcome of a claimed attempt and releases the lease. A
/// delivery that is no longer pending (deleted subscription) keeps its
/// status; the outcome is logged all the same.
///
/// # Errors
/// Database errors.
pub fn finish(
    conn: &mut DbConn,
    claimed: &Claimed,
    outcome: &Outcome,
    next: Next,
    now: NaiveDateTime,
) -> Result<(), RepoError> {
    // Text from a receiver may hold what a TEXT column refuses (NUL on PostgreSQL).
    let error = outcome.error.as_deref().map(printable);
    let excerpt = outcome.response_excerpt.as_deref().map(printable);
    diesel::update(at::table.find(claimed.attempt_id))
        .set((
            at::duration_ms.eq(outcome.duration_ms),
            at::status_code.eq(outcome.status_code),
            at::error.eq(error.as_deref()),
            at::response_excerpt.eq(excerpt.as_deref()),
        ))
        .execute(conn)?;
    // Only while this claim's lease holds: a dispatcher that outlived its
    // lease logs its attempt but leaves the delivery to the one that took it over.
    let pending = d::table
        .filter(d::id.eq(claimed.delivery_id))
        .filter(d::status.eq("pending"))
        .filter(d::locked_until.eq(Some(claimed.lease_until)));
    let common = (
        d::locked_until.eq(None::<NaiveDateTime>),
        d::last_status.eq(outcome.status_code),
        d::last_error.eq(error.as_deref()),
        d::updated_at.eq(now),
    );
    match next {
        Next::Delivered => diesel::update(pending)
            .set((common, d::status.eq("delivered"), d::delivered_at.eq(Some(now))))
            .execute(conn)?,
        Next::RetryAt(at) => diesel::update(pending)
            .set((common, d::next_attempt_at.eq(at)))
            .execute(conn)?,
        Next::GiveUp => diesel::update(pending)
            .set((common, d::status.eq("failed")))
            .execute(conn)?,
    };
    Ok(())
}

/// `text` without control characters other than tab and line breaks.
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// A delivery with its event and its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: i64,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub log: Vec<Attempt>,
}

/// An attempt as logged.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = at)]
pub struct Attempt {
    pub id: i64,
    pub delivery_id: i64,
    pub attempted_at: NaiveDateTime,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = d)]
struct DeliveryRow {
    id: i64,
    webhook_id: i64,
    event_id: i64,
    status: String,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    last_status: Option<i32>,
    last_error: Option<String>,
    delivered_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

fn with_attempts(conn: &mut DbConn, rows: Vec<(DeliveryRow, String)>) -> Result<Vec<Delivery>, RepoError> {
    let ids: Vec<i64> = rows.iter().map(|(r, _)| r.id).collect();
    let mut attempts: Vec<Attempt> = at::table
        .filter(at::delivery_id.eq_any(&ids))
        .order(at::id)
        .select(Attempt::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(r, event_type)| {
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut attempts)
                .into_iter()
                .partition(|a| a.delivery_id == r.id);
            attempts = rest;
            Delivery {
                id: r.id,
                webhook_id: r.webhook_id,
                event_id: r.event_id,
                event_type,
                status: r.status,
                attempts: r.attempts,
                next_attempt_at: r.next_attempt_at,
                last_status: r.last_status,
                last_error: r.last_error,
                delivered_at: r.delivered_at,
                created_at: r.created_at,
                log: mine,
            }
        })
        .collect())
}

/// Filters of a subscription's delivery log.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<String>,
    pub event_type: Option<String>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// A subscription's deliveries, oldest first, each with its attempts.
///
/// # Errors
/// Database errors.
pub fn deliveries(conn: &mut DbConn, webhook_id: i64, f: &DeliveryFilter) -> Result<Page<Delivery>, RepoError> {
    let mut q = d::table
        .inner_join(ev::table)
        .filter(d::webhook_id.eq(webhook_id))
        .select((DeliveryRow::as_select(), ev::event_type))
        .order(d::id)
        .into_boxed();
    if let Some(s) = &f.status {
        q = q.filter(d::status.eq(s.clone()));
    }
    if let Some(t) = &f.event_type {
        q = q.filter(ev::event_type.eq(t.clone()));
    }
    if let Some(after) = f.after {
        q = q.filter(d::id.gt(after));
    }
    let rows: Vec<(DeliveryRow, String)> = q.limit(f.limit + 1).load(conn)?;
    let items = with_attempts(conn, rows)?;
    Ok(Page::from_overfetch(items, f.limit, |x| x.id))
}

/// One delivery of a subscription.
///
/// # Errors
/// [`RepoError::NotFound`].
pub fn get_delivery(conn: &mut DbConn, webhook_id: i64, id: i64) -> Result<Delivery, RepoError> {
    let row: (DeliveryRow, String) = d::table
        .inner_join(ev::table)
        .filter(d::webhook_id.eq(webhook_id))
        .filter(d::id.eq(id))
        .select((DeliveryRow::as_select(), ev::event_type))
        .get_result(conn)?;
    with_attempts(conn, vec![row])?.pop().ok_or(RepoError::NotFound)
}

/// Queues a delivered or failed delivery once more, due now, with the same
/// event (and so the same event id). A failed one that has used up its
/// attempts gets one more.
///
/// # Errors
/// [`RepoError::NotFound`] when it is not delivered or failed (still pending, or cancelled).
pub fn requeue(conn: &mut DbConn, webhook_id: i64, id: i64, now: NaiveDateTime) -> Result<Delivery, RepoError> {
    let n = diesel::update(
        d::table
            .filter(d::webhook_id.eq(webhook_id))
            .filter(d::id.eq(id))
            .filter(d::status.eq_any(["delivered", "failed"])),
    )
    .set((
        d::status.eq("pending"),
        d::delivered_at.eq(None::<NaiveDateTime>),
        d::locked_until.eq(None::<NaiveDateTime>),
        d::next_attempt_at.eq(now),
        d::attempts.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(&format!(
            "CASE WHEN attempts >= {0} THEN {1} ELSE attempts END",
            labshare_domain::webhook::MAX_ATTEMPTS,
            labshare_domain::webhook::MAX_ATTEMPTS - 1
        ))),
        d::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get_delivery(conn, webhook_id, id)
}
