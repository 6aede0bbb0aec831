//! CORS for the front-end teams: browsers on the configured origins
//! (`LABSHARE_CORS_ORIGINS`, exact `scheme://host[:port]` values) may call
//! the API; any other origin gets no CORS headers, and its preflight is refused.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

/// Methods a browser may use.
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// Request headers a browser may send.
const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Accept, Accept-Language, If-Match, If-None-Match, Idempotency-Key, X-Request-Id";
/// Response headers a browser's script may read.
const EXPOSE_HEADERS: &str = "ETag, Location, Retry-After, X-Request-Id, Idempotent-Replayed";

/// Whether an origin is well formed: `http` or `https`, a host, an optional
/// port, nothing else.
pub fn valid_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty() && !r.ends_with(':') && r.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    })
}

/// Answers preflights and labels answers to allowed origins.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn apply(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allowed = match (&origin, req.app_data::<web::Data<AppState>>()) {
        (Some(o), Some(state)) => state.cors_origins.iter().any(|a| a == o),
        _ => false,
    };
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight && origin.is_some() {
        let lang = crate::i18n::preferred(req.headers());
        let (http, _) = req.into_parts();
        let res = if allowed {
            HttpResponse::build(StatusCode::NO_CONTENT)
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, METHODS))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
                .finish()
        } else {
            ApiError::Refused {
                status: StatusCode::FORBIDDEN,
                kind: "cors-origin",
                detail: "this origin is not allowed to call the API from a browser".into(),
            }
            .response_in(lang)
        };
        let mut res = ServiceResponse::new(http, res);
        if allowed {
            label(&mut res, origin.as_deref());
        }
        return Ok(res);
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if allowed {
        label(&mut res, origin.as_deref());
    }
    Ok(res)
}

fn label(res: &mut ServiceResponse<BoxBody>, origin: Option<&str>) {
    let headers = res.headers_mut();
    if let Some(value) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_a_scheme_a_host_and_maybe_a_port() {
        assert!(valid_origin("https://portal.nnwjw.gov.cn"));
        assert!(valid_origin("http://localhost:5173"));
        for bad in [
            "portal.nnwjw.gov.cn",
            "https://",
            "https://a.cn/",
            "ftp://a.cn",
            "https://a.cn:",
            "*",
        ] {
            assert!(!valid_origin(bad), "{bad}");
        }
    }
}
