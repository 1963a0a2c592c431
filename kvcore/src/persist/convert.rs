//! Between the store's in-memory types and the on-disk records: effects become log records,
//! values become snapshot values and back.

use crate::effect::Effect;
use crate::entry::Value as MemValue;
use crate::types::{End, Hash, List, Set, Stream, StreamId, ZAddFlags, ZSet};

use super::record::{self, Bytes, Id, Op, Record, Value};

/// The log record describing `effect`; byte strings borrow from the effect.
pub(crate) fn record<'a>(effect: &Effect<'a>) -> Record<'a> {
    let b = Bytes::from_slice;
    let db = |d: usize| d as u32;
    match *effect {
        Effect::Put { db: d, key, entry } => Record {
            db: db(d),
            op: Op::Set {
                key: b(key),
                value: disk_value(&entry.value),
                expire_at: entry.expire_at(),
            },
        },
        Effect::Del { db: d, key } => Record {
            db: db(d),
            op: Op::Del { keys: vec![b(key)] },
        },
        Effect::Append { db: d, key, data } => Record {
            db: db(d),
            op: Op::Append {
                key: b(key),
                data: b(data),
            },
        },
        Effect::SetRange {
            db: d,
            key,
            offset,
            data,
        } => Record {
            db: db(d),
            op: Op::SetRange {
                key: b(key),
                offset: offset as u64,
                data: b(data),
            },
        },
        Effect::Expire {
            db: d,
            key,
            at: Some(at_ms),
        } => Record {
            db: db(d),
            op: Op::Expire { key: b(key), at_ms },
        },
        Effect::Expire {
            db: d,
            key,
            at: None,
        } => Record {
            db: db(d),
            op: Op::Persist { key: b(key) },
        },
        Effect::Rename { db: d, src, dst } => Record {
            db: db(d),
            op: Op::Rename {
                src: b(src),
                dst: b(dst),
            },
        },
        Effect::Copy {
            src_db,
            src,
            dst_db,
            dst,
        } => Record {
            db: db(src_db),
            op: Op::Copy {
                src: b(src),
                dst: b(dst),
                dst_db: db(dst_db),
            },
        },
        Effect::FlushDb { db: d } => Record {
            db: db(d),
            op: Op::FlushDb,
        },
        Effect::FlushAll => Record {
            db: 0,
            op: Op::FlushAll,
        },
        Effect::SwapDb { a, b: other } => Record {
            db: 0,
            op: Op::SwapDb {
                a: db(a),
                b: db(other),
            },
        },
        Effect::MSet { db: d, pairs } => Record {
            db: db(d),
            op: Op::MSet {
                pairs: pairs.iter().map(|&(k, v)| (b(k), b(v))).collect(),
            },
        },
        Effect::ListPush {
            db: d,
            key,
            left,
            values,
        } => Record {
            db: db(d),
            op: Op::ListPush {
                key: b(key),
                left,
                items: values.iter().map(|v| b(v)).collect(),
            },
        },
        Effect::ListPop {
            db: d,
            key,
            left,
            count,
        } => Record {
            db: db(d),
            op: Op::ListPop {
                key: b(key),
                left,
                count: count as u64,
            },
        },
        Effect::ListSet {
            db: d,
            key,
            index,
            value,
        } => Record {
            db: db(d),
            op: Op::ListSet {
                key: b(key),
                index,
                item: b(value),
            },
        },
        Effect::ListRem {
            db: d,
            key,
            count,
            value,
        } => Record {
            db: db(d),
            op: Op::ListRem {
                key: b(key),
                count,
                item: b(value),
            },
        },
        Effect::ListTrim {
            db: d,
            key,
            start,
            stop,
        } => Record {
            db: db(d),
            op: Op::ListTrim {
                key: b(key),
                start,
                stop,
            },
        },
        Effect::ListInsert {
            db: d,
            key,
            before,
            pivot,
            value,
        } => Record {
            db: db(d),
            op: Op::ListInsert {
                key: b(key),
                before,
                pivot: b(pivot),
                item: b(value),
            },
        },
        Effect::HashSet { db: d, key, pairs } => Record {
            db: db(d),
            op: Op::HashSet {
                key: b(key),
                pairs: pairs.iter().map(|&(f, v)| (b(f), b(v))).collect(),
            },
        },
        Effect::HashDel { db: d, key, fields } => Record {
            db: db(d),
            op: Op::HashDel {
                key: b(key),
                fields: fields.iter().map(|f| b(f)).collect(),
            },
        },
        Effect::SetAdd {
            db: d,
            key,
            members,
        } => Record {
            db: db(d),
            op: Op::SetAdd {
                key: b(key),
                members: members.iter().map(|m| b(m)).collect(),
            },
        },
        Effect::SetRem {
            db: d,
            key,
            members,
        } => Record {
            db: db(d),
            op: Op::SetRem {
                key: b(key),
                members: members.iter().map(|m| b(m)).collect(),
            },
        },
        Effect::ZAdd { db: d, key, pairs } => Record {
            db: db(d),
            op: Op::ZAdd {
                key: b(key),
                pairs: pairs.iter().map(|&(s, m)| (s, b(m))).collect(),
            },
        },
        Effect::ZRem {
            db: d,
            key,
            members,
        } => Record {
            db: db(d),
            op: Op::ZRem {
                key: b(key),
                members: members.iter().map(|m| b(m)).collect(),
            },
        },
        Effect::StreamAdd {
            db: d,
            key,
            id,
            pairs,
            trimmed,
        } => Record {
            db: db(d),
            op: Op::StreamAdd {
                key: b(key),
                id: disk_id(id),
                pairs: pairs.iter().map(|&(f, v)| (b(f), b(v))).collect(),
                trimmed,
            },
        },
        Effect::StreamDel { db: d, key, ids } => Record {
            db: db(d),
            op: Op::StreamDel {
                key: b(key),
                ids: ids.iter().copied().map(disk_id).collect(),
            },
        },
        Effect::StreamTrim { db: d, key, count } => Record {
            db: db(d),
            op: Op::StreamTrim { key: b(key), count },
        },
        Effect::StreamSetId {
            db: d,
            key,
            last_id,
            entries_added,
            max_deleted_id,
        } => Record {
            db: db(d),
            op: Op::StreamSetId {
                key: b(key),
                last_id: disk_id(last_id),
                entries_added,
                max_deleted_id: disk_id(max_deleted_id),
            },
        },
        Effect::StreamGroupCreate {
            db: d,
            key,
            group,
            last_id,
            entries_read,
        } => Record {
            db: db(d),
            op: Op::StreamGroupCreate {
                key: b(key),
                group: b(group),
                last_id: disk_id(last_id),
                entries_read,
            },
        },
        Effect::StreamGroupDestroy { db: d, key, group } => Record {
            db: db(d),
            op: Op::StreamGroupDestroy {
                key: b(key),
                group: b(group),
            },
        },
        Effect::StreamConsumerDel {
            db: d,
            key,
            group,
            consumer,
        } => Record {
            db: db(d),
            op: Op::StreamConsumerDel {
                key: b(key),
                group: b(group),
                consumer: b(consumer),
            },
        },
        Effect::StreamGroupUpdate {
            db: d,
            key,
            group,
            last_id,
            entries_read,
            consumer,
            pending,
            dropped,
        } => Record {
            db: db(d),
            op: Op::StreamGroupUpdate {
                key: b(key),
                group: b(group),
                last_id: disk_id(last_id),
                entries_read,
                consumer: consumer.map(|c| (b(c.name), c.seen, c.active)),
                pending: pending
                    .iter()
                    .map(|&(id, time, count)| (disk_id(id), time, count))
                    .collect(),
                dropped: dropped.iter().copied().map(disk_id).collect(),
            },
        },
        Effect::FunctionLoad { name, code } => Record {
            db: 0,
            op: Op::FunctionLoad {
                name: b(name),
                code: b(code),
            },
        },
        Effect::FunctionDelete { name } => Record {
            db: 0,
            op: Op::FunctionDelete { name: b(name) },
        },
        Effect::FunctionFlush => Record {
            db: 0,
            op: Op::FunctionFlush,
        },
    }
}

