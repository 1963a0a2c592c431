//! Bitmaps and HyperLogLogs on a persistent store: what they journal (changed bytes, never new
//! record types) replays to the same bytes, from the log alone and from a snapshot plus the
//! log; and the log stays small for a large bitmap.

use std::sync::Arc;

use kvcore::{
    BitOp, BitfieldOp, BitfieldType, BitmapStore, Db, HllDebug, HllStore, Kv, ManualClock, Options,
    Overflow, PersistOptions, Store, SyncMode,
};

use crate::{T0, TempDir};

fn open(dir: &TempDir) -> Kv {
    let opts = Options::new()
        .shards(4)
        .clock(Arc::new(ManualClock::new(T0)));
    // Small log segments, so the directory's size follows what was logged.
    let persist = PersistOptions::new()
        .sync(SyncMode::No)
        .wal_segment_bytes(1 << 20);
    Kv::open(&dir.0, opts, persist).unwrap()
}

/// xorshift64*: the test's own deterministic randomness.
struct Rand(u64);

impl Rand {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn step(db: &Db, r: &mut Rand) {
    let bm = ["b1", "b2", "b3"][r.next(3) as usize];
    let hl = ["h1", "h2", "h3"][r.next(3) as usize];
    let ty = if r.next(2) == 0 {
        BitfieldType::signed(1 + r.next(64) as u8).unwrap()
    } else {
        BitfieldType::unsigned(1 + r.next(63) as u8).unwrap()
    };
    let overflow = [Overflow::Wrap, Overflow::Sat, Overflow::Fail][r.next(3) as usize];
    let offset = r.next(2000);
    let value = r.next(u64::MAX) as i64;
    let _ = match r.next(12) {
        0..=2 => db.setbit(bm, r.next(5000), r.next(2) == 1).map(drop),
        3 => db
            .bitfield(
                bm,
                &[
                    BitfieldOp::IncrBy {
                        ty,
                        offset,
                        by: value % 1000,
                        overflow,
                    },
                    BitfieldOp::Set {
                        ty,
                        offset: r.next(3000),
                        value,
                        overflow,
                    },
                ],
            )
            .map(drop),
        4 => db
            .bitop(
                [BitOp::And, BitOp::Or, BitOp::Xor][r.next(3) as usize],
                bm,
                &["b1", "b2", "b3", "none"][..1 + r.next(4) as usize],
            )
            .map(drop),
        5 => db.bitop(BitOp::Not, bm, &["b1"]).map(drop),
        6 | 7 => {
            let n = [1, 5, 300][r.next(3) as usize];
            let base = r.next(100_000);
            let items: Vec<String> = (0..n).map(|i| format!("e{}", base + i)).collect();
            db.pfadd(hl, &items).map(drop)
        }
        8 => db.pfcount(&[hl]).map(drop),
        9 => db.pfmerge(hl, &["h1", "h2", "h3"][..r.next(3) as usize]),
        10 => db.pfdebug(hl, HllDebug::ToDense).map(drop),
        _ => db.del(&[bm]).map(drop),
    };
}

fn dump(db: &Db) -> Vec<(String, Option<Vec<u8>>)> {
    ["b1", "b2", "b3", "h1", "h2", "h3"]
        .iter()
        .map(|k| (k.to_string(), db.get(k).unwrap()))
        .collect()
}

#[test]
fn random_bit_and_hll_commands_replay_to_the_same_bytes() {
    let mut dense = 0;
    for seed in 1..=8u64 {
        let dir = TempDir::new("bits", &format!("replay-{seed}"));
        let mut r = Rand(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let kv = open(&dir);
        let db = kv.db(0).unwrap();
        for i in 0..300 {
            step(&db, &mut r);
            if seed % 3 == 0 && i == 150 {
                kv.save().unwrap(); // the rest replays on top of a snapshot
            }
        }
        let before = dump(&db);
        dense += before
            .iter()
            .filter(|(_, v)| v.as_ref().is_some_and(|v| v.len() == 12304))
            .count();
        drop(db);
        drop(kv);
        let kv = open(&dir);
        let after = dump(&kv.db(0).unwrap());
        assert_eq!(after, before, "seed {seed}");
    }
    assert!(dense > 3, "the workload made {dense} dense HyperLogLogs");
}

#[test]
fn setbit_far_out_logs_bytes_not_the_bitmap() {
    let dir = TempDir::new("bits", "far");
    let kv = open(&dir);
    let db = kv.db(0).unwrap();
    // A 64 MiB bitmap, changed a thousand times.
    for i in 0..1000u64 {
        db.setbit("big", (64 << 23) - 1 - i * 7919, true).unwrap();
    }
    db.pfadd("h", &["a"]).unwrap();
    let many: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
    db.pfadd("h", &many).unwrap();
    for i in 0..1000 {
        db.pfadd("h", &[format!("x{i}")]).unwrap();
    }
    let count = db.pfcount(&["h"]).unwrap();
    let big = db.get("big").unwrap().unwrap();
    assert_eq!(big.len(), 64 << 20);
    drop(db);
    drop(kv);
    let log: u64 = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    // 1 MiB segments: a bitmap logged whole would take 64 of them.
    let kv = open(&dir);
    let db = kv.db(0).unwrap();
    assert_eq!(db.get("big").unwrap().unwrap(), big);
    assert_eq!(db.pfcount(&["h"]).unwrap(), count);
    assert!(log < 8 << 20, "the data directory holds {log} bytes");
}

/// A BITFIELD whose writes all fail (OVERFLOW FAIL) still grows the string, as in Redis; the
/// log must carry the growth.
#[test]
fn a_failed_bitfield_write_still_grows_the_string_after_replay() {
    let dir = TempDir::new("bits", "fail-grows");
    let kv = open(&dir);
    let db = kv.db(0).unwrap();
    let u2 = BitfieldType::unsigned(2).unwrap();
    let fail = |offset| BitfieldOp::IncrBy {
        ty: u2,
        offset,
        by: 9,
        overflow: Overflow::Fail,
    };
    assert_eq!(db.bitfield("new", &[fail(100)]).unwrap(), vec![None]);
    db.set("old", "ab").unwrap();
    let ops = [
        BitfieldOp::Set {
            ty: u2,
            offset: 0,
            value: 1,
            overflow: Overflow::Wrap,
        },
        fail(200),
    ];
    assert_eq!(db.bitfield("old", &ops).unwrap(), vec![Some(1), None]);
    let before = (db.get("new").unwrap(), db.get("old").unwrap());
    assert_eq!(before.0, Some(vec![0; 13]));
    drop(db);
    drop(kv);
    let kv = open(&dir);
    let db = kv.db(0).unwrap();
    assert_eq!((db.get("new").unwrap(), db.get("old").unwrap()), before);
}
