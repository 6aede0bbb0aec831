//! The append-only audit trail: who changed what, when, before and after.
//! Callers write an event in the same transaction as the change; changes
//! in the webhook catalogue are published to the outbox with it.
//!
//! The trail is a hash chain. Each event stores `prev_hash`, the hash of the
//! event before it (64 zeros for the first), and `hash`, the SHA-256 of
//! [`canonical`] over its own fields and `prev_hash`. The one-row table
//! `audit_chain_head` holds the last event's id and hash; writers lock it (on
//! PostgreSQL; SQLite's immediate write transaction already serialises
//! writers) so that the chain stays linear, and a unique index on
//! `prev_hash` backs that up. [`verify`] walks the chain in id order.

use crate::schema::audit_chain_head as head;
use crate::schema::audit_events as t;
use crate::{DbConn, Page, RepoError};
use chrono::{NaiveDateTime, SubsecRound};
use diesel::prelude::*;
use labshare_domain::UserId;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event of the chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An audit event to write.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub actor: Option<UserId>,
    /// `instrument.update`, `listing.approve`, …
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: i64,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub actor: Option<UserId>,
    pub action: String,
    pub object_type: String,
    pub object_id: i64,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    occurred_at: NaiveDateTime,
    actor_user_id: Option<i64>,
    action: String,
    object_type: String,
    object_id: i64,
    before_json: Option<String>,
    after_json: Option<String>,
    prev_hash: Option<String>,
    hash: Option<String>,
}

impl Row {
    fn chain_hash(&self, prev_hash: &str) -> String {
        chain_hash(&Fields {
            id: self.id,
            occurred_at: self.occurred_at,
            actor: self.actor_user_id,
            action: &self.action,
            object_type: &self.object_type,
            object_id: self.object_id,
            before_json: self.before_json.as_deref(),
            after_json: self.after_json.as_deref(),
            prev_hash,
        })
    }
}

/// What the hash of an event covers.
struct Fields<'a> {
    id: i64,
    occurred_at: NaiveDateTime,
    actor: Option<i64>,
    action: &'a str,
    object_type: &'a str,
    object_id: i64,
    before_json: Option<&'a str>,
    after_json: Option<&'a str>,
    prev_hash: &'a str,
}

/// The unambiguous serialisation an event's hash is taken over: a version
/// tag, then each field in a fixed order as `<byte length>:<bytes>;`, or
/// `~;` when absent. Instants are UTC with exactly six fractional digits;
/// snapshots are the stored JSON text, byte for byte.
fn canonical(f: &Fields<'_>) -> Vec<u8> {
    fn put(out: &mut Vec<u8>, value: Option<&str>) {
        match value {
            Some(v) => {
                out.extend_from_slice(v.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(v.as_bytes());
                out.push(b';');
            }
            None => out.extend_from_slice(b"~;"),
        }
    }
    let mut out = b"labshare-audit-v1;".to_vec();
    put(&mut out, Some(&f.id.to_string()));
    put(
        &mut out,
        Some(&f.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
    );
    put(&mut out, f.actor.map(|a| a.to_string()).as_deref());
    put(&mut out, Some(f.action));
    put(&mut out, Some(f.object_type));
    put(&mut out, Some(&f.object_id.to_string()));
    put(&mut out, f.before_json);
    put(&mut out, f.after_json);
    put(&mut out, Some(f.prev_hash));
    out
}

/// SHA-256, lower-case hex, of the canonical form.
fn chain_hash(f: &Fields<'_>) -> String {
    let digest = Sha256::digest(canonical(f));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse(column: &str, text: Option<String>) -> Result<Option<serde_json::Value>, RepoError> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| RepoError::Corrupt(format!("{column}: {e}"))))
        .transpose()
}

