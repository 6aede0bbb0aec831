//! Ratings of completed bookings, and the iCalendar feeds (an instrument's
//! busy time; one's own bookings through a secret URL), on both databases.
//! The feeds are checked by a strict RFC 5545 parser written here.

use crate::bookings::{at, book, bookable_instrument, id_of, local, set_clock};
use chrono::{DateTime, NaiveDateTime, Utc};
use labshare_tests::{both_backends, urlencode, Resp, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One component of a parsed calendar: its properties, unfolded and (for
/// TEXT values) unescaped, each name with all its values in order.
#[derive(Debug, Default)]
struct Component {
    props: BTreeMap<String, Vec<String>>,
}

impl Component {
    /// The one value of a property that must occur exactly once.
    #[track_caller]
    fn one(&self, name: &str) -> &str {
        match self.props.get(name).map(Vec::as_slice) {
            Some([v]) => v,
            other => panic!("{name} must occur exactly once, found {other:?}"),
        }
    }
    fn opt(&self, name: &str) -> Option<&str> {
        self.props.get(name).and_then(|v| v.first()).map(String::as_str)
    }
}

#[derive(Debug)]
struct Calendar {
    header: Component,
    events: Vec<Component>,
}

const TEXT_PROPERTIES: [&str; 4] = ["SUMMARY", "DESCRIPTION", "X-WR-CALNAME", "UID"];
const DATE_TIME_PROPERTIES: [&str; 3] = ["DTSTART", "DTEND", "DTSTAMP"];

/// Undoes the TEXT escaping of RFC 5545 §3.3.11, refusing what a TEXT value may not hold.
fn unescape(name: &str, raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(e @ ('\\' | ';' | ',')) => out.push(e),
                other => return Err(format!("{name}: bad escape \\{other:?} in {raw:?}")),
            },
            ';' | ',' => return Err(format!("{name}: unescaped {c:?} in TEXT {raw:?}")),
            c if c.is_control() && c != '\t' => return Err(format!("{name}: control character in {raw:?}")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A DATE-TIME in UTC form (`19980119T070000Z`), the only form the feeds use.
fn utc(name: &str, value: &str) -> Result<DateTime<Utc>, String> {
    let b = value.as_bytes();
    let shape = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 8 | 15) || c.is_ascii_digit());
    if !shape {
        return Err(format!("{name}: {value:?} is not YYYYMMDDTHHMMSSZ"));
    }
    NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ")
        .map(|t| t.and_utc())
        .map_err(|e| format!("{name}: {value:?}: {e}"))
}

/// Parses an iCalendar stream strictly: CRLF line ends only, physical lines
/// of at most 75 octets, unfolding per §3.1, `NAME[;params]:value` lines,
/// one VCALENDAR holding only VEVENTs, BEGIN/END balanced, VERSION 2.0 and
/// PRODID present, every VEVENT with one UID, DTSTAMP and DTSTART (and at
/// most one DTEND after DTSTART) in UTC form, TEXT values properly escaped.
fn parse_ics(text: &str) -> Result<Calendar, String> {
    if !text.ends_with("\r\n") {
        return Err("the stream does not end with CRLF".into());
    }
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let lf_ok = *b != b'\n' || (i > 0 && bytes[i - 1] == b'\r');
        let cr_ok = *b != b'\r' || bytes.get(i + 1) == Some(&b'\n');
        if !lf_ok || !cr_ok {
            return Err(format!("bare CR or LF at octet {i}"));
        }
    }
    // Unfold (§3.1): a line starting with one space or tab continues the previous one.
    let mut logical: Vec<String> = Vec::new();
    for (n, line) in text.split_terminator("\r\n").enumerate() {
        if line.len() > 75 {
            return Err(format!("physical line {n} has {} octets: {line:?}", line.len()));
        }
        if let Some(rest) = line.strip_prefix(' ').or_else(|| line.strip_prefix('\t')) {
            match logical.last_mut() {
                Some(last) => last.push_str(rest),
                None => return Err("the stream starts with a continuation line".into()),
            }
        } else if line.is_empty() {
            return Err(format!("empty line {n}"));
        } else {
            logical.push(line.to_owned());
        }
    }
    let mut stack: Vec<String> = Vec::new();
    let mut header = Component::default();
    let mut events: Vec<Component> = Vec::new();
    let mut closed = false;
    for line in &logical {
        if closed {
            return Err(format!("content after END:VCALENDAR: {line:?}"));
        }
        let (head, raw) = line.split_once(':').ok_or_else(|| format!("no colon in {line:?}"))?;
        let name = head.split(';').next().unwrap_or_default();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!("bad property name in {line:?}"));
        }
        match name {
            "BEGIN" => {
                match (stack.last().map(String::as_str), raw) {
                    (None, "VCALENDAR") => {}
                    (Some("VCALENDAR"), "VEVENT") => events.push(Component::default()),
                    (outer, inner) => return Err(format!("BEGIN:{inner} inside {outer:?}")),
                }
                stack.push(raw.to_owned());
            }
            "END" => {
                if stack.pop().as_deref() != Some(raw) {
                    return Err(format!("END:{raw} closes nothing open"));
                }
                closed = stack.is_empty();
            }
            _ => {
                let value = if TEXT_PROPERTIES.contains(&name) {
                    unescape(name, raw)?
                } else {
                    raw.to_owned()
                };
                let target = match stack.last().map(String::as_str) {
                    Some("VCALENDAR") => &mut header,
                    Some("VEVENT") => events.last_mut().ok_or("VEVENT without BEGIN")?,
                    other => return Err(format!("{name} outside a component ({other:?})")),
                };
                target.props.entry(name.to_owned()).or_default().push(value);
            }
        }
    }
    if !closed {
        return Err(format!("{stack:?} left open"));
    }
    if header.opt("VERSION") != Some("2.0") || header.opt("PRODID").is_none() {
        return Err("VCALENDAR without VERSION:2.0 or PRODID".into());
    }
    for (i, e) in events.iter().enumerate() {
        for required in ["UID", "DTSTAMP", "DTSTART"] {
            if e.props.get(required).map(Vec::len) != Some(1) {
                return Err(format!("VEVENT {i}: {required} must occur exactly once"));
            }
        }
        for name in DATE_TIME_PROPERTIES {
            match e.props.get(name).map(Vec::as_slice) {
                None | Some([]) => {}
                Some([v]) => {
                    utc(name, v)?;
                }
                Some(_) => return Err(format!("VEVENT {i}: {name} repeated")),
            }
        }
        if let Some(end) = e.opt("DTEND") {
            if utc("DTEND", end)? <= utc("DTSTART", e.one("DTSTART"))? {
                return Err(format!("VEVENT {i}: DTEND not after DTSTART"));
            }
        }
    }
    Ok(Calendar { header, events })
}

