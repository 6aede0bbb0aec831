//! `labshare`: the server and its administration commands.
//!
//! ```text
//! labshare serve                   migrate, then serve HTTP
//! labshare migrate                 apply pending migrations
//! labshare seed-demo               load the demo dataset into an empty database
//! labshare seed --scale N [--seed S] [--year Y]
//!                                  load the deterministic scale dataset into an empty database
//! labshare openapi                 print the OpenAPI document (YAML)
//! labshare admin create --username U   create a platform administrator; password on stdin
//! ```

use labshare_api::auth::{hash_password, Keys};
use labshare_api::config::Config;
use labshare_api::scale::{ScaleOptions, ScaleOutcome, DEFAULT_SEED, DEFAULT_YEAR};
use labshare_api::seed::{seed_demo, SeedOutcome, DEMO_PASSWORD};
use labshare_api::state::AppState;
use labshare_domain::access::Role;
use labshare_domain::catalogue::{InstitutionData, InstitutionKind, Membership};
use labshare_domain::codes::CreditCode;
use labshare_domain::policy::Policy;
use labshare_domain::users::{check_new_account, UserProfile};
use labshare_persistence::audit::{record, NewEvent};
use labshare_persistence::{connect_pool, institutions, migrate, users, write_tx, DbPool};
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "usage: labshare <serve | migrate | seed-demo | seed --scale N [--seed S] [--year YYYY] | openapi | admin create --username NAME>";

fn main() -> ExitCode {
    labshare_api::request_log::init_json_logger();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        [] | ["serve"] => serve(),
        ["migrate"] => with_pool(|_| Ok(())).map(|_| ()),
        ["seed-demo"] => with_pool(seed),
        ["seed", rest @ ..] => scale_options(rest).and_then(|o| with_pool(|pool| seed_scale(pool, o))),
        ["openapi"] => openapi(),
        ["admin", "create", "--username", name] => with_pool(|pool| create_admin(pool, name)),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("labshare: {e}");
            ExitCode::FAILURE
        }
    }
}

fn config() -> Result<Config, String> {
    Config::from_env().map_err(|e| e.to_string())
}

/// Opens the pool and applies pending migrations.
fn open(config: &Config) -> Result<DbPool, String> {
    let pool = connect_pool(&config.database, config.pool_size)
        .map_err(|e| format!("database {}: {e}", config.database.url))?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let n = migrate(&mut conn).map_err(|e| e.to_string())?;
    if n > 0 {
        log::info!("applied {n} migration(s)");
    }
    Ok(pool)
}

fn with_pool(f: impl FnOnce(&DbPool) -> Result<(), String>) -> Result<(), String> {
    let config = config()?;
    let pool = open(&config)?;
    f(&pool)
}

fn seed(pool: &DbPool) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    match seed_demo(&mut conn, chrono::Utc::now().naive_utc()).map_err(|e| e.to_string())? {
        SeedOutcome::AlreadyLoaded => {
            println!("The database already holds data; the demo dataset was not loaded again.")
        }
        SeedOutcome::Loaded { accounts } => {
            println!("Demo dataset loaded. Accounts (password for all: {DEMO_PASSWORD}):");
            for a in accounts {
                println!("  {:<12} {:<20} {}", a.username, a.role.to_string(), a.institution);
            }
        }
    }
    Ok(())
}

fn scale_options(args: &[&str]) -> Result<ScaleOptions, String> {
    let mut options = ScaleOptions {
        scale: 0.0,
        seed: DEFAULT_SEED,
        year: DEFAULT_YEAR,
    };
    let mut rest = args;
    while let [flag, value, tail @ ..] = rest {
        match *flag {
            "--scale" => {
                options.scale = value
                    .parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0 && *s <= 1000.0)
                    .ok_or_else(|| format!("--scale must be a number above 0 and at most 1000, not {value}"))?;
            }
            "--seed" => {
                options.seed = value
                    .parse()
                    .map_err(|_| format!("--seed must be a whole number, not {value}"))?;
            }
            "--year" => {
                options.year = value
                    .parse()
                    .ok()
                    .filter(|y| (2000..=2100).contains(y))
                    .ok_or_else(|| format!("--year must be a year between 2000 and 2100, not {value}"))?;
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
        rest = tail;
    }
    if !rest.is_empty() || options.scale == 0.0 {
        return Err(USAGE.to_owned());
    }
    Ok(options)
}

fn seed_scale(pool: &DbPool, options: ScaleOptions) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    match labshare_api::scale::seed_scale(&mut conn, options).map_err(|e| e.to_string())? {
        ScaleOutcome::NotEmpty => {
            Err("the database already holds data; the scale dataset loads only into an empty database".into())
        }
        ScaleOutcome::Loaded(report) => {
            println!(
                "Scale dataset loaded: scale {}, seed {}, year {} (password for all accounts: {DEMO_PASSWORD}).",
                options.scale, options.seed, options.year
            );
            for (table, rows) in &report.tables {
                println!("  {table:<26} {rows:>10}");
            }
            println!(
                "  instruments' original value: {} CNY",
                labshare_domain::money::format_fen(report.instruments_value_fen)
            );
            println!("  digest: {}", report.digest);
            println!("  took {:.1} s", started.elapsed().as_secs_f64());
            Ok(())
        }
    }
}

