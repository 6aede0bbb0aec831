//! `Idempotency-Key`: a POST sent again with the same key and body gets the
//! first answer back without a second write; a key is one user's, is tied
//! to one request, and expires after a day.

use crate::fixtures::{institution_body, lab_body};
use labshare_tests::{both_backends, Resp, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const REPLAYED: &str = "idempotent-replayed";

fn post_with_key(app: &TestApp, token: &str, path: &str, body: &Value, key: &str) -> Resp {
    app.send_with(Method::POST, path, token, Some(body), &[("Idempotency-Key", key)])
}

#[track_caller]
fn same_answer(first: &Resp, again: &Resp) {
    assert_eq!(again.status, first.status, "{}", again.text);
    assert_eq!(again.text, first.text);
    for name in ["content-type", "location", "etag"] {
        assert_eq!(again.header(name), first.header(name), "{name}");
    }
    assert_eq!(first.header(REPLAYED), None);
    assert_eq!(again.header(REPLAYED), Some("true"));
}

fn keys_of(app: &TestApp, key: &str) -> i64 {
    app.strings(&format!(
        "SELECT CAST(count(*) AS TEXT) AS s FROM idempotency_keys WHERE idempotency_key = '{key}'"
    ))
    .first()
    .and_then(|n| n.parse().ok())
    .unwrap_or(0)
}

both_backends! {
    fn the_same_key_and_body_replay_the_first_answer_without_a_second_write(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let before = app.count("institutions");
        let audit_before = app.count("audit_events");
        let body = institution_body("南宁市第九人民医院", "K0000001X");

        let first = post_with_key(&app, &admin, "/api/v1/institutions", &body, "create-inst-1").expect(201);
        let again = post_with_key(&app, &admin, "/api/v1/institutions", &body, "create-inst-1");
        same_answer(&first, &again);
        assert_eq!(app.count("institutions"), before + 1);
        assert_eq!(app.count("audit_events"), audit_before + 1);
        assert_eq!(keys_of(&app, "create-inst-1"), 1);

        // The same key with another body is refused, naming the header; nothing is written.
        let other = institution_body("南宁市第十人民医院", "K0000002X");
        let r = post_with_key(&app, &admin, "/api/v1/institutions", &other, "create-inst-1").expect(422);
        assert_eq!(r.problem_type(), "/problems/idempotency-key-reused");
        assert_eq!(r.body["errors"][0]["parameter"], "Idempotency-Key");
        assert_eq!(r.body["errors"][0]["rule"], "same_request");
        // ... and so is the same body on another path.
        let r = post_with_key(&app, &admin, "/api/v1/labs", &body, "create-inst-1").expect(422);
        assert_eq!(r.problem_type(), "/problems/idempotency-key-reused");
        assert_eq!(app.count("institutions"), before + 1);

        // Another key is another request.
        post_with_key(&app, &admin, "/api/v1/institutions", &other, "create-inst-2").expect(201);
        assert_eq!(app.count("institutions"), before + 2);

        // Without a key nothing changes: a second identical POST is a duplicate.
        let dup = app.post("/api/v1/institutions", &admin, &body).expect(409);
        assert_eq!(dup.header(REPLAYED), None);
        assert_eq!(app.count("institutions"), before + 2);
    }

    fn a_refused_first_request_is_replayed_as_refused(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let before = app.count("institutions");
        let mut bad = institution_body("南宁市第九人民医院", "K0000001X");
        bad["credit_code"] = json!("12450100K0000001Y");
        let first = post_with_key(&app, &admin, "/api/v1/institutions", &bad, "bad-1").expect(422);
        assert_eq!(first.problem_type(), "/problems/validation");
        let again = post_with_key(&app, &admin, "/api/v1/institutions", &bad, "bad-1");
        same_answer(&first, &again);
        assert_eq!(app.count("institutions"), before);

        // A key that is not 1 to 255 printable ASCII characters is refused, naming the header.
        let long = "k".repeat(256);
        let good = institution_body("南宁市第九人民医院", "K0000001X");
        for key in [long.as_str(), ""] {
            let r = post_with_key(&app, &admin, "/api/v1/institutions", &good, key).expect(400);
            assert_eq!(r.problem_type(), "/problems/invalid-parameter");
            assert_eq!(r.body["errors"][0]["parameter"], "Idempotency-Key");
            assert_eq!(r.body["errors"][0]["rule"], "printable_ascii_1_to_255");
        }
        assert_eq!(app.count("institutions"), before);
        assert_eq!(app.count("idempotency_keys"), 1);
    }

    fn keys_expire_after_a_day_and_are_purged_by_the_sweep(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let before = app.count("institutions");
        let body = institution_body("南宁市第九人民医院", "K0000001X");
        let first = post_with_key(&app, &admin, "/api/v1/institutions", &body, "daily").expect(201);

        app.advance(chrono::Duration::hours(23));
        let admin = app.login("admin");
        same_answer(&first, &post_with_key(&app, &admin, "/api/v1/institutions", &body, "daily"));
        app.sweep();
        assert_eq!(keys_of(&app, "daily"), 1);

        app.advance(chrono::Duration::hours(2));
        app.sweep();
        assert_eq!(keys_of(&app, "daily"), 0);
        let admin = app.login("admin");
        let other = institution_body("南宁市第十人民医院", "K0000002X");
        let r = post_with_key(&app, &admin, "/api/v1/institutions", &other, "daily").expect(201);
        assert_eq!(r.header(REPLAYED), None);
        assert_eq!(app.count("institutions"), before + 2);

        // An expired key not yet purged is replaced when used again.
        app.advance(chrono::Duration::hours(25));
        let admin = app.login("admin");
        let third = institution_body("南宁市第十一人民医院", "K0000003X");
        post_with_key(&app, &admin, "/api/v1/institutions", &third, "daily").expect(201);
        assert_eq!(app.count("institutions"), before + 3);
        assert_eq!(keys_of(&app, "daily"), 1);
    }

    fn a_key_whose_first_request_was_abandoned_is_free_again_after_five_minutes(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let me = app.get("/api/v1/me", &admin).expect(200).body["user"]["id"].as_i64().unwrap_or_default();
        let body = institution_body("南宁市第九人民医院", "K0000001X");
        // A first request the server never finished answering (it stopped mid-request).
        let raw = serde_json::to_vec(&body).unwrap_or_default();
        let hash: String = Sha256::digest(&raw).iter().map(|b| format!("{b:02x}")).collect();
        let at = app.now().naive_utc().format("%Y-%m-%d %H:%M:%S");
        let until = (app.now() + chrono::Duration::hours(24)).naive_utc().format("%Y-%m-%d %H:%M:%S");
        app.execute(&format!(
            "INSERT INTO idempotency_keys (principal, idempotency_key, method, path, body_hash, state, created_at, expires_at) \
             VALUES ('user:{me}', 'stuck', 'POST', '/api/v1/institutions', '{hash}', 'in_progress', '{at}', '{until}')"
        ));
        let before = app.count("institutions");
        let r = post_with_key(&app, &admin, "/api/v1/institutions", &body, "stuck").expect(409);
        assert_eq!(r.problem_type(), "/problems/idempotency-key-in-use");
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(app.count("institutions"), before);

        app.advance(chrono::Duration::minutes(5));
        let first = post_with_key(&app, &admin, "/api/v1/institutions", &body, "stuck").expect(201);
        assert_eq!(app.count("institutions"), before + 1);
        same_answer(&first, &post_with_key(&app, &admin, "/api/v1/institutions", &body, "stuck"));
    }

    fn keys_belong_to_the_user_who_sent_them(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let labs = app.count("labs");
        let institutions = app.count("institutions");
        post_with_key(&app, &admin, "/api/v1/institutions", &institution_body("南宁市第九人民医院", "K0000001X"), "shared-key")
            .expect(201);
        // unit1's institution is the first hospital of the demo data.
        let me = app.get("/api/v1/me", &unit).expect(200);
        let unit_id = me.body["institution"]["id"].as_i64().unwrap_or_else(|| panic!("{}", me.text));
        let lab = post_with_key(&app, &unit, "/api/v1/labs", &lab_body(unit_id, "分子诊断实验室二部"), "shared-key");
        assert_eq!(lab.status, 201, "{}", lab.text);
        assert_eq!(lab.header(REPLAYED), None);
        assert_eq!(app.count("labs"), labs + 1);
        assert_eq!(app.count("institutions"), institutions + 1);
        assert_eq!(keys_of(&app, "shared-key"), 2);
    }

    fn concurrent_requests_with_one_key_write_once(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let before = app.count("institutions");
        let body = institution_body("南宁市第九人民医院", "K0000001X");
        let barrier = std::sync::Barrier::new(8);
        let results: Vec<Resp> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (app, admin, body, barrier) = (&app, &admin, &body, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        post_with_key(app, admin, "/api/v1/institutions", body, "race")
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("thread"))).collect()
        });
        assert_eq!(app.count("institutions"), before + 1);
        assert_eq!(keys_of(&app, "race"), 1);
        let originals: Vec<&Resp> = results.iter().filter(|r| r.status == 201 && r.header(REPLAYED).is_none()).collect();
        assert_eq!(originals.len(), 1, "{:?}", results.iter().map(|r| (r.status, r.text.clone())).collect::<Vec<_>>());
        for r in &results {
            match r.status {
                201 => assert_eq!(r.text, originals[0].text),
                409 => {
                    assert_eq!(r.problem_type(), "/problems/idempotency-key-in-use", "{}", r.text);
                    assert!(r.header("retry-after").is_some());
                }
                other => panic!("unexpected {other}: {}", r.text),
            }
        }
        // Once answered, the key replays for everyone who retries.
        let again = post_with_key(&app, &admin, "/api/v1/institutions", &body, "race");
        same_answer(originals[0], &again);
    }

    fn a_client_that_hangs_up_still_gets_its_answer_on_retry_without_a_second_write(app) {
        use diesel::connection::SimpleConnection;
        use labshare_persistence::db::Backend;
        use std::io::Write;
        app.seed_demo();
        let admin = app.login("admin");
        let before = app.count("institutions");
        let body = institution_body("南宁市第十一人民医院", "K0000011X");
        let text = body.to_string();

        // Every write waits behind a lock held here, as behind a slow transaction.
        let mut lock = app.url.establish().unwrap_or_else(|e| panic!("{e}"));
        let take = match app.url.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN; SELECT 1 FROM audit_chain_head FOR UPDATE",
        };
        lock.batch_execute(take).unwrap_or_else(|e| panic!("lock: {e}"));

        // The client sends the request and hangs up without waiting for the answer.
        let address = app.base.trim_start_matches("http://").to_owned();
        let mut stream = std::net::TcpStream::connect(&address).unwrap_or_else(|e| panic!("{e}"));
        write!(
            stream,
            "POST /api/v1/institutions HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json\r\nIdempotency-Key: hang-up-1\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(stream);
        std::thread::sleep(std::time::Duration::from_millis(200));
        lock.batch_execute("ROLLBACK").unwrap_or_else(|e| panic!("unlock: {e}"));
        // The request goes on without its client: the write and the kept answer land.
        let mut kept = Vec::new();
        for _ in 0..100 {
            kept = app.strings("SELECT state AS s FROM idempotency_keys WHERE idempotency_key = 'hang-up-1'");
            if kept == ["done"] {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(kept, ["done"]);
        assert_eq!(app.count("institutions"), before + 1);

        // The retry gets the answer the client missed, without a second write.
        let again = post_with_key(&app, &admin, "/api/v1/institutions", &body, "hang-up-1");
        assert_eq!(again.status, 201, "{}", again.text);
        assert_eq!(again.header(REPLAYED), Some("true"));
        assert_eq!(app.count("institutions"), before + 1);
    }

    fn an_answer_carrying_a_secret_is_not_kept_and_its_retry_writes_nothing(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let hospital = app.institution_id(&admin, "南宁市第二人民医院");
        let body = json!({
            "institution_id": hospital, "name": "二院 HIS", "description": "预约接口",
            "roles": ["researcher"], "scopes": ["catalog:read"]
        });
        let first = post_with_key(&app, &admin, "/api/v1/service-accounts", &body, "sa-1").expect(201);
        let secret = first.body["client_secret"].as_str().unwrap_or_default().to_owned();
        assert!(secret.starts_with("lss_"), "{}", first.text);
        assert_eq!(first.header("cache-control"), Some("no-store"));

        // The retry writes nothing and does not show the secret again.
        let again = post_with_key(&app, &admin, "/api/v1/service-accounts", &body, "sa-1").expect(409);
        assert_eq!(again.problem_type(), "/problems/idempotency-secret-not-kept");
        assert_eq!(again.header(REPLAYED), Some("true"));
        assert!(!again.text.contains(&secret));
        assert_eq!(app.count("service_accounts"), 1);
        let kept = app.strings("SELECT body AS s FROM idempotency_keys WHERE idempotency_key = 'sa-1'");
        assert_eq!(kept.len(), 1);
        assert!(!kept[0].contains(&secret), "the secret was kept: {}", kept[0]);
    }
}