#[track_caller]
fn calendar_of(r: &Resp) -> Calendar {
    assert_eq!(
        r.header("content-type"),
        Some("text/calendar; charset=utf-8"),
        "{}",
        r.text
    );
    parse_ics(&r.text).unwrap_or_else(|e| panic!("not valid RFC 5545: {e}\n{}", r.text))
}

#[track_caller]
fn event<'a>(cal: &'a Calendar, uid: &str) -> &'a Component {
    cal.events
        .iter()
        .find(|e| e.one("UID") == uid)
        .unwrap_or_else(|| panic!("no event {uid} in {:#?}", cal.events))
}

fn uids(cal: &Calendar) -> Vec<String> {
    cal.events.iter().map(|e| e.one("UID").to_owned()).collect()
}

fn instant(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// Asserts that an event spans exactly the booking's (or blackout's) window.
#[track_caller]
fn spans(e: &Component, object: &Value) {
    let start = utc("DTSTART", e.one("DTSTART")).unwrap_or_else(|m| panic!("{m}"));
    let end = utc("DTEND", e.one("DTEND")).unwrap_or_else(|m| panic!("{m}"));
    assert_eq!(
        (start, end),
        (instant(&object["starts_at"]), instant(&object["ends_at"]))
    );
}

fn user_id(app: &TestApp, token: &str) -> i64 {
    app.get("/api/v1/me", token).body["user"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no user id"))
}

fn audit_actions(app: &TestApp, query: &str) -> (Vec<String>, String) {
    let r = app
        .get(&format!("/api/v1/audit-events?{query}"), &app.login("admin"))
        .expect(200);
    let actions = r.body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["action"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (actions, r.text)
}

fn pointer(r: &Resp) -> &str {
    r.body["errors"][0]["pointer"].as_str().unwrap_or_default()
}

fn items(r: &Resp) -> Vec<Value> {
    r.body["items"].as_array().cloned().unwrap_or_default()
}

both_backends! {
    fn a_completed_booking_is_rated_once_and_only_by_its_booker(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let researcher = app.login("researcher");
        let manager = app.login("manager1");
        let me = user_id(&app, &researcher);
        let id = id_of(&book(&app, &researcher, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 11, 0), "assisted").expect(201));
        app.post(&format!("/api/v1/bookings/{id}/approve"), &manager, &json!({})).expect(200);
        let path = format!("/api/v1/bookings/{id}/rating");
        let good = json!({"score": 5, "comment": "技术人员讲解细致，数据当天可取"});

        let r = app.post(&path, &researcher, &good).expect(409);
        assert_eq!(r.problem_type(), "/problems/rating-not-completed");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        // Someone else, even the manager running the instrument, may not rate it.
        let r = app.post(&path, &manager, &good).expect(403);
        assert_eq!(r.problem_type(), "/problems/rating-not-yours");
        // One who cannot read the booking does not find it.
        app.post(&path, &app.login("guest"), &good).expect(404);
        app.post("/api/v1/bookings/999999/rating", &researcher, &good).expect(404);

        set_clock(&app, local(&app, 3, 8, 50));
        let manager = app.login("manager1");
        app.post(&format!("/api/v1/bookings/{id}/check-in"), &manager, &json!({})).expect(200);
        set_clock(&app, local(&app, 0, 11, 0));
        let manager = app.login("manager1");
        app.post(&format!("/api/v1/bookings/{id}/check-out"), &manager, &json!({})).expect(200);
        let researcher = app.login("researcher");

        // Bad input is refused field by field, and nothing is written.
        let long = "好".repeat(501);
        let bad: Vec<(Value, &str)> = vec![
            (json!({"score": 0, "comment": ""}), "/score"),
            (json!({"score": 6}), "/score"),
            (json!({"score": -1}), "/score"),
            (json!({"score": "five"}), "/score"),
            (json!({"score": 4.5}), "/score"),
            (json!({"score": 99_999_999_999_i64}), "/score"),
            (json!({"comment": "很好"}), "/score"),
            (json!({"score": 4, "comment": long}), "/comment"),
            (json!({"score": 4, "comment": "操作员身份证11010519491231002X"}), "/comment"),
            (json!({"score": 4, "stars": 5}), "/stars"),
        ];
        for (body, at_pointer) in bad {
            let r = app.post(&path, &researcher, &body).expect(422);
            assert_eq!(r.problem_type(), "/problems/validation", "{body}");
            assert_eq!(pointer(&r), at_pointer, "{body}: {}", r.text);
        }
        assert_eq!(app.count("ratings"), 0);

        let r = app.post(&path, &researcher, &good).expect(201);
        assert_eq!(r.body["kind"], "booking");
        assert_eq!(r.body["booking_id"], id);
        assert_eq!(r.body["instrument_id"], instrument);
        assert_eq!(r.body["user_id"], me);
        assert_eq!(r.body["score"], 5);
        assert_eq!(r.body["comment"], good["comment"]);
        let rating = id_of(&r);

        // Once: a second rating is refused, whoever tries.
        let r = app.post(&path, &researcher, &json!({"score": 1, "comment": "改主意了"})).expect(409);
        assert_eq!(r.problem_type(), "/problems/rating-exists");
        let r = app.post(&path, &manager, &good).expect(403);
        assert_eq!(r.problem_type(), "/problems/rating-not-yours");
        assert_eq!(app.count("ratings"), 1);

        // Everyone who sees the instrument reads the rating; only the rater
        // and the platform's overseers see who gave it.
        let list = format!("/api/v1/ratings?instrument_id={instrument}");
        for (who, identified) in [("researcher", true), ("manager1", false), ("unit1", false), ("admin", true), ("leader", true), ("regulator", true)] {
            let r = app.get(&list, &app.login(who)).expect(200);
            let found = items(&r);
            assert_eq!(found.len(), 1, "{who}: {}", r.text);
            assert_eq!(found[0]["id"], rating, "{who}");
            assert_eq!(found[0]["score"], 5, "{who}");
            if identified {
                assert_eq!(found[0]["user_id"], me, "{who}");
            } else {
                assert!(!r.text.contains("user_id"), "{who} sees the rater: {}", r.text);
            }
        }
        // The external organisation does not see this instrument, nor its ratings.
        let guest = app.login("guest");
        assert_eq!(items(&app.get(&list, &guest).expect(200)), Vec::<Value>::new());
        assert_eq!(items(&app.get("/api/v1/ratings", &guest).expect(200)), Vec::<Value>::new());
        assert_eq!(items(&app.get("/api/v1/ratings", &researcher).expect(200)).len(), 1);
        let r = app.get("/api/v1/ratings?limit=0", &researcher).expect(400);
        assert_eq!(r.body["errors"][0]["parameter"], "limit");
        app.get("/api/v1/ratings?cursor=nonsense", &researcher).expect(400);
        app.request(Method::GET, "/api/v1/ratings", None, None).expect(401);

        let (actions, _) = audit_actions(&app, "object_type=rating");
        assert_eq!(actions, vec!["rating.create"]);
    }

    fn concurrent_ratings_of_one_booking_yield_exactly_one(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let researcher = app.login("researcher");
        let id = id_of(&book(&app, &researcher, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 10, 0), "assisted").expect(201));
        // Completed, as check-out would leave it.
        app.execute(&format!("UPDATE bookings SET status = 'completed' WHERE id = {id}"));
        let path = format!("/api/v1/bookings/{id}/rating");
        let barrier = std::sync::Barrier::new(12);
        let results: Vec<Resp> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..12)
                .map(|i| {
                    let (app, researcher, barrier, path) = (&app, &researcher, &barrier, &path);
                    s.spawn(move || {
                        barrier.wait();
                        app.post(path, researcher, &json!({"score": i % 5 + 1, "comment": format!("第{i}次")}))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("thread"))).collect()
        });
        let created = results.iter().filter(|r| r.status == 201).count();
        assert_eq!(created, 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
        for r in results.iter().filter(|r| r.status != 201) {
            assert_eq!((r.status, r.problem_type()), (409, "/problems/rating-exists"), "{}", r.text);
        }
        assert_eq!(app.count("ratings"), 1);
    }

    fn an_instruments_feed_shows_its_busy_time_and_nobodys_details(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let researcher = app.login("researcher");
        let manager = app.login("manager1");
        let pending = id_of(&book(&app, &researcher, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 11, 0), "assisted").expect(201));
        let approved = id_of(&book(&app, &researcher, instrument, &at(&app, 4, 14, 0), &at(&app, 4, 15, 30), "assisted").expect(201));
        app.post(&format!("/api/v1/bookings/{approved}/approve"), &manager, &json!({})).expect(200);
        let cancelled = id_of(&book(&app, &researcher, instrument, &at(&app, 5, 9, 0), &at(&app, 5, 10, 0), "assisted").expect(201));
        app.post(&format!("/api/v1/bookings/{cancelled}/cancel"), &researcher, &json!({})).expect(200);
        let reason = "年度计量校准; 请改约, 谢谢\\备注";
        let blackouts = format!("/api/v1/instruments/{instrument}/blackouts");
        let blackout = app.post(&blackouts, &manager, &json!({
            "kind": "calibration", "reason": reason, "starts_at": at(&app, 6, 8, 0), "ends_at": at(&app, 6, 12, 0)
        })).expect(201);
        let withdrawn = id_of(&app.post(&blackouts, &manager, &json!({
            "kind": "repair", "reason": "更换光源", "starts_at": at(&app, 7, 8, 0), "ends_at": at(&app, 7, 12, 0)
        })).expect(201));
        app.post(&format!("/api/v1/blackouts/{withdrawn}/cancel"), &manager, &json!({})).expect(200);

        let path = format!("/api/v1/instruments/{instrument}/calendar.ics");
        let r = app.get(&path, &researcher).expect(200);
        let cal = calendar_of(&r);
        assert_eq!(cal.header.one("X-WR-CALNAME"), "流式细胞仪 占用时间 Busy time");
        assert_eq!(cal.header.one("METHOD"), "PUBLISH");
        let blackout_uid = format!("blackout-{}@labshare", id_of(&blackout));
        assert_eq!(uids(&cal), vec![format!("busy-booking-{pending}@labshare"), format!("busy-booking-{approved}@labshare"), blackout_uid.clone()]);
        for (id, status) in [(pending, "TENTATIVE"), (approved, "CONFIRMED")] {
            let e = event(&cal, &format!("busy-booking-{id}@labshare"));
            spans(e, &app.get(&format!("/api/v1/bookings/{id}"), &researcher).expect(200).body);
            assert_eq!(e.one("SUMMARY"), "已预约 Booked");
            assert_eq!(e.one("STATUS"), status);
            assert_eq!(e.opt("DESCRIPTION"), None);
        }
        let e = event(&cal, &blackout_uid);
        spans(e, &blackout.body);
        assert_eq!(e.one("SUMMARY"), format!("停用 校准 Calibration: {reason}"));
        // Nobody's details: not the booker, not the purpose.
        for personal in ["方法学验证", "黄研究员", "researcher", "二院", "purpose"] {
            assert!(!r.text.contains(personal), "the feed shows {personal:?}:\n{}", r.text);
        }
        // The same for any reader who sees the instrument.
        let r = app.get(&path, &app.login("regulator")).expect(200);
        assert_eq!(calendar_of(&r).events.len(), 3);

        // A range of one's choosing.
        let day4 = format!("{path}?from={}&to={}", urlencode(&at(&app, 4, 0, 0)), urlencode(&at(&app, 5, 0, 0)));
        let cal = calendar_of(&app.get(&day4, &researcher).expect(200));
        assert_eq!(uids(&cal), vec![format!("busy-booking-{approved}@labshare")]);
        let only_from = format!("{path}?from={}", urlencode(&at(&app, 5, 0, 0)));
        assert_eq!(uids(&calendar_of(&app.get(&only_from, &researcher).expect(200))), vec![blackout_uid]);
        let bad = [
            format!("{path}?from={}&to={}", urlencode(&at(&app, 5, 0, 0)), urlencode(&at(&app, 4, 0, 0))),
            format!("{path}?from={}&to={}", urlencode(&at(&app, 0, 0, 0)), urlencode(&at(&app, 121, 0, 0))),
        ];
        for query in bad {
            let r = app.get(&query, &researcher).expect(400);
            assert_eq!(r.body["errors"][0]["parameter"], "to", "{}", r.text);
        }
        let r = app.get(&format!("{path}?from=yesterday"), &researcher).expect(400);
        assert_eq!(r.body["errors"][0]["parameter"], "from");
        app.get(&format!("{path}?color=red"), &researcher).expect(400);
        // Not visible to another unit's outsider; not without signing in.
        let r = app.get(&path, &app.login("guest")).expect(404);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        app.request(Method::GET, &path, None, None).expect(401);
        app.get("/api/v1/instruments/999999/calendar.ics", &researcher).expect(404);
        app.get("/api/v1/instruments/abc/calendar.ics", &researcher).expect(400);
    }

    fn a_personal_feed_needs_no_bearer_and_its_old_url_dies_on_rotation(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let researcher = app.login("researcher");
        let manager = app.login("manager1");
        let pending = id_of(&book(&app, &researcher, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 10, 0), "assisted").expect(201));
        let approved = id_of(&book(&app, &researcher, instrument, &at(&app, 3, 10, 0), &at(&app, 3, 11, 30), "assisted").expect(201));
        app.post(&format!("/api/v1/bookings/{approved}/approve"), &manager, &json!({})).expect(200);
        let cancelled = id_of(&book(&app, &researcher, instrument, &at(&app, 4, 9, 0), &at(&app, 4, 10, 0), "assisted").expect(201));
        app.post(&format!("/api/v1/bookings/{cancelled}/cancel"), &researcher, &json!({})).expect(200);
        let rejected = id_of(&book(&app, &researcher, instrument, &at(&app, 5, 9, 0), &at(&app, 5, 10, 0), "assisted").expect(201));
        app.post(&format!("/api/v1/bookings/{rejected}/reject"), &manager, &json!({"reason": "该时段需要技术人员全程陪同"})).expect(200);
        // Somebody else's booking of the same instrument.
        let others = id_of(&book(&app, &app.login("unit1"), instrument, &at(&app, 6, 9, 0), &at(&app, 6, 10, 0), "assisted").expect(201));

        let token_path = "/api/v1/me/calendar-token";
        app.request(Method::POST, token_path, None, None).expect(401);
        let r = app.post(token_path, &researcher, &json!({})).expect(201);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let token = r.body["token"].as_str().unwrap_or_default().to_owned();
        let url = r.body["url"].as_str().unwrap_or_default().to_owned();
        assert!(token.len() >= 43, "{token}");
        assert_eq!(url, format!("/api/v1/calendar/{token}.ics"));
        // Only the hash is stored.
        let stored = app.strings("SELECT token_hash AS s FROM calendar_tokens");
        assert_eq!(stored, vec![labshare_api::auth::token_hash(&token)]);

        // No bearer: the URL is the credential.
        let r = app.request(Method::GET, &url, None, None).expect(200);
        let cal = calendar_of(&r);
        assert_eq!(cal.header.one("X-WR-CALNAME"), "LabShare 我的预约 My bookings");
        let uid = |id: i64| format!("booking-{id}@labshare");
        assert_eq!(uids(&cal), vec![uid(pending), uid(approved), uid(cancelled)]);
        for (id, status) in [(pending, "TENTATIVE"), (approved, "CONFIRMED"), (cancelled, "CANCELLED")] {
            let e = event(&cal, &uid(id));
            spans(e, &app.get(&format!("/api/v1/bookings/{id}"), &researcher).expect(200).body);
            assert_eq!(e.one("STATUS"), status);
            assert_eq!(e.one("SUMMARY"), "流式细胞仪");
            assert_eq!(e.one("DESCRIPTION"), "方法学验证");
        }
        assert!(!r.text.contains(&uid(rejected)) && !r.text.contains(&uid(others)));

        // Rotating kills the old URL at once.
        let r = app.post(token_path, &researcher, &json!({})).expect(201);
        let new_token = r.body["token"].as_str().unwrap_or_default().to_owned();
        let new_url = r.body["url"].as_str().unwrap_or_default().to_owned();
        assert_ne!(new_token, token);
        let r = app.request(Method::GET, &url, None, None).expect(404);
        assert_eq!((r.problem_type(), r.header("content-type")), ("/problems/not-found", Some("application/problem+json")));
        assert_eq!(calendar_of(&app.request(Method::GET, &new_url, None, None).expect(200)).events.len(), 3);
        for nonsense in ["/api/v1/calendar/nope.ics", "/api/v1/calendar/.ics", "/api/v1/calendar/%00.ics"] {
            app.request(Method::GET, nonsense, None, None).expect(404);
        }
        // Each user's feed is their own.
        let manager_token = app.post(token_path, &manager, &json!({})).expect(201);
        let manager_url = manager_token.body["url"].as_str().unwrap_or_default().to_owned();
        assert!(calendar_of(&app.request(Method::GET, &manager_url, None, None).expect(200)).events.is_empty());

        // The audit trail records each rotation, never the token.
        let (actions, text) = audit_actions(&app, "object_type=calendar_token");
        assert_eq!(actions, vec!["calendar_token.rotate"; 3]);
        assert!(!text.contains(&token) && !text.contains(&new_token));

        // Revoking: the URL is gone; a deactivated account's feed is gone too.
        app.request(Method::DELETE, token_path, Some(&researcher), None).expect(204);
        app.request(Method::GET, &new_url, None, None).expect(404);
        let (actions, _) = audit_actions(&app, "action=calendar_token.revoke");
        assert_eq!(actions, vec!["calendar_token.revoke"]);
        let manager_id = user_id(&app, &manager);
        app.patch(&format!("/api/v1/users/{manager_id}"), &app.login("admin"), &json!({"active": false})).expect(200);
        app.request(Method::GET, &manager_url, None, None).expect(404);
    }
}

