//! Service accounts (第三方系统): hospital information systems and other
//! clients that integrate unattended. The platform office creates one for
//! an institution with roles and scopes; it authenticates with client
//! credentials. A scope says which operations its tokens may call; the
//! roles say, as for a person, on which objects. Both must allow.

use crate::access::Role;
use crate::catalogue::InstitutionKind;
use crate::text_enum;
use crate::validation::{Checks, Invalid};

text_enum!(
    /// What a service account's tokens may call.
    pub enum ApiScope {
        /// Read institutions, labs, instruments, schedules, service items, ratings and the policy.
        CatalogRead = "catalog:read",
        /// Change labs, instruments, schedules and service items.
        CatalogWrite = "catalog:write",
        /// Read bookings.
        BookingsRead = "bookings:read",
        /// Book, and decide or operate bookings.
        BookingsWrite = "bookings:write",
        /// Read sample-testing orders.
        ServiceOrdersRead = "service-orders:read",
        /// Place and run sample-testing orders.
        ServiceOrdersWrite = "service-orders:write",
        /// Read usage records.
        UsageRead = "usage:read",
        /// Record use of instruments.
        UsageWrite = "usage:write",
        /// Read fee standards and estimate fees.
        FeesRead = "fees:read",
        /// Read charges.
        ChargesRead = "charges:read",
        /// Read statements.
        StatementsRead = "statements:read",
        /// Read subsidy programmes and grants.
        SubsidiesRead = "subsidies:read",
        /// Read the reports for regulators.
        ReportsRead = "reports:read",
        /// Read assessments.
        AssessmentsRead = "assessments:read",
        /// Read the audit trail.
        AuditRead = "audit:read",
        /// Manage webhook subscriptions and read their deliveries.
        WebhooksManage = "webhooks:manage",
    }
);

impl ApiScope {
    /// What the scope allows, for people reading the contract.
    pub fn description(self) -> &'static str {
        match self {
            Self::CatalogRead => {
                "Read institutions, labs, instruments, schedules, service items, ratings and the policy"
            }
            Self::CatalogWrite => "Change labs, instruments, schedules and service items",
            Self::BookingsRead => "Read bookings",
            Self::BookingsWrite => "Book, and decide or operate bookings",
            Self::ServiceOrdersRead => "Read sample-testing orders",
            Self::ServiceOrdersWrite => "Place and run sample-testing orders",
            Self::UsageRead => "Read usage records",
            Self::UsageWrite => "Record use of instruments",
            Self::FeesRead => "Read fee standards and estimate fees",
            Self::ChargesRead => "Read charges",
            Self::StatementsRead => "Read statements",
            Self::SubsidiesRead => "Read subsidy programmes and grants",
            Self::ReportsRead => "Read the reports for regulators",
            Self::AssessmentsRead => "Read assessments",
            Self::AuditRead => "Read the audit trail",
            Self::WebhooksManage => "Manage webhook subscriptions and read their deliveries",
        }
    }
}

/// The roles a service account may hold in an institution of this kind: those
/// of a unit's own staff, and `regulator` only in the commission's own
/// institution. The platform office's and the commission's roles are never
/// given to a machine, and a hospital's system does not read the whole platform.
pub fn role_fits_service_account(role: Role, kind: InstitutionKind) -> bool {
    match role {
        Role::UnitAdmin | Role::InstrumentManager | Role::Researcher => true,
        Role::Regulator => kind == InstitutionKind::Commission,
        Role::Commission | Role::PlatformAdmin => false,
    }
}

/// The longest name of a service account.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest description of a service account.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// Checks what the platform office gives a service account.
///
/// # Errors
/// [`Invalid`] naming each field that breaks a rule (`/roles/1`, `/scopes`).
pub fn check_service_account(
    name: &str,
    description: &str,
    roles: &[Role],
    scopes: &[ApiScope],
    kind: InstitutionKind,
) -> Result<(), Invalid> {
    let mut c = Checks::new();
    check_text(&mut c, name, description);
    check_roles_into(&mut c, roles, kind);
    check_scopes_into(&mut c, scopes);
    c.finish()
}

fn check_text(c: &mut Checks, name: &str, description: &str) {
    c.required_text("name", name, MAX_NAME_CHARS);
    c.length("description", description, 0, MAX_DESCRIPTION_CHARS);
}

fn check_roles_into(c: &mut Checks, roles: &[Role], kind: InstitutionKind) {
    c.require(!roles.is_empty(), "roles", "required", || {
        "give the account at least one role".into()
    });
    for (i, role) in roles.iter().enumerate() {
        c.require(
            role_fits_service_account(*role, kind),
            &format!("roles/{i}"),
            "role_institution",
            || match role {
                Role::Regulator => "regulator is given only to accounts of the commission's own institution".into(),
                _ => format!("{role} is never given to a service account"),
            },
        );
    }
}

fn check_scopes_into(c: &mut Checks, scopes: &[ApiScope]) {
    c.require(!scopes.is_empty(), "scopes", "required", || {
        "give the account at least one scope".into()
    });
}

