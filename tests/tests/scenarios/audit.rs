use crate::fixtures::{create, instrument_body, lab_of};
use labshare_tests::both_backends;
use serde_json::json;

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
}