fn openapi() -> Result<(), String> {
    let yaml = labshare_api::openapi::document().to_yaml().map_err(|e| e.to_string())?;
    print!("{yaml}");
    Ok(())
}

fn create_admin(pool: &DbPool, username: &str) -> Result<(), String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|e| format!("reading the password from stdin: {e}"))?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    let profile = UserProfile {
        display_name: username.to_owned(),
        email: None,
        phone: None,
    };
    check_new_account(username, &password, &profile).map_err(|e| e.to_string())?;
    let hash = hash_password(&password).map_err(|e| e.to_string())?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let now = chrono::Utc::now().naive_utc();
    write_tx(&mut conn, |c| -> Result<(), labshare_persistence::RepoError> {
        let commission = match institutions::first_of_kind(c, InstitutionKind::Commission)? {
            Some(i) => i.value.id,
            None => {
                let code = CreditCode::with_check_digit("11450100MB1953104")
                    .map_err(|e| labshare_persistence::RepoError::Corrupt(e.to_string()))?;
                let data = InstitutionData {
                    name: "南宁市卫生健康委员会".into(),
                    credit_code: code,
                    kind: InstitutionKind::Commission,
                    membership: Membership::Member,
                    has_mature_lab: false,
                };
                institutions::insert(c, &data, now)?.value.id
            }
        };
        let user = users::insert(c, commission, username, &hash, &profile, &[Role::PlatformAdmin], now)?;
        let event = NewEvent {
            actor: None,
            action: "user.create",
            object_type: "user",
            object_id: user.value.id.0,
            before: None,
            after: Some(
                serde_json::json!({"username": username, "roles": ["platform_admin"], "via": "labshare admin create"}),
            ),
        };
        record(c, &event, now)
    })
    .map_err(|e| match e {
        labshare_persistence::RepoError::Conflict { .. } => format!("the username {username} is taken"),
        other => other.to_string(),
    })?;
    println!("Platform administrator {username} created.");
    Ok(())
}

fn serve() -> Result<(), String> {
    let config = config()?;
    let pool = open(&config)?;
    // A replica is read-only: it gets its schema from the database it copies.
    let reports = match &config.reports_database {
        None => None,
        Some(url) => Some(
            connect_pool(url, config.pool_size)
                .map_err(|e| format!("LABSHARE_REPORTS_DATABASE_URL {}: {e}", url.url))?,
        ),
    };
    let listener = std::net::TcpListener::bind(&config.bind).map_err(|e| format!("binding {}: {e}", config.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let state = AppState {
        pool,
        clock: Arc::new(chrono::Utc::now),
        keys: Arc::new(Keys::new(&config.jwt_secret)),
        policy: Arc::new(Policy::default()),
        cors_origins: Arc::new(config.cors_origins.clone()),
        webhooks: Arc::new(labshare_api::state::WebhookSettings {
            allow: config.webhook_allow.clone(),
            every: Some(config.webhook_interval),
        }),
        reports,
    };
    println!("LabShare listening on http://{addr}");
    println!("  Swagger UI:   http://{addr}/docs/");
    println!("  OpenAPI spec: http://{addr}/api/openapi.json");
    actix_web::rt::System::new()
        .block_on(async move { labshare_api::serve(state, listener, Some(std::time::Duration::from_secs(60)))?.await })
        .map_err(|e| e.to_string())
}