/// Checks a change of name, description, roles or scopes (each optional).
///
/// # Errors
/// [`Invalid`] naming each field that breaks a rule.
pub fn check_service_account_change(
    name: Option<&str>,
    description: Option<&str>,
    roles: Option<&[Role]>,
    scopes: Option<&[ApiScope]>,
    kind: InstitutionKind,
) -> Result<(), Invalid> {
    let mut c = Checks::new();
    if let Some(n) = name {
        c.required_text("name", n, MAX_NAME_CHARS);
    }
    if let Some(d) = description {
        c.length("description", d, 0, MAX_DESCRIPTION_CHARS);
    }
    if let Some(r) = roles {
        check_roles_into(&mut c, r, kind);
    }
    if let Some(s) = scopes {
        check_scopes_into(&mut c, s);
    }
    c.finish()
}

/// Sorted and without repeats, as stored and shown.
pub fn normalise_scopes(scopes: &[ApiScope]) -> Vec<ApiScope> {
    let mut out = scopes.to_vec();
    out.sort();
    out.dedup();
    out
}

/// Why a token request's `scope` cannot be granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeRequestError {
    #[error("`{0}` is not a scope of this platform")]
    Unknown(String),
    #[error("the account does not hold the scope `{0}`")]
    NotHeld(String),
}

/// The scopes a token is granted (RFC 6749 §3.3): those requested, when
/// each is held; all the account holds when none is requested.
///
/// # Errors
/// [`ScopeRequestError`] for the first scope that cannot be granted.
pub fn grant_scopes(requested: Option<&str>, held: &[ApiScope]) -> Result<Vec<ApiScope>, ScopeRequestError> {
    let words: Vec<&str> = requested.map(|r| r.split_whitespace().collect()).unwrap_or_default();
    if words.is_empty() {
        return Ok(normalise_scopes(held));
    }
    let mut out = Vec::new();
    for w in words {
        let scope = w
            .parse::<ApiScope>()
            .map_err(|_| ScopeRequestError::Unknown(w.to_owned()))?;
        if !held.contains(&scope) {
            return Err(ScopeRequestError::NotHeld(w.to_owned()));
        }
        out.push(scope);
    }
    Ok(normalise_scopes(&out))
}

/// The space-separated form of scopes (the OAuth 2 `scope` parameter, and storage).
pub fn scope_text(scopes: &[ApiScope]) -> String {
    scopes
        .iter()
        .map(|s| crate::text_enum::TextEnum::as_str(*s))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses the space-separated form; unknown words are reported.
///
/// # Errors
/// The first word that names no scope.
pub fn parse_scope_text(text: &str) -> Result<Vec<ApiScope>, crate::text_enum::UnknownValue> {
    text.split_whitespace().map(str::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApiScope::*;

    #[test]
    fn a_hospital_system_gets_staff_roles_but_never_the_platform_office() {
        let k = InstitutionKind::Hospital;
        assert!(role_fits_service_account(Role::Researcher, k));
        assert!(role_fits_service_account(Role::UnitAdmin, k));
        assert!(!role_fits_service_account(Role::Regulator, k));
        assert!(!role_fits_service_account(
            Role::PlatformAdmin,
            InstitutionKind::Commission
        ));
        assert!(!role_fits_service_account(
            Role::Commission,
            InstitutionKind::Commission
        ));
        assert!(role_fits_service_account(Role::Regulator, InstitutionKind::Commission));
    }

    #[test]
    fn bad_input_is_named_by_field() {
        let Err(Invalid(v)) = check_service_account(
            " ",
            "",
            &[Role::Researcher, Role::PlatformAdmin],
            &[],
            InstitutionKind::Hospital,
        ) else {
            panic!("expected refusal");
        };
        let fields: Vec<_> = v.iter().map(|v| (v.field.as_str(), v.rule)).collect();
        assert_eq!(
            fields,
            vec![
                ("name", "required"),
                ("roles/1", "role_institution"),
                ("scopes", "required")
            ]
        );
    }

    #[test]
    fn no_requested_scope_grants_all_held_and_a_request_is_narrowed_to_it() {
        let held = [BookingsWrite, CatalogRead];
        assert_eq!(grant_scopes(None, &held), Ok(vec![CatalogRead, BookingsWrite]));
        assert_eq!(grant_scopes(Some("  "), &held), Ok(vec![CatalogRead, BookingsWrite]));
        assert_eq!(grant_scopes(Some("catalog:read"), &held), Ok(vec![CatalogRead]));
        assert_eq!(
            grant_scopes(Some("catalog:read reports:read"), &held),
            Err(ScopeRequestError::NotHeld("reports:read".into()))
        );
        assert_eq!(
            grant_scopes(Some("everything"), &held),
            Err(ScopeRequestError::Unknown("everything".into()))
        );
    }

    #[test]
    fn scopes_round_trip_through_their_text_form() {
        let s = normalise_scopes(&[UsageWrite, CatalogRead, UsageWrite]);
        assert_eq!(scope_text(&s), "catalog:read usage:write");
        assert_eq!(parse_scope_text(&scope_text(&s)), Ok(s));
    }
}
