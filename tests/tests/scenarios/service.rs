//! Sample testing (委托检测): service items and orders, on both databases.

use labshare_tests::{both_backends, Resp, TestApp};
use serde_json::{json, Value};

/// The first hospital's LC-MS/MS (listed, public, takes samples, BSL2 lab).
fn lcms(app: &TestApp) -> i64 {
    let r = app
        .get("/api/v1/instruments?q=LC-MS&limit=5", &app.login("unit1"))
        .expect(200);
    r.body["items"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no LC-MS/MS: {}", r.text))
}

fn item_body(instrument: i64) -> Value {
    json!({"name": "血清25-羟基维生素D检测", "instrument_ids": [instrument], "unit": "sample", "turnaround_days": 3,
           "sample_requirements": "血清 ≥ 0.5 mL，2–8 ℃ 冷藏送检", "required_biosafety": "BSL2"})
}

fn sample(code: &str) -> Value {
    json!({"code": code, "sample_type": "serum", "risk_level": "BSL2", "human": true, "ethics_approval": "NNYY-IRB-2026-031"})
}

fn order(app: &TestApp, token: &str, item: i64, samples: Vec<Value>, notes: &str) -> Resp {
    app.post(
        "/api/v1/service-orders",
        token,
        &json!({"service_item_id": item, "samples": samples, "notes": notes}),
    )
}

fn new_item(app: &TestApp) -> i64 {
    let r = app
        .post("/api/v1/service-items", &app.login("unit1"), &item_body(lcms(app)))
        .expect(201);
    r.body["id"].as_i64().unwrap_or_default()
}

both_backends! {
    fn a_researcher_orders_sample_testing_from_another_unit(app) {
        app.seed_demo();
        let item = new_item(&app);
        let researcher = app.login("researcher");
        let manager = app.login("manager1");
        let items = app.get("/api/v1/service-items", &researcher).expect(200);
        assert!(items.body["items"].as_array().is_some_and(|a| a.iter().any(|i| i["id"] == item)));

        let r = order(&app, &researcher, item, vec![sample("S-001"), sample("S-002")], "加急").expect(201);
        assert_eq!(r.body["status"], "submitted");
        assert_eq!(r.body["samples"].as_array().map(Vec::len), Some(2));
        let id = r.body["id"].as_i64().unwrap_or_default();
        let path = format!("/api/v1/service-orders/{id}");

        // The researcher cannot run its own order; the lab's manager can.
        app.post(&format!("{path}/accept"), &researcher, &json!({})).expect(403);
        let r = app.post(&format!("{path}/complete"), &manager, &json!({"report_reference": "R-1", "sample_count": 2, "instrument_minutes": 40})).expect(409);
        assert_eq!(r.problem_type(), "/problems/order-transition");
        app.post(&format!("{path}/accept"), &manager, &json!({})).expect(200);
        app.post(&format!("{path}/receive-samples"), &manager, &json!({})).expect(200);
        app.advance(chrono::Duration::days(2));
        let manager = app.login("manager1");
        let r = app.post(&format!("{path}/complete"), &manager, &json!({"report_reference": "NNYY-LAB-R-2026-1188", "sample_count": 2, "instrument_minutes": 95})).expect(200);
        assert_eq!(r.body["status"], "completed");
        assert_eq!(r.body["turnaround_days"], 2);
        assert_eq!(r.body["on_time"], true);
        assert_eq!(r.body["instrument_minutes"], 95);

        let researcher = app.login("researcher");
        // The orderer rates the completed order once.
        let rating = json!({"score": 5, "comment": "报告及时、清楚"});
        app.post(&format!("{path}/rating"), &manager, &rating).expect(403);
        let r = app.post(&format!("{path}/rating"), &researcher, &rating).expect(201);
        assert_eq!(r.body["score"], 5);
        let r = app.post(&format!("{path}/rating"), &researcher, &rating).expect(409);
        assert_eq!(r.problem_type(), "/problems/rating-exists");
        let mine = app.get("/api/v1/service-orders?mine=true", &researcher).expect(200);
        assert_eq!(mine.body["items"][0]["id"], id);
        // Another unit's researcher sees nothing of it.
        app.get(&path, &app.login("guest")).expect(404);
        let trail = app.get(&format!("/api/v1/audit-events?object_type=service_order&object_id={id}"), &app.login("admin")).expect(200);
        let actions: Vec<&str> = trail.body["items"].as_array().map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect()).unwrap_or_default();
        assert_eq!(actions, vec!["service_order.create", "service_order.accept", "service_order.receive", "service_order.complete"]);
    }

    fn samples_follow_the_biosafety_ethics_and_privacy_rules(app) {
        app.seed_demo();
        let item = new_item(&app);
        let researcher = app.login("researcher");
        let before = (app.count("service_orders"), app.count("samples"));
        let mut risky = sample("S-1");
        risky["risk_level"] = json!("BSL3");
        let mut no_ethics = sample("S-2");
        no_ethics["ethics_approval"] = json!(null);
        let cases: Vec<(Vec<Value>, &str, &str, &str)> = vec![
            (vec![risky], "", "/samples/0/risk_level", "biosafety"),
            (vec![no_ethics], "", "/samples/0/ethics_approval", "required"),
            (vec![sample("S-1"), sample("S-1")], "", "/samples/1/code", "unique"),
            (vec![sample("王小明")], "", "/samples/0/code", "charset"),
            (vec![sample("450102198506120033")], "", "/samples/0/code", "resident_id"),
            (vec![sample("S-1")], "患者身份证 450102198506120033", "/notes", "resident_id"),
            (vec![], "", "/samples", "length"),
        ];
        for (samples, notes, pointer, rule) in cases {
            let r = order(&app, &researcher, item, samples, notes).expect(422);
            let found = r.body["errors"].as_array().is_some_and(|e| e.iter().any(|p| p["pointer"] == pointer && p["rule"] == rule));
            assert!(found, "{pointer} {rule}: {}", r.text);
            assert!(!r.text.contains("450102198506120033"), "the number is not echoed back");
        }
        // A number with a wrong check digit is not a resident ID.
        order(&app, &researcher, item, vec![sample("S-1")], "批号 450102198506120034").expect(201);
        assert_eq!((app.count("service_orders"), app.count("samples")), (before.0 + 1, before.1 + 1));
    }

    fn only_the_provider_offers_items_on_its_listed_sample_instruments(app) {
        app.seed_demo();
        let instrument = lcms(&app);
        let unit = app.login("unit1");
        app.post("/api/v1/service-items", &app.login("researcher"), &item_body(instrument)).expect(403);
        let mut bsl3 = item_body(instrument);
        bsl3["required_biosafety"] = json!("BSL3");
        let r = app.post("/api/v1/service-items", &unit, &bsl3).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/required_biosafety");
        // The flow cytometer takes no samples.
        let flow = app.get("/api/v1/instruments?q=%E6%B5%81%E5%BC%8F&limit=5", &unit).expect(200).body["items"][0]["id"].as_i64().unwrap_or_default();
        let r = app.post("/api/v1/service-items", &unit, &item_body(flow)).expect(422);
        assert_eq!((r.body["errors"][0]["pointer"].as_str(), r.body["errors"][0]["rule"].as_str()), (Some("/instrument_ids/0"), Some("sample_mode")));
        let r = app.post("/api/v1/service-items", &unit, &json!({"name": "x", "instrument_ids": [], "unit": "sample", "turnaround_days": 0, "required_biosafety": "none"})).expect(422);
        let pointers: Vec<&str> = r.body["errors"].as_array().map(|e| e.iter().filter_map(|p| p["pointer"].as_str()).collect()).unwrap_or_default();
        assert!(pointers.contains(&"/instrument_ids") && pointers.contains(&"/turnaround_days"), "{}", r.text);
        let id = app.post("/api/v1/service-items", &unit, &item_body(instrument)).expect(201).body["id"].as_i64().unwrap_or_default();
        // Withdrawn items take no orders.
        let mut withdrawn = item_body(instrument);
        withdrawn["active"] = json!(false);
        app.put(&format!("/api/v1/service-items/{id}"), &unit, &withdrawn).expect(200);
        let r = order(&app, &app.login("researcher"), id, vec![sample("S-1")], "").expect(409);
        assert_eq!(r.problem_type(), "/problems/service-item-inactive");
    }

    fn orders_are_rejected_with_a_reason_or_cancelled_before_the_samples_arrive(app) {
        app.seed_demo();
        let item = new_item(&app);
        let researcher = app.login("researcher");
        let manager = app.login("manager1");
        let a = order(&app, &researcher, item, vec![sample("S-1")], "").expect(201).body["id"].as_i64().unwrap_or_default();
        let r = app.post(&format!("/api/v1/service-orders/{a}/reject"), &manager, &json!({"reason": " "})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/reason");
        let r = app.post(&format!("/api/v1/service-orders/{a}/reject"), &manager, &json!({"reason": "样本量不足"})).expect(200);
        assert_eq!((r.body["status"].as_str(), r.body["reason"].as_str()), (Some("rejected"), Some("样本量不足")));
        let r = app.post(&format!("/api/v1/service-orders/{a}/rating"), &researcher, &json!({"score": 1, "comment": ""})).expect(409);
        assert_eq!(r.problem_type(), "/problems/rating-not-completed");
        let b = order(&app, &researcher, item, vec![sample("S-2")], "").expect(201).body["id"].as_i64().unwrap_or_default();
        app.post(&format!("/api/v1/service-orders/{b}/accept"), &manager, &json!({})).expect(200);
        app.post(&format!("/api/v1/service-orders/{b}/cancel"), &researcher, &json!({})).expect(200);
        let r = app.post(&format!("/api/v1/service-orders/{b}/receive-samples"), &manager, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/order-transition");
        let queue = app.get("/api/v1/service-orders?status=cancelled", &manager).expect(200);
        assert_eq!(queue.body["items"][0]["id"], b);
    }
}
