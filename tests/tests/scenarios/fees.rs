//! Fees and subsidies on both databases: fee standards from proposal to
//! approval, the cost calculator, subsidy programmes from draft to closed,
//! grants and the tags that make users eligible.

use labshare_tests::{both_backends, Resp, TestApp};
use serde_json::{json, Value};

/// The id of the first demo instrument whose name contains `q`, as the platform office sees it.
fn instrument(app: &TestApp, q: &str) -> i64 {
    let r = app
        .get(
            &format!("/api/v1/instruments?q={}&limit=5", labshare_tests::urlencode(q)),
            &app.login("admin"),
        )
        .expect(200);
    r.body["items"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no instrument {q}: {}", r.text))
}

/// The platform's local date (UTC+8) `days` from the server's now.
fn local_date(app: &TestApp, days: i64) -> String {
    (app.now() + chrono::Duration::hours(8) + chrono::Duration::days(days))
        .date_naive()
        .to_string()
}

fn standard(instrument: i64, mode: &str, effective_from: &str) -> Value {
    json!({
        "instrument_id": instrument, "mode": mode, "unit": "hour",
        "prices": {"internal": "200.00", "member": "240.00", "external": "360.00"},
        "startup_fee": "50.00", "minimum_charge": "100.00",
        "effective_from": effective_from, "note": "按2026年成本测算"
    })
}

/// An assisted-mode standard (with its surcharge) for the LC-MS/MS of the first hospital.
fn assisted(app: &TestApp, effective_from: &str) -> Value {
    let mut body = standard(instrument(app, "LC-MS"), "assisted", effective_from);
    body["assisted_surcharge"] = json!("80.00");
    body
}

fn id_of(r: &Resp) -> i64 {
    r.body["id"].as_i64().unwrap_or_else(|| panic!("no id: {}", r.text))
}

#[track_caller]
fn assert_problem(r: &Resp, pointer: &str, rule: &str) {
    let found = r.body["errors"]
        .as_array()
        .is_some_and(|e| e.iter().any(|p| p["pointer"] == pointer && p["rule"] == rule));
    assert!(found, "expected {pointer} {rule}: {}", r.text);
}

fn ids(r: &Resp) -> Vec<i64> {
    r.body["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["id"].as_i64()).collect())
        .unwrap_or_default()
}

fn audit_actions(app: &TestApp, object_type: &str, id: i64) -> Vec<String> {
    let r = app
        .get(
            &format!("/api/v1/audit-events?object_type={object_type}&object_id={id}"),
            &app.login("admin"),
        )
        .expect(200);
    r.body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["action"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A unit admin of the second hospital, created by the platform office.
fn second_unit_admin(app: &TestApp) -> String {
    let admin = app.login("admin");
    let hospital = app.institution_id(&admin, "南宁市第二人民医院");
    let body = json!({"institution_id": hospital, "username": "unit2", "password": "another long passphrase",
                      "display_name": "二院 设备科", "roles": ["unit_admin"]});
    app.post("/api/v1/users", &admin, &body).expect(201);
    app.login_with("unit2", "another long passphrase")
}

fn programme_body() -> Value {
    json!({
        "name": "2027年度大型仪器共享补贴", "funder": "南宁市科学技术局", "budget": "500000.00",
        "valid_from": "2026-01-01", "valid_until": "2099-12-31", "ratio_percent": "50",
        "cap_per_beneficiary": "20000.00", "cap_per_charge": "2000.00",
        "eligibility": {"memberships": ["member"], "cross_unit_only": true, "category_prefixes": ["0302"]}
    })
}

/// A programme approved by the commission and opened by the platform office.
fn active_programme(app: &TestApp, body: &Value) -> i64 {
    let admin = app.login("admin");
    let id = id_of(&app.post("/api/v1/subsidy-programmes", &admin, body).expect(201));
    app.post(
        &format!("/api/v1/subsidy-programmes/{id}/approve"),
        &app.login("leader"),
        &json!({}),
    )
    .expect(200);
    app.post(&format!("/api/v1/subsidy-programmes/{id}/activate"), &admin, &json!({}))
        .expect(200);
    id
}

fn application(programme: i64, amount: &str) -> Value {
    json!({"programme_id": programme, "requested_amount": amount, "purpose": "血清维生素D检测课题的质谱机时"})
}

fn user_id(app: &TestApp, token: &str) -> i64 {
    let r = app.get("/api/v1/me", token).expect(200);
    r.body["user"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no user: {}", r.text))
}

/// Sends the same request from `n` threads at once.
fn at_once(app: &TestApp, n: usize, send: impl Fn(&TestApp) -> Resp + Sync) -> Vec<Resp> {
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (app, barrier, send) = (app, &barrier, &send);
                s.spawn(move || {
                    barrier.wait();
                    send(app)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("thread")))
            .collect()
    })
}

both_backends! {
    fn a_proposed_fee_standard_is_approved_by_the_platform_office_and_then_public(app) {
        app.seed_demo();
        let unit = app.login("unit1");
        let today = local_date(&app, 0);
        let r = app.post("/api/v1/fee-standards", &unit, &assisted(&app, &today)).expect(201);
        let id = id_of(&r);
        assert_eq!(r.body["status"], "proposed");
        assert_eq!(r.body["version"], 1);
        assert_eq!(r.body["mode"], "assisted");
        assert_eq!(r.body["prices"]["member"], "240.00");
        assert_eq!(r.body["assisted_surcharge"], "80.00");
        assert_eq!(r.body["effective_from"], today.as_str());
        let path = format!("/api/v1/fee-standards/{id}");

        // A proposal is not yet a price: researchers do not see it.
        let researcher = app.login("researcher");
        app.get(&path, &researcher).expect(404);
        assert!(!ids(&app.get("/api/v1/fee-standards", &researcher).expect(200)).contains(&id));
        // The unit proposes; it does not approve its own prices.
        app.post(&format!("{path}/approve"), &unit, &json!({})).expect(403);
        app.post(&format!("{path}/approve"), &app.login("leader"), &json!({})).expect(403);

        let r = app.post(&format!("{path}/approve"), &app.login("admin"), &json!({})).expect(200);
        assert_eq!(r.body["status"], "approved");
        assert!(r.body["decided_by"].as_i64().is_some(), "{}", r.text);
        let r = app.get(&path, &researcher).expect(200);
        assert_eq!(r.body["prices"]["external"], "360.00");
        let instrument = r.body["instrument_id"].as_i64().unwrap_or_default();
        let list = app.get(&format!("/api/v1/fee-standards?instrument_id={instrument}&status=approved"), &researcher).expect(200);
        assert_eq!(ids(&list), vec![id]);
        assert_eq!(audit_actions(&app, "fee_standard", id), vec!["fee_standard.propose", "fee_standard.approve"]);
    }

    fn only_the_owning_unit_proposes_and_only_the_platform_office_decides(app) {
        app.seed_demo();
        let other_unit = second_unit_admin(&app);
        let today = local_date(&app, 0);
        let body = assisted(&app, &today);
        app.post("/api/v1/fee-standards", &other_unit, &body).expect(403);
        app.post("/api/v1/fee-standards", &app.login("researcher"), &body).expect(403);
        app.post("/api/v1/fee-standards", &app.login("manager1"), &body).expect(403);
        assert_eq!(app.count("fee_standards"), 0);

        // The platform office may propose for any unit.
        let id = id_of(&app.post("/api/v1/fee-standards", &app.login("admin"), &body).expect(201));
        let path = format!("/api/v1/fee-standards/{id}");
        // Another unit's proposal is invisible to its admin; overseers read it.
        app.get(&path, &other_unit).expect(404);
        app.get(&path, &app.login("regulator")).expect(200);
        app.get(&path, &app.login("unit1")).expect(200);
        for who in ["unit1", "leader", "regulator"] {
            app.post(&format!("{path}/approve"), &app.login(who), &json!({})).expect(403);
            app.post(&format!("{path}/reject"), &app.login(who), &json!({"reason": "不同意"})).expect(403);
        }
        let r = app.get(&path, &app.login("admin")).expect(200);
        assert_eq!(r.body["status"], "proposed");
    }

    fn a_bad_fee_standard_names_the_field_and_stores_nothing(app) {
        app.seed_demo();
        let unit = app.login("unit1");
        let (today, yesterday) = (local_date(&app, 0), local_date(&app, -1));
        let lcms = instrument(&app, "LC-MS");
        let flow = instrument(&app, "Flow");
        let with = |mut body: Value, patch: Value| {
            if let (Some(b), Some(p)) = (body.as_object_mut(), patch.as_object()) {
                for (k, v) in p {
                    b.insert(k.clone(), v.clone());
                }
            }
            body
        };
        let base = assisted(&app, &today);
        let cases = vec![
            (with(base.clone(), json!({"prices": {"internal": "200.00", "member": "-1.00", "external": "360.00"}})), "/prices/member", "money"),
            (with(base.clone(), json!({"prices": {"internal": "200.00", "member": "240.00", "external": "360.005"}})), "/prices/external", "money"),
            (with(base.clone(), json!({"startup_fee": "fifty"})), "/startup_fee", "money"),
            (with(standard(flow, "self_operated", &today), json!({"assisted_surcharge": "80.00"})), "/assisted_surcharge", "assisted_only"),
            (with(base.clone(), json!({"effective_from": yesterday})), "/effective_from", "not_retroactive"),
            (standard(lcms, "self_operated", &today), "/mode", "mode_offered"),
            (standard(lcms, "sample", &today), "/mode", "mode_priced_by_service_items"),
            (with(base.clone(), json!({"unit": "sample"})), "/unit", "unit_matches_subject"),
            (with(base.clone(), json!({"mode": null})), "/mode", "required"),
            (with(base.clone(), json!({"service_item_id": 1})), "/service_item_id", "one_subject"),
            (with(base.clone(), json!({"instrument_id": 999_999})), "/instrument_id", "exists"),
            (with(base.clone(), json!({"unit": "day"})), "/unit", "enum"),
        ];
        for (body, pointer, rule) in cases {
            let r = app.post("/api/v1/fee-standards", &unit, &body).expect(422);
            assert_problem(&r, pointer, rule);
        }
        // Every broken rule at once.
        let r = app.post("/api/v1/fee-standards", &unit, &with(standard(flow, "self_operated", &yesterday), json!({"assisted_surcharge": "80.00", "minimum_charge": "1.001"}))).expect(422);
        assert_problem(&r, "/assisted_surcharge", "assisted_only");
        assert_problem(&r, "/effective_from", "not_retroactive");
        assert_problem(&r, "/minimum_charge", "money");
        assert_eq!(app.count("fee_standards"), 0);
    }

    fn versions_are_numbered_per_subject_and_a_rejection_gives_a_reason(app) {
        app.seed_demo();
        let unit = app.login("unit1");
        let today = local_date(&app, 0);
        let version = |body: &Value| app.post("/api/v1/fee-standards", &unit, body).expect(201).body["version"].as_i64();
        assert_eq!(version(&assisted(&app, &today)), Some(1));
        assert_eq!(version(&assisted(&app, &local_date(&app, 30))), Some(2));
        let flow = instrument(&app, "Flow");
        assert_eq!(version(&standard(flow, "self_operated", &today)), Some(1));
        assert_eq!(version(&standard(flow, "assisted", &today)), Some(1));
        assert_eq!(version(&assisted(&app, &today)), Some(3));

        // A sample-service item is priced in its own unit, with versions of its own.
        let lcms = instrument(&app, "LC-MS");
        let item = json!({"name": "血清25-羟基维生素D检测", "instrument_ids": [lcms], "unit": "sample", "turnaround_days": 3,
                          "sample_requirements": "血清 ≥ 0.5 mL", "required_biosafety": "BSL2"});
        let item = id_of(&app.post("/api/v1/service-items", &unit, &item).expect(201));
        let per_sample = json!({"service_item_id": item, "unit": "sample", "effective_from": today,
                                "prices": {"internal": "120.00", "member": "150.00", "external": "220.00"}});
        let r = app.post("/api/v1/fee-standards", &unit, &per_sample).expect(201);
        assert_eq!((r.body["version"].as_i64(), r.body["service_item_id"].as_i64()), (Some(1), Some(item)));
        assert_eq!(r.body["minimum_charge"], "0.00");
        assert!(r.body.get("instrument_id").is_none() && r.body.get("mode").is_none(), "{}", r.text);
        let mut per_hour = per_sample.clone();
        per_hour["unit"] = json!("hour");
        assert_problem(&app.post("/api/v1/fee-standards", &unit, &per_hour).expect(422), "/unit", "unit_matches_subject");

        let path = format!("/api/v1/fee-standards/{}", id_of(&r));
        let admin = app.login("admin");
        assert_problem(&app.post(&format!("{path}/reject"), &admin, &json!({"reason": ""})).expect(422), "/reason", "length");
        assert_problem(&app.post(&format!("{path}/reject"), &admin, &json!({"reason": "   "})).expect(422), "/reason", "required");
        assert_problem(&app.post(&format!("{path}/reject"), &admin, &json!({})).expect(422), "/reason", "required");
        let r = app.post(&format!("{path}/reject"), &admin, &json!({"reason": "外部价格高于成本测算的1.5倍，请说明"})).expect(200);
        assert_eq!((r.body["status"].as_str(), r.body["reason"].as_str()), (Some("rejected"), Some("外部价格高于成本测算的1.5倍，请说明")));
        // The unit reads why; a decided standard is not decided again.
        assert_eq!(app.get(&path, &unit).expect(200).body["status"], "rejected");
        let r = app.post(&format!("{path}/approve"), &admin, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/fee-standard-transition");
        app.post(&format!("{path}/reject"), &admin, &json!({"reason": "再次"})).expect(409);
        // The unit's list holds its proposals; a researcher's only what is approved.
        assert_eq!(ids(&app.get("/api/v1/fee-standards?status=proposed", &unit).expect(200)).len(), 5);
        assert!(ids(&app.get("/api/v1/fee-standards", &app.login("researcher")).expect(200)).is_empty());
    }

    fn a_proposal_whose_effective_date_has_passed_is_not_approved(app) {
        app.seed_demo();
        let tomorrow = local_date(&app, 1);
        let id = id_of(&app.post("/api/v1/fee-standards", &app.login("unit1"), &assisted(&app, &tomorrow)).expect(201));
        app.advance(chrono::Duration::days(2));
        let admin = app.login("admin");
        let path = format!("/api/v1/fee-standards/{id}");
        let r = app.post(&format!("{path}/approve"), &admin, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/fee-standard-retroactive");
        assert!(r.body["detail"].as_str().is_some_and(|d| d.contains(&tomorrow)), "{}", r.text);
        assert_eq!(app.get(&path, &admin).expect(200).body["status"], "proposed");
        // The unit proposes it again from today; the stale one is rejected.
        let r = app.post("/api/v1/fee-standards", &app.login("unit1"), &assisted(&app, &local_date(&app, 0))).expect(201);
        assert_eq!(r.body["version"], 2);
        app.post(&format!("/api/v1/fee-standards/{}/approve", id_of(&r)), &admin, &json!({})).expect(200);
        app.post(&format!("{path}/reject"), &admin, &json!({"reason": "生效日期已过"})).expect(200);
    }

    fn the_cost_calculator_suggests_prices_from_the_cost_of_an_hour(app) {
        app.seed_demo();
        let researcher = app.login("researcher");
        let inputs = json!({"original_value": "3800000.00", "depreciation_years": 10, "rated_annual_hours": 1600,
                            "consumables_per_hour": "60.00", "energy_per_hour": "8.50", "labour_per_hour": "45.00",
                            "management_fee_percent": "10"});
        let r = app.post("/api/v1/fee-standards/estimate", &researcher, &inputs).expect(200);
        let lines = [
            ("depreciation_per_hour", "237.50"), ("maintenance_per_hour", "142.50"), ("direct_cost_per_hour", "493.50"),
            ("management_fee_per_hour", "49.35"), ("cost_per_hour", "542.85"), ("energy_per_hour", "8.50"),
            ("maintenance_rate_percent", "6"), ("management_fee_percent", "10"),
        ];
        for (field, value) in lines {
            assert_eq!(r.body[field], value, "{field}: {}", r.text);
        }
        assert_eq!(r.body["suggested"], json!({"internal": "542.85", "member": "542.85", "external": "814.28"}));
        assert_eq!(r.body["multipliers"], json!({"internal": "1", "member": "1", "external": "1.5"}));
        assert_eq!(app.count("fee_standards"), 0);

        // The management fee defaults to 10 %; the original value and rated hours come from an instrument.
        let from_instrument = json!({"instrument_id": instrument(&app, "LC-MS"), "depreciation_years": 10,
                                     "consumables_per_hour": "60.00", "energy_per_hour": "8.50", "labour_per_hour": "45.00"});
        let r = app.post("/api/v1/fee-standards/estimate", &researcher, &from_instrument).expect(200);
        assert_eq!((r.body["original_value"].as_str(), r.body["rated_annual_hours"].as_i64()), (Some("3860000.00"), Some(1600)));
        assert_eq!((r.body["depreciation_per_hour"].as_str(), r.body["management_fee_percent"].as_str()), (Some("241.25"), Some("10")));

        let mut bad = inputs.clone();
        bad["management_fee_percent"] = json!("20");
        bad["depreciation_years"] = json!(0);
        let r = app.post("/api/v1/fee-standards/estimate", &researcher, &bad).expect(422);
        assert_problem(&r, "/management_fee_percent", "range");
        assert_problem(&r, "/depreciation_years", "range");
        let mut bad = inputs.clone();
        bad["management_fee_percent"] = json!("ten");
        bad["energy_per_hour"] = json!("8.505");
        bad.as_object_mut().map(|o| o.remove("original_value"));
        let r = app.post("/api/v1/fee-standards/estimate", &researcher, &bad).expect(422);
        assert_problem(&r, "/management_fee_percent", "percent");
        assert_problem(&r, "/energy_per_hour", "money");
        assert_problem(&r, "/original_value", "required");
        assert_eq!(r.body["errors"].as_array().map(Vec::len), Some(3), "{}", r.text);
        // An instrument the user cannot see is no source of figures.
        let hidden = instrument(&app, "核酸提取");
        assert_problem(&app.post("/api/v1/fee-standards/estimate", &app.login("guest"), &json!({"instrument_id": hidden, "depreciation_years": 10,
            "consumables_per_hour": "0", "energy_per_hour": "0", "labour_per_hour": "0"})).expect(422), "/instrument_id", "exists");
    }

    fn a_programme_is_drafted_approved_by_the_commission_activated_and_closed(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let leader = app.login("leader");
        let researcher = app.login("researcher");
        app.post("/api/v1/subsidy-programmes", &app.login("unit1"), &programme_body()).expect(403);
        app.post("/api/v1/subsidy-programmes", &leader, &programme_body()).expect(403);
        let r = app.post("/api/v1/subsidy-programmes", &admin, &programme_body()).expect(201);
        let id = id_of(&r);
        assert_eq!(r.body["status"], "draft");
        assert_eq!((r.body["budget"].as_str(), r.body["spent"].as_str(), r.body["remaining"].as_str()), (Some("500000.00"), Some("0.00"), Some("500000.00")));
        assert_eq!(r.body["ratio_percent"], "50");
        assert_eq!(r.body["eligibility"]["memberships"], json!(["member"]));
        let path = format!("/api/v1/subsidy-programmes/{id}");

        // A draft is prepared out of researchers' sight, and changes only while a draft.
        app.get(&path, &researcher).expect(404);
        assert!(!ids(&app.get("/api/v1/subsidy-programmes", &researcher).expect(200)).contains(&id));
        app.patch(&path, &app.login("unit1"), &json!({"budget": "1.00"})).expect(404);
        app.patch(&path, &app.login("regulator"), &json!({"budget": "1.00"})).expect(403);
        let r = app.patch(&path, &admin, &json!({"budget": "600000.00", "ratio_percent": "40", "cap_per_charge": null})).expect(200);
        assert_eq!((r.body["budget"].as_str(), r.body["ratio_percent"].as_str()), (Some("600000.00"), Some("40")));
        assert!(r.body["cap_per_charge"].is_null(), "{}", r.text);
        assert_eq!(r.body["cap_per_beneficiary"], "20000.00");
        assert_problem(&app.patch(&path, &admin, &json!({"valid_until": "2025-12-31"})).expect(422), "/valid_until", "date_order");

        // The platform office prepares; the commission approves.
        app.post(&format!("{path}/activate"), &admin, &json!({})).expect(409);
        app.post(&format!("{path}/approve"), &admin, &json!({})).expect(403);
        let r = app.post(&format!("{path}/approve"), &leader, &json!({})).expect(200);
        assert_eq!(r.body["status"], "approved");
        assert!(r.body["approved_by"].as_i64().is_some(), "{}", r.text);
        let r = app.patch(&path, &admin, &json!({"budget": "700000.00"})).expect(409);
        assert_eq!(r.problem_type(), "/problems/programme-transition");
        app.post(&format!("{path}/activate"), &leader, &json!({})).expect(403);
        assert_eq!(app.post(&format!("{path}/activate"), &admin, &json!({})).expect(200).body["status"], "active");
        let r = app.post(&format!("{path}/approve"), &leader, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/programme-transition");
        let r = app.get(&path, &researcher).expect(200);
        assert_eq!((r.body["status"].as_str(), r.body["remaining"].as_str()), (Some("active"), Some("600000.00")));
        assert_eq!(app.post(&format!("{path}/close"), &admin, &json!({})).expect(200).body["status"], "closed");
        app.post(&format!("{path}/close"), &admin, &json!({})).expect(409);
        app.post(&format!("{path}/activate"), &admin, &json!({})).expect(409);
        assert_eq!(
            audit_actions(&app, "subsidy_programme", id),
            vec!["subsidy_programme.create", "subsidy_programme.update", "subsidy_programme.approve",
                 "subsidy_programme.activate", "subsidy_programme.close"]
        );
    }

    fn a_bad_programme_names_each_field_and_stores_nothing(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let mut body = programme_body();
        body["budget"] = json!("0.00");
        body["ratio_percent"] = json!("150");
        body["valid_until"] = json!("2025-12-31");
        body["cap_per_charge"] = json!("-5.00");
        body["eligibility"]["user_tags"] = json!(["High Level"]);
        body["eligibility"]["category_prefixes"] = json!(["03a"]);
        let r = app.post("/api/v1/subsidy-programmes", &admin, &body).expect(422);
        for (pointer, rule) in [
            ("/budget", "positive"), ("/ratio_percent", "percent"), ("/valid_until", "date_order"), ("/cap_per_charge", "money"),
            ("/eligibility/user_tags", "tag_format"), ("/eligibility/category_prefixes", "category_prefix"),
        ] {
            assert_problem(&r, pointer, rule);
        }
        let mut body = programme_body();
        body["eligibility"]["memberships"] = json!(["member", "nobody"]);
        assert_problem(&app.post("/api/v1/subsidy-programmes", &admin, &body).expect(422), "/eligibility/memberships/1", "enum");
        assert_eq!(app.count("subsidy_programmes"), 0);
    }

    fn an_eligible_researcher_gets_one_grant_within_the_cap(app) {
        app.seed_demo();
        let programme = active_programme(&app, &programme_body());
        let researcher = app.login("researcher");
        let admin = app.login("admin");

        // The external company's researcher is not covered by a programme for member units.
        let r = app.post("/api/v1/subsidy-grants", &app.login("guest"), &application(programme, "5000.00")).expect(403);
        assert_eq!(r.problem_type(), "/problems/grant-ineligible-membership");
        app.post("/api/v1/subsidy-grants", &admin, &application(programme, "5000.00")).expect(403);
        let r = app.post("/api/v1/subsidy-grants", &researcher, &application(programme, "20000.01")).expect(422);
        assert_problem(&r, "/requested_amount", "cap_per_beneficiary");
        assert_eq!(app.count("subsidy_grants"), 0);

        let r = app.post("/api/v1/subsidy-grants", &researcher, &application(programme, "10000.00")).expect(201);
        let grant = id_of(&r);
        assert_eq!((r.body["status"].as_str(), r.body["requested_amount"].as_str(), r.body["remaining"].as_str()), (Some("pending"), Some("10000.00"), Some("0.00")));
        let r = app.post("/api/v1/subsidy-grants", &researcher, &application(programme, "3000.00")).expect(409);
        assert_eq!(r.problem_type(), "/problems/grant-open");

        let path = format!("/api/v1/subsidy-grants/{grant}");
        app.post(&format!("{path}/approve"), &app.login("unit1"), &json!({"amount": "8000.00"})).expect(404);
        app.post(&format!("{path}/approve"), &app.login("leader"), &json!({"amount": "8000.00"})).expect(403);
        assert_problem(&app.post(&format!("{path}/approve"), &admin, &json!({"amount": "20000.01"})).expect(422), "/amount", "cap_per_beneficiary");
        assert_problem(&app.post(&format!("{path}/approve"), &admin, &json!({"amount": "0.00"})).expect(422), "/amount", "positive");
        let r = app.post(&format!("{path}/approve"), &admin, &json!({"amount": "8000.00"})).expect(200);
        assert_eq!((r.body["status"].as_str(), r.body["amount"].as_str(), r.body["used"].as_str(), r.body["remaining"].as_str()),
                   (Some("approved"), Some("8000.00"), Some("0.00"), Some("8000.00")));
        let r = app.post(&format!("{path}/reject"), &admin, &json!({"reason": "重复"})).expect(409);
        assert_eq!(r.problem_type(), "/problems/grant-transition");
        // Still one open grant per programme.
        app.post("/api/v1/subsidy-grants", &researcher, &application(programme, "1000.00")).expect(409);

        // The beneficiary and the overseers read it; another unit's users do not.
        app.get(&path, &researcher).expect(200);
        app.get(&path, &app.login("regulator")).expect(200);
        app.get(&path, &app.login("guest")).expect(404);
        assert_eq!(ids(&app.get(&format!("/api/v1/subsidy-grants?programme_id={programme}"), &researcher).expect(200)), vec![grant]);
        assert!(ids(&app.get("/api/v1/subsidy-grants", &app.login("unit1")).expect(200)).is_empty());
        assert_eq!(ids(&app.get("/api/v1/subsidy-grants?status=approved", &admin).expect(200)), vec![grant]);
        assert_eq!(audit_actions(&app, "subsidy_grant", grant), vec!["subsidy_grant.apply", "subsidy_grant.approve"]);
    }

    fn grants_follow_the_programme_state_and_its_eligibility(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let researcher = app.login("researcher");
        // A draft is no programme to apply to; a closed one takes no applications.
        let draft = id_of(&app.post("/api/v1/subsidy-programmes", &admin, &programme_body()).expect(201));
        assert_problem(&app.post("/api/v1/subsidy-grants", &researcher, &application(draft, "100.00")).expect(422), "/programme_id", "exists");
        app.post(&format!("/api/v1/subsidy-programmes/{draft}/close"), &admin, &json!({})).expect(200);
        let r = app.post("/api/v1/subsidy-grants", &researcher, &application(draft, "100.00")).expect(409);
        assert_eq!(r.problem_type(), "/problems/programme-not-open");
        assert_problem(&app.post("/api/v1/subsidy-grants", &researcher, &application(999_999, "100.00")).expect(422), "/programme_id", "exists");

        // Institutions with a mature lab are excluded from a programme for those without one.
        let mut body = programme_body();
        body["eligibility"] = json!({"without_mature_lab_only": true});
        let programme = active_programme(&app, &body);
        let r = app.post("/api/v1/subsidy-grants", &researcher, &application(programme, "100.00")).expect(403);
        assert_eq!(r.problem_type(), "/problems/grant-ineligible-mature-lab");
        app.post("/api/v1/subsidy-grants", &app.login("guest"), &application(programme, "100.00")).expect(201);

        // A programme for tagged talent admits the researcher once the platform office tags them.
        let mut body = programme_body();
        body["eligibility"] = json!({"user_tags": ["high_level_talent"]});
        let talent = active_programme(&app, &body);
        let r = app.post("/api/v1/subsidy-grants", &researcher, &application(talent, "100.00")).expect(403);
        assert_eq!(r.problem_type(), "/problems/grant-ineligible-tags");
        let me = user_id(&app, &researcher);
        app.patch(&format!("/api/v1/users/{me}"), &admin, &json!({"tags": ["high_level_talent"]})).expect(200);
        let grant = id_of(&app.post("/api/v1/subsidy-grants", &researcher, &application(talent, "100.00")).expect(201));
        // A rejected application may be made again.
        let path = format!("/api/v1/subsidy-grants/{grant}/reject");
        assert_problem(&app.post(&path, &admin, &json!({"reason": " "})).expect(422), "/reason", "required");
        let r = app.post(&path, &admin, &json!({"reason": "课题不在资助范围内"})).expect(200);
        assert_eq!((r.body["status"].as_str(), r.body["reason"].as_str()), (Some("rejected"), Some("课题不在资助范围内")));
        app.post("/api/v1/subsidy-grants", &researcher, &application(talent, "100.00")).expect(201);
        // A closed programme decides no more grants.
        app.post(&format!("/api/v1/subsidy-programmes/{talent}/close"), &admin, &json!({})).expect(200);
        let pending = ids(&app.get(&format!("/api/v1/subsidy-grants?programme_id={talent}&status=pending"), &admin).expect(200));
        assert_eq!(pending.len(), 1);
        let r = app.post(&format!("/api/v1/subsidy-grants/{}/approve", pending[0]), &admin, &json!({"amount": "100.00"})).expect(409);
        assert_eq!(r.problem_type(), "/problems/programme-not-open");
    }

    fn the_platform_office_alone_tags_users(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let manager = app.login("manager1");
        let id = user_id(&app, &manager);
        let path = format!("/api/v1/users/{id}");
        let r = app.patch(&path, &admin, &json!({"tags": ["youth_2026", "high_level_talent"]})).expect(200);
        assert_eq!(r.body["tags"], json!(["high_level_talent", "youth_2026"]));
        assert_eq!(app.get(&path, &manager).expect(200).body["tags"], json!(["high_level_talent", "youth_2026"]));
        assert_eq!(app.get("/api/v1/me", &manager).expect(200).body["user"]["tags"], json!(["high_level_talent", "youth_2026"]));
        let listed = app.get("/api/v1/users?q=manager1", &admin).expect(200);
        assert_eq!(listed.body["items"][0]["tags"], json!(["high_level_talent", "youth_2026"]));

        // The unit admin manages the account, but not its tags; nor does its holder.
        app.patch(&path, &unit, &json!({"tags": []})).expect(403);
        app.patch(&path, &manager, &json!({"tags": ["high_level_talent"]})).expect(403);
        app.patch(&path, &unit, &json!({"display_name": "一院 陆海燕（机组）"})).expect(200);
        let r = app.patch(&path, &admin, &json!({"tags": ["High Level", "ok_tag", "ok_tag"]})).expect(422);
        assert_problem(&r, "/tags/0", "tag_format");
        assert_problem(&r, "/tags/2", "duplicate");
        let many: Vec<String> = (0..21).map(|i| format!("tag_{i}")).collect();
        assert_problem(&app.patch(&path, &admin, &json!({"tags": many})).expect(422), "/tags", "length");
        assert_eq!(app.get(&path, &admin).expect(200).body["tags"], json!(["high_level_talent", "youth_2026"]));

        let r = app.patch(&path, &admin, &json!({"tags": []})).expect(200);
        assert_eq!(r.body["tags"], json!([]));
        let trail = app.get(&format!("/api/v1/audit-events?object_type=user&object_id={id}"), &admin).expect(200);
        let tagged = trail.body["items"].as_array().is_some_and(|events| events.iter().any(|e| {
            e["action"] == "user.update" && e["before"]["tags"] == json!([]) && e["after"]["tags"] == json!(["high_level_talent", "youth_2026"])
        }));
        assert!(tagged, "{}", trail.text);
    }

    fn concurrent_proposals_take_distinct_versions_and_concurrent_applications_one_grant(app) {
        app.seed_demo();
        let unit = app.login("unit1");
        let body = assisted(&app, &local_date(&app, 0));
        let results = at_once(&app, 8, |app| app.post("/api/v1/fee-standards", &unit, &body));
        let mut versions: Vec<i64> = results.iter().map(|r| r.body["version"].as_i64().unwrap_or_else(|| panic!("{}", r.text))).collect();
        versions.sort_unstable();
        assert_eq!(versions, (1..=8).collect::<Vec<_>>());

        let programme = active_programme(&app, &programme_body());
        let researcher = app.login("researcher");
        let results = at_once(&app, 8, |app| app.post("/api/v1/subsidy-grants", &researcher, &application(programme, "1000.00")));
        assert_eq!(results.iter().filter(|r| r.status == 201).count(), 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
        for r in results.iter().filter(|r| r.status != 201) {
            assert_eq!((r.status, r.problem_type()), (409, "/problems/grant-open"), "{}", r.text);
        }
        assert_eq!(app.count("subsidy_grants"), 1);
    }
}
