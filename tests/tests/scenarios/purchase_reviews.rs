//! Purchase reviews (新购查重评议, DESIGN.md §5) on both databases: the
//! effective hours of similar instruments over the twelve months before a
//! request, computed to the minute, the recommendation, the answer kept as
//! given, and who files, reads and decides.

use crate::fixtures::{create, instrument_body, lab_of};
use chrono::{DateTime, Duration, FixedOffset, Months, Utc};
use labshare_tests::{both_backends, Resp, TestApp};
use serde_json::{json, Value};

const REVIEWS: &str = "/api/v1/purchase-reviews";

fn id_of(r: &Resp) -> i64 {
    r.body["id"].as_i64().unwrap_or_else(|| panic!("no id: {}", r.text))
}

fn user_id(app: &TestApp, username: &str) -> i64 {
    app.get("/api/v1/me", &app.login(username)).body["user"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no user {username}"))
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

/// The demo instruments of a category, by Chinese name, as the platform office sees them.
fn instruments_of(app: &TestApp, category: &str) -> Vec<(String, i64)> {
    let r = app
        .get(
            &format!("/api/v1/instruments?category_code={category}&limit=200"),
            &app.login("admin"),
        )
        .expect(200);
    r.body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    (
                        i["name_zh"].as_str().unwrap_or_default().to_owned(),
                        i["id"].as_i64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn instrument(app: &TestApp, category: &str, name: &str) -> i64 {
    instruments_of(app, category)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, id)| id)
        .unwrap_or_else(|| panic!("no {name} in {category}"))
}

fn sql_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Writes a past use of `minutes` starting at `start` straight into the database (history).
fn past_use(app: &TestApp, instrument: i64, user: (i64, i64), start: DateTime<Utc>, minutes: i64) {
    let (user, institution) = user;
    let end = start + Duration::minutes(minutes);
    app.execute(&format!(
        "INSERT INTO usage_records (instrument_id, booking_id, user_id, institution_id, operator_id, mode, \
         started_at, ended_at, effective_minutes, billed_minutes, walk_in, note, recorded_by, recorded_at) \
         VALUES ({instrument}, NULL, {user}, {institution}, {user}, 'assisted', '{}', '{}', {minutes}, {minutes}, \
         true, '历史机时', {user}, '{}')",
        sql_time(start),
        sql_time(end),
        sql_time(end)
    ));
}

/// `hours` of history in sessions of 20 h, the latest starting
/// `first_days_ago` days ago and each earlier one `every_days` before it.
fn history(app: &TestApp, instrument: i64, user: (i64, i64), hours: i64, first_days_ago: i64, every_days: i64) {
    assert_eq!(hours % 20, 0, "whole sessions");
    for k in 0..hours / 20 {
        let start = app.now() - Duration::days(first_days_ago + every_days * k);
        past_use(app, instrument, user, start, 20 * 60);
    }
}

/// A walk-in on an instrument of the first hospital recorded by `manager1`.
fn walk_in(app: &TestApp, instrument: i64, user: i64, ended_minutes_ago: i64, minutes: i64) {
    let end = app.now() - Duration::minutes(ended_minutes_ago);
    let start = end - Duration::minutes(minutes);
    app.post(
        "/api/v1/usage-records",
        &app.login("manager1"),
        &json!({"instrument_id": instrument, "user_id": user, "mode": "assisted",
                "started_at": start.to_rfc3339(), "ended_at": end.to_rfc3339(), "note": "临时加测"}),
    )
    .expect(201);
}

fn request(category: &str, price: &str, quantity: i64) -> Value {
    json!({
        "category_code": category, "instrument_name": "液相色谱-串联质谱仪",
        "specs": "质量范围 5–2000 m/z；ESI/APCI 离子源", "price": price, "quantity": quantity,
        "reason": "新生儿遗传代谢病筛查样本量三年增长一倍，现有设备满负荷"
    })
}

/// The researcher of the second hospital: (user id, institution id).
fn researcher(app: &TestApp) -> (i64, i64) {
    let second = app.institution_id(&app.login("admin"), "南宁市第二人民医院");
    (user_id(app, "researcher"), second)
}

/// The similar instruments of an answer: (id, effective minutes, effective hours, candidate).
fn answer(review: &Value) -> Vec<(i64, i64, String, bool)> {
    review["similar_instruments"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["instrument_id"].as_i64().unwrap_or_default(),
                        s["effective_minutes"].as_i64().unwrap_or(-1),
                        s["effective_hours"].as_str().unwrap_or_default().to_owned(),
                        s["candidate"].as_bool().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_else(|| panic!("no similar instruments: {review}"))
}

fn file(app: &TestApp, token: &str, body: &Value) -> Value {
    app.post(REVIEWS, token, body).expect(201).body
}

both_backends! {
    fn a_request_is_answered_with_the_use_of_every_similar_instrument_and_sharing_an_idle_one(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let first = app.institution_id(&admin, "南宁市第一人民医院");
        let cdc = app.institution_id(&admin, "南宁市疾病预防控制中心");
        let lcms = instrument(&app, "030201", "液相色谱-串联质谱仪");
        let gcms = instrument(&app, "030201", "气相色谱-质谱联用仪");
        // A retired instrument of the same category is no alternative.
        let fourth = app.institution_id(&admin, "南宁市第四人民医院");
        let mut body = instrument_body(lab_of(&app, &admin, fourth), "NN-RETIRED-1");
        body["category_code"] = json!("030201");
        let retired = create(&app, &admin, "/api/v1/instruments", &body);
        app.execute(&format!("UPDATE instruments SET status = 'retired' WHERE id = {retired}"));

        let user = researcher(&app);
        let cst = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| panic!("offset"));
        let window_start = app
            .now()
            .with_timezone(&cst)
            .checked_sub_months(Months::new(12))
            .unwrap_or_else(|| panic!("window"))
            .with_timezone(&Utc);
        // LC-MS/MS: 1300 h over the year, and a 90-minute walk-in today.
        history(&app, lcms, user, 1300, 5, 5);
        walk_in(&app, lcms, user.0, 180, 90);
        past_use(&app, retired, user, app.now() - Duration::days(3), 60);
        // GC-MS: 300 h, and one hour started just inside the window; a use
        // started just before it (though ending inside) and one 13 months
        // ago do not count.
        history(&app, gcms, user, 300, 5, 10);
        past_use(&app, gcms, user, window_start + Duration::minutes(1), 60);
        past_use(&app, gcms, user, window_start - Duration::minutes(1), 600);
        past_use(&app, gcms, user, app.now() - Duration::days(395), 600);

        let review = file(&app, &unit, &request("030201", "3500000.00", 1));
        let id = review["id"].as_i64().unwrap_or_default();
        assert_eq!(review["status"], "submitted");
        assert_eq!(review["institution_id"].as_i64(), Some(first), "defaults to the filer's unit");
        assert_eq!(review["recommendation"], "share_instead");
        assert_eq!(review["candidate_instrument_ids"], json!([gcms]));
        assert_eq!(review["share_instead_below_hours"], 1200);
        assert_eq!((review["price"].as_str(), review["total_value"].as_str()), (Some("3500000.00"), Some("3500000.00")));
        assert_eq!(
            answer(&review),
            vec![(lcms, 78_090, "1301.50".to_owned(), false), (gcms, 18_060, "301.00".to_owned(), true)]
        );
        let similar = &review["similar_instruments"];
        assert_eq!(similar[0]["institution_id"].as_i64(), Some(first));
        assert_eq!(similar[0]["institution_name"], "南宁市第一人民医院");
        assert_eq!(similar[0]["original_value"], "3860000.00");
        assert_eq!(similar[0]["listing_status"], "approved");
        assert_eq!(similar[1]["institution_id"].as_i64(), Some(cdc));
        assert_eq!(similar[1]["institution_name"], "南宁市疾病预防控制中心");
        assert_eq!((similar[1]["status"].as_str(), similar[1]["sharing_scope"].as_str()), (Some("normal"), Some("system")));
        assert_eq!(similar[1]["listing_status"], "rejected", "every listing status is weighed");
        let filed: DateTime<Utc> = review["filed_at"].as_str().and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("filed_at"));
        let from: DateTime<Utc> = review["usage_from"].as_str().and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("usage_from"));
        assert_eq!(review["usage_to"], review["filed_at"]);
        assert_eq!((from - window_start).num_milliseconds(), 0, "twelve local months before {filed}");

        let audit = app
            .get(&format!("/api/v1/audit-events?object_type=purchase_review&object_id={id}"), &app.login("regulator"))
            .expect(200);
        assert_eq!(audit.body["items"][0]["action"], "purchase_review.file");
        assert_eq!(audit.body["items"][0]["after"]["recommendation"], "share_instead");
    }

    fn the_answer_a_unit_got_does_not_change_when_more_use_is_recorded(app) {
        app.seed_demo();
        let unit = app.login("unit1");
        let lcms = instrument(&app, "030201", "液相色谱-串联质谱仪");
        let gcms = instrument(&app, "030201", "气相色谱-质谱联用仪");
        let user = researcher(&app);
        history(&app, lcms, user, 1300, 5, 5);
        walk_in(&app, lcms, user.0, 180, 90);
        history(&app, gcms, user, 300, 5, 10);
        let first = file(&app, &unit, &request("030201", "3500000.00", 1));
        let id = first["id"].as_i64().unwrap_or_default();

        // More use afterwards: an hour on the LC-MS/MS, 1000 h on the GC-MS.
        walk_in(&app, lcms, user.0, 30, 60);
        history(&app, gcms, user, 1000, 7, 5);
        let again = app.get(&format!("{REVIEWS}/{id}"), &unit).expect(200).body;
        assert_eq!(answer(&again), answer(&first));
        assert_eq!(again["recommendation"], "share_instead");
        assert_eq!(again["candidate_instrument_ids"], json!([gcms]));

        // A new request is answered from the use as it is now.
        let later = file(&app, &unit, &request("030201", "3500000.00", 1));
        assert_eq!(
            answer(&later),
            vec![(lcms, 78_150, "1302.50".to_owned(), false), (gcms, 78_000, "1300.00".to_owned(), false)]
        );
        assert_eq!(later["recommendation"], "purchase");
        assert_eq!(later["candidate_instrument_ids"], json!([]));

        // The database itself keeps the stored answer as it was.
        let refused = app.try_execute(&format!(
            "UPDATE purchase_review_instruments SET effective_minutes = 0 WHERE review_id = {id}"
        ));
        assert!(refused.is_err_and(|e| e.contains("purchase_reviews_frozen")));
        let refused = app.try_execute(&format!("UPDATE purchase_reviews SET recommendation = 'purchase' WHERE id = {id}"));
        assert!(refused.is_err_and(|e| e.contains("purchase_reviews_frozen")));
        assert_eq!(answer(&app.get(&format!("{REVIEWS}/{id}"), &unit).expect(200).body), answer(&first));
    }

    fn well_used_similar_instruments_or_none_at_all_justify_the_purchase(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let blood = app.institution_id(&admin, "南宁中心血站");
        let qpcr = instrument(&app, "031002", "实时荧光定量PCR仪");
        let nat = instrument(&app, "031002", "全自动血液核酸检测系统");
        let user = researcher(&app);
        // Exactly 1200 h is enough use; 1500 h more so.
        history(&app, qpcr, user, 1200, 5, 5);
        history(&app, nat, user, 1500, 5, 4);
        let mut body = request("031002", "4200000.00", 2);
        body["institution_id"] = json!(blood);
        body["instrument_name"] = json!("全自动血液核酸检测系统");
        let review = file(&app, &admin, &body);
        assert_eq!(review["institution_id"].as_i64(), Some(blood), "the platform office files for a unit");
        assert_eq!(review["recommendation"], "purchase");
        assert_eq!(review["candidate_instrument_ids"], json!([]));
        assert_eq!(review["total_value"], "8400000.00");
        assert_eq!(
            answer(&review),
            vec![(qpcr, 72_000, "1200.00".to_owned(), false), (nat, 90_000, "1500.00".to_owned(), false)]
        );

        let none = file(&app, &app.login("unit1"), &request("031099", "2000000.00", 1));
        assert_eq!(none["recommendation"], "purchase");
        assert_eq!(none["similar_instruments"], json!([]));
        assert_eq!(none["candidate_instrument_ids"], json!([]));
    }

    fn a_purchase_below_the_threshold_or_an_invalid_request_is_refused_and_nothing_is_stored(app) {
        app.seed_demo();
        let unit = app.login("unit1");
        let audit_before = app.count("audit_events");
        // The threshold applies to one instrument, not to price × quantity.
        let r = app.post(REVIEWS, &unit, &request("030201", "1999999.99", 5)).expect(422);
        assert_eq!(r.problem_type(), "/problems/validation");
        assert_problem(&r, "/price", "below_review_threshold");
        assert_eq!(r.body["errors"].as_array().map(Vec::len), Some(1), "{}", r.text);

        let r = app.post(REVIEWS, &unit, &request("030201", "12,000,000", 1)).expect(422);
        assert_problem(&r, "/price", "money");
        assert_eq!(r.body["errors"].as_array().map(Vec::len), Some(1), "an unreadable price is reported once: {}", r.text);

        let mut body = request("03020", "3000000.00", 0);
        body["instrument_name"] = json!("  ");
        body["specs"] = json!("规".repeat(501));
        body["reason"] = json!("");
        let r = app.post(REVIEWS, &unit, &body).expect(422);
        for (pointer, rule) in [
            ("/category_code", "category_code"),
            ("/instrument_name", "required"),
            ("/specs", "length"),
            ("/reason", "required"),
            ("/quantity", "range"),
        ] {
            assert_problem(&r, pointer, rule);
        }
        assert_problem(&app.post(REVIEWS, &unit, &request("030201", "3000000.00", 101)).expect(422), "/quantity", "range");
        let mut body = request("030201", "3000000.00", 1);
        body["reason"] = json!("为患者11010519491231002X检测");
        assert_problem(&app.post(REVIEWS, &unit, &body).expect(422), "/reason", "resident_id");
        let mut body = request("030201", "3000000.00", 1);
        body["institution_id"] = json!(999_999);
        assert_problem(&app.post(REVIEWS, &unit, &body).expect(422), "/institution_id", "exists");
        let mut body = request("030201", "3000000.00", 1);
        body["quantity"] = json!("one");
        assert_problem(&app.post(REVIEWS, &unit, &body).expect(422), "/quantity", "type");

        assert_eq!(app.count("purchase_reviews"), 0);
        assert_eq!(app.count("purchase_review_instruments"), 0);
        assert_eq!(app.count("audit_events"), audit_before);
    }

    fn a_unit_files_and_reads_its_own_reviews_and_overseers_read_all(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let first = app.institution_id(&admin, "南宁市第一人民医院");
        let second = app.institution_id(&admin, "南宁市第二人民医院");
        let blood = app.institution_id(&admin, "南宁中心血站");
        create(&app, &admin, "/api/v1/users", &json!({
            "institution_id": second, "username": "unit2", "password": "second unit passphrase",
            "display_name": "二院 设备科", "roles": ["unit_admin"]
        }));
        let other_unit = app.login_with("unit2", "second unit passphrase");

        // A unit admin files for its own unit only; researchers and managers not at all.
        let mut foreign = request("030201", "3000000.00", 1);
        foreign["institution_id"] = json!(blood);
        assert_eq!(app.post(REVIEWS, &unit, &foreign).expect(403).problem_type(), "/problems/forbidden");
        app.post(REVIEWS, &app.login("researcher"), &request("030201", "3000000.00", 1)).expect(403);
        app.post(REVIEWS, &app.login("manager1"), &request("030201", "3000000.00", 1)).expect(403);
        app.post(REVIEWS, &app.login("regulator"), &request("030201", "3000000.00", 1)).expect(403);
        assert_eq!(app.count("purchase_reviews"), 0);
        let mut own = request("030201", "3000000.00", 1);
        own["institution_id"] = json!(first);
        let mine = id_of(&app.post(REVIEWS, &unit, &own).expect(201));
        let theirs = id_of(&app.post(REVIEWS, &other_unit, &request("031005", "2500000.00", 1)).expect(201));

        // Another unit's review does not exist for a unit admin or a researcher.
        let path = format!("{REVIEWS}/{mine}");
        assert_eq!(app.get(&path, &other_unit).expect(404).problem_type(), "/problems/not-found");
        app.get(&path, &app.login("researcher")).expect(404);
        app.get(&path, &app.login("manager1")).expect(404);
        app.post(&format!("{path}/withdraw"), &other_unit, &json!({})).expect(404);
        app.get(&path, &unit).expect(200);
        for overseer in ["admin", "leader", "regulator"] {
            app.get(&path, &app.login(overseer)).expect(200);
            assert_eq!(ids(&app.get(REVIEWS, &app.login(overseer)).expect(200)), vec![mine, theirs], "{overseer}");
        }

        // Lists: a unit admin its own unit's; researchers and managers may not list.
        assert_eq!(ids(&app.get(REVIEWS, &unit).expect(200)), vec![mine]);
        assert_eq!(ids(&app.get(REVIEWS, &other_unit).expect(200)), vec![theirs]);
        assert_eq!(ids(&app.get(&format!("{REVIEWS}?institution_id={second}"), &unit).expect(200)), Vec::<i64>::new());
        app.get(REVIEWS, &app.login("researcher")).expect(403);
        app.get(REVIEWS, &app.login("manager1")).expect(403);
        let regulator = app.login("regulator");
        assert_eq!(ids(&app.get(&format!("{REVIEWS}?category_code=031005"), &regulator).expect(200)), vec![theirs]);
        assert_eq!(ids(&app.get(&format!("{REVIEWS}?institution_id={first}"), &regulator).expect(200)), vec![mine]);
        assert_eq!(ids(&app.get(&format!("{REVIEWS}?status=approved"), &regulator).expect(200)), Vec::<i64>::new());
        assert_eq!(ids(&app.get(&format!("{REVIEWS}?status=submitted&limit=1"), &regulator).expect(200)), vec![mine]);
        let r = app.get(&format!("{REVIEWS}?limit=1"), &regulator).expect(200);
        let next = r.body["next_cursor"].as_str().unwrap_or_else(|| panic!("no cursor: {}", r.text)).to_owned();
        assert_eq!(ids(&app.get(&format!("{REVIEWS}?limit=1&cursor={next}"), &regulator).expect(200)), vec![theirs]);
        let r = app.get(&format!("{REVIEWS}?category_code=03O201"), &regulator).expect(400);
        assert_eq!(r.body["errors"][0]["parameter"], "category_code");
        app.get(&format!("{REVIEWS}?status=pending"), &regulator).expect(400);

        // Only the platform office decides.
        let decision = json!({"reason": "同意购置"});
        for who in ["unit1", "leader", "regulator"] {
            app.post(&format!("{path}/approve"), &app.login(who), &decision).expect(403);
            app.post(&format!("{path}/reject"), &app.login(who), &decision).expect(403);
        }
        app.post(&format!("{path}/approve"), &app.login("researcher"), &decision).expect(404);
        assert_eq!(app.get(&path, &unit).expect(200).body["status"], "submitted");
    }

    fn decisions_need_a_reason_and_only_a_submitted_review_moves(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let gcms = instrument(&app, "030201", "气相色谱-质谱联用仪");
        let first = file(&app, &unit, &request("030201", "3500000.00", 1));
        assert_eq!(first["recommendation"], "share_instead", "nothing was used in the last 12 months");
        assert!(first["candidate_instrument_ids"].as_array().is_some_and(|c| c.contains(&json!(gcms))));
        let id = first["id"].as_i64().unwrap_or_default();
        let path = format!("{REVIEWS}/{id}");

        // A decision without a reason changes nothing.
        assert_problem(&app.post(&format!("{path}/approve"), &admin, &json!({})).expect(422), "/reason", "required");
        assert_problem(&app.post(&format!("{path}/approve"), &admin, &json!({"reason": ""})).expect(422), "/reason", "length");
        assert_problem(&app.post(&format!("{path}/reject"), &admin, &json!({"reason": "   "})).expect(422), "/reason", "required");
        assert_problem(&app.post(&format!("{path}/reject"), &admin, &json!({"reason": "否".repeat(501)})).expect(422), "/reason", "length");
        assert_eq!(app.get(&path, &unit).expect(200).body["status"], "submitted");

        // The platform office may go against the recommendation, with its reason.
        let approved = app
            .post(&format!("{path}/approve"), &admin, &json!({"reason": "疾控中心设备检测项目不同，不能满足临床需要"}))
            .expect(200)
            .body;
        assert_eq!(approved["status"], "approved");
        assert_eq!(approved["recommendation"], "share_instead");
        assert_eq!(approved["decided_by"].as_i64(), Some(user_id(&app, "admin")));
        assert_eq!(approved["decision_reason"], "疾控中心设备检测项目不同，不能满足临床需要");
        assert!(approved["decided_at"].is_string());
        assert_eq!(answer(&approved), answer(&first));
        for verb in ["approve", "reject"] {
            let r = app.post(&format!("{path}/{verb}"), &admin, &json!({"reason": "再议"})).expect(409);
            assert_eq!(r.problem_type(), "/problems/purchase-review-transition");
        }
        let r = app.post(&format!("{path}/withdraw"), &unit, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/purchase-review-transition");
        assert_eq!(app.get(&path, &unit).expect(200).body["status"], "approved");

        // The filer withdraws while submitted; then nothing moves it.
        let second = id_of(&app.post(REVIEWS, &unit, &request("030201", "2000000.00", 1)).expect(201));
        let path = format!("{REVIEWS}/{second}");
        app.post(&format!("{path}/withdraw"), &app.login("researcher"), &json!({})).expect(404);
        app.post(&format!("{path}/withdraw"), &app.login("regulator"), &json!({})).expect(403);
        let withdrawn = app.post(&format!("{path}/withdraw"), &unit, &json!({})).expect(200).body;
        assert_eq!(withdrawn["status"], "withdrawn");
        assert_eq!(withdrawn["withdrawn_by"].as_i64(), Some(user_id(&app, "unit1")));
        assert_eq!(withdrawn["decided_by"], Value::Null);
        app.post(&format!("{path}/withdraw"), &unit, &json!({})).expect(409);
        app.post(&format!("{path}/reject"), &admin, &json!({"reason": "已撤回"})).expect(409);
        app.post(&format!("{path}/approve"), &admin, &json!({"reason": "已撤回"})).expect(409);

        // A rejection, in line with the recommendation.
        let third = id_of(&app.post(REVIEWS, &unit, &request("030201", "2600000.00", 1)).expect(201));
        let rejected = app
            .post(&format!("{REVIEWS}/{third}/reject"), &admin, &json!({"reason": "疾控中心同类设备机时不足，请通过平台共享使用"}))
            .expect(200)
            .body;
        assert_eq!(rejected["status"], "rejected");
        app.post(&format!("{REVIEWS}/{third}/withdraw"), &unit, &json!({})).expect(409);

        let actions: Vec<String> = app.strings(
            "SELECT action AS s FROM audit_events WHERE object_type = 'purchase_review' ORDER BY id",
        );
        assert_eq!(
            actions,
            [
                "purchase_review.file",
                "purchase_review.approve",
                "purchase_review.file",
                "purchase_review.withdraw",
                "purchase_review.file",
                "purchase_review.reject",
            ]
        );
        let statuses = app.get(&format!("{REVIEWS}?limit=10"), &admin).expect(200).body["items"]
            .as_array()
            .map(|a| a.iter().map(|r| r["status"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>())
            .unwrap_or_default();
        assert_eq!(statuses, ["approved", "withdrawn", "rejected"]);
    }
}
