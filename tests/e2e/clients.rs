//! The client libraries applications use, unchanged, against a real kvserver: the Python
//! suites of `tests/clients/` (redis-py from PyPI) and the BullMQ suite (npm, on Node.js).
//!
//! Each suite also passes against redis-server (`KV_PORT=6379 python3 -m unittest discover -s
//! tests/clients/redis_py`), which is how its expectations were checked. When a client library
//! is not installed the test says so and passes, so `cargo test` works on a fresh machine;
//! `.ci/run` installs the libraries and sets `KV_REQUIRE_CLIENTS=1`, which turns a missing
//! library into a failure.

use std::process::Command;

use super::support::Server;

/// The folder of the client suites.
const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/clients");

/// Whether `python3` can import `module`; panics when it cannot and CI requires it.
fn python_has(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("KV_REQUIRE_CLIENTS").is_none(),
            "python3 cannot import {module}, and KV_REQUIRE_CLIENTS is set"
        );
        eprintln!("skipped: python3 cannot import {module} (pip install {module})");
    }
    ok
}

/// Whether the BullMQ suite's packages are installed (`npm ci` in `tests/clients/bullmq`) and
/// Node.js runs; panics when they are not and CI requires them.
fn bullmq_installed() -> bool {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let ok =
        node && std::path::Path::new(&format!("{CLIENTS}/bullmq/node_modules/bullmq")).exists();
    if !ok {
        assert!(
            std::env::var_os("KV_REQUIRE_CLIENTS").is_none(),
            "the BullMQ suite is not installed, and KV_REQUIRE_CLIENTS is set"
        );
        eprintln!("skipped: BullMQ is not installed (cd tests/clients/bullmq && npm ci)");
    }
    ok
}

/// Runs the redis-py test file `file` against a fresh kvserver started with `flags`.
fn redis_py(file: &str, flags: &[&str]) {
    if !python_has("redis") {
        return;
    }
    let server = Server::start(flags);
    let out = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s"])
        .arg(format!("{CLIENTS}/redis_py"))
        .args(["-p", file, "-v"])
        .env("KV_PORT", server.port().to_string())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 runs");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "redis-py {file} failed:\n{report}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        server.log()
    );
    assert!(report.contains("\nOK"), "{report}");
}

#[test]
fn redis_py_transactions() {
    redis_py("test_transactions.py", &[]);
}

#[test]
fn redis_py_streams() {
    redis_py("test_streams.py", &[]);
}

#[test]
fn redis_py_stream_groups() {
    redis_py("test_stream_groups.py", &[]);
}

#[test]
fn redis_py_pubsub() {
    redis_py("test_pubsub.py", &[]);
}

#[test]
fn redis_py_scripting() {
    redis_py("test_scripting.py", &[]);
}

#[test]
fn redis_py_geo_and_sort() {
    redis_py("test_geo_sort.py", &[]);
}

#[test]
fn redis_py_acl() {
    redis_py("test_acl.py", &[]);
}

#[test]
fn redis_py_tracking() {
    redis_py("test_tracking.py", &[]);
}

/// BullMQ, the Node.js job queue whose commands are almost all Lua scripts (and whose events
/// are a stream), unchanged against kvserver: jobs, retries with backoff, delayed jobs,
/// failures, concurrent workers, flows.
#[test]
fn bullmq_queue() {
    if !bullmq_installed() {
        return;
    }
    let server = Server::start(&[]);
    let out = Command::new("node")
        .args(["--test", "test.js"])
        .current_dir(format!("{CLIENTS}/bullmq"))
        .env("KV_PORT", server.port().to_string())
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "BullMQ suite failed:\n{report}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(
        report.contains("# fail 0") && report.contains("# pass 5"),
        "{report}"
    );
}
