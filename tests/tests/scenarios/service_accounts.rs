//! Service accounts (DESIGN.md §1, API client): a hospital information
//! system authenticates with client credentials and calls only what its
//! scopes and its roles both allow.

use crate::bookings::{at, book, bookable_instrument};
use labshare_tests::{both_backends, Resp, TestApp, DEMO_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

/// Creates a service account of the second hospital as the platform office.
fn create_account(app: &TestApp, roles: Value, scopes: Value) -> Resp {
    let admin = app.login("admin");
    let second = app.institution_id(&admin, "南宁市第二人民医院");
    app.post(
        "/api/v1/service-accounts",
        &admin,
        &json!({
            "institution_id": second, "name": "二院 HIS 预约接口",
            "description": "Books instrument time for clinical departments",
            "roles": roles, "scopes": scopes
        }),
    )
}

/// The id, client id and secret of a created account.
fn credentials(r: &Resp) -> (i64, String, String) {
    (
        r.body["account"]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no id: {}", r.text)),
        r.body["account"]["client_id"].as_str().unwrap_or_default().to_owned(),
        r.body["client_secret"].as_str().unwrap_or_default().to_owned(),
    )
}

fn his(app: &TestApp) -> (i64, String, String) {
    let r = create_account(
        app,
        json!(["researcher"]),
        json!(["catalog:read", "bookings:read", "bookings:write"]),
    )
    .expect(201);
    credentials(&r)
}

both_backends! {
    fn a_standard_oauth_client_sends_the_token_request_form_encoded(app) {
        app.seed_demo();
        let (_, client_id, secret) = his(&app);
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=catalog%3Aread",
            client_id,
            labshare_tests::urlencode(&secret)
        );
        let r = app
            .raw(Method::POST, "/api/v1/auth/token", None, "application/x-www-form-urlencoded", form.into_bytes())
            .expect(200);
        assert_eq!(r.body["scope"], "catalog:read");
        let token = r.body["access_token"].as_str().unwrap_or_default().to_owned();
        app.get("/api/v1/instruments", &token).expect(200);
        // People sign in the same way.
        let form = format!("grant_type=password&username=researcher&password={DEMO_PASSWORD}");
        app.raw(Method::POST, "/api/v1/auth/token", None, "application/x-www-form-urlencoded", form.into_bytes())
            .expect(200);
        // A parameter sent twice is refused, naming it.
        let twice = format!("grant_type=client_credentials&client_id={client_id}&client_id=sa_other&client_secret=x");
        let r = app
            .raw(Method::POST, "/api/v1/auth/token", None, "application/x-www-form-urlencoded", twice.into_bytes())
            .expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/client_id");
        assert_eq!(r.body["errors"][0]["rule"], "single");
    }

    fn a_hospital_system_books_for_its_own_researchers_and_no_one_else(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let r = create_account(
            &app,
            json!(["unit_admin"]),
            json!(["catalog:read", "bookings:read", "bookings:write"]),
        )
        .expect(201);
        let (_, client_id, secret) = credentials(&r);
        let service_user = r.body["account"]["user_id"].clone();
        let token = app.client_token(&client_id, &secret);
        let researcher_token = app.login("researcher");
        let researcher = app.get("/api/v1/me", &researcher_token).body["user"].clone();
        let body = |for_user: Value, day: i64| {
            json!({
                "instrument_id": instrument, "mode": "assisted", "purpose": "血药浓度检测",
                "starts_at": at(&app, day, 9, 0), "ends_at": at(&app, day, 10, 0), "for_user_id": for_user
            })
        };

        let booked = app.post("/api/v1/bookings", &token, &body(researcher["id"].clone(), 3)).expect(201);
        assert_eq!(booked.body["user_id"], researcher["id"]);
        assert_eq!(booked.body["institution_id"], researcher["institution_id"]);
        let actors = app.strings(&format!(
            "SELECT CAST(actor_user_id AS TEXT) AS s FROM audit_events WHERE object_type = 'booking' AND object_id = {}",
            booked.body["id"]
        ));
        assert_eq!(actors, vec![service_user.to_string()]);
        // The researcher sees the booking as their own.
        let mine = app.get("/api/v1/bookings", &researcher_token).expect(200);
        assert!(mine.body["items"].as_array().is_some_and(|a| a.iter().any(|b| b["id"] == booked.body["id"])));

        // Not for a person of another institution, nor for a service account, nor for no one.
        let before = app.count("bookings");
        let other = app.get("/api/v1/me", &app.login("manager1")).body["user"]["id"].clone();
        let r = app.post("/api/v1/bookings", &token, &body(other, 4)).expect(422);
        assert_eq!(r.body["errors"][0]["rule"], "person_of_your_institution");
        let r = app.post("/api/v1/bookings", &token, &body(service_user.clone(), 4)).expect(201);
        assert_eq!(r.body["user_id"], service_user, "for itself, the account books as itself");
        let r = app.post("/api/v1/bookings", &token, &body(json!(999_999), 5)).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/for_user_id");
        assert_eq!(r.body["errors"][0]["rule"], "person_of_your_institution");
        assert_eq!(app.count("bookings"), before + 1);

        // A service account that is only a researcher books for itself alone.
        let r = create_account(&app, json!(["researcher"]), json!(["bookings:write"])).expect(201);
        let (_, plain_id, plain_secret) = credentials(&r);
        let plain = app.client_token(&plain_id, &plain_secret);
        app.post("/api/v1/bookings", &plain, &body(researcher["id"].clone(), 6)).expect(403);
        assert_eq!(app.count("bookings"), before + 1);

        // The system cancels what it booked for its researcher.
        let r = app
            .post(&format!("/api/v1/bookings/{}/cancel", booked.body["id"]), &token, &json!({}))
            .expect(200);
        assert_eq!(r.body["status"], "cancelled");
    }

    fn a_service_account_secret_is_shown_once_and_stored_only_as_a_hash(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let r = create_account(&app, json!(["researcher", "researcher"]), json!(["bookings:write", "catalog:read"])).expect(201);
        let (id, client_id, secret) = credentials(&r);
        assert!(client_id.starts_with("sa_") && client_id.len() == 19, "{client_id}");
        assert!(secret.starts_with("lss_") && secret.len() >= 40, "{secret}");
        assert_eq!(r.body["account"]["roles"], json!(["researcher"]));
        assert_eq!(r.body["account"]["scopes"], json!(["catalog:read", "bookings:write"]));
        assert_eq!(r.body["account"]["active"], true);

        // Never again: not in a read, a list, the audit trail or the database.
        let one = app.get(&format!("/api/v1/service-accounts/{id}"), &admin).expect(200);
        assert_eq!(one.body["client_id"], client_id);
        assert!(!one.text.contains(&secret) && one.body.get("client_secret").is_none());
        let list = app.get("/api/v1/service-accounts", &admin).expect(200);
        assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
        assert!(!list.text.contains(&secret));
        let audit = app.get("/api/v1/audit-events?limit=200", &admin).expect(200);
        assert!(audit.text.contains("service_account.create") && !audit.text.contains(&secret));
        let stored = app.strings("SELECT secret_hash AS s FROM service_accounts");
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].len(), 64);
        assert_ne!(stored[0], secret);
        assert!(!stored[0].contains(&secret[4..]));
        let everything = app.strings("SELECT COALESCE(after_json, '') AS s FROM audit_events");
        assert!(everything.iter().all(|a| !a.contains(&secret)));

        // The account it acts through cannot sign in with a password, and is not among the people.
        app.sign_in(&client_id, DEMO_PASSWORD).expect(400);
        app.sign_in(&client_id, &secret).expect(400);
        let people = app.get(&format!("/api/v1/users?q={client_id}"), &admin).expect(200);
        assert_eq!(people.body["items"], json!([]));
        let machines = app.get(&format!("/api/v1/users?service_account=true&q={client_id}"), &admin).expect(200);
        let user = &machines.body["items"][0];
        assert_eq!(user["service_account"], true);
        assert_eq!(user["id"], one.body["user_id"]);
        // Nor can an administrator give it a password through the people's endpoint.
        let r = app.patch(&format!("/api/v1/users/{}", user["id"]), &admin, &json!({"password": "a brand new passphrase"})).expect(409);
        assert_eq!(r.problem_type(), "/problems/service-account-user");
    }

    fn a_token_works_for_its_scopes_and_roles_and_nothing_else(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let (_, client_id, secret) = his(&app);

        let r = app.client_credentials(&client_id, &secret, None).expect(200);
        assert_eq!(r.body["token_type"], "Bearer");
        assert_eq!(r.body["expires_in"], 900);
        assert_eq!(r.body["scope"], "catalog:read bookings:read bookings:write");
        assert!(r.body.get("refresh_token").is_none());
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let token = r.body["access_token"].as_str().unwrap_or_default().to_owned();

        // In scope: reading the catalogue and booking, as the account's user.
        let list = app.get("/api/v1/instruments", &token).expect(200);
        assert!(list.body["items"].as_array().is_some_and(|a| a.iter().any(|i| i["id"] == instrument)));
        let booked = book(&app, &token, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 11, 0), "assisted").expect(201);
        let user_id = app.get("/api/v1/service-accounts", &app.login("admin")).body["items"][0]["user_id"].clone();
        assert_eq!(booked.body["user_id"], user_id);
        // The audit trail names the service account's user as the actor of the booking.
        let actors = app.strings(&format!(
            "SELECT CAST(actor_user_id AS TEXT) AS s FROM audit_events WHERE object_type = 'booking' AND object_id = {}",
            booked.body["id"]
        ));
        assert_eq!(actors, vec![user_id.to_string()]);
        app.get(&format!("/api/v1/bookings/{}", booked.body["id"]), &token).expect(200);

        // Out of scope: refused before anything is written, naming the scope needed.
        let before = app.count("usage_records");
        let r = app.post("/api/v1/usage-records", &token, &json!({"booking_id": booked.body["id"]})).expect(403);
        assert_eq!(r.problem_type(), "/problems/insufficient-scope");
        assert_eq!(r.body["error"], "insufficient_scope");
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"usage:write\""), "{challenge}");
        assert_eq!(app.count("usage_records"), before);
        let r = app.get("/api/v1/reports/usage?from=2026-01-01&to=2026-12-31", &token).expect(403);
        assert!(r.header("www-authenticate").unwrap_or_default().contains("reports:read"));
        // People-only operations: no scope opens them.
        let users_before = app.count("users");
        let r = app.post("/api/v1/users", &token, &json!({})).expect(403);
        assert_eq!(r.body["error"], "insufficient_scope");
        assert_eq!(app.count("users"), users_before);
        app.get("/api/v1/me", &token).expect(403);
        app.get("/api/v1/service-accounts", &token).expect(403);

        // In scope but not in its roles: a researcher may not approve bookings.
        let r = app.post(&format!("/api/v1/bookings/{}/approve", booked.body["id"]), &token, &json!({}));
        assert!(r.status == 403 || r.status == 404, "{}", r.text);
        assert_ne!(r.problem_type(), "/problems/insufficient-scope");
        let status = app.get(&format!("/api/v1/bookings/{}", booked.body["id"]), &token).expect(200);
        assert_eq!(status.body["status"], "pending");

        // A narrower token can be asked for; a scope not held cannot.
        let r = app.client_credentials(&client_id, &secret, Some("catalog:read")).expect(200);
        assert_eq!(r.body["scope"], "catalog:read");
        let narrow = r.body["access_token"].as_str().unwrap_or_default().to_owned();
        app.get("/api/v1/instruments", &narrow).expect(200);
        book(&app, &narrow, instrument, &at(&app, 4, 9, 0), &at(&app, 4, 11, 0), "assisted").expect(403);
        let r = app.client_credentials(&client_id, &secret, Some("catalog:read reports:read")).expect(400);
        assert_eq!(r.body["error"], "invalid_scope");
        let r = app.client_credentials(&client_id, &secret, Some("admin")).expect(400);
        assert_eq!(r.body["error"], "invalid_scope");

        // HTTP Basic client authentication works too.
        let r = app.client
            .post(format!("{}/api/v1/auth/token", app.base))
            .basic_auth(&client_id, Some(&secret))
            .json(&json!({"grant_type": "client_credentials"}))
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), 200);
        // Never both ways at once.
        let r = app.client
            .post(format!("{}/api/v1/auth/token", app.base))
            .basic_auth(&client_id, Some(&secret))
            .json(&json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}))
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), 401);
    }

    fn concurrent_rotations_leave_exactly_one_working_secret(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let (id, client_id, first) = his(&app);
        let n = 8;
        let barrier = std::sync::Barrier::new(n);
        let secrets: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let (app, admin, barrier) = (&app, &admin, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        let r = app.post(&format!("/api/v1/service-accounts/{id}/rotate-secret"), admin, &json!({})).expect(200);
                        r.body["client_secret"].as_str().unwrap_or_default().to_owned()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("thread"))).collect()
        });
        let account = app.get(&format!("/api/v1/service-accounts/{id}"), &admin).expect(200);
        assert_eq!(account.body["secret_generation"], json!(1 + n));
        // The stored hash is that of exactly one of the secrets answered (asked
        // of the database, not the token endpoint, whose throttle would count the rest).
        let stored = app.strings("SELECT secret_hash AS s FROM service_accounts");
        let working: Vec<&String> = secrets
            .iter()
            .filter(|s| stored == vec![labshare_api::auth::token_hash(s)])
            .collect();
        assert_eq!(working.len(), 1, "{secrets:?}");
        app.client_credentials(&client_id, &first, None).expect(401);
        app.client_credentials(&client_id, working[0], None).expect(200);
    }

    fn wrong_credentials_are_an_invalid_client_and_are_throttled(app) {
        app.seed_demo();
        let (_, client_id, secret) = his(&app);
        let r = app.client_credentials(&client_id, "lss_wrong", None).expect(401);
        assert_eq!(r.body["error"], "invalid_client");
        assert_eq!(r.problem_type(), "/problems/invalid-client");
        assert!(r.header("www-authenticate").unwrap_or_default().starts_with("Basic"));
        let r = app.client_credentials("sa_0000000000000000", &secret, None).expect(401);
        assert_eq!(r.body["error"], "invalid_client");
        let r = app.request(Method::POST, "/api/v1/auth/token", None, Some(&json!({"grant_type": "client_credentials", "client_id": client_id}))).expect(401);
        assert_eq!(r.body["error"], "invalid_client");
        // Failures for one client do not lock the client out: its id is no secret.
        for _ in 0..4 {
            app.client_credentials(&client_id, "lss_guess", None).expect(401);
        }
        app.client_credentials(&client_id, &secret, None).expect(200);
        // An address that keeps failing waits, whichever client it tries.
        for _ in 0..20 {
            app.client_credentials("sa_0000000000000000", "lss_guess", None);
        }
        let r = app.client_credentials(&client_id, &secret, None).expect(429);
        assert!(r.header("retry-after").is_some());
        app.advance(chrono::Duration::minutes(16));
        app.client_credentials(&client_id, &secret, None).expect(200);
    }

    fn rotating_the_secret_retires_the_old_secret_and_its_tokens_at_once(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let (id, client_id, old_secret) = his(&app);
        let old_token = app.client_token(&client_id, &old_secret);
        app.get("/api/v1/instruments", &old_token).expect(200);

        let r = app.post(&format!("/api/v1/service-accounts/{id}/rotate-secret"), &admin, &json!({})).expect(200);
        let new_secret = r.body["client_secret"].as_str().unwrap_or_default().to_owned();
        assert_ne!(new_secret, old_secret);
        assert_eq!(r.body["account"]["secret_generation"], 2);
        assert_eq!(r.body["account"]["client_id"], client_id);

        let r = app.get("/api/v1/instruments", &old_token).expect(401);
        assert_eq!(r.problem_type(), "/problems/unauthorized");
        app.client_credentials(&client_id, &old_secret, None).expect(401);
        let new_token = app.client_token(&client_id, &new_secret);
        app.get("/api/v1/instruments", &new_token).expect(200);
        let audit = app.get("/api/v1/audit-events?limit=200", &admin).expect(200);
        assert!(audit.text.contains("service_account.rotate_secret"));
        assert!(!audit.text.contains(&new_secret) && !audit.text.contains(&old_secret));
        assert!(app.get(&format!("/api/v1/service-accounts/{id}"), &admin).body["last_used_at"].is_string());
    }

    fn a_revoked_account_is_refused_at_once_and_for_good(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let (id, client_id, secret) = his(&app);
        let token = app.client_token(&client_id, &secret);
        app.get("/api/v1/instruments", &token).expect(200);

        let r = app.post(&format!("/api/v1/service-accounts/{id}/revoke"), &admin, &json!({})).expect(200);
        assert_eq!(r.body["active"], false);
        assert!(r.body["revoked_at"].is_string());
        app.get("/api/v1/instruments", &token).expect(401);
        let r = app.client_credentials(&client_id, &secret, None).expect(401);
        assert_eq!(r.body["error"], "invalid_client");
        let r = app.post(&format!("/api/v1/service-accounts/{id}/rotate-secret"), &admin, &json!({})).expect(409);
        assert_eq!(r.problem_type(), "/problems/service-account-revoked");
        app.post(&format!("/api/v1/service-accounts/{id}/revoke"), &admin, &json!({})).expect(409);
        app.patch(&format!("/api/v1/service-accounts/{id}"), &admin, &json!({"name": "again"})).expect(409);
        let active = app.get("/api/v1/service-accounts?active=true", &admin).expect(200);
        assert_eq!(active.body["items"], json!([]));
    }

    fn a_scope_taken_away_stops_working_for_tokens_already_issued(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let (id, client_id, secret) = his(&app);
        let token = app.client_token(&client_id, &secret);
        app.get("/api/v1/bookings", &token).expect(200);
        let r = app.patch(&format!("/api/v1/service-accounts/{id}"), &admin, &json!({"scopes": ["catalog:read"], "name": "二院 HIS 目录同步"})).expect(200);
        assert_eq!(r.body["scopes"], json!(["catalog:read"]));
        assert_eq!(r.body["name"], "二院 HIS 目录同步");
        let r = app.get("/api/v1/bookings", &token).expect(403);
        assert_eq!(r.body["error"], "insufficient_scope");
        app.get("/api/v1/instruments", &token).expect(200);
        let audit = app.get("/api/v1/audit-events?limit=200", &admin).expect(200);
        assert!(audit.text.contains("service_account.update"));
    }

    fn only_the_platform_office_creates_service_accounts_and_a_unit_sees_its_own(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let first = app.institution_id(&admin, "南宁市第一人民医院");
        let body = json!({"institution_id": first, "name": "一院 HIS", "roles": ["researcher"], "scopes": ["catalog:read"]});
        app.post("/api/v1/service-accounts", &unit, &body).expect(403);
        assert_eq!(app.count("service_accounts"), 0);
        app.get("/api/v1/service-accounts", &app.login("researcher")).expect(403);
        let own = app.post("/api/v1/service-accounts", &admin, &body).expect(201);
        let (other, _, _) = his(&app);
        let seen = app.get("/api/v1/service-accounts", &unit).expect(200);
        let ids: Vec<i64> = seen.body["items"].as_array().map(|a| a.iter().filter_map(|i| i["id"].as_i64()).collect()).unwrap_or_default();
        assert_eq!(ids, vec![own.body["account"]["id"].as_i64().unwrap_or_default()]);
        app.get(&format!("/api/v1/service-accounts/{other}"), &unit).expect(404);
        app.post(&format!("/api/v1/service-accounts/{other}/revoke"), &unit, &json!({})).expect(404);
        let own_id = own.body["account"]["id"].as_i64().unwrap_or_default();
        app.post(&format!("/api/v1/service-accounts/{own_id}/rotate-secret"), &unit, &json!({})).expect(403);
    }

    fn bad_input_is_refused_naming_the_field(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let r = create_account(&app, json!(["researcher"]), json!(["catalog:read", "everything"])).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/scopes/1");
        let r = create_account(&app, json!(["janitor"]), json!(["catalog:read"])).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/roles/0");
        let r = create_account(&app, json!(["researcher", "platform_admin"]), json!(["catalog:read"])).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/roles/1");
        assert_eq!(r.body["errors"][0]["rule"], "role_institution");
        // A hospital's system does not read the whole platform.
        let r = create_account(&app, json!(["regulator"]), json!(["reports:read"])).expect(422);
        assert_eq!(r.body["errors"][0]["rule"], "role_institution");
        let r = create_account(&app, json!([]), json!([])).expect(422);
        let pointers: Vec<&str> = r.body["errors"].as_array().map(|a| a.iter().filter_map(|e| e["pointer"].as_str()).collect()).unwrap_or_default();
        assert_eq!(pointers, vec!["/roles", "/scopes"]);
        let r = app.post("/api/v1/service-accounts", &admin, &json!({"institution_id": 999_999, "name": "x", "roles": ["researcher"], "scopes": ["catalog:read"]})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/institution_id");
        assert_eq!(app.count("service_accounts"), 0);
        // The commission's own system may read reports as a regulator.
        let commission = app.institution_id(&admin, "南宁市卫生健康委员会");
        app.post("/api/v1/service-accounts", &admin, &json!({"institution_id": commission, "name": "委 数据中心", "roles": ["regulator"], "scopes": ["reports:read"]})).expect(201);
    }
}

