//! The published contract: `openapi.yaml` is what the server serves, and
//! every operation is documented the way integrators need.

use labshare_tests::TestApp;
use reqwest::Method;
use serde_json::Value;

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        Some(name) => &doc["components"]["schemas"][name],
        None => schema,
    }
}

/// Whether a schema gives an example for every value (directly or through its parts).
fn has_examples(doc: &Value, schema: &Value, depth: usize) -> bool {
    let s = resolve(doc, schema);
    if depth > 8 || s.get("example").is_some() || s.get("examples").is_some() || s.get("enum").is_some() {
        return true;
    }
    if let Some(all) = s["oneOf"]
        .as_array()
        .or(s["allOf"].as_array())
        .or(s["anyOf"].as_array())
    {
        return all
            .iter()
            .all(|p| p["type"] == "null" || has_examples(doc, p, depth + 1));
    }
    if let Some(items) = s.get("items") {
        return has_examples(doc, items, depth + 1);
    }
    match s["properties"].as_object() {
        Some(props) => props.values().all(|p| has_examples(doc, p, depth + 1)),
        None => s["type"] == "object" && s.get("additionalProperties").is_none() && depth > 0,
    }
}

#[test]
fn the_published_openapi_yaml_is_what_the_server_serves() {
    let app = TestApp::sqlite();
    let served = app
        .request(Method::GET, "/api/openapi.json", None, None)
        .expect(200)
        .body;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let published: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("openapi.yaml: {e}"));
    assert!(
        published == served,
        "openapi.yaml differs from the served document: run `make openapi`"
    );
}

/// Every `$ref` in `value`, wherever it is.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r);
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_in_the_contract_resolves() {
    let doc = serde_json::to_value(labshare_api::openapi::document()).unwrap_or_default();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 100, "the document has references: {}", found.len());
    let dangling: Vec<&str> = found
        .into_iter()
        .filter(|r| {
            let pointer = r.strip_prefix('#').unwrap_or(r);
            doc.pointer(pointer).is_none()
        })
        .collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
}

#[test]
fn every_operation_is_documented_for_integrators() {
    let doc = serde_json::to_value(labshare_api::openapi::document()).unwrap_or_default();
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let mut problems = Vec::new();
    let mut operation_ids = std::collections::HashSet::new();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() >= 18, "{} paths", paths.len());
    for (path, item) in &paths {
        for (method, op) in item.as_object().into_iter().flatten() {
            let name = format!("{} {path}", method.to_uppercase());
            let id = op["operationId"].as_str().unwrap_or_default();
            if id.is_empty() || !operation_ids.insert(id.to_owned()) {
                problems.push(format!("{name}: missing or repeated operationId"));
            }
            if op["tags"].as_array().is_none_or(|t| t.is_empty()) {
                problems.push(format!("{name}: no tag"));
            }
            if op["summary"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{name}: no summary"));
            }
            if op["description"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{name}: no description below the summary"));
            }
            if let Some(body) = op.get("requestBody") {
                let schema = &body["content"]["application/json"]["schema"];
                if !has_examples(&doc, schema, 0) {
                    problems.push(format!("{name}: request schema without examples"));
                }
            }
            let responses = op["responses"].as_object().cloned().unwrap_or_default();
            let mut has_success = false;
            for (status, response) in &responses {
                if status.starts_with('2') {
                    has_success = true;
                    if let Some(schema) = response["content"]["application/json"].get("schema") {
                        if !has_examples(&doc, schema, 0) {
                            problems.push(format!("{name}: {status} schema without examples"));
                        }
                    }
                } else if status.starts_with('3') {
                    // A redirection or 304 carries no body.
                    if response.get("content").is_some() {
                        problems.push(format!("{name}: {status} has a body"));
                    }
                } else if !response["content"]["application/problem+json"]["schema"]["$ref"]
                    .as_str()
                    .is_some_and(|r| r.ends_with("/Problem"))
                    && path.starts_with("/api/")
                {
                    problems.push(format!("{name}: {status} is not a Problem"));
                }
            }
            if !has_success || !responses.contains_key("500") {
                problems.push(format!("{name}: success or error responses missing"));
            }
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured && !(responses.contains_key("401") && responses.contains_key("403")) {
                problems.push(format!("{name}: secured without 401/403"));
            }
            if op.get("requestBody").is_some() && !responses.contains_key("422") {
                problems.push(format!("{name}: body without 422"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn swagger_ui_is_served_offline() {
    let app = TestApp::sqlite();
    let r = app.request(Method::GET, "/docs/", None, None).expect(200);
    assert!(r.text.contains("swagger-ui"), "{}", &r.text[..r.text.len().min(300)]);
    let r = app
        .request(Method::GET, "/docs/swagger-ui-bundle.js", None, None)
        .expect(200);
    assert!(r.text.len() > 100_000);
}
