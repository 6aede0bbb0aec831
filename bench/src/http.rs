//! The load generator: 64 concurrent workers over loopback.

use crate::prepare::Plan;
use crate::stats::{Measure, Tickets, Worker};
use crate::{Options, CONCURRENCY, OPERATIONS, YEAR};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request: method, path, token, body, expected status.
struct Req {
    method: Method,
    path: String,
    token: String,
    body: Option<Value>,
    expect: u16,
}

async fn send(client: &Client, base: &str, r: Req) -> Result<Duration, String> {
    let started = Instant::now();
    let mut b = client.request(r.method, format!("{base}{}", r.path));
    if !r.token.is_empty() {
        b = b.bearer_auth(&r.token);
    }
    if let Some(body) = r.body {
        b = b.json(&body);
    }
    let resp = b.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp.bytes().await.map_err(|e| e.to_string())?;
    let took = started.elapsed();
    if status == r.expect {
        Ok(took)
    } else {
        Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&text).chars().take(300).collect::<String>()
        ))
    }
}

async fn sign_in(client: &Client, base: &str, username: &str) -> Result<String, String> {
    let body = json!({"grant_type": "password", "username": username, "password": labshare_api::seed::DEMO_PASSWORD});
    let resp = client
        .post(format!("{base}/api/v1/auth/token"))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let v: Value = resp.json().await.map_err(|e| e.to_string())?;
    v["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("sign-in of {username}: {v}"))
}

async fn wait_ready(client: &Client, base: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("the server did not answer /healthz within 120 s".into())
}

/// Runs `make(i)` from 64 workers until `count` requests (or, with no
/// count, until `seconds` have passed).
async fn load(
    client: &Client,
    base: &str,
    op: &'static str,
    count: Option<usize>,
    seconds: u64,
    make: Arc<dyn Fn(usize) -> Req + Send + Sync>,
) -> Measure {
    let tickets = Arc::new(Tickets::new(count, seconds));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, base, tickets, make) = (client.clone(), base.to_owned(), tickets.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut w = Worker::default();
            while let Some(i) = tickets.take() {
                match send(&client, &base, make(i)).await {
                    Ok(took) => w.ok(took),
                    Err(e) => w.fail(e),
                }
            }
            w
        }));
    }
    let mut m = Measure::new(op);
    for t in tasks {
        match t.await {
            Ok(w) => m.merge(w),
            Err(e) => m.merge(Worker {
                errors: 1,
                error_samples: vec![e.to_string()],
                ..Worker::default()
            }),
        }
    }
    m.elapsed = started.elapsed();
    m
}

/// One request at a time, `runs` times.
async fn single(client: &Client, base: &str, op: &'static str, runs: usize, make: impl Fn(usize) -> Req) -> Measure {
    let mut w = Worker::default();
    let started = Instant::now();
    for i in 0..runs {
        match send(client, base, make(i)).await {
            Ok(took) => w.ok(took),
            Err(e) => w.fail(e),
        }
    }
    let mut m = Measure::new(op);
    m.merge(w);
    m.elapsed = started.elapsed();
    m
}

