//! Crash test with real processes: a child process opens a store with `SyncMode::Always`, writes
//! from several threads and prints every write the store acknowledged; the parent kills it with
//! SIGKILL at a pseudo-random moment, reopens the store, and checks that every acknowledged write
//! is there and that nothing it finds was invented. 20+ cycles on the same directory, with
//! snapshots taken while writing so that recovery goes through snapshot + log. The same runs
//! with `SyncMode::EverySec`, whose log is a shared mapping: a process crash loses nothing
//! acknowledged there either.
//!
//! Each writer also appends to a stream (`XADD *`, and `XDEL` of every tenth entry): every
//! acknowledged entry must come back with its fields, every acknowledged delete stay deleted.
//!
//! The child is this test binary itself, re-run with `KV_CRASH_CHILD` set.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kvcore::{
    KeyType, Kv, Options, PersistOptions, SetExpiry, SetOptions, Store, StreamId, StreamStore,
    SyncMode, Ttl, XAddId, XAddOptions,
};

const CHILD_ENV: &str = "KV_CRASH_CHILD";
const WRITERS: usize = 4;

fn opts() -> Options {
    Options::new().shards(8).databases(2)
}

fn persist(sync: SyncMode) -> PersistOptions {
    PersistOptions::new()
        .sync(sync)
        .wal_segment_bytes(256 << 10)
}

fn value_of(key: &str) -> String {
    format!("value-of-{key}")
}

/// The child: writes until killed, printing `ACK <key>` / `CTR <n>` / `DEL <key>` after each
/// acknowledged write.
fn child(dir: &Path, cycle: u64, sync: SyncMode) {
    let kv = Kv::open(dir, opts(), persist(sync)).expect("child opens the store");
    let stop = Arc::new(AtomicBool::new(false));
    println!("READY");
    let mut threads = Vec::new();
    for t in 0..WRITERS {
        let db = kv.db(t % 2).unwrap();
        threads.push(std::thread::spawn(move || {
            let mut out = std::io::stdout();
            for n in 0u64.. {
                let key = format!("c{cycle}-t{t}-{n}");
                if n % 7 == 3 {
                    // A key with a long TTL: must come back with a deadline.
                    let o = SetOptions::new().expiry(SetExpiry::Ex(100_000));
                    db.set_with(&key, value_of(&key), &o).unwrap();
                } else {
                    db.set(&key, value_of(&key)).unwrap();
                }
                write_line(&mut out, &format!("ACK {} {key}", t % 2));
                if n % 5 == 4 {
                    let victim = format!("c{cycle}-t{t}-{}", n - 1);
                    db.del(&[&victim]).unwrap();
                    write_line(&mut out, &format!("DEL {} {victim}", t % 2));
                }
                if t == 0 {
                    let c = db.incr("counter").unwrap();
                    write_line(&mut out, &format!("CTR {c}"));
                }
                let fields = [("w", t.to_string()), ("n", format!("{cycle}-{n}"))];
                let id = db
                    .xadd("xs", XAddId::Auto, &fields, &XAddOptions::new())
                    .unwrap()
                    .unwrap();
                write_line(&mut out, &format!("XADD {} {id} {t} {cycle}-{n}", t % 2));
                if n % 10 == 9 {
                    assert_eq!(db.xdel("xs", &[id]).unwrap(), 1);
                    write_line(&mut out, &format!("XDEL {} {id}", t % 2));
                }
            }
        }));
    }
    let saver = {
        let kv = kv.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(40));
                let _ = kv.save();
            }
        })
    };
    for t in threads {
        let _ = t.join();
    }
    stop.store(true, Ordering::Relaxed);
    let _ = saver.join();
}

fn write_line(out: &mut std::io::Stdout, line: &str) {
    use std::io::Write;
    let mut lock = out.lock();
    // Only printed after the store acknowledged; a failed print just ends the child.
    let _ = writeln!(lock, "{line}");
    let _ = lock.flush();
}

/// A small deterministic generator for kill delays (no randomness crate needed).
fn delay_ms(cycle: u64) -> u64 {
    let x = cycle
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    20 + (x >> 33) % 180
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    run(
        SyncMode::Always,
        "crash::acknowledged_writes_survive_sigkill",
        24,
    );
}

