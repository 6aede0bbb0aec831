//! Every error leaves as RFC 9457 `application/problem+json` with a stable
//! `type`; invalid fields are listed with a JSON pointer (body) or a
//! parameter name (path, query).

use crate::i18n::{self, Lang};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use labshare_domain::listing::ListingError;
use labshare_domain::{Invalid, Violation};
use labshare_persistence::error::ConflictKind;
use labshare_persistence::RepoError;
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation",
    "title": "Invalid input",
    "status": 422,
    "detail": "1 field breaks a rule",
    "errors": [{"pointer": "/credit_code", "rule": "gb32100_check_digit", "message": "check digit is 4, GB 32100 requires 3"}]
}))]
pub struct Problem {
    /// Stable identifier of the kind of problem.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// One entry per invalid field or parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
    /// The OAuth 2 error code (RFC 6749 §5.2) on the token endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One invalid field of the body (`pointer`) or one invalid path or query parameter (`parameter`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldProblem {
    /// JSON pointer (RFC 6901) into the request body.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/credit_code")]
    pub pointer: Option<String>,
    /// Name of the path or query parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "limit")]
    pub parameter: Option<String>,
    /// Stable name of the rule broken.
    #[schema(example = "gb32100_check_digit")]
    pub rule: String,
    #[schema(example = "check digit is 4, GB 32100 requires 3")]
    pub message: String,
}

impl FieldProblem {
    pub fn body(pointer: impl Into<String>, rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: Some(pointer.into()),
            parameter: None,
            rule: rule.into(),
            message: message.into(),
        }
    }
    pub fn parameter(name: impl Into<String>, rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: None,
            parameter: Some(name.into()),
            rule: rule.into(),
            message: message.into(),
        }
    }
}

