//! The HTTP API of LabShare.

pub mod auth;
pub mod billing;
pub mod config;
pub mod cors;
pub mod dispatch;
pub mod dto;
pub mod error;
pub mod etag;
pub mod export;
pub mod extract;
pub mod i18n;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod request_log;
pub mod routes;
pub mod scale;
pub mod scopes;
pub mod seed;
pub mod state;
pub mod sweep;

use crate::error::ApiError;
use crate::routes::{
    assessments, audit, auth as auth_routes, bookings, calendar, charges, fees, institutions, instruments, labs, ops,
    policy, purchase_reviews, qualifications, ratings, reports, schedule, service, service_accounts, statements,
    subsidies, usage, users, webhooks,
};
use crate::state::AppState;
use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use utoipa_swagger_ui::SwaggerUi;

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(openapi::document())
}

/// A resource whose other methods answer 405 as a problem.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// Mounts every route; used by the server and by in-process tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(ops::healthz)))
        .service(resource("/readyz").route(web::get().to(ops::readyz)))
        .service(resource("/metrics").route(web::get().to(metrics::metrics)))
        .service(resource("/api/openapi.json").route(web::get().to(openapi_json)))
        .service(
            web::scope("/api/v1")
                .service(resource("/auth/token").route(web::post().to(auth_routes::token)))
                .service(resource("/auth/logout").route(web::post().to(auth_routes::logout)))
                .service(resource("/me").route(web::get().to(auth_routes::me)))
                .service(
                    resource("/me/calendar-token")
                        .route(web::post().to(calendar::rotate_token))
                        .route(web::delete().to(calendar::revoke_token)),
                )
                .service(resource("/calendar/{token}.ics").route(web::get().to(calendar::personal_feed)))
                .service(
                    resource("/institutions")
                        .route(web::get().to(institutions::list))
                        .route(web::post().to(institutions::create)),
                )
                .service(
                    resource("/institutions/{id}")
                        .route(web::get().to(institutions::get))
                        .route(web::patch().to(institutions::update)),
                )
                .service(
                    resource("/labs")
                        .route(web::get().to(labs::list))
                        .route(web::post().to(labs::create)),
                )
                .service(
                    resource("/labs/{id}")
                        .route(web::get().to(labs::get))
                        .route(web::patch().to(labs::update)),
                )
                .service(
                    resource("/instruments")
                        .route(web::get().to(instruments::list))
                        .route(web::post().to(instruments::create)),
                )
                .service(resource("/instruments/listing-overdue").route(web::get().to(instruments::listing_overdue)))
                .service(
                    resource("/instruments/{id}")
                        .route(web::get().to(instruments::get))
                        .route(web::patch().to(instruments::update)),
                )
                .service(resource("/instruments/{id}/managers").route(web::put().to(instruments::set_managers)))
                .service(
                    resource("/instruments/{id}/listing/submit").route(web::post().to(instruments::submit_listing)),
                )
                .service(
                    resource("/instruments/{id}/listing/approve").route(web::post().to(instruments::approve_listing)),
                )
                .service(
                    resource("/instruments/{id}/listing/reject").route(web::post().to(instruments::reject_listing)),
                )
                .service(
                    resource("/users")
                        .route(web::get().to(users::list))
                        .route(web::post().to(users::create)),
                )
                .service(
                    resource("/users/{id}")
                        .route(web::get().to(users::get))
                        .route(web::patch().to(users::update)),
                )
                .service(resource("/audit-events/verify").route(web::get().to(audit::verify)))
                .service(resource("/audit-events").route(web::get().to(audit::list)))
                .service(
                    resource("/instruments/{id}/booking-rules")
                        .route(web::get().to(schedule::get_rules))
                        .route(web::put().to(schedule::set_rules)),
                )
                .service(
                    resource("/instruments/{id}/opening-hours")
                        .route(web::get().to(schedule::get_opening))
                        .route(web::put().to(schedule::set_opening)),
                )
                .service(
                    resource("/instruments/{id}/blackouts")
                        .route(web::get().to(schedule::list_blackouts))
                        .route(web::post().to(schedule::create_blackout)),
                )
                .service(resource("/instruments/{id}/availability").route(web::get().to(schedule::get_availability)))
                .service(resource("/instruments/{id}/calendar.ics").route(web::get().to(calendar::instrument_feed)))
                .service(resource("/blackouts/{id}/cancel").route(web::post().to(schedule::cancel_blackout)))
                .service(
                    resource("/qualifications")
                        .route(web::get().to(qualifications::list))
                        .route(web::post().to(qualifications::create)),
                )
                .service(resource("/qualifications/{id}/revoke").route(web::post().to(qualifications::revoke)))
                .service(
                    resource("/bookings")
                        .route(web::get().to(bookings::list))
                        .route(web::post().to(bookings::create)),
                )
                .service(resource("/bookings/{id}").route(web::get().to(bookings::get)))
                .service(resource("/bookings/{id}/approve").route(web::post().to(bookings::approve)))
                .service(resource("/bookings/{id}/reject").route(web::post().to(bookings::reject)))
                .service(resource("/bookings/{id}/cancel").route(web::post().to(bookings::cancel)))
                .service(resource("/bookings/{id}/check-in").route(web::post().to(bookings::check_in)))
                .service(resource("/bookings/{id}/check-out").route(web::post().to(bookings::check_out)))
                .service(resource("/bookings/{id}/no-show").route(web::post().to(bookings::no_show)))
                .service(resource("/bookings/{id}/rating").route(web::post().to(ratings::rate_booking)))
                .service(resource("/ratings").route(web::get().to(ratings::list)))
                .service(
                    resource("/usage-records")
                        .route(web::get().to(usage::list))
                        .route(web::post().to(usage::create)),
                )
                .service(resource("/usage-records/{id}").route(web::get().to(usage::get)))
                .service(
                    resource("/service-items")
                        .route(web::get().to(service::list_items))
                        .route(web::post().to(service::create_item)),
                )
                .service(
                    resource("/service-items/{id}")
                        .route(web::get().to(service::get_item))
                        .route(web::put().to(service::update_item)),
                )
                .service(
                    resource("/service-orders")
                        .route(web::get().to(service::list_orders))
                        .route(web::post().to(service::create_order)),
                )
                .service(resource("/service-orders/{id}").route(web::get().to(service::get_order)))
                .service(resource("/service-orders/{id}/accept").route(web::post().to(service::accept_order)))
                .service(resource("/service-orders/{id}/reject").route(web::post().to(service::reject_order)))
                .service(resource("/service-orders/{id}/receive-samples").route(web::post().to(service::receive_order)))
                .service(resource("/service-orders/{id}/complete").route(web::post().to(service::complete_order)))
                .service(resource("/service-orders/{id}/cancel").route(web::post().to(service::cancel_order)))
                .service(resource("/service-orders/{id}/rating").route(web::post().to(ratings::rate_order)))
                .service(
                    resource("/policy")
                        .route(web::get().to(policy::get))
                        .route(web::put().to(policy::update)),
                )
                .service(
                    resource("/assessments")
                        .route(web::get().to(assessments::list))
                        .route(web::post().to(assessments::create)),
                )
                .service(resource("/assessments/{id}").route(web::get().to(assessments::get)))
                .service(resource("/assessments/{id}/compute").route(web::post().to(assessments::recompute)))
                .service(resource("/assessments/{id}/publish").route(web::post().to(assessments::publish)))
                .service(resource("/assessments/{id}/instruments").route(web::get().to(assessments::instruments)))
                .service(resource("/assessments/{id}/units").route(web::get().to(assessments::units)))
                .service(
                    resource("/assessments/{id}/units/{institution_id}/management")
                        .route(web::put().to(assessments::set_management)),
                )
                .service(resource("/assessments/{id}/use-of-results").route(web::get().to(assessments::use_of_results)))
                .service(resource("/charges").route(web::get().to(charges::list)))
                .service(resource("/charges/export").route(web::get().to(charges::export_charges)))
                .service(resource("/charges/{id}").route(web::get().to(charges::get)))
                .service(resource("/charges/{id}/adjust").route(web::post().to(charges::adjust)))
                .service(resource("/statements").route(web::get().to(statements::list)))
                .service(resource("/statements/generate").route(web::post().to(statements::generate)))
                .service(resource("/statements/export").route(web::get().to(statements::export_statements)))
                .service(resource("/statements/{id}").route(web::get().to(statements::get)))
                .service(resource("/statements/{id}/issue").route(web::post().to(statements::issue)))
                .service(resource("/statements/{id}/pay").route(web::post().to(statements::pay)))
                .service(resource("/statements/{id}/dispute").route(web::post().to(statements::dispute)))
                .service(resource("/statements/{id}/resolve").route(web::post().to(statements::resolve)))
                .service(resource("/reports/usage").route(web::get().to(reports::usage)))
                .service(resource("/reports/finance").route(web::get().to(reports::finance)))
                .service(resource("/reports/national-export").route(web::get().to(reports::national)))
                .service(
                    resource("/purchase-reviews")
                        .route(web::get().to(purchase_reviews::list))
                        .route(web::post().to(purchase_reviews::file)),
                )
                .service(resource("/purchase-reviews/{id}").route(web::get().to(purchase_reviews::get)))
                .service(resource("/purchase-reviews/{id}/approve").route(web::post().to(purchase_reviews::approve)))
                .service(resource("/purchase-reviews/{id}/reject").route(web::post().to(purchase_reviews::reject)))
                .service(resource("/purchase-reviews/{id}/withdraw").route(web::post().to(purchase_reviews::withdraw)))
                .service(
                    resource("/fee-standards")
                        .route(web::get().to(fees::list))
                        .route(web::post().to(fees::propose)),
                )
                .service(resource("/fee-standards/estimate").route(web::post().to(fees::estimate_fees)))
                .service(resource("/fee-standards/{id}").route(web::get().to(fees::get)))
                .service(resource("/fee-standards/{id}/approve").route(web::post().to(fees::approve)))
                .service(resource("/fee-standards/{id}/reject").route(web::post().to(fees::reject)))
                .service(
                    resource("/subsidy-programmes")
                        .route(web::get().to(subsidies::list_programmes))
                        .route(web::post().to(subsidies::create_programme)),
                )
                .service(
                    resource("/subsidy-programmes/{id}")
                        .route(web::get().to(subsidies::get_programme))
                        .route(web::patch().to(subsidies::update_programme)),
                )
                .service(
                    resource("/subsidy-programmes/{id}/approve").route(web::post().to(subsidies::approve_programme)),
                )
                .service(
                    resource("/subsidy-programmes/{id}/activate").route(web::post().to(subsidies::activate_programme)),
                )
                .service(resource("/subsidy-programmes/{id}/close").route(web::post().to(subsidies::close_programme)))
                .service(
                    resource("/subsidy-grants")
                        .route(web::get().to(subsidies::list_grants))
                        .route(web::post().to(subsidies::apply)),
                )
                .service(resource("/subsidy-grants/{id}").route(web::get().to(subsidies::get_grant)))
                .service(resource("/subsidy-grants/{id}/approve").route(web::post().to(subsidies::approve_grant)))
                .service(resource("/subsidy-grants/{id}/reject").route(web::post().to(subsidies::reject_grant)))
                .service(
                    resource("/service-accounts")
                        .route(web::get().to(service_accounts::list))
                        .route(web::post().to(service_accounts::create)),
                )
                .service(
                    resource("/service-accounts/{id}")
                        .route(web::get().to(service_accounts::get))
                        .route(web::patch().to(service_accounts::update)),
                )
                .service(
                    resource("/service-accounts/{id}/rotate-secret")
                        .route(web::post().to(service_accounts::rotate_secret)),
                )
                .service(resource("/service-accounts/{id}/revoke").route(web::post().to(service_accounts::revoke)))
                .service(
                    resource("/webhooks")
                        .route(web::get().to(webhooks::list))
                        .route(web::post().to(webhooks::create)),
                )
                .service(resource("/webhooks/event-types").route(web::get().to(webhooks::event_types)))
                .service(
                    resource("/webhooks/{id}")
                        .route(web::get().to(webhooks::get))
                        .route(web::patch().to(webhooks::update))
                        .route(web::delete().to(webhooks::delete)),
                )
                .service(resource("/webhooks/{id}/rotate-secret").route(web::post().to(webhooks::rotate_secret)))
                .service(resource("/webhooks/{id}/ping").route(web::post().to(webhooks::ping)))
                .service(resource("/webhooks/{id}/deliveries").route(web::get().to(webhooks::deliveries)))
                .service(
                    resource("/webhooks/{id}/deliveries/{delivery_id}/redeliver")
                        .route(web::post().to(webhooks::redeliver)),
                ),
        )
        .service(web::redirect("/docs", "/docs/"))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/api/openapi.json", openapi::document()));
}

