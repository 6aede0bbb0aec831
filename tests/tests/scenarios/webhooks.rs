//! Webhooks (DESIGN.md §6): subscriptions, the outbox written with each
//! change, signed deliveries to a real HTTP receiver on this machine,
//! retries with back-off, a restart in the middle, and the refusal of
//! destinations that are not public.

use crate::bookings::{at, book, bookable_instrument, id_of, local, set_clock};
use hmac::{Hmac, Mac};
use labshare_tests::{both_backends, TestApp};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Waits, then answers: long enough to stop the server meanwhile.
    Hang(Duration, u16),
    /// Answers with NUL bytes in the body, which PostgreSQL's TEXT refuses.
    Nul(u16),
}

/// A request the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or_default()
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A real HTTP receiver on 127.0.0.1: answers from a script (then 200) and
/// records every request, in a thread of its own.
struct Receiver {
    port: u16,
    log: Arc<Mutex<Vec<Received>>>,
    /// Requests read, answered or not.
    arrived: Arc<Mutex<usize>>,
}

impl Receiver {
    fn start(script: &[Answer]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}")).port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Mutex::new(0));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (l, a) = (log.clone(), arrived.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (l, a, s) = (l.clone(), a.clone(), script.clone());
                std::thread::spawn(move || serve_one(stream, &l, &a, &s));
            }
        });
        Self { port, log, arrived }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/labshare", self.port)
    }

    fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn arrived(&self) -> usize {
        *self.arrived.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits (real time) until `done` holds of the answered requests.
    #[track_caller]
    fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.requests();
            if done(&got) {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}; got {got:#?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve_one(
    stream: std::net::TcpStream,
    log: &Mutex<Vec<Received>>,
    arrived: &Mutex<usize>,
    script: &Mutex<VecDeque<Answer>>,
) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut headers = HashMap::new();
    let mut line = String::new();
    // Request line, then headers up to the empty line.
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    *arrived.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    let answer = script
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop_front()
        .unwrap_or(Answer::Status(200));
    let status = match answer {
        Answer::Status(s) | Answer::Nul(s) => s,
        Answer::Hang(wait, s) => {
            std::thread::sleep(wait);
            s
        }
    };
    let text = match answer {
        Answer::Nul(_) => "ok\0\0done",
        _ if status < 300 => "ok",
        _ => "receiver unavailable",
    };
    let mut out = stream;
    let sent = write!(
        out,
        "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    )
    .and_then(|()| out.flush());
    // A request whose sender has gone was never answered.
    if sent.is_ok() {
        log.lock().unwrap_or_else(|p| p.into_inner()).push(Received {
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            answered: status,
        });
    }
}

/// Checks `LabShare-Signature` independently of the server's code.
fn signature_ok(secret: &str, r: &Received) -> bool {
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(format!("{}.{}", r.header("labshare-timestamp"), r.body).as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    r.header("labshare-signature") == format!("v1={hex}")
}

/// Subscribes `url`; returns the id and the secret.
#[track_caller]
fn subscribe(app: &TestApp, token: &str, institution: Option<i64>, url: &str, types: Value) -> (i64, String) {
    let r = app
        .post(
            "/api/v1/webhooks",
            token,
            &json!({"institution_id": institution, "url": url, "event_types": types, "description": "医院LIS系统"}),
        )
        .expect(201);
    let secret = r.body["secret"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{}", r.text);
    (id_of(&r), secret)
}

fn n(app: &TestApp, sql: &str) -> i64 {
    app.strings(&format!("SELECT CAST(({sql}) AS TEXT) AS s"))
        .first()
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1)
}

fn deliveries(app: &TestApp, token: &str, hook: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/webhooks/{hook}/deliveries"), token)
        .expect(200)
        .body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

const FAST: Option<Duration> = Some(Duration::from_millis(50));

both_backends! {
    fn revoking_a_service_account_pauses_the_subscriptions_it_made(app) {
        let mut app = app;
        app.seed_demo();
        app.with_webhooks("127.0.0.1", None);
        let admin = app.login("admin");
        let second = app.institution_id(&admin, "南宁市第二人民医院");
        let created = app
            .post(
                "/api/v1/service-accounts",
                &admin,
                &json!({"institution_id": second, "name": "二院 LIS", "roles": ["unit_admin"], "scopes": ["webhooks:manage"]}),
            )
            .expect(201);
        let account = created.body["account"]["id"].clone();
        let client_id = created.body["account"]["client_id"].as_str().unwrap_or_default().to_owned();
        let secret = created.body["client_secret"].as_str().unwrap_or_default().to_owned();
        let token = app.client_token(&client_id, &secret);
        let receiver = Receiver::start(&[]);
        let (hook, _) = subscribe(&app, &token, Some(second), &receiver.url(), json!(["booking.created"]));
        let (own, _) = subscribe(&app, &admin, Some(second), &receiver.url(), json!(["booking.created"]));

        app.post(&format!("/api/v1/service-accounts/{account}/revoke"), &admin, &json!({})).expect(200);
        assert_eq!(app.get(&format!("/api/v1/webhooks/{hook}"), &admin).expect(200).body["active"], false);
        // Subscriptions others made are untouched.
        assert_eq!(app.get(&format!("/api/v1/webhooks/{own}"), &admin).expect(200).body["active"], true);
        let audited = n(&app, &format!("SELECT count(*) FROM audit_events WHERE action = 'webhook.update' AND object_id = {hook}"));
        assert_eq!(audited, 1);
    }

    fn a_receiver_answering_nul_bytes_is_delivered_once_and_logged(app) {
        let mut app = app;
        app.seed_demo();
        app.with_webhooks("127.0.0.1", FAST);
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let receiver = Receiver::start(&[Answer::Nul(200)]);
        let admin = app.login("admin");
        let (hook, _) = subscribe(&app, &admin, None, &receiver.url(), json!(["booking.created"]));
        let researcher = app.login("researcher");
        book(&app, &researcher, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 10, 0), "assisted").expect(201);
        receiver.wait_for("the delivery", |r| !r.is_empty());
        // Well past the lease: the acknowledged delivery is not sent again.
        std::thread::sleep(Duration::from_millis(300));
        app.advance(chrono::Duration::minutes(5));
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(receiver.arrived(), 1, "delivered once only");
        let log = deliveries(&app, &admin, hook);
        assert_eq!(log[0]["status"], "delivered");
        assert_eq!(log[0]["log"][0]["response_excerpt"], "okdone");
    }

    fn a_booking_is_delivered_once_signed_with_the_subscriptions_secret(app) {
        let mut app = app;
        app.seed_demo();
        app.with_webhooks("127.0.0.1", FAST);
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let receiver = Receiver::start(&[]);
        let admin = app.login("admin");
        let (hook, secret) = subscribe(&app, &admin, None, &receiver.url(), json!(["booking.created"]));
        // The secret is shown at creation only.
        let shown = app.get(&format!("/api/v1/webhooks/{hook}"), &admin).expect(200);
        assert!(!shown.text.contains(&secret) && shown.body.get("secret").is_none());

        let researcher = app.login("researcher");
        let booking = id_of(&book(&app, &researcher, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 10, 0), "assisted").expect(201));
        let got = receiver.wait_for("the booking.created delivery", |r| !r.is_empty());
        let r = &got[0];
        assert!(signature_ok(&secret, r), "bad signature: {r:#?}");
        assert!(!signature_ok("whsec_other", r));
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(r.header("labshare-event-type"), "booking.created");
        assert_eq!(r.header("labshare-timestamp"), app.now().timestamp().to_string());
        let body = r.json();
        assert_eq!(body["type"], "booking.created");
        assert_eq!(body["id"].to_string(), r.header("labshare-event-id"));
        assert_eq!(body["object"], json!({"type": "booking", "id": booking}));
        assert_eq!(body["data"]["id"], booking);
        assert_eq!(body["data"]["status"], "pending");

        // Approval is not subscribed: no delivery, although the event is in the outbox.
        app.post(&format!("/api/v1/bookings/{booking}/approve"), &app.login("manager1"), &json!({})).expect(200);
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(receiver.requests().len(), 1, "delivered once only");
        assert_eq!(n(&app, "SELECT count(*) FROM outbox_events WHERE event_type = 'booking.approved'"), 1);
        let log = deliveries(&app, &admin, hook);
        assert_eq!(log.len(), 1);
        assert_eq!(log[0]["status"], "delivered");
        assert_eq!(log[0]["attempts"], 1);
        assert_eq!(log[0]["event_id"].to_string(), r.header("labshare-event-id"));
        assert_eq!(log[0]["id"].to_string(), r.header("labshare-delivery-id"));
        assert_eq!(log[0]["log"][0]["status_code"], 200);
        assert_eq!(log[0]["log"][0]["response_excerpt"], "ok");

        // A test event, through the same path.
        let r = app.post(&format!("/api/v1/webhooks/{hook}/ping"), &admin, &json!({})).expect(202);
        assert_eq!((r.body["event_type"].as_str(), r.body["status"].as_str()), (Some("webhook.ping"), Some("pending")));
        let got = receiver.wait_for("the ping", |r| r.len() == 2);
        assert_eq!(got[1].header("labshare-event-type"), "webhook.ping");
        assert!(signature_ok(&secret, &got[1]));
        assert_eq!(got[1].json()["data"], json!({"webhook_id": hook}));
    }

    fn a_receiver_failing_twice_gets_retries_with_back_off_and_the_same_event(app) {
        let mut app = app;
        app.seed_demo();
        // The dispatcher runs only when the test says so.
        app.with_webhooks("127.0.0.1", None);
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let receiver = Receiver::start(&[Answer::Status(500), Answer::Status(503)]);
        let admin = app.login("admin");
        let (hook, secret) = subscribe(&app, &admin, None, &receiver.url(), json!(["*"]));
        let researcher = app.login("researcher");
        book(&app, &researcher, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 10, 0), "assisted").expect(201);

        assert_eq!(app.dispatch().failed_attempts, 1);
        // Not due again before 30 s.
        app.advance(chrono::Duration::seconds(29));
        assert_eq!(app.dispatch(), Default::default());
        app.advance(chrono::Duration::seconds(2));
        assert_eq!(app.dispatch().failed_attempts, 1);
        // Then 60 s.
        app.advance(chrono::Duration::seconds(59));
        assert_eq!(app.dispatch(), Default::default());
        app.advance(chrono::Duration::seconds(2));
        assert_eq!(app.dispatch().delivered, 1);
        assert_eq!(app.dispatch(), Default::default());

        let got = receiver.requests();
        assert_eq!(got.iter().map(|r| r.answered).collect::<Vec<_>>(), vec![500, 503, 200]);
        assert!(got.iter().all(|r| signature_ok(&secret, r)));
        assert!(got.iter().all(|r| r.header("labshare-event-id") == got[0].header("labshare-event-id")
            && r.header("labshare-delivery-id") == got[0].header("labshare-delivery-id")
            && r.body == got[0].body));
        let times: Vec<i64> = got.iter().map(|r| r.header("labshare-timestamp").parse().unwrap_or_default()).collect();
        assert_eq!(vec![times[1] - times[0], times[2] - times[1]], vec![31, 61]);

        let log = deliveries(&app, &admin, hook);
        assert_eq!(log.len(), 1);
        assert_eq!(log[0]["status"], "delivered");
        assert_eq!(log[0]["attempts"], 3);
        let codes: Vec<Value> = log[0]["log"].as_array().map(|a| a.iter().map(|x| x["status_code"].clone()).collect()).unwrap_or_default();
        assert_eq!(codes, vec![json!(500), json!(503), json!(200)]);
        assert_eq!(log[0]["log"][0]["error"], "answered 500 Internal Server Error");
        assert_eq!(log[0]["log"][0]["response_excerpt"], "receiver unavailable");
        let filtered = app.get(&format!("/api/v1/webhooks/{hook}/deliveries?status=failed"), &admin).expect(200);
        assert_eq!(filtered.body["items"], json!([]));

        // Sent again on request: same event, same delivery.
        let delivery = log[0]["id"].as_i64().unwrap_or_default();
        let path = format!("/api/v1/webhooks/{hook}/deliveries/{delivery}/redeliver");
        let r = app.post(&path, &admin, &json!({})).expect(202);
        assert_eq!(r.body["status"], "pending");
        app.post(&path, &admin, &json!({})).expect(409);
        assert_eq!(app.dispatch().delivered, 1);
        let again = receiver.requests();
        assert_eq!(again.len(), 4);
        assert_eq!(again[3].header("labshare-event-id"), got[0].header("labshare-event-id"));
        assert_eq!(again[3].header("labshare-delivery-id"), got[0].header("labshare-delivery-id"));
    }

    fn a_restart_in_the_middle_loses_no_event_and_acknowledges_each_once(app) {
        let mut app = app;
        app.seed_demo();
        app.with_webhooks("127.0.0.1", FAST);
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        // The first delivery fails; the second hangs until the server is gone.
        let receiver = Receiver::start(&[Answer::Status(503), Answer::Hang(Duration::from_secs(3), 503)]);
        let admin = app.login("admin");
        let (hook, secret) = subscribe(&app, &admin, None, &receiver.url(), json!(["booking.created"]));
        let researcher = app.login("researcher");

        book(&app, &researcher, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 10, 0), "assisted").expect(201);
        receiver.wait_for("the first attempt", |r| r.len() == 1);
        book(&app, &researcher, instrument, &at(&app, 3, 11, 0), &at(&app, 3, 12, 0), "assisted").expect(201);
        let start = Instant::now();
        while receiver.arrived() < 2 {
            assert!(start.elapsed() < Duration::from_secs(20), "the second delivery never came");
            std::thread::sleep(Duration::from_millis(10));
        }
        // Stopped while the second delivery waits for its answer.
        app.restart();
        // A change while the new server runs.
        book(&app, &researcher, instrument, &at(&app, 4, 9, 0), &at(&app, 4, 10, 0), "assisted").expect(201);
        receiver.wait_for("the third event", |r| r.iter().any(|x| x.answered == 200));
        // The first is due again after 30 s, the second once its lease (60 s) has run out.
        app.advance(chrono::Duration::seconds(61));
        let got = receiver.wait_for("every event acknowledged", |r| r.iter().filter(|x| x.answered == 200).count() >= 3);
        std::thread::sleep(Duration::from_millis(300));
        let got = if receiver.requests().len() > got.len() { receiver.requests() } else { got };

        let events: Vec<String> = app.strings("SELECT CAST(id AS TEXT) AS s FROM outbox_events WHERE event_type = 'booking.created' ORDER BY id");
        assert_eq!(events.len(), 3);
        let mut by_event: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
        for r in &got {
            assert!(signature_ok(&secret, r));
            by_event.entry(r.header("labshare-event-id").to_owned()).or_default().push(r);
        }
        assert_eq!(by_event.keys().cloned().collect::<Vec<_>>(), events, "every event arrived, nothing else");
        for (event, requests) in &by_event {
            assert_eq!(requests.iter().filter(|r| r.answered == 200).count(), 1, "event {event} acknowledged once");
            assert!(requests.iter().all(|r| r.header("labshare-delivery-id") == requests[0].header("labshare-delivery-id") && r.body == requests[0].body));
        }
        assert_eq!(n(&app, &format!("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = {hook} AND status = 'delivered'")), 3);
        // Every attempt is logged, the interrupted one with no outcome.
        let log = deliveries(&app, &admin, hook);
        let codes: Vec<Vec<Value>> = log.iter().map(|d| d["log"].as_array().map(|a| a.iter().map(|x| x["status_code"].clone()).collect()).unwrap_or_default()).collect();
        assert_eq!(codes, vec![vec![json!(503), json!(200)], vec![Value::Null, json!(200)], vec![json!(200)]]);
        assert!(log[1]["log"][0]["error"].as_str().unwrap_or_default().starts_with("no outcome recorded"));
        assert_eq!(log[1]["attempts"], 2);
    }

    fn destinations_that_are_not_public_are_refused_unless_allowed(app) {
        let mut app = app;
        app.seed_demo();
        let admin = app.login("admin");
        let refused = |app: &TestApp, url: &str, rule: &str| {
            let r = app.post("/api/v1/webhooks", &admin, &json!({"url": url, "event_types": ["booking.approved"]})).expect(422);
            assert_eq!(r.body["errors"][0]["pointer"], "/url", "{url}: {}", r.text);
            assert_eq!(r.body["errors"][0]["rule"], rule, "{url}: {}", r.text);
        };
        refused(&app, "http://127.0.0.1:8080/hook", "https");
        refused(&app, "https://127.0.0.1/hook", "public_address");
        refused(&app, "https://10.1.2.3/hook", "public_address");
        refused(&app, "https://172.16.5.4/hook", "public_address");
        refused(&app, "https://192.168.0.10/hook", "public_address");
        refused(&app, "https://169.254.169.254/latest/meta-data/", "public_address");
        refused(&app, "https://[::1]/hook", "public_address");
        refused(&app, "https://[::ffff:10.0.0.1]/hook", "public_address");
        refused(&app, "https://[fd00::5]/hook", "public_address");
        refused(&app, "https://100.64.0.1/hook", "public_address");
        refused(&app, "https://localhost/hook", "public_address");
        refused(&app, "https://user:pw@203.0.113.10/hook", "no_credentials");
        refused(&app, "ftp://203.0.113.10/hook", "https");
        refused(&app, "hooks", "url");
        assert_eq!(app.count("webhooks"), 0);

        let r = app.post("/api/v1/webhooks", &admin, &json!({"url": "https://203.0.113.10/hook", "event_types": ["booking.approve", "booking.approved", "booking.approved"]})).expect(422);
        let problems: Vec<(Value, Value)> = r.body["errors"].as_array().map(|a| a.iter().map(|p| (p["pointer"].clone(), p["rule"].clone())).collect()).unwrap_or_default();
        assert_eq!(problems, vec![(json!("/event_types/0"), json!("event_type")), (json!("/event_types/2"), json!("unique"))]);
        let r = app.post("/api/v1/webhooks", &admin, &json!({"url": "https://203.0.113.10/hook", "event_types": []})).expect(422);
        assert_eq!(r.body["errors"][0]["rule"], "non_empty");

        // A public address is accepted; changing it to an internal one is not.
        let (hook, _) = subscribe(&app, &admin, None, "https://203.0.113.10/hook", json!(["booking.approved"]));
        let r = app.patch(&format!("/api/v1/webhooks/{hook}"), &admin, &json!({"url": "https://169.254.169.254/"})).expect(422);
        assert_eq!(r.body["errors"][0]["rule"], "public_address");

        // Allowed by configuration: the address, and plain http to it.
        app.with_webhooks("127.0.0.1, 10.1.0.0/16", None);
        subscribe(&app, &admin, None, "http://127.0.0.1:9/hook", json!(["*"]));
        subscribe(&app, &admin, None, "https://10.1.2.3/hook", json!(["*"]));
        refused(&app, "https://10.2.0.1/hook", "public_address");
        refused(&app, "https://169.254.169.254/", "public_address");
    }

    fn a_unit_admin_manages_only_its_own_institutions_webhooks(app) {
        let mut app = app;
        app.seed_demo();
        app.with_webhooks("127.0.0.1", None);
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let first = app.institution_id(&admin, "南宁市第一人民医院");
        let second = app.institution_id(&admin, "南宁市第二人民医院");
        let url = "http://127.0.0.1:9/hook";
        let body = |inst: Option<i64>| json!({"institution_id": inst, "url": url, "event_types": ["*"]});
        app.post("/api/v1/webhooks", &unit, &body(Some(second))).expect(403);
        app.post("/api/v1/webhooks", &unit, &body(None)).expect(403);
        app.post("/api/v1/webhooks", &app.login("researcher"), &body(Some(second))).expect(403);
        // Who may subscribe is settled before the destination is looked up:
        // no one else learns what a name resolves to, or a URL's problems.
        let probe = json!({"institution_id": second, "url": "https://localhost:9/x", "event_types": ["*"]});
        let r = app.post("/api/v1/webhooks", &app.login("researcher"), &probe).expect(403);
        assert!(!r.text.contains("localhost"), "{}", r.text);
        let long = json!({"institution_id": first, "url": format!("https://example.org/{}", "a".repeat(2000)), "event_types": ["*"]});
        let r = app.post("/api/v1/webhooks", &unit, &long).expect(422);
        assert_eq!(r.body["errors"][0]["rule"], "max_length");
        app.post("/api/v1/webhooks", &app.login("regulator"), &body(None)).expect(403);
        let (own, secret) = subscribe(&app, &unit, Some(first), url, json!(["*"]));
        let (theirs, _) = subscribe(&app, &admin, Some(second), url, json!(["*"]));
        let (platform, _) = subscribe(&app, &admin, None, url, json!(["*"]));
        let r = app.post("/api/v1/webhooks", &admin, &body(Some(999_999))).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/institution_id");

        let listed: Vec<i64> = app.get("/api/v1/webhooks", &unit).expect(200).body["items"].as_array().map(|a| a.iter().filter_map(|h| h["id"].as_i64()).collect()).unwrap_or_default();
        assert_eq!(listed, vec![own]);
        app.get(&format!("/api/v1/webhooks?institution_id={second}"), &unit).expect(403);
        let all = app.get("/api/v1/webhooks", &admin).expect(200);
        assert_eq!(all.body["items"].as_array().map(Vec::len), Some(3));
        assert!(!all.text.contains("whsec_"));
        app.get("/api/v1/webhooks", &app.login("researcher")).expect(403);
        for other in [theirs, platform] {
            app.get(&format!("/api/v1/webhooks/{other}"), &unit).expect(403);
            app.get(&format!("/api/v1/webhooks/{other}/deliveries"), &unit).expect(403);
            app.patch(&format!("/api/v1/webhooks/{other}"), &unit, &json!({"active": false})).expect(403);
            app.post(&format!("/api/v1/webhooks/{other}/rotate-secret"), &unit, &json!({})).expect(403);
            app.request(reqwest::Method::DELETE, &format!("/api/v1/webhooks/{other}"), Some(&unit), None).expect(403);
        }
        let r = app.patch(&format!("/api/v1/webhooks/{own}"), &unit, &json!({"event_types": ["booking.cancelled"], "active": false})).expect(200);
        assert_eq!(r.body["event_types"], json!(["booking.cancelled"]));
        assert_eq!(r.body["active"], false);
        let rotated = app.post(&format!("/api/v1/webhooks/{own}/rotate-secret"), &unit, &json!({})).expect(200);
        let new_secret = rotated.body["secret"].as_str().unwrap_or_default();
        assert!(new_secret.starts_with("whsec_") && new_secret != secret);
        // The audit trail records the change of secret, never a secret.
        assert!(app.strings("SELECT COALESCE(after_json, '') AS s FROM audit_events").iter().all(|s| !s.contains("whsec_")));
        app.request(reqwest::Method::DELETE, &format!("/api/v1/webhooks/{own}"), Some(&unit), None).expect(204);
        app.get(&format!("/api/v1/webhooks/{own}"), &unit).expect(404);
        let types = app.get("/api/v1/webhooks/event-types", &unit).expect(200);
        assert!(types.body.as_array().is_some_and(|a| a.iter().any(|t| t["name"] == "charge.created")));
    }

    fn events_are_written_with_their_change_and_reach_only_those_concerned(app) {
        let mut app = app;
        app.seed_demo();
        app.with_webhooks("127.0.0.1", None);
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let admin = app.login("admin");
        let owner = app.institution_id(&admin, "南宁市第一人民医院");
        let booker = app.institution_id(&admin, "南宁市第二人民医院");
        let other = app.institution_id(&admin, "广西邕检生物科技有限公司");
        let url = "http://127.0.0.1:9/hook";
        let (owner_hook, _) = subscribe(&app, &admin, Some(owner), url, json!(["*"]));
        let (booker_hook, _) = subscribe(&app, &admin, Some(booker), url, json!(["booking.created", "booking.approved"]));
        let (other_hook, _) = subscribe(&app, &admin, Some(other), url, json!(["*"]));
        let (platform_hook, _) = subscribe(&app, &admin, None, url, json!(["booking.approved"]));
        let (paused_hook, _) = subscribe(&app, &admin, None, url, json!(["*"]));
        app.patch(&format!("/api/v1/webhooks/{paused_hook}"), &admin, &json!({"active": false})).expect(200);
        let before = app.count("outbox_events");
        let events = || app.count("outbox_events") - before;
        let to = |hook: i64| n(&app, &format!("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = {hook}"));

        let researcher = app.login("researcher");
        let booking = id_of(&book(&app, &researcher, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 10, 0), "assisted").expect(201));
        assert_eq!(events(), 1);
        // A refused change writes no event: a booking ending before it starts, an approval by the booker.
        book(&app, &researcher, instrument, &at(&app, 3, 11, 0), &at(&app, 3, 10, 0), "assisted").expect(422);
        app.post(&format!("/api/v1/bookings/{booking}/approve"), &researcher, &json!({})).expect(403);
        assert_eq!(events(), 1);
        app.post(&format!("/api/v1/bookings/{booking}/approve"), &app.login("manager1"), &json!({})).expect(200);
        assert_eq!(events(), 2);
        let concerned = app.strings("SELECT institution_ids AS s FROM outbox_events WHERE object_type = 'booking' ORDER BY id");
        let mut both = [owner, booker];
        both.sort_unstable();
        assert_eq!(concerned[0], json!(both).to_string());

        assert_eq!((to(owner_hook), to(booker_hook), to(other_hook), to(platform_hook), to(paused_hook)), (2, 2, 0, 1, 0));
        // A subscription receives the events of changes made after it.
        let (late_hook, _) = subscribe(&app, &admin, None, url, json!(["*"]));
        assert_eq!(to(late_hook), 0);

        // Changes nobody makes through the API are published too: the sweep's no-show.
        set_clock(&app, local(&app, 3, 9, 45));
        assert_eq!(app.sweep().no_shows, vec![booking]);
        let data = app.strings(&format!("SELECT payload_json AS s FROM outbox_events WHERE event_type = 'booking.no_show' AND object_id = {booking}"));
        assert_eq!(data.len(), 1);
        let data: Value = serde_json::from_str(&data[0]).unwrap_or(Value::Null);
        assert_eq!((data["id"].as_i64(), data["status"].as_str()), (Some(booking), Some("no_show")));
        let sql = |hook: i64| format!("SELECT count(*) FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id WHERE d.webhook_id = {hook} AND e.event_type = 'booking.no_show'");
        assert_eq!((n(&app, &sql(owner_hook)), n(&app, &sql(late_hook)), n(&app, &sql(booker_hook))), (1, 1, 0));
    }

    fn concurrent_dispatchers_never_send_a_delivery_twice(app) {
        let mut app = app;
        app.seed_demo();
        app.with_webhooks("127.0.0.1", None);
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let receiver = Receiver::start(&[]);
        let admin = app.login("admin");
        let (hook, _) = subscribe(&app, &admin, None, &receiver.url(), json!(["booking.created"]));
        let researcher = app.login("researcher");
        // From the day after tomorrow: tomorrow 09:00 is less than the 24 h lead
        // ahead once it is past 09:00 here.
        for day in 2..=13 {
            book(&app, &researcher, instrument, &at(&app, day, 9, 0), &at(&app, day, 10, 0), "assisted").expect(201);
        }
        // Four dispatchers (as on four servers) race for the same deliveries.
        let rounds: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4).map(|_| s.spawn(|| app.dispatch().delivered)).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        assert_eq!(rounds.iter().sum::<usize>(), 12, "{rounds:?}");
        let got = receiver.requests();
        let mut ids: Vec<&str> = got.iter().map(|r| r.header("labshare-event-id")).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!((got.len(), ids.len()), (12, 12));
        assert_eq!(n(&app, &format!("SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.webhook_id = {hook}")), 12);
    }

    fn the_destination_is_checked_again_before_each_attempt(app) {
        let mut app = app;
        app.seed_demo();
        app.with_webhooks("127.0.0.1", None);
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let receiver = Receiver::start(&[]);
        let admin = app.login("admin");
        let (hook, _) = subscribe(&app, &admin, None, &receiver.url(), json!(["booking.created"]));
        // The allowance is withdrawn after the subscription was made.
        app.with_webhooks("", None);
        book(&app, &app.login("researcher"), instrument, &at(&app, 3, 9, 0), &at(&app, 3, 10, 0), "assisted").expect(201);
        assert_eq!(app.dispatch().failed_attempts, 1);
        assert!(receiver.requests().is_empty() && receiver.arrived() == 0, "nothing may reach the receiver");
        let log = deliveries(&app, &admin, hook);
        assert_eq!(log[0]["status"], "pending");
        assert_eq!(log[0]["log"][0]["status_code"], Value::Null);
        assert!(log[0]["log"][0]["error"].as_str().unwrap_or_default().starts_with("refused (https)"), "{log:?}");
    }
}