/// The errors of the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("invalid body")]
    Validation(Vec<FieldProblem>),
    #[error("invalid parameter")]
    InvalidParameter(Vec<FieldProblem>),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("invalid grant: {0}")]
    InvalidGrant(&'static str),
    /// The client credentials are wrong, or the service account is revoked (RFC 6749 §5.2).
    #[error("invalid client: {0}")]
    InvalidClient(&'static str),
    /// A requested scope is unknown or not held by the client (RFC 6749 §5.2).
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    /// A service account's token lacks the scope the operation needs
    /// (`None`: the operation is for people only). RFC 6750 §3.1.
    #[error("insufficient scope")]
    InsufficientScope { scope: Option<&'static str> },
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {detail}")]
    Conflict {
        kind: &'static str,
        detail: String,
        errors: Vec<FieldProblem>,
    },
    /// A rule of the measures refused the request; `kind` names the rule.
    #[error("refused ({kind}): {detail}")]
    Refused {
        status: StatusCode,
        kind: &'static str,
        detail: String,
    },
    /// `If-Match` names a representation that is no longer current.
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("busy: {0}")]
    Busy(String),
    /// Too many failed sign-ins: try again after `retry_after` seconds.
    #[error("too many failed sign-ins")]
    TooManyAttempts { retry_after: i64 },
    /// Another request with the same `Idempotency-Key` is still being answered.
    #[error("idempotency key in use")]
    IdempotencyKeyInUse,
    /// The `Idempotency-Key` was used for a request with another method, path or body.
    #[error("idempotency key reused for another request")]
    IdempotencyKeyReused,
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON"),
            Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid input"),
            InvalidParameter(_) => (StatusCode::BAD_REQUEST, "invalid-parameter", "Invalid parameter"),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large"),
            Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required"),
            InvalidGrant(_) => (StatusCode::BAD_REQUEST, "invalid-grant", "Invalid grant"),
            InvalidClient(_) => (StatusCode::UNAUTHORIZED, "invalid-client", "Invalid client"),
            InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid-scope", "Invalid scope"),
            InsufficientScope { .. } => (StatusCode::FORBIDDEN, "insufficient-scope", "Insufficient scope"),
            Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Conflict { kind, .. } => (StatusCode::CONFLICT, kind, "Conflict"),
            Refused { status, kind, .. } => (*status, kind, "Refused by a rule of the platform"),
            PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
            ),
            Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy", "Service busy"),
            TooManyAttempts { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "sign-in-throttled",
                "Too many failed sign-ins",
            ),
            IdempotencyKeyInUse => (StatusCode::CONFLICT, "idempotency-key-in-use", "Idempotency key in use"),
            IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
            ),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }

    /// The problem document sent to the client, in English.
    pub fn problem(&self) -> Problem {
        self.problem_in(Lang::En)
    }

    /// The problem document in `lang`: only `title` and `detail` change.
    pub fn problem_in(&self, lang: Lang) -> Problem {
        let mut problem = self.english_problem();
        if lang == Lang::Zh {
            problem.detail = i18n::zh_detail(self, &problem.detail);
            problem.title = i18n::zh_title(self).into();
        }
        problem
    }

    fn english_problem(&self) -> Problem {
        let (status, kind, title) = self.parts();
        let (detail, errors, error) = match self {
            ApiError::MalformedJson(d) => (format!("the body is not valid JSON: {d}"), None, None),
            ApiError::Validation(e) | ApiError::InvalidParameter(e) => {
                let n = e.len();
                let what = if matches!(self, ApiError::Validation(_)) {
                    "field"
                } else {
                    "parameter"
                };
                (
                    format!(
                        "{n} {what}{} break{} a rule",
                        if n == 1 { "" } else { "s" },
                        if n == 1 { "s" } else { "" }
                    ),
                    Some(e.clone()),
                    None,
                )
            }
            ApiError::UnsupportedMediaType => ("send the body as application/json".into(), None, None),
            ApiError::PayloadTooLarge { limit } => (format!("the body exceeds {limit} bytes"), None, None),
            ApiError::Unauthorized(d) => ((*d).into(), None, None),
            ApiError::InvalidGrant(d) => ((*d).into(), None, Some("invalid_grant".into())),
            ApiError::InvalidClient(d) => ((*d).into(), None, Some("invalid_client".into())),
            ApiError::InvalidScope(d) => (d.clone(), None, Some("invalid_scope".into())),
            ApiError::InsufficientScope { scope } => (
                match scope {
                    Some(s) => format!("this operation needs the scope `{s}`, which the access token does not hold"),
                    None => "this operation is for people only; service accounts cannot call it".into(),
                },
                None,
                Some("insufficient_scope".into()),
            ),
            ApiError::Forbidden => (
                "your roles do not allow this operation on this object".into(),
                None,
                None,
            ),
            ApiError::NotFound => ("no such resource, or not visible to you".into(), None, None),
            ApiError::MethodNotAllowed => ("this resource does not support the method".into(), None, None),
            ApiError::Refused { detail, .. } => (detail.clone(), None, None),
            ApiError::Conflict { detail, errors, .. } => {
                (detail.clone(), (!errors.is_empty()).then(|| errors.clone()), None)
            }
            ApiError::PreconditionFailed => (
                "the resource changed since the ETag in If-Match; nothing was changed, read it again".into(),
                None,
                None,
            ),
            ApiError::Busy(_) => (
                "the database is busy; nothing was changed, retry shortly".into(),
                None,
                None,
            ),
            ApiError::TooManyAttempts { retry_after } => (
                format!(
                    "too many failed sign-ins for this account or from this address; try again in {retry_after} seconds"
                ),
                None,
                None,
            ),
            ApiError::IdempotencyKeyInUse => (
                "a request with this Idempotency-Key is still being answered; retry after Retry-After".into(),
                None,
                None,
            ),
            ApiError::IdempotencyKeyReused => (
                "this Idempotency-Key was used for another request (method, path or body differ); use a new key for a new request".into(),
                Some(vec![FieldProblem::parameter(
                    "Idempotency-Key",
                    "same_request",
                    "a key may be reused only with the same method, path and body",
                )]),
                None,
            ),
            ApiError::Internal(_) => ("the server failed; the cause is logged".into(), None, None),
        };
        Problem {
            problem_type: format!("/problems/{kind}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors,
            error,
        }
    }

    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            log::error!("internal error: {cause}");
        }
        if let ApiError::Busy(cause) = self {
            log::warn!("busy: {cause}");
        }
        self.response_in(Lang::En)
    }
}

impl ApiError {
    /// The problem response in `lang`, labelled with its language.
    pub fn response_in(&self, lang: Lang) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.content_type("application/problem+json");
        if matches!(self, ApiError::Unauthorized(_)) {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"labshare\""));
        }
        if matches!(self, ApiError::Busy(_) | ApiError::IdempotencyKeyInUse) {
            res.insert_header((header::RETRY_AFTER, "1"));
        }
        if let ApiError::TooManyAttempts { retry_after } = self {
            res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if matches!(self, ApiError::InvalidClient(_)) {
            res.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"labshare\""));
        }
        if let ApiError::InsufficientScope { scope } = self {
            let value = match scope {
                Some(s) => format!("Bearer realm=\"labshare\", error=\"insufficient_scope\", scope=\"{s}\""),
                None => "Bearer realm=\"labshare\", error=\"insufficient_scope\"".to_owned(),
            };
            res.insert_header((header::WWW_AUTHENTICATE, value));
        }
        if matches!(
            self,
            ApiError::InvalidGrant(_) | ApiError::InvalidClient(_) | ApiError::InvalidScope(_)
        ) {
            res.insert_header((header::CACHE_CONTROL, "no-store"));
        }
        res.insert_header((header::CONTENT_LANGUAGE, lang.tag()));
        res.insert_header((header::VARY, "Accept-Language"));
        res.json(self.problem_in(lang))
    }
}

