//! Test harness: spawns the real LabShare server on a random port over a
//! fresh database (a SQLite temp file, or a PostgreSQL database cloned from
//! a migrated template) and talks HTTP to it, as an integrator would.

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::Connection;
use labshare_api::auth::Keys;
use labshare_api::state::AppState;
use labshare_domain::policy::Policy;
use labshare_persistence::{connect_pool, migrate, DbPool, DbUrl, SCHEMA_FINGERPRINT};
use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub use labshare_api::seed::DEMO_PASSWORD;

/// Runs each test once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($(fn $name:ident($app:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(#[test] fn $name() { let $app = $crate::TestApp::sqlite(); $body })*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(#[test] fn $name() { let Some($app) = $crate::TestApp::postgres() else { return }; $body })*
        }
    };
}

/// The base URL of the PostgreSQL server used by tests.
fn pg_admin_url() -> String {
    std::env::var("LABSHARE_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn pg_url_for(db: &str) -> String {
    let admin = pg_admin_url();
    match admin.rfind('/') {
        Some(i) if i > "postgres://".len() => format!("{}/{db}", &admin[..i]),
        _ => format!("{admin}/{db}"),
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether PostgreSQL is reachable; without CI an unreachable server skips
/// the PostgreSQL half loudly, with CI it fails.
fn pg_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| match PgConnection::establish(&pg_admin_url()) {
        Ok(_) => true,
        Err(e) if in_ci() => panic!("CI is set but PostgreSQL at {} is unreachable: {e}", pg_admin_url()),
        Err(e) => {
            eprintln!(
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !!  PostgreSQL at {} is unreachable ({e}).\n\
                 !!  SKIPPING the PostgreSQL half of the suite. Set CI=true to fail instead.\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
                pg_admin_url()
            );
            false
        }
    })
}

/// Creates (once per schema version) a migrated template database.
fn pg_template() -> String {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let name = format!("labshare_tpl_{SCHEMA_FINGERPRINT}");
            let mut admin = PgConnection::establish(&pg_admin_url()).unwrap_or_else(|e| panic!("postgres: {e}"));
            // Serialise template creation across concurrently running test binaries.
            admin
                .batch_execute("SELECT pg_advisory_lock(727100)")
                .unwrap_or_else(|e| panic!("lock: {e}"));
            let exists: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
            ))
            .get_result(&mut admin)
            .unwrap_or_else(|e| panic!("pg_database: {e}"));
            if exists == 0 {
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap_or_else(|e| panic!("create template: {e}"));
                let mut conn = DbUrl::parse(&pg_url_for(&name))
                    .establish()
                    .unwrap_or_else(|e| panic!("template: {e}"));
                migrate(&mut conn).unwrap_or_else(|e| panic!("migrate template: {e}"));
            }
            admin
                .batch_execute("SELECT pg_advisory_unlock(727100)")
                .unwrap_or_else(|e| panic!("unlock: {e}"));
            name
        })
        .clone()
}

use diesel::RunQueryDsl;

enum Db {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(String),
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Postgres(name) = self {
            if let Ok(mut admin) = PgConnection::establish(&pg_admin_url()) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A database name no other test of any run uses at the same time.
fn new_database_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        Utc::now().timestamp_subsec_nanos()
    )
}

/// An empty PostgreSQL database, not even migrated, dropped with this.
pub struct EmptyPostgres {
    pub url: DbUrl,
    _db: Db,
}

