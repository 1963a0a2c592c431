//! `maxmemory` on a real server: each eviction policy on a small limit (which keys go), an
//! evicted key staying gone after `kill -9` and a restart, and MEMORY USAGE against the
//! growth of `used_memory` per type. The exact OOM replies, OBJECT FREQ/IDLETIME and MEMORY
//! HELP are byte-compared with Redis in `tests/e2e/evict.txt`.

use redis::Value;

use super::support::{Server, TempDir, cmd, info_field};

/// A field of INFO's memory or stats section.
fn info_number(con: &mut redis::Connection, section: &str, name: &str) -> u64 {
    info_field(con, section, name)
        .unwrap_or_else(|| panic!("INFO {section} has {name}"))
        .parse()
        .unwrap()
}

fn used(con: &mut redis::Connection) -> u64 {
    info_number(con, "memory", "used_memory")
}

fn config_set(con: &mut redis::Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(con)
        .unwrap();
}

/// Writes `keys` keys named `{prefix}{i}` with 200-byte values (and a TTL of `ttl` seconds
/// plus `i` when `ttl > 0`), pipelined 500 at a time; every write must succeed.
fn fill(con: &mut redis::Connection, prefix: &str, keys: usize, ttl: u64) {
    let value = "v".repeat(200);
    for chunk in (0..keys).collect::<Vec<_>>().chunks(500) {
        let mut p = redis::pipe();
        for &i in chunk {
            let c = p.cmd("SET").arg(format!("{prefix}{i}")).arg(&value);
            if ttl > 0 {
                c.arg("EX").arg(ttl + i as u64);
            }
            c.ignore();
        }
        let () = p.query(con).unwrap();
    }
}

fn exists(con: &mut redis::Connection, key: &str) -> bool {
    let n: u64 = redis::cmd("EXISTS").arg(key).query(con).unwrap();
    n == 1
}

fn dbsize(con: &mut redis::Connection) -> u64 {
    redis::cmd("DBSIZE").query(con).unwrap()
}

#[test]
fn each_policy_evicts_under_a_small_maxmemory_and_volatile_ones_spare_persistent_keys() {
    let server = Server::start(&[]);
    let mut con = server.client();
    for policy in [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
        config_set(&mut con, "maxmemory", "0");
        config_set(&mut con, "maxmemory-policy", policy);
        let volatile = policy.starts_with("volatile");
        // Persistent keys first: volatile policies must keep every one of them.
        fill(&mut con, "p", 1000, 0);
        let limit = used(&mut con) + 3 * 1024 * 1024;
        config_set(&mut con, "maxmemory", &limit.to_string());
        let evicted_before = info_number(&mut con, "stats", "evicted_keys");
        // About 10 MB of keys with a TTL: far more than the room left.
        fill(&mut con, "t", 30_000, if volatile { 1000 } else { 0 });
        let after = used(&mut con);
        // No more evictions while the keys are counted (any command may evict first).
        config_set(&mut con, "maxmemory", "0");
        let evicted = info_number(&mut con, "stats", "evicted_keys") - evicted_before;
        let size = dbsize(&mut con);
        assert!(evicted > 10_000, "{policy}: only {evicted} evicted");
        assert_eq!(
            size,
            31_000 - evicted,
            "{policy}: every missing key was evicted"
        );
        assert!(
            after < limit + 3 * 1024 * 1024,
            "{policy}: memory stays near the limit"
        );
        if volatile {
            for i in 0..1000 {
                assert!(exists(&mut con, &format!("p{i}")), "{policy} evicted p{i}");
            }
        }
        if policy == "volatile-ttl" {
            // The nearest deadlines go first: the last-written keys (farthest) survive.
            let late = (29_000..30_000)
                .filter(|i| exists(&mut con, &format!("t{i}")))
                .count();
            let early = (0..1000)
                .filter(|i| exists(&mut con, &format!("t{i}")))
                .count();
            assert!(
                late > 900 && early < 100,
                "{policy}: kept {early} early, {late} late"
            );
        }
    }
}

#[test]
fn noeviction_refuses_writes_once_full_and_volatile_policies_when_only_persistent_keys_remain() {
    let server = Server::start(&[]);
    let mut con = server.client();
    fill(&mut con, "p", 1000, 0);
    let limit = used(&mut con) + 1024 * 1024;
    config_set(&mut con, "maxmemory", &limit.to_string());
    for policy in ["noeviction", "volatile-lru"] {
        config_set(&mut con, "maxmemory-policy", policy);
        let mut refused = None;
        for i in 0..100_000 {
            match cmd(
                &mut con,
                &["SET", &format!("{policy}{i}"), &"v".repeat(200)],
            ) {
                Ok(_) => {}
                Err(e) => {
                    refused = Some(super::support::error_text(&e));
                    break;
                }
            }
        }
        assert_eq!(
            refused.as_deref(),
            Some("OOM command not allowed when used memory > 'maxmemory'."),
            "{policy}"
        );
        // Reads and deletions still work.
        assert!(exists(&mut con, "p1"));
        let got: Option<String> = redis::cmd("GET").arg("p2").query(&mut con).unwrap();
        assert_eq!(got.map(|v| v.len()), Some(200));
        assert!(
            dbsize(&mut con) >= 1000,
            "{policy}: the persistent keys stay"
        );
        let _: () = redis::cmd("FLUSHDB").query(&mut con).unwrap();
        fill(&mut con, "p", 1000, 0);
    }
    assert_eq!(info_number(&mut con, "stats", "evicted_keys"), 0);
}

