//! Whole RDB files (version 10, as Redis 7.0 writes them): a store written to any
//! `io::Write` and an RDB read from any `io::Read` into a store. Replication's full sync
//! sends the first and applies the second.
//!
//! The layout: `REDIS0010`; aux fields (`0xFA` name value: redis-ver, redis-bits, ctime,
//! used-mem, aof-base); function libraries (`0xF5` code); per non-empty database `0xFE` db,
//! `0xFB` key count and expiring-key count, then each key as `[0xFC ms]` type, key, value;
//! `0xFF`; the CRC-64 of everything before it, little-endian.

use std::io;

use crate::entry::Value;
use crate::error::{Error, IoError, Result};
use crate::kv::Kv;
use crate::shard::Shard;

use super::value::{Refusal, is_value_type, put_value, read_value};
use super::{Reader, VERSION, crc64, put_len, put_string};

const OPCODE_MODULE_AUX: u8 = 247;
const OPCODE_IDLE: u8 = 248;
const OPCODE_FREQ: u8 = 249;
const OPCODE_AUX: u8 = 250;
const OPCODE_RESIZEDB: u8 = 251;
const OPCODE_EXPIRETIME_MS: u8 = 252;
const OPCODE_EXPIRETIME: u8 = 253;
const OPCODE_SELECTDB: u8 = 254;
const OPCODE_EOF: u8 = 255;

/// The Redis version an RDB written by kv announces (the one whose replies kv follows).
const REDIS_VER: &str = "7.0.15";

/// What [`Kv::load_rdb`] loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RdbLoadInfo {
    /// Keys stored.
    pub keys: u64,
    /// Keys skipped because their expiry had passed.
    pub expired: u64,
    /// Function libraries stored.
    pub functions: usize,
    /// The file's RDB version.
    pub version: u16,
    /// The file's aux fields (`redis-ver`, `ctime`, ...), in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Appends to `buf` and keeps the running CRC of everything written.
struct Sink<W> {
    w: W,
    crc: u64,
}

impl<W: io::Write> Sink<W> {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.crc = crc64(self.crc, bytes);
        self.w
            .write_all(bytes)
            .map_err(|e| Error::Io(IoError::new("io error while writing an RDB stream", e)))
    }
}

fn aux(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(OPCODE_AUX);
    put_string(out, name.as_bytes());
    put_string(out, value);
}

/// An RDB file being written to `w` in order: the header, then per database its header and
/// its shards' keys, then the footer. Used whole by [`Kv::write_rdb`], and piece by piece by
/// replication's point-in-time full sync (`repl/sync.rs`), which gathers its shards as of one
/// moment.
pub(crate) struct RdbWriter<W> {
    sink: Sink<W>,
    out: Vec<u8>,
    keys: u64,
}

impl<W: io::Write> RdbWriter<W> {
    /// Writes the header: magic, aux fields (`used` is the memory estimate), the function
    /// libraries' code; `now` is the file's creation time.
    pub(crate) fn new(w: W, now: u64, used: usize, libraries: &[Vec<u8>]) -> Result<Self> {
        let mut out = Vec::with_capacity(1 << 16);
        out.extend_from_slice(format!("REDIS{VERSION:04}").as_bytes());
        aux(&mut out, "redis-ver", REDIS_VER.as_bytes());
        aux(&mut out, "redis-bits", b"64");
        aux(&mut out, "ctime", (now / 1000).to_string().as_bytes());
        aux(&mut out, "used-mem", used.to_string().as_bytes());
        aux(&mut out, "aof-base", b"0");
        for code in libraries {
            out.push(super::OPCODE_FUNCTION2);
            put_string(&mut out, code);
        }
        let mut sink = Sink { w, crc: 0 };
        sink.write(&out)?;
        out.clear();
        Ok(RdbWriter { sink, out, keys: 0 })
    }

    /// Starts database `db`, which holds about `keys` keys, `expires` of them with a
    /// deadline (a hint for the loader).
    pub(crate) fn database(&mut self, db: usize, keys: u64, expires: u64) {
        self.out.push(OPCODE_SELECTDB);
        put_len(&mut self.out, db as u64);
        self.out.push(OPCODE_RESIZEDB);
        put_len(&mut self.out, keys);
        put_len(&mut self.out, expires);
    }

