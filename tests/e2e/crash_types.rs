//! Every container type survives `kill -9`. Writer threads run random list, hash, set,
//! sorted-set and stream (XADD with `<ms>-*` IDs and MAXLEN, XDEL, XTRIM) commands (plus EXPIRE, PERSIST, DEL, RENAME and the two-key LMOVE, SMOVE, S*STORE
//! and Z*STORE) against a real server started with `--sync always` (and again with `everysec`,
//! whose mapped log must not lose an acknowledged write to a process crash either), each on keys
//! of its own, and keep a model of what the server acknowledged. The server is killed at a random moment (in
//! some cycles during or after a snapshot), restarted on the same data directory, and every key
//! is read back in full and compared with the model.
//!
//! Writers send one command at a time or a pipelined batch (committed once, before its
//! replies). Writes in flight when the server died may or may not have been applied: the check
//! accepts any prefix of the writer's unanswered batch, and nothing else. Set `KV_CRASH_SEED`
//! to replay a seed (thread interleaving and kill timing still vary; each writer's operation
//! stream does not).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use redis::Value;

use super::support::{Server, TempDir, error_text};

mod model;

use model::{
    Entry, KEYS_PER_KIND, KINDS, Model, Op, Rng, Val, key_name, random_op, show_entry, show_ops,
};

const WRITERS: usize = 4;
const CYCLES: usize = 8;

/// What a writer hands back when its connection dies: the acknowledged model, the operations
/// whose replies never came (some prefix of them may have been applied), and the acknowledged
/// ones.
struct Outcome {
    model: Model,
    in_flight: Vec<Op>,
    /// The acknowledged operations, in order, for a failure message.
    history: Vec<Op>,
}

/// Runs random operations, one at a time or in pipelined batches (which the server commits
/// once, before the batch's replies), until the connection breaks (the server was killed),
/// checking every reply against the model.
fn write_until_killed(
    mut con: redis::Connection,
    writer: usize,
    seed: u64,
    mut model: Model,
) -> Outcome {
    let mut rng = Rng::new(seed);
    let mut history = Vec::new();
    loop {
        let batch = if rng.below(4) == 0 {
            2 + rng.below(5)
        } else {
            1
        };
        // Each operation is chosen knowing the effects of the ones before it in the batch.
        let mut scratch = model.clone();
        let ops: Vec<Op> = (0..batch)
            .map(|_| {
                let op = random_op(&mut rng, writer, &scratch);
                op.apply(&mut scratch);
                op
            })
            .collect();
        let mut pipe = redis::pipe();
        for op in &ops {
            let mut cmd = redis::Cmd::new();
            for a in op.args() {
                cmd.arg(a);
            }
            pipe.add_command(cmd);
        }
        match pipe.query::<Vec<Value>>(&mut con) {
            Ok(replies) => {
                assert_eq!(replies.len(), ops.len(), "one reply per command");
                for (op, got) in ops.iter().zip(&replies) {
                    let want = op.apply(&mut model);
                    assert!(
                        want.matches(got),
                        "writer {writer} (seed {seed}): {} answered {got:?}, the model says \
                         {want:?}",
                        show_ops(std::slice::from_ref(op))
                    );
                }
                history.extend(ops);
            }
            // An error reply is the server answering: none of these commands may fail.
            Err(e) if e.code().is_some() => {
                panic!(
                    "writer {writer} (seed {seed}): {} failed: {}",
                    show_ops(&ops),
                    error_text(&e)
                )
            }
            Err(_) => {
                return Outcome {
                    model,
                    in_flight: ops,
                    history,
                };
            }
        }
    }
}

fn query(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::Cmd::new();
    for a in args {
        cmd.arg(*a);
    }
    cmd.query(con)
        .unwrap_or_else(|e| panic!("{args:?}: {}", error_text(&e)))
}

fn bulks(v: Value) -> Vec<Vec<u8>> {
    let Value::Array(items) = v else {
        panic!("expected an array, got {v:?}")
    };
    items
        .into_iter()
        .map(|i| match i {
            Value::BulkString(b) => b,
            other => panic!("expected a bulk string, got {other:?}"),
        })
        .collect()
}