#[test]
fn acknowledged_everysec_writes_survive_sigkill() {
    run(
        SyncMode::EverySec,
        "crash::acknowledged_everysec_writes_survive_sigkill",
        12,
    );
}

/// Runs `cycles` kill-and-check cycles with the store in `sync` mode; `test` is the name of the
/// calling test, which the child processes run.
fn run(sync: SyncMode, test: &str, cycles: u64) {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let cycle = std::env::var("KV_CRASH_CYCLE").unwrap().parse().unwrap();
        child(Path::new(&dir), cycle, sync);
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "kv-crash-test-{}-{}",
        sync.as_str(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Run the children from a private copy of this binary: cargo may rebuild (replace) the
    // original while the test runs.
    let exe = dir.join("child-exe");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    let data = dir.join("data");
    // Expected state, from what the children acknowledged.
    let mut expected: HashMap<(usize, String), Want> = HashMap::new();
    let mut entries: HashMap<(usize, StreamId), (Want, [String; 2])> = HashMap::new();
    let mut max_counter = 0u64;
    let mut total_acks = 0;
    for cycle in 0..cycles {
        let started = std::time::Instant::now();
        let lines = run_child_and_kill(&exe, test, &data, cycle);
        let ran = started.elapsed();
        for line in &lines {
            let mut parts = line.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("ACK"), Some(db), Some(key)) => {
                    let db: usize = db.parse().unwrap();
                    expected.insert((db, key.to_string()), Want::Present);
                    total_acks += 1;
                    // The next step deletes the previous key: until that is acknowledged, a
                    // crash may or may not have made the delete durable.
                    let (prefix, n) = key.rsplit_once('-').unwrap();
                    let n: u64 = n.parse().unwrap();
                    if n % 5 == 4 {
                        expected.insert((db, format!("{prefix}-{}", n - 1)), Want::Either);
                    }
                }
                (Some("DEL"), Some(db), Some(key)) => {
                    expected.insert((db.parse().unwrap(), key.to_string()), Want::Absent);
                }
                (Some("CTR"), Some(n), None) => max_counter = max_counter.max(n.parse().unwrap()),
                (Some("XADD"), Some(db), Some(id)) => {
                    let (w, n) = (parts.next().unwrap(), parts.next().unwrap());
                    // Every tenth entry is deleted next: until that is acknowledged, either.
                    let want = if n.ends_with('9') {
                        Want::Either
                    } else {
                        Want::Present
                    };
                    entries.insert(
                        (db.parse().unwrap(), stream_id(id)),
                        (want, [w.into(), n.into()]),
                    );
                }
                (Some("XDEL"), Some(db), Some(id)) => {
                    let e = entries
                        .get_mut(&(db.parse().unwrap(), stream_id(id)))
                        .unwrap();
                    e.0 = Want::Absent;
                }
                _ => {}
            }
        }
        verify(&data, sync, &expected, max_counter, cycle);
        verify_streams(&data, sync, &entries, cycle);
        eprintln!(
            "crash cycle {cycle} ({}): {} lines, child ran {ran:?}, verified after {:?}",
            sync.as_str(),
            lines.len(),
            started.elapsed()
        );
    }
    assert!(
        total_acks > cycles as usize,
        "the children acknowledged almost nothing: {total_acks}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn run_child_and_kill(exe: &Path, test: &str, dir: &Path, cycle: u64) -> Vec<String> {
    let mut command = Command::new(exe);
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env("KV_CRASH_CYCLE", cycle.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut tries = 0;
    let mut child = loop {
        match command.spawn() {
            Ok(child) => break child,
            // ETXTBSY: the other crash test's thread forked while this one was writing its copy
            // of the binary, and that fork holds the write descriptor until it execs.
            Err(e) if e.raw_os_error() == Some(26) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("cannot start the child: {e}"),
        }
    };
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest prints "test <name> ... " on the same line before the child's output.
            if line.ends_with("READY") {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    // Kill only once the child has opened the store (bounded wait), then after a pseudo-random
    // delay: mid-write, mid-fsync or mid-snapshot.
    let _ = rx.recv_timeout(Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(delay_ms(cycle)));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Present,
    Absent,
    Either,
}

fn verify(
    dir: &Path,
    sync: SyncMode,
    expected: &HashMap<(usize, String), Want>,
    max_counter: u64,
    cycle: u64,
) {
    let kv = Kv::open(dir, opts(), persist(sync))
        .unwrap_or_else(|e| panic!("cycle {cycle}: reopen failed: {e}"));
    for ((db, key), want) in expected {
        let got = kv.db(*db).unwrap().get(key).unwrap();
        match want {
            Want::Present => assert_eq!(
                got.as_deref(),
                Some(value_of(key).as_bytes()),
                "cycle {cycle}: acknowledged write of {key} in db {db} lost"
            ),
            Want::Absent => {
                assert_eq!(
                    got, None,
                    "cycle {cycle}: acknowledged delete of {key} in db {db} lost"
                )
            }
            Want::Either => {}
        }
    }
    for db in 0..2 {
        let d = kv.db(db).unwrap();
        for key in d.keys("*").unwrap() {
            let key = String::from_utf8(key).unwrap();
            if d.key_type(&key).unwrap() == Some(KeyType::Stream) {
                continue; // see verify_streams
            }
            let value = String::from_utf8(d.get(&key).unwrap().unwrap()).unwrap();
            if key == "counter" {
                let n: u64 = value.parse().unwrap();
                assert!(
                    n >= max_counter,
                    "cycle {cycle}: counter {n} < acknowledged {max_counter}"
                );
                continue;
            }
            assert_eq!(
                value,
                value_of(&key),
                "cycle {cycle}: invented value under {key}"
            );
            let n: u64 = key.rsplit('-').next().unwrap().parse().unwrap();
            let ttl = d.ttl(&key).unwrap();
            if n % 7 == 3 {
                assert!(
                    matches!(ttl, Ttl::ExpiresIn(left) if !left.is_zero()),
                    "cycle {cycle}: {key} lost its TTL"
                );
            } else {
                assert_eq!(ttl, Ttl::Persistent, "cycle {cycle}: {key} got a TTL");
            }
        }
    }
}

fn stream_id(text: &str) -> StreamId {
    StreamId::parse(text.as_bytes(), 0).unwrap()
}

/// Every acknowledged stream entry is there with its fields, every acknowledged delete stayed,
/// and every entry found is one a child tried to add.
fn verify_streams(
    dir: &Path,
    sync: SyncMode,
    expected: &HashMap<(usize, StreamId), (Want, [String; 2])>,
    cycle: u64,
) {
    let kv = Kv::open(dir, opts(), persist(sync))
        .unwrap_or_else(|e| panic!("cycle {cycle}: reopen failed: {e}"));
    for db in 0..2 {
        let found = kv.db(db).unwrap().xrange("xs", .., None).unwrap();
        for e in &found {
            let [(w, wv), (n, nv)] = &e.fields[..] else {
                panic!("cycle {cycle}: invented entry {e:?}");
            };
            assert_eq!(
                (&w[..], &n[..]),
                (&b"w"[..], &b"n"[..]),
                "cycle {cycle}: {e:?}"
            );
            let t: usize = String::from_utf8_lossy(wv).parse().unwrap();
            assert_eq!(t % 2, db, "cycle {cycle}: {e:?} in the wrong database");
            assert!(nv.contains(&b'-'), "cycle {cycle}: invented entry {e:?}");
        }
        for ((d, id), (want, fields)) in expected {
            if *d != db {
                continue;
            }
            let got = found.iter().find(|e| e.id == *id);
            match want {
                Want::Present => {
                    let e = got.unwrap_or_else(|| {
                        panic!("cycle {cycle}: acknowledged XADD {id} in db {db} lost")
                    });
                    let want: Vec<(Vec<u8>, Vec<u8>)> = vec![
                        (b"w".to_vec(), fields[0].clone().into_bytes()),
                        (b"n".to_vec(), fields[1].clone().into_bytes()),
                    ];
                    assert_eq!(e.fields, want, "cycle {cycle}: entry {id} changed");
                }
                Want::Absent => assert!(
                    got.is_none(),
                    "cycle {cycle}: acknowledged XDEL {id} in db {db} lost"
                ),
                Want::Either => {}
            }
        }
    }
}
