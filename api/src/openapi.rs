//! The published contract: every operation, its schemas and its errors.

use crate::error::{FieldProblem, Problem};
use crate::routes::{
    assessments, audit, auth, bookings, calendar, charges, fees, institutions, instruments, labs, ops, policy,
    purchase_reviews, qualifications, ratings, reports, schedule, service, service_accounts, statements, subsidies,
    usage, users, webhooks,
};
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "LabShare API",
        description = "南宁市卫生健康委员会共享实验室平台 — the shared laboratory platform of the Nanning Municipal Health Commission: catalogue and listing, booking and use, sample services, fees, subsidies and statements, accounts and audit.",
        version = "1.0.0",
        license(name = "Apache-2.0"),
        contact(name = "南宁市卫生健康委员会 共享实验室平台办公室 (the platform office)")
    ),
    servers((url = "/", description = "The server that serves this document")),
    paths(
        auth::token, auth::logout, auth::me,
        institutions::create, institutions::list, institutions::get, institutions::update,
        labs::create, labs::list, labs::get, labs::update,
        instruments::create, instruments::list, instruments::get, instruments::update,
        instruments::set_managers, instruments::listing_overdue,
        instruments::submit_listing, instruments::approve_listing, instruments::reject_listing,
        users::create, users::list, users::get, users::update,
        audit::list, audit::verify,
        schedule::get_rules, schedule::set_rules, schedule::get_opening, schedule::set_opening,
        schedule::create_blackout, schedule::list_blackouts, schedule::cancel_blackout, schedule::get_availability,
        qualifications::create, qualifications::list, qualifications::revoke,
        bookings::create, bookings::list, bookings::get, bookings::approve, bookings::reject, bookings::cancel,
        bookings::check_in, bookings::check_out, bookings::no_show,
        usage::create, usage::list, usage::get,
        service::create_item, service::list_items, service::get_item, service::update_item,
        service::create_order, service::list_orders, service::get_order, service::accept_order,
        service::reject_order, service::receive_order, service::complete_order, service::cancel_order,
        ratings::rate_booking, ratings::rate_order, ratings::list,
        calendar::instrument_feed, calendar::rotate_token, calendar::revoke_token, calendar::personal_feed,
        fees::propose, fees::list, fees::get, fees::approve, fees::reject, fees::estimate_fees,
        subsidies::create_programme, subsidies::list_programmes, subsidies::get_programme, subsidies::update_programme,
        subsidies::approve_programme, subsidies::activate_programme, subsidies::close_programme,
        subsidies::apply, subsidies::list_grants, subsidies::get_grant, subsidies::approve_grant, subsidies::reject_grant,
        policy::get, policy::update,
        assessments::create, assessments::list, assessments::get, assessments::recompute, assessments::set_management,
        assessments::publish, assessments::instruments, assessments::units, assessments::use_of_results,
        charges::list, charges::get, charges::adjust, charges::export_charges,
        statements::generate, statements::list, statements::get, statements::export_statements,
        statements::issue, statements::pay, statements::dispute, statements::resolve,
        purchase_reviews::file, purchase_reviews::list, purchase_reviews::get,
        purchase_reviews::approve, purchase_reviews::reject, purchase_reviews::withdraw,
        reports::usage, reports::finance, reports::national,
        service_accounts::create, service_accounts::list, service_accounts::get, service_accounts::update,
        service_accounts::rotate_secret, service_accounts::revoke,
        webhooks::event_types, webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::rotate_secret, webhooks::ping, webhooks::deliveries, webhooks::redeliver,
        ops::healthz, ops::readyz, crate::metrics::metrics,
    ),
    components(schemas(Problem, FieldProblem, crate::export::Format)),
    modifiers(&ScopeSecurity, &Conventions, &IdempotencyKeys),
    tags(
        (name = "auth", description = "Sign-in, tokens and the signed-in account"),
        (name = "institutions", description = "Member units and external organisations"),
        (name = "labs", description = "Laboratories of an institution"),
        (name = "instruments", description = "The instrument catalogue"),
        (name = "listing", description = "Listing (入网) of instruments in the shared pool"),
        (name = "users", description = "Accounts and roles"),
        (name = "audit", description = "The audit trail"),
        (name = "schedule", description = "Booking rules, opening hours, blackouts and availability of instruments"),
        (name = "qualifications", description = "上机资格 on instruments and biosafety qualifications"),
        (name = "bookings", description = "Booking instrument time, from request to check-out"),
        (name = "service", description = "Sample testing (委托检测): service items and orders"),
        (name = "usage", description = "Usage records (机时记录): actual use, billed and effective time"),
        (name = "ratings", description = "Ratings (1–5, comment) of completed bookings, once each"),
        (name = "calendar", description = "iCalendar (RFC 5545) feeds: an instrument's busy time, one's own bookings"),
        (name = "fees", description = "Fee standards (收费标准): proposed by the unit, approved by the platform office, versioned; the cost calculator"),
        (name = "subsidies", description = "Subsidy programmes (专项资助), approved by the commission, and researchers' grants under them"),
        (name = "charges", description = "Charges (费用) of uses and services, priced by fee standard and tier, subsidised, corrected by adjustments"),
        (name = "statements", description = "Monthly statements (结算单) between payers and providers, and of programmes' subsidy"),
        (name = "policy", description = "The platform policy: every number of the measures an administrator may change"),
        (name = "assessments", description = "Performance assessment (考核) of instruments and units: metrics, scores, grades, publication and use of results"),
        (name = "webhooks", description = "Webhooks for integrators: subscriptions by event type, HMAC-SHA256-signed deliveries from a transactional outbox, retried with back-off, and the delivery log"),
        (name = "purchase-reviews", description = "Purchase reviews (新购查重评议): before buying an instrument of 2,000,000 CNY or more, the use of similar instruments across all units, a recommendation, and the platform office's decision"),
        (name = "reports", description = "Reports for regulators: use by instrument, institution or category, finance between units, the national-platform export; JSON, or CSV with format=csv"),
        (name = "service-accounts", description = "Service accounts (第三方系统) of hospital information systems and other unattended clients: roles and scopes given by the platform office, client credentials shown once, rotation and revocation"),
        (name = "operations", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

/// The bearer scheme and the error responses every operation shares.
struct Conventions;

fn problem(description: &str) -> RefOr<utoipa::openapi::response::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

fn etag_header() -> utoipa::openapi::header::Header {
    utoipa::openapi::header::HeaderBuilder::new()
        .schema(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String))
        .description(Some(
            "Strong entity tag of the representation: send it back in `If-None-Match` or `If-Match`",
        ))
        .build()
}

fn has_header(op: &Operation, name: &str) -> bool {
    op.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Header && p.name == name)
    })
}

