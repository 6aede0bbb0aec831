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

/// A free port on the loopback interface.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}")).port()
}

/// One HTTP/1.1 exchange over a fresh connection; the whole answer as text.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits() {
    use diesel::connection::SimpleConnection;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("shutdown.db");
    assert!(labshare(&db, &["seed-demo"], &[], "").status.success());
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_labshare"))
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", &db)
        .env("LABSHARE_BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let started = Instant::now();
    while http(port, "GET", "/readyz", "").map_or(true, |a| !a.starts_with("HTTP/1.1 200")) {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Hold the database's write lock so that a sign-in (a write) waits inside the server.
    let mut lock = DbUrl::parse(&db.to_string_lossy())
        .establish()
        .unwrap_or_else(|e| panic!("{e}"));
    lock.batch_execute("BEGIN IMMEDIATE")
        .unwrap_or_else(|e| panic!("lock: {e}"));
    let body = format!(
        r#"{{"grant_type":"password","username":"researcher","password":"{}"}}"#,
        labshare_api::seed::DEMO_PASSWORD
    );
    let in_flight = std::thread::spawn(move || http(port, "POST", "/api/v1/auth/token", &body));
    std::thread::sleep(Duration::from_millis(700));

    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(term.success());
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        server.try_wait().unwrap_or_else(|e| panic!("{e}")).is_none(),
        "the server exited with a request in flight"
    );

    lock.batch_execute("ROLLBACK").unwrap_or_else(|e| panic!("unlock: {e}"));
    let answer = in_flight
        .join()
        .unwrap_or_else(|_| panic!("client thread"))
        .unwrap_or_else(|e| panic!("the request in flight was cut off: {e}"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("access_token"), "{answer}");

    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break status;
        }
        assert!(stopping.elapsed() < Duration::from_secs(20), "the server did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
}

#[test]
fn seed_scale_loads_a_small_dataset_once_and_checks_its_arguments() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("scale.db");
    let first = labshare(&db, &["seed", "--scale", "0.01", "--seed", "3"], &[], "");
    assert!(first.status.success(), "{}", text(&first.stderr));
    let out = text(&first.stdout);
    assert!(out.contains("usage_records"), "{out}");
    assert!(out.contains("digest: "), "{out}");
    let pool = connect_pool(&DbUrl::parse(&db.to_string_lossy()), 1).unwrap_or_else(|e| panic!("{e}"));
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    let cred = users::credentials(&mut conn, "admin")
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no admin account"));
    assert!(labshare_api::auth::verify_password(
        labshare_api::seed::DEMO_PASSWORD,
        &cred.password_hash
    ));
    let chain = labshare_persistence::audit::verify(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    assert!(chain.first_broken.is_none());

    let again = labshare(&db, &["seed", "--scale", "0.01"], &[], "");
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already holds data"),
        "{}",
        text(&again.stderr)
    );

    let other = dir.path().join("other.db");
    for args in [
        &["seed"][..],
        &["seed", "--scale", "0"],
        &["seed", "--scale", "lots"],
        &["seed", "--scale", "1", "--year", "1999"],
        &["seed", "--scale", "1", "--colour", "red"],
    ] {
        let out = labshare(&other, args, &[], "");
        assert!(!out.status.success(), "{args:?} was accepted");
    }
}
