//! Replaying log records and loading snapshot entries into a store.
//!
//! Recovery runs with the store's clock pinned to 0 (see `RecoveryClock`), so nothing expires
//! half-way through a replay: every record meets the state it was logged against, and a key
//! whose deadline passed before the crash is still removed, by the lazy or active expiry that
//! runs once the real clock is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::clock::Clock;
use crate::kv::Kv;
use crate::ops;

use crate::entry::Value as MemValue;
use crate::types::{End, Hash, List, Set, Stream, StreamGroup, Trim, TrimBy, ZSet};

use super::convert::{add_scores, load_entries, load_groups, memory_id, memory_value};
use super::record::{Entry, Op, Record};

/// A clock that reads 0 while a recovery replays, and the real clock afterwards.
#[derive(Debug)]
pub(crate) struct RecoveryClock {
    real: Arc<dyn Clock>,
    replaying: AtomicBool,
}

impl RecoveryClock {
    /// Wraps `real`, starting pinned at 0.
    pub(crate) fn new(real: Arc<dyn Clock>) -> Self {
        RecoveryClock {
            real,
            replaying: AtomicBool::new(true),
        }
    }
    /// The real time, even while replaying.
    pub(crate) fn real_now(&self) -> u64 {
        self.real.now_ms()
    }
    /// Releases the pin: from now on the store reads the real clock.
    pub(crate) fn finish(&self) {
        self.replaying.store(false, Ordering::Release);
    }
}

impl Clock for RecoveryClock {
    fn now_ms(&self) -> u64 {
        if self.replaying.load(Ordering::Acquire) {
            0
        } else {
            self.real.now_ms()
        }
    }
}

/// Why a record or entry could not be applied.
#[derive(Debug)]
pub(crate) enum ApplyError {
    /// The record does not fit the state it meets (a key it needs is missing or of another
    /// type): recovery continues and warns, since the log was written against that state.
    Inconsistent(String),
    /// This build cannot represent the record at all: recovery must stop.
    Unsupported(String),
}

fn db(kv: &Kv, index: u32) -> Result<crate::kv::Db, ApplyError> {
    kv.db(index as usize).map_err(|_| {
        ApplyError::Unsupported(format!(
            "database {index} does not exist (the store is configured with {} databases)",
            kv.databases()
        ))
    })
}

fn value(v: super::record::Value<'_>) -> Result<crate::entry::Value, ApplyError> {
    memory_value(v).map_err(ApplyError::Unsupported)
}

/// Runs `f` on the container at `key` (of the kind `empty` makes, created if absent) under its
/// shard's write lock; an emptied container is deleted when the slot is dropped.
fn container(
    d: &crate::kv::Db,
    key: &[u8],
    what: &str,
    empty: impl FnOnce() -> MemValue,
    f: impl FnOnce(&mut MemValue) -> Result<(), String>,
) -> Result<(), ApplyError> {
    let res = d.write_entry(key, |slot| {
        if slot.entry().is_none() {
            slot.put(empty(), None);
        }
        // The entry exists: it was there or was just put.
        let v = slot.value_mut().expect("the entry exists");
        Ok(f(v))
    });
    match res {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(ApplyError::Inconsistent(format!("{what}: {why}"))),
        Err(e) => Err(ApplyError::Inconsistent(format!("{what}: {e}"))),
    }
}

const WRONG: &str = "the key holds another type";

/// Loads one snapshot entry (the caller drops entries already expired).
pub(crate) fn load_entry(kv: &Kv, e: Entry<'_>) -> Result<(), ApplyError> {
    if e.db == super::record::LIBRARY_DB {
        let super::record::Value::Library(code) = e.value else {
            return Err(ApplyError::Unsupported(
                "a snapshot entry of the library database holds a key's value".into(),
            ));
        };
        kv.inner
            .load_function_library(e.key.as_slice(), code.as_slice());
        return Ok(());
    }
    let d = db(kv, e.db)?;
    let v = value(e.value)?;
    let key = e.key.as_slice();
    d.write_entry(key, |slot| {
        slot.put(v, e.expire_at);
        Ok(())
    })
    .map_err(|err| ApplyError::Inconsistent(format!("{err}")))
}

