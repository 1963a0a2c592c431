//! kv replicating kv: a chain (primary → replica → sub-replica), built while a writer runs,
//! where every server reports
//! the primary's replication ID and offset and holds the same data, then a promotion (REPLICAOF
//! NO ONE on the middle one) after which the old primary and the sub-replica both continue
//! with a partial resync (PSYNC2's second ID) and follow the new primary's writes.
//!
//! No redis-server is needed: every server here is a kvserver.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::{Connection, Value};

use super::support::{PATIENCE, Server, error_text, info_field};

fn wait_for(what: &str, servers: &[&Server], mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        if Instant::now() >= deadline {
            for s in servers {
                eprintln!("--- server on {}:\n{}", s.port(), s.log());
            }
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn q(con: &mut Connection, line: &str) -> Value {
    let mut c = redis::cmd(line.split(' ').next().unwrap());
    for a in line.split(' ').skip(1) {
        c.arg(a);
    }
    c.query(con).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn replicaof(con: &mut Connection, port: u16) {
    let _: Value = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(port)
        .query(con)
        .unwrap();
}

/// Every key of databases 0..4 with its type, value (as read back) and absolute expiry.
fn dataset(con: &mut Connection) -> BTreeMap<(u32, Vec<u8>), String> {
    let mut all = BTreeMap::new();
    for db in 0..4u32 {
        q(con, &format!("SELECT {db}"));
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).unwrap();
        for key in keys {
            let dump: Value = redis::cmd("DUMP").arg(&key).query(con).unwrap();
            let at: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(con).unwrap();
            all.insert((db, key), format!("{dump:?} at={at}"));
        }
    }
    q(con, "SELECT 0");
    all
}

/// The (replid, offset) a server reports in INFO replication.
fn position(con: &mut Connection) -> (String, String) {
    (
        info_field(con, "replication", "master_replid").unwrap_or_default(),
        info_field(con, "replication", "master_repl_offset").unwrap_or_default(),
    )
}

fn write_some(con: &mut Connection, tag: &str) {
    for line in [
        format!("SET {tag}:s hello"),
        format!("SET {tag}:ttl v PX 600000"),
        format!("RPUSH {tag}:l a b c"),
        format!("HSET {tag}:h f1 v1 f2 2"),
        format!("HINCRBY {tag}:h f2 5"),
        format!("SADD {tag}:set x y z"),
        format!("ZADD {tag}:z 1.5 a 2 b"),
        format!("XADD {tag}:x 1-1 f v"),
        format!("INCRBYFLOAT {tag}:f 0.5"),
        "SELECT 2".to_string(),
        format!("SET {tag}:db2 two"),
        "SELECT 0".to_string(),
    ] {
        q(con, &line);
    }
    for i in 0..200 {
        q(con, &format!("INCR {tag}:counter"));
        q(con, &format!("RPUSH {tag}:log {i}"));
    }
    q(con, "MULTI");
    q(con, &format!("INCR {tag}:tx"));
    q(con, &format!("LPUSH {tag}:l tx"));
    q(con, "EXEC");
    let _: Value = redis::cmd("EVAL")
        .arg("redis.call('INCR', KEYS[1]); return redis.call('SET', KEYS[2], 'lua')")
        .arg(2)
        .arg(format!("{tag}:lua-n"))
        .arg(format!("{tag}:lua-s"))
        .query(con)
        .unwrap();
}

/// Waits until every server reports the first one's replication ID and offset, with each of
/// the others' links up.
fn converge(servers: &[&Server]) {
    let mut cons: Vec<Connection> = servers.iter().map(|s| s.client()).collect();
    wait_for("the chain to converge", servers, || {
        let first = position(&mut cons[0]);
        cons[1..].iter_mut().all(|c| {
            info_field(c, "replication", "master_link_status").as_deref() == Some("up")
                && position(c) == first
        })
    });
}

#[test]
fn a_chain_of_kv_replicas_shares_offsets_and_continues_partially_after_a_promotion() {
    let primary = Server::start(&[]);
    let middle = Server::start(&[]);
    let leaf = Server::start(&[]);
    let mut p = primary.client();
    let mut m = middle.client();
    let mut l = leaf.client();
    // Some data before anyone follows (a full sync brings it), then the chain.
    write_some(&mut p, "before");
    // A writer runs through both full syncs: each of its pushes must land exactly once.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let mut con = primary.client();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let _: i64 = redis::cmd("RPUSH")
                    .arg("pushed")
                    .arg(n)
                    .query(&mut con)
                    .unwrap();
                n += 1;
            }
            n
        })
    };
    replicaof(&mut m, primary.port());
    replicaof(&mut l, middle.port());
    write_some(&mut p, "during");
    wait_for(
        "the sub-replica's link",
        &[&primary, &middle, &leaf],
        || info_field(&mut l, "replication", "master_link_status").as_deref() == Some("up"),
    );
    stop.store(true, Ordering::Relaxed);
    let pushed = writer.join().unwrap();
    converge(&[&primary, &middle, &leaf]);
    let want: Vec<String> = (0..pushed).map(|i| i.to_string()).collect();
    for con in [&mut m, &mut l] {
        let got: Vec<String> = redis::cmd("LRANGE")
            .arg("pushed")
            .arg(0)
            .arg(-1)
            .query(con)
            .unwrap();
        assert!(
            got == want,
            "{} pushes, {} on a replica",
            want.len(),
            got.len()
        );
    }
    let (id, offset) = position(&mut p);
    assert!(offset.parse::<u64>().unwrap() > 0);
    let want = dataset(&mut p);
    assert!(want.len() > 20, "{want:?}");
    assert_eq!(dataset(&mut m), want, "the replica");
    assert_eq!(dataset(&mut l), want, "the sub-replica");
    assert_eq!(
        info_field(&mut m, "replication", "role").as_deref(),
        Some("slave")
    );
    assert_eq!(
        info_field(&mut m, "replication", "connected_slaves").as_deref(),
        Some("1")
    );
    // The replica is read-only; so is the sub-replica.
    let refused = redis::cmd("SET").arg("k").arg("v").query::<Value>(&mut l);
    assert_eq!(
        error_text(&refused.unwrap_err()),
        "READONLY You can't write against a read only replica."
    );

    // Failover by hand: the middle server becomes the primary, the old primary follows it.
    q(&mut m, "REPLICAOF NO ONE");
    let (new_id, new_offset) = position(&mut m);
    assert_ne!(new_id, id);
    assert_eq!(new_offset, offset, "promotion keeps the offset");
    assert_eq!(
        info_field(&mut m, "replication", "master_replid2").as_deref(),
        Some(id.as_str())
    );
    replicaof(&mut p, middle.port());
    write_some(&mut m, "after");
    converge(&[&middle, &primary, &leaf]);
    assert_eq!(position(&mut p).0, new_id);
    // Both former followers of the old history continued it: no second full sync anywhere.
    let stat = |con: &mut Connection, f: &str| info_field(con, "stats", f).unwrap();
    assert_eq!(stat(&mut m, "sync_partial_ok"), "2", "{}", middle.log());
    assert_eq!(stat(&mut m, "sync_full"), "1", "only the leaf's first sync");
    let want = dataset(&mut m);
    assert_eq!(dataset(&mut p), want, "the old primary");
    assert_eq!(dataset(&mut l), want, "the leaf");
    let n: i64 = redis::cmd("GET")
        .arg("after:counter")
        .query(&mut p)
        .unwrap();
    assert_eq!(n, 200);
    // WAIT on the new primary counts both of its replicas.
    let acked: i64 = redis::cmd("WAIT").arg(2).arg(5000).query(&mut m).unwrap();
    assert_eq!(acked, 2);
    let refused = redis::cmd("SET").arg("k").arg("v").query::<Value>(&mut p);
    assert_eq!(
        error_text(&refused.unwrap_err()),
        "READONLY You can't write against a read only replica."
    );
}