/// An operation with `If-None-Match` or `If-Match` answers an `ETag`, and
/// 304 or 412 when the condition does not hold.
fn conditional(op: &mut Operation) {
    let reads = has_header(op, "If-None-Match");
    let changes = has_header(op, "If-Match");
    if !(reads || changes) {
        return;
    }
    if let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") {
        ok.headers.insert("ETag".into(), etag_header());
    }
    if reads {
        op.responses.responses.entry("304".into()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description("Not modified: `If-None-Match` names the current representation; no body")
                    .header("ETag", etag_header())
                    .build(),
            )
        });
    }
    if changes {
        add(
            op,
            "412",
            "`If-Match` names a representation that is no longer current; nothing was changed",
        );
    }
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| problem(description));
}

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = doc.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            let ops = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                conditional(op);
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                if secured {
                    add(op, "401", "Not signed in, or the session has ended");
                    add(
                        op,
                        "403",
                        "The actor's roles do not allow this operation on this object, or a service account's token lacks the scope it needs (`error: insufficient_scope`)",
                    );
                }
                if path.contains("{id}") {
                    add(op, "404", "No such object, or not visible to the actor");
                }
                if has_params {
                    add(op, "400", "A path or query parameter is invalid");
                }
                if has_body {
                    add(op, "400", "The body is not valid JSON");
                    add(op, "413", "The body is too large");
                    add(op, "415", "The body is not application/json");
                    add(op, "422", "A field breaks a rule; `errors` names each one");
                }
                add(op, "500", "The server failed; nothing internal is disclosed");
                if path.starts_with("/api/") {
                    add(
                        op,
                        "503",
                        "The database is busy; nothing was changed, retry after `Retry-After`",
                    );
                }
            }
        }
    }
}

