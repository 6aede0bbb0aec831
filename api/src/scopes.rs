//! Which scope a service account's token needs for each operation: one
//! table, read by the bearer extractor on every request and by the OpenAPI
//! document. An operation absent from the table is for people only, so a
//! new route is closed to machines until someone decides otherwise.

use labshare_domain::service_account::ApiScope;
use labshare_domain::service_account::ApiScope::*;

/// What a service account needs to call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A token holding this scope.
    Scope(ApiScope),
    /// Only people may call it: account management, money decisions,
    /// approvals, certifications, and anything not decided yet.
    People,
    /// No bearer token at all (the token endpoint, feeds behind their own token).
    Public,
}

use Need::{People, Public, Scope as S};

/// Every operation under `/api/v1`, by method and route pattern as registered.
pub const OPERATIONS: &[(&str, &str, Need)] = &[
    ("POST", "/api/v1/auth/token", Public),
    ("POST", "/api/v1/auth/logout", People),
    ("GET", "/api/v1/me", People),
    ("POST", "/api/v1/me/calendar-token", People),
    ("DELETE", "/api/v1/me/calendar-token", People),
    ("GET", "/api/v1/calendar/{token}.ics", Public),
    ("GET", "/api/v1/institutions", S(CatalogRead)),
    ("POST", "/api/v1/institutions", People),
    ("GET", "/api/v1/institutions/{id}", S(CatalogRead)),
    ("PATCH", "/api/v1/institutions/{id}", People),
    ("GET", "/api/v1/labs", S(CatalogRead)),
    ("POST", "/api/v1/labs", S(CatalogWrite)),
    ("GET", "/api/v1/labs/{id}", S(CatalogRead)),
    ("PATCH", "/api/v1/labs/{id}", S(CatalogWrite)),
    ("GET", "/api/v1/instruments", S(CatalogRead)),
    ("POST", "/api/v1/instruments", S(CatalogWrite)),
    ("GET", "/api/v1/instruments/listing-overdue", S(CatalogRead)),
    ("GET", "/api/v1/instruments/{id}", S(CatalogRead)),
    ("PATCH", "/api/v1/instruments/{id}", S(CatalogWrite)),
    ("PUT", "/api/v1/instruments/{id}/managers", S(CatalogWrite)),
    ("POST", "/api/v1/instruments/{id}/listing/submit", S(CatalogWrite)),
    ("POST", "/api/v1/instruments/{id}/listing/approve", People),
    ("POST", "/api/v1/instruments/{id}/listing/reject", People),
    ("GET", "/api/v1/users", People),
    ("POST", "/api/v1/users", People),
    ("GET", "/api/v1/users/{id}", People),
    ("PATCH", "/api/v1/users/{id}", People),
    ("GET", "/api/v1/audit-events", S(AuditRead)),
    ("GET", "/api/v1/audit-events/verify", S(AuditRead)),
    ("GET", "/api/v1/instruments/{id}/booking-rules", S(CatalogRead)),
    ("PUT", "/api/v1/instruments/{id}/booking-rules", S(CatalogWrite)),
    ("GET", "/api/v1/instruments/{id}/opening-hours", S(CatalogRead)),
    ("PUT", "/api/v1/instruments/{id}/opening-hours", S(CatalogWrite)),
    ("GET", "/api/v1/instruments/{id}/blackouts", S(CatalogRead)),
    ("POST", "/api/v1/instruments/{id}/blackouts", S(CatalogWrite)),
    ("GET", "/api/v1/instruments/{id}/availability", S(CatalogRead)),
    ("GET", "/api/v1/instruments/{id}/calendar.ics", S(CatalogRead)),
    ("POST", "/api/v1/blackouts/{id}/cancel", S(CatalogWrite)),
    ("GET", "/api/v1/qualifications", People),
    ("POST", "/api/v1/qualifications", People),
    ("POST", "/api/v1/qualifications/{id}/revoke", People),
    ("GET", "/api/v1/bookings", S(BookingsRead)),
    ("POST", "/api/v1/bookings", S(BookingsWrite)),
    ("GET", "/api/v1/bookings/{id}", S(BookingsRead)),
    ("POST", "/api/v1/bookings/{id}/approve", S(BookingsWrite)),
    ("POST", "/api/v1/bookings/{id}/reject", S(BookingsWrite)),
    ("POST", "/api/v1/bookings/{id}/cancel", S(BookingsWrite)),
    ("POST", "/api/v1/bookings/{id}/check-in", S(BookingsWrite)),
    ("POST", "/api/v1/bookings/{id}/check-out", S(BookingsWrite)),
    ("POST", "/api/v1/bookings/{id}/no-show", S(BookingsWrite)),
    ("POST", "/api/v1/bookings/{id}/rating", People),
    ("GET", "/api/v1/ratings", S(CatalogRead)),
    ("GET", "/api/v1/usage-records", S(UsageRead)),
    ("POST", "/api/v1/usage-records", S(UsageWrite)),
    ("GET", "/api/v1/usage-records/{id}", S(UsageRead)),
    ("GET", "/api/v1/service-items", S(CatalogRead)),
    ("POST", "/api/v1/service-items", S(CatalogWrite)),
    ("GET", "/api/v1/service-items/{id}", S(CatalogRead)),
    ("PUT", "/api/v1/service-items/{id}", S(CatalogWrite)),
    ("GET", "/api/v1/service-orders", S(ServiceOrdersRead)),
    ("POST", "/api/v1/service-orders", S(ServiceOrdersWrite)),
    ("GET", "/api/v1/service-orders/{id}", S(ServiceOrdersRead)),
    ("POST", "/api/v1/service-orders/{id}/accept", S(ServiceOrdersWrite)),
    ("POST", "/api/v1/service-orders/{id}/reject", S(ServiceOrdersWrite)),
    (
        "POST",
        "/api/v1/service-orders/{id}/receive-samples",
        S(ServiceOrdersWrite),
    ),
    ("POST", "/api/v1/service-orders/{id}/complete", S(ServiceOrdersWrite)),
    ("POST", "/api/v1/service-orders/{id}/cancel", S(ServiceOrdersWrite)),
    ("POST", "/api/v1/service-orders/{id}/rating", People),
    ("GET", "/api/v1/policy", S(CatalogRead)),
    ("PUT", "/api/v1/policy", People),
    ("GET", "/api/v1/assessments", S(AssessmentsRead)),
    ("POST", "/api/v1/assessments", People),
    ("GET", "/api/v1/assessments/{id}", S(AssessmentsRead)),
    ("POST", "/api/v1/assessments/{id}/compute", People),
    ("POST", "/api/v1/assessments/{id}/publish", People),
    ("GET", "/api/v1/assessments/{id}/instruments", S(AssessmentsRead)),
    ("GET", "/api/v1/assessments/{id}/units", S(AssessmentsRead)),
    (
        "PUT",
        "/api/v1/assessments/{id}/units/{institution_id}/management",
        People,
    ),
    ("GET", "/api/v1/assessments/{id}/use-of-results", S(AssessmentsRead)),
    ("GET", "/api/v1/charges", S(ChargesRead)),
    ("GET", "/api/v1/charges/export", S(ChargesRead)),
    ("GET", "/api/v1/charges/{id}", S(ChargesRead)),
    ("POST", "/api/v1/charges/{id}/adjust", People),
    ("GET", "/api/v1/statements", S(StatementsRead)),
    ("POST", "/api/v1/statements/generate", People),
    ("GET", "/api/v1/statements/export", S(StatementsRead)),
    ("GET", "/api/v1/statements/{id}", S(StatementsRead)),
    ("POST", "/api/v1/statements/{id}/issue", People),
    ("POST", "/api/v1/statements/{id}/pay", People),
    ("POST", "/api/v1/statements/{id}/dispute", People),
    ("POST", "/api/v1/statements/{id}/resolve", People),
    ("GET", "/api/v1/reports/usage", S(ReportsRead)),
    ("GET", "/api/v1/reports/finance", S(ReportsRead)),
    ("GET", "/api/v1/reports/national-export", S(ReportsRead)),
    ("GET", "/api/v1/purchase-reviews", People),
    ("POST", "/api/v1/purchase-reviews", People),
    ("GET", "/api/v1/purchase-reviews/{id}", People),
    ("POST", "/api/v1/purchase-reviews/{id}/approve", People),
    ("POST", "/api/v1/purchase-reviews/{id}/reject", People),
    ("POST", "/api/v1/purchase-reviews/{id}/withdraw", People),
    ("GET", "/api/v1/fee-standards", S(FeesRead)),
    ("POST", "/api/v1/fee-standards", People),
    ("POST", "/api/v1/fee-standards/estimate", S(FeesRead)),
    ("GET", "/api/v1/fee-standards/{id}", S(FeesRead)),
    ("POST", "/api/v1/fee-standards/{id}/approve", People),
    ("POST", "/api/v1/fee-standards/{id}/reject", People),
    ("GET", "/api/v1/subsidy-programmes", S(SubsidiesRead)),
    ("POST", "/api/v1/subsidy-programmes", People),
    ("GET", "/api/v1/subsidy-programmes/{id}", S(SubsidiesRead)),
    ("PATCH", "/api/v1/subsidy-programmes/{id}", People),
    ("POST", "/api/v1/subsidy-programmes/{id}/approve", People),
    ("POST", "/api/v1/subsidy-programmes/{id}/activate", People),
    ("POST", "/api/v1/subsidy-programmes/{id}/close", People),
    ("GET", "/api/v1/subsidy-grants", S(SubsidiesRead)),
    ("POST", "/api/v1/subsidy-grants", People),
    ("GET", "/api/v1/subsidy-grants/{id}", S(SubsidiesRead)),
    ("POST", "/api/v1/subsidy-grants/{id}/approve", People),
    ("POST", "/api/v1/subsidy-grants/{id}/reject", People),
    // A machine never manages machines.
    ("GET", "/api/v1/service-accounts", People),
    ("POST", "/api/v1/service-accounts", People),
    ("GET", "/api/v1/service-accounts/{id}", People),
    ("PATCH", "/api/v1/service-accounts/{id}", People),
    ("POST", "/api/v1/service-accounts/{id}/rotate-secret", People),
    ("POST", "/api/v1/service-accounts/{id}/revoke", People),
];

