//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX/XX/GT/LT), TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME, PERSIST. Deadlines are absolute clock milliseconds.

use std::time::Duration;

use crate::effect::Effect;
use crate::error::{Error, Result};
use crate::kv::Db;
use crate::notify::Class;
use crate::options::ExpireCondition;

/// An expiry as a command states it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum When {
    RelativeSecs(i64),
    RelativeMs(i64),
    AbsoluteSecs(i64),
    AbsoluteMs(i64),
}

/// The absolute deadline (clock ms, possibly in the past or negative) of `when`.
///
/// # Errors
/// `InvalidExpireTime` if seconds do not fit in milliseconds or the sum with `now` overflows,
/// as Redis checks.
pub(crate) fn deadline(now: u64, when: When) -> Result<i64> {
    let secs_to_ms = |s: i64| s.checked_mul(1000).ok_or(Error::InvalidExpireTime);
    let now = i64::try_from(now).map_err(|_| Error::InvalidExpireTime)?;
    match when {
        When::RelativeSecs(s) => now
            .checked_add(secs_to_ms(s)?)
            .ok_or(Error::InvalidExpireTime),
        When::RelativeMs(ms) => now.checked_add(ms).ok_or(Error::InvalidExpireTime),
        When::AbsoluteSecs(s) => secs_to_ms(s),
        When::AbsoluteMs(ms) => Ok(ms),
    }
}

pub(crate) fn expire(db: &Db, key: &[u8], when: When, cond: ExpireCondition) -> Result<bool> {
    db.write_entry(key, |slot| {
        let now = slot.now();
        let at = deadline(now, when)?;
        let Some(e) = slot.entry() else {
            return Ok(false);
        };
        // No expiry counts as an infinite TTL (Redis 7).
        let current = e.expire_at().map_or(i128::MAX, i128::from);
        let new = i128::from(at);
        let allowed = match cond {
            ExpireCondition::None => true,
            ExpireCondition::Nx => e.expire_at().is_none(),
            ExpireCondition::Xx => e.expire_at().is_some(),
            ExpireCondition::Gt => new > current,
            ExpireCondition::Lt => new < current,
            ExpireCondition::XxLt => e.expire_at().is_some() && new < current,
        };
        if !allowed {
            return Ok(false);
        }
        // A replica (passive expiry) keeps the key with its deadline, as with SET ... PXAT.
        if at <= now as i64 && (at <= 0 || !db.inner.passive()) {
            slot.remove();
            slot.journal(Effect::Del { db: slot.db(), key });
            slot.notify(Class::Generic, "del");
        } else {
            slot.set_expiry(Some(at as u64));
            slot.journal(Effect::Expire {
                db: slot.db(),
                key,
                at: Some(at as u64),
            });
            slot.notify(Class::Generic, "expire");
        }
        Ok(true)
    })
}

/// How long a key has left to live: what [`Store::ttl`](crate::Store::ttl) and
/// [`Store::pttl`](crate::Store::pttl) report.
///
/// ```
/// use std::time::Duration;
/// use kvcore::{Kv, Options, SetExpiry, SetOptions, Store, Ttl};
///
/// let db = Kv::in_memory(Options::default()).db(0)?;
/// db.set_with("session", "abc", &SetOptions::new().expiry(SetExpiry::Ex(60)))?;
/// db.set("config", "x")?;
/// assert_eq!(db.ttl("session")?, Ttl::ExpiresIn(Duration::from_secs(60)));
/// assert_eq!(db.ttl("config")?, Ttl::Persistent);
/// assert_eq!(db.ttl("nothing")?, Ttl::Missing);
/// # Ok::<(), kvcore::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ttl {
    /// The key does not exist (Redis replies `-2`).
    Missing,
    /// The key exists and has no expiry (Redis replies `-1`).
    Persistent,
    /// The key expires after this long. From [`Store::ttl`](crate::Store::ttl) a whole number
    /// of seconds, rounded to the nearest (half up) as Redis's TTL rounds; from
    /// [`Store::pttl`](crate::Store::pttl) exact milliseconds. Zero for a key whose deadline is
    /// this very millisecond.
    ExpiresIn(Duration),
}

