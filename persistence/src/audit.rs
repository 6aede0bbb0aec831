//! The append-only audit trail: who changed what, when, before and after.
//! Callers write an event in the same transaction as the change.

use crate::schema::audit_events as t;
use crate::{DbConn, Page, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::UserId;

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
}

fn parse(column: &str, text: Option<String>) -> Result<Option<serde_json::Value>, RepoError> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| RepoError::Corrupt(format!("{column}: {e}"))))
        .transpose()
}

/// # Errors
/// Database errors.
pub fn record(conn: &mut DbConn, e: &NewEvent<'_>, now: NaiveDateTime) -> Result<(), RepoError> {
    diesel::insert_into(t::table)
        .values((
            t::occurred_at.eq(now),
            t::actor_user_id.eq(e.actor.map(|u| u.0)),
            t::action.eq(e.action),
            t::object_type.eq(e.object_type),
            t::object_id.eq(e.object_id),
            t::before_json.eq(e.before.as_ref().map(serde_json::Value::to_string)),
            t::after_json.eq(e.after.as_ref().map(serde_json::Value::to_string)),
        ))
        .execute(conn)?;
    Ok(())
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
            })
        })
        .collect::<Result<Vec<_>, RepoError>>()?;
    Ok(Page::from_overfetch(items, f.limit, |e| e.id))
}
