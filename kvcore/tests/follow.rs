//! In-process followers: a store kept equal to another by applying its replication stream
//! ([`Follower`], [`StreamApplier`]). Random writes of every type run on a primary before the
//! follower starts (its full sync) and from threads while it follows; then every key of every
//! database, its dump and its expiry, and the function libraries, must be the same on both.

use std::sync::Arc;
use std::time::Duration;

use kvcore::{
    Clock, Db, End, ExpireCondition, ExpireTime, Follower, GroupStart, HashStore, Kv, ListStore,
    ManualClock, Options, ReadGroup, Replication, Scope, SetExpiry, SetOptions, SetStore, Store,
    StreamApplier, StreamId, StreamStore, XAddId, XAddOptions, XSetIdOptions, XTrim, ZAddFlags,
    ZSetStore,
};

use super::T0;

const DBS: usize = 4;
const WAIT: Duration = Duration::from_secs(60);

/// A primary and a follower store sharing one manual clock (so "expired" means the same on
/// both when they are compared).
fn pair() -> (Kv, Kv, ManualClock) {
    let clock = ManualClock::new(T0);
    let opts = || {
        Options::new()
            .shards(8)
            .databases(DBS)
            .clock(Arc::new(clock.clone()))
    };
    (Kv::in_memory(opts()), Kv::in_memory(opts()), clock)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn key(&mut self, kind: &str) -> String {
        format!("{kind}{}", self.below(6))
    }

    fn word(&mut self) -> String {
        format!("w{}", self.below(12))
    }
}