/// A stream ID as stored.
pub(crate) fn disk_id(id: StreamId) -> Id {
    (id.ms, id.seq)
}

/// A stored stream ID.
pub(crate) fn memory_id((ms, seq): Id) -> StreamId {
    StreamId::new(ms, seq)
}

/// Adds stored entries to `s`, which must all be above its entries (a snapshot's or a later
/// part's, in order).
///
/// # Errors
/// An entry out of order or without pairs.
pub(crate) fn load_entries(
    s: &mut Stream,
    entries: &[record::StreamEntry<'_>],
) -> Result<(), String> {
    for e in entries {
        let id = memory_id(e.id);
        if s.len() > 0 && id <= s.last_live_id() || e.pairs.is_empty() {
            return Err(format!("stream entry {id} is out of order or empty"));
        }
        let pairs: Vec<(&[u8], &[u8])> = e
            .pairs
            .iter()
            .map(|(f, v)| (f.as_slice(), v.as_slice()))
            .collect();
        s.load(id, &pairs);
    }
    Ok(())
}

/// A stream's consumer groups as stored after its entries in a snapshot, in parts of about
/// `budget` encoded bytes (a group with a long PEL spans several parts: the first has its
/// consumers, each has its name and counters); empty when it has none.
pub(crate) fn disk_groups(s: &Stream, budget: usize) -> Vec<Value<'_>> {
    use crate::access::item_bound;
    let b = Bytes::from_slice;
    let mut parts = Vec::new();
    let mut part: Vec<record::StreamGroup<'_>> = Vec::new();
    let mut used = 0usize;
    for (name, g) in s.groups() {
        let head = || record::StreamGroup {
            name: b(name),
            last_id: disk_id(g.last_id),
            entries_read: g.entries_read,
            consumers: Vec::new(),
            pending: Vec::new(),
        };
        let mut cur = head();
        used += item_bound(name.len()) + 32;
        for (_, c) in g.consumers() {
            cur.consumers.push((b(&c.name), c.seen, c.active));
            used += item_bound(c.name.len()) + 24;
        }
        for (&id, n) in g.pel() {
            let owner = g.consumer(n.owner).map_or(&[][..], |c| &c.name);
            let size = item_bound(owner.len()) + 50;
            if used + size > budget && !cur.pending.is_empty() {
                part.push(std::mem::replace(&mut cur, head()));
                parts.push(Value::StreamGroups(std::mem::take(&mut part)));
                used = item_bound(name.len()) + 32;
            }
            cur.pending.push((disk_id(id), b(owner), n.time, n.count));
            used += size;
        }
        part.push(cur);
    }
    if !part.is_empty() {
        parts.push(Value::StreamGroups(part));
    }
    parts
}

