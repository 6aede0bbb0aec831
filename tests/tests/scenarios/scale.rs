//! The scale dataset (`labshare seed --scale`): the same arguments write
//! the same rows, the rows are plausible and consistent with the rules the
//! API enforces, and the server works on them.

use chrono::Datelike;
use labshare_tests::{both_backends, TestApp};
use serde_json::json;

const SCALE: f64 = 0.02;

fn number(app: &TestApp, sql: &str) -> i64 {
    let rows = app.strings(sql);
    rows.first()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{sql}: {rows:?}"))
}

/// Counts, sums and a few rows of every generated table.
fn fingerprint(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for table in [
        "institutions",
        "users",
        "labs",
        "instruments",
        "opening_hours",
        "blackouts",
        "service_items",
        "fee_standards",
        "subsidy_grants",
        "bookings",
        "usage_records",
        "service_orders",
        "samples",
        "ratings",
        "charges",
        "qualifications",
    ] {
        out.push(format!("{table}: {}", app.count(table)));
    }
    for sql in [
        "SELECT CAST(SUM(original_value_fen) AS TEXT) AS s FROM instruments",
        "SELECT CAST(SUM(billed_minutes) AS TEXT) AS s FROM usage_records",
        "SELECT CAST(SUM(effective_minutes) AS TEXT) AS s FROM usage_records",
        "SELECT CAST(SUM(gross_fen) AS TEXT) AS s FROM charges",
        "SELECT CAST(SUM(subsidy_fen) AS TEXT) AS s FROM charges",
        "SELECT CAST(SUM(score) AS TEXT) AS s FROM ratings",
        "SELECT CAST(spent_fen AS TEXT) AS s FROM subsidy_programmes",
        "SELECT name || credit_code AS s FROM institutions ORDER BY id",
        "SELECT username || display_name AS s FROM users ORDER BY id",
        "SELECT status || CAST(COUNT(*) AS TEXT) AS s FROM bookings GROUP BY status ORDER BY status",
        "SELECT name_zh || model || CAST(original_value_fen AS TEXT) AS s FROM instruments ORDER BY id",
    ] {
        out.extend(app.strings(sql).into_iter().map(|s| format!("{sql}: {s}")));
    }
    out
}

