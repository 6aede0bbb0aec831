//! What every handler shares: the pool, the clock, the signing keys, the policy.

use crate::auth::{Bearer, Keys};
use crate::error::ApiError;
use actix_web::web;
use chrono::{DateTime, NaiveDate, Utc};
use labshare_domain::access::Actor;
use labshare_domain::policy::Policy;
use labshare_persistence::{read_tx, write_tx, DbConn, DbPool};
use std::sync::Arc;

/// The source of the current time; tests inject a fixed or moving clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The platform's local offset (Asia/Shanghai, +08:00, no daylight saving).
pub const LOCAL_OFFSET: chrono::FixedOffset = match chrono::FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("+08:00 is a valid offset"),
};

/// The local calendar date of an instant.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&LOCAL_OFFSET).date_naive()
}

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub clock: Clock,
    pub keys: Arc<Keys>,
    pub policy: Arc<Policy>,
    /// Browser origins allowed to call the API.
    pub cors_origins: Arc<Vec<String>>,
    /// Where webhooks may be sent and how often the dispatcher runs.
    pub webhooks: Arc<WebhookSettings>,
    /// A read replica the reports read from; `None`: `pool`.
    pub reports: Option<DbPool>,
}

/// The webhook dispatcher's configuration.
#[derive(Debug, Clone, Default)]
pub struct WebhookSettings {
    /// Non-public destinations allowed nevertheless (and over plain `http`).
    pub allow: labshare_domain::webhook::AllowList,
    /// How often the dispatcher runs inside the server; `None`: it does not
    /// (tests that do not need it, or a server that only answers requests).
    pub every: Option<std::time::Duration>,
}

/// What a handler's transaction knows besides the database.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub now: DateTime<Utc>,
    pub policy: Arc<Policy>,
}

impl Ctx {
    /// What every handler's transaction knows first: the actor behind
    /// `bearer` (its session checked) and the policy in force over `base`.
    ///
    /// # Errors
    /// 401 when the session has ended; a database error.
    pub fn signed_in(c: &mut DbConn, bearer: &Bearer, now: DateTime<Utc>, base: &Policy) -> Result<Self, ApiError> {
        let actor = bearer.actor(c, now)?;
        Ok(Self {
            actor,
            now,
            policy: Arc::new(crate::routes::policy::current(c, base)?),
        })
    }

    pub fn now_naive(&self) -> chrono::NaiveDateTime {
        self.now.naive_utc()
    }
    pub fn today(&self) -> NaiveDate {
        local_date(self.now)
    }
}

impl AppState {
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }

    /// Runs `f` for the signed-in actor in one write transaction.
    ///
    /// # Errors
    /// 401 when the session has ended; whatever `f` returns.
    pub async fn write<T: Send + 'static>(
        &self,
        bearer: &Bearer,
        f: impl FnOnce(&mut DbConn, &Ctx) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (bearer, now, policy) = (bearer.clone(), self.now(), self.policy.clone());
        self.run(move |conn| {
            write_tx(conn, |c| {
                let ctx = Ctx::signed_in(c, &bearer, now, &policy)?;
                f(c, &ctx)
            })
        })
        .await
    }

    /// Runs `f` for the signed-in actor in one read transaction.
    ///
    /// # Errors
    /// 401 when the session has ended; whatever `f` returns.
    pub async fn read<T: Send + 'static>(
        &self,
        bearer: &Bearer,
        f: impl FnOnce(&mut DbConn, &Ctx) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (bearer, now, policy) = (bearer.clone(), self.now(), self.policy.clone());
        self.run(move |conn| {
            read_tx(conn, |c| {
                let ctx = Ctx::signed_in(c, &bearer, now, &policy)?;
                f(c, &ctx)
            })
        })
        .await
    }

    /// Runs a report's `f` for the signed-in actor in one read transaction
    /// on the reports' replica when there is one, else as [`AppState::read`].
    /// The session is checked on the database itself (a sign-out or a
    /// revocation counts at once), the report reads the replica.
    ///
    /// # Errors
    /// 401 when the session has ended; whatever `f` returns.
    pub async fn report<T: Send + 'static>(
        &self,
        bearer: &Bearer,
        f: impl FnOnce(&mut DbConn, &Ctx) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let Some(replica) = self.reports.clone() else {
            return self.read(bearer, f).await;
        };
        let ctx = self.read(bearer, |_, ctx| Ok(ctx.clone())).await?;
        web::block(move || {
            let mut conn = replica.get()?;
            read_tx(&mut conn, |c| f(c, &ctx))
        })
        .await?
    }

    /// Runs `f` without a signed-in actor (sign-in itself) in a read transaction.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub async fn read_anonymous<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run(move |conn| read_tx(conn, f)).await
    }

    /// Runs `f` without a signed-in actor (sign-in itself) in a write transaction.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub async fn write_anonymous<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConn, DateTime<Utc>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let now = self.now();
        self.run(move |conn| write_tx(conn, |c| f(c, now))).await
    }
}
