//! The other half of the stream: applying it to another store. [`StreamApplier`] decodes the
//! stream's RESP arrays (buffering a command split across reads) and applies each command of
//! the closed set `encode.rs` emits through the store's own write API, a `MULTI` ... `EXEC` as
//! one transaction; [`Follower`] does a full sync from a [`Replication`] in the same process
//! and then applies its stream on a thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::kv::Kv;
use crate::ops::stream_group::GroupStart;
use crate::options::{ExpireCondition, SetExpiry, SetOptions};
use crate::rdb::RestoreOptions;
use crate::tx::Scope;
use crate::types::{End, StreamId, ZAddFlags, parse_score};
use crate::{HashStore, ListStore, SetStore, Store, StreamStore, ZSetStore};
use crate::{XAddId, XAddOptions, XSetIdOptions, XTrim};

use super::{Replication, StreamReader};

/// The most arguments one command of the stream may announce (Redis's own limit on a
/// multibulk length); nothing is allocated for them before they arrive.
const MAX_ARGS: usize = i32::MAX as usize;

/// What went wrong with a command, described for [`Error::BadStream`].
type Described<T> = std::result::Result<T, String>;

/// A field and its value (or a key and its value).
type Pair<'a> = (&'a [u8], &'a [u8]);

/// The commands the stream carries besides SELECT, MULTI, EXEC, PING and REPLCONF: what
/// `encode::encode` emits.
const DATA_COMMANDS: &[&[u8]] = &[
    b"SET",
    b"RESTORE",
    b"DEL",
    b"APPEND",
    b"SETRANGE",
    b"PEXPIREAT",
    b"PERSIST",
    b"RENAME",
    b"COPY",
    b"FLUSHDB",
    b"FLUSHALL",
    b"SWAPDB",
    b"MSET",
    b"LPUSH",
    b"RPUSH",
    b"LPOP",
    b"RPOP",
    b"LSET",
    b"LREM",
    b"LTRIM",
    b"LINSERT",
    b"HSET",
    b"HDEL",
    b"SADD",
    b"SREM",
    b"ZADD",
    b"ZREM",
    b"XADD",
    b"XDEL",
    b"XTRIM",
    b"XSETID",
    b"XGROUP",
    b"FUNCTION",
];

/// Applies a replication stream's bytes to a store, in whatever pieces they arrive: an
/// embedder's own transport (or [`Follower`], in-process) hands it what it read, and it
/// applies every complete command, keeping a partial one (and an open `MULTI`) until the rest
/// arrives. It tracks the stream's `SELECT`, applies `MULTI` ... `EXEC` atomically as one
/// transaction, skips `PING` and `REPLCONF`, and reports the offset of the last byte it
/// applied, the position to continue from ([`Replication::continue_from`] with offset + 1).
///
/// The store should have passive expiry on ([`Kv::set_passive_expiry`]), as a replica: its
/// primary sends the deletions. The stream is trusted as a primary's is: each length is
/// bounded (`max_bulk_len` for an argument) before anything is allocated, but what an
/// unfinished command or an open `MULTI` holds is not, as Redis does not bound its master's. Anything else — a malformed stream, a command outside the
/// stream's set, a command the store refuses — is [`Error::BadStream`] naming the command and
/// its offset, and the applier stops there: every later call returns the same error.
///
/// ```
/// use kvcore::{Kv, Options, Store, StreamApplier};
///
/// let follower = Kv::in_memory(Options::default());
/// follower.set_passive_expiry(true);
/// // Bytes 1 to 23: SELECT 1. Then SET k v, split across two reads.
/// let mut applier = StreamApplier::new(follower.clone(), 0);
/// applier.apply(b"*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$1\r\nk")?;
/// assert_eq!(applier.offset(), 23);
/// assert_eq!(applier.apply(b"\r\n$1\r\nv\r\n")?, 23 + 27);
/// assert_eq!(follower.db(1)?.get("k")?, Some(b"v".to_vec()));
/// assert!(applier.apply(b"*1\r\n$4\r\nSAVE\r\n").is_err(), "not a command of the stream");
/// # Ok::<(), kvcore::Error>(())
/// ```
pub struct StreamApplier {
    kv: Kv,
    /// Bytes received and not yet parsed into a whole command.
    buf: Vec<u8>,
    /// How far the command at the start of `buf` was parsed, when it had not all arrived.
    partial: Option<Partial>,
    /// The number of the last byte applied.
    offset: u64,
    /// The database the stream's last applied SELECT chose.
    db: usize,
    /// The commands of an open MULTI, waiting for their EXEC.
    multi: Option<Multi>,
    failed: Option<Error>,
}

