//! Booking instrument time (DESIGN.md §3), on both databases.

use crate::fixtures::{create, instrument_body, lab_body};
use chrono::{DateTime, Duration, FixedOffset, NaiveTime, Utc};
use labshare_tests::{both_backends, urlencode, Resp, TestApp};
use serde_json::{json, Value};

const LOCAL: i32 = 8 * 3600;

/// Days from today and a local hour and minute.
type At = (i64, u32, u32);

/// A listed instrument of the first hospital in a BSL1 lab, open every day
/// 08:00–20:00, managed by `manager1`; returns its id.
pub(crate) fn bookable_instrument(app: &TestApp, modes: Value) -> i64 {
    let admin = app.login("admin");
    let unit = app.login("unit1");
    let first = app.institution_id(&admin, "南宁市第一人民医院");
    let mut lab = lab_body(first, &format!("共享平台实验室{}", app.count("labs")));
    lab["biosafety_level"] = json!("BSL1");
    let lab = create(app, &unit, "/api/v1/labs", &lab);
    let mut body = instrument_body(lab, &format!("BK-{}", app.count("instruments")));
    body["service_modes"] = modes;
    let id = create(app, &unit, "/api/v1/instruments", &body);
    let path = format!("/api/v1/instruments/{id}");
    app.post(&format!("{path}/listing/submit"), &unit, &json!({}))
        .expect(200);
    app.post(&format!("{path}/listing/approve"), &admin, &json!({}))
        .expect(200);
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let intervals: Vec<Value> = days
        .iter()
        .map(|d| json!({"weekday": d, "opens": "08:00", "closes": "20:00"}))
        .collect();
    app.put(
        &format!("{path}/opening-hours"),
        &unit,
        &json!({"intervals": intervals}),
    )
    .expect(200);
    let manager = app.get("/api/v1/me", &app.login("manager1")).body["user"]["id"]
        .as_i64()
        .unwrap_or_default();
    app.put(&format!("{path}/managers"), &unit, &json!({"user_ids": [manager]}))
        .expect(200);
    id
}

/// `days` from the server's today, at local `hh:mm`, as RFC 3339.
pub(crate) fn at(app: &TestApp, days: i64, hh: u32, mm: u32) -> String {
    local(app, days, hh, mm).to_rfc3339()
}

pub(crate) fn local(app: &TestApp, days: i64, hh: u32, mm: u32) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(LOCAL).unwrap_or_else(|| panic!("offset"));
    let day = (app.now().with_timezone(&offset) + Duration::days(days)).date_naive();
    let time = NaiveTime::from_hms_opt(hh, mm, 0).unwrap_or_default();
    day.and_time(time)
        .and_local_timezone(offset)
        .single()
        .unwrap_or_else(|| panic!("local time"))
}

pub(crate) fn book(app: &TestApp, token: &str, instrument: i64, start: &str, end: &str, mode: &str) -> Resp {
    app.post(
        "/api/v1/bookings",
        token,
        &json!({
            "instrument_id": instrument, "starts_at": start, "ends_at": end, "mode": mode, "purpose": "方法学验证"
        }),
    )
}

pub(crate) fn id_of(r: &Resp) -> i64 {
    r.body["id"].as_i64().unwrap_or_else(|| panic!("no id: {}", r.text))
}

/// Moves the server clock to an instant.
pub(crate) fn set_clock(app: &TestApp, to: DateTime<FixedOffset>) {
    app.advance(to.with_timezone(&Utc) - app.now());
}