/// Adds a later part of a container split over several snapshot frames to what the earlier
/// parts loaded (see `Snapshot::for_each`).
pub(crate) fn extend_entry(kv: &Kv, e: Entry<'_>) -> Result<(), ApplyError> {
    let d = db(kv, e.db)?;
    let key = e.key.as_slice();
    let what = "a later part of a split snapshot entry";
    match e.value {
        super::record::Value::Str(_) => Err(ApplyError::Unsupported(format!(
            "{what} is a string: only containers are split"
        ))),
        super::record::Value::Library(_) => Err(ApplyError::Unsupported(format!(
            "{what} is a function library: only containers are split"
        ))),
        super::record::Value::List(items) => list(&d, key, what, |l| {
            for item in &items {
                l.push(End::Right, item.as_slice());
            }
            Ok(())
        }),
        super::record::Value::Hash(pairs) => {
            let empty = || MemValue::Hash(Hash::new());
            container(&d, key, what, empty, |v| {
                let MemValue::Hash(h) = v else {
                    return Err(WRONG.into());
                };
                for (f, val) in &pairs {
                    h.set(f.as_slice(), val.as_slice());
                }
                Ok(())
            })
        }
        super::record::Value::Set(members) => {
            let empty = || MemValue::Set(Set::new());
            container(&d, key, what, empty, |v| {
                let MemValue::Set(s) = v else {
                    return Err(WRONG.into());
                };
                for m in &members {
                    s.add(m.as_slice());
                }
                Ok(())
            })
        }
        super::record::Value::ZSet(pairs) => {
            let empty = || MemValue::ZSet(ZSet::new());
            container(&d, key, what, empty, |v| {
                let MemValue::ZSet(z) = v else {
                    return Err(WRONG.into());
                };
                add_scores(z, &pairs)
            })
        }
        super::record::Value::StreamGroups(groups) => {
            existing_stream(&d, key, what, |s| load_groups(s, &groups))
        }
        super::record::Value::Stream(part) => stream(&d, key, what, |s| {
            load_entries(s, &part.entries)?;
            s.set_id(
                memory_id(part.last_id),
                Some(part.entries_added),
                Some(memory_id(part.max_deleted_id)),
            );
            Ok(())
        }),
    }
}

