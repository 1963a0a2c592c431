//! Key-space commands: DEL, EXISTS, KEYS, RENAME(NX), COPY, DBSIZE, FLUSHDB.

use crate::access::MultiWrite;
use crate::bytes::SmallBytes;
use crate::effect::Effect;
use crate::entry::Value;
use crate::error::{Error, Result};
use crate::glob::Pattern;
use crate::kv::Db;
use crate::notify::Class;

/// In a persistent store, durable (see `Inner::durable`).
pub(crate) fn del(db: &Db, keys: &[&[u8]]) -> Result<u64> {
    // The record names every key that existed: bounded by all of them.
    db.admit().keys(keys)?.check()?;
    let ids: Vec<_> = keys.iter().map(|&k| (db.index, k)).collect();
    db.write_many(&ids, |locked| {
        let mut n = 0;
        for &k in keys {
            let mut slot = locked.slot(db.index, k);
            if slot.remove().is_some() {
                slot.journal(Effect::Del {
                    db: db.index,
                    key: k,
                });
                slot.notify(Class::Generic, "del");
                n += 1;
            }
        }
        Ok(n)
    })
}

pub(crate) fn exists(db: &Db, keys: &[&[u8]]) -> u64 {
    let ids: Vec<_> = keys.iter().map(|&k| (db.index, k)).collect();
    let locked = db.lock_read(&ids);
    keys.iter()
        .filter(|&&k| locked.entry(db.index, k).is_some())
        .count() as u64
}

pub(crate) fn keys(db: &Db, pattern: &[u8]) -> Vec<Vec<u8>> {
    let pattern = Pattern::new(pattern);
    let inner = &*db.inner;
    let now = inner.now();
    let mut out = Vec::new();
    // One shard at a time: KEYS never holds more than one lock.
    for s in 0..inner.shard_count() {
        let shard = db.shard_read(db.index, s);
        for (_, slot) in shard.iter() {
            if !slot.entry.is_expired(now) && pattern.matches(&slot.key) {
                out.push(slot.key.to_vec());
            }
        }
    }
    out
}

/// RENAME (`nx` false) and RENAMENX (`nx` true).
pub(crate) fn rename(db: &Db, src: &[u8], dst: &[u8], nx: bool) -> Result<bool> {
    db.admit().key(src)?.key(dst)?.check()?;
    let d = db.index;
    db.write_many(&[(d, src), (d, dst)], |locked| {
        rename_locked(locked, d, src, dst, nx)
    })
}

fn rename_locked(
    locked: &mut MultiWrite<'_>,
    d: usize,
    src: &[u8],
    dst: &[u8],
    nx: bool,
) -> Result<bool> {
    if locked.slot(d, src).entry().is_none() {
        return Err(Error::NoSuchKey);
    }
    if src == dst {
        return Ok(!nx);
    }
    if nx && locked.slot(d, dst).entry().is_some() {
        return Ok(false);
    }
    let Some(entry) = locked.slot(d, src).remove() else {
        unreachable!("checked above")
    };
    let mut slot = locked.slot(d, dst);
    slot.put_entry(entry);
    slot.journal(Effect::Rename { db: d, src, dst });
    drop(slot);
    locked.notify(Class::Generic, "rename_from", d, src);
    locked.notify(Class::Generic, "rename_to", d, dst);
    Ok(true)
}

/// In a persistent store, durable (see `Inner::durable`).
pub(crate) fn copy(
    db: &Db,
    src: &[u8],
    dst: &[u8],
    dst_db: Option<usize>,
    replace: bool,
) -> Result<bool> {
    let (s, d) = (db.index, dst_db.unwrap_or(db.index));
    if d >= db.inner.databases() {
        return Err(Error::DbIndexOutOfRange);
    }
    if s == d && src == dst {
        return Err(Error::SameObject);
    }
    db.admit().key(src)?.key(dst)?.check()?;
    db.write_many(&[(s, src), (d, dst)], |locked| {
        copy_locked(locked, (s, src), (d, dst), replace)
    })
}