#[test]
fn an_evicted_key_stays_gone_after_kill_9_and_a_restart() {
    let dir = TempDir::new("evict-restart");
    let mut server = Server::durable(&dir, "always");
    let mut con = server.client();
    config_set(&mut con, "maxmemory-policy", "allkeys-random");
    let limit = used(&mut con) + 2 * 1024 * 1024;
    config_set(&mut con, "maxmemory", &limit.to_string());
    fill(&mut con, "k", 20_000, 0);
    config_set(&mut con, "maxmemory", "0");
    let kept: Vec<bool> = (0..20_000)
        .map(|i| exists(&mut con, &format!("k{i}")))
        .collect();
    let evicted = kept.iter().filter(|k| !**k).count();
    assert!(evicted > 5_000, "only {evicted} evicted");
    assert_eq!(
        info_number(&mut con, "stats", "evicted_keys"),
        evicted as u64
    );
    drop(con);
    server.signal("KILL");
    server.wait_exit();
    let server = Server::durable(&dir, "always");
    let mut con = server.client();
    for (i, &k) in kept.iter().enumerate() {
        assert_eq!(
            exists(&mut con, &format!("k{i}")),
            k,
            "k{i} after the restart"
        );
    }
    assert_eq!(dbsize(&mut con), (20_000 - evicted) as u64);
}

#[test]
fn client_no_touch_leaves_the_idle_time_and_touch_resets_it() {
    let server = Server::start(&[]);
    let mut con = server.client();
    assert_eq!(
        cmd(&mut con, &["CLIENT", "NO-TOUCH", "maybe"]).map_err(|e| e.to_string()),
        Err("ResponseError: syntax error".into())
    );
    assert_eq!(
        cmd(&mut con, &["CLIENT", "NO-TOUCH", "on"]).unwrap(),
        Value::Okay
    );
    // The access clock counts whole seconds: after 2.1 s it has moved by at least 2.
    cmd(&mut con, &["SET", "k", "v"]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    cmd(&mut con, &["GET", "k"]).unwrap();
    let idle = cmd(&mut con, &["OBJECT", "IDLETIME", "k"]).unwrap();
    assert!(matches!(idle, Value::Int(2..)), "a no-touch GET: {idle:?}");
    cmd(&mut con, &["TOUCH", "k"]).unwrap();
    assert_eq!(
        cmd(&mut con, &["OBJECT", "IDLETIME", "k"]).unwrap(),
        Value::Int(0),
        "TOUCH counts even under NO-TOUCH"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    cmd(&mut con, &["CLIENT", "NO-TOUCH", "off"]).unwrap();
    cmd(&mut con, &["GET", "k"]).unwrap();
    assert_eq!(
        cmd(&mut con, &["OBJECT", "IDLETIME", "k"]).unwrap(),
        Value::Int(0),
        "a plain GET counts"
    );
}

/// RESTORE's IDLETIME sets the access clock under an LRU policy and FREQ the counter under an
/// LFU one; each is ignored under the other kind (a new key's counter is then 5), as in Redis.
/// The clocks tick in seconds and minutes, so the reads allow for one tick in between.
#[test]
fn restore_idletime_and_freq_set_the_access_clock() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("SET")
        .arg("src")
        .arg("hello")
        .query(&mut con)
        .unwrap();
    let payload: Vec<u8> = redis::cmd("DUMP").arg("src").query(&mut con).unwrap();
    let restore = |con: &mut redis::Connection, key: &str, opt: &str, n: u64| {
        let _: () = redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(&payload)
            .arg(opt)
            .arg(n)
            .query(con)
            .unwrap();
    };
    let object = |con: &mut redis::Connection, what: &str, key: &str| -> u64 {
        redis::cmd("OBJECT").arg(what).arg(key).query(con).unwrap()
    };
    restore(&mut con, "lru", "IDLETIME", 1000);
    let idle = object(&mut con, "IDLETIME", "lru");
    assert!((1000..=1001).contains(&idle), "{idle}");
    restore(&mut con, "lru-freq", "FREQ", 100);
    assert!(object(&mut con, "IDLETIME", "lru-freq") <= 1);

    config_set(&mut con, "maxmemory-policy", "allkeys-lfu");
    restore(&mut con, "lfu", "FREQ", 100);
    let freq = object(&mut con, "FREQ", "lfu");
    assert!((99..=100).contains(&freq), "{freq}");
    restore(&mut con, "lfu-idle", "IDLETIME", 1000);
    let freq = object(&mut con, "FREQ", "lfu-idle");
    assert!((4..=5).contains(&freq), "{freq}");
}

/// CLIENT LIST's flags: `e` for NO-EVICT (redis-server 7.0.15 keeps it across RESET), `T` for
/// NO-TOUCH (Redis 7.2: RESET clears it).
#[test]
fn client_list_shows_no_evict_and_no_touch() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let flags = |con: &mut redis::Connection| -> String {
        let info: String = redis::cmd("CLIENT").arg("INFO").query(con).unwrap();
        info.split(' ')
            .find_map(|f| f.strip_prefix("flags="))
            .unwrap()
            .to_string()
    };
    assert_eq!(flags(&mut con), "N");
    let _: () = redis::cmd("CLIENT")
        .arg("NO-EVICT")
        .arg("on")
        .query(&mut con)
        .unwrap();
    assert_eq!(flags(&mut con), "e");
    let _: () = redis::cmd("CLIENT")
        .arg("NO-TOUCH")
        .arg("on")
        .query(&mut con)
        .unwrap();
    assert_eq!(flags(&mut con), "eT");
    let _: () = redis::cmd("RESET").query(&mut con).unwrap();
    assert_eq!(flags(&mut con), "e");
    let _: () = redis::cmd("CLIENT")
        .arg("NO-EVICT")
        .arg("off")
        .query(&mut con)
        .unwrap();
    assert_eq!(flags(&mut con), "N");
}

