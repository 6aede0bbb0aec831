//! `labshare-bench`: loads the scale dataset, starts the release server and
//! drives it over loopback at concurrency 64, then does the same work
//! in-process through the functions the handlers call, on SQLite and
//! PostgreSQL. Prints one table and writes it as JSON.
//!
//! ```text
//! labshare-bench [--scale N] [--backend sqlite|postgres|both] [--seconds S]
//!                [--writes N] [--heavy-runs N] [--heavy-only true]
//!                [--server target/release/labshare] [--out bench-results]
//!                [--sqlite-file PATH] [--postgres-database NAME]
//! ```
//!
//! `--sqlite-file` keeps the SQLite database in PATH: loaded there when it
//! is new, measured as it is when it already holds a load of that scale
//! (a scale-16 load takes a quarter of an hour). `--postgres-database`
//! does the same with a PostgreSQL database of that name (created when
//! missing, never dropped); otherwise the run's own database is dropped.
//!
//! `make bench` builds both in release mode and runs this.

mod direct;
mod http;
mod prepare;
mod stats;

use labshare_persistence::{connect_pool, DbPool, DbUrl};
use serde_json::{json, Value};
use stats::Measure;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Requests in flight at once.
pub const CONCURRENCY: usize = 64;

/// The generated year of activity (`labshare seed` default).
pub const YEAR: i32 = labshare_api::scale::DEFAULT_YEAR;

