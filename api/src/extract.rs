//! Request extractors that turn every malformed input into a problem
//! naming the field or parameter and the rule, before a handler runs.

use crate::error::{ApiError, FieldProblem};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{ready, LocalBoxFuture, Ready};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::Validate;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body, deserialized strictly (unknown fields refused) and validated.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .mime_type()
            .ok()
            .flatten()
            .is_some_and(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"));
        let declared_too_large = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > BODY_LIMIT);
        let mut payload = payload.take();
        Box::pin(async move {
            if declared_too_large {
                return Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT });
            }
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let bytes = read_limited(&mut payload).await?;
            let value = parse_json::<T>(&bytes)?;
            value.validate()?;
            Ok(Body(value))
        })
    }
}

/// The whole body, refused once it grows past [`BODY_LIMIT`].
async fn read_limited(payload: &mut Payload) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::MalformedJson(format!("body could not be read: {e}")))?;
        if bytes.len() + chunk.len() > BODY_LIMIT {
            return Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A body as JSON or, as OAuth 2 clients send it (RFC 6749 §4.4.2),
/// `application/x-www-form-urlencoded`: each parameter once, every value a
/// string; then deserialized and validated like [`Body`].
#[derive(Debug)]
pub struct JsonOrForm<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for JsonOrForm<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = req
            .mime_type()
            .ok()
            .flatten()
            .is_some_and(|m| m.type_() == "application" && m.subtype() == "x-www-form-urlencoded");
        if !is_form {
            let json = Body::<T>::from_request(req, payload);
            return Box::pin(async move { json.await.map(|b| JsonOrForm(b.0)) });
        }
        let mut payload = payload.take();
        Box::pin(async move {
            let bytes = read_limited(&mut payload).await?;
            let mut object = serde_json::Map::new();
            for (name, value) in form_urlencoded::parse(&bytes) {
                if object
                    .insert(name.clone().into_owned(), serde_json::Value::String(value.into_owned()))
                    .is_some()
                {
                    return Err(ApiError::Validation(vec![FieldProblem::body(
                        format!("/{name}"),
                        "single",
                        "a parameter may be sent only once",
                    )]));
                }
            }
            let json = serde_json::to_vec(&serde_json::Value::Object(object))
                .map_err(|e| ApiError::Internal(format!("form as JSON: {e}")))?;
            let value = parse_json::<T>(&json)?;
            value.validate()?;
            Ok(JsonOrForm(value))
        })
    }
}

/// Deserializes JSON, telling malformed syntax (400) from values of the
/// wrong type or an unknown enum value (422, with a pointer).
///
/// # Errors
/// [`ApiError::MalformedJson`] or [`ApiError::Validation`].
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // A NUL character is never meaningful in this API and PostgreSQL cannot store it in text.
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(pointer) = nul_pointer(&value, String::new()) {
                return Err(ApiError::Validation(vec![FieldProblem::body(
                    if pointer.is_empty() { "/".to_owned() } else { pointer },
                    "no_nul",
                    "text must not contain NUL characters",
                )]));
            }
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    match result {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().clone();
            let inner = e.into_inner();
            if !matches!(inner.classify(), serde_json::error::Category::Data) {
                return Err(ApiError::MalformedJson(inner.to_string()));
            }
            let message = strip_position(&inner.to_string());
            let mut pointer = pointer_of(&path);
            let rule = if let Some(name) = quoted_after(&message, "unknown field `") {
                // The path already ends at the unknown key.
                if !pointer.ends_with(&format!("/{name}")) {
                    pointer = join(&pointer, &name);
                }
                "unknown_field"
            } else if let Some(name) = quoted_after(&message, "missing field `") {
                pointer = join(&pointer, &name);
                "required"
            } else if message.starts_with("unknown variant") {
                "enum"
            } else {
                "type"
            };
            Err(ApiError::Validation(vec![FieldProblem::body(
                if pointer.is_empty() { "/".to_owned() } else { pointer },
                rule,
                message,
            )]))
        }
    }
}

/// The pointer of the first string (or key) that holds a NUL character.
fn nul_pointer(value: &serde_json::Value, at: String) -> Option<String> {
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(at),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_pointer(v, format!("{at}/{i}"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = join(&at, k);
            if k.contains('\0') {
                Some(here)
            } else {
                nul_pointer(v, here)
            }
        }),
        _ => None,
    }
}

fn join(pointer: &str, name: &str) -> String {
    format!(
        "{}/{}",
        pointer.trim_end_matches('/'),
        name.replace('~', "~0").replace('/', "~1")
    )
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => out = join(&out, key),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next().map(str::to_owned)
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Query parameters, deserialized strictly: an unknown parameter or a bad
/// value is a 400 naming the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Validate> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse_query(req.query_string()).map(Query))
    }
}

/// # Errors
/// [`ApiError::InvalidParameter`] naming the parameter.
pub fn parse_query<T: DeserializeOwned + Validate>(query: &str) -> Result<T, ApiError> {
    if let Some((name, _)) =
        form_urlencoded::parse(query.as_bytes()).find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::InvalidParameter(vec![FieldProblem::parameter(
            name.replace('\0', ""),
            "no_nul",
            "parameters must not contain NUL characters",
        )]));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        let mut name = e.path().to_string();
        let mut rule = "type";
        if let Some(n) = quoted_after(&message, "unknown field `") {
            name = n;
            rule = "unknown_parameter";
        } else if let Some(n) = quoted_after(&message, "missing field `") {
            name = n;
            rule = "required";
        } else if message.starts_with("unknown variant") {
            rule = "enum";
        }
        ApiError::InvalidParameter(vec![FieldProblem::parameter(name, rule, message)])
    })?;
    value.validate().map_err(|e| match ApiError::from(e) {
        ApiError::Validation(items) => ApiError::InvalidParameter(
            items
                .into_iter()
                .map(|p| {
                    FieldProblem::parameter(p.pointer.unwrap_or_default().trim_start_matches('/'), p.rule, p.message)
                })
                .collect(),
        ),
        other => other,
    })?;
    Ok(value)
}

/// The positive integer id in the path (`/instruments/{id}`).
#[derive(Debug, Clone, Copy)]
pub struct Id(pub i64);

/// A positive integer path parameter.
fn positive_id(req: &HttpRequest, name: &str) -> Result<i64, ApiError> {
    let raw = req.match_info().get(name).unwrap_or_default();
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::InvalidParameter(vec![FieldProblem::parameter(
            name,
            "positive_integer",
            format!("`{raw}` is not a positive integer id"),
        )])),
    }
}

impl FromRequest for Id {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(positive_id(req, "id").map(Id))
    }
}

/// The positive integer `institution_id` in the path (`/assessments/{id}/units/{institution_id}/…`).
#[derive(Debug, Clone, Copy)]
pub struct InstitutionParam(pub i64);

impl FromRequest for InstitutionParam {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(positive_id(req, "institution_id").map(InstitutionParam))
    }
}

/// The positive integer `delivery_id` in the path (`/webhooks/{id}/deliveries/{delivery_id}/…`).
#[derive(Debug, Clone, Copy)]
pub struct DeliveryParam(pub i64);

impl FromRequest for DeliveryParam {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(positive_id(req, "delivery_id").map(DeliveryParam))
    }
}