/// An open MULTI.
struct Multi {
    /// The database selected inside it so far.
    db: usize,
    /// Each command with the database it runs in.
    cmds: Vec<(usize, Vec<Vec<u8>>)>,
    /// The bytes it took so far, MULTI included.
    len: u64,
    /// PUBLISH and SPUBLISH inside it (their arguments), published once its commands are
    /// applied, so that a subscriber who reads on receiving finds them.
    messages: Vec<Vec<Vec<u8>>>,
}

impl std::fmt::Debug for StreamApplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamApplier")
            .field("offset", &self.offset)
            .field("db", &self.db)
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

impl StreamApplier {
    /// An applier for `follower`, which holds the stream up to byte `offset` (a full sync's
    /// [`FullSync::offset`](crate::FullSync::offset) once its RDB is loaded); the next byte
    /// it is given is byte `offset + 1`, and database 0 is selected until a SELECT says
    /// otherwise.
    pub fn new(follower: Kv, offset: u64) -> StreamApplier {
        StreamApplier {
            kv: follower,
            buf: Vec::new(),
            partial: None,
            offset,
            db: 0,
            multi: None,
            failed: None,
        }
    }

    /// Starts in database `db` instead of 0: an applier rebuilt to continue a stream
    /// mid-way, which may not say SELECT again before its next command.
    pub fn with_selected_db(mut self, db: usize) -> StreamApplier {
        self.db = db;
        self
    }

    /// The store it applies to.
    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    /// The number of the last byte applied: the store reflects the stream up to here.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The database the stream selected, as of [`StreamApplier::offset`].
    pub fn selected_db(&self) -> usize {
        self.db
    }

    /// Bytes received but not applied yet: a partial command, or a `MULTI` waiting for its
    /// `EXEC`.
    pub fn pending(&self) -> u64 {
        self.buf.len() as u64 + self.multi.as_ref().map_or(0, |m| m.len)
    }

    /// Drops what [`StreamApplier::pending`] counts, so the stream can be read again from
    /// [`StreamApplier::offset`] + 1 (after a reconnection).
    pub fn discard_pending(&mut self) {
        self.buf.clear();
        self.partial = None;
        self.multi = None;
    }

    /// The error that stopped this applier, if one did.
    pub fn error(&self) -> Option<&Error> {
        self.failed.as_ref()
    }