impl EmptyPostgres {
    /// `None` when PostgreSQL is unreachable outside CI.
    pub fn create() -> Option<Self> {
        if !pg_available() {
            return None;
        }
        let name = new_database_name("labshare_e");
        let mut admin = PgConnection::establish(&pg_admin_url()).unwrap_or_else(|e| panic!("postgres: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("create database: {e}"));
        Some(Self {
            url: DbUrl::parse(&pg_url_for(&name)),
            _db: Db::Postgres(name),
        })
    }
}

/// A running server on a fresh database.
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub pool: DbPool,
    pub url: DbUrl,
    clock: Arc<Mutex<DateTime<Utc>>>,
    state: AppState,
    handle: Option<actix_web::dev::ServerHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
    _db: Db,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// The header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The `type` of a problem answer.
    pub fn problem_type(&self) -> &str {
        self.body["type"].as_str().unwrap_or("")
    }
    /// Asserts a status, printing the answer otherwise.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        self
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The browser origin every test server allows (CORS).
pub const TEST_ORIGIN: &str = "https://portal.test.nnwjw.cn";

impl TestApp {
    /// A server on a fresh SQLite file.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("labshare-test.db");
        let url = DbUrl::parse(&path.to_string_lossy());
        Self::start(url, Db::Sqlite(dir))
    }

    /// A server on a fresh PostgreSQL database, or `None` when PostgreSQL
    /// is unreachable outside CI.
    pub fn postgres() -> Option<Self> {
        if !pg_available() {
            return None;
        }
        let template = pg_template();
        let name = new_database_name("labshare_t");
        let mut admin = PgConnection::establish(&pg_admin_url()).unwrap_or_else(|e| panic!("postgres: {e}"));
        let mut tries = 0;
        loop {
            match admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}")) {
                Ok(()) => break,
                // Another test may be cloning the template this very moment.
                Err(e) if tries < 20 => {
                    tries += 1;
                    eprintln!("retrying CREATE DATABASE: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(100 * tries));
                }
                Err(e) => panic!("create test database: {e}"),
            }
        }
        Some(Self::start(DbUrl::parse(&pg_url_for(&name)), Db::Postgres(name)))
    }