/// Route prefixes whose every operation needs one scope.
pub const PREFIXES: &[(&str, ApiScope)] = &[("/api/v1/webhooks", WebhooksManage)];

/// What a service account needs to call `method` on the route `pattern`
/// (as registered, `/api/v1/instruments/{id}`); people-only when the
/// operation is in neither table.
pub fn needed(method: &str, pattern: &str) -> Need {
    if let Some((_, _, need)) = OPERATIONS
        .iter()
        .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == pattern)
    {
        return *need;
    }
    PREFIXES
        .iter()
        .find(|(prefix, _)| pattern == *prefix || pattern.starts_with(&format!("{prefix}/")))
        .map_or(People, |(_, scope)| S(*scope))
}

/// Whether the table names the operation (or a prefix rule covers it).
pub fn is_decided(method: &str, pattern: &str) -> bool {
    OPERATIONS
        .iter()
        .any(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == pattern)
        || PREFIXES
            .iter()
            .any(|(prefix, _)| pattern == *prefix || pattern.starts_with(&format!("{prefix}/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for (m, p, _) in OPERATIONS {
            assert!(seen.insert((m, p)), "{m} {p} listed twice");
        }
    }

    #[test]
    fn an_unknown_route_is_for_people_and_webhooks_need_their_scope() {
        assert_eq!(needed("GET", "/api/v1/something-new"), People);
        assert_eq!(needed("get", "/api/v1/instruments/{id}"), S(CatalogRead));
        assert_eq!(needed("DELETE", "/api/v1/webhooks/{id}"), S(WebhooksManage));
        assert_eq!(needed("GET", "/api/v1/webhooks"), S(WebhooksManage));
        assert_eq!(needed("GET", "/api/v1/webhooksx"), People);
    }
}