#[test]
fn memory_usage_is_within_ten_percent_of_the_measured_growth_for_each_type() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let fields = |n: usize| -> Vec<String> {
        (0..n)
            .flat_map(|i| [format!("field{i}"), format!("value{i}")])
            .collect()
    };
    let members = |n: usize| -> Vec<String> { (0..n).map(|i| format!("member{i}")).collect() };
    let scored = |n: usize| -> Vec<String> {
        (0..n)
            .flat_map(|i| [i.to_string(), format!("member{i}")])
            .collect()
    };
    let cases: Vec<(&str, usize, Vec<String>)> = vec![
        // A short string costs ~60 B: 20,000 of them, so that what `used_memory` leaves
        // unfolded (up to 32 KB per thread, `kvcore/src/memory.rs`) stays under 10%.
        ("SET", 20000, vec!["v".repeat(10)]),
        ("SET", 5000, vec!["v".repeat(200)]),
        // Small containers too (~100 B): with 5,000 keys, two threads' unfolded counts made
        // RPUSH's 107 B look like 119 on a loaded machine.
        ("HSET", 20000, fields(5)),
        ("RPUSH", 20000, members(5)),
        ("SADD", 20000, members(5)),
        ("ZADD", 20000, scored(5)),
        ("HSET", 300, fields(200)),
        ("RPUSH", 300, members(200)),
        ("SADD", 300, members(200)),
        ("ZADD", 300, scored(200)),
    ];
    // The connection's buffers grow on the first pipeline: a fixed cost that is no key's
    // (about 75 KB, 15 B a key over 5,000 short strings).
    let mut warm = redis::pipe();
    for i in 0..250 {
        warm.cmd("SET")
            .arg(format!("warm:{i:06}"))
            .arg("v")
            .ignore();
    }
    let () = warm.query(&mut con).unwrap();
    for (command, keys, args) in cases {
        let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
        let before = used(&mut con);
        for chunk in (0..keys).collect::<Vec<_>>().chunks(250) {
            let mut p = redis::pipe();
            for &i in chunk {
                p.cmd(command)
                    .arg(format!("key:{i:06}"))
                    .arg(&args)
                    .ignore();
            }
            let () = p.query(&mut con).unwrap();
        }
        let growth = (used(&mut con) - before) as f64 / keys as f64;
        let sampled: Vec<u64> = (0..keys)
            .step_by(keys / 50)
            .map(|i| {
                redis::cmd("MEMORY")
                    .arg("USAGE")
                    .arg(format!("key:{i:06}"))
                    .query(&mut con)
                    .unwrap()
            })
            .collect();
        let usage = sampled.iter().sum::<u64>() as f64 / sampled.len() as f64;
        let ratio = usage / growth;
        assert!(
            (0.9..=1.1).contains(&ratio),
            "{command} of {} arguments: MEMORY USAGE {usage:.0} B, measured {growth:.0} B a key",
            args.len()
        );
    }
}