/// Reads every key `writer` may have written, in full, from the server.
fn observe(con: &mut redis::Connection, writer: usize) -> Model {
    let mut model = Model::new();
    for kind in KINDS {
        for i in 0..KEYS_PER_KIND {
            let key = key_name(writer, kind, i);
            let Value::SimpleString(ty) = query(con, &["TYPE", &key]) else {
                panic!("TYPE answers a status")
            };
            let val = match ty.as_str() {
                "none" => continue,
                "list" => Val::List(bulks(query(con, &["LRANGE", &key, "0", "-1"])).into()),
                "hash" => {
                    let flat = bulks(query(con, &["HGETALL", &key]));
                    let h: BTreeMap<_, _> = flat
                        .chunks(2)
                        .map(|p| (p[0].clone(), p[1].clone()))
                        .collect();
                    assert_eq!(h.len() * 2, flat.len(), "HGETALL {key} repeats a field");
                    Val::Hash(h)
                }
                "set" => {
                    let flat = bulks(query(con, &["SMEMBERS", &key]));
                    let s: BTreeSet<_> = flat.iter().cloned().collect();
                    assert_eq!(s.len(), flat.len(), "SMEMBERS {key} repeats a member");
                    Val::Set(s)
                }
                "zset" => {
                    let flat = bulks(query(con, &["ZRANGE", &key, "0", "-1", "WITHSCORES"]));
                    let pairs: Vec<(Vec<u8>, f64)> = flat
                        .chunks(2)
                        .map(|p| {
                            let s = std::str::from_utf8(&p[1]).unwrap();
                            (p[0].clone(), s.parse().expect("scores parse"))
                        })
                        .collect();
                    let in_order = pairs.windows(2).all(|w| {
                        let (a, b) = (&w[0], &w[1]);
                        a.1 < b.1 || (a.1 == b.1 && a.0 < b.0)
                    });
                    assert!(in_order, "ZRANGE {key} is out of order: {pairs:?}");
                    Val::ZSet(pairs.into_iter().collect())
                }
                "stream" => {
                    let Value::Array(entries) = query(con, &["XRANGE", &key, "-", "+"]) else {
                        panic!("XRANGE answers an array")
                    };
                    let s: Vec<model::StreamEntry> = entries
                        .into_iter()
                        .map(|e| {
                            let Value::Array(mut e) = e else {
                                panic!("an entry is an array")
                            };
                            let flat = bulks(e.pop().expect("fields"));
                            let Some(Value::BulkString(id)) = e.pop() else {
                                panic!("an entry starts with its ID")
                            };
                            let id = String::from_utf8(id).unwrap();
                            let (ms, seq) = id.split_once('-').expect("ms-seq");
                            let pairs = flat
                                .chunks(2)
                                .map(|p| (p[0].clone(), p[1].clone()))
                                .collect();
                            ((ms.parse().unwrap(), seq.parse().unwrap()), pairs)
                        })
                        .collect();
                    assert!(
                        s.windows(2).all(|w| w[0].0 < w[1].0),
                        "XRANGE {key} is out of order"
                    );
                    Val::Stream(s)
                }
                other => panic!("{key} has type {other}"),
            };
            let Value::Int(ttl) = query(con, &["TTL", &key]) else {
                panic!("TTL answers an integer")
            };
            assert!(ttl == -1 || ttl > 0, "{key} has TTL {ttl}");
            model.insert(
                key,
                Entry {
                    val,
                    expires: ttl > 0,
                },
            );
        }
    }
    model
}

/// Keys on which two models differ, with the last acknowledged writes to each since the
/// previous restart, for a failure message.
fn diff(want: &Model, got: &Model, history: &[Op]) -> String {
    let keys: BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    keys.into_iter()
        .filter(|k| want.get(*k) != got.get(*k))
        .map(|k| {
            let touching: Vec<Op> = history
                .iter()
                .filter(|op| op.args().iter().any(|a| a == k.as_bytes()))
                .cloned()
                .collect();
            let last = &touching[touching.len().saturating_sub(8)..];
            format!(
                "  {k}:\n    model:  {}\n    server: {}\n    last writes since the previous \
                 restart ({} in all): {}\n",
                show_entry(want.get(k)),
                show_entry(got.get(k)),
                touching.len(),
                show_ops(last)
            )
        })
        .collect()
}

fn info_field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO lacks {name}:\n{info}"))
}

/// How many times the server has synced log records to disk (`kv_log_syncs`).
fn log_syncs(con: &mut redis::Connection) -> u64 {
    let Value::BulkString(info) = query(con, &["INFO", "persistence"]) else {
        panic!("INFO answers a bulk string")
    };
    info_field(&String::from_utf8_lossy(&info), "kv_log_syncs")
}

#[test]
fn every_container_type_survives_kill_9() {
    survives_kill_9("always");
}

#[test]
fn every_container_type_survives_kill_9_with_everysec() {
    survives_kill_9("everysec");
}

#[test]
fn every_container_type_survives_kill_9_with_everysec_unmapped() {
    survives_kill_9("everysec-unmapped");
}

