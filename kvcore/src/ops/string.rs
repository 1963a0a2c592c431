//! String commands: GET, SET and its options, GETDEL, GETEX, MGET, MSET(NX), APPEND, GETRANGE,
//! SETRANGE, INCR and friends.

use crate::access::MultiWrite;
use crate::effect::Effect;
use crate::entry::Value;
use crate::error::{Error, Result};
use crate::kv::Db;
use crate::notify::Class;
use crate::number::{I64_LEN, LongDouble, format_i64, parse_i64};
use crate::ops::expire::{When, deadline};
use crate::options::{GetExOption, SetCondition, SetExpiry, SetOptions, SetOutcome};

pub(crate) fn get_with<R>(db: &Db, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R> {
    db.read_string(key, f)
}

/// A positive relative or absolute expiry of SET/GETEX as an absolute deadline.
fn positive_deadline(now: u64, when: When) -> Result<i64> {
    let n = match when {
        When::RelativeSecs(n)
        | When::RelativeMs(n)
        | When::AbsoluteSecs(n)
        | When::AbsoluteMs(n) => n,
    };
    if n <= 0 {
        return Err(Error::InvalidExpireTime);
    }
    deadline(now, when)
}

fn set_expiry_when(e: SetExpiry) -> Option<When> {
    match e {
        SetExpiry::Ex(n) => Some(When::RelativeSecs(n)),
        SetExpiry::Px(n) => Some(When::RelativeMs(n)),
        SetExpiry::ExAt(n) => Some(When::AbsoluteSecs(n)),
        SetExpiry::PxAt(n) => Some(When::AbsoluteMs(n)),
        SetExpiry::None | SetExpiry::KeepTtl => None,
    }
}

pub(crate) fn set(db: &Db, key: &[u8], value: &[u8], opts: &SetOptions) -> Result<SetOutcome> {
    db.admit().key(key)?.arg(value)?.check()?;
    let when = set_expiry_when(opts.expiry);
    db.write_entry(key, |slot| {
        let now = slot.now();
        let at = when.map(|w| positive_deadline(now, w)).transpose()?;
        // Only SET ... GET looks at the old entry (a packed slot is not unpacked otherwise).
        let previous = match opts.get.then(|| slot.entry()) {
            Some(Some(e)) => Some(e.value.as_string()?.to_vec()),
            Some(None) => {
                // GET reads the key first, as Redis's SET ... GET does.
                slot.notify(Class::KeyMiss, "keymiss");
                None
            }
            None => None,
        };
        let exists = slot.exists();
        let refused = match opts.condition {
            SetCondition::Always => false,
            SetCondition::Nx => exists,
            SetCondition::Xx => !exists,
        };
        if refused {
            return Ok(SetOutcome {
                written: false,
                previous,
            });
        }
        let expire_at = match (opts.expiry, at) {
            (SetExpiry::KeepTtl, _) => slot.entry().and_then(|e| e.expire_at()),
            (_, Some(at)) => Some(at as u64),
            _ => None,
        };
        // A replica (passive expiry) stores it with its deadline: its primary sends the DEL,
        // and until then the primary's next commands find the key (Redis's
        // `checkAlreadyExpired` is false on a replica).
        if expire_at.is_some_and(|at| at <= now) && !db.inner.passive() {
            // A deadline already past (EXAT/PXAT): the write happens and expires at once, with
            // the events Redis reports for it (it then expires the key on a later access).
            if !exists {
                slot.notify(Class::New, "new");
            }
            slot.notify(Class::String, "set");
            slot.notify(Class::Generic, "expire");
            if slot.remove().is_some() {
                slot.journal(Effect::Del { db: slot.db(), key });
            }
            slot.notify(Class::Expired, "expired");
        } else {
            // A short string in a packed slot is overwritten there; otherwise in place (no
            // allocation when the old buffer fits), or replaced.
            if expire_at.is_some() || !slot.overwrite_packed_string(value) {
                match slot.value_mut() {
                    Some(Value::String(s)) => {
                        s.assign(value);
                        slot.set_expiry(expire_at);
                    }
                    _ => slot.put(Value::string(value), expire_at),
                }
            }
            slot.journal_put();
            slot.notify(Class::String, "set");
            if when.is_some() {
                slot.notify(Class::Generic, "expire");
            }
        }
        Ok(SetOutcome {
            written: true,
            previous,
        })
    })
}

pub(crate) fn getdel(db: &Db, key: &[u8]) -> Result<Option<Vec<u8>>> {
    db.write_entry(key, |slot| {
        let Some(e) = slot.entry() else {
            slot.notify(Class::KeyMiss, "keymiss");
            return Ok(None);
        };
        let v = e.value.as_string()?.to_vec();
        slot.remove();
        slot.journal(Effect::Del { db: slot.db(), key });
        slot.notify(Class::Generic, "del");
        Ok(Some(v))
    })
}

pub(crate) fn getex(db: &Db, key: &[u8], opt: GetExOption) -> Result<Option<Vec<u8>>> {
    let when = match opt {
        GetExOption::Ex(n) => Some(When::RelativeSecs(n)),
        GetExOption::Px(n) => Some(When::RelativeMs(n)),
        GetExOption::ExAt(n) => Some(When::AbsoluteSecs(n)),
        GetExOption::PxAt(n) => Some(When::AbsoluteMs(n)),
        GetExOption::Keep | GetExOption::Persist => None,
    };
    db.write_entry(key, |slot| {
        let now = slot.now();
        // A missing key and a wrong type are answered before the expiry is checked, as in Redis.
        let Some(e) = slot.entry() else {
            slot.notify(Class::KeyMiss, "keymiss");
            return Ok(None);
        };
        let v = e.value.as_string()?.to_vec();
        let had_ttl = e.expire_at().is_some();
        let at = when.map(|w| positive_deadline(now, w)).transpose()?;
        match (opt, at) {
            (_, Some(at)) if at as u64 <= now => {
                slot.remove();
                slot.journal(Effect::Del { db: slot.db(), key });
                slot.notify(Class::Generic, "del");
            }
            (_, Some(at)) => {
                slot.set_expiry(Some(at as u64));
                slot.journal(Effect::Expire {
                    db: slot.db(),
                    key,
                    at: Some(at as u64),
                });
                slot.notify(Class::Generic, "expire");
            }
            (GetExOption::Persist, None) if had_ttl => {
                slot.set_expiry(None);
                slot.journal(Effect::Expire {
                    db: slot.db(),
                    key,
                    at: None,
                });
                slot.notify(Class::Generic, "persist");
            }
            _ => {}
        }
        Ok(Some(v))
    })
}

pub(crate) fn mget(db: &Db, keys: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
    let ids: Vec<_> = keys.iter().map(|&k| (db.index, k)).collect();
    let locked = db.lock_read(&ids);
    keys.iter()
        .map(|&k| {
            locked
                .entry(db.index, k)
                .and_then(|e| e.value.as_string().ok())
                .map(|s| s.to_vec())
        })
        .collect()
}

pub(crate) fn get_many(db: &Db, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
    let ids: Vec<_> = keys.iter().map(|&k| (db.index, k)).collect();
    let locked = db.lock_read(&ids);
    keys.iter()
        .map(|&k| match locked.entry(db.index, k) {
            Some(e) => Ok(Some(e.value.as_string()?.to_vec())),
            None => Ok(None),
        })
        .collect()
}

/// MSET (`nx` false) or MSETNX (`nx` true): all pairs under all their locks at once; in a
/// persistent store, durable (see `Inner::durable`).
pub(crate) fn mset(db: &Db, pairs: &[(&[u8], &[u8])], nx: bool) -> Result<bool> {
    db.admit().pairs(pairs)?.check()?;
    let ids: Vec<_> = pairs.iter().map(|&(k, _)| (db.index, k)).collect();
    db.write_many(&ids, |locked| mset_locked(locked, db.index, pairs, nx))
}

fn mset_locked(
    locked: &mut MultiWrite<'_>,
    d: usize,
    pairs: &[(&[u8], &[u8])],
    nx: bool,
) -> Result<bool> {
    if nx && pairs.iter().any(|&(k, _)| locked.entry(d, k).is_some()) {
        return Ok(false);
    }
    for &(k, v) in pairs {
        let mut slot = locked.slot(d, k);
        slot.put(Value::string(v), None);
        slot.notify(Class::String, "set");
    }
    locked.journal(Effect::MSet { db: d, pairs });
    Ok(true)
}

pub(crate) fn append(db: &Db, key: &[u8], data: &[u8]) -> Result<usize> {
    db.admit().key(key)?.arg(data)?.check()?;
    let max = db.inner.max_bulk_len();
    db.write_entry(key, |slot| {
        let len = match slot.entry() {
            Some(e) => e.value.as_string()?.len(),
            None => 0,
        };
        if len.saturating_add(data.len()) > max {
            return Err(Error::StringTooLong);
        }
        let new_len = match slot.value_mut() {
            Some(v) => {
                let s = v.as_string_mut()?.make_vec();
                s.extend_from_slice(data);
                s.len()
            }
            None => {
                slot.put(Value::string(data), None);
                data.len()
            }
        };
        slot.journal(Effect::Append {
            db: slot.db(),
            key,
            data,
        });
        slot.notify(Class::String, "append");
        Ok(new_len)
    })
}

/// GETRANGE's slice: inclusive `start..=end`, negative indexes from the end, clamped.
pub(crate) fn range(s: &[u8], start: i64, end: i64) -> Vec<u8> {
    let len = s.len() as i64;
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return Vec::new();
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 {
        (len + end).max(0)
    } else {
        end.min(len - 1)
    };
    if start > end || start >= len {
        return Vec::new();
    }
    s[start as usize..=end as usize].to_vec()
}

pub(crate) fn setrange(db: &Db, key: &[u8], offset: u64, data: &[u8]) -> Result<usize> {
    db.admit().key(key)?.arg(data)?.check()?;
    let max = db.inner.max_bulk_len() as u64;
    db.write_entry(key, |slot| {
        let len = match slot.entry() {
            Some(e) => e.value.as_string()?.len(),
            None => 0,
        };
        if data.is_empty() {
            return Ok(len);
        }
        if offset.saturating_add(data.len() as u64) > max {
            return Err(Error::StringTooLong);
        }
        let offset = offset as usize;
        if slot.entry().is_none() {
            slot.put(Value::string(b""), None);
        }
        let Some(v) = slot.value_mut() else {
            unreachable!("created just above")
        };
        let s = v.as_string_mut()?.make_vec();
        if s.len() < offset + data.len() {
            s.resize(offset + data.len(), 0);
        }
        s[offset..offset + data.len()].copy_from_slice(data);
        let new_len = s.len();
        slot.journal(Effect::SetRange {
            db: slot.db(),
            key,
            offset,
            data,
        });
        slot.notify(Class::String, "setrange");
        Ok(new_len)
    })
}

pub(crate) fn incrby(db: &Db, key: &[u8], by: i64) -> Result<i64> {
    db.admit().key(key)?.check()?;
    db.write_entry(key, |slot| {
        // A counter held packed is read and rewritten in its slot: no unpacked copy.
        let packed = slot
            .packed_string()
            .map(|s| parse_i64(s).ok_or(Error::NotInteger))
            .transpose()?;
        let (old, expire_at) = match packed {
            Some(old) => (old, None),
            None => match slot.entry() {
                Some(e) => {
                    let s = e.value.as_string()?;
                    (parse_i64(s).ok_or(Error::NotInteger)?, e.expire_at())
                }
                None => (0, None),
            },
        };
        let new = old.checked_add(by).ok_or(Error::Overflow)?;
        let mut buf = [0u8; I64_LEN];
        let text = format_i64(new, &mut buf);
        let in_slot = packed.is_some() && slot.overwrite_packed_string(text);
        if !in_slot {
            if expire_at.is_none() {
                // Written whole, inline: a packed counter in its slot (`Shard::put_packed`),
                // nothing allocated either way.
                slot.put(Value::string(text), None);
            } else {
                match slot.value_mut() {
                    // Overwrite in place: a counter's buffer is reused, nothing is allocated.
                    Some(Value::String(s)) => s.assign(text),
                    _ => slot.put(Value::string(text), expire_at),
                }
            }
        }
        slot.journal_put();
        slot.notify(Class::String, "incrby");
        Ok(new)
    })
}

/// Redis computes in x87 `long double`; see [`LongDouble`] for the parse, sum and text.
pub(crate) fn incrbyfloat(db: &Db, key: &[u8], by: LongDouble) -> Result<Vec<u8>> {
    db.admit().key(key)?.check()?;
    db.write_entry(key, |slot| {
        let (old, expire_at) = match slot.entry() {
            Some(e) => {
                let s = e.value.as_string()?;
                (LongDouble::parse(s).ok_or(Error::NotFloat)?, e.expire_at())
            }
            None => (LongDouble::from(0.0), None),
        };
        let new = old.checked_add(by).ok_or(Error::NanOrInfinity)?;
        let text = new.format_human().into_bytes();
        slot.put(Value::string(&text), expire_at);
        slot.journal_put();
        slot.notify(Class::String, "incrbyfloat");
        Ok(text)
    })
}

#[cfg(test)]
mod tests {
    use crate::entry::{KeyType, Value};
    use crate::{Error, GetExOption, Kv, Options, SetOptions, Store};

    fn with_list() -> crate::Db {
        let db = Kv::in_memory(Options::new().shards(2)).db(0).unwrap();
        put_list(&db, b"list");
        db
    }

    /// A one-element list at `key`.
    fn put_list(db: &crate::Db, key: &[u8]) {
        db.write_entry(key, |slot| {
            let mut list = crate::types::List::new();
            list.push(crate::types::End::Left, b"x");
            slot.put(Value::List(list), None);
            Ok(())
        })
        .unwrap();
    }

    fn check<T: std::fmt::Debug>(name: &str, r: crate::Result<T>) {
        assert!(matches!(r, Err(Error::WrongType)), "{name}: {r:?}");
    }

    #[test]
    fn string_commands_on_a_list_are_wrongtype_and_change_nothing() {
        let db = with_list();
        check("get", db.get("list"));
        check(
            "set get",
            db.set_with("list", "v", &SetOptions::new().get()),
        );
        check("getset", db.getset("list", "v"));
        check("getdel", db.getdel("list"));
        check("getex", db.getex("list", GetExOption::Persist));
        check("get_many", db.get_many(&["missing", "list"]));
        // The type is checked before the expiry, as in Redis.
        check("getex bad expiry", db.getex("list", GetExOption::Ex(0)));
        check("append", db.append("list", "v"));
        check("strlen", db.strlen("list"));
        check("getrange", db.getrange("list", 0, -1));
        check("setrange", db.setrange("list", 0, "v"));
        check("setrange empty", db.setrange("list", 0, ""));
        check("incr", db.incr("list"));
        check("incrbyfloat", db.incrbyfloat("list", 1.0));
        assert_eq!(db.key_type("list").unwrap(), Some(KeyType::List));
        assert_eq!(
            db.mget(&["list"]).unwrap(),
            vec![None],
            "MGET reads a non-string as nil"
        );
        // Plain SET, NX refusal and key commands work on any type.
        assert!(!db.setnx("list", "v").unwrap());
        assert_eq!(db.exists(&["list"]).unwrap(), 1);
        db.rename("list", "moved").unwrap();
        assert_eq!(db.key_type("moved").unwrap(), Some(KeyType::List));
        db.set("moved", "now a string").unwrap();
        assert_eq!(db.get("moved").unwrap(), Some(b"now a string".to_vec()));
    }

    /// Whether `key` sits in a packed slot (not spilled to a full one).
    fn packed(db: &crate::Db, key: &[u8]) -> bool {
        let inner = &*db.inner;
        let hash = inner.hash(key);
        let shard = inner.write_shard(db.index, inner.shard_of(hash));
        let idx = shard.find(hash, key).expect("the key exists");
        shard.stored(idx).is_none()
    }

    /// GET reads a string held packed in place, outside and inside a transaction (where
    /// the shard is held for writing), and still answers WRONGTYPE, a miss and a string
    /// with an expiry (not packed) as before.
    #[test]
    fn get_reads_a_packed_string_in_place_in_and_out_of_a_transaction() {
        let kv = Kv::in_memory(Options::new().shards(1));
        let db = kv.db(0).unwrap();
        db.set("p", "short").unwrap();
        db.set("e", "expiring").unwrap();
        db.expire("e", 100, crate::ExpireCondition::None).unwrap();
        put_list(&db, b"l");
        assert!(packed(&db, b"p"));
        assert!(!packed(&db, b"e"));
        let read = |db: &crate::Db| {
            (
                db.get("p").unwrap(),
                db.get("e").unwrap(),
                db.get("none").unwrap(),
                matches!(db.get("l"), Err(Error::WrongType)),
            )
        };
        let want = (
            Some(b"short".to_vec()),
            Some(b"expiring".to_vec()),
            None,
            true,
        );
        assert_eq!(read(&db), want);
        let keys: &[(usize, &[u8])] = &[(0, b"p"), (0, b"e"), (0, b"none"), (0, b"l")];
        let inside = kv
            .transaction(crate::Scope::Keys(keys), |tx| Ok(read(&tx.db(0)?)))
            .unwrap();
        assert_eq!(inside, want);
        assert!(packed(&db, b"p"), "still packed after the reads");
    }

    /// INCRBY of a counter held packed reads and rewrites it in its slot (no unpacked copy);
    /// a packed string that is not an integer, and an overflow, fail and change nothing.
    #[test]
    fn incrby_rewrites_a_packed_counter_in_its_slot() {
        let db = Kv::in_memory(Options::new().shards(1)).db(0).unwrap();
        db.set("n", "41").unwrap();
        assert!(packed(&db, b"n"));
        db.write_entry(b"n", |slot| {
            assert_eq!(slot.packed_string(), Some(&b"41"[..]));
            Ok(())
        })
        .unwrap();
        assert_eq!(db.incrby("n", 1).unwrap(), 42);
        assert!(packed(&db, b"n"));
        assert_eq!(db.get("n").unwrap(), Some(b"42".to_vec()));
        assert_eq!(db.incrby("n", -50).unwrap(), -8);
        assert_eq!(db.get("n").unwrap(), Some(b"-8".to_vec()));

        db.set("s", "abc").unwrap();
        assert!(matches!(db.incrby("s", 1), Err(Error::NotInteger)));
        assert_eq!(db.get("s").unwrap(), Some(b"abc".to_vec()));

        db.set("max", i64::MAX.to_string()).unwrap();
        assert!(matches!(db.incrby("max", 1), Err(Error::Overflow)));
        assert_eq!(
            db.get("max").unwrap(),
            Some(i64::MAX.to_string().into_bytes())
        );

        // A counter with an expiry is not packed: the entry path, expiry kept.
        db.set("e", "1").unwrap();
        db.expire("e", 100, crate::ExpireCondition::None).unwrap();
        assert_eq!(db.incrby("e", 2).unwrap(), 3);
        assert!(matches!(db.ttl("e").unwrap(), crate::Ttl::ExpiresIn(_)));
    }

    /// SET over a short string held packed writes it in its slot (no unpacking), with every
    /// option's meaning kept: a value too long for the slot, an expiry, NX, XX and GET take
    /// the other paths, and a string that fits again is packed again.
    #[test]
    fn set_overwrites_a_packed_string_in_its_slot() {
        let db = Kv::in_memory(Options::new().shards(1)).db(0).unwrap();
        db.set("k", "abc").unwrap();
        assert!(packed(&db, b"k"));
        db.set("k", "xyz").unwrap();
        assert!(packed(&db, b"k"));
        assert_eq!(db.get("k").unwrap(), Some(b"xyz".to_vec()));
        let old = db.set_with("k", "uvw", &SetOptions::new().get()).unwrap();
        assert_eq!(old.previous, Some(b"xyz".to_vec()));
        assert!(
            !db.set_with("k", "no", &SetOptions::new().nx())
                .unwrap()
                .written
        );
        assert!(
            db.set_with("k", "xx", &SetOptions::new().xx())
                .unwrap()
                .written
        );
        assert_eq!(db.get("k").unwrap(), Some(b"xx".to_vec()));
        let long = "a value longer than a packed slot holds";
        db.set("k", long).unwrap();
        assert_eq!(db.get("k").unwrap(), Some(long.as_bytes().to_vec()));
        db.set("k", "short").unwrap();
        assert_eq!(db.get("k").unwrap(), Some(b"short".to_vec()));
        let ex = SetOptions::new().expiry(crate::SetExpiry::Ex(100));
        db.set_with("k", "ttl", &ex).unwrap();
        assert_eq!(db.get("k").unwrap(), Some(b"ttl".to_vec()));
        assert!(
            matches!(db.ttl("k").unwrap(), crate::Ttl::ExpiresIn(_)),
            "the expiry was set"
        );
        db.set("k", "again").unwrap();
        assert_eq!(
            db.ttl("k").unwrap(),
            crate::Ttl::Persistent,
            "a plain SET clears it"
        );
        assert_eq!(db.get("k").unwrap(), Some(b"again".to_vec()));

        // (A key given an expiry moved to a full slot for good: SET writes it in place.)
        assert!(!packed(&db, b"k"));

        // The slot's own path: in the slot, without unpacking it, only when it fits.
        db.set("p", "abc").unwrap();
        db.write_entry(b"p", |slot| {
            assert!(!slot.overwrite_packed_string(long.as_bytes()));
            assert!(slot.overwrite_packed_string(b"in place"));
            assert!(!slot.unpacked(), "nothing was unpacked");
            Ok(())
        })
        .unwrap();
        assert!(packed(&db, b"p"));
        assert_eq!(db.get("p").unwrap(), Some(b"in place".to_vec()));
        db.write_entry(b"missing", |slot| {
            assert!(!slot.overwrite_packed_string(b"v"), "no key, no slot");
            Ok(())
        })
        .unwrap();
        assert_eq!(db.get("missing").unwrap(), None);
    }

    #[test]
    fn an_emptied_container_is_deleted() {
        let db = with_list();
        db.write_entry(b"list", |slot| {
            if let Some(Value::List(l)) = slot.value_mut() {
                l.pop(crate::types::End::Left);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(db.exists(&["list"]).unwrap(), 0);
    }
}
