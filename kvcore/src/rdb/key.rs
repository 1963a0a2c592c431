//! DUMP and RESTORE of one key: its value in Redis's DUMP payload format (the RDB type byte
//! and value, the RDB version, a CRC-64), so values move between kv and Redis both ways.

use crate::effect::{ConsumerState, Effect};
use crate::entry::{Entry, Value};
use crate::error::{Error, Result};
use crate::kv::Db;
use crate::notify::Class;

use super::value::{Refusal, is_value_type, put_value, read_value};
use super::{Reader, open, seal};

/// RESTORE's options: the TTL and how to read it, and whether an existing key is replaced.
///
/// ```
/// use kvcore::{Kv, Options, RestoreOptions, Store};
///
/// let kv = Kv::in_memory(Options::default());
/// let db = kv.db(0)?;
/// db.set("k", "v")?;
/// let payload = db.dump("k").expect("the key exists");
/// db.restore("copy", &payload, &RestoreOptions::new().ttl_ms(60_000))?;
/// assert_eq!(db.get("copy")?, Some(b"v".to_vec()));
/// assert!(db.restore("copy", &payload, &RestoreOptions::new()).is_err(), "BUSYKEY");
/// # Ok::<(), kvcore::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    ttl_ms: u64,
    absolute: bool,
    replace: bool,
    idle_secs: Option<u64>,
    freq: Option<u8>,
}

impl RestoreOptions {
    /// No TTL, no replacing (RESTORE key 0 payload).
    pub fn new() -> RestoreOptions {
        RestoreOptions::default()
    }

    /// Time to live in milliseconds (0: none).
    pub fn ttl_ms(mut self, ttl_ms: u64) -> RestoreOptions {
        self.ttl_ms = ttl_ms;
        self
    }

    /// ABSTTL: the TTL is an absolute unix time in milliseconds.
    pub fn absolute(mut self, absolute: bool) -> RestoreOptions {
        self.absolute = absolute;
        self
    }

    /// REPLACE: an existing key is replaced instead of refused.
    pub fn replace(mut self, replace: bool) -> RestoreOptions {
        self.replace = replace;
        self
    }

    /// IDLETIME: the key counts as last accessed `secs` seconds ago (under an LRU or random
    /// policy; ignored under an LFU one, as in Redis).
    pub fn idle_time(mut self, secs: u64) -> RestoreOptions {
        self.idle_secs = Some(secs);
        self
    }

    /// FREQ: the key's LFU counter (under an LFU policy; ignored otherwise, as in Redis).
    pub fn frequency(mut self, freq: u8) -> RestoreOptions {
        self.freq = Some(freq);
        self
    }
}

/// A DUMP payload of `value`.
pub(crate) fn dump_value(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    put_value(&mut out, value);
    seal(&mut out);
    out
}

/// The value of a DUMP payload.
///
/// # Errors
/// [`Error::BadDumpPayload`] for a wrong footer, [`Error::BadDataFormat`] for a value that
/// does not load.
pub(crate) fn payload_value(payload: &[u8]) -> Result<Value> {
    open(payload).ok_or(Error::BadDumpPayload)?;
    // As Redis, the value is read from the whole payload: the footer only bounds it.
    let mut r = Reader::new(payload);
    let kind = r.byte().map_err(|_| Error::BadDataFormat)?;
    if !is_value_type(kind) {
        return Err(Error::BadDataFormat);
    }
    read_value(kind, &mut r).map_err(|_: Refusal| Error::BadDataFormat)
}

impl Db {
    /// DUMP: `key`'s value as a Redis DUMP payload, None if the key does not exist.
    pub fn dump(&self, key: impl AsRef<[u8]>) -> Option<Vec<u8>> {
        self.read_entry(key.as_ref(), |e| e.map(|e| dump_value(&e.value)))
    }

