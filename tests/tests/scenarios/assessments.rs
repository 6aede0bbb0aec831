//! The platform policy and the performance assessment (DESIGN.md §5), on
//! both databases, against a fixture computed by hand.

use crate::bookings::{bookable_instrument, id_of, local, set_clock};
use labshare_tests::{both_backends, Resp, TestApp};
use serde_json::{json, Value};

fn user_id(app: &TestApp, username: &str) -> i64 {
    app.get("/api/v1/me", &app.login(username)).body["user"]["id"]
        .as_i64()
        .unwrap_or_default()
}

fn result_of(r: &Resp, instrument: i64) -> Value {
    r.body
        .as_array()
        .and_then(|a| a.iter().find(|i| i["instrument_id"].as_i64() == Some(instrument)))
        .cloned()
        .unwrap_or_else(|| panic!("no result for {instrument}: {}", r.text))
}

/// Two instruments of the first hospital, rated 1825 h a year (10 h over two
/// days). A: a 2-hour blackout, three walk-ins on day 1 — the researcher
/// of another member unit 3 h, the hospital's own manager 1 h, an external
/// guest 2 h — and an approved standard (100 / 120 / 150 an hour). B: unused.
struct Fixture {
    a: i64,
    b: i64,
    unit: i64,
    period: (String, String),
}

fn fixture(app: &TestApp) -> Fixture {
    app.seed_demo();
    let (a, b) = (
        bookable_instrument(app, json!(["assisted"])),
        bookable_instrument(app, json!(["assisted"])),
    );
    let unit = app.login("unit1");
    for id in [a, b] {
        app.patch(
            &format!("/api/v1/instruments/{id}"),
            &unit,
            &json!({"rated_annual_hours": 1825}),
        )
        .expect(200);
    }
    let blackout = json!({"kind": "maintenance", "reason": "季度保养",
        "starts_at": local(app, 1, 13, 0).to_rfc3339(), "ends_at": local(app, 1, 15, 0).to_rfc3339()});
    app.post(&format!("/api/v1/instruments/{a}/blackouts"), &unit, &blackout)
        .expect(201);
    let standard = json!({"instrument_id": a, "mode": "assisted", "unit": "hour",
        "prices": {"internal": "100.00", "member": "120.00", "external": "150.00"},
        "effective_from": local(app, 0, 0, 0).date_naive().to_string(), "note": "考核测试"});
    let s = id_of(&app.post("/api/v1/fee-standards", &unit, &standard).expect(201));
    app.post(
        &format!("/api/v1/fee-standards/{s}/approve"),
        &app.login("admin"),
        &json!({}),
    )
    .expect(200);
    let period = (
        local(app, 0, 0, 0).date_naive().to_string(),
        local(app, 1, 0, 0).date_naive().to_string(),
    );
    let (d1_0900, d1_1200, d1_1300, d1_1500, d1_1700) = (
        local(app, 1, 9, 0),
        local(app, 1, 12, 0),
        local(app, 1, 13, 0),
        local(app, 1, 15, 0),
        local(app, 1, 17, 0),
    );
    let evening = local(app, 1, 18, 0);
    let users = [
        (user_id(app, "researcher"), d1_0900, d1_1200),
        (user_id(app, "manager1"), d1_1200, d1_1300),
        (user_id(app, "guest"), d1_1500, d1_1700),
    ];
    set_clock(app, evening);
    let manager = app.login("manager1");
    for (user, start, end) in users {
        app.post(
            "/api/v1/usage-records",
            &manager,
            &json!({"instrument_id": a, "user_id": user, "mode": "assisted",
                    "started_at": start.to_rfc3339(), "ended_at": end.to_rfc3339()}),
        )
        .expect(201);
    }
    let institution = app.institution_id(&app.login("admin"), "南宁市第一人民医院");
    // The morning after the period.
    set_clock(app, local(app, 1, 10, 0));
    Fixture {
        a,
        b,
        unit: institution,
        period,
    }
}

fn create(app: &TestApp, f: &Fixture, pool: &str) -> i64 {
    let body = json!({"name": "两日共享考核", "period_from": f.period.0, "period_to": f.period.1, "reward_pool": pool});
    id_of(&app.post("/api/v1/assessments", &app.login("admin"), &body).expect(201))
}

