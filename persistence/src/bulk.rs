//! Bulk loading of generated rows (`labshare seed --scale`): multi-row
//! `INSERT` statements with explicit ids, written table by table in
//! batches, parents always flushed before their children so that foreign
//! keys hold at every statement on both backends.
//!
//! The values are literals produced here (numbers, escaped text, the
//! timestamp and date formats diesel itself stores), never user input.

use crate::{Backend, DbConn, RepoError};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::RunQueryDsl;

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Int(i64),
    Text(&'a str),
    Owned(String),
    Bool(bool),
    Time(NaiveDateTime),
    Date(NaiveDate),
    Null,
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value<'_> {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}

impl From<String> for Value<'_> {
    fn from(v: String) -> Self {
        Value::Owned(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<NaiveDateTime> for Value<'_> {
    fn from(v: NaiveDateTime) -> Self {
        Value::Time(v)
    }
}

impl From<NaiveDate> for Value<'_> {
    fn from(v: NaiveDate) -> Self {
        Value::Date(v)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A table being loaded: its columns and whether its `id` is an identity
/// column (set explicitly here, so PostgreSQL must be told to accept it).
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub identity: bool,
}

struct Buffer {
    table: Table,
    sql: String,
    rows: usize,
    total: u64,
}

/// Rows per statement: well under SQLite's limits on statement length and
/// terms, large enough that statement overhead does not matter.
const ROWS_PER_STATEMENT: usize = 400;

/// Sees every statement before it runs.
type Observer = Box<dyn FnMut(&str)>;

/// Writes rows of several tables in batches. Tables are given parents
/// first; flushing a table flushes every table before it.
pub struct Loader {
    backend: Backend,
    buffers: Vec<Buffer>,
    /// Called with every statement executed (for a digest of the load).
    observer: Option<Observer>,
}

impl Loader {
    pub fn new(backend: Backend, tables: &[Table]) -> Self {
        Self {
            backend,
            buffers: tables
                .iter()
                .map(|t| Buffer {
                    table: *t,
                    sql: String::new(),
                    rows: 0,
                    total: 0,
                })
                .collect(),
            observer: None,
        }
    }

    /// Sees every statement before it runs.
    pub fn observe(&mut self, f: impl FnMut(&str) + 'static) {
        self.observer = Some(Box::new(f));
    }

    /// Adds one row to table `index` (its position in the list given to
    /// [`Loader::new`]), flushing when its batch is full.
    ///
    /// # Errors
    /// [`RepoError`] of the statement; [`RepoError::Corrupt`] for a row of
    /// the wrong width or an unknown table.
    pub fn push(&mut self, conn: &mut DbConn, index: usize, row: &[Value<'_>]) -> Result<(), RepoError> {
        let backend = self.backend;
        let buffer = self
            .buffers
            .get_mut(index)
            .ok_or_else(|| RepoError::Corrupt(format!("bulk table {index}")))?;
        if row.len() != buffer.table.columns.len() {
            return Err(RepoError::Corrupt(format!(
                "bulk row of {} values for {} columns of {}",
                row.len(),
                buffer.table.columns.len(),
                buffer.table.name
            )));
        }
        buffer.sql.push_str(if buffer.rows == 0 { "(" } else { ",(" });
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                buffer.sql.push(',');
            }
            write_value(&mut buffer.sql, v, backend);
        }
        buffer.sql.push(')');
        buffer.rows += 1;
        buffer.total += 1;
        if buffer.rows >= ROWS_PER_STATEMENT {
            self.flush_through(conn, index)?;
        }
        Ok(())
    }

    /// Rows written to each table so far, in the order given.
    pub fn totals(&self) -> Vec<(&'static str, u64)> {
        self.buffers.iter().map(|b| (b.table.name, b.total)).collect()
    }

    /// Writes what every batch holds.
    ///
    /// # Errors
    /// [`RepoError`] of the statement.
    pub fn flush(&mut self, conn: &mut DbConn) -> Result<(), RepoError> {
        self.flush_through(conn, self.buffers.len().saturating_sub(1))
    }

    fn flush_through(&mut self, conn: &mut DbConn, last: usize) -> Result<(), RepoError> {
        for i in 0..=last.min(self.buffers.len().saturating_sub(1)) {
            let Some(buffer) = self.buffers.get_mut(i) else {
                continue;
            };
            if buffer.rows == 0 {
                continue;
            }
            let overriding = if buffer.table.identity && self.backend == Backend::Postgres {
                " OVERRIDING SYSTEM VALUE"
            } else {
                ""
            };
            let sql = format!(
                "INSERT INTO {} ({}){overriding} VALUES {}",
                buffer.table.name,
                buffer.table.columns.join(", "),
                buffer.sql
            );
            buffer.sql.clear();
            buffer.rows = 0;
            if let Some(observer) = self.observer.as_mut() {
                observer(&sql);
            }
            diesel::sql_query(sql).execute(conn)?;
        }
        Ok(())
    }
}

fn write_value(out: &mut String, v: &Value<'_>, backend: Backend) {
    use std::fmt::Write;
    match v {
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Text(s) => quote(out, s),
        Value::Owned(s) => quote(out, s),
        Value::Bool(b) => out.push_str(match (backend, b) {
            (Backend::Sqlite, true) => "1",
            (Backend::Sqlite, false) => "0",
            (Backend::Postgres, true) => "TRUE",
            (Backend::Postgres, false) => "FALSE",
        }),
        // The formats diesel stores on SQLite (`%F %T%.f`, `%F`), which
        // PostgreSQL reads as timestamp and date literals.
        Value::Time(t) => {
            let _ = write!(out, "'{}'", t.format("%F %T%.f"));
        }
        Value::Date(d) => {
            let _ = write!(out, "'{}'", d.format("%F"));
        }
        Value::Null => out.push_str("NULL"),
    }
}

fn quote(out: &mut String, s: &str) {
    out.push('\'');
    for ch in s.chars() {
        if ch == '\'' {
            out.push('\'');
        }
        out.push(ch);
    }
    out.push('\'');
}

/// After rows were written with explicit ids: moves PostgreSQL's identity
/// sequences past the largest id, so that the next row the API writes gets
/// a fresh one. SQLite's AUTOINCREMENT follows explicit ids by itself.
///
/// # Errors
/// [`RepoError`] of the statement.
pub fn reset_identities(conn: &mut DbConn, tables: &[&str]) -> Result<(), RepoError> {
    if conn.backend() != Backend::Postgres {
        return Ok(());
    }
    for table in tables {
        diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// Runs one statement (the final updates of a load).
///
/// # Errors
/// [`RepoError`] of the statement.
pub fn execute(conn: &mut DbConn, sql: &str) -> Result<usize, RepoError> {
    Ok(diesel::sql_query(sql).execute(conn)?)
}

/// Whether the database holds no institution yet (the load's precondition).
///
/// # Errors
/// [`RepoError`] of the query.
pub fn is_empty(conn: &mut DbConn) -> Result<bool, RepoError> {
    Ok(crate::institutions::count(conn)? == 0)
}
