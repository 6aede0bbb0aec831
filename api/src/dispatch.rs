//! The webhook dispatcher inside the server: every round it claims the due
//! deliveries under a lease (one write transaction), sends each outside any
//! transaction, and records the attempt and its outcome (a second one).
//!
//! Delivery is at least once: a server stopped between sending and
//! recording sends the delivery again once the lease has run out, with the
//! same event id and delivery id, so a receiver deduplicates on
//! `LabShare-Event-Id`. Each request is signed:
//! `LabShare-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`
//! with `LabShare-Timestamp` in Unix seconds.
//!
//! The destination is checked again before every attempt (a name may
//! resolve elsewhere since the subscription was made) and the request goes
//! only to the address that was checked; redirects are not followed and no
//! proxy is used.

use crate::error::{ApiError, FieldProblem};
use crate::state::AppState;
use actix_web::web;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use labshare_domain::webhook::{refuse_destination, retry_after, AllowList};
use labshare_persistence::webhooks::{self as repo, Claimed, Next};
use labshare_persistence::write_tx;
use reqwest::Url;
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// How long a claimed delivery is reserved for the dispatcher that claimed it.
pub fn lease() -> chrono::Duration {
    chrono::Duration::seconds(60)
}

/// The longest a receiver may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How many deliveries one round sends at most.
const BATCH: i64 = 25;

/// How much of a receiver's answer the log keeps.
const EXCERPT_CHARS: usize = 500;

/// Why a destination is refused: the rule and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rule: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }

    /// The refusal as a 422 on a body field.
    pub fn problem(&self, pointer: &str) -> FieldProblem {
        FieldProblem::body(pointer, self.rule, self.message.clone())
    }
}

/// The longest destination URL kept.
pub const MAX_URL_CHARS: usize = 2000;

/// Parses a destination URL and checks what can be checked without the
/// network: `https` (or `http` to an allowed host), a host, no credentials.
///
/// # Errors
/// The [`Refusal`].
pub fn parse_target(text: &str, allow: &AllowList) -> Result<Url, Refusal> {
    if text.chars().count() > MAX_URL_CHARS {
        return Err(Refusal::new(
            "max_length",
            format!("at most {MAX_URL_CHARS} characters"),
        ));
    }
    let url = Url::parse(text).map_err(|e| Refusal::new("url", format!("not an absolute URL: {e}")))?;
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(Refusal::new("url", "the URL names no host"));
    };
    match url.scheme() {
        "https" => {}
        "http" if allow.allows_host(host) => {}
        "http" => {
            return Err(Refusal::new(
                "https",
                "deliveries are sent over https only (plain http only to an allowed host)",
            ))
        }
        other => return Err(Refusal::new("https", format!("`{other}` is not https"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::new(
            "no_credentials",
            "the URL must not carry a user name or password",
        ));
    }
    if url.fragment().is_some() {
        return Err(Refusal::new("url", "the URL must not have a fragment"));
    }
    Ok(url)
}

/// Resolves the URL's host and checks every address it resolves to; answers
/// the address to connect to. Blocking (DNS): call it in `web::block`.
///
/// # Errors
/// The [`Refusal`]: not resolvable, or an address that is not public and not allowed.
pub fn resolve_target(url: &Url, allow: &AllowList) -> Result<SocketAddr, Refusal> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(443);
    // A literal IPv6 host comes bracketed.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (bare, port)
            .to_socket_addrs()
            .map_err(|e| Refusal::new("resolvable", format!("`{host}` cannot be resolved: {e}")))?
            .collect(),
    };
    let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
    if let Some(why) = refuse_destination(host, &ips, allow) {
        return Err(Refusal::new(
            "public_address",
            format!("{why}; deliveries go to public addresses only, unless allowed by configuration"),
        ));
    }
    addrs
        .first()
        .copied()
        .ok_or_else(|| Refusal::new("resolvable", format!("`{host}` resolves to no address")))
}