fn copy_locked(
    locked: &mut MultiWrite<'_>,
    (s, src): (usize, &[u8]),
    (d, dst): (usize, &[u8]),
    replace: bool,
) -> Result<bool> {
    let Some(mut entry) = locked.slot(s, src).entry().cloned() else {
        return Ok(false);
    };
    let mut slot = locked.slot(d, dst);
    if slot.entry().is_some() && !replace {
        return Ok(false);
    }
    let now = slot.now();
    entry.touch(now);
    slot.put_entry(entry);
    slot.journal(Effect::Copy {
        src_db: s,
        src,
        dst_db: d,
        dst,
    });
    slot.notify(Class::Generic, "copy_to");
    Ok(true)
}

/// MOVE; in a persistent store, durable (see `Inner::durable`).
pub(crate) fn move_key(db: &Db, key: &[u8], dst_db: usize) -> Result<bool> {
    let (s, d) = (db.index, dst_db);
    if d >= db.inner.databases() {
        return Err(Error::DbIndexOutOfRange);
    }
    if s == d {
        return Err(Error::SameObject);
    }
    db.admit().key(key)?.key(key)?.check()?;
    db.write_many(&[(s, key), (d, key)], |locked| {
        move_locked(locked, key, s, d)
    })
}

fn move_locked(locked: &mut MultiWrite<'_>, key: &[u8], s: usize, d: usize) -> Result<bool> {
    if locked.slot(d, key).entry().is_some() {
        return Ok(false);
    }
    let Some(entry) = locked.slot(s, key).remove() else {
        return Ok(false);
    };
    // The whole entry moves: value, expiry and times. The log says copy then delete, in one
    // group record (the source still exists when a replay copies it).
    let mut slot = locked.slot(d, key);
    slot.put_entry(entry);
    slot.journal(Effect::Copy {
        src_db: s,
        src: key,
        dst_db: d,
        dst: key,
    });
    slot.journal(Effect::Del { db: s, key });
    drop(slot);
    locked.notify(Class::Generic, "move_from", s, key);
    locked.notify(Class::Generic, "move_to", d, key);
    Ok(true)
}

pub(crate) fn dbsize(db: &Db) -> u64 {
    let inner = &*db.inner;
    (0..inner.shard_count())
        .map(|s| db.shard_read(db.index, s).len() as u64)
        .sum()
}

/// In a persistent store, durable (see `Inner::durable`).
pub(crate) fn flushdb(db: &Db) -> Result<()> {
    let inner = &*db.inner;
    // An optimistic transaction cannot undo it: it takes the gate first, or gives up.
    if db.tx().is_some_and(|tx| !tx.pin(inner)) {
        return Err(crate::Error::Conflict);
    }
    db.durable(|logged| {
        // Every shard of the database, in order: the order gate first (Invariant 12).
        let _gate = db.tx().is_none().then(|| inner.gate());
        let mut guards: Vec<_> = (0..inner.shard_count())
            .map(|s| db.shard_write(db.index, s))
            .collect();
        if inner.watches.any() {
            // A watched key changes only if it existed (and had not expired).
            let now = inner.now();
            inner.watches.touch_db(db.index, |key| {
                let hash = inner.hash(key);
                let shard = &guards[inner.shard_of(hash)];
                shard
                    .find(hash, key)
                    .is_some_and(|i| !shard.get(i).entry.is_expired(now))
            });
        }
        for g in &mut guards {
            g.clear();
        }
        inner.journal(Effect::FlushDb { db: db.index }, logged);
        Ok(())
    })
}

/// OBJECT ENCODING's answer for a value.
pub(crate) fn encoding(value: &Value) -> &'static str {
    match value {
        Value::String(s) => string_encoding(s),
        // Containers report what Redis would use at their size (see types/).
        Value::List(l) => l.encoding(),
        Value::Hash(h) => h.encoding(),
        Value::Set(s) => s.encoding(),
        Value::ZSet(z) => z.encoding(),
        Value::Stream(_) => "stream",
    }
}

/// Redis's string encodings: `int` for a canonical integer, `embstr` up to 44 bytes, else
/// `raw`. A string APPEND or SETRANGE changed in place is `raw` at any length, as in Redis
/// (which turns a value into a raw sds before it modifies it); in kvcore exactly those strings
/// live on the heap below the inline limit.
fn string_encoding(s: &SmallBytes) -> &'static str {
    if s.is_heap() {
        "raw"
    } else if s.len() <= 20 && crate::number::parse_i64(s).is_some() {
        "int"
    } else if s.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}
