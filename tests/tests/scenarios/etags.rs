use crate::fixtures::{create, institution_body, instrument_body, lab_of};
use labshare_tests::{both_backends, Resp, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

fn etag(r: &Resp) -> String {
    let tag = r.header("etag").unwrap_or_default().to_owned();
    assert!(
        tag.len() > 2 && tag.starts_with('"') && tag.ends_with('"'),
        "not a strong ETag: {tag:?}"
    );
    tag
}

fn get_if_none_match(app: &TestApp, path: &str, token: &str, tag: &str) -> Resp {
    app.send_with(Method::GET, path, token, None, &[("If-None-Match", tag)])
}

fn patch_if_match(app: &TestApp, path: &str, token: &str, body: &Value, tag: &str) -> Resp {
    app.send_with(Method::PATCH, path, token, Some(body), &[("If-Match", tag)])
}

both_backends! {
    fn a_read_answers_an_etag_and_if_none_match_answers_304(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let id = create(&app, &admin, "/api/v1/institutions", &institution_body("南宁市第九人民医院", "MA0000091"));
        let path = format!("/api/v1/institutions/{id}");
        let r = app.get(&path, &admin).expect(200);
        let tag = etag(&r);
        assert_eq!(app.get(&path, &admin).expect(200).header("etag"), Some(tag.as_str()), "stable across reads");

        let r = get_if_none_match(&app, &path, &admin, &tag).expect(304);
        assert_eq!(r.header("etag"), Some(tag.as_str()));
        assert!(r.text.is_empty());
        get_if_none_match(&app, &path, &admin, &format!("\"other\", W/{tag}")).expect(304);
        get_if_none_match(&app, &path, &admin, "*").expect(304);
        let r = get_if_none_match(&app, &path, &admin, "\"other\"").expect(200);
        assert_eq!(r.body["id"], id);

        // Every single-resource read is tagged.
        let unit = app.login("unit1");
        let lab = lab_of(&app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
        let instrument = create(&app, &unit, "/api/v1/instruments", &instrument_body(lab, "ETAG-1"));
        let me = app.get("/api/v1/me", &unit).body["user"]["id"].as_i64().unwrap_or_default();
        for p in [
            format!("/api/v1/labs/{lab}"),
            format!("/api/v1/instruments/{instrument}"),
            format!("/api/v1/users/{me}"),
            "/api/v1/policy".to_owned(),
        ] {
            let tag = etag(&app.get(&p, &unit).expect(200));
            get_if_none_match(&app, &p, &unit, &tag).expect(304);
        }
    }

    fn a_stale_if_match_is_refused_and_a_current_one_applies(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let id = create(&app, &admin, "/api/v1/institutions", &institution_body("南宁市第九人民医院", "MA0000091"));
        let path = format!("/api/v1/institutions/{id}");
        let first = etag(&app.get(&path, &admin).expect(200));
        let r = patch_if_match(&app, &path, &admin, &json!({"name": "南宁市第九医院"}), &first).expect(200);
        let second = etag(&r);
        assert_ne!(first, second);
        assert_eq!(app.get(&path, &admin).header("etag"), Some(second.as_str()), "the PATCH answers the new ETag");

        // The first tag is stale now: 412, and nothing changes.
        let events = app.count("audit_events");
        let r = patch_if_match(&app, &path, &admin, &json!({"name": "别的名字"}), &first).expect(412);
        assert_eq!(r.problem_type(), "/problems/precondition-failed");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let r = app.get(&path, &admin).expect(200);
        assert_eq!(r.body["name"], "南宁市第九医院");
        assert_eq!(etag(&r), second);
        assert_eq!(app.count("audit_events"), events);
        // A weak tag never matches a strong comparison.
        patch_if_match(&app, &path, &admin, &json!({"name": "别的名字"}), &format!("W/{second}")).expect(412);

        // `*` matches any existing resource; without If-Match the change applies as before.
        patch_if_match(&app, &path, &admin, &json!({"has_mature_lab": false}), "*").expect(200);
        app.patch(&path, &admin, &json!({"has_mature_lab": true})).expect(200);
        patch_if_match(&app, "/api/v1/institutions/999999", &admin, &json!({"has_mature_lab": true}), "*").expect(404);

        // The other changes honour If-Match too.
        let unit = app.login("unit1");
        let lab = lab_of(&app, &unit, app.institution_id(&admin, "南宁市第一人民医院"));
        let instrument = create(&app, &unit, "/api/v1/instruments", &instrument_body(lab, "ETAG-2"));
        let me = app.get("/api/v1/me", &unit).body["user"]["id"].as_i64().unwrap_or_default();
        for (p, body) in [
            (format!("/api/v1/labs/{lab}"), json!({"address": "南宁市青秀区民族大道2号"})),
            (format!("/api/v1/instruments/{instrument}"), json!({"model": "FACSLyric 2"})),
            (format!("/api/v1/users/{me}"), json!({"display_name": "单位管理员"})),
        ] {
            let tag = etag(&app.get(&p, &unit).expect(200));
            patch_if_match(&app, &p, &unit, &body, "\"stale\"").expect(412);
            let r = patch_if_match(&app, &p, &unit, &body, &tag).expect(200);
            assert_ne!(etag(&r), tag, "{p}");
        }

        // The policy: PUT with If-Match.
        let r = app.get("/api/v1/policy", &admin).expect(200);
        let tag = etag(&r);
        let doc = r.body["policy"].clone();
        let put = |tag: &str| app.send_with(Method::PUT, "/api/v1/policy", &admin, Some(&doc), &[("If-Match", tag)]);
        put("\"stale\"").expect(412);
        let r = put(&tag).expect(200);
        let new = etag(&r);
        assert_ne!(new, tag);
        assert_eq!(app.get("/api/v1/policy", &admin).header("etag"), Some(new.as_str()));
        put(&tag).expect(412);
    }

    fn of_two_concurrent_changes_with_the_same_if_match_exactly_one_wins(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let id = create(&app, &admin, "/api/v1/institutions", &institution_body("南宁市第九人民医院", "MA0000091"));
        let path = format!("/api/v1/institutions/{id}");
        for round in 0..4 {
            let tag = etag(&app.get(&path, &admin).expect(200));
            let barrier = std::sync::Barrier::new(2);
            let statuses: Vec<u16> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..2)
                    .map(|n| {
                        let (app, admin, path, tag, barrier) = (&app, &admin, &path, &tag, &barrier);
                        s.spawn(move || {
                            let body = json!({"name": format!("南宁市第九人民医院{round}-{n}")});
                            barrier.wait();
                            patch_if_match(app, path, admin, &body, tag).status
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
            });
            let mut sorted = statuses.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![200, 412], "round {round}: {statuses:?}");
        }
    }
}
