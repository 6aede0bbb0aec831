//! Entity tags (RFC 9110 §8.8.3) of single-resource representations and the
//! conditional requests that use them.
//!
//! The tag is strong: the SHA-256 of the exact JSON bytes sent, quoted. A
//! read answers it in `ETag` and honours `If-None-Match` with 304. A change
//! (PATCH, or PUT of the policy) honours `If-Match`: it is compared, inside
//! the write transaction and with the row locked, with the tag of the
//! representation before the change; a mismatch is 412 and changes nothing.
//! Without `If-Match` a change applies unconditionally, so clients that edit
//! what they have read should always send it.

use crate::error::{ApiError, FieldProblem};
use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderName};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use futures_util::future::{ready, Ready};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

/// The `If-None-Match` header of a read, as documented.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfNoneMatch {
    /// ETags of representations the client holds (or `*`): when one is still
    /// current the answer is 304 Not Modified without a body.
    #[param(rename = "If-None-Match", example = "\"9b2cf535f27731c974343645a3985328\"")]
    #[allow(dead_code)]
    if_none_match: Option<String>,
}

/// The `If-Match` header of a change, as documented.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatch {
    /// The ETag of the representation the change is based on (or `*` for any).
    /// When it is no longer current the answer is 412 and nothing changes.
    /// Optional, but clients should send it to avoid overwriting a
    /// concurrent change.
    #[param(rename = "If-Match", example = "\"9b2cf535f27731c974343645a3985328\"")]
    #[allow(dead_code)]
    if_match: Option<String>,
}

/// A list of entity tags from a conditional header, or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Any,
    Tags(Vec<String>),
}

impl Condition {
    fn parse(req: &HttpRequest, name: HeaderName) -> Result<Option<Self>, ApiError> {
        let mut tags = Vec::new();
        let mut any = false;
        let mut seen = false;
        for value in req.headers().get_all(&name) {
            seen = true;
            let text = value.to_str().map_err(|_| {
                ApiError::InvalidParameter(vec![FieldProblem::parameter(
                    name.as_str(),
                    "entity_tag",
                    "must be a list of quoted entity tags or *",
                )])
            })?;
            for item in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                if item == "*" {
                    any = true;
                } else {
                    tags.push(item.to_owned());
                }
            }
        }
        Ok(match (seen, any) {
            (false, _) => None,
            (true, true) => Some(Condition::Any),
            (true, false) => Some(Condition::Tags(tags)),
        })
    }

    /// Strong comparison (`If-Match`): a weak tag never matches.
    fn matches_strongly(&self, etag: &str) -> bool {
        match self {
            Condition::Any => true,
            Condition::Tags(tags) => tags.iter().any(|t| t == etag),
        }
    }

    /// Weak comparison (`If-None-Match`): `W/` is ignored.
    fn matches_weakly(&self, etag: &str) -> bool {
        match self {
            Condition::Any => true,
            Condition::Tags(tags) => tags.iter().any(|t| t.strip_prefix("W/").unwrap_or(t) == etag),
        }
    }
}

/// The conditional headers of a request: `If-Match` and `If-None-Match`.
#[derive(Debug, Clone)]
pub struct Preconditions {
    if_match: Option<Condition>,
    if_none_match: Option<Condition>,
}

impl FromRequest for Preconditions {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = Condition::parse(req, header::IF_MATCH).and_then(|if_match| {
            Ok(Preconditions {
                if_match,
                if_none_match: Condition::parse(req, header::IF_NONE_MATCH)?,
            })
        });
        ready(parsed)
    }
}

/// A representation serialised once, with its entity tag.
struct Tagged {
    body: Vec<u8>,
    etag: String,
}

impl Tagged {
    fn of<T: Serialize>(value: &T) -> Result<Self, ApiError> {
        let body = serde_json::to_vec(value).map_err(|e| ApiError::Internal(format!("serialisation: {e}")))?;
        let digest: String = Sha256::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
        Ok(Tagged {
            body,
            etag: format!("\"{digest}\""),
        })
    }

    fn ok(self) -> HttpResponse {
        HttpResponse::Ok()
            .content_type("application/json")
            .insert_header((header::ETAG, self.etag))
            .body(self.body)
    }
}

/// The entity tag of a representation: what `ETag` carries for it.
///
/// # Errors
/// [`ApiError::Internal`] when it does not serialise.
pub fn etag_of<T: Serialize>(value: &T) -> Result<String, ApiError> {
    Ok(Tagged::of(value)?.etag)
}

/// 200 with the representation and its `ETag`: the answer of a change.
///
/// # Errors
/// [`ApiError::Internal`] when it does not serialise.
pub fn tagged<T: Serialize>(value: &T) -> Result<HttpResponse, ApiError> {
    Ok(Tagged::of(value)?.ok())
}

impl Preconditions {
    /// The answer of a read: 304 with the `ETag` when `If-None-Match` names
    /// the current representation, else 200 with it and its `ETag`.
    ///
    /// # Errors
    /// [`ApiError::Internal`] when it does not serialise.
    pub fn read<T: Serialize>(&self, value: &T) -> Result<HttpResponse, ApiError> {
        let tagged = Tagged::of(value)?;
        if self
            .if_none_match
            .as_ref()
            .is_some_and(|c| c.matches_weakly(&tagged.etag))
        {
            return Ok(HttpResponse::NotModified()
                .insert_header((header::ETAG, tagged.etag))
                .finish());
        }
        Ok(tagged.ok())
    }

    /// Checks `If-Match` against the current representation, before a change;
    /// call it inside the write transaction once the row is locked.
    ///
    /// # Errors
    /// [`ApiError::PreconditionFailed`] when it names another representation.
    pub fn check<T: Serialize>(&self, current: &T) -> Result<(), ApiError> {
        match &self.if_match {
            None | Some(Condition::Any) => Ok(()),
            Some(condition) => {
                if condition.matches_strongly(&etag_of(current)?) {
                    Ok(())
                } else {
                    Err(ApiError::PreconditionFailed)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Condition {
        Condition::Tags(t.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn the_tag_is_a_quoted_sha256_of_the_body() {
        let t = Tagged::of(&serde_json::json!({"a": 1})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.body, br#"{"a":1}"#);
        assert_eq!(t.etag.len(), 66);
        assert!(t.etag.starts_with('"') && t.etag.ends_with('"'));
    }

    #[test]
    fn if_match_compares_strongly_and_if_none_match_weakly() {
        let c = tags(&["\"x\"", "W/\"y\""]);
        assert!(c.matches_strongly("\"x\""));
        assert!(!c.matches_strongly("\"y\""));
        assert!(c.matches_weakly("\"y\""));
        assert!(Condition::Any.matches_strongly("\"z\""));
    }

    #[test]
    fn a_stale_if_match_fails_and_a_current_one_passes() {
        let v = serde_json::json!({"name": "A"});
        let current = etag_of(&v).unwrap_or_default();
        let stale = Preconditions {
            if_match: Some(tags(&["\"old\""])),
            if_none_match: None,
        };
        assert!(matches!(stale.check(&v), Err(ApiError::PreconditionFailed)));
        let fresh = Preconditions {
            if_match: Some(Condition::Tags(vec![current])),
            if_none_match: None,
        };
        assert!(fresh.check(&v).is_ok());
    }
}