#[derive(Debug, Clone)]
struct Options {
    scale: f64,
    backends: Vec<&'static str>,
    seconds: u64,
    writes: usize,
    heavy_runs: usize,
    /// Only the assessment and the report (for the growth measurements).
    heavy_only: bool,
    server: PathBuf,
    out: PathBuf,
    pg_admin: String,
    /// A SQLite file to load into, or to measure again when loaded.
    sqlite_file: Option<PathBuf>,
    /// A PostgreSQL database to load into, or to measure again when loaded.
    postgres_database: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        scale: 1.0,
        backends: vec!["sqlite", "postgres"],
        seconds: 10,
        writes: 1000,
        heavy_runs: 3,
        heavy_only: false,
        server: PathBuf::from("target/release/labshare"),
        out: PathBuf::from("bench-results"),
        pg_admin: std::env::var("BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
        sqlite_file: None,
        postgres_database: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut rest = args.as_slice();
    while let [flag, value, tail @ ..] = rest {
        let bad = || format!("{flag}: cannot use `{value}`");
        match flag.as_str() {
            "--scale" => o.scale = value.parse().ok().filter(|s: &f64| *s > 0.0).ok_or_else(bad)?,
            "--backend" => {
                o.backends = match value.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    "both" => vec!["sqlite", "postgres"],
                    _ => return Err(bad()),
                }
            }
            "--seconds" => o.seconds = value.parse().ok().filter(|s| *s > 0).ok_or_else(bad)?,
            "--writes" => o.writes = value.parse().ok().filter(|s| *s > 0).ok_or_else(bad)?,
            "--heavy-runs" => o.heavy_runs = value.parse().ok().filter(|s| *s > 0).ok_or_else(bad)?,
            "--heavy-only" => o.heavy_only = value.parse().map_err(|_| bad())?,
            "--server" => o.server = PathBuf::from(value),
            "--out" => o.out = PathBuf::from(value),
            "--sqlite-file" => o.sqlite_file = Some(PathBuf::from(value)),
            "--postgres-database" => {
                let plain = !value.is_empty()
                    && value.starts_with(|c: char| c.is_ascii_lowercase())
                    && value
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                o.postgres_database = Some(Some(value.clone()).filter(|_| plain).ok_or_else(bad)?);
            }
            _ => return Err(format!("unknown option {flag}")),
        }
        rest = tail;
    }
    if !rest.is_empty() {
        return Err("options come in pairs: --flag value".into());
    }
    Ok(o)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("labshare-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let o = options()?;
    if !o.server.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release`",
            o.server.display()
        ));
    }
    let mut results = Vec::new();
    for backend in o.backends.clone() {
        match backend {
            "sqlite" => {
                let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
                let file = o.sqlite_file.clone().unwrap_or_else(|| dir.path().join("bench.db"));
                results.push(bench_backend(&o, "sqlite", &file.display().to_string())?);
            }
            _ => {
                let kept = o.postgres_database.clone();
                let name = kept
                    .clone()
                    .unwrap_or_else(|| format!("labshare_bench_{}", std::process::id()));
                let admin = format!("{}/postgres", o.pg_admin);
                let mut conn = match DbUrl::parse(&admin).establish() {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!(
                            "\n*** PostgreSQL at {} is unreachable ({e}): SKIPPING the PostgreSQL run ***\n",
                            o.pg_admin
                        );
                        continue;
                    }
                };
                let url = format!("{}/{name}", o.pg_admin);
                if kept.is_none() || DbUrl::parse(&url).establish().is_err() {
                    prepare::execute(&mut conn, &format!("CREATE DATABASE {name}"))?;
                }
                let result = bench_backend(&o, "postgres", &url);
                if kept.is_none() {
                    // Give the server's connections time to close before the drop.
                    std::thread::sleep(Duration::from_millis(500));
                    if let Err(e) = prepare::execute(&mut conn, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    {
                        eprintln!("labshare-bench: could not drop {name}: {e}");
                    }
                }
                results.push(result?);
            }
        }
    }
    let report = json!({
        "scale": o.scale,
        "concurrency": CONCURRENCY,
        "seconds_per_read_load": o.seconds,
        "writes_per_load": o.writes,
        "heavy_runs": o.heavy_runs,
        "heavy_only": o.heavy_only,
        "started_at": chrono::Utc::now().to_rfc3339(),
        "host_cpus": std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(1),
        "backends": results,
    });
    print_table(&report);
    write_json(&o.out, &report)
}

fn write_json(dir: &Path, report: &Value) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    for name in [format!("{stamp}.json"), "latest.json".to_owned()] {
        let path = dir.join(name);
        std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "written: {}/{stamp}.json and {}/latest.json",
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// The server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Peak resident memory of a process, from /proc.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn bench_backend(o: &Options, backend: &str, url: &str) -> Result<Value, String> {
    let loaded = DbUrl::parse(url)
        .establish()
        .ok()
        .and_then(|mut c| labshare_persistence::bulk::is_empty(&mut c).ok())
        .is_some_and(|empty| !empty);
    let load_seconds = if loaded {
        eprintln!(
            "== {backend}: measuring the database already loaded in {url} (scale {})",
            o.scale
        );
        None
    } else {
        eprintln!("== {backend}: loading scale {} ...", o.scale);
        let started = Instant::now();
        let status = Command::new(&o.server)
            .args(["seed", "--scale", &o.scale.to_string()])
            .env("DATABASE_URL", url)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", o.server.display()))?;
        if !status.success() {
            return Err(format!("labshare seed --scale {} failed on {backend}", o.scale));
        }
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("   loaded in {seconds:.1} s");
        Some(seconds)
    };

    let db = DbUrl::parse(url);
    let config = labshare_api::config::Config::from_lookup(|k| (k == "DATABASE_URL").then(|| url.to_owned()))
        .map_err(|e| e.to_string())?;
    let pool: DbPool = connect_pool(&db, config.pool_size).map_err(|e| e.to_string())?;
    let plan = prepare::plan(&pool, if o.heavy_only { 0 } else { o.writes })?;
    eprintln!(
        "   prepared {} booking windows, {} bookings in use, {} readers",
        plan.windows.len(),
        plan.in_use.len(),
        plan.readers.len()
    );

    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(&o.server)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("LABSHARE_BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", o.server.display()))?;
    let server = Server(child);
    let pid = server.0.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let api = runtime.block_on(http::run(&base, &plan, o))?;
    let peak_kib = peak_rss_kib(pid);
    drop(server);
    drop(runtime);

    let direct = direct::run(&pool, &plan, o)?;
    let mut ops = Vec::new();
    for (a, d) in api.iter().zip(direct.iter()) {
        ops.push(stats::compare(a, d));
    }
    Ok(json!({
        "backend": backend,
        "pool_size": config.pool_size,
        "load_seconds": load_seconds,
        "server_peak_rss_mib": peak_kib.map(|k| k as f64 / 1024.0),
        "operations": ops,
    }))
}

fn print_table(report: &Value) {
    println!();
    println!(
        "LabShare benchmark — scale {}, concurrency {}, {} CPUs",
        report["scale"], report["concurrency"], report["host_cpus"]
    );
    let empty = Vec::new();
    for b in report["backends"].as_array().unwrap_or(&empty) {
        println!();
        println!(
            "{} (pool {}; load {}; server peak RSS {} MiB)",
            b["backend"].as_str().unwrap_or("?"),
            b["pool_size"],
            b["load_seconds"]
                .as_f64()
                .map_or("loaded before".into(), |s| format!("{s:.1} s")),
            b["server_peak_rss_mib"]
                .as_f64()
                .map_or("?".into(), |m| format!("{m:.1}"))
        );
        println!(
            "{:<22} {:>7} {:>6} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | {:>6}",
            "operation", "n", "errors", "req/s", "p50 ms", "p99 ms", "direct/s", "d p50", "d p99", "API÷d"
        );
        for op in b["operations"].as_array().unwrap_or(&empty) {
            let f = |v: &Value| v.as_f64().map_or("-".to_owned(), |x| format!("{x:.1}"));
            let f2 = |v: &Value| v.as_f64().map_or("-".to_owned(), |x| format!("{x:.2}"));
            println!(
                "{:<22} {:>7} {:>6} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | {:>6}",
                op["operation"].as_str().unwrap_or("?"),
                op["api"]["count"].to_string(),
                op["api"]["errors"].to_string(),
                f(&op["api"]["throughput"]),
                f2(&op["api"]["p50_ms"]),
                f2(&op["api"]["p99_ms"]),
                f(&op["direct"]["throughput"]),
                f2(&op["direct"]["p50_ms"]),
                f2(&op["direct"]["p99_ms"]),
                f2(&op["ratio"]),
            );
        }
    }
    println!();
}

/// The operations, in the order both sides run them.
pub const OPERATIONS: [&str; 8] = [
    "catalogue list",
    "availability (week)",
    "booking create",
    "check-out + charge",
    "annual assessment",
    "usage report (year)",
    "floor: /healthz",
    "floor: /readyz",
];

impl Measure {
    /// Whether the operation is a single heavy request, measured one at a time.
    pub fn single(&self) -> bool {
        self.operation == OPERATIONS[4] || self.operation == OPERATIONS[5]
    }
}