/// Checks a destination fully (syntax, then addresses), off the async threads.
///
/// # Errors
/// [`ApiError::Validation`] naming `pointer` and the rule broken.
pub async fn check_target(text: String, allow: AllowList, pointer: &'static str) -> Result<String, ApiError> {
    let url = parse_target(&text, &allow).map_err(|r| ApiError::Validation(vec![r.problem(pointer)]))?;
    let checked = web::block(move || resolve_target(&url, &allow).map(|_| url)).await?;
    checked
        .map(|u| u.to_string())
        .map_err(|r| ApiError::Validation(vec![r.problem(pointer)]))
}

/// Lower-case hex of the HMAC-SHA256 of `message` under `secret`.
pub fn sign(secret: &str, message: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of any length; this cannot happen.
        return String::new();
    };
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The JSON body of a delivery: the same bytes for every attempt.
///
/// # Errors
/// A payload that is not JSON (a corrupt outbox row).
pub fn body_of(event: &repo::OutboxEvent) -> Result<String, ApiError> {
    let data: serde_json::Value = serde_json::from_str(&event.payload_json)
        .map_err(|e| ApiError::Internal(format!("outbox event {}: {e}", event.id)))?;
    let occurred_at = crate::dto::instant(event.occurred_at);
    Ok(serde_json::json!({
        "id": event.id,
        "type": event.event_type,
        "occurred_at": occurred_at,
        "object": {"type": event.object_type, "id": event.object_id},
        "data": data,
    })
    .to_string())
}

/// What one attempt came to.
struct Outcome {
    status_code: Option<i32>,
    error: Option<String>,
    excerpt: Option<String>,
}

fn failure(message: impl Into<String>) -> Outcome {
    Outcome {
        status_code: None,
        error: Some(message.into()),
        excerpt: None,
    }
}

async fn attempt(state: &AppState, d: &Claimed, now: DateTime<Utc>) -> Outcome {
    let allow = state.webhooks.allow.clone();
    let url = match parse_target(&d.url, &allow) {
        Ok(u) => u,
        Err(r) => return failure(format!("refused ({}): {}", r.rule, r.message)),
    };
    let (u, a) = (url.clone(), allow.clone());
    let addr = match web::block(move || resolve_target(&u, &a)).await {
        Ok(Ok(addr)) => addr,
        Ok(Err(r)) => return failure(format!("refused ({}): {}", r.rule, r.message)),
        Err(e) => return failure(format!("could not resolve: {e}")),
    };
    let body = match body_of(&d.event) {
        Ok(b) => b,
        Err(e) => return failure(e.to_string()),
    };
    let timestamp = now.timestamp().to_string();
    let signature = format!("v1={}", sign(&d.secret, &format!("{timestamp}.{body}")));
    let host = url.host_str().unwrap_or_default().to_owned();
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .resolve(&host, addr)
        .user_agent(concat!("LabShare-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => return failure(format!("client: {e}")),
    };
    let sent = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("LabShare-Event-Id", d.event.id.to_string())
        .header("LabShare-Event-Type", &d.event.event_type)
        .header("LabShare-Delivery-Id", d.delivery_id.to_string())
        .header("LabShare-Timestamp", &timestamp)
        .header("LabShare-Signature", signature)
        .body(body)
        .send()
        .await;
    let mut res = match sent {
        Ok(r) => r,
        Err(e) => return failure(describe(&e)),
    };
    let status = res.status();
    let mut bytes = Vec::new();
    let mut read_error = None;
    // Only the start of the answer is kept; a receiver cannot make us read more.
    while bytes.len() < EXCERPT_CHARS * 4 {
        match res.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                read_error = Some(describe(&e));
                break;
            }
        }
    }
    let text: String = String::from_utf8_lossy(&bytes).chars().take(EXCERPT_CHARS).collect();
    let error = if status.is_success() {
        None
    } else if status.is_redirection() {
        Some(format!("answered {status}; redirects are not followed"))
    } else {
        Some(format!("answered {status}"))
    }
    .or(read_error.filter(|_| !status.is_success()));
    Outcome {
        status_code: Some(i32::from(status.as_u16())),
        error,
        excerpt: (!text.is_empty()).then_some(text),
    }
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text.chars().take(1000).collect()
}

