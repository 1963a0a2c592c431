//! An effect as the Redis commands a replica applies to reach the same state.
//!
//! Each effect becomes one command where Redis has an exact one (SET with PXAT, DEL,
//! PEXPIREAT, PERSIST, LPUSH, HSET, ZADD with the stored scores, XADD with the chosen ID, ...);
//! where none is exact (a whole container put, a consumer group's update) it becomes `RESTORE
//! key <deadline> <dump> REPLACE ABSTTL` of the value as the operation left it.

use crate::effect::Effect;
use crate::entry::{Entry, Value};
use crate::types::StreamId;

/// Commands encoded as RESP arrays, each tagged with the database it must run in (`None`:
/// any, e.g. FLUSHALL).
#[derive(Debug, Default)]
pub(crate) struct Cmds {
    pub(crate) buf: Vec<u8>,
    /// `(database, end of the command in buf)`.
    pub(crate) ends: Vec<(Option<usize>, usize)>,
}

impl Cmds {
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The commands with their database, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Option<usize>, &[u8])> {
        let mut start = 0;
        self.ends.iter().map(move |&(db, end)| {
            let cmd = &self.buf[start..end];
            start = end;
            (db, cmd)
        })
    }

    /// Adds a command that is not an effect's (PUBLISH), in database `db`.
    pub(crate) fn push(&mut self, db: Option<usize>, args: &[&[u8]]) {
        push_command(&mut self.buf, args);
        self.ends.push((db, self.buf.len()));
    }

    /// Starts a command of `argc` arguments in database `db`.
    fn cmd(&mut self, db: Option<usize>, argc: usize) -> Cmd<'_> {
        self.buf.push(b'*');
        push_uint(&mut self.buf, argc as u64);
        self.buf.extend_from_slice(b"\r\n");
        Cmd {
            cmds: self,
            db,
            left: argc,
        }
    }
}

/// A command being written: exactly the announced number of arguments must follow.
struct Cmd<'a> {
    cmds: &'a mut Cmds,
    db: Option<usize>,
    left: usize,
}

impl Cmd<'_> {
    fn arg(&mut self, a: &[u8]) -> &mut Self {
        push_bulk(&mut self.cmds.buf, a);
        self.left -= 1;
        self
    }

    fn uint(&mut self, n: u64) -> &mut Self {
        let mut b = [0u8; kvnum::I64_LEN];
        self.arg(kvnum::format_u64(n, &mut b))
    }

    fn int(&mut self, n: i64) -> &mut Self {
        let mut b = [0u8; kvnum::I64_LEN];
        self.arg(kvnum::format_i64(n, &mut b))
    }

    fn id(&mut self, id: StreamId) -> &mut Self {
        self.arg(id.to_string().as_bytes())
    }

    fn args<'b>(&mut self, items: impl IntoIterator<Item = &'b [u8]>) -> &mut Self {
        for a in items {
            self.arg(a);
        }
        self
    }
}

impl Drop for Cmd<'_> {
    fn drop(&mut self) {
        debug_assert_eq!(
            self.left, 0,
            "a replicated command got fewer arguments than announced"
        );
        let end = self.cmds.buf.len();
        self.cmds.ends.push((self.db, end));
    }
}

fn push_uint(out: &mut Vec<u8>, n: u64) {
    let mut b = [0u8; kvnum::I64_LEN];
    out.extend_from_slice(kvnum::format_u64(n, &mut b));
}

fn push_bulk(out: &mut Vec<u8>, a: &[u8]) {
    out.push(b'$');
    push_uint(out, a.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(a);
    out.extend_from_slice(b"\r\n");
}

/// Appends `args` to `out` as one RESP array (a command that is not an effect's: PING,
/// REPLCONF GETACK, SELECT, MULTI, EXEC).
pub(crate) fn push_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    push_uint(out, args.len() as u64);
    out.extend_from_slice(b"\r\n");
    for a in args {
        push_bulk(out, a);
    }
}

/// The whole entry as a put: SET for a string, RESTORE for a container.
fn put(out: &mut Cmds, db: usize, key: &[u8], entry: &Entry) {
    let at = entry.expire_at();
    match &entry.value {
        Value::String(s) => {
            let mut c = out.cmd(Some(db), if at.is_some() { 5 } else { 3 });
            c.arg(b"SET").arg(key).arg(s.as_slice());
            if let Some(at) = at {
                c.arg(b"PXAT").uint(at);
            }
        }
        value => restore(out, db, key, value, at),
    }
}