    /// Applies every complete command in what has arrived, `bytes` appended; returns
    /// [`StreamApplier::offset`] after them.
    ///
    /// # Errors
    /// [`Error::BadStream`] (see the type's docs); the commands before the bad one stay
    /// applied, and the applier refuses anything after it.
    pub fn apply(&mut self, bytes: &[u8]) -> Result<u64> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.buf.extend_from_slice(bytes);
        let max_bulk = self.kv.max_bulk_len();
        let mut start = 0;
        let mut buf = std::mem::take(&mut self.buf);
        let res = loop {
            let at = self.offset + self.multi.as_ref().map_or(0, |m| m.len) + 1;
            match parse(&buf[start..], max_bulk, &mut self.partial) {
                Ok(None) => break Ok(()),
                Ok(Some((args, n))) => {
                    start += n;
                    if let Err(e) = self.command(args, n as u64, at) {
                        break Err(e);
                    }
                }
                Err(what) => break Err(format!("malformed at offset {at}: {what}")),
            }
        };
        buf.drain(..start);
        self.buf = buf;
        match res {
            Ok(()) => Ok(self.offset),
            Err(message) => {
                let e = Error::BadStream(message);
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Applies (or, inside MULTI, keeps) one command of `len` bytes starting at byte `at`.
    fn command(&mut self, args: Vec<Vec<u8>>, len: u64, at: u64) -> Described<()> {
        let name = args[0].to_ascii_uppercase();
        let failed = |e: String| format!("{} at offset {at}: {e}", String::from_utf8_lossy(&name));
        match name.as_slice() {
            b"MULTI" => {
                if self.multi.is_some() {
                    return Err(failed("MULTI inside MULTI".into()));
                }
                self.multi = Some(Multi {
                    db: self.db,
                    cmds: Vec::new(),
                    len,
                    messages: Vec::new(),
                });
            }
            b"EXEC" => {
                let Some(multi) = self.multi.take() else {
                    return Err(failed("EXEC without MULTI".into()));
                };
                self.exec(&multi)
                    .map_err(|e| format!("MULTI at offset {}: {e}", self.offset + 1))?;
                self.db = multi.db;
                self.offset += multi.len + len;
                for args in &multi.messages {
                    self.deliver(args);
                }
            }
            b"SELECT" => {
                let db = select(&self.kv, &args).map_err(failed)?;
                match self.multi.as_mut() {
                    Some(m) => {
                        m.db = db;
                        m.len += len;
                    }
                    None => {
                        self.db = db;
                        self.offset += len;
                    }
                }
            }
            b"PING" | b"REPLCONF" => match self.multi.as_mut() {
                Some(m) => m.len += len,
                None => self.offset += len,
            },
            // The primary's messages reach this store's subscribers when they arrive, or
            // inside a MULTI once its commands are applied.
            b"PUBLISH" | b"SPUBLISH" if args.len() == 3 => match self.multi.as_mut() {
                Some(m) => {
                    m.messages.push(args);
                    m.len += len;
                }
                None => {
                    self.deliver(&args);
                    self.offset += len;
                }
            },
            _ if DATA_COMMANDS.contains(&name.as_slice()) => match self.multi.as_mut() {
                Some(m) => {
                    m.cmds.push((m.db, args));
                    m.len += len;
                }
                None => {
                    apply_one(&self.kv, self.db, &args).map_err(failed)?;
                    self.offset += len;
                }
            },
            _ => {
                return Err(format!(
                    "unknown command '{}' at offset {at}",
                    String::from_utf8_lossy(&args[0])
                ));
            }
        }
        Ok(())
    }

    /// Applies a MULTI's commands as one transaction: over every key they name, or over
    /// everything when one of them is a whole-keyspace command.
    /// Publishes a PUBLISH or SPUBLISH from the stream to this store's subscribers.
    fn deliver(&self, args: &[Vec<u8>]) {
        if args[0].eq_ignore_ascii_case(b"SPUBLISH") {
            self.kv.spublish(&args[1], &args[2]);
        } else {
            self.kv.publish(&args[1], &args[2]);
        }
    }

    fn exec(&self, multi: &Multi) -> Described<()> {
        if multi.cmds.is_empty() {
            return Ok(());
        }
        let mut keys = Vec::new();
        let mut everything = false;
        for (db, args) in &multi.cmds {
            everything |= !keys_of(*db, args, &mut keys);
        }
        let scope = if everything {
            Scope::Everything
        } else {
            Scope::Open(&keys)
        };
        let mut failed = None;
        self.kv
            .transaction(scope, |tx| {
                for (db, args) in &multi.cmds {
                    if let Err(e) = apply_one(tx.kv(), *db, args) {
                        failed = Some(format!("{}: {e}", String::from_utf8_lossy(&args[0])));
                        break;
                    }
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        failed.map_or(Ok(()), Err)
    }
}

/// SELECT's database, checked against the store's.
fn select(kv: &Kv, args: &[Vec<u8>]) -> Described<usize> {
    if args.len() != 2 {
        return Err(arity());
    }
    let db = uint(&args[1])? as usize;
    if db >= kv.databases() {
        return Err(format!("database {db} is out of range"));
    }
    Ok(db)
}

/// Adds the keys `args` names (in `db`) to `out`; false for a whole-keyspace command.
fn keys_of<'a>(db: usize, args: &'a [Vec<u8>], out: &mut Vec<(usize, &'a [u8])>) -> bool {
    let name = args[0].to_ascii_uppercase();
    let rest = &args[1..];
    match name.as_slice() {
        b"FLUSHDB" | b"FLUSHALL" | b"SWAPDB" => return false,
        b"FUNCTION" => {}
        b"DEL" => out.extend(rest.iter().map(|k| (db, &k[..]))),
        b"MSET" => out.extend(rest.iter().step_by(2).map(|k| (db, &k[..]))),
        b"RENAME" => out.extend(rest.iter().take(2).map(|k| (db, &k[..]))),
        b"COPY" => {
            out.extend(rest.first().map(|k| (db, &k[..])));
            let dst_db = copy_db(rest).ok().flatten().unwrap_or(db);
            out.extend(rest.get(1).map(|k| (dst_db, &k[..])));
        }
        b"XGROUP" => out.extend(rest.get(1).map(|k| (db, &k[..]))),
        _ => out.extend(rest.first().map(|k| (db, &k[..]))),
    }
    true
}

/// COPY's `DB n`, if given (`rest` starts at its source key).
fn copy_db(rest: &[Vec<u8>]) -> Described<Option<usize>> {
    let mut db = None;
    let mut i = 2;
    while i < rest.len() {
        if rest[i].eq_ignore_ascii_case(b"DB") {
            db = Some(uint(rest.get(i + 1).ok_or_else(syntax)?)? as usize);
            i += 2;
        } else {
            i += 1;
        }
    }
    Ok(db)
}

fn arity() -> String {
    "wrong number of arguments".into()
}

fn syntax() -> String {
    "syntax error".into()
}

fn uint(a: &[u8]) -> Described<u64> {
    std::str::from_utf8(a)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{:?} is not a number", String::from_utf8_lossy(a)))
}

fn int(a: &[u8]) -> Described<i64> {
    std::str::from_utf8(a)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{:?} is not an integer", String::from_utf8_lossy(a)))
}

fn id(a: &[u8]) -> Described<StreamId> {
    StreamId::parse(a, 0)
        .ok_or_else(|| format!("{:?} is not a stream id", String::from_utf8_lossy(a)))
}

fn pairs(a: &[Vec<u8>]) -> Described<Vec<Pair<'_>>> {
    if a.is_empty() || !a.len().is_multiple_of(2) {
        return Err(arity());
    }
    Ok(a.chunks(2).map(|p| (&p[0][..], &p[1][..])).collect())
}

/// Applies one data command in database `db` (`kv` may be a transaction's).
fn apply_one(kv: &Kv, db: usize, a: &[Vec<u8>]) -> Described<()> {
    let name = a[0].to_ascii_uppercase();
    let d = kv.db(db).map_err(|e| e.to_string())?;
    let n = a.len();
    let need = |ok: bool| if ok { Ok(()) } else { Err(arity()) };
    let is = |i: usize, word: &[u8]| a.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
    let e = |e: Error| e.to_string();
    match name.as_slice() {
        b"SET" => match n {
            3 => d.set(&a[1], &a[2]).map_err(e)?,
            5 if is(3, b"PXAT") => {
                let at = SetExpiry::PxAt(int(&a[4])?);
                d.set_with(&a[1], &a[2], &SetOptions::new().expiry(at))
                    .map_err(e)?;
            }
            _ => return Err(syntax()),
        },
        b"RESTORE" => {
            need(n >= 4)?;
            let mut opts = RestoreOptions::new().ttl_ms(uint(&a[2])?);
            for flag in &a[4..] {
                if flag.eq_ignore_ascii_case(b"REPLACE") {
                    opts = opts.replace(true);
                } else if flag.eq_ignore_ascii_case(b"ABSTTL") {
                    opts = opts.absolute(true);
                } else {
                    return Err(syntax());
                }
            }
            d.restore(&a[1], &a[3], &opts).map_err(e)?;
        }
        b"DEL" => {
            need(n >= 2)?;
            d.del(&a[1..]).map_err(e)?;
        }
        b"APPEND" => {
            need(n == 3)?;
            d.append(&a[1], &a[2]).map_err(e)?;
        }
        b"SETRANGE" => {
            need(n == 4)?;
            d.setrange(&a[1], uint(&a[2])?, &a[3]).map_err(e)?;
        }
        b"PEXPIREAT" => {
            need(n == 3)?;
            d.pexpireat(&a[1], int(&a[2])?, ExpireCondition::None)
                .map_err(e)?;
        }
        b"PERSIST" => {
            need(n == 2)?;
            d.persist(&a[1]).map_err(e)?;
        }
        b"RENAME" => {
            need(n == 3)?;
            d.rename(&a[1], &a[2]).map_err(e)?;
        }
        b"COPY" => {
            need(n >= 3)?;
            let dst_db = copy_db(&a[1..])?;
            let replace = a[3..].iter().any(|x| x.eq_ignore_ascii_case(b"REPLACE"));
            d.copy(&a[1], &a[2], dst_db, replace).map_err(e)?;
        }
        b"FLUSHDB" => {
            need(n == 1)?;
            d.flushdb().map_err(e)?;
        }
        b"FLUSHALL" => {
            need(n == 1)?;
            kv.flushall().map_err(e)?;
        }
        b"SWAPDB" => {
            need(n == 3)?;
            kv.swapdb(uint(&a[1])? as usize, uint(&a[2])? as usize)
                .map_err(e)?;
        }
        b"MSET" => d.mset(&pairs(&a[1..])?).map_err(e)?,
        b"LPUSH" | b"RPUSH" => {
            need(n >= 3)?;
            let end = if name[0] == b'L' {
                End::Left
            } else {
                End::Right
            };
            d.push(&a[1], end, &a[2..]).map_err(e)?;
        }
        b"LPOP" | b"RPOP" => {
            let end = if name[0] == b'L' {
                End::Left
            } else {
                End::Right
            };
            match n {
                2 => d.pop(&a[1], end).map(drop).map_err(e)?,
                3 => d
                    .pop_count(&a[1], end, uint(&a[2])? as usize)
                    .map(drop)
                    .map_err(e)?,
                _ => return Err(arity()),
            }
        }
        b"LSET" => {
            need(n == 4)?;
            d.lset(&a[1], int(&a[2])?, &a[3]).map_err(e)?;
        }
        b"LREM" => {
            need(n == 4)?;
            d.lrem(&a[1], int(&a[2])?, &a[3]).map_err(e)?;
        }
        b"LTRIM" => {
            need(n == 4)?;
            d.ltrim(&a[1], int(&a[2])?, int(&a[3])?).map_err(e)?;
        }
        b"LINSERT" => {
            need(n == 5)?;
            let before = if is(2, b"BEFORE") {
                true
            } else if is(2, b"AFTER") {
                false
            } else {
                return Err(syntax());
            };
            d.linsert(&a[1], before, &a[3], &a[4]).map_err(e)?;
        }
        b"HSET" => {
            need(n >= 4)?;
            d.hset(&a[1], &pairs(&a[2..])?).map_err(e)?;
        }
        b"HDEL" => {
            need(n >= 3)?;
            d.hdel(&a[1], &a[2..]).map_err(e)?;
        }
        b"SADD" => {
            need(n >= 3)?;
            d.sadd(&a[1], &a[2..]).map_err(e)?;
        }
        b"SREM" => {
            need(n >= 3)?;
            d.srem(&a[1], &a[2..]).map_err(e)?;
        }
        b"ZADD" => {
            need(n >= 4)?;
            let scored = pairs(&a[2..])?
                .into_iter()
                .map(|(s, m)| {
                    parse_score(s)
                        .map(|s| (s, m))
                        .ok_or_else(|| format!("{:?} is not a score", String::from_utf8_lossy(s)))
                })
                .collect::<Described<Vec<_>>>()?;
            d.zadd(&a[1], &scored, &ZAddFlags::default()).map_err(e)?;
        }
        b"ZREM" => {
            need(n >= 3)?;
            d.zrem(&a[1], &a[2..]).map_err(e)?;
        }
        b"XADD" => {
            need(n >= 5)?;
            let mut i = 2;
            let mut opts = XAddOptions::new();
            if is(i, b"MAXLEN") {
                i += if is(i + 1, b"=") { 2 } else { 1 };
                let len = uint(a.get(i).ok_or_else(arity)?)?;
                opts = opts.trim(XTrim::max_len(len));
                i += 1;
            }
            let at = id(a.get(i).ok_or_else(arity)?)?;
            let fields = pairs(&a[i + 1..])?;
            d.xadd(&a[1], XAddId::Explicit(at), &fields, &opts)
                .map_err(e)?;
        }
        b"XDEL" => {
            need(n >= 3)?;
            let ids = a[2..]
                .iter()
                .map(|x| id(x))
                .collect::<Described<Vec<_>>>()?;
            d.xdel(&a[1], &ids).map_err(e)?;
        }
        b"XTRIM" => {
            need(is(2, b"MAXLEN") && (n == 4 || n == 5 && is(3, b"=")))?;
            d.xtrim(&a[1], &XTrim::max_len(uint(&a[n - 1])?))
                .map_err(e)?;
        }
        b"XSETID" => {
            need(n >= 3 && !n.is_multiple_of(2))?;
            let mut opts = XSetIdOptions::new();
            for opt in a[3..].chunks(2) {
                if opt[0].eq_ignore_ascii_case(b"ENTRIESADDED") {
                    opts = opts.entries_added(uint(&opt[1])?);
                } else if opt[0].eq_ignore_ascii_case(b"MAXDELETEDID") {
                    opts = opts.max_deleted_id(id(&opt[1])?);
                } else {
                    return Err(syntax());
                }
            }
            d.xsetid(&a[1], id(&a[2])?, &opts).map_err(e)?;
        }
        b"XGROUP" => xgroup(&d, a)?,
        b"FUNCTION" => function(kv, a)?,
        _ => return Err("not a command of the replication stream".into()),
    }
    Ok(())
}

fn xgroup(d: &crate::Db, a: &[Vec<u8>]) -> Described<()> {
    let n = a.len();
    let is = |i: usize, word: &[u8]| a.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
    let e = |e: Error| e.to_string();
    if is(1, b"CREATE") {
        if n < 5 {
            return Err(arity());
        }
        let start = GroupStart::Id(id(&a[4])?);
        let (mut mkstream, mut entries_read) = (false, None);
        let mut i = 5;
        while i < n {
            if is(i, b"MKSTREAM") {
                mkstream = true;
                i += 1;
            } else if is(i, b"ENTRIESREAD") {
                entries_read = Some(uint(a.get(i + 1).ok_or_else(syntax)?)?);
                i += 2;
            } else {
                return Err(syntax());
            }
        }
        d.xgroup_create(&a[2], &a[3], start, entries_read, mkstream)
            .map_err(e)
    } else if is(1, b"DESTROY") && n == 4 {
        d.xgroup_destroy(&a[2], &a[3]).map(drop).map_err(e)
    } else if is(1, b"DELCONSUMER") && n == 5 {
        d.xgroup_delconsumer(&a[2], &a[3], &a[4])
            .map(drop)
            .map_err(e)
    } else {
        Err(syntax())
    }
}

fn function(kv: &Kv, a: &[Vec<u8>]) -> Described<()> {
    let n = a.len();
    let is = |i: usize, word: &[u8]| a.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
    let e = |e: Error| e.to_string();
    let store = kv.function_store();
    if is(1, b"LOAD") && (n == 3 || n == 4 && is(2, b"REPLACE")) {
        let code = &a[n - 1];
        let name = crate::rdb::library_name(code).ok_or("a library without a name")?;
        store.set(name, code).map_err(e)?;
    } else if is(1, b"DELETE") && n == 3 {
        store.delete(&a[2]).map_err(e)?;
    } else if is(1, b"FLUSH") && n <= 3 {
        store.flush().map_err(e)?;
    } else {
        return Err(syntax());
    }
    store.commit().map_err(e)
}

/// A command parsed in part: its argument count, the arguments that arrived (as ranges of
/// the buffer it starts at) and where the next one starts, so that a large command arriving
/// in many reads is not parsed from its start each time.
struct Partial {
    argc: usize,
    spans: Vec<std::ops::Range<usize>>,
    pos: usize,
}

/// One command off the front of `buf`: its arguments and how many bytes it took; `None`
/// until all of it has arrived (`partial` then says how far it got, and the next call on the
/// same command, with more bytes, goes on from there). Lengths are checked before anything
/// is allocated.
fn parse(
    buf: &[u8],
    max_bulk: usize,
    partial: &mut Option<Partial>,
) -> Described<Option<(Vec<Vec<u8>>, usize)>> {
    let mut p = match partial.take() {
        Some(p) => p,
        None => {
            let mut pos = 0;
            let Some(argc) = header(buf, &mut pos, b'*', MAX_ARGS)? else {
                return Ok(None);
            };
            if argc == 0 {
                return Err("an empty command".into());
            }
            Partial {
                argc,
                spans: Vec::with_capacity(argc.min(1024)),
                pos,
            }
        }
    };
    while p.spans.len() < p.argc {
        let mut pos = p.pos;
        let Some(len) = header(buf, &mut pos, b'$', max_bulk)? else {
            *partial = Some(p);
            return Ok(None);
        };
        if buf.len() < pos + len + 2 {
            *partial = Some(p);
            return Ok(None);
        }
        if &buf[pos + len..pos + len + 2] != b"\r\n" {
            return Err("a bulk string not followed by CRLF".into());
        }
        p.spans.push(pos..pos + len);
        p.pos = pos + len + 2;
    }
    let args = p.spans.into_iter().map(|r| buf[r].to_vec()).collect();
    Ok(Some((args, p.pos)))
}

/// A `*<n>\r\n` or `$<n>\r\n` line at `pos` (advanced past it): `n`, at most `max`.
fn header(buf: &[u8], pos: &mut usize, kind: u8, max: usize) -> Described<Option<usize>> {
    let rest = &buf[*pos..];
    let Some(&first) = rest.first() else {
        return Ok(None);
    };
    if first != kind {
        return Err(format!(
            "expected '{}', got {:?}",
            kind as char,
            (first as char).escape_default().to_string()
        ));
    }
    let Some(cr) = rest.iter().take(24).position(|&b| b == b'\r') else {
        return if rest.len() >= 24 {
            Err("a length line too long".into())
        } else {
            Ok(None)
        };
    };
    match rest.get(cr + 1) {
        None => return Ok(None),
        Some(b'\n') => {}
        Some(_) => return Err("a length line not ended by CRLF".into()),
    }
    let digits = &rest[1..cr];
    let n = (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit))
        .then(|| std::str::from_utf8(digits).ok()?.parse::<usize>().ok())
        .flatten()
        .ok_or_else(|| format!("bad length {:?}", String::from_utf8_lossy(digits)))?;
    if n > max {
        return Err(format!("length {n} over the limit of {max}"));
    }
    *pos += cr + 2;
    Ok(Some(n))
}

/// A store that keeps itself equal to another in the same process: it did a full sync from
/// the other's [`Replication`] and applies its stream on a thread of its own, as a Redis
/// replica does over the network. The follower's [`Kv`] stays readable (and writable: nothing
/// stops a caller from diverging it) meanwhile; it has passive expiry on, as a replica: the
/// primary sends the deletions.
///
/// ```
/// use std::time::Duration;
/// use kvcore::{Follower, Kv, Options, Store};
///
/// let primary = Kv::in_memory(Options::default());
/// primary.db(0)?.set("before", "1")?;
/// let replica = Kv::in_memory(Options::default());
/// let follower = Follower::start(&primary.replication(), &replica)?;
/// primary.db(2)?.set("after", "2")?;
/// assert!(follower.wait_for(primary.replication().offset(), Duration::from_secs(10))?);
/// assert_eq!(replica.db(0)?.get("before")?, Some(b"1".to_vec()));
/// assert_eq!(replica.db(2)?.get("after")?, Some(b"2".to_vec()));
/// // Stopped, it can continue later from where it was, if the backlog still holds it.
/// let applier = follower.stop()?;
/// primary.db(0)?.del(&["before"])?;
/// let follower = Follower::resume(&primary.replication(), &primary.replication().replid(), applier)?;
/// assert!(follower.wait_for(primary.replication().offset(), Duration::from_secs(10))?);
/// assert_eq!(replica.db(0)?.get("before")?, None);
/// # Ok::<(), kvcore::Error>(())
/// ```
pub struct Follower {
    kv: Kv,
    replid: String,
    progress: Arc<Progress>,
    thread: Option<JoinHandle<StreamApplier>>,
}

/// What the following thread reports.
struct Progress {
    state: Mutex<(u64, Option<Error>)>,
    changed: Condvar,
    stop: AtomicBool,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("replid", &self.replid)
            .field("offset", &self.offset())
            .finish_non_exhaustive()
    }
}

/// How long the thread waits for stream bytes before it looks at its stop flag again.
const POLL: Duration = Duration::from_millis(50);

impl Follower {
    /// Makes `follower` a copy of `primary`'s store (a full sync: its point-in-time RDB,
    /// loaded after emptying `follower`, functions included), then follows the stream from
    /// there on a thread. Reads of `follower` during the load see it partly loaded.
    ///
    /// # Errors
    /// [`Error::SameObject`] if `follower` is the primary's own store; those of
    /// [`Kv::load_rdb`] (a database `follower` lacks, a persistent follower's write error)
    /// and of emptying `follower`.
    pub fn start(primary: &Replication, follower: &Kv) -> Result<Follower> {
        if Arc::ptr_eq(&primary.inner, &follower.inner) {
            // Emptying the follower would empty the primary.
            return Err(Error::SameObject);
        }
        follower.set_passive_expiry(true);
        let replid = primary.replid();
        let mut sync = primary.full_sync();
        let mut rdb = Vec::new();
        sync.write_rdb(&mut rdb)?;
        let offset = sync.offset();
        let reader = sync.into_reader();
        follower.flushall()?;
        let functions = follower.function_store();
        functions.flush()?;
        functions.commit()?;
        follower.load_rdb(&rdb[..])?;
        let applier = StreamApplier::new(follower.clone(), offset);
        Ok(Follower::spawn(replid, reader, applier))
    }

    /// Continues following with `applier` (from [`Follower::stop`], or one an embedder kept)
    /// from the byte after its offset, if `primary`'s stream still holds it under `replid`
    /// (the [`Follower::replid`] it followed, or the primary's current or previous ID).
    ///
    /// # Errors
    /// [`Error::BacklogOverrun`] when the stream cannot continue there (a full sync is
    /// needed); the error that stopped `applier`, if one did.
    pub fn resume(
        primary: &Replication,
        replid: &str,
        mut applier: StreamApplier,
    ) -> Result<Follower> {
        if let Some(e) = applier.error() {
            return Err(e.clone());
        }
        applier.discard_pending();
        applier.kv.set_passive_expiry(true);
        let reader = primary
            .continue_from(replid, applier.offset() + 1)
            .ok_or(Error::BacklogOverrun)?;
        Ok(Follower::spawn(primary.replid(), reader, applier))
    }

    fn spawn(replid: String, mut reader: StreamReader, mut applier: StreamApplier) -> Follower {
        let kv = applier.kv.clone();
        let progress = Arc::new(Progress {
            state: Mutex::new((applier.offset(), None)),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let p = Arc::clone(&progress);
        let thread = std::thread::Builder::new()
            .name("kvcore-follower".into())
            .spawn(move || {
                let mut bytes = Vec::new();
                while !p.stop.load(Ordering::Relaxed) {
                    bytes.clear();
                    let res = match reader.read(&mut bytes, 1 << 20, POLL) {
                        Ok(0) => continue,
                        Ok(_) => applier.apply(&bytes),
                        Err(e) => Err(e),
                    };
                    let mut st = p.state.lock();
                    match res {
                        Ok(offset) => st.0 = offset,
                        Err(e) => st.1 = Some(e),
                    }
                    let failed = st.1.is_some();
                    drop(st);
                    p.changed.notify_all();
                    if failed {
                        break;
                    }
                }
                applier
            });
        Follower {
            kv,
            replid,
            progress,
            // Without a thread there is no follower: that is the host being out of
            // resources, which `std::thread::spawn` treats the same way.
            thread: Some(thread.expect("spawning the follower thread")),
        }
    }

    /// The follower's store.
    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    /// The replication ID of the stream it follows.
    pub fn replid(&self) -> &str {
        &self.replid
    }

    /// The number of the last stream byte applied.
    pub fn offset(&self) -> u64 {
        self.progress.state.lock().0
    }

    /// Waits until the stream is applied up to byte `offset` (e.g. the primary's
    /// [`Replication::offset`] after a write), at most `timeout`; false if it was not.
    ///
    /// # Errors
    /// The error that stopped the following thread, if one did.
    pub fn wait_for(&self, offset: u64, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut st = self.progress.state.lock();
        loop {
            if let Some(e) = &st.1 {
                return Err(e.clone());
            }
            if st.0 >= offset {
                return Ok(true);
            }
            if self
                .progress
                .changed
                .wait_until(&mut st, deadline)
                .timed_out()
            {
                return Ok(st.0 >= offset);
            }
        }
    }

    /// Stops following; returns the applier, to continue later with [`Follower::resume`].
    ///
    /// # Errors
    /// The error that had stopped the following thread, if one did ([`Error::BadStream`],
    /// [`Error::BacklogOverrun`] when it fell out of the primary's backlog).
    pub fn stop(mut self) -> Result<StreamApplier> {
        let applier = self.join();
        match self.progress.state.lock().1.take() {
            Some(e) => Err(e),
            None => Ok(applier.expect("the thread is joined once, here or in drop")),
        }
    }

    fn join(&mut self) -> Option<StreamApplier> {
        self.progress.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take()?;
        // The thread only panics if an operation of the store does: pass that on.
        Some(
            thread
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.join();
    }
}