    /// Writes a block of `keys` keys made by [`shard_block`] (with what the
    /// database header left pending).
    pub(crate) fn block(&mut self, block: &[u8], keys: u64) -> Result<()> {
        self.out.extend_from_slice(block);
        self.keys += keys;
        self.sink.write(&self.out)?;
        self.out.clear();
        Ok(())
    }

    /// Writes the end marker and the CRC; returns how many keys the file holds.
    pub(crate) fn finish(mut self) -> Result<u64> {
        self.out.push(OPCODE_EOF);
        self.sink.write(&self.out)?;
        let crc = self.sink.crc;
        self.sink.write(&crc.to_le_bytes())?;
        Ok(self.keys)
    }
}

/// Serializes the live keys of one shard into `block` (appended), returning how many.
pub(crate) fn shard_block(shard: &Shard, now: u64, block: &mut Vec<u8>) -> u64 {
    let mut value = Vec::new();
    let mut n = 0;
    for (_, slot) in shard.iter() {
        let entry = &slot.entry;
        if entry.is_expired(now) {
            continue;
        }
        if let Some(at) = entry.expire_at() {
            block.push(OPCODE_EXPIRETIME_MS);
            block.extend_from_slice(&at.to_le_bytes());
        }
        value.clear();
        put_value(&mut value, &entry.value);
        block.push(value[0]);
        put_string(block, slot.key.as_slice());
        block.extend_from_slice(&value[1..]);
        n += 1;
    }
    n
}

impl Kv {
    /// Writes every database as an RDB file (version 10) to `w`, which redis-server loads;
    /// returns how many keys it wrote. Each shard is written as it was at one moment (read
    /// under its lock); writes to other shards may land between shards, so the file is not a
    /// point-in-time image of the whole store while it is being written to (replication's
    /// full sync makes one: [`Replication::full_sync`](crate::Replication::full_sync)).
    ///
    /// # Errors
    /// [`Error::Io`] when `w` fails.
    pub fn write_rdb(&self, w: impl io::Write) -> Result<u64> {
        let inner = &*self.inner;
        let now = inner.now();
        // Counts first (RESIZEDB is a hint that precedes the keys), and the memory estimate.
        let mut counts = Vec::with_capacity(inner.databases());
        let mut used = 0usize;
        for db in 0..inner.databases() {
            let (mut keys, mut expires) = (0u64, 0u64);
            for s in 0..inner.shard_count() {
                let guard = inner.shard(db, s).read();
                for (_, slot) in guard.iter() {
                    keys += 1;
                    expires += u64::from(slot.entry.expire_at().is_some());
                    used = used.saturating_add(slot.entry.value.heap_size());
                }
            }
            counts.push((keys, expires));
        }
        let libraries: Vec<_> = self
            .function_libraries()
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        let mut w = RdbWriter::new(w, now, used, &libraries)?;
        let mut block = Vec::new();
        for (db, &(keys, expires)) in counts.iter().enumerate() {
            if keys == 0 {
                continue;
            }
            w.database(db, keys, expires);
            for s in 0..inner.shard_count() {
                block.clear();
                // The block is made under the shard's read lock and written after it.
                let n = shard_block(&inner.shard(db, s).read(), now, &mut block);
                w.block(&block, n)?;
            }
        }
        w.finish()
    }

    /// Loads an RDB file (Redis's, up to version 10, or kv's) from `r` into this store
    /// through the normal write path (each key as a RESTORE ... REPLACE, so a persistent store
    /// logs it), with its function libraries. The whole file is read and checked first: a
    /// damaged file, a CRC that does not match, a value kv cannot hold (a module's, or one too
    /// large for a log record) or a database this store does not have is refused before
    /// anything is stored, with an error that names the key. Keys whose expiry has passed are skipped, as Redis skips them,
    /// unless passive expiry is on ([`Kv::set_passive_expiry`]: a replica keeps them until
    /// its primary deletes them, as Redis's replicas do).
    ///
    /// # Errors
    /// [`Error::Corrupt`] (what is wrong and where), [`Error::Io`] when `r` fails,
    /// [`Error::DbIndexOutOfRange`], or a write's error (persistence).
    pub fn load_rdb(&self, mut r: impl io::Read) -> Result<RdbLoadInfo> {
        let mut data = Vec::new();
        r.read_to_end(&mut data)
            .map_err(|e| Error::Io(IoError::new("io error while reading an RDB stream", e)))?;
        self.load_rdb_bytes(&data)
    }