/// One random write (or a read that may expire a key) on `kv`; errors (a wrong type, a
/// missing key) are part of the game and ignored.
fn random_op(kv: &Kv, rng: &mut Rng, clock: &ManualClock) {
    let dbi = rng.below(DBS as u64) as usize;
    let db = kv.db(dbi).unwrap();
    let op = rng.below(40);
    // Keys by type, so that most operations find the type they work on; the generic ones
    // (expiry, DEL, RENAME, COPY, transactions, reads) take any.
    let kind = match op {
        0..=5 | 11 | 12 => "s",
        13..=16 => "l",
        17..=20 => "h",
        21..=24 => "t",
        25..=28 => "z",
        29..=32 | 39 => "x",
        _ => ["s", "l", "h", "t", "z", "x"][rng.below(6) as usize],
    };
    let (k, k2) = (rng.key(kind), rng.key(kind));
    let (w, w2) = (rng.word(), rng.word());
    let now = clock.now_ms();
    match op {
        0..=2 => drop(db.set(&k, &w)),
        3 => {
            let at = SetExpiry::PxAt((now + 1 + rng.below(200)) as i64);
            drop(db.set_with(&k, &w, &SetOptions::new().expiry(at)));
        }
        4 => drop(db.append(&k, &w)),
        5 => drop(db.setrange(&k, rng.below(6), &w)),
        6 => drop(db.pexpireat(&k, (now + 1 + rng.below(300)) as i64, ExpireCondition::None)),
        7 => drop(db.persist(&k)),
        8 => drop(db.del(&[&k, &k2])),
        9 => drop(db.rename(&k, &k2)),
        10 => drop(db.copy(&k, &k2, Some(rng.below(DBS as u64) as usize), true)),
        11 => drop(db.mset(&[(&k, &w), (&k2, &w2)])),
        12 => drop(db.incr(&k)),
        13 | 14 => {
            let end = if rng.below(2) == 0 {
                End::Left
            } else {
                End::Right
            };
            drop(db.push(&k, end, &[&w, &w2]));
        }
        15 => drop(db.pop_count(&k, End::Left, rng.below(3) as usize)),
        16 => match rng.below(4) {
            0 => drop(db.lset(&k, rng.below(3) as i64 - 1, &w)),
            1 => drop(db.lrem(&k, rng.below(3) as i64 - 1, &w)),
            2 => drop(db.ltrim(&k, 0, rng.below(4) as i64)),
            _ => drop(db.linsert(&k, rng.below(2) == 0, &w, &w2)),
        },
        17 | 18 => drop(db.hset(&k, &[(&w, &w2), (&w2, &w)])),
        19 => drop(db.hdel(&k, &[&w])),
        20 => drop(db.hincrby(&k, &w, 3)),
        21 | 22 => drop(db.sadd(&k, &[&w, &w2])),
        23 => drop(db.srem(&k, &[&w])),
        24 => drop(db.smove(&k, &k2, &w)),
        25 | 26 => {
            let s = rng.below(1000) as f64 / 7.0;
            drop(db.zadd(&k, &[(s, &w), (-s, &w2)], &ZAddFlags::default()));
        }
        27 => drop(db.zrem(&k, &[&w])),
        28 => drop(db.zadd_incr(&k, 1.5, &w, &ZAddFlags::default())),
        29 | 30 => {
            let mut opts = XAddOptions::new();
            if rng.below(3) == 0 {
                opts = opts.trim(XTrim::max_len(rng.below(4)));
            }
            drop(db.xadd(&k, XAddId::Auto, &[(&w, &w2)], &opts));
        }
        31 => match rng.below(3) {
            0 => {
                let id = StreamId::new(now, rng.below(3));
                drop(db.xdel(&k, &[id]));
            }
            1 => drop(db.xtrim(&k, &XTrim::max_len(rng.below(3)))),
            _ => {
                let opts = XSetIdOptions::new().entries_added(1000);
                drop(db.xsetid(&k, StreamId::new(now + 5000, 0), &opts));
            }
        },
        32 | 39 => {
            let (g, c) = (format!("g{}", rng.below(2)), format!("c{}", rng.below(2)));
            match rng.below(5) {
                0 => drop(db.xgroup_create(&k, &g, GroupStart::Id(StreamId::MIN), Some(0), true)),
                1 | 2 => drop(db.xreadgroup(&k, &g, &c, ReadGroup::New, Some(2), false)),
                3 => {
                    let pending =
                        db.xreadgroup(&k, &g, &c, ReadGroup::History(StreamId::MIN), None, false);
                    if let Ok(p) = pending
                        && let Some((id, _)) = p.first()
                    {
                        drop(db.xack(&k, &g, &[*id]));
                    }
                }
                _ => match rng.below(2) {
                    0 => drop(db.xgroup_delconsumer(&k, &g, &c)),
                    _ => drop(db.xgroup_destroy(&k, &g)),
                },
            }
        }
        33 => {
            // A transaction over a few keys: MULTI ... EXEC in the stream.
            let keys = [(dbi, k.as_bytes()), (dbi, k2.as_bytes())];
            drop(kv.transaction(Scope::Keys(&keys), |tx| {
                let d = tx.db(dbi)?;
                drop(d.set(&k, &w));
                drop(d.push(&k2, End::Right, &[&w2]));
                drop(d.pexpireat(&k, (now + 50) as i64, ExpireCondition::None));
                Ok(())
            }));
        }
        34 => {
            // A whole-keyspace transaction with a FLUSHDB and a SWAPDB in it.
            // Sometimes with FLUSHALL or a function library too.
            let (flush, flush_all, library) =
                (rng.below(8) == 0, rng.below(64) == 0, rng.below(4) == 0);
            drop(kv.transaction(Scope::Everything, |tx| {
                let d = tx.db(dbi)?;
                if flush_all {
                    tx.kv().flushall()?;
                } else if flush {
                    drop(d.flushdb());
                }
                drop(d.set(&k, &w));
                tx.kv().swapdb(dbi, (dbi + 1) % DBS)?;
                if library {
                    let functions = tx.kv().function_store();
                    let code = format!(
                        "#!lua name=tx{w}\nredis.register_function('{w2}', function() return 2 end)"
                    );
                    functions.set(format!("tx{w}").as_bytes(), code.as_bytes())?;
                    functions.commit()?;
                }
                Ok(())
            }));
        }
        35 => match rng.below(16) {
            0 => drop(db.flushdb()),
            1 | 2 => drop(kv.swapdb(dbi, rng.below(DBS as u64) as usize)),
            3 if rng.below(4) == 0 => drop(kv.flushall()),
            _ => drop(db.get(&k)),
        },
        36 => {
            let functions = kv.function_store();
            let code =
                format!("#!lua name={w}\nredis.register_function('{w2}', function() return 1 end)");
            if rng.below(3) == 0 {
                drop(functions.delete(w.as_bytes()));
            } else {
                drop(functions.set(w.as_bytes(), code.as_bytes()));
            }
            drop(functions.commit());
        }
        37 => clock.advance(rng.below(40)),
        // Reads: a key whose time passed is deleted (and a DEL sent).
        _ => {
            drop(db.get(&k));
            drop(db.hgetall(&k));
        }
    }
}

/// Every live key of every database: its dump and its expiry; and the function libraries.
type State = (
    Vec<(usize, Vec<u8>, Option<Vec<u8>>, ExpireTime)>,
    Vec<(Vec<u8>, Vec<u8>)>,
);

