//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX/XX/GT/LT), TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME, PERSIST. Deadlines are absolute clock milliseconds.

use crate::effect::Effect;
use crate::error::{Error, Result};
use crate::kv::Db;
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
        let current = e.expire_at.map_or(i128::MAX, i128::from);
        let new = i128::from(at);
        let allowed = match cond {
            ExpireCondition::None => true,
            ExpireCondition::Nx => e.expire_at.is_none(),
            ExpireCondition::Xx => e.expire_at.is_some(),
            ExpireCondition::Gt => new > current,
            ExpireCondition::Lt => new < current,
            ExpireCondition::XxLt => e.expire_at.is_some() && new < current,
        };
        if !allowed {
            return Ok(false);
        }
        if at <= now as i64 {
            slot.remove();
            slot.journal(Effect::Del { db: slot.db(), key });
        } else {
            slot.set_expiry(Some(at as u64));
            slot.journal(Effect::Expire {
                db: slot.db(),
                key,
                at: Some(at as u64),
            });
        }
        Ok(true)
    })
}

/// What TTL-like command is asking.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TtlKind {
    Secs,
    Ms,
    AtSecs,
    AtMs,
}

pub(crate) fn ttl(db: &Db, key: &[u8], kind: TtlKind) -> i64 {
    let now = db.inner.now();
    db.read_entry(key, |e| {
        let Some(e) = e else { return -2 };
        let Some(at) = e.expire_at else { return -1 };
        let left = at.saturating_sub(now) as i64;
        match kind {
            // Redis rounds to the nearest second.
            TtlKind::Secs => (left + 500) / 1000,
            TtlKind::Ms => left,
            TtlKind::AtSecs => (at / 1000) as i64,
            TtlKind::AtMs => at as i64,
        }
    })
}

pub(crate) fn persist(db: &Db, key: &[u8]) -> Result<bool> {
    db.write_entry(key, |slot| {
        if slot.entry().is_none_or(|e| e.expire_at.is_none()) {
            return Ok(false);
        }
        slot.set_expiry(None);
        slot.journal(Effect::Expire {
            db: slot.db(),
            key,
            at: None,
        });
        Ok(true)
    })
}
