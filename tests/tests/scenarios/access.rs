//! The permission matrix of DESIGN.md §1: every role × operation × own or
//! foreign object, over HTTP, on fresh objects for each case.

use crate::fixtures::{create, instrument_body, lab_body};
use labshare_tests::{both_backends, TestApp};
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};

const ROLES: [&str; 7] = [
    "leader",
    "admin",
    "regulator",
    "unit1",
    "manager1",
    "researcher",
    "guest",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    CreateLab,
    UpdateLab,
    CreateInstrument,
    UpdateInstrument,
    SetInstrumentStatus,
    ReadUnlistedInstrument,
    SubmitListing,
    ApproveListing,
    CreateUser,
    ReadUser,
    ListUsers,
    ReadAudit,
    CreateInstitution,
    ListingOverdue,
    UpdateUser,
    RejectListing,
    UpdateInstitution,
    AssignManagers,
    ReadListedInternal,
}

/// Who may, for an object of the actor's own institution and of another one.
/// Written out by hand from DESIGN.md §1, not derived from the code.
fn expected(op: Op) -> (&'static [&'static str], &'static [&'static str]) {
    use Op::*;
    match op {
        CreateLab | UpdateLab | CreateInstrument | UpdateInstrument | SubmitListing | CreateUser | UpdateUser
        | AssignManagers => (&["admin", "unit1"], &["admin"]),
        SetInstrumentStatus => (&["admin", "unit1", "manager1"], &["admin"]),
        ReadUnlistedInstrument => (&ROLES, &["leader", "admin", "regulator"]),
        ApproveListing | RejectListing | UpdateInstitution => (&["admin"], &["admin"]),
        ReadListedInternal => (&ROLES, &["leader", "admin", "regulator"]),
        ReadUser => (&["leader", "admin", "unit1"], &["leader", "admin"]),
        ListUsers => (&["leader", "admin", "unit1"], &["leader", "admin", "unit1"]),
        ReadAudit => (&["leader", "admin", "regulator"], &["leader", "admin", "regulator"]),
        CreateInstitution => (&["admin"], &["admin"]),
        ListingOverdue => (
            &["leader", "admin", "regulator", "unit1"],
            &["leader", "admin", "regulator", "unit1"],
        ),
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", SEQ.fetch_add(1, Ordering::SeqCst))
}

struct World {
    admin: String,
    first: i64,
    second: i64,
    manager1: i64,
}

/// Performs `op` as `token` on fresh objects of `institution`; returns the status.
fn perform(app: &TestApp, w: &World, op: Op, token: &str, actor: &str, institution: i64) -> u16 {
    use Op::*;
    let admin = w.admin.as_str();
    let lab = || create(app, admin, "/api/v1/labs", &lab_body(institution, &unique("实验室")));
    let instrument = || create(app, admin, "/api/v1/instruments", &instrument_body(lab(), &unique("A")));
    match op {
        CreateLab => {
            app.post("/api/v1/labs", token, &lab_body(institution, &unique("实验室")))
                .status
        }
        UpdateLab => {
            app.patch(
                &format!("/api/v1/labs/{}", lab()),
                token,
                &json!({"address": "新地址 1号"}),
            )
            .status
        }
        CreateInstrument => {
            app.post("/api/v1/instruments", token, &instrument_body(lab(), &unique("B")))
                .status
        }
        UpdateInstrument => {
            app.patch(
                &format!("/api/v1/instruments/{}", instrument()),
                token,
                &json!({"model": "X-2"}),
            )
            .status
        }
        SetInstrumentStatus => {
            let id = instrument();
            if actor == "manager1" && institution == w.first {
                app.put(
                    &format!("/api/v1/instruments/{id}/managers"),
                    admin,
                    &json!({"user_ids": [w.manager1]}),
                )
                .expect(200);
            }
            app.patch(
                &format!("/api/v1/instruments/{id}"),
                token,
                &json!({"status": "faulty"}),
            )
            .status
        }
        ReadUnlistedInstrument => app.get(&format!("/api/v1/instruments/{}", instrument()), token).status,
        SubmitListing => {
            app.post(
                &format!("/api/v1/instruments/{}/listing/submit", instrument()),
                token,
                &json!({}),
            )
            .status
        }
        ApproveListing => {
            let id = instrument();
            app.post(&format!("/api/v1/instruments/{id}/listing/submit"), admin, &json!({}))
                .expect(200);
            app.post(&format!("/api/v1/instruments/{id}/listing/approve"), token, &json!({}))
                .status
        }
        CreateUser => {
            app.post(
                "/api/v1/users",
                token,
                &json!({
                    "institution_id": institution, "username": unique("u"), "password": "a long enough pass",
                    "display_name": "新用户", "roles": ["researcher"]
                }),
            )
            .status
        }
        ReadUser => {
            let id = create(
                app,
                admin,
                "/api/v1/users",
                &json!({
                    "institution_id": institution, "username": unique("c"), "password": "a long enough pass",
                    "display_name": "同事", "roles": ["researcher"]
                }),
            );
            app.get(&format!("/api/v1/users/{id}"), token).status
        }
        ListUsers => app.get("/api/v1/users", token).status,
        ReadAudit => app.get("/api/v1/audit-events", token).status,
        CreateInstitution => {
            let org = format!("49{:07}", SEQ.fetch_add(1, Ordering::SeqCst));
            app.post(
                "/api/v1/institutions",
                token,
                &crate::fixtures::institution_body(&unique("医院"), &org),
            )
            .status
        }
        ListingOverdue => app.get("/api/v1/instruments/listing-overdue", token).status,
        UpdateUser => {
            let id = create(
                app,
                admin,
                "/api/v1/users",
                &json!({
                    "institution_id": institution, "username": unique("d"), "password": "a long enough pass",
                    "display_name": "同事", "roles": ["researcher"]
                }),
            );
            app.patch(
                &format!("/api/v1/users/{id}"),
                token,
                &json!({"password": "taken over, maybe"}),
            )
            .status
        }
        RejectListing => {
            let id = instrument();
            app.post(&format!("/api/v1/instruments/{id}/listing/submit"), admin, &json!({}))
                .expect(200);
            app.post(
                &format!("/api/v1/instruments/{id}/listing/reject"),
                token,
                &json!({"reason": "不全"}),
            )
            .status
        }
        UpdateInstitution => {
            app.patch(
                &format!("/api/v1/institutions/{institution}"),
                token,
                &json!({"has_mature_lab": true}),
            )
            .status
        }
        AssignManagers => {
            app.put(
                &format!("/api/v1/instruments/{}/managers", instrument()),
                token,
                &json!({"user_ids": []}),
            )
            .status
        }
        ReadListedInternal => {
            let id = instrument();
            app.patch(
                &format!("/api/v1/instruments/{id}"),
                admin,
                &json!({"sharing_scope": "internal"}),
            )
            .expect(200);
            app.post(&format!("/api/v1/instruments/{id}/listing/submit"), admin, &json!({}))
                .expect(200);
            app.post(&format!("/api/v1/instruments/{id}/listing/approve"), admin, &json!({}))
                .expect(200);
            app.get(&format!("/api/v1/instruments/{id}"), token).status
        }
    }
}

fn run_matrix(app: &TestApp) {
    app.seed_demo();
    let admin = app.login("admin");
    let first = app.institution_id(&admin, "南宁市第一人民医院");
    let second = app.institution_id(&admin, "南宁市第二人民医院");
    let manager1 = app.get("/api/v1/me", &app.login("manager1")).body["user"]["id"]
        .as_i64()
        .unwrap_or_default();
    let w = World {
        admin: admin.clone(),
        first,
        second,
        manager1,
    };
    let mut failures = Vec::new();
    let mut cases = 0;
    for actor in ROLES {
        let token = app.login(actor);
        let own = app.get("/api/v1/me", &token).body["institution"]["id"]
            .as_i64()
            .unwrap_or_default();
        let foreign = if own == w.second { w.first } else { w.second };
        for op in [
            Op::CreateLab,
            Op::UpdateLab,
            Op::CreateInstrument,
            Op::UpdateInstrument,
            Op::SetInstrumentStatus,
            Op::ReadUnlistedInstrument,
            Op::SubmitListing,
            Op::ApproveListing,
            Op::CreateUser,
            Op::ReadUser,
            Op::ListUsers,
            Op::ReadAudit,
            Op::CreateInstitution,
            Op::ListingOverdue,
            Op::UpdateUser,
            Op::RejectListing,
            Op::UpdateInstitution,
            Op::AssignManagers,
            Op::ReadListedInternal,
        ] {
            let (own_ok, foreign_ok) = expected(op);
            for (whose, institution, allowed) in [("own", own, own_ok), ("foreign", foreign, foreign_ok)] {
                cases += 1;
                let status = perform(app, &w, op, &token, actor, institution);
                let should = allowed.contains(&actor);
                let ok = if should {
                    (200..300).contains(&status)
                } else {
                    status == 403 || status == 404
                };
                // Another unit's unpublished instrument must not even be admitted to exist.
                let hidden_ok =
                    !matches!(op, Op::ReadUnlistedInstrument | Op::ReadListedInternal) || should || status == 404;
                if !ok || !hidden_ok {
                    failures.push(format!(
                        "{actor} {op:?} {whose}: got {status}, expected {}",
                        if should { "2xx" } else { "403/404" }
                    ));
                }
            }
        }
    }
    assert!(cases >= 260, "{cases} cases");
    assert!(
        failures.is_empty(),
        "permission matrix mismatches:\n{}",
        failures.join("\n")
    );
}

both_backends! {
    fn every_role_may_do_exactly_what_the_measures_allow_on_own_and_foreign_objects(app) {
        run_matrix(&app);
    }

    fn a_unit_admin_cannot_take_over_an_account_with_a_role_it_cannot_grant(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let first = app.institution_id(&admin, "南宁市第一人民医院");
        let auditor = create(&app, &admin, "/api/v1/users", &json!({
            "institution_id": first, "username": "yy-auditor", "password": "auditor passphrase",
            "display_name": "院内审计", "roles": ["regulator"]
        }));
        let path = format!("/api/v1/users/{auditor}");
        app.patch(&path, &unit, &json!({"password": "taken over now"})).expect(403);
        app.patch(&path, &unit, &json!({"active": false})).expect(403);
        app.sign_in("yy-auditor", "auditor passphrase").expect(200);
    }

    fn the_last_platform_administrator_cannot_be_removed(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let me = app.get("/api/v1/me", &admin).body["user"]["id"].as_i64().unwrap_or_default();
        let r = app.patch(&format!("/api/v1/users/{me}"), &admin, &json!({"active": false})).expect(409);
        assert_eq!(r.problem_type(), "/problems/last-platform-admin");
        app.patch(&format!("/api/v1/users/{me}"), &admin, &json!({"roles": ["regulator"]})).expect(409);
        let commission = app.institution_id(&admin, "南宁市卫生健康委员会");
        create(&app, &admin, "/api/v1/users", &json!({
            "institution_id": commission, "username": "admin2", "password": "second admin pass",
            "display_name": "平台办 王工", "roles": ["platform_admin"]
        }));
        app.patch(&format!("/api/v1/users/{me}"), &admin, &json!({"roles": ["regulator"]})).expect(200);
    }

    fn no_institution_becomes_or_stops_being_the_commission(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let first = app.institution_id(&admin, "南宁市第一人民医院");
        let commission = app.institution_id(&admin, "南宁市卫生健康委员会");
        let r = app.patch(&format!("/api/v1/institutions/{first}"), &admin, &json!({"kind": "commission"})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/kind");
        app.patch(&format!("/api/v1/institutions/{commission}"), &admin, &json!({"kind": "hospital"})).expect(422);
        let mut body = crate::fixtures::institution_body("另一个委员会", "498599999");
        body["kind"] = json!("commission");
        app.post("/api/v1/institutions", &admin, &body).expect(422);
    }

    fn a_unit_admin_cannot_grant_commission_roles_or_act_in_another_unit(app) {
        app.seed_demo();
        let admin = app.login("admin");
        let unit = app.login("unit1");
        let first = app.institution_id(&admin, "南宁市第一人民医院");
        let body = |roles: serde_json::Value, inst: i64| json!({
            "institution_id": inst, "username": unique("x"), "password": "a long enough pass", "display_name": "x", "roles": roles
        });
        app.post("/api/v1/users", &unit, &body(json!(["regulator"]), first)).expect(403);
        app.post("/api/v1/users", &unit, &body(json!(["instrument_manager"]), first)).expect(201);
        let r = app.post("/api/v1/users", &admin, &body(json!(["platform_admin"]), first)).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/roles/0");
        let users = app.get("/api/v1/users?limit=200", &unit).expect(200);
        assert!(users.body["items"].as_array().is_some_and(|a| a.iter().all(|u| u["institution_id"] == first)));
    }
}
