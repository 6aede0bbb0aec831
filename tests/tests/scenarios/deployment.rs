//! Several API servers on one PostgreSQL database, as behind a load balancer.

use crate::bookings::bookable_instrument;
use chrono::Duration;
use labshare_persistence::{migrate, Backend};
use labshare_tests::{both_backends, EmptyPostgres, TestApp};
use serde_json::json;

#[test]
fn servers_starting_at_once_migrate_one_after_the_other() {
    let Some(db) = EmptyPostgres::create() else {
        return;
    };
    let applied: Vec<usize> = std::thread::scope(|s| {
        let starts: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = db.url.establish().unwrap_or_else(|e| panic!("connect: {e}"));
                    migrate(&mut conn).unwrap_or_else(|e| panic!("a server failed to migrate: {e}"))
                })
            })
            .collect();
        starts
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("panicked")))
            .collect()
    });
    // One server applied every migration; the others found nothing to do.
    let all = applied.iter().copied().max().unwrap_or(0);
    assert!(all > 10, "{applied:?}");
    assert_eq!(applied.iter().filter(|n| **n == all).count(), 1, "{applied:?}");
    assert_eq!(applied.iter().filter(|n| **n == 0).count(), 3, "{applied:?}");
}

/// The minutes of use the usage report of the last 30 days counts.
fn reported_minutes(app: &TestApp, token: &str) -> i64 {
    let today = app.now().date_naive();
    let path = format!("/api/v1/reports/usage?from={}&to={today}", today - Duration::days(30));
    app.get(&path, token).expect(200).body["totals"]["effective_minutes"]
        .as_i64()
        .unwrap_or(-1)
}

both_backends! {
    fn reports_read_the_replica_they_are_given_and_sessions_the_database(app) {
        let mut app = app;
        app.seed_demo();
        // A "replica" that has moved on: a use recorded there only.
        let replica = match app.url.backend {
            Backend::Sqlite => TestApp::sqlite(),
            Backend::Postgres => TestApp::postgres().unwrap_or_else(|| panic!("postgres")),
        };
        replica.seed_demo();
        let instrument = bookable_instrument(&replica, json!(["assisted"]));
        // In service for the whole month reported.
        let commissioned = replica.now().date_naive() - Duration::days(60);
        replica.execute(&format!(
            "UPDATE instruments SET commissioning_date = '{commissioned}', purchase_date = '{commissioned}' WHERE id = {instrument}"
        ));
        let researcher = replica.get("/api/v1/me", &replica.login("researcher")).body["user"]["id"].as_i64();
        // Ended 30 h ago: in the period on the local calendar (+08:00) too.
        let end = replica.now() - Duration::hours(30);
        replica
            .post(
                "/api/v1/usage-records",
                &replica.login("manager1"),
                &json!({"instrument_id": instrument, "user_id": researcher, "mode": "assisted",
                        "started_at": (end - Duration::minutes(45)).to_rfc3339(), "ended_at": end.to_rfc3339()}),
            )
            .expect(201);
        let admin = app.login("admin");
        assert_eq!(reported_minutes(&app, &admin), 0);

        app.with_reports_from(&replica);
        assert_eq!(reported_minutes(&app, &admin), 45, "the report reads the replica");
        // Who is signed in is the database's: a session ended there ends for reports too.
        app.post("/api/v1/auth/logout", &admin, &json!({})).expect(204);
        let today = app.now().date_naive();
        app.get(&format!("/api/v1/reports/usage?from={today}&to={today}"), &admin).expect(401);
    }
}