/// Field names of unique constraints, to name the field a duplicate collides on.
const UNIQUE_FIELDS: &[(&str, &str)] = &[
    ("institutions", "credit_code"),
    ("institutions", "name"),
    ("users", "username"),
    ("labs", "name"),
    ("instruments", "asset_number"),
];

impl From<RepoError> for ApiError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => ApiError::NotFound,
            RepoError::Conflict {
                kind: ConflictKind::Unique,
                constraint,
            } => {
                let field = UNIQUE_FIELDS
                    .iter()
                    .find(|(table, column)| constraint.contains(table) && constraint.contains(column))
                    .map(|(_, column)| *column);
                match field {
                    Some(f) => ApiError::Conflict {
                        kind: "duplicate",
                        detail: format!("another record already has this {f}"),
                        errors: vec![FieldProblem::body(format!("/{f}"), "unique", "already taken")],
                    },
                    None => ApiError::conflict("duplicate", "the record already exists"),
                }
            }
            RepoError::Conflict {
                kind: ConflictKind::ForeignKey,
                ..
            } => ApiError::conflict(
                "reference",
                "the change refers to a record that does not exist or is still in use",
            ),
            RepoError::Conflict {
                kind: ConflictKind::Check | ConflictKind::Exclusion,
                constraint,
            } => ApiError::conflict("constraint", format!("the database refused the change ({constraint})")),
            RepoError::Busy(e) => ApiError::Busy(e),
            RepoError::Db(e) => ApiError::Internal(format!("database: {e}")),
            RepoError::Pool(e) => ApiError::Internal(format!("pool: {e}")),
            RepoError::Corrupt(e) => ApiError::Internal(format!("corrupt row: {e}")),
            RepoError::Migration(e) => ApiError::Internal(format!("migration: {e}")),
        }
    }
}

fn pointer(field: &str) -> String {
    format!("/{field}")
}

impl From<Violation> for FieldProblem {
    fn from(v: Violation) -> Self {
        FieldProblem::body(pointer(&v.field), v.rule, v.message)
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::Validation(e.0.into_iter().map(FieldProblem::from).collect())
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(e: validator::ValidationErrors) -> Self {
        let mut out = Vec::new();
        collect_validator("", &e, &mut out);
        out.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        ApiError::Validation(out)
    }
}

fn collect_validator(prefix: &str, e: &validator::ValidationErrors, out: &mut Vec<FieldProblem>) {
    use validator::ValidationErrorsKind as K;
    for (field, kind) in e.errors() {
        let path = format!("{prefix}/{field}");
        match kind {
            K::Field(errs) => {
                for err in errs {
                    let message = err
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| describe(err));
                    out.push(FieldProblem::body(path.clone(), err.code.to_string(), message));
                }
            }
            K::Struct(inner) => collect_validator(&path, inner, out),
            K::List(items) => {
                for (i, inner) in items {
                    collect_validator(&format!("{path}/{i}"), inner, out);
                }
            }
        }
    }
}

fn describe(err: &validator::ValidationError) -> String {
    let p = |k: &str| err.params.get(k).map(|v| v.to_string());
    match err.code.as_ref() {
        "length" => match (p("min"), p("max")) {
            (Some(min), Some(max)) => format!("must have {min} to {max} characters"),
            (None, Some(max)) => format!("must have at most {max} characters"),
            (Some(min), None) => format!("must have at least {min} characters"),
            _ => "has the wrong length".into(),
        },
        "range" => match (p("min"), p("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            _ => "is out of range".into(),
        },
        other => format!("breaks the rule {other}"),
    }
}

impl From<ListingError> for ApiError {
    fn from(e: ListingError) -> Self {
        match e {
            ListingError::InvalidTransition { .. } => ApiError::conflict("listing-transition", e.to_string()),
            ListingError::Retired | ListingError::NotShared | ListingError::NoServiceMode => {
                ApiError::conflict("listing-not-eligible", e.to_string())
            }
            ListingError::ReasonRequired => {
                ApiError::Validation(vec![FieldProblem::body("/reason", "required", e.to_string())])
            }
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(format!("blocking pool: {e}"))
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(e: r2d2::Error) -> Self {
        ApiError::Internal(format!("pool: {e}"))
    }
}