both_backends! {
    fn an_assessment_matches_the_hand_computed_fixture(app) {
        let f = fixture(&app);
        // A blackout entered afterwards for a past day does not lower B's rated hours.
        let late = json!({"kind": "repair", "reason": "补登维修", "starts_at": local(&app, -1, 0, 0).to_rfc3339(), "ends_at": local(&app, 0, 0, 0).to_rfc3339()});
        app.post(&format!("/api/v1/instruments/{}/blackouts", f.b), &app.login("unit1"), &late).expect(201);
        let id = create(&app, &f, "1000.00");
        let r = app.get(&format!("/api/v1/assessments/{id}/instruments"), &app.login("regulator")).expect(200);
        let a = result_of(&r, f.a);
        // R = 1825 × 2/365 × (1 − 2 h blacked out of 48) = 9.583… h; H = 3 + 1 + 2 = 6 h; E = 5 h.
        for (field, value) in [
            ("rated_hours", "9.58"), ("blackout_hours", "2.00"), ("effective_hours", "6.00"), ("external_hours", "5.00"),
            ("utilisation", "0.6261"), ("share_rate", "0.8333"),
            // 720.00 member + 600.00 external at the walk-in rate of 200 %; 200.00 internal.
            ("revenue_internal", "200.00"), ("revenue_external", "1320.00"), ("subsidy", "0.00"),
            ("management_source", "derived"), ("grade", "pass"),
        ] {
            assert_eq!(a[field], value, "{field}: {a}");
        }
        assert_eq!((a["users_served"].as_i64(), a["institutions_served"].as_i64(), a["in_service_days"].as_i64()), (Some(3), Some(2), Some(2)));
        // 40 × 0.6261; 30 × (⅔ × 1 + ⅓ × 2/5); 15 × 0.6 unrated; 15 derived (complete, priced, prompt).
        assert_eq!(a["score"], json!({"operation": "25.04", "sharing": "24.00", "quality": "9.00", "management": "15.00", "total": "73.04"}));
        assert_eq!((a["idle"].as_bool(), a["low_sharing"].as_bool()), (Some(false), Some(false)));
        let b = result_of(&r, f.b);
        assert_eq!((b["rated_hours"].as_str(), b["utilisation"].as_str()), (Some("10.00"), Some("0.0000")));
        // No fee standard: 10 of 15 management points.
        assert_eq!(b["score"]["total"], "19.00");
        assert_eq!((b["grade"].as_str(), b["idle"].as_bool(), b["low_sharing"].as_bool()), (Some("fail"), Some(true), Some(true)));

        // The unit's score is the original-value-weighted mean of its instruments'.
        let own = app.get(&format!("/api/v1/assessments/{id}/instruments?institution_id={}", f.unit), &app.login("admin")).expect(200);
        let rows = own.body.as_array().cloned().unwrap_or_default();
        let cents = |v: &Value| -> i128 { v.as_str().unwrap_or("0").replace('.', "").parse().unwrap_or(0) };
        let weight: i128 = rows.iter().map(|r| cents(&r["original_value"])).sum();
        let weighted: i128 = rows.iter().map(|r| cents(&r["original_value"]) * cents(&r["score"]["total"])).sum();
        let expected = (weighted * 2 + weight) / (2 * weight);
        let units = app.get(&format!("/api/v1/assessments/{id}/units"), &app.login("admin")).expect(200);
        let unit = units.body.as_array().and_then(|u| u.iter().find(|u| u["institution_id"].as_i64() == Some(f.unit))).cloned().unwrap_or_default();
        assert_eq!(cents(&unit["score"]), expected, "{unit}");
        assert_eq!(unit["instruments"].as_u64(), Some(rows.len() as u64));

        // Use of results: failing units due a rectification plan, idle instruments to reallocate.
        let u = app.get(&format!("/api/v1/assessments/{id}/use-of-results"), &app.login("leader")).expect(200);
        let idle: Vec<i64> = u.body["reallocation_candidates"].as_array().map(|a| a.iter().filter_map(|i| i["instrument_id"].as_i64()).collect()).unwrap_or_default();
        assert!(idle.contains(&f.b) && !idle.contains(&f.a));
        let rectify: Vec<i64> = u.body["rectification"].as_array().map(|a| a.iter().filter_map(|i| i["institution_id"].as_i64()).collect()).unwrap_or_default();
        assert!(rectify.contains(&f.unit), "{}", u.text);
        // CSV for Excel users.
        let csv = app.get(&format!("/api/v1/assessments/{id}/instruments?format=csv&grade=pass"), &app.login("regulator")).expect(200);
        assert!(csv.text.starts_with("\u{feff}仪器编号,单位编号,仪器名称"), "{}", csv.text);
        assert_eq!(csv.text.matches("\r\n").count(), 2, "the header and instrument A");
    }

    fn assessors_score_management_and_publication_freezes_the_results(app) {
        let f = fixture(&app);
        let id = create(&app, &f, "0.00");
        // A draft is the platform's: units and researchers do not see it.
        app.get(&format!("/api/v1/assessments/{id}"), &app.login("unit1")).expect(404);
        let path = format!("/api/v1/assessments/{id}/units/{}/management", f.unit);
        app.put(&path, &app.login("unit1"), &json!({"points": "12.5", "note": "x"})).expect(403);
        let r = app.put(&path, &app.login("admin"), &json!({"points": "15.01", "note": ""})).expect(422);
        let pointers: Vec<&str> = r.body["errors"].as_array().map(|e| e.iter().filter_map(|p| p["pointer"].as_str()).collect()).unwrap_or_default();
        assert_eq!(pointers, vec!["/points", "/note"]);
        let r = app.put(&path, &app.login("admin"), &json!({"points": "12.5", "note": "机组管理制度健全"})).expect(200);
        assert_eq!(r.body["management_points"], "12.5");
        let results = app.get(&format!("/api/v1/assessments/{id}/instruments"), &app.login("admin")).expect(200);
        let a = result_of(&results, f.a);
        assert_eq!((a["management_source"].as_str(), a["score"]["management"].as_str(), a["score"]["total"].as_str()), (Some("entered"), Some("12.50"), Some("70.54")));
        assert_eq!(result_of(&results, f.b)["score"]["total"], "21.50");

        // Only the commission publishes.
        app.post(&format!("/api/v1/assessments/{id}/publish"), &app.login("admin"), &json!({})).expect(403);
        let p = app.post(&format!("/api/v1/assessments/{id}/publish"), &app.login("leader"), &json!({})).expect(200);
        assert_eq!(p.body["status"], "published");
        app.post(&format!("/api/v1/assessments/{id}/publish"), &app.login("leader"), &json!({})).expect(409);
        app.post(&format!("/api/v1/assessments/{id}/compute"), &app.login("admin"), &json!({})).expect(409);
        app.put(&path, &app.login("admin"), &json!({"points": "1", "note": "改分"})).expect(409);
        // Published results are public.
        app.get(&format!("/api/v1/assessments/{id}"), &app.login("researcher")).expect(200);

        // A use recorded later inside the period changes a draft, never the published results.
        let (researcher, manager) = (user_id(&app, "researcher"), user_id(&app, "manager1"));
        let inst = app.institution_id(&app.login("admin"), "南宁市第二人民医院");
        let start = local(&app, -1, 9, 0).naive_utc().format("%Y-%m-%d %H:%M:%S");
        let end = local(&app, -1, 11, 0).naive_utc().format("%Y-%m-%d %H:%M:%S");
        app.execute(&format!(
            "INSERT INTO usage_records (instrument_id, booking_id, user_id, institution_id, operator_id, mode, started_at, ended_at, \
             effective_minutes, billed_minutes, walk_in, note, recorded_by, recorded_at) \
             VALUES ({}, NULL, {researcher}, {inst}, {manager}, 'assisted', '{start}', '{end}', 120, 120, TRUE, '', {manager}, '{end}')",
            f.b
        ));
        let frozen = app.get(&format!("/api/v1/assessments/{id}/instruments"), &app.login("regulator")).expect(200);
        assert_eq!(result_of(&frozen, f.b)["effective_hours"], "0.00");
        assert_eq!(frozen.body, results.body, "published results never change");
        assert!(app.try_execute(&format!("UPDATE assessment_instruments SET total = '100.00' WHERE assessment_id = {id}")).is_err());
        assert!(app.try_execute(&format!("DELETE FROM assessment_units WHERE assessment_id = {id}")).is_err());
        let second = create(&app, &f, "0.00");
        let fresh = app.get(&format!("/api/v1/assessments/{second}/instruments"), &app.login("regulator")).expect(200);
        assert_eq!(result_of(&fresh, f.b)["effective_hours"], "2.00");
    }

    fn the_policy_is_read_by_all_changed_by_the_platform_office_and_recorded_by_assessments(app) {
        let f = fixture(&app);
        let first = create(&app, &f, "0.00");
        let policy = app.get("/api/v1/policy", &app.login("researcher")).expect(200);
        assert_eq!(policy.body["policy"]["no_show_fee_percent"], 150);
        assert_eq!(policy.body["policy"]["assessment"]["idle_below_percent"], "20");
        assert_eq!(policy.body["updated_by"], Value::Null);
        let doc = policy.body["policy"].clone();
        app.put("/api/v1/policy", &app.login("unit1"), &doc).expect(403);
        // Every broken rule at once, nothing changed.
        let mut bad = doc.clone();
        bad["assessment"]["operation_points"] = json!(39);
        bad["assessment"]["good_from"] = json!(95);
        bad["walk_in_fee_percent"] = json!(-1);
        bad["listing_threshold"] = json!("1.005");
        let r = app.put("/api/v1/policy", &app.login("admin"), &bad).expect(422);
        let rules: Vec<(String, String)> = r.body["errors"].as_array().map(|e| e.iter().map(|p| (p["pointer"].as_str().unwrap_or("").to_owned(), p["rule"].as_str().unwrap_or("").to_owned())).collect()).unwrap_or_default();
        for expected in [("/assessment/management_points", "points_add_up"), ("/assessment/good_from", "grade_order"), ("/walk_in_fee_percent", "range"), ("/listing_threshold", "money")] {
            assert!(rules.contains(&(expected.0.to_owned(), expected.1.to_owned())), "{expected:?} in {rules:?}");
        }
        assert_eq!(app.get("/api/v1/policy", &app.login("admin")).expect(200).body["policy"]["walk_in_fee_percent"], 200);

        let mut changed = doc.clone();
        changed["assessment"]["idle_below_percent"] = json!("80");
        changed["walk_in_fee_percent"] = json!(300);
        let r = app.put("/api/v1/policy", &app.login("admin"), &changed).expect(200);
        assert_eq!(r.body["policy"]["assessment"]["idle_below_percent"], "80");
        assert!(r.body["updated_by"].as_i64().is_some());
        let audit = app.get("/api/v1/audit-events?object_type=policy", &app.login("regulator")).expect(200);
        assert_eq!(audit.body["items"].as_array().map(Vec::len), Some(1), "{}", audit.text);

        // A new assessment uses the new values and records them; the first keeps its own.
        let second = create(&app, &f, "0.00");
        let a = result_of(&app.get(&format!("/api/v1/assessments/{second}/instruments"), &app.login("admin")).expect(200), f.a);
        assert_eq!(a["idle"], true, "U 0.6261 is below 80 %");
        assert_eq!(app.get(&format!("/api/v1/assessments/{second}"), &app.login("admin")).expect(200).body["policy"]["assessment"]["idle_below_percent"], "80");
        assert_eq!(app.get(&format!("/api/v1/assessments/{first}"), &app.login("admin")).expect(200).body["policy"]["assessment"]["idle_below_percent"], "20");
        let a = result_of(&app.get(&format!("/api/v1/assessments/{first}/instruments"), &app.login("admin")).expect(200), f.a);
        assert_eq!(a["idle"], false);

        // The rules of use follow the policy at once: a walk-in now costs 300 %.
        let guest = user_id(&app, "guest");
        let end = app.now() - chrono::Duration::minutes(5);
        app.post("/api/v1/usage-records", &app.login("manager1"), &json!({"instrument_id": f.a, "user_id": guest, "mode": "assisted",
            "started_at": (end - chrono::Duration::hours(1)).to_rfc3339(), "ended_at": end.to_rfc3339()})).expect(201);
        let charges = app.get(&format!("/api/v1/charges?instrument_id={}&limit=200", f.a), &app.login("regulator")).expect(200);
        let last = charges.body["items"].as_array().and_then(|a| a.last()).cloned().unwrap_or_default();
        assert_eq!((last["lines"]["fee_percent"].as_i64(), last["lines"]["gross"].as_str()), (Some(300), Some("450.00")));
    }

    fn an_assessment_needs_a_past_period_and_the_platform_office(app) {
        let f = fixture(&app);
        let admin = app.login("admin");
        let body = |from: &str, to: &str| json!({"name": "考核", "period_from": from, "period_to": to});
        app.post("/api/v1/assessments", &app.login("unit1"), &body(&f.period.0, &f.period.1)).expect(403);
        let today = local(&app, 0, 0, 0).date_naive().to_string();
        let r = app.post("/api/v1/assessments", &admin, &body(&f.period.0, &today)).expect(422);
        assert_eq!(r.body["errors"][0]["rule"], "period_ended");
        let r = app.post("/api/v1/assessments", &admin, &body(&f.period.1, &f.period.0)).expect(422);
        assert_eq!(r.body["errors"][0]["rule"], "date_order");
        assert_eq!(app.count("assessments"), 0);
    }
}
