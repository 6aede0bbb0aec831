//! The same work in-process: the transaction each handler runs (through the
//! `persistence` functions it calls, from the check of the session on), on
//! a pool of the server's size, from 64 threads — without HTTP, JSON or the
//! token's signature.

use crate::http::assessment_body;
use crate::prepare::Plan;
use crate::stats::{Measure, Tickets, Worker};
use crate::{Options, CONCURRENCY, OPERATIONS, YEAR};
use chrono::{Duration, Utc};
use labshare_api::auth::Bearer;
use labshare_api::error::ApiError;
use labshare_api::routes::{assessments, bookings, instruments, reports, schedule};
use labshare_api::state::Ctx;
use labshare_domain::access::instrument_visibility;
use labshare_domain::booking::{BookingAction, TimeWindow};
use labshare_domain::policy::Policy;
use labshare_domain::Money;
use labshare_domain::UserId;
use labshare_persistence::instruments::Filter;
use labshare_persistence::{read_tx, write_tx, DbConn, DbPool};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

type Op = Arc<dyn Fn(&mut DbConn, usize) -> Result<(), ApiError> + Send + Sync>;

/// A signed-in session of every account the in-process run acts for (of
/// the database measured now).
static SESSIONS: RwLock<Option<HashMap<i64, i64>>> = RwLock::new(None);

/// Opens a session for each of `users`, as a sign-in would.
fn sign_in(pool: &DbPool, users: &[i64]) -> Result<HashMap<i64, i64>, String> {
    let mut c = pool.get().map_err(|e| e.to_string())?;
    let now = Utc::now().naive_utc();
    write_tx(&mut c, |c| {
        let mut out = HashMap::new();
        for (n, user) in users.iter().enumerate() {
            let hash = format!("bench-direct-{}-{n}", std::process::id());
            let expires = now + Duration::hours(8);
            let session = labshare_persistence::auth::open_session(c, UserId(*user), &hash, now, expires, expires)?;
            out.insert(*user, session);
        }
        Ok(out)
    })
    .map_err(|e: labshare_persistence::RepoError| e.to_string())
}

/// What [`labshare_api::state::AppState::read`] and `write` do in the
/// transaction before the handler's own work, for `user`'s session.
fn ctx(c: &mut DbConn, user: i64) -> Result<Ctx, ApiError> {
    let session = SESSIONS
        .read()
        .ok()
        .and_then(|s| s.as_ref().and_then(|s| s.get(&user).copied()))
        .unwrap_or_default();
    let bearer = Bearer {
        user: UserId(user),
        session,
        service: None,
    };
    Ctx::signed_in(c, &bearer, Utc::now(), &Policy::default())
}

fn load(pool: &DbPool, op: &'static str, count: Option<usize>, seconds: u64, f: Op) -> Measure {
    let tickets = Arc::new(Tickets::new(count, seconds));
    let started = Instant::now();
    let mut threads = Vec::new();
    for _ in 0..CONCURRENCY {
        let (pool, tickets, f) = (pool.clone(), tickets.clone(), f.clone());
        threads.push(std::thread::spawn(move || {
            let mut w = Worker::default();
            while let Some(i) = tickets.take() {
                let t = Instant::now();
                let r = pool.get().map_err(ApiError::from).and_then(|mut c| f(&mut c, i));
                match r {
                    Ok(()) => w.ok(t.elapsed()),
                    Err(e) => w.fail(format!("{e:?}")),
                }
            }
            w
        }));
    }
    let mut m = Measure::new(op);
    for t in threads {
        match t.join() {
            Ok(w) => m.merge(w),
            Err(_) => m.merge(Worker {
                errors: 1,
                error_samples: vec!["worker panicked".into()],
                ..Worker::default()
            }),
        }
    }
    m.elapsed = started.elapsed();
    m
}

fn single(pool: &DbPool, op: &'static str, runs: usize, f: Op) -> Measure {
    let mut w = Worker::default();
    let started = Instant::now();
    for i in 0..runs {
        let t = Instant::now();
        match pool.get().map_err(ApiError::from).and_then(|mut c| f(&mut c, i)) {
            Ok(()) => w.ok(t.elapsed()),
            Err(e) => w.fail(format!("{e:?}")),
        }
    }
    let mut m = Measure::new(op);
    m.merge(w);
    m.elapsed = started.elapsed();
    m
}