/// Adds stored groups (a snapshot part) to `s`.
///
/// # Errors
/// A pending entry whose owner is not among the group's consumers.
pub(crate) fn load_groups(
    s: &mut Stream,
    groups: &[record::StreamGroup<'_>],
) -> Result<(), String> {
    for stored in groups {
        let g = s
            .groups_mut()
            .entry(stored.name.as_slice().into())
            .or_default();
        g.last_id = memory_id(stored.last_id);
        g.entries_read = stored.entries_read;
        for (name, seen, active) in &stored.consumers {
            let (n, _) = g.create_consumer(name.as_slice(), *seen);
            g.touch(n, *seen, *active);
        }
        for (id, owner, time, count) in &stored.pending {
            let n = g.find(owner.as_slice()).ok_or_else(|| {
                format!("pending entry {} of an unknown consumer", memory_id(*id))
            })?;
            g.assign(memory_id(*id), n, *time, *count);
        }
    }
    Ok(())
}

/// A stored value as written to disk, borrowing its bytes.
pub(crate) fn disk_value(v: &MemValue) -> Value<'_> {
    let b = Bytes::from_slice;
    match v {
        MemValue::String(s) => Value::Str(b(s.as_slice())),
        MemValue::List(l) => Value::List(l.iter().map(b).collect()),
        MemValue::Hash(h) => Value::Hash(h.iter().map(|(f, v)| (b(f), b(v))).collect()),
        MemValue::Set(s) => Value::Set(s.iter().map(b).collect()),
        MemValue::ZSet(z) => Value::ZSet(z.iter().map(|(m, score)| (score, b(m))).collect()),
        MemValue::Stream(s) => Value::Stream(record::Stream {
            last_id: disk_id(s.last_id()),
            entries_added: s.entries_added(),
            max_deleted_id: disk_id(s.max_deleted()),
            entries: s
                .iter()
                .map(|e| record::StreamEntry {
                    id: disk_id(e.id()),
                    pairs: e.fields().map(|(f, v)| (b(f), b(v))).collect(),
                })
                .collect(),
        }),
    }
}

/// A value read from disk as the store keeps it.
///
/// # Errors
/// What is wrong if the value cannot be represented (a NaN score).
pub(crate) fn memory_value(v: Value<'_>) -> Result<MemValue, String> {
    Ok(match v {
        Value::Str(s) => MemValue::string(s.as_slice()),
        Value::List(items) => {
            let mut l = List::new();
            for item in &items {
                l.push(End::Right, item.as_slice());
            }
            MemValue::List(l)
        }
        Value::Hash(pairs) => {
            let mut h = Hash::new();
            for (f, v) in &pairs {
                h.set(f.as_slice(), v.as_slice());
            }
            MemValue::Hash(h)
        }
        Value::Set(members) => {
            let mut s = Set::new();
            for m in &members {
                s.add(m.as_slice());
            }
            MemValue::Set(s)
        }
        Value::ZSet(pairs) => MemValue::ZSet(zset(&pairs)?),
        Value::Stream(stored) => {
            let mut s = Stream::new();
            load_entries(&mut s, &stored.entries)?;
            s.set_id(
                memory_id(stored.last_id),
                Some(stored.entries_added),
                Some(memory_id(stored.max_deleted_id)),
            );
            MemValue::Stream(Box::new(s))
        }
        Value::Library(_) => return Err("a function library is not a key's value".into()),
        Value::StreamGroups(_) => {
            return Err("consumer groups are not a whole value: they follow a stream".into());
        }
    })
}

/// A sorted set holding `pairs` (later pairs re-score earlier ones).
///
/// # Errors
/// A NaN score.
pub(crate) fn zset(pairs: &[(f64, Bytes<'_>)]) -> Result<ZSet, String> {
    let mut z = ZSet::new();
    add_scores(&mut z, pairs)?;
    Ok(z)
}

/// Adds or re-scores members of `z`, as ZADD without flags.
///
/// # Errors
/// A NaN score.
pub(crate) fn add_scores(z: &mut ZSet, pairs: &[(f64, Bytes<'_>)]) -> Result<(), String> {
    for (score, m) in pairs {
        z.add(*score, m.as_slice(), &ZAddFlags::default())
            .map_err(|_| format!("sorted set member {:?} has a NaN score", m))?;
    }
    Ok(())
}