both_backends! {
    fn the_same_scale_and_seed_write_the_same_data(app) {
        let first = app.seed_scale(SCALE, 7);
        let twin = app.sibling();
        let second = twin.seed_scale(SCALE, 7);
        assert_eq!(first.digest, second.digest);
        assert_eq!(first.tables, second.tables);
        assert_eq!(fingerprint(&app), fingerprint(&twin));

        let other = app.sibling();
        let third = other.seed_scale(SCALE, 8);
        assert_ne!(first.digest, third.digest);
        assert_ne!(fingerprint(&app), fingerprint(&other));

        // PostgreSQL plans the reports from statistics: the load leaves them.
        if app.url.backend == labshare_persistence::Backend::Postgres {
            for table in ["bookings", "usage_records", "charges", "service_orders"] {
                let analysed = number(&app, &format!("SELECT CAST(COUNT(*) AS TEXT) AS s FROM pg_stats WHERE tablename = '{table}'"));
                assert!(analysed > 0, "{table} has no statistics after the load");
            }
        }

        // It loads only into an empty database.
        let mut conn = app.pool.get().unwrap_or_else(|e| panic!("{e}"));
        let again = labshare_api::scale::seed_scale(
            &mut conn,
            labshare_api::scale::ScaleOptions { scale: SCALE, seed: 7, year: 2025 },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(again, labshare_api::scale::ScaleOutcome::NotEmpty));
    }

    fn the_scale_data_is_plausible_and_keeps_the_rules(app) {
        let report = app.seed_scale(SCALE, labshare_api::scale::DEFAULT_SEED);
        // 500 instruments worth ≈ 300 M CNY at scale 1: 10 worth ≈ 6 M here.
        assert_eq!(app.count("instruments"), 10);
        assert!((590_000_000..=610_000_000).contains(&report.instruments_value_fen), "{}", report.instruments_value_fen);
        assert!(number(&app, "SELECT CAST(MIN(original_value_fen) AS TEXT) AS s FROM instruments") >= 50_000_000);
        // ≈ 200,000 usage records a year at scale 1.
        let usage = app.count("usage_records");
        assert!((3_000..=5_500).contains(&usage), "{usage} usage records");

        let bookings = app.count("bookings") as f64;
        let share = |status: &str| {
            number(&app, &format!("SELECT CAST(COUNT(*) AS TEXT) AS s FROM bookings WHERE status = '{status}'")) as f64
                / bookings
        };
        let completed = share("completed");
        let cancelled = share("cancelled");
        let no_show = share("no_show");
        assert!((0.75..=0.85).contains(&completed), "completed {completed}");
        assert!((0.05..=0.11).contains(&cancelled), "cancelled {cancelled}");
        assert!((0.015..=0.05).contains(&no_show), "no-show {no_show}");
        let late = number(&app, "SELECT CAST(COUNT(*) AS TEXT) AS s FROM bookings WHERE late_cancellation = TRUE") as f64
            / (cancelled * bookings);
        assert!((0.2..=0.5).contains(&late), "late cancellations {late}");

        // No two bookings of an instrument overlap, whatever their status.
        assert_eq!(
            number(
                &app,
                "SELECT CAST(COUNT(*) AS TEXT) AS s FROM bookings a JOIN bookings b \
                 ON a.instrument_id = b.instrument_id AND a.id < b.id \
                 AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at",
            ),
            0
        );
        // Every completed booking has its usage record and its charge.
        assert_eq!(
            number(&app, "SELECT CAST(COUNT(*) AS TEXT) AS s FROM bookings WHERE status = 'completed'"),
            number(&app, "SELECT CAST(COUNT(*) AS TEXT) AS s FROM usage_records WHERE booking_id IS NOT NULL"),
        );
        assert_eq!(
            number(&app, "SELECT CAST(COUNT(*) AS TEXT) AS s FROM bookings WHERE status = 'completed'"),
            number(&app, "SELECT CAST(COUNT(*) AS TEXT) AS s FROM charges WHERE kind = 'usage'"),
        );
        // A charge is the sum of its lines times its fee share, rounded half up.
        assert_eq!(
            number(
                &app,
                "SELECT CAST(COUNT(*) AS TEXT) AS s FROM charges WHERE gross_fen <> \
                 ((usage_fen + startup_fee_fen + assisted_surcharge_fen + minimum_top_up_fen) * fee_percent + 50) / 100 \
                 OR payable_fen <> gross_fen - subsidy_fen",
            ),
            0
        );
        // Subsidy: grants used within their amounts and equal to what charges drew,
        // the programme within its budget and equal to the same.
        let drawn = number(&app, "SELECT CAST(COALESCE(SUM(subsidy_fen), 0) AS TEXT) AS s FROM charges");
        assert!(drawn > 0, "no subsidy drawn");
        assert_eq!(
            number(
                &app,
                "SELECT CAST(COUNT(*) AS TEXT) AS s FROM subsidy_grants g WHERE used_fen > COALESCE(amount_fen, 0) \
                 OR used_fen <> (SELECT COALESCE(SUM(subsidy_fen), 0) FROM charges c WHERE c.grant_id = g.id)",
            ),
            0
        );
        assert_eq!(number(&app, "SELECT CAST(spent_fen AS TEXT) AS s FROM subsidy_programmes"), drawn);
        assert!(drawn <= number(&app, "SELECT CAST(budget_fen AS TEXT) AS s FROM subsidy_programmes"));
        // Only cross-unit use by member units' researchers is subsidised.
        assert_eq!(
            number(
                &app,
                "SELECT CAST(COUNT(*) AS TEXT) AS s FROM charges WHERE subsidy_fen > 0 \
                 AND (payer_institution_id = provider_institution_id OR tier <> 'member')",
            ),
            0
        );

        // The server works on it.
        let admin = app.login("admin");
        let verify = app.get("/api/v1/audit-events/verify", &admin).expect(200);
        assert_eq!(verify.body["valid"], json!(true), "{}", verify.text);
        let list = app.get("/api/v1/instruments?limit=100", &admin).expect(200);
        assert_eq!(list.body["items"].as_array().map(Vec::len), Some(10));
        let usage_report = app.get("/api/v1/reports/usage?from=2025-01-01&to=2025-12-31", &admin).expect(200);
        assert_eq!(usage_report.body["rows"].as_array().map(Vec::len), Some(10), "{}", usage_report.text);
        let finance = app.get("/api/v1/reports/finance?from=2025-01-01&to=2026-12-31", &admin).expect(200);
        let gross = number(&app, "SELECT CAST(SUM(gross_fen) AS TEXT) AS s FROM charges");
        assert_eq!(finance.body["totals"]["gross"], json!(labshare_domain::money::format_fen(gross)));
        let researcher = app.login("r00001");
        app.get("/api/v1/bookings?limit=5", &researcher).expect(200);
        // A researcher trained on an instrument books it to operate it
        // themselves next week, within its opening hours.
        let pair = app.strings(
            "SELECT u.username || ' ' || CAST(q.instrument_id AS TEXT) AS s FROM qualifications q \
             JOIN users u ON u.id = q.user_id WHERE q.kind = 'instrument' ORDER BY q.id",
        );
        let (username, instrument) = pair
            .first()
            .and_then(|p| p.split_once(' '))
            .unwrap_or_else(|| panic!("no instrument qualification"));
        let day = (3..10)
            .find(|d| {
                !matches!(
                    crate::bookings::local(&app, *d, 9, 0).weekday(),
                    chrono::Weekday::Sat | chrono::Weekday::Sun
                )
            })
            .unwrap_or(3);
        crate::bookings::book(
            &app,
            &app.login(username),
            instrument.parse().unwrap_or_default(),
            &crate::bookings::at(&app, day, 9, 0),
            &crate::bookings::at(&app, day, 10, 0),
            "self_operated",
        )
        .expect(201);
        // New rows written through the API get fresh ids after the generated ones.
        let unit = number(&app, "SELECT CAST(MIN(id) AS TEXT) AS s FROM institutions WHERE kind = 'hospital'");
        let created = app
            .post(
                "/api/v1/users",
                &admin,
                &json!({
                    "institution_id": unit, "username": "newcomer", "password": "a new researcher passphrase",
                    "display_name": "新来的研究员", "roles": ["researcher"]
                }),
            )
            .expect(201);
        let max_generated = number(&app, "SELECT CAST(MAX(id) AS TEXT) AS s FROM users WHERE username <> 'newcomer'");
        assert!(created.body["id"].as_i64().unwrap_or(0) > max_generated, "{}", created.text);
    }
}
