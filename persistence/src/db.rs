//! Connections, the pool, migrations and transactions for both backends.

use crate::RepoError;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// Changes whenever a migration file changes.
pub const SCHEMA_FINGERPRINT: &str = env!("LABSHARE_SCHEMA_FINGERPRINT");

/// One connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database location: `postgres://…` or a SQLite file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUrl {
    pub backend: Backend,
    pub url: String,
}

impl DbUrl {
    /// Chooses the backend by the URL scheme; anything else is a SQLite path.
    pub fn parse(url: &str) -> Self {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let url = url.strip_prefix("sqlite://").unwrap_or(url).to_owned();
        Self { backend, url }
    }

    /// Opens one connection with the real error of the backend it names.
    ///
    /// # Errors
    /// The backend's connection error.
    pub fn establish(&self) -> Result<DbConn, diesel::ConnectionError> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url).map(DbConn::Postgresql),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url)?;
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// r2d2 manager that picks the backend by URL and sets SQLite's pragmas.
#[derive(Debug, Clone)]
pub struct Manager(DbUrl);

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        self.0.establish().map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        <DbConn as TransactionManager<DbConn>>::is_broken_transaction_manager(conn)
    }
}

pub type DbPool = r2d2::Pool<Manager>;

/// Builds a pool of `size` connections and checks that one can be opened.
///
/// # Errors
/// [`RepoError::Pool`] when no connection can be opened.
pub fn connect_pool(url: &DbUrl, size: u32) -> Result<DbPool, RepoError> {
    Ok(r2d2::Pool::builder()
        .max_size(size)
        .connection_timeout(std::time::Duration::from_secs(10))
        .build(Manager(url.clone()))?)
}

/// Applies pending migrations of the connection's backend; returns how many ran.
///
/// # Errors
/// [`RepoError::Migration`] with the cause.
///
/// Several servers starting at once on one PostgreSQL database take turns:
/// each holds an advisory lock while it migrates, and those after the first
/// find nothing left to do.
pub fn migrate(conn: &mut DbConn) -> Result<usize, RepoError> {
    use diesel::RunQueryDsl;
    /// "LabShare" in ASCII: the advisory lock key of migrations.
    const MIGRATION_LOCK: i64 = 0x4C61_6253_6861_7265;
    let done = match conn {
        DbConn::Postgresql(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(c)?;
            let done = c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len());
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(c)?;
            done
        }
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    let done = done.map_err(|e| RepoError::Migration(e.to_string()))?;
    write_tx(conn, crate::audit::seal_unchained)?;
    Ok(done)
}

/// Runs `f` in a write transaction. On SQLite it begins `IMMEDIATE`, taking
/// the write lock up front so that concurrent writers queue on
/// `busy_timeout` instead of failing with "database is locked" when a read
/// turns into a write; on PostgreSQL it is an ordinary transaction.
///
/// # Errors
/// Whatever `f` returns, or the database error of begin/commit.
pub fn write_tx<T, E>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<RepoError>,
{
    match conn {
        DbConn::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
                .map_err(|e| E::from(RepoError::from(e)))?;
        }
        DbConn::Postgresql(_) => {
            <DbConn as TransactionManager<DbConn>>::begin_transaction(conn).map_err(|e| E::from(RepoError::from(e)))?;
            // Every change is audited, and the audit chain has one head: a
            // writer takes it first, before any other row, so that no two
            // writers ever wait on each other in opposite orders.
            if let Err(e) = crate::audit::queue_writer(conn) {
                let _ = <DbConn as TransactionManager<DbConn>>::rollback_transaction(conn);
                return Err(E::from(e));
            }
        }
    }
    finish(conn, f)
}

/// Inside [`write_tx`]: commits what the transaction wrote so far and opens
/// the next write transaction, which the closure goes on in. For long loads
/// that need not be one unit: a failure later rolls back only the work since
/// the last call.
///
/// # Errors
/// The database error of the commit or of the new begin.
pub fn commit_and_continue(conn: &mut DbConn) -> Result<(), RepoError> {
    <DbConn as TransactionManager<DbConn>>::commit_transaction(conn)?;
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Postgresql(_) => {
            <DbConn as TransactionManager<DbConn>>::begin_transaction(conn)?;
            crate::audit::queue_writer(conn)?;
        }
    }
    Ok(())
}

/// Runs `f` in a read transaction, for a consistent view across queries.
///
/// # Errors
/// Whatever `f` returns, or the database error of begin/commit.
pub fn read_tx<T, E>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<RepoError>,
{
    <DbConn as TransactionManager<DbConn>>::begin_transaction(conn).map_err(|e| E::from(RepoError::from(e)))?;
    finish(conn, f)
}

fn finish<T, E>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<RepoError>,
{
    match f(conn) {
        Ok(value) => match <DbConn as TransactionManager<DbConn>>::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = <DbConn as TransactionManager<DbConn>>::rollback_transaction(conn);
                Err(E::from(RepoError::from(e)))
            }
        },
        Err(e) => {
            if let Err(rollback) = <DbConn as TransactionManager<DbConn>>::rollback_transaction(conn) {
                log::error!("rollback failed: {rollback}");
            }
            Err(e)
        }
    }
}

/// Tables whose rows a read-modify-write locks first.
#[derive(Debug, Clone, Copy)]
pub enum Lockable {
    Institutions,
    Labs,
    Instruments,
    Users,
    SubsidyProgrammes,
    SubsidyGrants,
    Statements,
    Charges,
    Assessments,
    Webhooks,
}

/// Locks a row for the rest of the transaction, so that a concurrent
/// read-modify-write of the same row waits instead of losing an update. On
/// SQLite the immediate write transaction already serialises writers.
///
/// # Errors
/// Database errors; [`RepoError::NotFound`] is left to the following read.
pub fn lock_row(conn: &mut DbConn, table: Lockable, id: i64) -> Result<(), RepoError> {
    use diesel::RunQueryDsl;
    if let DbConn::Postgresql(_) = conn {
        let table = match table {
            Lockable::Institutions => "institutions",
            Lockable::Labs => "labs",
            Lockable::Instruments => "instruments",
            Lockable::Users => "users",
            Lockable::SubsidyProgrammes => "subsidy_programmes",
            Lockable::SubsidyGrants => "subsidy_grants",
            Lockable::Statements => "statements",
            Lockable::Charges => "charges",
            Lockable::Assessments => "assessments",
            Lockable::Webhooks => "webhooks",
        };
        diesel::sql_query(format!("SELECT id FROM {table} WHERE id = $1 FOR NO KEY UPDATE"))
            .bind::<diesel::sql_types::BigInt, _>(id)
            .execute(conn)?;
    }
    Ok(())
}

/// Checks that the database answers.
///
/// # Errors
/// The database error.
pub fn ping(conn: &mut DbConn) -> Result<(), RepoError> {
    conn.batch_execute("SELECT 1").map_err(RepoError::from)
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Postgresql(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }
}
