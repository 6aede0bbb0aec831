//! Every request gets an id (the client's `X-Request-Id` when it is a sane
//! token, else a fresh one), answered in `X-Request-Id` and written with the
//! access log line; logs are one JSON object per line.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use std::io::Write as _;
use std::time::Instant;

/// The header carrying a request's id.
pub const REQUEST_ID: &str = "x-request-id";

/// The id of a request, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A client's id is kept when it is 1 to 64 letters, digits, `-`, `_` or `.`.
fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn fresh() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return format!("{:032x}", std::process::id());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Tags the request with its id, answers the id, and logs the request as
/// one JSON line (the path of a personal calendar feed without its secret).
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn tag(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(fresh, str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let peer = req.peer_addr().map(|a| a.ip().to_string());
    let mut res = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static(REQUEST_ID), value);
    }
    if target != "/healthz" {
        log::info!(
            target: "access",
            "{}",
            serde_json::json!({
                "request_id": id,
                "method": method,
                "target": crate::routes::calendar::redact_feed_token(&target),
                "status": res.status().as_u16(),
                "duration_ms": (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
                "peer": peer,
            })
        );
    }
    Ok(res)
}

/// Installs the process's logger: one JSON object per line on standard
/// error (time, level, target, message), filtered by `RUST_LOG` (default `info`).
pub fn init_json_logger() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|buf, record| {
            let message = record.args().to_string();
            // An access line is already JSON: nest it rather than quote it.
            let fields = serde_json::from_str::<serde_json::Value>(&message)
                .ok()
                .filter(|v| v.is_object() && record.target() == "access");
            let line = match fields {
                Some(mut v) => {
                    if let Some(o) = v.as_object_mut() {
                        o.insert("ts".into(), chrono::Utc::now().to_rfc3339().into());
                        o.insert("level".into(), record.level().as_str().into());
                        o.insert("target".into(), "access".into());
                    }
                    v
                }
                None => serde_json::json!({
                    "ts": chrono::Utc::now().to_rfc3339(),
                    "level": record.level().as_str(),
                    "target": record.target(),
                    "message": message,
                }),
            };
            writeln!(buf, "{line}")
        })
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_request_id_is_kept_only_when_it_is_a_sane_token() {
        assert!(acceptable("3f2a-HIS.42_x"));
        assert!(!acceptable(""));
        assert!(!acceptable("has space"));
        assert!(!acceptable("line\nbreak"));
        assert!(!acceptable(&"x".repeat(65)));
        assert_eq!(fresh().len(), 32);
        assert_ne!(fresh(), fresh());
    }
}
