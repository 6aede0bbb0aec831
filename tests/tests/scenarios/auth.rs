use labshare_tests::{both_backends, TestApp, DEMO_PASSWORD};
use reqwest::Method;
use serde_json::json;

fn refresh(app: &TestApp, token: &str) -> labshare_tests::Resp {
    app.request(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(&json!({"grant_type": "refresh_token", "refresh_token": token})),
    )
}

both_backends! {
    fn repeated_failed_sign_ins_make_the_account_and_the_address_wait(app) {
        app.seed_demo();
        let right = "nanning-lab-2026";
        for _ in 0..5 {
            app.sign_in("researcher", "guess-1234").expect(400);
        }
        // The sixth try waits, even with the right password, until the first failure is 15 minutes old.
        let r = app.sign_in("researcher", right).expect(429);
        assert_eq!(r.problem_type(), "/problems/sign-in-throttled");
        let wait: i64 = r.header("retry-after").and_then(|v| v.parse().ok()).unwrap_or_default();
        assert!((1..=900).contains(&wait), "{wait}");
        // Other accounts are not held up by one account's failures.
        app.sign_in("guest", right).expect(200);
        app.advance(chrono::Duration::seconds(wait));
        app.sign_in("researcher", right).expect(200);
        // A success clears the account's count.
        for _ in 0..4 {
            app.sign_in("researcher", "guess-5678").expect(400);
        }
        app.sign_in("researcher", right).expect(200);
        app.sign_in("researcher", "guess-9999").expect(400);
        app.sign_in("researcher", right).expect(200);

        // One address trying many accounts is held up after 20 failures, for every account.
        app.advance(chrono::Duration::minutes(16));
        for i in 0..20 {
            app.sign_in(&format!("nobody{i}"), "guess").expect(400);
        }
        let r = app.sign_in("leader", right).expect(429);
        assert!(r.header("retry-after").is_some());
        app.advance(chrono::Duration::minutes(15));
        app.sign_in("leader", right).expect(200);
    }

    fn signing_in_returns_rfc6749_tokens_and_me_shows_the_account(app) {
        app.seed_demo();
        let r = app.sign_in("researcher", DEMO_PASSWORD).expect(200);
        assert_eq!(r.body["token_type"], "Bearer");
        assert_eq!(r.body["expires_in"], 900);
        assert!(r.body["refresh_token"].as_str().is_some_and(|t| t.len() >= 40));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let token = r.body["access_token"].as_str().unwrap_or_default().to_owned();
        let me = app.get("/api/v1/me", &token).expect(200);
        assert_eq!(me.body["user"]["username"], "researcher");
        assert_eq!(me.body["user"]["roles"], json!(["researcher"]));
        assert_eq!(me.body["institution"]["name"], "南宁市第二人民医院");
        assert!(me.body["user"].get("password_hash").is_none());
    }

    fn a_wrong_password_and_an_unknown_user_get_the_same_invalid_grant(app) {
        app.seed_demo();
        let wrong = app.sign_in("researcher", "not-the-password").expect(400);
        let unknown = app.sign_in("nobody-here", DEMO_PASSWORD).expect(400);
        for r in [&wrong, &unknown] {
            assert_eq!(r.problem_type(), "/problems/invalid-grant");
            assert_eq!(r.body["error"], "invalid_grant");
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
        }
        assert_eq!(wrong.body["detail"], unknown.body["detail"]);
        assert_eq!(app.count("sessions"), 0);
    }

    fn refresh_tokens_rotate_and_reusing_a_spent_one_ends_the_session(app) {
        app.seed_demo();
        let first = app.sign_in("unit1", DEMO_PASSWORD).expect(200);
        let r1 = first.body["refresh_token"].as_str().unwrap_or_default().to_owned();
        let second = refresh(&app, &r1).expect(200);
        let r2 = second.body["refresh_token"].as_str().unwrap_or_default().to_owned();
        let access2 = second.body["access_token"].as_str().unwrap_or_default().to_owned();
        assert_ne!(r1, r2);
        app.get("/api/v1/me", &access2).expect(200);
        // The stored token is its SHA-256, never the token itself.
        let stored = app.strings("SELECT token_hash AS s FROM refresh_tokens ORDER BY id");
        assert_eq!(stored, vec![labshare_api::auth::token_hash(&r1), labshare_api::auth::token_hash(&r2)]);
        assert!(stored.iter().all(|h| h.len() == 64 && *h != r1 && *h != r2));

        let replay = refresh(&app, &r1).expect(400);
        assert_eq!(replay.body["error"], "invalid_grant");
        // The whole family is revoked: the newest refresh token and the access token stop working.
        refresh(&app, &r2).expect(400);
        let gone = app.get("/api/v1/me", &access2).expect(401);
        assert_eq!(gone.problem_type(), "/problems/unauthorized");
        // Sign-in, rotation and the revocation are in the audit trail.
        let admin = app.login("admin");
        let trail = app.get("/api/v1/audit-events?object_type=session&limit=200", &admin).expect(200);
        let actions: Vec<&str> = trail.body["items"].as_array().map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect()).unwrap_or_default();
        assert_eq!(&actions[..3], &["session.open", "session.refresh", "session.revoke_reuse"]);
        // Other sessions of the same account are not affected.
        let other = app.login("unit1");
        app.get("/api/v1/me", &other).expect(200);
    }

    fn concurrent_refreshes_of_one_token_rotate_it_at_most_once(app) {
        app.seed_demo();
        let r = app.sign_in("researcher", DEMO_PASSWORD).expect(200);
        let token = r.body["refresh_token"].as_str().unwrap_or_default().to_owned();
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| refresh(&app, &token).status)).collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
        });
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s == 400), "{statuses:?}");
        // No spent token was rotated twice: at most one successor exists.
        assert!(app.count("refresh_tokens") <= 2);
    }

    fn logout_ends_the_session_of_the_token(app) {
        app.seed_demo();
        let r = app.sign_in("regulator", DEMO_PASSWORD).expect(200);
        let access = r.body["access_token"].as_str().unwrap_or_default().to_owned();
        let refresh_token = r.body["refresh_token"].as_str().unwrap_or_default().to_owned();
        app.request(Method::POST, "/api/v1/auth/logout", Some(&access), None).expect(204);
        app.get("/api/v1/me", &access).expect(401);
        refresh(&app, &refresh_token).expect(400);
    }

    fn an_access_token_expires_after_fifteen_minutes(app) {
        app.seed_demo();
        let token = app.login("researcher");
        app.advance(chrono::Duration::minutes(14));
        app.get("/api/v1/me", &token).expect(200);
        app.advance(chrono::Duration::minutes(2));
        let r = app.get("/api/v1/me", &token).expect(401);
        assert!(r.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")));
    }

    fn an_access_token_lives_by_the_servers_clock_not_the_machines(app) {
        // A server whose clock reads a day behind the machine's (the
        // tests' clock here) still honours the tokens it signs, for fifteen
        // minutes of its own time.
        app.seed_demo();
        app.advance(chrono::Duration::days(-1));
        let token = app.login("researcher");
        let r = app.get("/api/v1/me", &token).expect(200);
        assert_eq!(r.body["user"]["username"], "researcher");
        app.advance(chrono::Duration::minutes(16));
        let r = app.get("/api/v1/me", &token).expect(401);
        assert!(r.body["detail"].as_str().is_some_and(|d| d.contains("expired")), "{}", r.text);
    }

    fn a_deactivated_account_cannot_sign_in_and_its_sessions_end(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let victim = app.sign_in("guest", DEMO_PASSWORD).expect(200);
        let access = victim.body["access_token"].as_str().unwrap_or_default().to_owned();
        let me = app.get("/api/v1/me", &access).expect(200);
        let id = me.body["user"]["id"].as_i64().unwrap_or_default();
        app.patch(&format!("/api/v1/users/{id}"), &admin, &json!({"active": false})).expect(200);
        app.get("/api/v1/me", &access).expect(401);
        app.sign_in("guest", DEMO_PASSWORD).expect(400);
    }

    fn a_user_changes_their_own_password_only_with_the_current_one(app) {
        app.seed_demo();
        let token = app.login("researcher");
        let id = app.get("/api/v1/me", &token).body["user"]["id"].as_i64().unwrap_or_default();
        let path = format!("/api/v1/users/{id}");
        let r = app.patch(&path, &token, &json!({"password": "a much better passphrase", "current_password": "wrong"})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/current_password");
        app.patch(&path, &token, &json!({"password": "a much better passphrase", "current_password": DEMO_PASSWORD})).expect(200);
        app.sign_in("researcher", DEMO_PASSWORD).expect(400);
        app.sign_in("researcher", "a much better passphrase").expect(200);
        // Roles are not one's own to change.
        let token = app.login_with("researcher", "a much better passphrase");
        app.patch(&path, &token, &json!({"roles": ["platform_admin"]})).expect(403);
    }
}