/// `sync` is a `--sync` mode, or `everysec-unmapped` for `everysec` with `--wal-mmap no`.
fn survives_kill_9(sync: &str) {
    let seed = std::env::var("KV_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash_types ({sync}): KV_CRASH_SEED={seed}");
    let mut rng = Rng::new(seed);
    let dir = TempDir::new(&format!("crash-types-{sync}"));
    let start = || match sync {
        "everysec-unmapped" => Server::durable_with(&dir, "everysec", &["--wal-mmap", "no"]),
        mode => Server::durable(&dir, mode),
    };
    let mut models = vec![Model::new(); WRITERS];
    let mut in_flight: Vec<Vec<Op>> = vec![Vec::new(); WRITERS];
    let mut histories: Vec<Vec<Op>> = vec![Vec::new(); WRITERS];
    let (mut acked, mut ambiguous, mut snapshot_loads, mut log_only) = (0, 0, 0, 0);
    for cycle in 0..=CYCLES {
        let server = start();
        let mut con = server.client();
        for w in 0..WRITERS {
            let got = observe(&mut con, w);
            if got == models[w] {
                continue;
            }
            // Writes in flight at the kill were applied: that is allowed for a prefix of them
            // (the log keeps a connection's writes in order), and from now on it is part of
            // the model.
            let mut applied = models[w].clone();
            let mut matched = false;
            for op in &in_flight[w] {
                op.apply(&mut applied);
                if got == applied {
                    matched = true;
                    break;
                }
            }
            assert!(
                matched,
                "seed {seed}, restart {cycle}, writer {w}: the server lost or invented data \
                 (in flight at the kill: {})\n{}",
                show_ops(&in_flight[w]),
                diff(&models[w], &got, &histories[w])
            );
            models[w] = applied;
            ambiguous += 1;
        }
        let Value::BulkString(info) = query(&mut con, &["INFO", "persistence"]) else {
            panic!("INFO answers a bulk string")
        };
        let info = String::from_utf8_lossy(&info);
        let from_snapshot = info_field(&info, "kv_recovered_keys");
        let replayed = info_field(&info, "kv_recovered_records");
        snapshot_loads += u64::from(from_snapshot > 0);
        log_only += u64::from(from_snapshot == 0 && replayed > 0);
        if cycle == CYCLES {
            break;
        }

        // Connected here, so a writer never races the kill to its first command.
        let connections: Vec<_> = (0..WRITERS).map(|_| server.client()).collect();
        let writers: Vec<_> = connections
            .into_iter()
            .enumerate()
            .map(|(w, con)| {
                let model = std::mem::take(&mut models[w]);
                let seed = rng.next();
                std::thread::spawn(move || write_until_killed(con, w, seed, model))
            })
            .collect();
        let run = Duration::from_millis(50 + rng.below(251));
        // Cycle 1, 4, 7 take a snapshot in the background, 2 and 5 a foreground one, partway
        // through the writes; either may still be running when the kill comes.
        let snapshot = ["", "BGSAVE", "SAVE"][cycle % 3];
        if snapshot.is_empty() {
            std::thread::sleep(run);
            // The first restart must have a log to replay, however slow this machine is: with
            // `always`, wait for a first fdatasync of records (appended ones may still be in
            // memory). (With `everysec` an appended record is in the file at once.)
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while cycle == 0
                && sync == "always"
                && log_syncs(&mut con) == 0
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(10));
            }
        } else {
            let at = run.mul_f64(rng.below(100) as f64 / 100.0);
            std::thread::sleep(at);
            match redis::cmd(snapshot).query::<Value>(&mut con) {
                Ok(_) => {}
                Err(e) => assert_eq!(
                    error_text(&e),
                    "ERR Background save already in progress",
                    "{snapshot} (seed {seed})"
                ),
            }
            std::thread::sleep(run.saturating_sub(at));
        }
        // Dropping the guard sends SIGKILL: no shutdown path runs.
        drop(server);
        for (w, t) in writers.into_iter().enumerate() {
            let out = t
                .join()
                .unwrap_or_else(|_| panic!("writer {w} failed its checks (seed {seed})"));
            models[w] = out.model;
            in_flight[w] = out.in_flight;
            acked += out.history.len();
            histories[w] = out.history;
        }
    }
    eprintln!(
        "crash_types ({sync}): {CYCLES} kills, {acked} acknowledged writes, {ambiguous} in-flight writes \
         found applied, {snapshot_loads} restarts loaded a snapshot, {log_only} replayed the log alone"
    );
    assert!(acked > 0, "no write was acknowledged (seed {seed})");
    // Both recovery paths ran: the log alone (after cycle 0, which takes no snapshot), and a
    // snapshot plus the log after it.
    assert!(
        snapshot_loads > 0,
        "no restart loaded a snapshot (seed {seed})"
    );
    assert!(
        log_only > 0,
        "no restart replayed the log alone (seed {seed})"
    );
}