    /// RESTORE: creates `key` from a DUMP payload (Redis's or kv's) with the options' TTL.
    /// A TTL already in the past deletes the key (with REPLACE) and adds nothing, as Redis
    /// does. In a persistent store the new value is durable like any write.
    ///
    /// # Errors
    /// [`Error::BadDumpPayload`] (wrong version or checksum), [`Error::BadDataFormat`] (the
    /// value does not decode), [`Error::BusyKey`] (the key exists and `replace` is off),
    /// [`Error::RecordTooLarge`]. Nothing changes on an error.
    pub fn restore(
        &self,
        key: impl AsRef<[u8]>,
        payload: &[u8],
        options: &RestoreOptions,
    ) -> Result<()> {
        let key = key.as_ref();
        self.admit().key(key)?.check()?;
        let value = payload_value(payload)?;
        let now = self.inner.now();
        let deadline = match options.ttl_ms {
            0 => None,
            ttl if options.absolute => Some(ttl),
            ttl => Some(now.saturating_add(ttl)),
        };
        let access = (options.idle_secs, options.freq);
        self.restore_value(key, value, deadline, options.replace, access)
    }

    /// Stores a decoded value as RESTORE does (see [`Db::restore`]); `deadline` is absolute,
    /// `access` RESTORE's IDLETIME and FREQ.
    pub(crate) fn restore_value(
        &self,
        key: &[u8],
        value: Value,
        deadline: Option<u64>,
        replace: bool,
        (idle_secs, freq): (Option<u64>, Option<u8>),
    ) -> Result<()> {
        if self.inner.persist.get().is_some() {
            self.inner
                .check_record(value.record_bound(key.len()), None)?;
        }
        let db = self.index;
        self.write_many(&[(db, key)], |locked| {
            let mut slot = locked.slot(db, key);
            let existed = slot.entry().is_some();
            if existed && !replace {
                return Err(Error::BusyKey);
            }
            if existed {
                slot.remove();
            }
            // A replica (passive expiry) stores it anyway: its primary sends the DEL.
            if deadline.is_some_and(|at| at <= slot.now()) && !self.inner.passive() {
                if existed {
                    slot.journal(Effect::Del { db, key });
                    slot.notify(Class::Generic, "del");
                }
                return Ok(());
            }
            let entry = Entry::with_expiry(value, slot.now(), deadline);
            // A new object's clock in the policy's form, then IDLETIME or FREQ (Redis's
            // `objectSetLRUOrLFU`).
            let evict = &self.inner.evict;
            evict.init(&entry.access, slot.now());
            evict.restore_access(&entry.access, slot.now(), idle_secs, freq);
            slot.put_entry(entry);
            slot.journal_put();
            journal_groups(&slot);
            slot.notify(Class::Generic, "restore");
            Ok(())
        })
    }
}

/// A stream's consumer groups, which a `Put` does not carry: one create per group, then one
/// update per consumer with its pending entries (all in the caller's group record).
fn journal_groups(slot: &crate::access::WriteSlot<'_>) {
    let Some(Value::Stream(s)) = slot.entry().map(|e| &e.value) else {
        return;
    };
    let (db, key) = (slot.db(), slot.key());
    for (name, g) in s.groups() {
        slot.journal(Effect::StreamGroupCreate {
            db,
            key,
            group: name,
            last_id: g.last_id,
            entries_read: g.entries_read,
        });
        for (_, c) in g.consumers() {
            let pending: Vec<_> = c
                .pel
                .iter()
                .filter_map(|&id| g.nack(id).map(|n| (id, n.time, n.count)))
                .collect();
            slot.journal(Effect::StreamGroupUpdate {
                db,
                key,
                group: name,
                last_id: g.last_id,
                entries_read: g.entries_read,
                consumer: Some(ConsumerState {
                    name: &c.name,
                    seen: c.seen,
                    active: c.active,
                }),
                pending: &pending,
                dropped: &[],
            });
        }
    }
}