/// Every operation under `/api/v1` in the contract is decided in the scope
/// table (a scope, people only, or public), so that no route skips the check
/// by being forgotten; and each scope the table names is published on it.
#[test]
fn every_operation_has_a_decided_scope_and_the_contract_publishes_it() {
    let doc = serde_json::to_value(labshare_api::openapi::document()).unwrap_or_default();
    let flows = &doc["components"]["securitySchemes"]["client_credentials"]["flows"]["clientCredentials"];
    assert_eq!(flows["tokenUrl"], "/api/v1/auth/token");
    assert!(flows["scopes"]["bookings:write"].is_string());
    let mut undecided = Vec::new();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in &paths {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for (method, op) in item.as_object().into_iter().flatten() {
            let m = method.to_uppercase();
            if !labshare_api::scopes::is_decided(&m, path) {
                undecided.push(format!("{m} {path}"));
            }
            let published: Vec<String> = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["client_credentials"].as_array())
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect();
            match labshare_api::scopes::needed(&m, path) {
                labshare_api::scopes::Need::Scope(s) => {
                    assert_eq!(published, vec![s.to_string()], "{m} {path}")
                }
                _ => assert!(published.is_empty(), "{m} {path}"),
            }
        }
    }
    assert!(
        undecided.is_empty(),
        "not in api/src/scopes.rs:\n{}",
        undecided.join("\n")
    );
    // And the table names no operation the contract lacks.
    for (m, p, _) in labshare_api::scopes::OPERATIONS {
        assert!(
            doc["paths"][*p][m.to_lowercase()].is_object(),
            "{m} {p} is not in the contract"
        );
    }
}
