//! Redis Sentinel (Debian's `redis-sentinel`, unchanged) managing kv: a kv primary with two kv
//! replicas, the primary killed with SIGKILL, Sentinel promoting a replica and repointing the
//! other; every write the old primary confirmed with `WAIT 1` is on the new primary (Sentinel
//! promotes the replica with the highest offset), and a
//! write after the failover reaches the remaining replica.
//!
//! Skipped (and passing) without redis-sentinel, unless `KV_REQUIRE_CLIENTS` is set (as
//! `.ci/run` sets it).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::{Connection, Value};

use super::ports::free_port;
use super::support::{PATIENCE, Server, TempDir};

/// How long Sentinel may take to notice the death, agree with itself and promote (its
/// down-after is 1 s; a failover takes a few more).
const FAILOVER_PATIENCE: Duration = Duration::from_secs(60);

struct Sentinel {
    child: Child,
    port: u16,
    conf: String,
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sentinel {
    /// A sentinel monitoring `127.0.0.1:primary` as `mymaster` with a quorum of 1; `None`
    /// (the test skipped) if redis-sentinel is not installed.
    fn start(dir: &TempDir, primary: u16) -> Option<Sentinel> {
        if !super::support::installed("redis-sentinel") {
            return None;
        }
        let port = free_port();
        let conf = format!("{}/sentinel.conf", dir.path());
        // Sentinel rewrites this file as it learns the replicas and the new primary.
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {dir}/sentinel.log\n\
                 sentinel monitor mymaster 127.0.0.1 {primary} 1\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 10000\n\
                 sentinel parallel-syncs mymaster 1\n",
                dir = dir.path()
            ),
        )
        .unwrap();
        let child = Command::new("redis-sentinel")
            .arg(&conf)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-sentinel starts");
        let sentinel = Sentinel { child, port, conf };
        wait_for("the sentinel to listen", &sentinel, PATIENCE, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Some(sentinel)
    }

    fn client(&self) -> Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection()
            .expect("sentinel answers")
    }

    fn log(&self) -> String {
        let dir = std::path::Path::new(&self.conf).parent().unwrap();
        std::fs::read_to_string(dir.join("sentinel.log")).unwrap_or_default()
    }
}

fn wait_for(what: &str, sentinel: &Sentinel, patience: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the sentinel's log:\n{}",
            sentinel.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn info_field(con: &mut Connection, field: &str) -> Option<String> {
    let text: String = redis::cmd("INFO").arg("replication").query(con).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// The port Sentinel names as the primary.
fn primary_port(sentinel: &mut Connection) -> Option<u16> {
    let addr: Vec<String> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg("mymaster")
        .query(sentinel)
        .ok()?;
    addr.get(1)?.parse().ok()
}

#[test]
fn sentinel_fails_over_a_killed_kv_primary_without_losing_a_confirmed_write() {
    let dir = TempDir::new("sentinel");
    std::fs::create_dir_all(dir.path()).unwrap();
    let primary = Server::start(&[]);
    let replicas = [Server::start(&[]), Server::start(&[])];
    for r in &replicas {
        let _: Value = redis::cmd("REPLICAOF")
            .arg("127.0.0.1")
            .arg(primary.port())
            .query(&mut r.client())
            .unwrap();
    }
    let Some(sentinel) = Sentinel::start(&dir, primary.port()) else {
        return;
    };
    let mut s = sentinel.client();
    // Sentinel finds the replicas through the primary's INFO replication.
    wait_for("Sentinel to see both replicas", &sentinel, PATIENCE, || {
        redis::cmd("SENTINEL")
            .arg("replicas")
            .arg("mymaster")
            .query::<Vec<Value>>(&mut s)
            .is_ok_and(|r| r.len() == 2)
    });

    // A writer confirms each write on a replica (WAIT 1) until the primary dies.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let mut con = primary.client();
        std::thread::spawn(move || {
            let mut confirmed = Vec::new();
            for i in 0u64.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let key = format!("k{i}");
                if redis::cmd("SET")
                    .arg(&key)
                    .arg(i)
                    .query::<()>(&mut con)
                    .is_err()
                {
                    break;
                }
                match redis::cmd("WAIT").arg(1).arg(1000).query::<i64>(&mut con) {
                    Ok(n) if n >= 1 => confirmed.push(key),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            confirmed
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    primary.signal("KILL");
    let confirmed = writer.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(
        confirmed.len() > 10,
        "only {} writes confirmed",
        confirmed.len()
    );

    // Sentinel promotes one replica and points the other at it.
    let old = primary.port();
    let mut new = 0;
    wait_for(
        "Sentinel to promote a replica",
        &sentinel,
        FAILOVER_PATIENCE,
        || {
            new = primary_port(&mut s).unwrap_or(old);
            new != old
        },
    );
    let (promoted, other) = if replicas[0].port() == new {
        (&replicas[0], &replicas[1])
    } else {
        assert_eq!(
            replicas[1].port(),
            new,
            "Sentinel names a server it monitors"
        );
        (&replicas[1], &replicas[0])
    };
    wait_for(
        "the promoted replica to be a primary",
        &sentinel,
        PATIENCE,
        || info_field(&mut promoted.client(), "role").as_deref() == Some("master"),
    );
    let mut p = promoted.client();
    for key in &confirmed {
        let v: Option<String> = redis::cmd("GET").arg(key).query(&mut p).unwrap();
        assert!(v.is_some(), "{key} was confirmed by WAIT 1 and lost");
    }
    // Sentinel's reconfiguration ends with CLIENT KILL TYPE normal: each check connects anew.
    let deadline = Instant::now() + FAILOVER_PATIENCE;
    let follows = || {
        let mut o = other.client();
        info_field(&mut o, "master_port").as_deref() == Some(new.to_string().as_str())
            && info_field(&mut o, "master_link_status").as_deref() == Some("up")
    };
    while !follows() {
        if Instant::now() > deadline {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query(&mut other.client())
                .unwrap();
            panic!(
                "the other replica does not follow the new primary:\n{info}\n--- its log:\n{}\n\
                 --- the new primary's log:\n{}\n--- the sentinel's log:\n{}",
                other.log(),
                promoted.log(),
                sentinel.log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("failover")
        .query(&mut p)
        .unwrap();
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(10_000).query(&mut p).unwrap();
    assert_eq!(acked, 1);
    let v: String = redis::cmd("GET")
        .arg("after")
        .query(&mut other.client())
        .unwrap();
    assert_eq!(v, "failover");
}
