//! Configuration from the environment (see the README).

use labshare_persistence::DbUrl;

/// The development signing secret; refused in production.
pub const DEV_JWT_SECRET: &str = "labshare-dev-secret-do-not-use-in-production";

/// Where the server runs and how.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DbUrl,
    pub bind: String,
    pub production: bool,
    pub jwt_secret: String,
    pub pool_size: u32,
    /// Browser origins allowed to call the API (`LABSHARE_CORS_ORIGINS`, comma-separated).
    pub cors_origins: Vec<String>,
    /// Non-public hosts, addresses and networks webhooks may reach
    /// (`LABSHARE_WEBHOOK_ALLOW`, comma-separated; empty: public ones only).
    pub webhook_allow: labshare_domain::webhook::AllowList,
    /// How often the dispatcher looks for due deliveries (`LABSHARE_WEBHOOK_INTERVAL_MS`, default 2000).
    pub webhook_interval: std::time::Duration,
    /// A read replica of the database the reports read from
    /// (`LABSHARE_REPORTS_DATABASE_URL`; none: the database itself).
    pub reports_database: Option<DbUrl>,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("LABSHARE_ENV must be `dev` or `production`, not `{0}`")]
    Env(String),
    #[error("LABSHARE_REPORTS_DATABASE_URL must be a replica of DATABASE_URL on the same kind of database, not `{0}`")]
    ReportsDatabase(String),
    #[error("LABSHARE_JWT_SECRET must be set in production")]
    MissingSecret,
    #[error("LABSHARE_JWT_SECRET must not be the development default in production")]
    DefaultSecret,
    #[error("LABSHARE_JWT_SECRET must have at least 32 bytes in production")]
    ShortSecret,
    #[error("LABSHARE_TIMEZONE: only Asia/Shanghai (+08:00) is supported, not `{0}`")]
    Timezone(String),
    #[error("LABSHARE_DB_POOL must be a number from 1 to 64, not `{0}`")]
    Pool(String),
    #[error("LABSHARE_CORS_ORIGINS: `{0}` is not an origin such as https://portal.example.cn")]
    CorsOrigin(String),
    #[error("LABSHARE_WEBHOOK_ALLOW: `{0}` is not a host name, an IP address or a CIDR network")]
    WebhookAllow(String),
    #[error("LABSHARE_WEBHOOK_INTERVAL_MS must be a number from 10 to 3600000, not `{0}`")]
    WebhookInterval(String),
}