    fn start(url: DbUrl, db: Db) -> Self {
        let pool = connect_pool(&url, 8).unwrap_or_else(|e| panic!("pool: {e}"));
        {
            let mut conn = pool.get().unwrap_or_else(|e| panic!("connection: {e}"));
            migrate(&mut conn).unwrap_or_else(|e| panic!("migrate: {e}"));
        }
        let clock = Arc::new(Mutex::new(Utc::now()));
        let clock_for_app = clock.clone();
        let app_state = AppState {
            pool: pool.clone(),
            clock: Arc::new(move || *clock_for_app.lock().unwrap_or_else(|p| p.into_inner())),
            keys: Arc::new(Keys::new("test-secret-test-secret-test-secret")),
            policy: Arc::new(Policy::default()),
            cors_origins: Arc::new(vec![TEST_ORIGIN.to_owned()]),
            webhooks: Arc::new(labshare_api::state::WebhookSettings::default()),
            reports: None,
        };
        let state = app_state.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}")).port();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let server = labshare_api::serve(state, listener, None).unwrap_or_else(|e| panic!("serve: {e}"));
                let _ = tx.send(server.handle());
                let _ = server.await;
            });
        });
        let handle = rx.recv().unwrap_or_else(|e| panic!("server did not start: {e}"));
        let client = Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        Self {
            base: format!("http://127.0.0.1:{port}"),
            client,
            pool,
            url,
            clock,
            state: app_state,
            handle: Some(handle),
            thread: Some(thread),
            _db: db,
        }
    }

    /// The server's current time.
    pub fn now(&self) -> DateTime<Utc> {
        *self.clock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the booking sweep once at the server's current time.
    pub fn sweep(&self) -> labshare_api::sweep::SweepReport {
        labshare_api::sweep::run_once(&self.state, self.now()).unwrap_or_else(|e| panic!("sweep: {e}"))
    }

    /// Moves the server's clock.
    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.clock.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }

    /// Loads the demo dataset (five units with labs, one account per role)
    /// without prices, so that each test sets up the fees it checks.
    pub fn seed_demo(&self) {
        let mut conn = self.pool.get().unwrap_or_else(|e| panic!("connection: {e}"));
        labshare_api::seed::seed_demo_without_prices(&mut conn, Utc::now().naive_utc())
            .unwrap_or_else(|e| panic!("seed: {e}"));
    }

    /// Loads the demo dataset as `make run` does, fee standards and subsidy programme included.
    pub fn seed_full_demo(&self) {
        let mut conn = self.pool.get().unwrap_or_else(|e| panic!("connection: {e}"));
        labshare_api::seed::seed_demo(&mut conn, Utc::now().naive_utc()).unwrap_or_else(|e| panic!("seed: {e}"));
    }

    /// Loads the scale dataset (`labshare seed --scale`) at a small scale.
    pub fn seed_scale(&self, scale: f64, seed: u64) -> labshare_api::scale::ScaleReport {
        let mut conn = self.pool.get().unwrap_or_else(|e| panic!("connection: {e}"));
        let options = labshare_api::scale::ScaleOptions {
            scale,
            seed,
            year: labshare_api::scale::DEFAULT_YEAR,
        };
        match labshare_api::scale::seed_scale(&mut conn, options).unwrap_or_else(|e| panic!("seed: {e}")) {
            labshare_api::scale::ScaleOutcome::Loaded(report) => report,
            labshare_api::scale::ScaleOutcome::NotEmpty => panic!("the database was not empty"),
        }
    }

    /// A fresh server on the same backend as this one.
    pub fn sibling(&self) -> Self {
        match self.url.backend {
            labshare_persistence::Backend::Sqlite => Self::sqlite(),
            labshare_persistence::Backend::Postgres => {
                Self::postgres().unwrap_or_else(|| panic!("PostgreSQL went away"))
            }
        }
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Self::read(req.send().unwrap_or_else(|e| panic!("{path}: {e}")))
    }

    /// Sends a request with extra headers (conditional requests).
    pub fn send_with(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Self::read(req.send().unwrap_or_else(|e| panic!("{path}: {e}")))
    }

    /// Sends raw bytes with a content type.
    pub fn raw(&self, method: Method, path: &str, token: Option<&str>, content_type: &str, body: Vec<u8>) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Self::read(req.send().unwrap_or_else(|e| panic!("{path}: {e}")))
    }

    fn read(res: reqwest::blocking::Response) -> Resp {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        // Decoded by hand so that a byte-order mark stays visible to the test.
        let bytes = res.bytes().map(|b| b.to_vec()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn get(&self, path: &str, token: &str) -> Resp {
        self.request(Method::GET, path, Some(token), None)
    }
    pub fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.request(Method::POST, path, Some(token), Some(body))
    }
    pub fn patch(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.request(Method::PATCH, path, Some(token), Some(body))
    }
    pub fn put(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.request(Method::PUT, path, Some(token), Some(body))
    }

    /// Signs in and returns the whole token answer.
    pub fn sign_in(&self, username: &str, password: &str) -> Resp {
        let body = serde_json::json!({"grant_type": "password", "username": username, "password": password});
        self.request(Method::POST, "/api/v1/auth/token", None, Some(&body))
    }

    /// Signs in with the demo password and returns the access token.
    pub fn login(&self, username: &str) -> String {
        let r = self.sign_in(username, DEMO_PASSWORD).expect(200);
        r.body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {}", r.text))
            .to_owned()
    }

    /// Signs in with a password and returns the access token.
    pub fn login_with(&self, username: &str, password: &str) -> String {
        let r = self.sign_in(username, password).expect(200);
        r.body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {}", r.text))
            .to_owned()
    }

    /// Counts the rows of a table directly in the database.
    pub fn count(&self, table: &str) -> i64 {
        let mut conn = self.pool.get().unwrap_or_else(|e| panic!("connection: {e}"));
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows: Vec<N> = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .load(&mut *conn)
            .unwrap_or_else(|e| panic!("count {table}: {e}"));
        rows.first().map(|r| r.n).unwrap_or(0)
    }

    /// The text column `s` of every row a query returns, read directly from the database.
    pub fn strings(&self, sql: &str) -> Vec<String> {
        let mut conn = self.pool.get().unwrap_or_else(|e| panic!("connection: {e}"));
        #[derive(diesel::QueryableByName)]
        struct S {
            #[diesel(sql_type = diesel::sql_types::Text)]
            s: String,
        }
        let rows: Vec<S> = diesel::sql_query(sql)
            .load(&mut *conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter().map(|r| r.s).collect()
    }

    /// The query plan SQLite makes for `sql` (the `detail` of each step).
    pub fn sqlite_plan(&self, sql: &str) -> String {
        #[derive(diesel::QueryableByName)]
        struct Step {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let mut conn = self.pool.get().unwrap_or_else(|e| panic!("connection: {e}"));
        let steps: Vec<Step> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load(&mut *conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        steps.into_iter().map(|s| s.detail).collect::<Vec<_>>().join("; ")
    }

    /// Runs a statement directly in the database (to set up a state the API forbids).
    pub fn execute(&self, sql: &str) {
        let mut conn = self.pool.get().unwrap_or_else(|e| panic!("connection: {e}"));
        diesel::sql_query(sql)
            .execute(&mut *conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs a statement directly in the database and tells whether the database accepted it.
    ///
    /// # Errors
    /// The database's refusal, as text.
    pub fn try_execute(&self, sql: &str) -> Result<usize, String> {
        let mut conn = self.pool.get().unwrap_or_else(|e| panic!("connection: {e}"));
        diesel::sql_query(sql).execute(&mut *conn).map_err(|e| e.to_string())
    }

    /// The id of the demo institution with this name.
    pub fn institution_id(&self, token: &str, name: &str) -> i64 {
        let r = self
            .get(&format!("/api/v1/institutions?q={}&limit=200", urlencode(name)), token)
            .expect(200);
        r.body["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["name"] == name))
            .and_then(|i| i["id"].as_i64())
            .unwrap_or_else(|| panic!("no institution {name}"))
    }

    /// Asks for a service account's token (`client_credentials`) with the credentials in the body.
    pub fn client_credentials(&self, client_id: &str, secret: &str, scope: Option<&str>) -> Resp {
        let mut body =
            serde_json::json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret});
        if let Some(s) = scope {
            body["scope"] = Value::from(s);
        }
        self.request(Method::POST, "/api/v1/auth/token", None, Some(&body))
    }

    /// A service account's access token, with all the scopes it holds.
    pub fn client_token(&self, client_id: &str, secret: &str) -> String {
        let r = self.client_credentials(client_id, secret, None).expect(200);
        r.body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {}", r.text))
            .to_owned()
    }

    /// Restarts the server with webhooks allowed to reach `allow` (as
    /// `LABSHARE_WEBHOOK_ALLOW`) and the dispatcher running every `every`
    /// (`None`: not at all; call [`TestApp::dispatch`]).
    pub fn with_webhooks(&mut self, allow: &str, every: Option<std::time::Duration>) {
        let allow = labshare_domain::webhook::AllowList::parse(allow).unwrap_or_else(|e| panic!("allow list: {e}"));
        self.state.webhooks = Arc::new(labshare_api::state::WebhookSettings { allow, every });
        self.restart();
    }

    /// Restarts the server with its reports reading `replica`'s database.
    pub fn with_reports_from(&mut self, replica: &TestApp) {
        self.state.reports = Some(replica.pool.clone());
        self.restart();
    }

    /// Stops the server abruptly (in-flight work is dropped, as in a crash)
    /// and starts a new one on the same database, clock and settings, on a
    /// new port. Tokens stay valid.
    pub fn restart(&mut self) {
        if let Some(h) = self.handle.take() {
            futures_executor_block(h.stop(false));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let state = self.state.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}")).port();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let server = labshare_api::serve(state, listener, None).unwrap_or_else(|e| panic!("serve: {e}"));
                let _ = tx.send(server.handle());
                let _ = server.await;
            });
        });
        self.handle = Some(rx.recv().unwrap_or_else(|e| panic!("server did not restart: {e}")));
        self.thread = Some(thread);
        self.base = format!("http://127.0.0.1:{port}");
    }

    /// Runs one round of the webhook dispatcher at the server's current time.
    pub fn dispatch(&self) -> labshare_api::dispatch::RoundReport {
        futures_executor_block(labshare_api::dispatch::run_once(&self.state))
            .unwrap_or_else(|e| panic!("dispatch: {e}"))
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            futures_executor_block(h.stop(false));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits for a future on a throw-away runtime (the server runs on its own thread).
fn futures_executor_block<F: std::future::Future>(f: F) -> F::Output {
    actix_web::rt::System::new().block_on(f)
}