both_backends! {
    fn a_researcher_books_a_slot_of_another_unit_and_uses_it(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted", "self_operated"]));
        let researcher = app.login("researcher");
        let manager = app.login("manager1");

        let r = book(&app, &researcher, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 11, 0), "assisted").expect(201);
        assert_eq!(r.body["status"], "pending");
        let id = id_of(&r);

        let queue = app.get("/api/v1/bookings?queue=true", &manager).expect(200);
        let queued: Vec<i64> = queue.body["items"].as_array().map(|a| a.iter().filter_map(|b| b["id"].as_i64()).collect()).unwrap_or_default();
        assert_eq!(queued, vec![id]);
        // Another unit's researcher sees nothing of it.
        assert_eq!(app.get("/api/v1/bookings", &app.login("guest")).expect(200).body["items"], json!([]));
        app.get(&format!("/api/v1/bookings/{id}"), &app.login("guest")).expect(404);
        // The booker cannot approve its own booking.
        app.post(&format!("/api/v1/bookings/{id}/approve"), &researcher, &json!({})).expect(403);
        let r = app.post(&format!("/api/v1/bookings/{id}/approve"), &manager, &json!({})).expect(200);
        assert_eq!(r.body["status"], "approved");

        // Availability shows the booking as busy, with nobody's details.
        let from = urlencode(&at(&app, 3, 0, 0));
        let to = urlencode(&at(&app, 4, 0, 0));
        let r = app.get(&format!("/api/v1/instruments/{instrument}/availability?from={from}&to={to}"), &app.login("regulator")).expect(200);
        let states: Vec<(String, String, String)> = r.body["intervals"].as_array().map(|a| a.iter().map(|i| (
            i["starts_at"].as_str().unwrap_or_default().to_owned(), i["ends_at"].as_str().unwrap_or_default().to_owned(), i["state"].as_str().unwrap_or_default().to_owned()
        )).collect()).unwrap_or_default();
        let parse = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        let expect = [(0, 8, "closed"), (8, 9, "free"), (9, 11, "booked"), (11, 20, "free"), (20, 24, "closed")];
        assert_eq!(states.len(), expect.len(), "{}", r.text);
        for ((s, e, state), (h0, h1, want)) in states.iter().zip(expect) {
            assert_eq!(state, want);
            assert_eq!(parse(s), local(&app, 3, 0, 0).with_timezone(&Utc) + Duration::hours(h0));
            assert_eq!(parse(e), local(&app, 3, 0, 0).with_timezone(&Utc) + Duration::hours(h1));
        }
        assert!(!r.text.contains("user_id") && !r.text.contains("purpose"));

        // Check-in opens 15 minutes before the start.
        set_clock(&app, local(&app, 3, 8, 40));
        let manager = app.login("manager1");
        let r = app.post(&format!("/api/v1/bookings/{id}/check-in"), &manager, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/booking-check-in-not-open");
        set_clock(&app, local(&app, 0, 8, 50));
        let r = app.post(&format!("/api/v1/bookings/{id}/check-in"), &manager, &json!({})).expect(200);
        assert_eq!(r.body["status"], "in_use");
        set_clock(&app, local(&app, 0, 11, 0));
        let manager = app.login("manager1");
        let r = app.post(&format!("/api/v1/bookings/{id}/check-out"), &manager, &json!({})).expect(200);
        assert_eq!(r.body["status"], "completed");
        assert!(r.body["checked_out_at"].is_string());

        // Check-out wrote the usage record: 2 h 10 min used, the 2 h booked billed (within the grace).
        let researcher = app.login("researcher");
        let usage = app.get(&format!("/api/v1/usage-records?instrument_id={instrument}"), &researcher).expect(200);
        let record = &usage.body["items"][0];
        assert_eq!(record["booking_id"], id);
        assert_eq!(record["effective_minutes"], 130);
        assert_eq!(record["billed_minutes"], 120);
        assert_eq!(record["walk_in"], false);
        assert_eq!(record["operator_id"], app.get("/api/v1/me", &manager).body["user"]["id"]);

        let admin = app.login("admin");
        let trail = app.get(&format!("/api/v1/audit-events?object_type=booking&object_id={id}"), &admin).expect(200);
        let actions: Vec<&str> = trail.body["items"].as_array().map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect()).unwrap_or_default();
        assert_eq!(actions, vec!["booking.create", "booking.approve", "booking.check_in", "booking.check_out"]);
    }

    fn every_booking_rule_refuses_with_its_own_problem_and_changes_nothing(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted", "self_operated"]));
        let researcher = app.login("researcher");
        let unit = app.login("unit1");
        let manager = app.login("manager1");
        book(&app, &researcher, instrument, &at(&app, 5, 10, 0), &at(&app, 5, 12, 0), "assisted").expect(201);
        let blackout = json!({"kind": "calibration", "reason": "年度计量校准", "starts_at": at(&app, 6, 8, 0), "ends_at": at(&app, 6, 12, 0)});
        app.post(&format!("/api/v1/instruments/{instrument}/blackouts"), &manager, &blackout).expect(201);
        let before = app.count("bookings");

        let cases: Vec<(At, At, &str, u16, &str)> = vec![
            ((5, 11, 0), (5, 13, 0), "assisted", 409, "booking-overlap"),
            ((5, 6, 0), (5, 7, 0), "assisted", 409, "booking-outside-opening-hours"),
            ((5, 19, 0), (5, 21, 0), "assisted", 409, "booking-outside-opening-hours"),
            ((6, 9, 0), (6, 10, 0), "assisted", 409, "booking-blackout"),
            ((5, 14, 10), (5, 15, 10), "assisted", 422, "booking-misaligned"),
            ((5, 14, 0), (5, 19, 0), "assisted", 422, "booking-too-long"),
            ((0, 23, 0), (1, 0, 0), "assisted", 422, "booking-too-early"),
            ((40, 9, 0), (40, 10, 0), "assisted", 422, "booking-too-late"),
            ((5, 14, 0), (5, 15, 0), "self_operated", 403, "booking-not-qualified"),
            ((5, 14, 0), (5, 15, 0), "sample", 422, "booking-mode-not-offered"),
            ((5, 15, 0), (5, 14, 0), "assisted", 422, "booking-invalid-window"),
        ];
        for (start, end, mode, status, kind) in cases {
            let r = book(&app, &researcher, instrument, &at(&app, start.0, start.1, start.2), &at(&app, end.0, end.1, end.2), mode);
            assert_eq!((r.status, r.problem_type()), (status, format!("/problems/{kind}").as_str()), "{kind}: {}", r.text);
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
        }
        // Too short: a 60-minute minimum.
        app.put(&format!("/api/v1/instruments/{instrument}/booking-rules"), &unit, &json!({
            "slot_minutes": 30, "min_minutes": 60, "max_minutes": 240, "lead_minutes": null, "horizon_days": 30, "auto_approve": false
        })).expect(200);
        let r = book(&app, &researcher, instrument, &at(&app, 5, 14, 0), &at(&app, 5, 14, 30), "assisted");
        assert_eq!((r.status, r.problem_type()), (422, "/problems/booking-too-short"));
        let r = app.post("/api/v1/bookings", &researcher, &json!({
            "instrument_id": instrument, "starts_at": at(&app, 5, 14, 0), "ends_at": at(&app, 5, 15, 0), "mode": "assisted", "purpose": " "
        }));
        assert_eq!((r.status, r.problem_type()), (422, "/problems/booking-purpose-required"));
        // A faulty instrument is not bookable.
        app.patch(&format!("/api/v1/instruments/{instrument}"), &manager, &json!({"status": "faulty"})).expect(200);
        let r = book(&app, &researcher, instrument, &at(&app, 5, 14, 0), &at(&app, 5, 15, 0), "assisted");
        assert_eq!((r.status, r.problem_type()), (409, "/problems/booking-not-bookable"));
        app.patch(&format!("/api/v1/instruments/{instrument}"), &manager, &json!({"status": "normal"})).expect(200);
        // Scope `system` does not admit the external organisation.
        let r = book(&app, &app.login("guest"), instrument, &at(&app, 5, 14, 0), &at(&app, 5, 15, 0), "assisted");
        assert_eq!((r.status, r.problem_type()), (403, "/problems/booking-not-shared"));
        // Regulators read; they do not book.
        book(&app, &app.login("regulator"), instrument, &at(&app, 5, 14, 0), &at(&app, 5, 15, 0), "assisted").expect(403);

        assert_eq!(app.count("bookings"), before);
    }

    fn a_bsl2_lab_needs_a_biosafety_qualification(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let researcher = app.login("researcher");
        // The first hospital's LC-MS/MS stands in a BSL2 lab and is listed publicly.
        let r = app.get("/api/v1/instruments?q=LC-MS&limit=5", &researcher).expect(200);
        let instrument = r.body["items"][0]["id"].as_i64().unwrap_or_default();
        let unit = app.login("unit1");
        let intervals: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| json!({"weekday": d, "opens": "08:00", "closes": "18:00"})).collect();
        app.put(&format!("/api/v1/instruments/{instrument}/opening-hours"), &unit, &json!({"intervals": intervals})).expect(200);
        let (s, e) = (at(&app, 4, 9, 0), at(&app, 4, 10, 0));
        let r = book(&app, &researcher, instrument, &s, &e, "assisted");
        assert_eq!((r.status, r.problem_type()), (403, "/problems/booking-biosafety"));

        let me = app.get("/api/v1/me", &researcher).body["user"]["id"].as_i64().unwrap_or_default();
        let expires = (app.now() + Duration::days(365)).date_naive().to_string();
        // Only the platform office or the researcher's own unit admin certifies biosafety.
        app.post("/api/v1/qualifications", &unit, &json!({"user_id": me, "kind": "biosafety", "biosafety_level": "BSL2", "expires_on": expires})).expect(403);
        let q = app.post("/api/v1/qualifications", &admin, &json!({"user_id": me, "kind": "biosafety", "biosafety_level": "BSL2", "expires_on": expires, "note": "生物安全培训合格"})).expect(201);
        assert_eq!(q.body["valid"], true);
        book(&app, &researcher, instrument, &s, &e, "assisted").expect(201);
    }

    fn self_operation_needs_a_valid_qualification_that_can_be_revoked(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["self_operated"]));
        let researcher = app.login("researcher");
        let manager = app.login("manager1");
        let me = app.get("/api/v1/me", &researcher).body["user"]["id"].as_i64().unwrap_or_default();
        let expires = (app.now() + Duration::days(180)).date_naive().to_string();
        let body = json!({"user_id": me, "kind": "instrument", "instrument_id": instrument, "expires_on": expires, "note": "上机培训考核通过"});
        // A researcher cannot certify itself.
        app.post("/api/v1/qualifications", &researcher, &body).expect(403);
        let q = app.post("/api/v1/qualifications", &manager, &body).expect(201);
        let qid = id_of(&q);
        let mine = app.get(&format!("/api/v1/qualifications?user_id={me}&valid=true"), &researcher).expect(200);
        assert_eq!(mine.body["items"][0]["id"], qid);
        book(&app, &researcher, instrument, &at(&app, 2, 9, 0), &at(&app, 2, 10, 0), "self_operated").expect(201);

        let r = app.post(&format!("/api/v1/qualifications/{qid}/revoke"), &manager, &json!({})).expect(200);
        assert_eq!(r.body["valid"], false);
        let r = book(&app, &researcher, instrument, &at(&app, 2, 10, 0), &at(&app, 2, 11, 0), "self_operated");
        assert_eq!(r.problem_type(), "/problems/booking-not-qualified");
        let r = app.post("/api/v1/qualifications", &manager, &json!({"user_id": me, "kind": "instrument", "expires_on": expires})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/instrument_id");
    }

    fn auto_approval_confirms_qualified_users_at_once(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["self_operated", "assisted"]));
        let unit = app.login("unit1");
        let manager = app.login("manager1");
        let researcher = app.login("researcher");
        app.put(&format!("/api/v1/instruments/{instrument}/booking-rules"), &unit, &json!({
            "slot_minutes": 30, "min_minutes": 30, "max_minutes": 240, "lead_minutes": 60, "horizon_days": 14, "auto_approve": true
        })).expect(200);
        // Not qualified: waits for a manager even on an auto-approving instrument.
        let r = book(&app, &researcher, instrument, &at(&app, 2, 9, 0), &at(&app, 2, 10, 0), "assisted").expect(201);
        assert_eq!(r.body["status"], "pending");
        let me = app.get("/api/v1/me", &researcher).body["user"]["id"].as_i64().unwrap_or_default();
        let expires = (app.now() + Duration::days(180)).date_naive().to_string();
        app.post("/api/v1/qualifications", &manager, &json!({"user_id": me, "kind": "instrument", "instrument_id": instrument, "expires_on": expires})).expect(201);
        let r = book(&app, &researcher, instrument, &at(&app, 2, 10, 0), &at(&app, 2, 11, 0), "self_operated").expect(201);
        assert_eq!(r.body["status"], "approved");
        let r = book(&app, &researcher, instrument, &at(&app, 20, 10, 0), &at(&app, 20, 11, 0), "self_operated");
        assert_eq!(r.problem_type(), "/problems/booking-too-late");
    }

    fn thirty_two_concurrent_requests_for_one_slot_yield_exactly_one_booking(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let researcher = app.login("researcher");
        // Windows of different shapes that all contain 10:00–10:30, so every two overlap.
        let windows: Vec<(String, String)> = (0..32u32)
            .map(|i| {
                let start = 9 * 60 + (i % 3) * 30;
                let end = 10 * 60 + 30 + ((i / 3) % 3) * 30;
                (at(&app, 4, start / 60, start % 60), at(&app, 4, end / 60, end % 60))
            })
            .collect();
        let barrier = std::sync::Barrier::new(windows.len());
        let results: Vec<Resp> = std::thread::scope(|s| {
            let handles: Vec<_> = windows
                .iter()
                .map(|(start, end)| {
                    let (app, researcher, barrier) = (&app, &researcher, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        book(app, researcher, instrument, start, end, "assisted")
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("thread"))).collect()
        });
        let created = results.iter().filter(|r| r.status == 201).count();
        assert_eq!(created, 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
        for r in results.iter().filter(|r| r.status != 201) {
            assert_eq!((r.status, r.problem_type()), (409, "/problems/booking-overlap"), "{}", r.text);
        }
        assert_eq!(app.count("bookings"), 1);
    }

    fn the_sweep_expires_stale_requests_and_repeated_no_shows_suspend_booking(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let researcher = app.login("researcher");
        let manager = app.login("manager1");
        // Absolute instants, fixed before the clock moves: local midnight of today + d days.
        let midnight = local(&app, 0, 0, 0);
        let t = |d: i64, h: i64, m: i64| midnight + Duration::days(d) + Duration::hours(h) + Duration::minutes(m);
        let stale = id_of(&book(&app, &researcher, instrument, &t(2, 9, 0).to_rfc3339(), &t(2, 10, 0).to_rfc3339(), "assisted").expect(201));
        let mut missed = Vec::new();
        for day in [3, 4, 5] {
            let id = id_of(&book(&app, &researcher, instrument, &t(day, 9, 0).to_rfc3339(), &t(day, 10, 0).to_rfc3339(), "assisted").expect(201));
            app.post(&format!("/api/v1/bookings/{id}/approve"), &manager, &json!({})).expect(200);
            missed.push(id);
        }
        let r = app.post(&format!("/api/v1/bookings/{}/no-show", missed[0]), &manager, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/booking-too-early-for-no-show");

        set_clock(&app, t(2, 9, 0));
        let report = app.sweep();
        assert_eq!(report.expired, vec![stale]);
        assert!(report.no_shows.is_empty());
        let researcher = app.login("researcher");
        assert_eq!(app.get(&format!("/api/v1/bookings/{stale}"), &researcher).body["status"], "expired");

        set_clock(&app, t(3, 9, 29));
        assert!(app.sweep().no_shows.is_empty(), "not before 30 minutes");
        set_clock(&app, t(3, 9, 30));
        assert_eq!(app.sweep().no_shows, vec![missed[0]]);
        set_clock(&app, t(5, 10, 0));
        assert_eq!(app.sweep().no_shows, missed[1..].to_vec());
        let researcher = app.login("researcher");

        let r = book(&app, &researcher, instrument, &t(7, 9, 0).to_rfc3339(), &t(7, 10, 0).to_rfc3339(), "assisted");
        assert_eq!((r.status, r.problem_type()), (403, "/problems/booking-suspended"));
        // The suspension lifts by itself 30 days after the third no-show.
        set_clock(&app, t(35, 9, 31));
        let researcher = app.login("researcher");
        book(&app, &researcher, instrument, &t(37, 9, 0).to_rfc3339(), &t(37, 10, 0).to_rfc3339(), "assisted").expect(201);
    }

    fn cancelling_is_free_until_a_day_before_the_start(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let researcher = app.login("researcher");
        let unit = app.login("unit1");
        app.put(&format!("/api/v1/instruments/{instrument}/booking-rules"), &unit, &json!({
            "slot_minutes": 30, "min_minutes": 30, "max_minutes": 240, "lead_minutes": 60, "horizon_days": 30, "auto_approve": false
        })).expect(200);
        let early = id_of(&book(&app, &researcher, instrument, &at(&app, 5, 9, 0), &at(&app, 5, 10, 0), "assisted").expect(201));
        let late = id_of(&book(&app, &researcher, instrument, &at(&app, 5, 10, 0), &at(&app, 5, 11, 0), "assisted").expect(201));
        // Only a confirmed booking costs its fee when cancelled late.
        app.post(&format!("/api/v1/bookings/{late}/approve"), &app.login("manager1"), &json!({})).expect(200);
        let r = app.post(&format!("/api/v1/bookings/{early}/cancel"), &researcher, &json!({})).expect(200);
        assert_eq!((r.body["status"].as_str(), r.body["late_cancellation"].as_bool()), (Some("cancelled"), Some(false)));
        set_clock(&app, local(&app, 4, 10, 30));
        let researcher = app.login("researcher");
        let r = app.post(&format!("/api/v1/bookings/{late}/cancel"), &researcher, &json!({})).expect(200);
        assert_eq!(r.body["late_cancellation"], true);
        // The slot is free again.
        book(&app, &researcher, instrument, &at(&app, 1, 9, 0), &at(&app, 1, 10, 0), "assisted").expect(201);
        let r = app.post(&format!("/api/v1/bookings/{late}/cancel"), &researcher, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/booking-transition");
    }

    fn schedule_inputs_are_validated_by_field(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let unit = app.login("unit1");
        let path = format!("/api/v1/instruments/{instrument}/opening-hours");
        let r = app.put(&path, &unit, &json!({"intervals": [{"weekday": "mon", "opens": "25:00", "closes": "18:00"}]})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/intervals/0/opens");
        let r = app.put(&path, &unit, &json!({"intervals": [{"weekday": "mon", "opens": "18:00", "closes": "09:00"}]})).expect(422);
        assert!(r.body["errors"][0]["pointer"].as_str().is_some_and(|p| p.starts_with("/intervals/0")));
        let r = app.put(&path, &unit, &json!({"intervals": [
            {"weekday": "tue", "opens": "08:00", "closes": "12:00"}, {"weekday": "tue", "opens": "11:00", "closes": "13:00"}
        ]})).expect(422);
        assert!(r.body["errors"][0]["pointer"].as_str().is_some_and(|p| p.starts_with("/intervals/")));
        let r = app.put(&path, &unit, &json!({"intervals": [{"weekday": "someday", "opens": "08:00", "closes": "12:00"}]})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/intervals/0/weekday");
        let r = app.put(&format!("/api/v1/instruments/{instrument}/booking-rules"), &unit, &json!({
            "slot_minutes": 7, "min_minutes": 30, "max_minutes": 240, "lead_minutes": null, "horizon_days": 30, "auto_approve": false
        })).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/slot_minutes");
        let r = app.post(&format!("/api/v1/instruments/{instrument}/blackouts"), &unit, &json!({
            "kind": "repair", "reason": "更换光源", "starts_at": at(&app, 2, 12, 0), "ends_at": at(&app, 2, 10, 0)
        })).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/ends_at");
        // Unchanged after the refusals: open 08:00–20:00 every day.
        let hours = app.get(&path, &unit).expect(200);
        assert_eq!(hours.body["intervals"].as_array().map(Vec::len), Some(7));
        let r = app.get(&format!("/api/v1/instruments/{instrument}/availability?from={}&to={}", urlencode(&at(&app, 0, 0, 0)), urlencode(&at(&app, 40, 0, 0))), &unit).expect(400);
        assert_eq!(r.body["errors"][0]["parameter"], "to");
    }

    fn an_overrun_past_the_grace_bills_the_actual_time_and_walk_ins_are_recorded(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["self_operated", "assisted"]));
        let researcher = app.login("researcher");
        let manager = app.login("manager1");
        let midnight = local(&app, 0, 0, 0);
        let t = |d: i64, h: i64, m: i64| midnight + Duration::days(d) + Duration::hours(h) + Duration::minutes(m);
        let id = id_of(&book(&app, &researcher, instrument, &t(2, 9, 0).to_rfc3339(), &t(2, 10, 0).to_rfc3339(), "assisted").expect(201));
        app.post(&format!("/api/v1/bookings/{id}/approve"), &manager, &json!({})).expect(200);
        set_clock(&app, t(2, 9, 0));
        let manager = app.login("manager1");
        app.post(&format!("/api/v1/bookings/{id}/check-in"), &manager, &json!({})).expect(200);
        set_clock(&app, t(2, 10, 11));
        let manager = app.login("manager1");
        app.post(&format!("/api/v1/bookings/{id}/check-out"), &manager, &json!({})).expect(200);
        let r = app.get(&format!("/api/v1/usage-records?instrument_id={instrument}"), &manager).expect(200);
        assert_eq!((r.body["items"][0]["effective_minutes"].as_i64(), r.body["items"][0]["billed_minutes"].as_i64()), (Some(71), Some(90)));

        // A walk-in after the fact, billed by its actual time rounded up.
        set_clock(&app, t(2, 12, 0));
        let manager = app.login("manager1");
        let researcher = app.login("researcher");
        let me = app.get("/api/v1/me", &researcher).body["user"]["id"].as_i64().unwrap_or_default();
        let walk_in = json!({"instrument_id": instrument, "user_id": me, "mode": "assisted",
            "started_at": t(2, 11, 0).to_rfc3339(), "ended_at": t(2, 11, 40).to_rfc3339(), "note": "临时加急样本"});
        app.post("/api/v1/usage-records", &app.login("researcher"), &walk_in).expect(403);
        let r = app.post("/api/v1/usage-records", &manager, &walk_in).expect(201);
        assert_eq!((r.body["walk_in"].as_bool(), r.body["effective_minutes"].as_i64(), r.body["billed_minutes"].as_i64()), (Some(true), Some(40), Some(60)));
        // Overlapping another recorded use, or in the future, is refused and nothing is written.
        let before = app.count("usage_records");
        let mut overlapping = walk_in.clone();
        overlapping["started_at"] = json!(t(2, 10, 0).to_rfc3339());
        let r = app.post("/api/v1/usage-records", &manager, &overlapping).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/started_at");
        let mut future = walk_in.clone();
        future["started_at"] = json!(t(2, 20, 0).to_rfc3339());
        future["ended_at"] = json!(t(2, 21, 0).to_rfc3339());
        let r = app.post("/api/v1/usage-records", &manager, &future).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/ended_at");
        assert_eq!(app.count("usage_records"), before);
        // The researcher sees its own records; another unit's researcher sees none.
        let mine = app.get("/api/v1/usage-records", &app.login("researcher")).expect(200);
        assert_eq!(mine.body["items"].as_array().map(Vec::len), Some(2));
        assert_eq!(app.get("/api/v1/usage-records", &app.login("guest")).expect(200).body["items"], json!([]));
    }

    fn started_bookings_cannot_be_cancelled_and_a_manager_cancelling_costs_the_user_nothing(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let researcher = app.login("researcher");
        let manager = app.login("manager1");
        let midnight = local(&app, 0, 0, 0);
        let t = |d: i64, h: i64, m: i64| midnight + Duration::days(d) + Duration::hours(h) + Duration::minutes(m);
        let a = id_of(&book(&app, &researcher, instrument, &t(2, 9, 0).to_rfc3339(), &t(2, 10, 0).to_rfc3339(), "assisted").expect(201));
        let b = id_of(&book(&app, &researcher, instrument, &t(2, 10, 0).to_rfc3339(), &t(2, 11, 0).to_rfc3339(), "assisted").expect(201));
        for id in [a, b] {
            app.post(&format!("/api/v1/bookings/{id}/approve"), &manager, &json!({})).expect(200);
        }
        set_clock(&app, t(2, 9, 5));
        let (researcher, manager) = (app.login("researcher"), app.login("manager1"));
        // Missed bookings become no-shows; cancelling after the start is refused.
        let r = app.post(&format!("/api/v1/bookings/{a}/cancel"), &researcher, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/booking-already-started");
        // The manager cancels the next slot (a fault) within 24 h: the user owes nothing.
        let r = app.post(&format!("/api/v1/bookings/{b}/cancel"), &manager, &json!({})).expect(200);
        assert_eq!(r.body["late_cancellation"], false);
        // Check-in closes at the no-show cut-off.
        set_clock(&app, t(2, 9, 30));
        let r = app.post(&format!("/api/v1/bookings/{a}/check-in"), &app.login("manager1"), &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/booking-check-in-not-open");
    }

    fn instants_outside_the_storable_years_are_refused_not_crashed_on(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let researcher = app.login("researcher");
        let r = book(&app, &researcher, instrument, "-5000-01-01T09:00:00Z", "-5000-01-01T10:00:00Z", "assisted").expect(422);
        assert_eq!(r.problem_type(), "/problems/booking-invalid-window");
        let r = app.get("/api/v1/bookings?from=-5000-01-01T00:00:00Z", &researcher).expect(400);
        assert_eq!(r.body["errors"][0]["parameter"], "from");
        let r = app.get(&format!("/api/v1/instruments/{instrument}/availability?from=-5000-01-01T00:00:00Z&to=-4999-12-31T00:00:00Z"), &researcher).expect(400);
        assert_eq!(r.body["errors"][0]["parameter"], "to");
        let r = app.get("/api/v1/audit-events?to=%2B10000-01-01T00:00:00Z", &app.login("admin")).expect(400);
        assert_eq!(r.body["errors"][0]["parameter"], "to");
        let me = app.get("/api/v1/me", &researcher).body["user"]["id"].as_i64().unwrap_or_default();
        let now = app.now();
        let r = app.post("/api/v1/usage-records", &app.login("manager1"), &json!({"instrument_id": instrument, "user_id": me, "mode": "assisted",
            "started_at": (now - Duration::seconds(50)).to_rfc3339(), "ended_at": (now - Duration::seconds(10)).to_rfc3339()})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/ended_at");
    }
}

/// The overlap check of a new booking and the availability read look at the
/// slot-holding bookings only (the partial index), not at an instrument's
/// whole history, which grows with every year of use. SQLite plans without
/// statistics, so the plan is the same at any size.
#[test]
fn the_overlap_check_and_availability_read_only_the_slot_holding_bookings() {
    let app = TestApp::sqlite();
    let availability = format!(
        "SELECT starts_at, ends_at FROM bookings WHERE instrument_id = 1 AND {} \
         AND starts_at < '2027-01-08 00:00:00' AND ends_at > '2027-01-01 00:00:00' ORDER BY starts_at",
        labshare_persistence::bookings::HOLDING_CONDITION
    );
    let plan = app.sqlite_plan(&availability);
    assert!(plan.contains("USING INDEX bookings_holding"), "{plan}");
    // The condition names exactly the statuses that hold a slot.
    use labshare_domain::text_enum::TextEnum;
    for status in labshare_domain::booking::BookingStatus::ALL {
        let named = labshare_persistence::bookings::HOLDING_CONDITION.contains(&format!("'{}'", status.as_str()));
        assert_eq!(named, status.blocks_slot(), "{}", status.as_str());
    }

    // The triggers that refuse an overlap, as the database holds them.
    let triggers =
        app.strings("SELECT sql AS s FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'bookings_no_overlap%'");
    assert_eq!(triggers.len(), 2, "{triggers:?}");
    for trigger in triggers {
        let check = trigger
            .split_once("EXISTS (")
            .and_then(|(_, rest)| rest.rsplit_once(");"))
            .map(|(check, _)| check.to_owned())
            .unwrap_or_else(|| panic!("no EXISTS check in {trigger}"));
        let check = check
            .replace("NEW.id", "0")
            .replace("NEW.instrument_id", "1")
            .replace("NEW.starts_at", "'2027-01-01 09:00:00'")
            .replace("NEW.ends_at", "'2027-01-01 10:00:00'");
        let plan = app.sqlite_plan(&check);
        assert!(plan.contains("USING INDEX bookings_holding"), "{check}: {plan}");
    }
}