fn restore(out: &mut Cmds, db: usize, key: &[u8], value: &Value, at: Option<u64>) {
    let dump = crate::rdb::dump_value(value);
    out.cmd(Some(db), 6)
        .arg(b"RESTORE")
        .arg(key)
        .uint(at.unwrap_or(0))
        .arg(&dump)
        .arg(b"REPLACE")
        .arg(b"ABSTTL");
}

fn stream_len(after: Option<&Entry>) -> u64 {
    match after.map(|e| &e.value) {
        Some(Value::Stream(s)) => s.len(),
        _ => 0,
    }
}

/// Encodes `effect` into `out`. `after` is the key's entry as the operation left it, when
/// the effect has a single key and its writer knows it: the effects that no command replays
/// exactly need it.
pub(crate) fn encode(effect: &Effect<'_>, after: Option<&Entry>, out: &mut Cmds) {
    match *effect {
        Effect::Put { db, key, entry } => put(out, db, key, entry),
        Effect::Del { db, key } => {
            out.cmd(Some(db), 2).arg(b"DEL").arg(key);
        }
        Effect::Append { db, key, data } => {
            out.cmd(Some(db), 3).arg(b"APPEND").arg(key).arg(data);
        }
        Effect::SetRange {
            db,
            key,
            offset,
            data,
        } => {
            out.cmd(Some(db), 4)
                .arg(b"SETRANGE")
                .arg(key)
                .uint(offset as u64)
                .arg(data);
        }
        Effect::Expire { db, key, at } => match at {
            Some(at) => {
                out.cmd(Some(db), 3).arg(b"PEXPIREAT").arg(key).uint(at);
            }
            None => {
                out.cmd(Some(db), 2).arg(b"PERSIST").arg(key);
            }
        },
        Effect::Rename { db, src, dst } => {
            out.cmd(Some(db), 3).arg(b"RENAME").arg(src).arg(dst);
        }
        Effect::Copy {
            src_db,
            src,
            dst_db,
            dst,
        } => {
            out.cmd(Some(src_db), 6)
                .arg(b"COPY")
                .arg(src)
                .arg(dst)
                .arg(b"DB")
                .uint(dst_db as u64)
                .arg(b"REPLACE");
        }
        Effect::FlushDb { db } => {
            out.cmd(Some(db), 1).arg(b"FLUSHDB");
        }
        Effect::FlushAll => {
            out.cmd(None, 1).arg(b"FLUSHALL");
        }
        Effect::SwapDb { a, b } => {
            out.cmd(None, 3)
                .arg(b"SWAPDB")
                .uint(a as u64)
                .uint(b as u64);
        }
        Effect::MSet { db, pairs } => {
            let mut c = out.cmd(Some(db), 1 + 2 * pairs.len());
            c.arg(b"MSET");
            for &(k, v) in pairs {
                c.arg(k).arg(v);
            }
        }
        Effect::ListPush {
            db,
            key,
            left,
            values,
        } => {
            out.cmd(Some(db), 2 + values.len())
                .arg(if left { b"LPUSH" } else { b"RPUSH" })
                .arg(key)
                .args(values.iter().copied());
        }
        Effect::ListPop {
            db,
            key,
            left,
            count,
        } => {
            out.cmd(Some(db), 3)
                .arg(if left { b"LPOP" } else { b"RPOP" })
                .arg(key)
                .uint(count as u64);
        }
        Effect::ListSet {
            db,
            key,
            index,
            value,
        } => {
            out.cmd(Some(db), 4)
                .arg(b"LSET")
                .arg(key)
                .int(index)
                .arg(value);
        }
        Effect::ListRem {
            db,
            key,
            count,
            value,
        } => {
            out.cmd(Some(db), 4)
                .arg(b"LREM")
                .arg(key)
                .int(count)
                .arg(value);
        }
        Effect::ListTrim {
            db,
            key,
            start,
            stop,
        } => {
            out.cmd(Some(db), 4)
                .arg(b"LTRIM")
                .arg(key)
                .int(start)
                .int(stop);
        }
        Effect::ListInsert {
            db,
            key,
            before,
            pivot,
            value,
        } => {
            out.cmd(Some(db), 5)
                .arg(b"LINSERT")
                .arg(key)
                .arg(if before { b"BEFORE" } else { b"AFTER" })
                .arg(pivot)
                .arg(value);
        }
        Effect::HashSet { db, key, pairs } => {
            let mut c = out.cmd(Some(db), 2 + 2 * pairs.len());
            c.arg(b"HSET").arg(key);
            for &(f, v) in pairs {
                c.arg(f).arg(v);
            }
        }
        Effect::HashDel { db, key, fields } => {
            out.cmd(Some(db), 2 + fields.len())
                .arg(b"HDEL")
                .arg(key)
                .args(fields.iter().copied());
        }
        Effect::SetAdd { db, key, members } => {
            out.cmd(Some(db), 2 + members.len())
                .arg(b"SADD")
                .arg(key)
                .args(members.iter().copied());
        }
        Effect::SetRem { db, key, members } => {
            out.cmd(Some(db), 2 + members.len())
                .arg(b"SREM")
                .arg(key)
                .args(members.iter().copied());
        }
        Effect::ZAdd { db, key, pairs } => {
            let mut c = out.cmd(Some(db), 2 + 2 * pairs.len());
            c.arg(b"ZADD").arg(key);
            let mut score = Vec::with_capacity(24);
            for &(s, m) in pairs {
                score.clear();
                kvnum::push_double(&mut score, s);
                c.arg(&score).arg(m);
            }
        }
        Effect::ZRem { db, key, members } => {
            out.cmd(Some(db), 2 + members.len())
                .arg(b"ZREM")
                .arg(key)
                .args(members.iter().copied());
        }
        Effect::StreamAdd {
            db,
            key,
            id,
            pairs,
            trimmed,
        } => {
            // A trim is replayed as the exact length it left (Redis rewrites XADD's MAXLEN
            // the same way), never as `~`, whose result depends on node boundaries.
            let trim = if trimmed > 0 { 3 } else { 0 };
            let mut c = out.cmd(Some(db), 3 + trim + 2 * pairs.len());
            c.arg(b"XADD").arg(key);
            if trimmed > 0 {
                c.arg(b"MAXLEN").arg(b"=").uint(stream_len(after));
            }
            c.id(id);
            for &(f, v) in pairs {
                c.arg(f).arg(v);
            }
        }
        Effect::StreamDel { db, key, ids } => {
            let mut c = out.cmd(Some(db), 2 + ids.len());
            c.arg(b"XDEL").arg(key);
            for &id in ids {
                c.id(id);
            }
        }
        Effect::StreamTrim { db, key, .. } => {
            out.cmd(Some(db), 5)
                .arg(b"XTRIM")
                .arg(key)
                .arg(b"MAXLEN")
                .arg(b"=")
                .uint(stream_len(after));
        }
        Effect::StreamSetId {
            db,
            key,
            last_id,
            entries_added,
            max_deleted_id,
        } => {
            out.cmd(Some(db), 7)
                .arg(b"XSETID")
                .arg(key)
                .id(last_id)
                .arg(b"ENTRIESADDED")
                .uint(entries_added)
                .arg(b"MAXDELETEDID")
                .id(max_deleted_id);
        }
        Effect::StreamGroupCreate {
            db,
            key,
            group,
            last_id,
            entries_read,
        } => {
            let mut c = out.cmd(Some(db), if entries_read.is_some() { 8 } else { 6 });
            c.arg(b"XGROUP")
                .arg(b"CREATE")
                .arg(key)
                .arg(group)
                .id(last_id)
                .arg(b"MKSTREAM");
            if let Some(n) = entries_read {
                c.arg(b"ENTRIESREAD").uint(n);
            }
        }
        Effect::StreamGroupDestroy { db, key, group } => {
            out.cmd(Some(db), 4)
                .arg(b"XGROUP")
                .arg(b"DESTROY")
                .arg(key)
                .arg(group);
        }
        Effect::StreamConsumerDel {
            db,
            key,
            group,
            consumer,
        } => {
            out.cmd(Some(db), 5)
                .arg(b"XGROUP")
                .arg(b"DELCONSUMER")
                .arg(key)
                .arg(group)
                .arg(consumer);
        }
        Effect::StreamGroupUpdate { db, key, .. } => {
            // Last-delivered ID, entries-read, consumers and their pending entries with
            // delivery times and counts: the whole stream as it now is says all of it.
            if let Some(entry) = after {
                restore(out, db, key, &entry.value, entry.expire_at());
            }
        }
        Effect::FunctionLoad { code, .. } => {
            out.cmd(None, 4)
                .arg(b"FUNCTION")
                .arg(b"LOAD")
                .arg(b"REPLACE")
                .arg(code);
        }
        Effect::FunctionDelete { name } => {
            out.cmd(None, 3).arg(b"FUNCTION").arg(b"DELETE").arg(name);
        }
        Effect::FunctionFlush => {
            out.cmd(None, 2).arg(b"FUNCTION").arg(b"FLUSH");
        }
    }
}