/// # Errors
/// Database errors.
pub fn record(conn: &mut DbConn, e: &NewEvent<'_>, now: NaiveDateTime) -> Result<(), RepoError> {
    // Both backends keep microseconds; the hash covers what is stored.
    let now = now.trunc_subsecs(6);
    let before_json = e.before.as_ref().map(serde_json::Value::to_string);
    let after_json = e.after.as_ref().map(serde_json::Value::to_string);
    let prev_hash = lock_head(conn)?;
    let id: i64 = diesel::insert_into(t::table)
        .values((
            t::occurred_at.eq(now),
            t::actor_user_id.eq(e.actor.map(|u| u.0)),
            t::action.eq(e.action),
            t::object_type.eq(e.object_type),
            t::object_id.eq(e.object_id),
            t::before_json.eq(&before_json),
            t::after_json.eq(&after_json),
            t::prev_hash.eq(&prev_hash),
        ))
        .returning(t::id)
        .get_result(conn)?;
    let hash = chain_hash(&Fields {
        id,
        occurred_at: now,
        actor: e.actor.map(|u| u.0),
        action: e.action,
        object_type: e.object_type,
        object_id: e.object_id,
        before_json: before_json.as_deref(),
        after_json: after_json.as_deref(),
        prev_hash: &prev_hash,
    });
    diesel::update(t::table.find(id)).set(t::hash.eq(&hash)).execute(conn)?;
    move_head(conn, id, &hash)?;
    // Every audited change that integrators may subscribe to is published
    // from here, in the same transaction: no event without its change.
    crate::webhooks::publish_change(
        conn,
        e.action,
        e.object_type,
        e.object_id,
        e.after.as_ref().or(e.before.as_ref()),
        now,
    )?;
    Ok(())
}

/// Takes the head of the chain at the start of a PostgreSQL write
/// transaction (see [`crate::write_tx`]); on SQLite the immediate
/// transaction already holds the database.
///
/// # Errors
/// Database errors.
pub fn queue_writer(conn: &mut DbConn) -> Result<(), RepoError> {
    if let DbConn::Postgresql(pg) = conn {
        head::table
            .find(1)
            .select(head::last_id)
            .for_update()
            .load::<Option<i64>>(pg)?;
    }
    Ok(())
}

/// Locks the head of the chain for the rest of the transaction and returns
/// the hash to link to.
fn lock_head(conn: &mut DbConn) -> Result<String, RepoError> {
    let q = head::table.find(1).select(head::last_hash);
    let last = match conn {
        DbConn::Postgresql(pg) => q.for_update().first::<String>(pg).optional()?,
        DbConn::Sqlite(_) => q.first::<String>(conn).optional()?,
    };
    last.ok_or_else(|| RepoError::Corrupt("audit_chain_head: the head row is missing".into()))
}

fn move_head(conn: &mut DbConn, id: i64, hash: &str) -> Result<(), RepoError> {
    diesel::update(head::table.find(1))
        .set((head::last_id.eq(id), head::last_hash.eq(hash)))
        .execute(conn)?;
    Ok(())
}

/// Chains, in id order, the events after the head that carry no hash yet:
/// those written before the trail was hash-chained. The migration runner
/// calls it after the migrations, in one write transaction; it returns how
/// many it chained.
///
/// # Errors
/// Database errors.
pub fn seal_unchained(conn: &mut DbConn) -> Result<usize, RepoError> {
    let mut prev_hash = lock_head(conn)?;
    let start: Option<i64> = head::table.find(1).select(head::last_id).get_result(conn)?;
    let mut after = start.unwrap_or(0);
    let mut sealed = 0;
    loop {
        let rows: Vec<Row> = t::table
            .select(Row::as_select())
            .filter(t::id.gt(after))
            .filter(t::hash.is_null())
            .order(t::id)
            .limit(VERIFY_PAGE)
            .load(conn)?;
        let Some(last) = rows.last().map(|r| r.id) else {
            break;
        };
        for r in &rows {
            let hash = r.chain_hash(&prev_hash);
            diesel::update(t::table.find(r.id))
                .set((t::prev_hash.eq(&prev_hash), t::hash.eq(&hash)))
                .execute(conn)?;
            move_head(conn, r.id, &hash)?;
            prev_hash = hash;
            sealed += 1;
        }
        after = last;
    }
    Ok(sealed)
}

