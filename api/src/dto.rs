//! Pieces every resource's DTOs share: pagination, instants, money and the
//! schemas of the domain's text enums.

use crate::error::{ApiError, FieldProblem};
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::Money;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, Type};

/// Default and largest page size.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// Reads `limit` and `cursor` of a list request into a page size and the id to continue after.
///
/// # Errors
/// [`ApiError::InvalidParameter`] for a cursor this server did not issue.
pub fn page_args(limit: Option<i64>, cursor: Option<&str>) -> Result<(Option<i64>, i64), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    let after = cursor.map(decode_cursor).transpose()?;
    Ok((after, limit))
}

/// An opaque cursor for the id after which the next page starts.
pub fn encode_cursor(after: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{after}"))
}

fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("after:").and_then(|n| n.parse::<i64>().ok()))
        .ok_or_else(|| {
            ApiError::InvalidParameter(vec![FieldProblem::parameter(
                "cursor",
                "cursor",
                "not a cursor returned by this list; pass `next_cursor` unchanged",
            )])
        })
}

/// An instant given as a filter, refused outside the years both databases
/// store (2000–9999).
///
/// # Errors
/// [`ApiError::InvalidParameter`] naming `param`.
pub fn bounded_instant(param: &str, t: Option<DateTime<Utc>>) -> Result<Option<NaiveDateTime>, ApiError> {
    match t {
        Some(t) if !labshare_domain::booking::plausible_instant(t) => {
            Err(ApiError::InvalidParameter(vec![FieldProblem::parameter(
                param,
                "range",
                "must be between the years 2000 and 9999",
            )]))
        }
        other => Ok(other.map(|t| t.naive_utc())),
    }
}

/// A stored UTC instant as RFC 3339.
pub fn instant(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// Parses an amount of money at the edge, naming the field on failure.
///
/// # Errors
/// [`ApiError::Validation`] naming `field`.
pub fn money(field: &str, text: &str) -> Result<Money, FieldProblem> {
    Money::parse(text).map_err(|e| FieldProblem::body(format!("/{field}"), "money", e.to_string()))
}

/// The schema of a domain text enum: a string with its values.
pub fn enum_object<E: TextEnum>() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(E::ALL.iter().map(|e| e.as_str())))
        .build()
}

/// The schema of an array of a domain text enum.
pub fn enum_array<E: TextEnum>() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new().items(enum_object::<E>()).build()
}

/// Functions that give each enum's schema, for `#[schema(schema_with = …)]`.
pub mod enums {
    use super::{enum_array, enum_object};
    use labshare_domain::access::Role;
    use labshare_domain::booking::{BlackoutKind, BookingStatus};
    use labshare_domain::catalogue::*;
    use labshare_domain::fees::{FeeStandardStatus, FeeUnit};
    use labshare_domain::listing::ListingStatus;
    use labshare_domain::qualification::QualificationKind;
    use labshare_domain::rating::RatedKind;
    use labshare_domain::service::{OrderStatus, SampleType, ServiceUnit};
    use labshare_domain::subsidy::{GrantStatus, ProgrammeStatus};
    use utoipa::openapi::schema::{Array, Object};

    macro_rules! schema_fns {
        ($($name:ident, $array:ident: $ty:ty;)+) => {$(
            pub fn $name() -> Object { enum_object::<$ty>() }
            pub fn $array() -> Array { enum_array::<$ty>() }
        )+};
    }

    schema_fns! {
        institution_kind, institution_kinds: InstitutionKind;
        membership, memberships: Membership;
        biosafety_level, biosafety_levels: BiosafetyLevel;
        accreditation, accreditations: Accreditation;
        instrument_status, instrument_statuses: InstrumentStatus;
        sharing_scope, sharing_scopes: SharingScope;
        service_mode, service_modes: ServiceMode;
        listing_status, listing_statuses: ListingStatus;
        role, roles: Role;
        blackout_kind, blackout_kinds: BlackoutKind;
        booking_status, booking_statuses: BookingStatus;
        qualification_kind, qualification_kinds: QualificationKind;
        service_unit, service_units: ServiceUnit;
        order_status, order_statuses: OrderStatus;
        sample_type, sample_types: SampleType;
        rated_kind, rated_kinds: RatedKind;
        fee_unit, fee_units: FeeUnit;
        fee_standard_status, fee_standard_statuses: FeeStandardStatus;
        programme_status, programme_statuses: ProgrammeStatus;
        grant_status, grant_statuses: GrantStatus;
        api_scope, api_scopes: labshare_domain::service_account::ApiScope;
    }
}

/// Declares the page type of a list response.
#[macro_export]
macro_rules! page_type {
    ($name:ident, $item:ty) => {
        #[doc = concat!("A page of ", stringify!($item), "; pass `next_cursor` as `cursor` for the next one.")]
        #[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Absent on the last page.
            #[schema(example = "YWZ0ZXI6NTA")]
            pub next_cursor: Option<String>,
        }

        impl $name {
            pub fn from_page<T>(page: labshare_persistence::Page<T>, f: impl FnMut(T) -> $item) -> Self {
                let next_cursor = page.next_after.map($crate::dto::encode_cursor);
                Self {
                    items: page.items.into_iter().map(f).collect(),
                    next_cursor,
                }
            }
        }
    };
}

/// Deserializes a field that may be absent (no change), `null` (clear) or a value (set).
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

/// Parses a field at the edge; on failure records the problem and carries
/// on with `fallback`, so that the other fields are still checked and every
/// problem is reported at once.
pub fn parse_field<T, E: std::fmt::Display>(
    problems: &mut Vec<FieldProblem>,
    field: &str,
    rule: &str,
    result: Result<T, E>,
    fallback: impl FnOnce() -> T,
) -> T {
    result.unwrap_or_else(|e| {
        problems.push(FieldProblem::body(format!("/{field}"), rule, e.to_string()));
        fallback()
    })
}

/// The edge's problems and the domain's verdict, as one answer.
///
/// # Errors
/// [`ApiError::Validation`] with every problem when there is any.
pub fn all_problems(
    mut problems: Vec<FieldProblem>,
    check: Result<(), labshare_domain::Invalid>,
) -> Result<(), ApiError> {
    if let Err(invalid) = check {
        problems.extend(invalid.0.into_iter().map(FieldProblem::from));
    }
    problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    problems.dedup();
    no_problems(problems)
}

/// Turns the problems found while parsing fields at the edge into one error.
///
/// # Errors
/// [`ApiError::Validation`] when any problem was found.
pub fn no_problems(problems: Vec<FieldProblem>) -> Result<(), ApiError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(problems))
    }
}