#[test]
fn a_replica_without_its_link_refuses_to_serve_a_sync() {
    let unreachable = super::ports::free_port();
    let kv = Server::start(&[]);
    let mut con = kv.client();
    replicaof(&mut con, unreachable);
    let err = redis::cmd("PSYNC")
        .arg("?")
        .arg(-1)
        .query::<Value>(&mut con)
        .unwrap_err();
    assert_eq!(
        error_text(&err),
        "NOMASTERLINK Can't SYNC while not connected with my master"
    );
}

#[test]
fn failover_hands_the_primary_role_to_a_caught_up_replica() {
    let primary = Server::start(&[]);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.client(), replica.client());
    write_some(&mut p, "before");
    replicaof(&mut r, primary.port());
    converge(&[&primary, &replica]);
    let (id, offset) = position(&mut p);
    let target = format!("FAILOVER TO 127.0.0.1 {}", replica.port());
    q(&mut p, &target);
    // The primary becomes the replica's replica, which takes over on its PSYNC ... FAILOVER
    // and continues the history: no full sync.
    wait_for("the switch", &[&primary, &replica], || {
        info_field(&mut r, "replication", "role").as_deref() == Some("master")
            && info_field(&mut p, "replication", "master_link_status").as_deref() == Some("up")
    });
    assert_eq!(
        info_field(&mut p, "replication", "master_port"),
        Some(replica.port().to_string())
    );
    assert_eq!(
        info_field(&mut p, "replication", "master_failover_state").as_deref(),
        Some("no-failover"),
        "the failover is over"
    );
    let stat = |con: &mut Connection, f: &str| info_field(con, "stats", f).unwrap();
    assert_eq!(stat(&mut r, "sync_partial_ok"), "1");
    assert_eq!(stat(&mut r, "sync_full"), "0");
    assert_eq!(
        info_field(&mut r, "replication", "master_replid2").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(position(&mut r).1, offset, "nothing was written meanwhile");
    let refused = redis::cmd("SET").arg("k").arg("v").query::<Value>(&mut p);
    assert_eq!(
        error_text(&refused.unwrap_err()),
        "READONLY You can't write against a read only replica."
    );
    write_some(&mut r, "after");
    converge(&[&replica, &primary]);
    assert_eq!(dataset(&mut p), dataset(&mut r));
}