const VERIFY_PAGE: i64 = 500;

/// Why a link of the chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// The event's stored hash is not the hash of its fields: it was edited.
    HashMismatch,
    /// The event does not link to the one before it: an event in between was
    /// removed or inserted, or the link itself was edited.
    PrevHashMismatch,
    /// The chain ends before the event the head names: events at the end
    /// were removed, or the head was edited.
    HeadMismatch,
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Events examined, the broken one included.
    pub events_checked: i64,
    /// The first broken link: the event's id and why.
    pub first_broken: Option<(i64, Break)>,
}

/// Walks the chain in id order, a page at a time, up to the event the head
/// names when the walk starts (events appended meanwhile are left for the
/// next walk), and stops at the first broken link.
///
/// # Errors
/// Database errors.
pub fn verify(conn: &mut DbConn) -> Result<Verification, RepoError> {
    let (last_id, last_hash): (Option<i64>, String) = head::table
        .find(1)
        .select((head::last_id, head::last_hash))
        .get_result(conn)?;
    let mut checked = 0;
    let mut expected_prev = GENESIS.to_owned();
    let mut seen_last = None;
    let Some(last_id) = last_id else {
        // An empty chain; any event at all means the head was reset.
        let first: Option<i64> = t::table.select(t::id).order(t::id).first(conn).optional()?;
        return Ok(Verification {
            events_checked: 0,
            first_broken: first.map(|id| (id, Break::PrevHashMismatch)),
        });
    };
    let mut after = 0;
    loop {
        let rows: Vec<Row> = t::table
            .select(Row::as_select())
            .filter(t::id.gt(after))
            .filter(t::id.le(last_id))
            .order(t::id)
            .limit(VERIFY_PAGE)
            .load(conn)?;
        let Some(page_last) = rows.last().map(|r| r.id) else {
            break;
        };
        for r in &rows {
            checked += 1;
            if r.prev_hash.as_deref() != Some(expected_prev.as_str()) {
                return Ok(broken(checked, r.id, Break::PrevHashMismatch));
            }
            if r.hash.as_deref() != Some(r.chain_hash(&expected_prev).as_str()) {
                return Ok(broken(checked, r.id, Break::HashMismatch));
            }
            expected_prev = r.hash.clone().unwrap_or_default();
            seen_last = Some(r.id);
        }
        after = page_last;
    }
    if seen_last != Some(last_id) || expected_prev != last_hash {
        return Ok(broken(checked, last_id, Break::HeadMismatch));
    }
    Ok(Verification {
        events_checked: checked,
        first_broken: None,
    })
}

fn broken(checked: i64, id: i64, why: Break) -> Verification {
    Verification {
        events_checked: checked,
        first_broken: Some((id, why)),
    }
}

/// Filters of the audit trail.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub object_type: Option<String>,
    pub object_id: Option<i64>,
    pub actor: Option<UserId>,
    pub action: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// Events in the order they happened.
///
/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<Event>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Some(o) = &f.object_type {
        q = q.filter(t::object_type.eq(o.clone()));
    }
    if let Some(id) = f.object_id {
        q = q.filter(t::object_id.eq(id));
    }
    if let Some(a) = f.actor {
        q = q.filter(t::actor_user_id.eq(a.0));
    }
    if let Some(a) = &f.action {
        q = q.filter(t::action.eq(a.clone()));
    }
    if let Some(from) = f.from {
        q = q.filter(t::occurred_at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(t::occurred_at.lt(to));
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(Event {
                id: r.id,
                occurred_at: r.occurred_at,
                actor: r.actor_user_id.map(UserId),
                action: r.action,
                object_type: r.object_type,
                object_id: r.object_id,
                before: parse("before_json", r.before_json)?,
                after: parse("after_json", r.after_json)?,
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
        })
        .collect::<Result<Vec<_>, RepoError>>()?;
    Ok(Page::from_overfetch(items, f.limit, |e| e.id))
}