fn state(kv: &Kv) -> State {
    let mut keys = Vec::new();
    for i in 0..DBS {
        let db: Db = kv.db(i).unwrap();
        let mut names = db.keys("*").unwrap();
        names.sort();
        for k in names {
            let dump = match db.xinfo_groups(&k) {
                Ok(Some(groups)) if groups.iter().any(|g| g.consumers > 0) => {
                    Some(stream_state(&db, &k, &groups).into_bytes())
                }
                _ => db.dump(&k),
            };
            let at = db.pexpiretime(&k).unwrap();
            keys.push((i, k, dump, at));
        }
    }
    (keys, kv.function_libraries())
}

/// A stream with consumers, without their seen and active times: a read that delivers nothing
/// (XREADGROUP of an empty history) updates a consumer's seen time with no effect to journal
/// (Redis does not replicate it either), and the stream's RESTORE (Redis 7.0's RDB format)
/// carries no active time, so the dumps differ there. Compared instead: the entries, the
/// groups (last ID, entries read, lag, pending), each consumer's name and pending count, and
/// every pending entry's consumer, delivery time and count.
fn stream_state(db: &Db, key: &[u8], groups: &[kvcore::GroupInfo]) -> String {
    let entries = db.xrange(key, .., None).unwrap();
    let mut out = format!("{entries:?} {groups:?}");
    for g in groups {
        for c in db.xinfo_consumers(key, &g.name).unwrap() {
            out += &format!(" {:?} {}", c.name, c.pending);
        }
        let pending = db
            .xpending_range(
                key,
                &g.name,
                StreamId::MIN,
                StreamId::MAX,
                usize::MAX,
                None,
                0,
            )
            .unwrap();
        for p in pending {
            out += &format!(
                " {:?} {:?} {} {}",
                p.id, p.consumer, p.delivered_at, p.deliveries
            );
        }
    }
    out
}

fn assert_same(primary: &Kv, follower: &Kv) {
    let (p, f) = (state(primary), state(follower));
    assert_eq!(p.1, f.1, "function libraries");
    assert_eq!(p.0.len(), f.0.len(), "key counts");
    for (a, b) in p.0.iter().zip(&f.0) {
        assert_eq!(
            a,
            b,
            "key {:?} of db {}",
            String::from_utf8_lossy(&a.1),
            a.0
        );
    }
}

fn wait(follower: &Follower, repl: &Replication) {
    assert!(follower.wait_for(repl.offset(), WAIT).unwrap(), "caught up");
}

#[test]
fn a_follower_equals_its_primary_after_random_writes_before_and_during_following() {
    let (primary, replica, clock) = pair();
    let repl = primary.replication();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Writes before: the full sync carries them (and the stream, once there is a backlog).
    for _ in 0..1500 {
        random_op(&primary, &mut rng, &clock);
    }
    // Writes from threads: the follower starts (its full sync) while the first round runs,
    // and follows the next ones; the stores are compared after each round.
    let mut follower = None;
    let mut kinds = std::collections::HashSet::new();
    for round in 0..3u64 {
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (primary, clock) = (&primary, &clock);
                s.spawn(move || {
                    let mut rng = Rng(0x1234_5678 + (round * 4 + t) * 0x1_0000_0001);
                    for _ in 0..1000 {
                        random_op(primary, &mut rng, clock);
                    }
                });
            }
            if follower.is_none() {
                follower = Some(Follower::start(&repl, &replica).unwrap());
            }
        });
        let follower = follower.as_ref().unwrap();
        wait(follower, &repl);
        assert_eq!(follower.offset(), repl.offset());
        assert!(replica.passive_expiry());
        assert_same(&primary, &replica);
        for (db, key, _, _) in state(&replica).0 {
            kinds.extend(replica.db(db).unwrap().key_type(&key).unwrap());
        }
    }
    // Every type was there at some comparison.
    assert_eq!(kinds.len(), 6, "{kinds:?}");
    follower.unwrap().stop().unwrap();
}

#[test]
fn a_stopped_follower_resumes_mid_stream_and_catches_up() {
    let (primary, replica, clock) = pair();
    let repl = primary.replication();
    let mut rng = Rng(42);
    for _ in 0..300 {
        random_op(&primary, &mut rng, &clock);
    }
    assert_eq!(
        Follower::start(&repl, &primary).unwrap_err(),
        kvcore::Error::SameObject,
        "a store cannot follow itself"
    );
    let follower = Follower::start(&repl, &replica).unwrap();
    let replid = follower.replid().to_string();
    for _ in 0..300 {
        random_op(&primary, &mut rng, &clock);
    }
    wait(&follower, &repl);
    let applier = follower.stop().unwrap();
    let stopped_at = applier.offset();
    for _ in 0..500 {
        random_op(&primary, &mut rng, &clock);
    }
    assert!(repl.offset() > stopped_at);
    let follower = Follower::resume(&repl, &replid, applier).unwrap();
    wait(&follower, &repl);
    assert_same(&primary, &replica);
    // A stream the backlog no longer holds cannot be resumed: a full sync is needed.
    let applier = follower.stop().unwrap();
    repl.set_backlog_size(64);
    for _ in 0..200 {
        primary
            .db(0)
            .unwrap()
            .set("filler", "x".repeat(100))
            .unwrap();
    }
    assert_eq!(
        Follower::resume(&repl, &replid, applier).unwrap_err(),
        kvcore::Error::BacklogOverrun
    );
}