/// The OAuth 2 client-credentials scheme with the scope catalogue, and on
/// each operation a service account may call, the scope it needs, from
/// the same table the server enforces ([`crate::scopes`]).
struct ScopeSecurity;

impl Modify for ScopeSecurity {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use labshare_domain::service_account::ApiScope;
        use labshare_domain::text_enum::TextEnum;
        use utoipa::openapi::security::{ClientCredentials, Flow, OAuth2, Scopes, SecurityRequirement};
        let scopes = Scopes::from_iter(ApiScope::ALL.iter().map(|s| (s.as_str(), s.description())));
        let scheme = OAuth2::with_description(
            [Flow::ClientCredentials(ClientCredentials::new(
                "/api/v1/auth/token",
                scopes,
            ))],
            "Service accounts: `grant_type=client_credentials` at `/api/v1/auth/token`, then `Authorization: Bearer`. \
             A token calls only the operations whose security lists one of its scopes; its roles apply on top. \
             Any other operation answers 403 `insufficient_scope`.",
        );
        if let Some(components) = doc.components.as_mut() {
            components.add_security_scheme("client_credentials", SecurityScheme::OAuth2(scheme));
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            let ops = [
                ("GET", item.get.as_mut()),
                ("POST", item.post.as_mut()),
                ("PUT", item.put.as_mut()),
                ("PATCH", item.patch.as_mut()),
                ("DELETE", item.delete.as_mut()),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                if let crate::scopes::Need::Scope(scope) = crate::scopes::needed(method, path) {
                    op.security
                        .get_or_insert_with(Vec::new)
                        .push(SecurityRequirement::new("client_credentials", [scope.as_str()]));
                }
            }
        }
    }
}

/// Documents `Idempotency-Key` on every POST that honours it (see
/// [`crate::idempotency`]): one header parameter, the same on each, and the
/// two refusals it adds.
struct IdempotencyKeys;

fn idempotency_key_parameter() -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ParameterBuilder::new()
        .name(crate::idempotency::HEADER)
        .parameter_in(ParameterIn::Header)
        .required(utoipa::openapi::Required::False)
        .description(Some(format!(
            "1 to {} printable ASCII characters chosen by the client, unique per intended request. \
             Sending the request again with the same key and body replays the first answer (header \
             `{}: true`) without a second write; the same key with another method, path or body is \
             refused (422). Keys belong to the signed-in user and expire after {} hours. Answers 5xx, \
             401, 408 and 429 give the key back for a retry.",
            crate::idempotency::MAX_KEY_LEN,
            crate::idempotency::REPLAYED,
            crate::idempotency::TTL_HOURS
        )))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(crate::idempotency::MAX_KEY_LEN))
                .pattern(Some("^[\\x20-\\x7E]+$")),
        ))
        .example(Some(serde_json::json!("3f2a9c1e-booking-2026-12-07")))
        .build()
}

impl Modify for IdempotencyKeys {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let Some(op) = item.post.as_mut() else { continue };
            if !path.starts_with("/api/v1/") || crate::idempotency::EXEMPT.contains(&path.as_str()) {
                continue;
            }
            op.parameters
                .get_or_insert_with(Vec::new)
                .push(idempotency_key_parameter());
            add(op, "400", "A path, query or header parameter is invalid");
            add(
                op,
                "409",
                "Another request with the same `Idempotency-Key` is still being answered; retry after `Retry-After`",
            );
            add(
                op,
                "422",
                "A field breaks a rule, or the `Idempotency-Key` was used for another request",
            );
        }
    }
}

/// The document the server publishes.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
