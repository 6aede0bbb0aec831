//! Operational endpoints outside the version prefix.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Health of the process or of its dependencies.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// Liveness: the process answers.
///
/// Answers 200 while the process serves requests; for the load balancer's liveness probe. No authentication.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok".into() })
}

/// Readiness: the database answers.
///
/// Answers 200 when a pooled database connection answers a query, else 503; for the load balancer's readiness probe. No authentication.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses((status = 200, description = "Ready", body = Health),
              (status = 503, description = "The database does not answer", body = Health)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let ok = web::block(move || -> Result<(), ApiError> {
        let mut conn = pool.get()?;
        Ok(labshare_persistence::ping(&mut conn)?)
    })
    .await;
    match ok {
        Ok(Ok(())) => HttpResponse::Ok().json(Health { status: "ok".into() }),
        _ => HttpResponse::ServiceUnavailable().json(Health {
            status: "database unavailable".into(),
        }),
    }
}