impl Config {
    /// Reads the environment.
    ///
    /// # Errors
    /// [`ConfigError`] for a value that cannot be used; in production a missing,
    /// short or default JWT secret.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get` (the environment, or a map in tests).
    ///
    /// # Errors
    /// See [`Config::from_env`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let production = match get("LABSHARE_ENV").as_deref().unwrap_or("dev") {
            "dev" | "development" => false,
            "production" | "prod" => true,
            other => return Err(ConfigError::Env(other.to_owned())),
        };
        let secret = get("LABSHARE_JWT_SECRET").filter(|s| !s.is_empty());
        let jwt_secret = match (production, secret) {
            (true, None) => return Err(ConfigError::MissingSecret),
            (true, Some(s)) if s == DEV_JWT_SECRET => return Err(ConfigError::DefaultSecret),
            (true, Some(s)) if s.len() < 32 => return Err(ConfigError::ShortSecret),
            (_, Some(s)) => s,
            (false, None) => DEV_JWT_SECRET.to_owned(),
        };
        if let Some(tz) = get("LABSHARE_TIMEZONE") {
            if tz != "Asia/Shanghai" && tz != "+08:00" {
                return Err(ConfigError::Timezone(tz));
            }
        }
        let database = DbUrl::parse(&get("DATABASE_URL").unwrap_or_else(|| "labshare.db".into()));
        // SQLite answers in-process: more connections than twice the CPUs
        // only add threads that wait for a core (a read of availability at
        // scale 1 on 2 CPUs: p99 18 ms with 4, 20-21 ms with 8).
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let default_pool = match database.backend {
            labshare_persistence::Backend::Sqlite => u32::try_from(2 * cpus).unwrap_or(16).clamp(4, 16),
            labshare_persistence::Backend::Postgres => 16,
        };
        let pool_size = match get("LABSHARE_DB_POOL") {
            None => default_pool,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=64).contains(&n) => n,
                _ => return Err(ConfigError::Pool(v)),
            },
        };
        let mut cors_origins = Vec::new();
        for origin in get("LABSHARE_CORS_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
        {
            if origin.is_empty() {
                continue;
            }
            if !crate::cors::valid_origin(origin) {
                return Err(ConfigError::CorsOrigin(origin.to_owned()));
            }
            cors_origins.push(origin.to_owned());
        }
        let webhook_allow =
            labshare_domain::webhook::AllowList::parse(&get("LABSHARE_WEBHOOK_ALLOW").unwrap_or_default())
                .map_err(ConfigError::WebhookAllow)?;
        let webhook_interval = match get("LABSHARE_WEBHOOK_INTERVAL_MS") {
            None => std::time::Duration::from_secs(2),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (10..=3_600_000).contains(&n) => std::time::Duration::from_millis(n),
                _ => return Err(ConfigError::WebhookInterval(v)),
            },
        };
        let reports_database = match get("LABSHARE_REPORTS_DATABASE_URL").filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => {
                let url = DbUrl::parse(&v);
                if url.backend != database.backend {
                    return Err(ConfigError::ReportsDatabase(v));
                }
                Some(url)
            }
        };
        Ok(Self {
            webhook_allow,
            webhook_interval,
            reports_database,
            cors_origins,
            database,
            bind: get("LABSHARE_BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            production,
            jwt_secret,
            pool_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn cors_origins_are_read_as_a_list_of_exact_origins() {
        let c = config(&[(
            "LABSHARE_CORS_ORIGINS",
            "https://portal.nnwjw.gov.cn, http://localhost:5173",
        )]);
        assert_eq!(
            c.map(|c| c.cors_origins),
            Ok(vec![
                "https://portal.nnwjw.gov.cn".to_owned(),
                "http://localhost:5173".to_owned()
            ])
        );
        assert_eq!(config(&[]).map(|c| c.cors_origins.len()), Ok(0));
        assert_eq!(
            config(&[("LABSHARE_CORS_ORIGINS", "*")]).err(),
            Some(ConfigError::CorsOrigin("*".into()))
        );
    }

    #[test]
    fn the_webhook_allow_list_and_interval_are_read_and_checked() {
        let c = config(&[
            ("LABSHARE_WEBHOOK_ALLOW", "hooks.lis.local, 10.8.0.0/16"),
            ("LABSHARE_WEBHOOK_INTERVAL_MS", "500"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.webhook_allow.allows_host("hooks.lis.local"));
        assert!(c.webhook_allow.allows_host("10.8.1.2"));
        assert_eq!(c.webhook_interval, std::time::Duration::from_millis(500));
        assert!(config(&[]).is_ok_and(|c| c.webhook_allow.is_empty()));
        assert_eq!(
            config(&[("LABSHARE_WEBHOOK_ALLOW", "10.0.0.0/40")]).err(),
            Some(ConfigError::WebhookAllow("10.0.0.0/40".into()))
        );
        assert_eq!(
            config(&[("LABSHARE_WEBHOOK_INTERVAL_MS", "0")]).err(),
            Some(ConfigError::WebhookInterval("0".into()))
        );
    }

    #[test]
    fn the_reports_replica_must_be_the_same_kind_of_database() {
        let c = config(&[
            ("DATABASE_URL", "postgres://app@db-primary/labshare"),
            (
                "LABSHARE_REPORTS_DATABASE_URL",
                "postgres://reports@db-replica/labshare",
            ),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.reports_database.map(|u| u.url),
            Some("postgres://reports@db-replica/labshare".to_owned())
        );
        assert!(config(&[]).is_ok_and(|c| c.reports_database.is_none()));
        assert_eq!(
            config(&[
                ("DATABASE_URL", "postgres://app@db-primary/labshare"),
                ("LABSHARE_REPORTS_DATABASE_URL", "replica.db"),
            ])
            .err(),
            Some(ConfigError::ReportsDatabase("replica.db".into()))
        );
    }

    #[test]
    fn production_refuses_a_missing_default_or_short_secret() {
        assert_eq!(
            config(&[("LABSHARE_ENV", "production")]).err(),
            Some(ConfigError::MissingSecret)
        );
        assert_eq!(
            config(&[("LABSHARE_ENV", "production"), ("LABSHARE_JWT_SECRET", DEV_JWT_SECRET)]).err(),
            Some(ConfigError::DefaultSecret)
        );
        assert_eq!(
            config(&[("LABSHARE_ENV", "production"), ("LABSHARE_JWT_SECRET", "short")]).err(),
            Some(ConfigError::ShortSecret)
        );
        assert!(config(&[("LABSHARE_ENV", "production"), ("LABSHARE_JWT_SECRET", &"x".repeat(40))]).is_ok());
    }

    #[test]
    fn development_defaults_to_sqlite_on_localhost() {
        let c = config(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert_eq!(c.database.backend, labshare_persistence::Backend::Sqlite);
        assert_eq!(c.database.url, "labshare.db");
        assert!(!c.production);
        assert!((4..=16).contains(&c.pool_size), "{}", c.pool_size);
        let c = config(&[("LABSHARE_DB_POOL", "3")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.pool_size, 3);
    }

    #[test]
    fn postgres_is_chosen_by_the_url_scheme() {
        let c = config(&[("DATABASE_URL", "postgres://postgres@127.0.0.1/labshare")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.database.backend, labshare_persistence::Backend::Postgres);
        assert_eq!(c.pool_size, 16);
    }
}