#[test]
fn a_failover_that_times_out_aborts_and_releases_the_held_writes() {
    let primary = Server::start(&[]);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.client(), replica.client());
    replicaof(&mut r, primary.port());
    q(&mut p, "SET k 1");
    converge(&[&primary, &replica]);
    // A stopped replica never acknowledges what comes next: the failover cannot finish.
    replica.signal("STOP");
    q(&mut p, "SET k 2");
    q(&mut p, "FAILOVER TIMEOUT 500");
    assert_eq!(
        info_field(&mut p, "replication", "master_failover_state").as_deref(),
        Some("waiting-for-sync")
    );
    let again = redis::cmd("FAILOVER").query::<Value>(&mut p).unwrap_err();
    assert_eq!(error_text(&again), "ERR FAILOVER already in progress.");
    let refused = redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query::<Value>(&mut p)
        .unwrap_err();
    assert_eq!(
        error_text(&refused),
        "ERR REPLICAOF not allowed while failing over."
    );
    // Reads go on; a write waits for the failover's end, then runs on the primary it still is.
    let got: String = redis::cmd("GET").arg("k").query(&mut p).unwrap();
    assert_eq!(got, "2");
    let mut w = primary.client();
    let _: () = redis::cmd("SET").arg("k").arg("3").query(&mut w).unwrap();
    assert_eq!(
        info_field(&mut p, "replication", "master_failover_state").as_deref(),
        Some("no-failover")
    );
    assert_eq!(
        info_field(&mut p, "replication", "role").as_deref(),
        Some("master")
    );
    let aborted = "aborted: Replica never caught up before timeout";
    let log = primary.log_with(aborted);
    assert!(log.contains(aborted), "{log}");
    replica.signal("CONT");
    converge(&[&primary, &replica]);
    let got: String = redis::cmd("GET").arg("k").query(&mut r).unwrap();
    assert_eq!(got, "3");
    // FAILOVER ABORT by hand, while it waits.
    replica.signal("STOP");
    q(&mut p, "SET k 4");
    // The largest timeout Redis takes (its deadline as good as never, not an overflow).
    q(&mut p, "FAILOVER TIMEOUT 9223372036854775807");
    assert_eq!(
        info_field(&mut p, "replication", "master_failover_state").as_deref(),
        Some("waiting-for-sync")
    );
    q(&mut p, "FAILOVER ABORT");
    assert_eq!(
        info_field(&mut p, "replication", "master_failover_state").as_deref(),
        Some("no-failover")
    );
    q(&mut p, "SET k 5");
    replica.signal("CONT");
}