/// Builds and starts the server on an already bound listener.
///
/// # Errors
/// I/O errors of the listener.
/// `sweep_every` runs the booking sweep in the background (tests pass
/// `None` and call [`sweep::run_once`] on their own clock). Must be called
/// inside an actix runtime.
pub fn serve(
    state: AppState,
    listener: std::net::TcpListener,
    sweep_every: Option<std::time::Duration>,
) -> std::io::Result<Server> {
    if let Some(every) = sweep_every {
        actix_web::rt::spawn(sweep::run_forever(state.clone(), every));
    }
    if let Some(every) = state.webhooks.every {
        actix_web::rt::spawn(dispatch::run_forever(state.clone(), every));
    }
    // Every blocking task of a worker holds or waits for one of the pool's
    // connections: more threads than connections would only wait, each
    // keeping allocator memory of its own (actix's default is 512 ÷ CPUs).
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let blocking = usize::try_from(state.pool.max_size())
        .unwrap_or(8)
        .div_ceil(workers)
        .max(2);
    let data = web::Data::new(state);
    // One set of metrics for every worker of this server.
    let counters = web::Data::new(metrics::Metrics::default());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(counters.clone())
            .wrap(actix_web::middleware::from_fn(i18n::localise))
            .wrap(actix_web::middleware::from_fn(idempotency::guard))
            .wrap(actix_web::middleware::from_fn(metrics::record))
            .app_data(web::PayloadConfig::new(extract::BODY_LIMIT))
            .wrap(actix_web::middleware::from_fn(cors::apply))
            .wrap(actix_web::middleware::from_fn(request_log::tag))
            .configure(configure)
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .worker_max_blocking_threads(blocking)
    .listen(listener)?
    .shutdown_timeout(30)
    .run();
    Ok(server)
}
