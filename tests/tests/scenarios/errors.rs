//! Every kind of bad input gets a problem document naming what is wrong, and changes nothing.

use labshare_tests::{both_backends, Resp, TestApp};
use reqwest::Method;
use serde_json::json;

#[track_caller]
fn problem(r: &Resp, status: u16, kind: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"), "{}", r.text);
    assert_eq!(r.problem_type(), format!("/problems/{kind}"), "{}", r.text);
    assert_eq!(r.body["status"], status);
    assert!(r.body["title"].is_string() && r.body["detail"].is_string());
}

fn first_error(r: &Resp, key: &str) -> String {
    r.body["errors"][0][key].as_str().unwrap_or_default().to_owned()
}

fn counts(app: &TestApp) -> [i64; 5] {
    ["institutions", "labs", "instruments", "users", "audit_events"].map(|t| app.count(t))
}

both_backends! {
    fn malformed_and_mistyped_bodies_are_problems_naming_the_field(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let before = counts(&app);
        let post = |body: &[u8]| app.raw(Method::POST, "/api/v1/labs", Some(&admin), "application/json", body.to_vec());

        problem(&post(b"{\"name\": "), 400, "malformed-json");
        problem(&post(b"not json"), 400, "malformed-json");

        let r = post(br#"{"institution_id": "two", "name": "x"}"#);
        problem(&r, 422, "validation");
        assert_eq!(first_error(&r, "pointer"), "/institution_id");
        assert_eq!(first_error(&r, "rule"), "type");

        let r = post(br#"{"institution_id": 2, "name": "x", "address": "y", "biosafety_level": "BSL4", "contact_name": "a", "contact_phone": "0771-1234567"}"#);
        problem(&r, 422, "validation");
        assert_eq!(first_error(&r, "pointer"), "/biosafety_level");
        assert_eq!(first_error(&r, "rule"), "enum");
        assert!(first_error(&r, "message").contains("BSL3"));

        let r = post(br#"{"institution_id": 2, "name": "x", "address": "y", "biosafety_level": "BSL1", "contact_name": "a", "contact_phone": "0771-1234567", "colour": "red"}"#);
        problem(&r, 422, "validation");
        assert_eq!(first_error(&r, "pointer"), "/colour");
        assert_eq!(first_error(&r, "rule"), "unknown_field");

        let r = post(br#"{"institution_id": 2}"#);
        problem(&r, 422, "validation");
        assert_eq!(first_error(&r, "rule"), "required");
        assert!(first_error(&r, "pointer").len() > 1);

        let r = app.raw(Method::POST, "/api/v1/instruments", Some(&admin), "application/json",
            br#"{"lab_id": 1, "service_modes": ["assisted", "teleport"]}"#.to_vec());
        problem(&r, 422, "validation");
        assert_eq!(first_error(&r, "pointer"), "/service_modes/1");

        let r = post(br#"{"institution_id": 2, "name": "a\u0000b", "address": "y", "biosafety_level": "BSL1", "contact_name": "a", "contact_phone": "0771-1234567"}"#);
        problem(&r, 422, "validation");
        assert_eq!(first_error(&r, "pointer"), "/name");
        assert_eq!(first_error(&r, "rule"), "no_nul");
        let r = app.request(Method::POST, "/api/v1/auth/token", None, Some(&json!({"grant_type": "password", "username": "ad\u{0}min", "password": "x"})));
        problem(&r, 422, "validation");
        let r = post(br#"{"institution_id": 987654, "name": "x", "address": "y", "biosafety_level": "BSL1", "contact_name": "a", "contact_phone": "0771-1234567"}"#);
        problem(&r, 422, "validation");
        assert_eq!(first_error(&r, "pointer"), "/institution_id");

        problem(&app.raw(Method::POST, "/api/v1/labs", Some(&admin), "text/plain", b"{}".to_vec()), 415, "unsupported-media-type");
        let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(100_000));
        problem(&app.raw(Method::POST, "/api/v1/labs", Some(&admin), "application/json", huge.into_bytes()), 413, "payload-too-large");

        assert_eq!(counts(&app), before);
    }

    fn bad_path_and_query_parameters_are_problems_naming_the_parameter(app) {
        app.seed_demo();
        let token = app.login("researcher");
        for path in ["/api/v1/instruments/abc", "/api/v1/instruments/-3", "/api/v1/instruments/0", "/api/v1/labs/99999999999999999999"] {
            let r = app.get(path, &token);
            problem(&r, 400, "invalid-parameter");
            assert_eq!(first_error(&r, "parameter"), "id");
        }
        let cases = [
            ("/api/v1/instruments?limit=0", "limit"),
            ("/api/v1/instruments?limit=201", "limit"),
            ("/api/v1/instruments?limit=ten", "limit"),
            ("/api/v1/instruments?status=broken", "status"),
            ("/api/v1/instruments?sharing_scope=everyone", "sharing_scope"),
            ("/api/v1/instruments?colour=red", "colour"),
            ("/api/v1/instruments?cursor=!!", "cursor"),
            ("/api/v1/labs?institution_id=x", "institution_id"),
            ("/api/v1/audit-events?from=yesterday", "from"),
            ("/api/v1/instruments?q=a%00b", "q"),
        ];
        let admin = app.login("admin");
        for (path, parameter) in cases {
            let r = app.get(path, &admin);
            problem(&r, 400, "invalid-parameter");
            assert_eq!(first_error(&r, "parameter"), parameter, "{path}");
        }
        problem(&app.get("/api/v1/instruments/999999", &token), 404, "not-found");
    }

    fn unknown_routes_wrong_methods_and_missing_tokens_are_problems(app) {
        let r = app.request(Method::GET, "/api/v1/nothing-here", None, None);
        problem(&r, 404, "not-found");
        let r = app.request(Method::DELETE, "/api/v1/institutions", None, None);
        problem(&r, 405, "method-not-allowed");
        let r = app.request(Method::GET, "/api/v1/instruments", None, None);
        problem(&r, 401, "unauthorized");
        assert!(r.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")));
        let r = app.request(Method::GET, "/api/v1/instruments", Some("not.a.jwt"), None);
        problem(&r, 401, "unauthorized");
        let r = app.request(Method::POST, "/api/v1/auth/token", None, Some(&json!({"grant_type": "magic"})));
        problem(&r, 422, "validation");
        assert_eq!(first_error(&r, "rule"), "enum");
    }

    fn operational_endpoints_answer(app) {
        let r = app.request(Method::GET, "/healthz", None, None).expect(200);
        assert_eq!(r.body["status"], "ok");
        let r = app.request(Method::GET, "/readyz", None, None).expect(200);
        assert_eq!(r.body["status"], "ok");
    }

    fn browsers_on_the_configured_origins_may_call_the_api_and_no_others(app) {
        app.seed_demo();
        let origin = labshare_tests::TEST_ORIGIN;
        let preflight = |from: &str| {
            app.client
                .request(Method::OPTIONS, format!("{}/api/v1/instruments/1", app.base))
                .header("origin", from)
                .header("access-control-request-method", "PATCH")
                .header("access-control-request-headers", "authorization, if-match")
                .send()
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let ok = preflight(origin);
        assert_eq!(ok.status().as_u16(), 204);
        let h = |r: &reqwest::blocking::Response, name: &str| {
            r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
        };
        assert_eq!(h(&ok, "access-control-allow-origin"), origin);
        assert!(h(&ok, "access-control-allow-methods").contains("PATCH"));
        assert!(h(&ok, "access-control-allow-headers").contains("If-Match"));
        let refused = preflight("https://evil.example.com");
        assert_eq!(refused.status().as_u16(), 403);
        assert!(refused.headers().get("access-control-allow-origin").is_none());

        let token = app.login("regulator");
        let call = |from: &str| {
            app.client
                .get(format!("{}/api/v1/me", app.base))
                .bearer_auth(&token)
                .header("origin", from)
                .send()
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let r = call(origin);
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(h(&r, "access-control-allow-origin"), origin);
        assert!(h(&r, "access-control-expose-headers").contains("ETag"));
        assert!(h(&r, "vary").contains("Origin"));
        let other = call("https://evil.example.com");
        assert_eq!(other.status().as_u16(), 200, "the server answers; the browser withholds it");
        assert!(other.headers().get("access-control-allow-origin").is_none());
    }

    fn every_answer_carries_a_request_id_the_client_may_choose(app) {
        let r = app.request(Method::GET, "/healthz", None, None).expect(200);
        let id = r.header("x-request-id").unwrap_or_default().to_owned();
        assert_eq!(id.len(), 32, "a fresh id: {id}");
        let again = app.request(Method::GET, "/healthz", None, None);
        assert_ne!(again.header("x-request-id"), Some(id.as_str()));
        let mine = app
            .client
            .get(format!("{}/api/v1/instruments", app.base))
            .header("x-request-id", "HIS-2026.11-0042")
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mine.status().as_u16(), 401);
        assert_eq!(mine.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("HIS-2026.11-0042"));
        let odd = app
            .client
            .get(format!("{}/healthz", app.base))
            .header("x-request-id", "not a token")
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        let replaced = odd.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(replaced.len() == 32 && replaced != "not a token");
    }

    fn prometheus_metrics_count_requests_by_route_pattern_and_status(app) {
        app.seed_demo();
        let token = app.login("regulator");
        for id in [1, 2, 3] {
            app.get(&format!("/api/v1/instruments/{id}"), &token).expect(200);
        }
        app.get("/api/v1/instruments/999999", &token).expect(404);
        let r = app.request(Method::GET, "/metrics", None, None).expect(200);
        assert!(r.header("content-type").unwrap_or_default().starts_with("text/plain; version=0.0.4"));
        let line = |name: &str| -> Option<String> {
            r.text.lines().find(|l| l.starts_with(name)).map(|l| l.rsplit(' ').next().unwrap_or_default().to_owned())
        };
        let by_pattern = "labshare_http_requests_total{method=\"GET\",route=\"/api/v1/instruments/{id}\"";
        assert_eq!(line(&format!("{by_pattern},status=\"200\"}}")).as_deref(), Some("3"), "{}", r.text);
        assert_eq!(line(&format!("{by_pattern},status=\"404\"}}")).as_deref(), Some("1"));
        // The histogram's +Inf bucket holds every request; no path with an id is a label.
        let inf = "labshare_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/instruments/{id}\",status=\"200\",le=\"+Inf\"}";
        assert_eq!(line(inf).as_deref(), Some("3"));
        assert!(!r.text.contains("/api/v1/instruments/1\""));
        assert!(line("labshare_db_pool_connections{state=\"open\"}").is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 1)));
        assert!(line("labshare_db_pool_max_connections").is_some());
    }
}