/// Applies one plain log record (not a group: see `wal::replay`) to the store.
pub(crate) fn apply(kv: &Kv, rec: Record<'_>) -> Result<(), ApplyError> {
    match rec.op {
        Op::FunctionLoad { name, code } => {
            kv.inner
                .load_function_library(name.as_slice(), code.as_slice());
            return Ok(());
        }
        Op::FunctionDelete { name } => {
            kv.inner.functions.lock().remove(name.as_slice());
            return Ok(());
        }
        Op::FunctionFlush => {
            kv.inner.functions.lock().clear();
            return Ok(());
        }
        _ => {}
    }
    let d = db(kv, rec.db)?;
    let inconsistent =
        |what: &str, err: crate::Error| ApplyError::Inconsistent(format!("{what}: {err}"));
    let missing = |what: &str| ApplyError::Inconsistent(format!("{what}: the key does not exist"));
    match rec.op {
        Op::Set {
            key,
            value: v,
            expire_at,
        } => {
            let v = value(v)?;
            d.write_entry(key.as_slice(), |slot| {
                slot.put(v, expire_at);
                Ok(())
            })
            .map_err(|e| inconsistent("set", e))?;
        }
        Op::Del { keys } => {
            let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
            ops::keys::del(&d, &keys).map_err(|e| inconsistent("del", e))?;
        }
        Op::Expire { key, at_ms } => {
            let found = d
                .write_entry(key.as_slice(), |slot| {
                    slot.set_expiry(Some(at_ms));
                    Ok(slot.entry().is_some())
                })
                .map_err(|e| inconsistent("expire", e))?;
            if !found {
                return Err(missing("expire"));
            }
        }
        Op::Persist { key } => {
            let found = d
                .write_entry(key.as_slice(), |slot| {
                    slot.set_expiry(None);
                    Ok(slot.entry().is_some())
                })
                .map_err(|e| inconsistent("persist", e))?;
            if !found {
                return Err(missing("persist"));
            }
        }
        Op::MSet { pairs } => {
            let pairs: Vec<(&[u8], &[u8])> = pairs
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice()))
                .collect();
            ops::string::mset(&d, &pairs, false).map_err(|e| inconsistent("mset", e))?;
        }
        Op::Rename { src, dst } => {
            ops::keys::rename(&d, src.as_slice(), dst.as_slice(), false)
                .map_err(|e| inconsistent("rename", e))?;
        }
        Op::Copy { src, dst, dst_db } => {
            db(kv, dst_db)?;
            let copied = ops::keys::copy(
                &d,
                src.as_slice(),
                dst.as_slice(),
                Some(dst_db as usize),
                true,
            )
            .map_err(|e| inconsistent("copy", e))?;
            if !copied {
                return Err(missing("copy"));
            }
        }
        Op::FlushDb => ops::keys::flushdb(&d).map_err(|e| inconsistent("flushdb", e))?,
        Op::FlushAll => kv.flushall().map_err(|e| inconsistent("flushall", e))?,
        Op::SwapDb { a, b } => {
            db(kv, a)?;
            db(kv, b)?;
            kv.swapdb(a as usize, b as usize)
                .map_err(|e| inconsistent("swapdb", e))?;
        }
        Op::Append { key, data } => {
            ops::string::append(&d, key.as_slice(), data.as_slice())
                .map_err(|e| inconsistent("append", e))?;
        }
        Op::SetRange { key, offset, data } => {
            ops::string::setrange(&d, key.as_slice(), offset, data.as_slice())
                .map_err(|e| inconsistent("setrange", e))?;
        }
        Op::ListPush { key, left, items } => {
            let end = if left { End::Left } else { End::Right };
            list(&d, key.as_slice(), "list push", |l| {
                for item in &items {
                    l.push(end, item.as_slice());
                }
                Ok(())
            })?;
        }
        Op::ListPop { key, left, count } => {
            let end = if left { End::Left } else { End::Right };
            list(&d, key.as_slice(), "list pop", |l| {
                if (l.len() as u64) < count {
                    return Err(format!("{count} items popped from a list of {}", l.len()));
                }
                l.pop_many(end, count as usize);
                Ok(())
            })?;
        }
        Op::ListSet { key, index, item } => list(&d, key.as_slice(), "list set", |l| {
            l.set(index, item.as_slice()).map_err(|e| format!("{e:?}"))
        })?,
        Op::ListTrim { key, start, stop } => list(&d, key.as_slice(), "list trim", |l| {
            l.trim(start, stop);
            Ok(())
        })?,
        Op::ListRem { key, count, item } => list(&d, key.as_slice(), "list remove", |l| {
            l.remove(count, item.as_slice());
            Ok(())
        })?,
        Op::ListInsert {
            key,
            before,
            pivot,
            item,
        } => list(&d, key.as_slice(), "list insert", |l| {
            l.insert(before, pivot.as_slice(), item.as_slice())
                .map(drop)
                .ok_or_else(|| "pivot not found".into())
        })?,
        Op::HashSet { key, pairs } => {
            let empty = || MemValue::Hash(Hash::new());
            container(&d, key.as_slice(), "hash set", empty, |v| {
                let MemValue::Hash(h) = v else {
                    return Err(WRONG.into());
                };
                for (f, val) in &pairs {
                    h.set(f.as_slice(), val.as_slice());
                }
                Ok(())
            })?;
        }
        Op::HashDel { key, fields } => {
            let empty = || MemValue::Hash(Hash::new());
            container(&d, key.as_slice(), "hash delete", empty, |v| {
                let MemValue::Hash(h) = v else {
                    return Err(WRONG.into());
                };
                for f in &fields {
                    h.remove(f.as_slice());
                }
                Ok(())
            })?;
        }
        Op::SetAdd { key, members } => {
            let empty = || MemValue::Set(Set::new());
            container(&d, key.as_slice(), "set add", empty, |v| {
                let MemValue::Set(s) = v else {
                    return Err(WRONG.into());
                };
                for m in &members {
                    s.add(m.as_slice());
                }
                Ok(())
            })?;
        }
        Op::SetRem { key, members } => {
            let empty = || MemValue::Set(Set::new());
            container(&d, key.as_slice(), "set remove", empty, |v| {
                let MemValue::Set(s) = v else {
                    return Err(WRONG.into());
                };
                for m in &members {
                    s.remove(m.as_slice());
                }
                Ok(())
            })?;
        }
        Op::ZAdd { key, pairs } => {
            let empty = || MemValue::ZSet(ZSet::new());
            container(&d, key.as_slice(), "sorted set add", empty, |v| {
                let MemValue::ZSet(z) = v else {
                    return Err(WRONG.into());
                };
                add_scores(z, &pairs)
            })?;
        }
        Op::ZRem { key, members } => {
            let empty = || MemValue::ZSet(ZSet::new());
            container(&d, key.as_slice(), "sorted set remove", empty, |v| {
                let MemValue::ZSet(z) = v else {
                    return Err(WRONG.into());
                };
                for m in &members {
                    z.remove(m.as_slice());
                }
                Ok(())
            })?;
        }
        Op::StreamAdd {
            key,
            id,
            pairs,
            trimmed,
        } => stream(&d, key.as_slice(), "stream add", |s| {
            let id = memory_id(id);
            if s.len() > 0 && id <= s.last_id() || pairs.is_empty() {
                return Err(format!("entry {id} is not above the stream's last ID"));
            }
            let pairs: Vec<(&[u8], &[u8])> = pairs
                .iter()
                .map(|(f, v)| (f.as_slice(), v.as_slice()))
                .collect();
            s.append(id, &pairs);
            trim_front(s, trimmed)
        })?,
        Op::StreamDel { key, ids } => stream(&d, key.as_slice(), "stream delete", |s| {
            for id in ids {
                s.delete(memory_id(id));
            }
            Ok(())
        })?,
        Op::StreamTrim { key, count } => {
            stream(&d, key.as_slice(), "stream trim", |s| trim_front(s, count))?;
        }
        Op::StreamSetId {
            key,
            last_id,
            entries_added,
            max_deleted_id,
        } => stream(&d, key.as_slice(), "stream set id", |s| {
            s.set_id(
                memory_id(last_id),
                Some(entries_added),
                Some(memory_id(max_deleted_id)),
            );
            Ok(())
        })?,
        Op::StreamGroupCreate {
            key,
            group,
            last_id,
            entries_read,
        } => stream(&d, key.as_slice(), "stream group create", |s| {
            if s.groups().contains_key(group.as_slice()) {
                return Err("the group exists".into());
            }
            s.groups_mut().insert(
                group.as_slice().into(),
                StreamGroup::new(memory_id(last_id), entries_read),
            );
            Ok(())
        })?,
        Op::StreamGroupDestroy { key, group } => {
            existing_stream(&d, key.as_slice(), "stream group destroy", |s| {
                s.groups_mut()
                    .remove(group.as_slice())
                    .map(drop)
                    .ok_or_else(|| "no such group".into())
            })?;
        }
        Op::StreamConsumerDel {
            key,
            group,
            consumer,
        } => existing_stream(&d, key.as_slice(), "stream consumer delete", |s| {
            let g = s
                .groups_mut()
                .get_mut(group.as_slice())
                .ok_or("no such group")?;
            g.delete_consumer(consumer.as_slice())
                .map(drop)
                .ok_or_else(|| "no such consumer".into())
        })?,
        Op::StreamGroupUpdate {
            key,
            group,
            last_id,
            entries_read,
            consumer,
            pending,
            dropped,
        } => existing_stream(&d, key.as_slice(), "stream group update", |s| {
            let g = s
                .groups_mut()
                .get_mut(group.as_slice())
                .ok_or("no such group")?;
            g.last_id = memory_id(last_id);
            g.entries_read = entries_read;
            let owner = consumer.map(|(name, seen, active)| {
                let (n, _) = g.create_consumer(name.as_slice(), seen);
                g.touch(n, seen, active);
                n
            });
            if !pending.is_empty() {
                let owner = owner.ok_or("pending entries without a consumer")?;
                for (id, time, count) in pending {
                    g.assign(memory_id(id), owner, time, count);
                }
            }
            for id in dropped {
                g.ack(memory_id(id));
            }
            Ok(())
        })?,
        Op::FunctionLoad { .. } | Op::FunctionDelete { .. } | Op::FunctionFlush => {
            unreachable!("applied above")
        }
        // The log reader expands a group into its inner records (`wal::replay`), which are
        // never groups themselves.
        Op::Group { .. } => {
            return Err(ApplyError::Unsupported(
                "a group record cannot be applied as a single change".into(),
            ));
        }
    }
    Ok(())
}