/// Measures every operation in-process, in the order of [`OPERATIONS`].
///
/// # Errors
/// A plan that cannot be turned into requests.
pub fn run(pool: &DbPool, plan: &Plan, o: &Options) -> Result<Vec<Measure>, String> {
    eprintln!("   measuring in-process ...");
    let readers: Arc<Vec<i64>> = Arc::new(plan.readers.iter().map(|(id, _)| *id).collect());
    let mut users: Vec<i64> = readers.to_vec();
    users.extend(plan.windows[plan.writes..].iter().map(|b| b.user_id));
    users.push(plan.admin_id);
    users.sort_unstable();
    users.dedup();
    let sessions = sign_in(pool, &users)?;
    *SESSIONS.write().map_err(|e| e.to_string())? = Some(sessions);
    let (after, limit) = labshare_api::dto::page_args(None, None).map_err(|e| format!("{e:?}"))?;
    let mut out = Vec::new();

    if o.heavy_only {
        out.extend(OPERATIONS[..4].iter().map(|op| Measure::new(op)));
    } else {
        let r = readers.clone();
        out.push(load(
            pool,
            OPERATIONS[0],
            None,
            o.seconds,
            Arc::new(move |c, i| {
                read_tx(c, |c| {
                    let ctx = ctx(c, r[i % r.len()])?;
                    let filter = Filter {
                        visibility: instrument_visibility(&ctx.actor),
                        institution_id: None,
                        lab_id: None,
                        category_prefix: None,
                        sharing_scope: None,
                        service_mode: None,
                        status: None,
                        listing_status: None,
                        q: None,
                        after,
                        limit,
                    };
                    instruments::list_in(c, &ctx, &filter).map(|_| ())
                })
            }),
        ));

        let (r, ids) = (readers.clone(), Arc::new(plan.instruments.clone()));
        let range = TimeWindow::new(plan.week.0, plan.week.1).map_err(|e| e.to_string())?;
        out.push(load(
            pool,
            OPERATIONS[1],
            None,
            o.seconds,
            Arc::new(move |c, i| {
                read_tx(c, |c| {
                    let ctx = ctx(c, r[i % r.len()])?;
                    schedule::availability_in(c, &ctx, ids[i % ids.len()], &range).map(|_| ())
                })
            }),
        ));

        let mut inputs = Vec::new();
        for b in &plan.windows[plan.writes..] {
            let input: bookings::BookingInput = serde_json::from_value(b.body.clone()).map_err(|e| e.to_string())?;
            let window = TimeWindow::new(input.starts_at, input.ends_at).map_err(|e| e.to_string())?;
            inputs.push((b.user_id, input, window));
        }
        let inputs = Arc::new(inputs);
        out.push(load(
            pool,
            OPERATIONS[2],
            Some(plan.writes),
            o.seconds,
            Arc::new(move |c, i| {
                let (user, input, window) = &inputs[i];
                write_tx(c, |c| {
                    let ctx = ctx(c, *user)?;
                    bookings::create_in(c, &ctx, input, *window).map(|_| ())
                })
            }),
        ));

        let (ids, admin) = (Arc::new(plan.in_use[plan.writes..].to_vec()), plan.admin_id);
        out.push(load(
            pool,
            OPERATIONS[3],
            Some(plan.writes),
            o.seconds,
            Arc::new(move |c, i| {
                write_tx(c, |c| {
                    let ctx = ctx(c, admin)?;
                    bookings::step(c, &ctx, ids[i], BookingAction::CheckOut).map(|_| ())
                })
            }),
        ));
    }
    let admin = plan.admin_id;
    let reward = Money::parse("1000000.00").map_err(|e| e.to_string())?;
    out.push(single(
        pool,
        OPERATIONS[4],
        o.heavy_runs,
        Arc::new(move |c, i| {
            let input: assessments::AssessmentInput =
                serde_json::from_value(assessment_body("direct", i)).map_err(|_| ApiError::NotFound)?;
            write_tx(c, |c| {
                let ctx = ctx(c, admin)?;
                assessments::create_in(c, &ctx, &input, reward).map(|_| ())
            })
        }),
    ));

    out.push(single(
        pool,
        OPERATIONS[5],
        o.heavy_runs,
        Arc::new(move |c, _| {
            read_tx(c, |c| {
                let ctx = ctx(c, admin)?;
                let scope = reports::scope(&ctx)?;
                let period = reports::period(&format!("{YEAR}-01-01"), &format!("{YEAR}-12-31"))?;
                let filters = reports::UsageFilters {
                    group_by: reports::GroupBy::default(),
                    institution_id: None,
                    category_code: None,
                };
                reports::usage_report(c, &ctx, &period, &filters, scope).map(|_| ())
            })
        }),
    ));
    // The floors are the server's alone (HTTP with no work, and a ping).
    out.extend(OPERATIONS[6..].iter().map(|op| Measure::new(op)));
    Ok(out)
}
