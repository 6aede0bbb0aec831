//! Problem documents speak Chinese to clients that prefer it
//! (`Accept-Language`), English otherwise; the stable codes never change.

use crate::fixtures::institution_body;
use labshare_tests::{both_backends, Resp, TestApp};
use reqwest::Method;
use serde_json::json;

const ZH: &str = "zh-CN,zh;q=0.9";

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// A request with an `Accept-Language` (none when `lang` is empty).
fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
    lang: &str,
    extra: &[(&str, &str)],
) -> Resp {
    let mut headers: Vec<(&str, &str)> = extra.to_vec();
    if !lang.is_empty() {
        headers.push(("Accept-Language", lang));
    }
    match token {
        Some(t) => app.send_with(method, path, t, body, &headers),
        None => {
            let mut req = app.client.request(method, format!("{}{path}", app.base));
            for (name, value) in headers {
                req = req.header(name, value);
            }
            let res = req.send().unwrap_or_else(|e| panic!("{path}: {e}"));
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let text = res.text().unwrap_or_default();
            Resp {
                status,
                headers,
                body: serde_json::from_str(&text).unwrap_or_default(),
                text,
            }
        }
    }
}

#[track_caller]
fn in_language(r: &Resp, status: u16, kind: &str, language: &str, title: &str, detail: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.problem_type(), format!("/problems/{kind}"));
    assert_eq!(r.body["status"], status);
    assert_eq!(r.body["title"], title, "{}", r.text);
    assert_eq!(r.body["detail"], detail, "{}", r.text);
    assert_eq!(r.header("content-language"), Some(language));
    assert!(
        r.headers
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap_or("").contains("Accept-Language")),
        "{:?}",
        r.headers
    );
    let chinese = has_cjk(r.body["title"].as_str().unwrap_or("")) && has_cjk(r.body["detail"].as_str().unwrap_or(""));
    assert_eq!(chinese, language == "zh-CN", "{}", r.text);
}

both_backends! {
    fn problems_are_in_chinese_when_the_client_prefers_it(app) {
        app.seed_demo();
        let admin = app.login("admin");

        // 404
        let missing = |lang: &str| send(&app, Method::GET, "/api/v1/instruments/999999", Some(&admin), None, lang, &[]);
        in_language(&missing(ZH), 404, "not-found", "zh-CN", "未找到", "资源不存在，或您无权查看");
        in_language(&missing("zh-Hans"), 404, "not-found", "zh-CN", "未找到", "资源不存在，或您无权查看");
        for lang in ["", "en-US,zh;q=0.5", "en;q=0.9,zh;q=0.8"] {
            in_language(&missing(lang), 404, "not-found", "en", "Not found", "no such resource, or not visible to you");
        }

        // 422: the field problem keeps its pointer and rule.
        let bad = institution_body("南宁市第九人民医院", "K0000001X");
        let mut bad = bad;
        bad["colour"] = json!("red");
        let invalid = |lang: &str| send(&app, Method::POST, "/api/v1/institutions", Some(&admin), Some(&bad), lang, &[]);
        let zh = invalid(ZH);
        in_language(&zh, 422, "validation", "zh-CN", "输入无效", "1 个字段违反规则");
        let en = invalid("en-US,zh;q=0.5");
        in_language(&en, 422, "validation", "en", "Invalid input", "1 field breaks a rule");
        assert_eq!(zh.body["errors"], en.body["errors"]);
        assert_eq!(zh.body["errors"][0]["rule"], "unknown_field");

        // 401
        let anonymous = |lang: &str| send(&app, Method::GET, "/api/v1/me", None, None, lang, &[]);
        in_language(&anonymous(ZH), 401, "unauthorized", "zh-CN", "需要身份验证", "请发送 `Authorization: Bearer <访问令牌>`");
        in_language(&anonymous(""), 401, "unauthorized", "en", "Authentication required", "send `Authorization: Bearer <access token>`");

        // 409: a duplicate names the field in both languages.
        let first = institution_body("南宁市第九人民医院", "K0000001X");
        app.post("/api/v1/institutions", &admin, &first).expect(201);
        let same_name = institution_body("南宁市第九人民医院", "K0000002X");
        let dup = |lang: &str| send(&app, Method::POST, "/api/v1/institutions", Some(&admin), Some(&same_name), lang, &[]);
        let zh = dup(ZH);
        in_language(&zh, 409, "duplicate", "zh-CN", "冲突", "已有其他记录使用了该 name");
        assert_eq!(zh.body["errors"][0]["pointer"], "/name");
        in_language(&dup(""), 409, "duplicate", "en", "Conflict", "another record already has this name");

        // A refusal by a rule of the measures.
        let me = app.get("/api/v1/me", &admin).body["user"]["id"].as_i64().unwrap_or_default();
        let last = |lang: &str| send(&app, Method::PATCH, &format!("/api/v1/users/{me}"), Some(&admin), Some(&json!({"active": false})), lang, &[]);
        in_language(&last(ZH), 409, "last-platform-admin", "zh-CN", "冲突", "这是最后一位在任的平台管理员；请先任命另一位");
        in_language(
            &last("en"), 409, "last-platform-admin", "en", "Conflict",
            "this is the last active platform administrator; appoint another one first",
        );

        // The idempotency refusals speak the client's language too.
        let other = institution_body("南宁市第十人民医院", "K0000003X");
        send(&app, Method::POST, "/api/v1/institutions", Some(&admin), Some(&other), "", &[("Idempotency-Key", "k1")]).expect(201);
        let r = send(&app, Method::POST, "/api/v1/institutions", Some(&admin), Some(&first), ZH, &[("Idempotency-Key", "k1")]);
        in_language(
            &r, 422, "idempotency-key-reused", "zh-CN", "幂等键已被其他请求使用",
            "该 Idempotency-Key 已用于另一个请求（方法、路径或请求体不同）；请为新请求使用新的键",
        );
        assert_eq!(r.body["errors"][0]["parameter"], "Idempotency-Key");
    }
}