    /// [`Kv::load_rdb`] of an RDB file already in memory, or mapped into it: `data` is
    /// parsed in place, without a copy (the values it holds are built as they will be
    /// stored).
    ///
    /// # Errors
    /// As [`Kv::load_rdb`].
    pub fn load_rdb_bytes(&self, data: &[u8]) -> Result<RdbLoadInfo> {
        let parsed = parse(data)?;
        let now = self.inner.now();
        let mut info = RdbLoadInfo {
            version: parsed.version,
            aux: parsed.aux,
            ..RdbLoadInfo::default()
        };
        for (db, _, _, _) in &parsed.keys {
            if *db >= self.databases() {
                return Err(Error::Corrupt(format!(
                    "the RDB file has database {db}; this store has {}",
                    self.databases()
                )));
            }
        }
        // A value too large for one log record would fail at its turn: refuse it up front.
        for (db, key, value, _) in &parsed.keys {
            self.inner
                .check_record(value.record_bound(key.len()), None)
                .map_err(|e| {
                    Error::Corrupt(format!(
                        "key \"{}\" (db {db}) cannot be stored: {e}",
                        String::from_utf8_lossy(key)
                    ))
                })?;
        }
        let mut libraries = Vec::new();
        for code in &parsed.functions {
            let name = library_name(code).ok_or_else(|| {
                Error::Corrupt("a function library in the RDB file has no name".into())
            })?;
            libraries.push((name, &code[..]));
        }
        if !libraries.is_empty() {
            let store = self.function_store();
            store.restore(false, &libraries)?;
            store.commit()?;
            info.functions = libraries.len();
        }
        for (db, key, value, deadline) in parsed.keys {
            // A replica (passive expiry) keeps them, as Redis's does: its primary sends the DEL.
            if deadline.is_some_and(|at| at <= now) && !self.inner.passive() {
                info.expired += 1;
                continue;
            }
            self.db(db)?
                .restore_value(&key, value, deadline, true, (None, None))?;
            info.keys += 1;
        }
        Ok(info)
    }
}

/// The name in a library's `#!<engine> name=<name>` first line.
pub(crate) fn library_name(code: &[u8]) -> Option<&[u8]> {
    let first = code.split(|&b| b == b'\n').next()?;
    first
        .strip_prefix(b"#!")?
        .split(|&b| b == b' ')
        .find_map(|t| t.strip_prefix(b"name="))
        .filter(|n| !n.is_empty())
}

type Key = (usize, Vec<u8>, Value, Option<u64>);

struct Parsed {
    version: u16,
    aux: Vec<(Vec<u8>, Vec<u8>)>,
    functions: Vec<Vec<u8>>,
    keys: Vec<Key>,
}

fn damaged(what: &str, at: usize) -> Error {
    Error::Corrupt(format!("the RDB file is damaged: {what} (byte {at})"))
}