/// Sends one claimed delivery and records the outcome of the attempt.
async fn deliver(state: AppState, d: Claimed) -> Result<bool, ApiError> {
    let clock = std::time::Instant::now();
    let outcome = attempt(&state, &d, state.now()).await;
    let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    let delivered = outcome.status_code.is_some_and(|s| (200..300).contains(&s)) && outcome.error.is_none();
    let now = state.now();
    let next = if delivered {
        Next::Delivered
    } else {
        match retry_after(d.attempts) {
            Some(wait) => Next::RetryAt((now + wait).naive_utc()),
            None => Next::GiveUp,
        }
    };
    let logged = repo::Outcome {
        duration_ms,
        status_code: outcome.status_code,
        error: outcome.error,
        response_excerpt: outcome.excerpt,
    };
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        write_tx(&mut conn, |c| {
            Ok::<_, ApiError>(repo::finish(c, &d, &logged, next, now.naive_utc())?)
        })
    })
    .await??;
    Ok(delivered)
}

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoundReport {
    pub delivered: usize,
    pub failed_attempts: usize,
}

/// Claims the due deliveries and sends them, concurrently.
///
/// # Errors
/// Database errors while claiming; a delivery that cannot be recorded is
/// logged and sent again when its lease runs out.
pub async fn run_once(state: &AppState) -> Result<RoundReport, ApiError> {
    let now = state.now();
    let pool = state.pool.clone();
    let claimed = web::block(move || {
        let mut conn = pool.get()?;
        write_tx(&mut conn, |c| {
            Ok::<_, ApiError>(repo::claim(c, now.naive_utc(), (now + lease()).naive_utc(), BATCH)?)
        })
    })
    .await??;
    let handles: Vec<_> = claimed
        .into_iter()
        .map(|d| actix_web::rt::spawn(deliver(state.clone(), d)))
        .collect();
    let mut report = RoundReport::default();
    for h in handles {
        match h.await {
            Ok(Ok(true)) => report.delivered += 1,
            Ok(Ok(false)) => report.failed_attempts += 1,
            Ok(Err(e)) => log::warn!("webhooks: an attempt could not be recorded: {e}"),
            Err(e) => log::warn!("webhooks: a delivery task ended abnormally: {e}"),
        }
    }
    Ok(report)
}

/// Runs the dispatcher, pausing `every` between rounds, until the server stops.
pub async fn run_forever(state: AppState, every: Duration) {
    loop {
        // A pause between rounds, however long a round took.
        actix_web::rt::time::sleep(every).await;
        match run_once(&state).await {
            Ok(r) if r.delivered + r.failed_attempts > 0 => {
                log::info!(
                    "webhooks: {} delivered, {} attempts failed",
                    r.delivered,
                    r.failed_attempts
                );
            }
            Ok(_) => {}
            Err(e) => log::warn!("webhooks: dispatcher round failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn targets_must_be_https_without_credentials_unless_allowed() {
        let none = AllowList::default();
        assert!(parse_target("https://hooks.example.cn/labshare", &none).is_ok());
        assert_eq!(
            parse_target("http://hooks.example.cn/", &none).map_err(|r| r.rule),
            Err("https")
        );
        assert_eq!(
            parse_target("ftp://hooks.example.cn/", &none).map_err(|r| r.rule),
            Err("https")
        );
        assert_eq!(parse_target("not a url", &none).map_err(|r| r.rule), Err("url"));
        assert_eq!(
            parse_target("https://u:p@hooks.example.cn/", &none).map_err(|r| r.rule),
            Err("no_credentials")
        );
        let local = AllowList::parse("127.0.0.1").unwrap_or_default();
        assert!(parse_target("http://127.0.0.1:9000/hook", &local).is_ok());
    }

    #[test]
    fn literal_internal_addresses_are_refused_without_the_network() {
        let none = AllowList::default();
        for u in [
            "https://127.0.0.1/",
            "https://10.0.0.8/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://0.0.0.0/",
        ] {
            let url = parse_target(u, &none).unwrap_or_else(|r| panic!("{u}: {r:?}"));
            assert_eq!(
                resolve_target(&url, &none).map_err(|r| r.rule),
                Err("public_address"),
                "{u}"
            );
        }
    }
}