fn list(
    d: &crate::kv::Db,
    key: &[u8],
    what: &str,
    f: impl FnOnce(&mut List) -> Result<(), String>,
) -> Result<(), ApplyError> {
    let empty = || MemValue::List(List::new());
    container(d, key, what, empty, |v| {
        let MemValue::List(l) = v else {
            return Err(WRONG.into());
        };
        f(l)
    })
}

fn stream(
    d: &crate::kv::Db,
    key: &[u8],
    what: &str,
    f: impl FnOnce(&mut Stream) -> Result<(), String>,
) -> Result<(), ApplyError> {
    let empty = || MemValue::Stream(Box::new(Stream::new()));
    container(d, key, what, empty, |v| {
        let MemValue::Stream(s) = v else {
            return Err(WRONG.into());
        };
        f(s)
    })
}

/// Runs `f` on the stream at `key`, which must exist.
fn existing_stream(
    d: &crate::kv::Db,
    key: &[u8],
    what: &str,
    f: impl FnOnce(&mut Stream) -> Result<(), String>,
) -> Result<(), ApplyError> {
    let res = d.write_entry(key, |slot| match slot.value_mut() {
        Some(MemValue::Stream(s)) => Ok(f(s)),
        Some(_) => Ok(Err(WRONG.into())),
        None => Ok(Err("the stream does not exist".into())),
    });
    match res {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(ApplyError::Inconsistent(format!("{what}: {why}"))),
        Err(e) => Err(ApplyError::Inconsistent(format!("{what}: {e}"))),
    }
}

/// Removes the `count` oldest entries, as the trim that was logged did.
fn trim_front(s: &mut Stream, count: u64) -> Result<(), String> {
    if count == 0 {
        return Ok(());
    }
    if s.len() < count {
        return Err(format!(
            "{count} entries trimmed from a stream of {}",
            s.len()
        ));
    }
    s.trim(Trim {
        by: TrimBy::MaxLen(s.len() - count),
        approx: false,
        limit: 0,
    });
    Ok(())
}