#[test]
fn a_stream_applier_takes_the_stream_in_any_pieces_from_continue_from() {
    let (primary, replica, clock) = pair();
    let repl = primary.replication();
    let mut rng = Rng(7);
    for _ in 0..300 {
        random_op(&primary, &mut rng, &clock);
    }
    // The embedder's own transport: the RDB, then the stream bytes in ragged pieces.
    let mut sync = repl.full_sync();
    let mut rdb = Vec::new();
    sync.write_rdb(&mut rdb).unwrap();
    let offset = sync.offset();
    drop(sync);
    replica.set_passive_expiry(true);
    replica.load_rdb(&rdb[..]).unwrap();
    for _ in 0..800 {
        random_op(&primary, &mut rng, &clock);
    }
    let mut reader = repl.continue_from(&repl.replid(), offset + 1).unwrap();
    let mut bytes = Vec::new();
    while reader.read(&mut bytes, 1 << 20, Duration::ZERO).unwrap() > 0 {}
    let mut applier = StreamApplier::new(replica.clone(), offset);
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let n = (1 + rng.below(40) as usize).min(rest.len());
        applier.apply(&rest[..n]).unwrap();
        rest = &rest[n..];
        assert!(applier.offset() + applier.pending() == offset + (bytes.len() - rest.len()) as u64);
    }
    assert_eq!(applier.offset(), repl.offset());
    assert_eq!(applier.pending(), 0);
    assert_same(&primary, &replica);
}

#[test]
fn a_malformed_or_foreign_stream_is_an_error_that_names_it() {
    let bad: &[(&[u8], &str)] = &[
        (b"hello\r\n", "malformed at offset 1"),
        (b"*1\r\n$4\r\nSAVE\r\n", "unknown command 'SAVE' at offset 1"),
        (b"*2\r\n$3\r\nSET\r\n$1\r\nk\r\n", "SET at offset 1: syntax error"),
        (b"*-1\r\n", "bad length"),
        (b"*1\r\n$99999999999\r\n", "over the limit"),
        (b"*1\r\n$4\r\nPINGxx", "not followed by CRLF"),
        (b"*0\r\n", "an empty command"),
        (b"*1\r\n$4\r\nEXEC\r\n", "EXEC without MULTI"),
        (b"*2\r\n$6\r\nSELECT\r\n$2\r\n99\r\n", "out of range"),
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$1\r\nv\r\n",
            "LPUSH at offset 28: operation against a key holding the wrong kind of value",
        ),
        (
            b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nEXEC\r\n",
            "MULTI at offset 1: LPUSH: operation against a key holding the wrong kind of value",
        ),
    ];
    for &(stream, expected) in bad {
        let kv = Kv::in_memory(Options::new().databases(DBS));
        let mut applier = StreamApplier::new(kv, 0);
        let err = applier.apply(stream).unwrap_err();
        let kvcore::Error::BadStream(message) = &err else {
            panic!("{err:?}");
        };
        assert!(
            message.contains(expected),
            "{:?}: {message:?} lacks {expected:?}",
            stream.escape_ascii().to_string()
        );
        // Stopped: nothing more applies.
        assert_eq!(applier.apply(b"*1\r\n$4\r\nPING\r\n").unwrap_err(), err);
        assert_eq!(applier.error(), Some(&err));
    }
    // A command cut short is not an error: it waits for the rest.
    let kv = Kv::in_memory(Options::default());
    let mut applier = StreamApplier::new(kv.clone(), 100);
    assert_eq!(
        applier
            .apply(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r")
            .unwrap(),
        100
    );
    assert_eq!(applier.pending(), 23);
    assert_eq!(applier.apply(b"\nv\r\n").unwrap(), 127);
    assert_eq!(kv.db(0).unwrap().get("k").unwrap(), Some(b"v".to_vec()));
    // PING and REPLCONF GETACK count as applied bytes and change nothing.
    let getack = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n*1\r\n$4\r\nPING\r\n";
    assert_eq!(applier.apply(getack).unwrap(), 127 + getack.len() as u64);
}