/// The parser above is strict: each of these breaks one rule of RFC 5545.
#[test]
fn the_feed_parser_refuses_what_rfc_5545_forbids() {
    let event = |props: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nPRODID:-//x//y//ZH\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n{props}END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    let good = "UID:a@b\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261202T010000Z\r\nDTEND:20261202T030000Z\r\nSUMMARY:a\\, b\\; c\\\\\r\n";
    let cal = parse_ics(&event(good)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cal.events[0].one("SUMMARY"), "a, b; c\\");
    let folded = event(&good.replace("SUMMARY:", "SUMMARY:x\r\n y"));
    assert_eq!(
        parse_ics(&folded).map(|c| c.events[0].one("SUMMARY").to_owned()),
        Ok("xya, b; c\\".to_owned())
    );
    let bad = [
        event(good).replace("\r\nVERSION", "\nVERSION"),
        event(good).trim_end().to_owned(),
        event(&good.replace("SUMMARY:", &format!("SUMMARY:{}", "x".repeat(70)))),
        event(&good.replace("UID:a@b\r\n", "")),
        event(&good.replace("DTSTAMP:20261201T000000Z\r\n", "")),
        event(&good.replace("DTSTART:20261202T010000Z\r\n", "")),
        event(&good.replace("DTSTART:20261202T010000Z", "DTSTART:20261202T010000")),
        event(&good.replace("DTSTART:20261202T010000Z", "DTSTART;TZID=Asia/Shanghai:20261202T090000")),
        event(&good.replace("DTEND:20261202T030000Z", "DTEND:20261202T000000Z")),
        event(&good.replace("DTEND:20261202T030000Z", "DTEND:20261302T030000Z")),
        event(&good.replace("a\\, b", "a, b")),
        event(&format!("{good}UID:c@d\r\n")),
        event(good).replace("END:VEVENT\r\n", ""),
        event(good).replace("END:VCALENDAR\r\n", "END:VEVENT\r\n"),
        event(good).replace("VERSION:2.0", "VERSION:1.0"),
        format!("{}BEGIN:VEVENT\r\n", event(good)),
        format!(" {}", event(good)),
        event(&good.replace("SUMMARY:", "SUMMARY:x\r\n\r\n y")),
    ];
    for (i, text) in bad.iter().enumerate() {
        assert!(parse_ics(text).is_err(), "case {i} accepted:\n{text}");
    }
}