/// When a key expires: what [`Store::expiretime`](crate::Store::expiretime) and
/// [`Store::pexpiretime`](crate::Store::pexpiretime) report.
///
/// ```
/// use std::time::Duration;
/// use kvcore::{ExpireCondition, ExpireTime, Kv, Options, Store};
///
/// let db = Kv::in_memory(Options::default()).db(0)?;
/// db.set("k", "v")?;
/// db.pexpireat("k", 4_102_444_800_250, ExpireCondition::None)?;
/// let at = Duration::from_millis(4_102_444_800_250);
/// assert_eq!(db.pexpiretime("k")?, ExpireTime::ExpiresAt(at));
/// // EXPIRETIME rounds to the nearest second, as Redis does.
/// assert_eq!(db.expiretime("k")?, ExpireTime::ExpiresAt(Duration::from_secs(4_102_444_800)));
/// # Ok::<(), kvcore::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpireTime {
    /// The key does not exist (Redis replies `-2`).
    Missing,
    /// The key exists and has no expiry (Redis replies `-1`).
    Persistent,
    /// The key expires at this time, as a duration since the Unix epoch on the store's
    /// [`Clock`](crate::Clock) (not a `SystemTime`: a deadline can lie further in the future
    /// than some platforms' `SystemTime` reaches). From
    /// [`Store::expiretime`](crate::Store::expiretime) whole seconds, rounded to the nearest
    /// (half up) as Redis's EXPIRETIME rounds; from
    /// [`Store::pexpiretime`](crate::Store::pexpiretime) exact milliseconds.
    ExpiresAt(Duration),
}

/// The unit a TTL-like command answers in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unit {
    Secs,
    Ms,
}

impl Unit {
    /// `ms` in this unit, rounded as Redis's `ttlGenericCommand` rounds seconds:
    /// `(ms + 500) / 1000`.
    fn duration(self, ms: u64) -> Duration {
        match self {
            Unit::Secs => Duration::from_secs(ms.saturating_add(500) / 1000),
            Unit::Ms => Duration::from_millis(ms),
        }
    }
}

/// The key's deadline as the TTL-like commands see it, with the "now" they measure from:
/// `None` if the key is missing, `Some(None)` if it has no expiry.
fn deadline_of(db: &Db, key: &[u8]) -> (u64, Option<Option<u64>>) {
    let now = db.inner.now();
    (now, db.read_entry(key, |e| e.map(|e| e.expire_at())))
}

/// TTL (`Unit::Secs`) and PTTL (`Unit::Ms`).
pub(crate) fn ttl(db: &Db, key: &[u8], unit: Unit) -> Ttl {
    match deadline_of(db, key) {
        (_, None) => Ttl::Missing,
        (_, Some(None)) => Ttl::Persistent,
        (now, Some(Some(at))) => Ttl::ExpiresIn(unit.duration(at.saturating_sub(now))),
    }
}

/// EXPIRETIME (`Unit::Secs`) and PEXPIRETIME (`Unit::Ms`).
pub(crate) fn expire_time(db: &Db, key: &[u8], unit: Unit) -> ExpireTime {
    match deadline_of(db, key) {
        (_, None) => ExpireTime::Missing,
        (_, Some(None)) => ExpireTime::Persistent,
        (_, Some(Some(at))) => ExpireTime::ExpiresAt(unit.duration(at)),
    }
}

pub(crate) fn persist(db: &Db, key: &[u8]) -> Result<bool> {
    db.write_entry(key, |slot| {
        if slot.entry().is_none_or(|e| e.expire_at().is_none()) {
            return Ok(false);
        }
        slot.set_expiry(None);
        slot.journal(Effect::Expire {
            db: slot.db(),
            key,
            at: None,
        });
        slot.notify(Class::Generic, "persist");
        Ok(true)
    })
}
