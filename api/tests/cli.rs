//! The `labshare` binary: its commands and its refusal to run unsafely.

use labshare_persistence::{connect_pool, users, DbUrl};
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn labshare(db: &std::path::Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labshare"));
    cmd.args(args)
        .env_clear()
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn: {e}"));
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .unwrap_or_else(|e| panic!("stdin: {e}"));
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("wait: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn admin_create_reads_the_password_from_stdin_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("cli.db");
    let out = labshare(
        &db,
        &["admin", "create", "--username", "root"],
        &[],
        "a strong bootstrap pass\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pool = connect_pool(&DbUrl::parse(&db.to_string_lossy()), 1).unwrap_or_else(|e| panic!("{e}"));
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    let cred = users::credentials(&mut conn, "root")
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no account"));
    assert!(cred.password_hash.starts_with("$argon2id$"));
    assert!(labshare_api::auth::verify_password(
        "a strong bootstrap pass",
        &cred.password_hash
    ));
    let actor = users::actor(&mut conn, cred.id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(actor.roles, vec![labshare_domain::access::Role::PlatformAdmin]);

    let again = labshare(
        &db,
        &["admin", "create", "--username", "root"],
        &[],
        "a strong bootstrap pass\n",
    );
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("taken"));
    let weak = labshare(&db, &["admin", "create", "--username", "other"], &[], "short\n");
    assert!(!weak.status.success());
    assert!(text(&weak.stderr).contains("password"));
}

#[test]
fn seed_demo_loads_once_and_prints_the_accounts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("seed.db");
    let first = labshare(&db, &["seed-demo"], &[], "");
    assert!(first.status.success(), "{}", text(&first.stderr));
    let out = text(&first.stdout);
    for account in [
        "leader",
        "admin",
        "regulator",
        "unit1",
        "manager1",
        "researcher",
        "guest",
        labshare_api::seed::DEMO_PASSWORD,
    ] {
        assert!(out.contains(account), "{account} missing from:\n{out}");
    }
    let second = labshare(&db, &["seed-demo"], &[], "");
    assert!(second.status.success());
    assert!(text(&second.stdout).contains("not loaded again"));
}

#[test]
fn production_refuses_to_start_without_a_real_jwt_secret() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("prod.db");
    let missing = labshare(
        &db,
        &["serve"],
        &[("LABSHARE_ENV", "production"), ("LABSHARE_BIND", "127.0.0.1:0")],
        "",
    );
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("LABSHARE_JWT_SECRET"));
    let default = labshare(
        &db,
        &["serve"],
        &[
            ("LABSHARE_ENV", "production"),
            ("LABSHARE_JWT_SECRET", labshare_api::config::DEV_JWT_SECRET),
        ],
        "",
    );
    assert!(!default.status.success());
    assert!(!db.exists(), "nothing is created before the configuration is accepted");
}

#[test]
fn openapi_prints_the_document_and_unknown_commands_show_usage() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("x.db");
    let out = labshare(&db, &["openapi"], &[], "");
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("openapi: 3.1"));
    let bad = labshare(&db, &["frobnicate"], &[], "");
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("usage"));
}