/// Reads a whole RDB file into memory, checking everything.
fn parse(data: &[u8]) -> Result<Parsed> {
    let version = data
        .strip_prefix(b"REDIS")
        .and_then(|rest| rest.get(..4))
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<u16>().ok())
        .ok_or_else(|| Error::Corrupt("not an RDB file (no REDIS header)".into()))?;
    if !(1..=VERSION).contains(&version) {
        return Err(Error::Corrupt(format!(
            "RDB version {version} is not one kv reads (1 to {VERSION})"
        )));
    }
    let mut r = Reader::new(&data[9..]);
    let at = |r: &Reader<'_>| data.len() - r.remaining();
    let mut p = Parsed {
        version,
        aux: Vec::new(),
        functions: Vec::new(),
        keys: Vec::new(),
    };
    let (mut db, mut expire) = (0usize, None);
    loop {
        let op = r
            .byte()
            .map_err(|_| damaged("it ends before its EOF marker", at(&r)))?;
        let bad = |what: &str, r: &Reader<'_>| damaged(what, at(r));
        match op {
            OPCODE_EOF => break,
            OPCODE_AUX => {
                let name = r.string().map_err(|_| bad("an aux field's name", &r))?;
                let value = r.string().map_err(|_| bad("an aux field's value", &r))?;
                p.aux.push((name, value));
            }
            OPCODE_RESIZEDB => {
                r.len().map_err(|_| bad("a RESIZEDB hint", &r))?;
                r.len().map_err(|_| bad("a RESIZEDB hint", &r))?;
            }
            OPCODE_SELECTDB => {
                let n = r.len().map_err(|_| bad("a database number", &r))?;
                db = usize::try_from(n).map_err(|_| bad("a database number", &r))?;
            }
            OPCODE_EXPIRETIME_MS => {
                expire = Some(r.ms_time().map_err(|_| bad("an expiry", &r))?);
            }
            OPCODE_EXPIRETIME => {
                let secs = r.take(4).map_err(|_| bad("an expiry", &r))?;
                let secs = u32::from_le_bytes(secs.try_into().expect("four bytes"));
                expire = Some(u64::from(secs) * 1000);
            }
            OPCODE_IDLE => {
                r.len().map_err(|_| bad("an idle time", &r))?;
            }
            OPCODE_FREQ => {
                r.byte().map_err(|_| bad("an LFU counter", &r))?;
            }
            OPCODE_MODULE_AUX => {
                return Err(Error::Corrupt(format!(
                    "the RDB file holds a module's auxiliary data (byte {}), which kv does not load",
                    at(&r)
                )));
            }
            super::OPCODE_FUNCTION2 => {
                let code = r.string().map_err(|_| bad("a function library", &r))?;
                p.functions.push(code);
            }
            super::OPCODE_FUNCTION => {
                let name = r.string().map_err(|_| bad("a function library", &r))?;
                let engine = r.string().map_err(|_| bad("a function library", &r))?;
                if r.len().map_err(|_| bad("a function library", &r))? != 0 {
                    r.string().map_err(|_| bad("a function library", &r))?;
                }
                let code = r.string().map_err(|_| bad("a function library", &r))?;
                p.functions
                    .push([b"#!", &engine[..], b" name=", &name, b"\n", &code].concat());
            }
            kind if is_value_type(kind) => {
                let key = r.string().map_err(|_| bad("a key name", &r))?;
                let start = at(&r);
                let value = read_value(kind, &mut r).map_err(|e| {
                    let name = String::from_utf8_lossy(&key);
                    Error::Corrupt(match e {
                        Refusal::Unsupported(6 | 7) => format!(
                            "key \"{name}\" (db {db}) holds a module's value (RDB type {kind}), \
                             which kv does not load"
                        ),
                        Refusal::Unsupported(_) => format!(
                            "key \"{name}\" (db {db}) has RDB type {kind}, which kv does not load"
                        ),
                        Refusal::Corrupt => format!(
                            "the RDB file is damaged: the value of key \"{name}\" (db {db}, RDB \
                             type {kind}, byte {start}) does not decode"
                        ),
                    })
                })?;
                p.keys.push((db, key, value, expire.take()));
            }
            other => return Err(bad(&format!("unknown opcode {other}"), &r)),
        }
    }
    let body = data.len() - r.remaining();
    if version >= 5 {
        let stored = r
            .take(8)
            .map_err(|_| damaged("its checksum is missing", body))?;
        let stored = u64::from_le_bytes(stored.try_into().expect("eight bytes"));
        // Redis writes 0 when `rdbchecksum no`.
        if stored != 0 && stored != crc64(0, &data[..body]) {
            return Err(Error::Corrupt(
                "the RDB file is damaged: its CRC-64 does not match its contents".into(),
            ));
        }
    }
    Ok(p)
}
