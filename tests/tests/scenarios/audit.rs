use crate::fixtures::{create, instrument_body, lab_of};
use labshare_tests::both_backends;
use serde_json::json;

/// A few audited changes through the API; returns a reader of the audit trail.
fn some_changes(app: &labshare_tests::TestApp) -> String {
    app.seed_demo();
    let admin = app.login("admin");
    let unit = app.login("unit1");
    let lab = lab_of(app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
    let id = create(app, &unit, "/api/v1/instruments", &instrument_body(lab, "CHAIN-1"));
    app.patch(
        &format!("/api/v1/instruments/{id}"),
        &unit,
        &json!({"model": "FACSLyric 2"}),
    )
    .expect(200);
    app.post(&format!("/api/v1/instruments/{id}/listing/submit"), &unit, &json!({}))
        .expect(200);
    app.post(&format!("/api/v1/instruments/{id}/listing/approve"), &admin, &json!({}))
        .expect(200);
    app.login("regulator")
}

fn event_ids(app: &labshare_tests::TestApp) -> Vec<i64> {
    app.strings("SELECT CAST(id AS TEXT) AS s FROM audit_events ORDER BY id")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

both_backends! {
    fn every_change_writes_an_audit_event_with_before_and_after(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let unit_id = app.get("/api/v1/me", &unit).body["user"]["id"].as_i64().unwrap_or_default();
        let lab = lab_of(&app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
        let id = create(&app, &unit, "/api/v1/instruments", &instrument_body(lab, "AUD-1"));
        app.patch(&format!("/api/v1/instruments/{id}"), &unit, &json!({"model": "FACSLyric 2"})).expect(200);
        app.post(&format!("/api/v1/instruments/{id}/listing/submit"), &unit, &json!({})).expect(200);
        app.post(&format!("/api/v1/instruments/{id}/listing/approve"), &admin, &json!({})).expect(200);

        let regulator = app.login("regulator");
        let r = app.get(&format!("/api/v1/audit-events?object_type=instrument&object_id={id}"), &regulator).expect(200);
        let events = r.body["items"].as_array().cloned().unwrap_or_default();
        let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
        assert_eq!(actions, vec!["instrument.create", "instrument.update", "listing.submit", "listing.approve"]);
        assert_eq!(events[0]["before"], serde_json::Value::Null);
        assert_eq!(events[0]["after"]["asset_number"], "AUD-1");
        assert_eq!(events[0]["actor_id"], unit_id);
        assert_eq!(events[1]["before"]["model"], "FACSLyric");
        assert_eq!(events[1]["after"]["model"], "FACSLyric 2");
        assert_eq!(events[3]["before"]["status"], "submitted");
        assert_eq!(events[3]["after"]["status"], "approved");

        // A refused change writes nothing.
        let researcher = app.login("researcher");
        let n = app.count("audit_events");
        app.patch(&format!("/api/v1/instruments/{id}"), &researcher, &json!({"model": "Y"})).expect(403);
        app.patch(&format!("/api/v1/instruments/{id}"), &app.login("regulator"), &json!({"model": "Y"})).expect(403);
        let n = n + 1; // the regulator's sign-in is itself audited
        app.patch(&format!("/api/v1/instruments/{id}"), &unit, &json!({"category_code": "1"})).expect(422);
        assert_eq!(app.count("audit_events"), n);

        // Time window filter.
        let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let r = app.get(&format!("/api/v1/audit-events?from={}", labshare_tests::urlencode(&later)), &regulator).expect(200);
        assert_eq!(r.body["items"], json!([]));
        let r = app.get(&format!("/api/v1/audit-events?to={}&action=listing.approve", labshare_tests::urlencode(&later)), &admin).expect(200);
        assert!(r.body["items"].as_array().is_some_and(|a| a.iter().any(|e| e["object_id"] == id)));

        app.get("/api/v1/audit-events", &unit).expect(403);
    }

    fn the_audit_chain_verifies_after_changes(app) {
        let regulator = some_changes(&app);
        let r = app.get("/api/v1/audit-events/verify", &regulator).expect(200);
        assert_eq!(r.body["valid"], true, "{}", r.text);
        assert_eq!(r.body["first_broken"], serde_json::Value::Null);
        assert!(r.body["events_checked"].as_i64().unwrap_or_default() >= 4, "{}", r.text);
        assert_eq!(r.body["events_checked"].as_i64(), Some(app.count("audit_events")));

        // Each event shows its link; the first links to the genesis value.
        let events = app.get("/api/v1/audit-events?limit=200", &regulator).expect(200).body["items"].clone();
        let events = events.as_array().cloned().unwrap_or_default();
        assert_eq!(events[0]["prev_hash"], "0".repeat(64));
        for pair in events.windows(2) {
            assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
            assert_eq!(pair[1]["hash"].as_str().map(str::len), Some(64));
        }

        app.get("/api/v1/audit-events/verify", &app.login("unit1")).expect(403);
    }

    fn an_edited_event_is_the_first_broken_link(app) {
        let regulator = some_changes(&app);
        let ids = event_ids(&app);
        let victim = ids[ids.len() / 2];
        app.execute(&format!("UPDATE audit_events SET after_json = '{{\"status\":\"rejected\"}}' WHERE id = {victim}"));
        let r = app.get("/api/v1/audit-events/verify", &regulator).expect(200);
        assert_eq!(r.body["valid"], false, "{}", r.text);
        assert_eq!(r.body["first_broken"], json!({"id": victim, "reason": "hash_mismatch"}));

        // An edited link is caught too, before the edited snapshot.
        app.execute(&format!("UPDATE audit_events SET prev_hash = 'tampered' WHERE id = {}", ids[1]));
        let r = app.get("/api/v1/audit-events/verify", &regulator).expect(200);
        assert_eq!(r.body["first_broken"], json!({"id": ids[1], "reason": "prev_hash_mismatch"}));
    }

    fn a_deleted_event_is_reported(app) {
        let regulator = some_changes(&app);
        let ids = event_ids(&app);
        let middle = ids.len() / 2;
        app.execute(&format!("DELETE FROM audit_events WHERE id = {}", ids[middle]));
        let r = app.get("/api/v1/audit-events/verify", &regulator).expect(200);
        assert_eq!(r.body["valid"], false, "{}", r.text);
        assert_eq!(r.body["first_broken"], json!({"id": ids[middle + 1], "reason": "prev_hash_mismatch"}));
        assert_eq!(r.body["events_checked"].as_i64(), i64::try_from(middle + 1).ok());
    }

    fn removing_the_last_events_is_reported(app) {
        let regulator = some_changes(&app);
        let ids = event_ids(&app);
        let last = ids[ids.len() - 1];
        app.execute(&format!("DELETE FROM audit_events WHERE id = {last}"));
        let r = app.get("/api/v1/audit-events/verify", &regulator).expect(200);
        assert_eq!(r.body["first_broken"], json!({"id": last, "reason": "head_mismatch"}), "{}", r.text);
    }

    fn concurrent_changes_keep_the_chain_linear(app) {
        let regulator = some_changes(&app);
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let lab = lab_of(&app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
        let before = app.count("audit_events");
        std::thread::scope(|s| {
            for i in 0..16 {
                let (app, unit) = (&app, &unit);
                s.spawn(move || create(app, unit, "/api/v1/instruments", &instrument_body(lab, &format!("PAR-{i}"))));
            }
        });
        assert_eq!(app.count("audit_events"), before + 16);
        let r = app.get("/api/v1/audit-events/verify", &regulator).expect(200);
        assert_eq!(r.body["valid"], true, "{}", r.text);
        assert_eq!(r.body["events_checked"].as_i64(), Some(app.count("audit_events")));
        let distinct = app.strings("SELECT CAST(count(DISTINCT prev_hash) AS TEXT) AS s FROM audit_events");
        assert_eq!(distinct, vec![app.count("audit_events").to_string()]);
    }
}
