use crate::fixtures::{create, credit_code, institution_body, instrument_body, lab_body, lab_of};
use labshare_tests::{both_backends, TestApp};
use serde_json::{json, Value};
use std::collections::HashSet;

fn ids(r: &Value) -> Vec<i64> {
    r["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// A new member hospital with a unit admin and a lab, created by the platform office.
fn new_unit(app: &TestApp, admin: &str, name: &str, org: &str, username: &str) -> (i64, String, i64) {
    let inst = create(app, admin, "/api/v1/institutions", &institution_body(name, org));
    create(
        app,
        admin,
        "/api/v1/users",
        &json!({
            "institution_id": inst, "username": username, "password": "unit admin passphrase",
            "display_name": "设备科", "roles": ["unit_admin"]
        }),
    );
    let token = app.login_with(username, "unit admin passphrase");
    let lab = create(app, &token, "/api/v1/labs", &lab_body(inst, "中心实验室"));
    (inst, token, lab)
}

both_backends! {
    fn a_unit_lists_an_instrument_and_other_units_see_it_only_once_approved(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let (_, unit, lab) = new_unit(&app, &admin, "南宁市第六人民医院", "498504800", "unit6");
        let researcher = app.login("researcher");
        let guest = app.login("guest");

        let created = app.post("/api/v1/instruments", &unit, &instrument_body(lab, "LY-2021-001")).expect(201);
        let id = created.body["id"].as_i64().unwrap_or_default();
        assert_eq!(created.body["listing"]["status"], "unlisted");
        assert_eq!(created.body["listing_overdue"], true);
        assert_eq!(created.body["original_value"], "1250000.00");
        assert_eq!(created.body["rated_annual_hours"], 1600);
        assert_eq!(created.body["service_modes"], json!(["self_operated", "assisted"]));
        let path = format!("/api/v1/instruments/{id}");

        // Unpublished: another unit's researcher cannot read it, even by guessing the id.
        app.get(&path, &researcher).expect(404);
        assert!(!ids(&app.get("/api/v1/instruments?limit=200", &researcher).body).contains(&id));

        let submitted = app.post(&format!("{path}/listing/submit"), &unit, &json!({})).expect(200);
        assert_eq!(submitted.body["listing"]["status"], "submitted");
        app.post(&format!("{path}/listing/approve"), &unit, &json!({})).expect(403);
        let approved = app.post(&format!("{path}/listing/approve"), &admin, &json!({})).expect(200);
        assert_eq!(approved.body["listing"]["status"], "approved");
        assert_eq!(approved.body["listing_overdue"], false);

        // Scope `system`: member units see it, the external organisation does not.
        app.get(&path, &researcher).expect(200);
        assert!(ids(&app.get("/api/v1/instruments?limit=200", &researcher).body).contains(&id));
        app.get(&path, &guest).expect(404);
        app.patch(&path, &unit, &json!({"sharing_scope": "public"})).expect(200);
        app.get(&path, &guest).expect(200);
    }

    fn a_rejection_needs_a_reason_and_the_unit_can_submit_again(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let inst = app.institution_id(&admin, "南宁市第一人民医院");
        let lab = lab_of(&app, &unit, inst);
        let id = create(&app, &unit, "/api/v1/instruments", &instrument_body(lab, "YY-REJ-1"));
        let path = format!("/api/v1/instruments/{id}/listing");
        app.post(&format!("{path}/submit"), &unit, &json!({})).expect(200);
        let r = app.post(&format!("{path}/reject"), &admin, &json!({"reason": ""})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/reason");
        let r = app.post(&format!("{path}/reject"), &admin, &json!({"reason": "请补充主要技术指标"})).expect(200);
        assert_eq!(r.body["listing"]["status"], "rejected");
        assert_eq!(r.body["listing"]["note"], "请补充主要技术指标");
        // Approving a rejected listing is not a transition.
        let r = app.post(&format!("{path}/approve"), &admin, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/listing-transition");
        app.post(&format!("{path}/submit"), &unit, &json!({})).expect(200);
        app.post(&format!("{path}/approve"), &admin, &json!({})).expect(200);
    }

    fn an_instrument_shared_with_nobody_cannot_be_listed(app) {
        app.seed_demo();
        let unit = app.login("unit1");
        let admin = app.login("admin");
        let lab = lab_of(&app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
        let mut body = instrument_body(lab, "YY-NONE-1");
        body["sharing_scope"] = json!("none");
        let id = create(&app, &unit, "/api/v1/instruments", &body);
        let r = app.post(&format!("/api/v1/instruments/{id}/listing/submit"), &unit, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/listing-not-eligible");
        assert_eq!(app.get(&format!("/api/v1/instruments/{id}"), &unit).body["listing"]["status"], "unlisted");
    }

    fn concurrent_decisions_on_one_listing_take_effect_once(app) {
        app.seed_demo();
        let unit = app.login("unit1");
        let admin = app.login("admin");
        let lab = lab_of(&app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
        let id = create(&app, &unit, "/api/v1/instruments", &instrument_body(lab, "YY-RACE-1"));
        app.post(&format!("/api/v1/instruments/{id}/listing/submit"), &unit, &json!({})).expect(200);
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (app, admin) = (&app, &admin);
                    s.spawn(move || {
                        let verb = if i % 2 == 0 { "approve" } else { "reject" };
                        app.post(&format!("/api/v1/instruments/{id}/listing/{verb}"), admin, &json!({"reason": "重复"})).status
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
        });
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s == 409 || *s == 422), "{statuses:?}");
        let decisions = app.get(&format!("/api/v1/audit-events?object_type=instrument&object_id={id}"), &admin);
        let decided = decisions.body["items"].as_array().map(|a| a.iter().filter(|e| e["action"] == "listing.approve" || e["action"] == "listing.reject").count());
        assert_eq!(decided, Some(1));
    }

    fn the_catalogue_filters_by_every_field_and_pages_without_gaps(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let all = app.get("/api/v1/instruments?limit=200", &admin).expect(200);
        let every: Vec<i64> = ids(&all.body);
        assert!(every.len() >= 10);

        // Pages of 3 cover everything exactly once.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/instruments?limit=3&cursor={c}"),
                None => "/api/v1/instruments?limit=3".to_owned(),
            };
            let page = app.get(&path, &admin).expect(200);
            let page_ids = ids(&page.body);
            assert!(page_ids.len() <= 3);
            seen.extend(page_ids);
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, every);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());

        let items = |q: &str| app.get(&format!("/api/v1/instruments?{q}&limit=200"), &admin).expect(200).body["items"].as_array().cloned().unwrap_or_default();
        let ms = items("category_code=0302");
        assert!(!ms.is_empty() && ms.iter().all(|i| i["category_code"].as_str().is_some_and(|c| c.starts_with("0302"))));
        assert!(items("category_code=030201").iter().all(|i| i["category_code"] == "030201"));
        let public = items("sharing_scope=public");
        assert!(!public.is_empty() && public.iter().all(|i| i["sharing_scope"] == "public"));
        let samples = items("service_mode=sample");
        assert!(!samples.is_empty() && samples.iter().all(|i| i["service_modes"].as_array().is_some_and(|m| m.contains(&json!("sample")))));
        let listed = items("listing_status=approved");
        assert!(!listed.is_empty() && listed.iter().all(|i| i["listing"]["status"] == "approved"));
        let cdc = app.institution_id(&admin, "南宁市疾病预防控制中心");
        let of_cdc = items(&format!("institution_id={cdc}"));
        assert_eq!(of_cdc.len(), 2);
        assert!(of_cdc.iter().all(|i| i["institution_id"] == cdc));
        let by_name = items("q=%E8%B4%A8%E8%B0%B1"); // 质谱
        assert!(by_name.len() >= 3 && by_name.iter().all(|i| i["name_zh"].as_str().is_some_and(|n| n.contains("质谱"))));
        let by_english = items("q=icp");
        assert_eq!(by_english.len(), 1);
        assert_eq!(by_english[0]["name_en"], "ICP-MS");
        assert!(items("q=%25").is_empty(), "a % in the text is literal, not a wildcard");
        assert!(items("status=faulty").is_empty());

        let r = app.get("/api/v1/instruments?category_code=03x", &admin).expect(400);
        assert_eq!(r.body["errors"][0]["parameter"], "category_code");
    }

    fn overdue_listings_show_valuable_unlisted_instruments_by_unit(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let all = app.get("/api/v1/instruments/listing-overdue?limit=200", &admin).expect(200);
        let items = all.body["items"].as_array().cloned().unwrap_or_default();
        assert!(!items.is_empty());
        for i in &items {
            let value: f64 = i["original_value"].as_str().and_then(|v| v.parse().ok()).unwrap_or(0.0);
            assert!(value >= 500_000.0, "{i}");
            assert_ne!(i["listing"]["status"], "approved");
            assert_eq!(i["listing_overdue"], true);
        }
        // The 480,000 CNY extractor of the second hospital is below the threshold.
        assert!(items.iter().all(|i| i["name_zh"] != "全自动核酸提取仪"));
        let first = app.institution_id(&admin, "南宁市第一人民医院");
        let lab = lab_of(&app, &unit, first);
        let id = create(&app, &unit, "/api/v1/instruments", &instrument_body(lab, "YY-OVERDUE-1"));
        let own = app.get("/api/v1/instruments/listing-overdue", &unit).expect(200);
        assert_eq!(ids(&own.body), vec![id]);
        app.get("/api/v1/instruments/listing-overdue", &app.login("researcher")).expect(403);
    }

    fn invalid_catalogue_fields_are_named_and_nothing_is_written(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let before = (app.count("institutions"), app.count("instruments"), app.count("audit_events"));

        let mut bad = institution_body("南宁市第七人民医院", "498504900");
        let code = credit_code("498504900");
        let wrong_check = format!("{}{}", &code[..17], if code.ends_with('0') { '1' } else { '0' });
        bad["credit_code"] = json!(wrong_check);
        let r = app.post("/api/v1/institutions", &admin, &bad).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/credit_code");
        assert_eq!(r.body["errors"][0]["rule"], "gb32100_check_digit");

        let lab = lab_of(&app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
        let cases: Vec<(&str, Value, &str)> = vec![
            ("category_code", json!("03020"), "/category_code"),
            ("original_value", json!("12.345"), "/original_value"),
            ("original_value", json!("-5.00"), "/original_value"),
            ("original_value", json!("abc"), "/original_value"),
            ("commissioning_date", json!("2020-01-01"), "/commissioning_date"),
            ("purchase_date", json!("2099-01-01"), "/purchase_date"),
            ("technical_specs", json!("规".repeat(501)), "/technical_specs"),
            ("functions", json!("x".repeat(301)), "/functions"),
            ("service_content", json!("x".repeat(201)), "/service_content"),
            ("name_zh", json!("   "), "/name_zh"),
            ("rated_annual_hours", json!(0), "/rated_annual_hours"),
            ("contact_phone", json!("call me"), "/contact_phone"),
            ("photo_url", json!("javascript:alert(1)"), "/photo_url"),
            ("service_modes", json!(["sample", "sample"]), "/service_modes"),
            ("original_value", json!("1000000000000000000000000000"), "/original_value"),
            ("original_value", json!("+5.00"), "/original_value"),
            ("purchase_date", json!("-5000-01-01"), "/purchase_date"),
            ("commissioning_date", json!("+200000-01-01"), "/commissioning_date"),
            ("contact_phone", json!("       "), "/contact_phone"),
        ];
        for (field, value, pointer) in cases {
            let mut body = instrument_body(lab, "YY-BAD-1");
            body[field] = value;
            let r = app.post("/api/v1/instruments", &unit, &body).expect(422);
            let pointers: Vec<&str> = r.body["errors"].as_array().map(|a| a.iter().filter_map(|e| e["pointer"].as_str()).collect()).unwrap_or_default();
            assert!(pointers.contains(&pointer), "{field}: {}", r.text);
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
        }
        assert_eq!((app.count("institutions"), app.count("instruments"), app.count("audit_events")), before);
    }

    fn duplicates_are_refused_with_the_field_named(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let first = app.get(&format!("/api/v1/institutions/{}", app.institution_id(&admin, "南宁市第一人民医院")), &admin).expect(200);
        let mut body = institution_body("另一家医院", "498504999");
        body["credit_code"] = first.body["credit_code"].clone();
        let r = app.post("/api/v1/institutions", &admin, &body).expect(409);
        assert_eq!(r.problem_type(), "/problems/duplicate");
        assert_eq!(r.body["errors"][0]["pointer"], "/credit_code");

        let unit = app.login("unit1");
        let lab = lab_of(&app, &unit, first.body["id"].as_i64().unwrap_or_default());
        create(&app, &unit, "/api/v1/instruments", &instrument_body(lab, "YY-DUP-1"));
        let r = app.post("/api/v1/instruments", &unit, &instrument_body(lab, "YY-DUP-1")).expect(409);
        assert_eq!(r.body["errors"][0]["pointer"], "/asset_number");
    }

    fn patch_changes_only_what_is_sent_and_null_clears(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let lab = lab_of(&app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
        let id = create(&app, &unit, "/api/v1/instruments", &instrument_body(lab, "YY-PATCH-1"));
        let path = format!("/api/v1/instruments/{id}");
        let r = app.patch(&path, &unit, &json!({"name_en": null, "original_value": "1300000.5", "rated_annual_hours": 2000})).expect(200);
        assert_eq!(r.body["name_en"], Value::Null);
        assert_eq!(r.body["original_value"], "1300000.50");
        assert_eq!(r.body["rated_annual_hours"], 2000);
        assert_eq!(r.body["name_zh"], "流式细胞仪");
        assert_eq!(r.body["commissioning_date"], "2021-05-10");
        let r = app.patch(&path, &unit, &json!({"commissioning_date": "2020-01-01"})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/commissioning_date");
        assert_eq!(app.get(&path, &unit).body["commissioning_date"], "2021-05-10");
    }

    fn every_invalid_field_is_reported_at_once(app) {
        app.seed_demo();
        let unit = app.login("unit1");
        let admin = app.login("admin");
        let lab = lab_of(&app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
        let mut body = instrument_body(lab, "YY-MANY-1");
        body["category_code"] = json!("12");
        body["original_value"] = json!("1.234");
        body["name_zh"] = json!("");
        let r = app.post("/api/v1/instruments", &unit, &body).expect(422);
        let mut pointers: Vec<&str> = r.body["errors"].as_array().map(|a| a.iter().filter_map(|e| e["pointer"].as_str()).collect()).unwrap_or_default();
        pointers.sort_unstable();
        assert_eq!(pointers, vec!["/category_code", "/name_zh", "/original_value"]);
    }

    fn withdrawing_a_listed_instrument_from_sharing_unlists_it(app) {
        app.seed_demo();
        let unit = app.login("unit1");
        let admin = app.login("admin");
        let lab = lab_of(&app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
        let id = create(&app, &unit, "/api/v1/instruments", &instrument_body(lab, "YY-WD-1"));
        let path = format!("/api/v1/instruments/{id}");
        app.post(&format!("{path}/listing/submit"), &unit, &json!({})).expect(200);
        // Made unfit after submission (behind the API's back): the office cannot approve it.
        app.execute(&format!("UPDATE instruments SET mode_assisted = false, mode_self_operated = false WHERE id = {id}"));
        let r = app.post(&format!("{path}/listing/approve"), &admin, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/listing-not-eligible");
        app.patch(&path, &unit, &json!({"service_modes": ["assisted"]})).expect(200);
        app.post(&format!("{path}/listing/approve"), &admin, &json!({})).expect(200);
        let r = app.patch(&path, &unit, &json!({"sharing_scope": "none"})).expect(200);
        assert_eq!(r.body["listing"]["status"], "unlisted");
        assert_eq!(r.body["listing_overdue"], true);
    }

    fn managers_report_status_of_their_instruments_only(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let manager = app.login("manager1");
        let lab = lab_of(&app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
        let id = create(&app, &unit, "/api/v1/instruments", &instrument_body(lab, "YY-MGR-1"));
        let path = format!("/api/v1/instruments/{id}");
        app.patch(&path, &manager, &json!({"status": "faulty"})).expect(403);

        let manager_id = app.get("/api/v1/me", &manager).body["user"]["id"].as_i64().unwrap_or_default();
        let researcher_id = app.get("/api/v1/me", &app.login("researcher")).body["user"]["id"].as_i64().unwrap_or_default();
        let r = app.put(&format!("{path}/managers"), &unit, &json!({"user_ids": [manager_id, researcher_id]})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/user_ids/1");
        let r = app.put(&format!("{path}/managers"), &unit, &json!({"user_ids": [manager_id]})).expect(200);
        assert_eq!(r.body["manager_ids"], json!([manager_id]));

        let r = app.patch(&path, &manager, &json!({"status": "under_repair"})).expect(200);
        assert_eq!(r.body["status"], "under_repair");
        app.patch(&path, &manager, &json!({"status": "normal", "model": "X"})).expect(403);
    }

    fn labs_are_created_and_filtered_by_institution(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let first = app.institution_id(&admin, "南宁市第一人民医院");
        let lab = create(&app, &unit, "/api/v1/labs", &lab_body(first, "病理科实验室"));
        let r = app.get(&format!("/api/v1/labs?institution_id={first}"), &unit).expect(200);
        let names: Vec<&str> = r.body["items"].as_array().map(|a| a.iter().filter_map(|l| l["name"].as_str()).collect()).unwrap_or_default();
        assert_eq!(names, vec!["中心实验室", "病理科实验室"]);
        let r = app.patch(&format!("/api/v1/labs/{lab}"), &unit, &json!({"contact_email": "bl@example.org", "biosafety_level": "BSL1"})).expect(200);
        assert_eq!(r.body["contact_email"], "bl@example.org");
        assert_eq!(r.body["biosafety_level"], "BSL1");
        let r = app.post("/api/v1/labs", &unit, &lab_body(first, "病理科实验室")).expect(409);
        assert_eq!(r.body["errors"][0]["pointer"], "/name");
        let r = app.get("/api/v1/labs?biosafety_level=BSL3", &unit).expect(200);
        assert!(r.body["items"].as_array().is_some_and(|a| a.len() == 1 && a[0]["biosafety_level"] == "BSL3"));
    }
}