/// Measures every operation through the API.
///
/// # Errors
/// When the server does not start or nobody can sign in.
pub async fn run(base: &str, plan: &Plan, o: &Options) -> Result<Vec<Measure>, String> {
    let client = Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| e.to_string())?;
    wait_ready(&client, base).await?;
    // Tokens: the readers, every booker, the platform office.
    let mut names: Vec<String> = plan.readers.iter().map(|(_, n)| n.clone()).collect();
    names.extend(plan.windows[..plan.writes].iter().map(|b| b.username.clone()));
    names.push("admin".into());
    names.sort();
    names.dedup();
    let mut tokens: HashMap<String, String> = HashMap::new();
    for chunk in names.chunks(8) {
        let mut tasks = Vec::new();
        for n in chunk {
            let (client, base, n) = (client.clone(), base.to_owned(), n.clone());
            tasks.push(tokio::spawn(
                async move { (n.clone(), sign_in(&client, &base, &n).await) },
            ));
        }
        for t in tasks {
            let (n, tok) = t.await.map_err(|e| e.to_string())?;
            tokens.insert(n, tok?);
        }
    }
    eprintln!("   signed in {} accounts; measuring the API ...", tokens.len());
    let tokens = Arc::new(tokens);
    let token = |n: &str| tokens.get(n).cloned().unwrap_or_default();
    let readers: Arc<Vec<String>> = Arc::new(plan.readers.iter().map(|(_, n)| token(n)).collect());
    let admin = token("admin");
    let mut out = Vec::new();

    if o.heavy_only {
        out.extend(OPERATIONS[..4].iter().map(|op| Measure::new(op)));
    } else {
        let r = readers.clone();
        out.push(
            load(
                &client,
                base,
                OPERATIONS[0],
                None,
                o.seconds,
                Arc::new(move |i| Req {
                    method: Method::GET,
                    path: "/api/v1/instruments".into(),
                    token: r[i % r.len()].clone(),
                    body: None,
                    expect: 200,
                }),
            )
            .await,
        );

        let (r, instruments) = (readers.clone(), Arc::new(plan.instruments.clone()));
        let (from, to) = (plan.week.0.to_rfc3339(), plan.week.1.to_rfc3339());
        let range = format!("from={}&to={}", from.replace('+', "%2B"), to.replace('+', "%2B"));
        out.push(
            load(
                &client,
                base,
                OPERATIONS[1],
                None,
                o.seconds,
                Arc::new(move |i| Req {
                    method: Method::GET,
                    path: format!(
                        "/api/v1/instruments/{}/availability?{range}",
                        instruments[i % instruments.len()]
                    ),
                    token: r[i % r.len()].clone(),
                    body: None,
                    expect: 200,
                }),
            )
            .await,
        );

        let bookings: Arc<Vec<(String, Value)>> = Arc::new(
            plan.windows[..plan.writes]
                .iter()
                .map(|b| (token(&b.username), b.body.clone()))
                .collect(),
        );
        out.push(
            load(
                &client,
                base,
                OPERATIONS[2],
                Some(plan.writes),
                o.seconds,
                Arc::new(move |i| Req {
                    method: Method::POST,
                    path: "/api/v1/bookings".into(),
                    token: bookings[i].0.clone(),
                    body: Some(bookings[i].1.clone()),
                    expect: 201,
                }),
            )
            .await,
        );

        let (ids, a) = (Arc::new(plan.in_use[..plan.writes].to_vec()), admin.clone());
        out.push(
            load(
                &client,
                base,
                OPERATIONS[3],
                Some(plan.writes),
                o.seconds,
                Arc::new(move |i| Req {
                    method: Method::POST,
                    path: format!("/api/v1/bookings/{}/check-out", ids[i]),
                    token: a.clone(),
                    body: None,
                    expect: 200,
                }),
            )
            .await,
        );
    }
    out.push(
        single(&client, base, OPERATIONS[4], o.heavy_runs, |i| Req {
            method: Method::POST,
            path: "/api/v1/assessments".into(),
            token: admin.clone(),
            body: Some(assessment_body("API", i)),
            expect: 201,
        })
        .await,
    );
    out.push(
        single(&client, base, OPERATIONS[5], o.heavy_runs, |_| Req {
            method: Method::GET,
            path: format!("/api/v1/reports/usage?from={YEAR}-01-01&to={YEAR}-12-31"),
            token: admin.clone(),
            body: None,
            expect: 200,
        })
        .await,
    );
    // The floor under the same load: what the server answers with no work
    // (liveness) and with one pooled connection and a trivial query
    // (readiness). No operation can be faster than these on this machine.
    for (op, path) in [(OPERATIONS[6], "/healthz"), (OPERATIONS[7], "/readyz")] {
        if o.heavy_only {
            out.push(Measure::new(op));
            continue;
        }
        out.push(
            load(
                &client,
                base,
                op,
                None,
                o.seconds,
                Arc::new(move |_| Req {
                    method: Method::GET,
                    path: path.into(),
                    token: String::new(),
                    body: None,
                    expect: 200,
                }),
            )
            .await,
        );
    }
    Ok(out)
}

/// The annual assessment of the generated year.
pub fn assessment_body(side: &str, i: usize) -> Value {
    json!({
        "name": format!("{YEAR}年度考核 基准 {side} {i}"),
        "period_from": format!("{YEAR}-01-01"),
        "period_to": format!("{YEAR}-12-31"),
        "reward_pool": "1000000.00",
    })
}
