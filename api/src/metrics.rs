//! Prometheus metrics of this server process: requests and their latency
//! by route pattern and status, and the database pool. Each server keeps its
//! own; Prometheus scrapes and adds them up.

use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    /// Observations at or below each bound of [`BUCKETS`] (not cumulative).
    buckets: [u64; BUCKETS.len()],
}

/// The requests seen, keyed by method, route pattern and status.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    /// Records one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let s = series.entry((method.to_owned(), route.to_owned(), status)).or_default();
        s.count += 1;
        s.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            s.buckets[i] += 1;
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, pool: &r2d2::State, pool_max: u32) -> String {
        let mut out = String::new();
        let series = self.series.lock().map(|s| s.clone()).unwrap_or_default();
        let label = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        out.push_str("# HELP labshare_http_requests_total Requests answered, by method, route pattern and status.\n");
        out.push_str("# TYPE labshare_http_requests_total counter\n");
        for ((method, route, status), s) in &series {
            let _ = writeln!(
                out,
                "labshare_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {}",
                label(method),
                label(route),
                s.count
            );
        }
        out.push_str(
            "# HELP labshare_http_request_duration_seconds Time to answer, by method, route pattern and status.\n",
        );
        out.push_str("# TYPE labshare_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in &series {
            let labels = format!(
                "method=\"{}\",route=\"{}\",status=\"{status}\"",
                label(method),
                label(route)
            );
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "labshare_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "labshare_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(out, "labshare_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(
                out,
                "labshare_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out.push_str("# HELP labshare_db_pool_connections Database connections open, in use or idle.\n");
        out.push_str("# TYPE labshare_db_pool_connections gauge\n");
        let _ = writeln!(
            out,
            "labshare_db_pool_connections{{state=\"open\"}} {}",
            pool.connections
        );
        let _ = writeln!(
            out,
            "labshare_db_pool_connections{{state=\"idle\"}} {}",
            pool.idle_connections
        );
        let _ = writeln!(
            out,
            "labshare_db_pool_connections{{state=\"in_use\"}} {}",
            pool.connections.saturating_sub(pool.idle_connections)
        );
        out.push_str("# HELP labshare_db_pool_max_connections The most connections the pool opens.\n");
        out.push_str("# TYPE labshare_db_pool_max_connections gauge\n");
        let _ = writeln!(out, "labshare_db_pool_max_connections {pool_max}");
        out
    }
}

/// Times every request and records it under its route pattern (never the
/// path itself, which would carry ids and the secret of a calendar feed).
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let res = next.call(req).await?;
    if let Some(m) = metrics {
        m.observe(&method, &route, res.status().as_u16(), started.elapsed().as_secs_f64());
    }
    Ok(res)
}

/// Prometheus metrics.
///
/// Requests and latency histograms by route pattern and status since this
/// server started, and the database pool's connections; for the
/// operators' Prometheus (keep it on the internal network).
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain",
        body = String, example = json!("# TYPE labshare_http_requests_total counter\nlabshare_http_requests_total{method=\"GET\",route=\"/api/v1/instruments\",status=\"200\"} 12\n"))))]
pub async fn metrics(state: web::Data<AppState>, metrics: web::Data<Metrics>) -> HttpResponse {
    let pool = state.pool.state();
    let max = state.pool.max_size();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(&pool, max))
}
