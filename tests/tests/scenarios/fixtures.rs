//! Objects the scenarios create over the API.

use labshare_tests::TestApp;
use serde_json::{json, Value};

/// A valid credit code for organisation code `org` (9 characters).
pub fn credit_code(org: &str) -> String {
    labshare_domain::codes::CreditCode::with_check_digit(&format!("12450100{org}"))
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string()
}

pub fn institution_body(name: &str, org: &str) -> Value {
    json!({"name": name, "credit_code": credit_code(org), "kind": "hospital", "membership": "member", "has_mature_lab": true})
}

pub fn lab_body(institution_id: i64, name: &str) -> Value {
    json!({
        "institution_id": institution_id, "name": name, "address": "南宁市青秀区民族大道1号",
        "biosafety_level": "BSL2", "accreditation": "cnas", "contact_name": "王工", "contact_phone": "0771-5550000"
    })
}

pub fn instrument_body(lab_id: i64, asset: &str) -> Value {
    json!({
        "lab_id": lab_id, "name_zh": "流式细胞仪", "name_en": "Flow cytometer", "category_code": "031005",
        "model": "FACSLyric", "manufacturer": "BD Biosciences", "country_of_origin": "美国",
        "asset_number": asset, "original_value": "1250000.00", "purchase_date": "2021-03-01",
        "commissioning_date": "2021-05-10", "technical_specs": "3激光12色", "functions": "细胞表型分析",
        "service_content": "淋巴细胞亚群检测", "disciplines": ["免疫学"], "contact_name": "王工",
        "contact_phone": "0771-5550000", "sharing_scope": "system", "service_modes": ["assisted", "self_operated"]
    })
}

/// Creates an object and returns its id.
#[track_caller]
pub fn create(app: &TestApp, token: &str, path: &str, body: &Value) -> i64 {
    let r = app.post(path, token, body).expect(201);
    r.body["id"].as_i64().unwrap_or_else(|| panic!("no id: {}", r.text))
}

/// The first lab of an institution.
pub fn lab_of(app: &TestApp, token: &str, institution: i64) -> i64 {
    let r = app
        .get(&format!("/api/v1/labs?institution_id={institution}"), token)
        .expect(200);
    r.body["items"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no lab: {}", r.text))
}
