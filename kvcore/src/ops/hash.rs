//! Hash commands: HSET, HSETNX, HGET, HMGET, HDEL, HLEN, HSTRLEN, HEXISTS, HKEYS, HVALS,
//! HGETALL, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN.

use crate::effect::Effect;
use crate::error::Result;
use crate::glob::Pattern;
use crate::kv::Db;
use crate::notify::Class;
use crate::number::LongDouble;
use crate::ops::container::{bytes, read, rng, write};
use crate::options::ScanOptions;
use crate::types::Hash;

/// A field and its value.
pub type FieldValue = (Vec<u8>, Vec<u8>);

/// Hash operations, as Redis's hash commands. Fields and values are bytes.
///
/// Every method fails with [`Error::WrongType`](crate::Error::WrongType) when the key holds
/// another type; a hash whose last field is deleted is deleted.
///
/// ```
/// use kvcore::{HashStore, Kv, Options};
///
/// let db = Kv::in_memory(Options::default()).db(0)?;
/// assert_eq!(db.hset("user:1", &[("name", "ada"), ("visits", "1")])?, 2);
/// assert_eq!(db.hincrby("user:1", "visits", 2)?, 3);
/// assert_eq!(db.hget("user:1", "name")?, Some(b"ada".to_vec()));
/// assert_eq!(db.hdel("user:1", &["name", "visits"])?, 2); // the empty hash is deleted
/// assert_eq!(db.hlen("user:1")?, 0);
/// # Ok::<(), kvcore::Error>(())
/// ```
pub trait HashStore {
    /// HSET (and HMSET): sets each pair in turn, creating the hash; returns how many fields
    /// are new.
    fn hset<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        pairs: &[(F, V)],
    ) -> Result<usize>;
    /// HSETNX: sets the field only if it does not exist; true if it did.
    fn hsetnx(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<bool>;
    /// HGET.
    fn hget(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>>;
    /// HMGET: one entry per field, None for missing fields (all None for a missing key).
    fn hmget<F: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        fields: &[F],
    ) -> Result<Vec<Option<Vec<u8>>>>;
    /// HDEL: returns how many of `fields` existed.
    fn hdel<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<usize>;
    /// HLEN.
    fn hlen(&self, key: impl AsRef<[u8]>) -> Result<usize>;
    /// HSTRLEN: the value's length, 0 when missing.
    fn hstrlen(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<usize>;
    /// HEXISTS.
    fn hexists(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<bool>;
    /// HKEYS.
    fn hkeys(&self, key: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>>;
    /// HVALS.
    fn hvals(&self, key: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>>;
    /// HGETALL.
    fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<FieldValue>>;
    /// HINCRBY: adds `delta` to the field's integer (0 when missing); returns the result.
    ///
    /// # Errors
    /// [`HashValueNotInteger`](crate::Error::HashValueNotInteger),
    /// [`Overflow`](crate::Error::Overflow).
    fn hincrby(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>, delta: i64) -> Result<i64>;
    /// HINCRBYFLOAT: adds `delta` to the field's number in x87 `long double` and returns the
    /// stored text, as [`incrbyfloat`](crate::Store::incrbyfloat) does.
    ///
    /// # Errors
    /// [`HashValueNotFloat`](crate::Error::HashValueNotFloat),
    /// [`NanOrInfinity`](crate::Error::NanOrInfinity).
    fn hincrbyfloat(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        delta: impl Into<LongDouble>,
    ) -> Result<Vec<u8>>;
    /// HRANDFIELD without a count: a random field, None for a missing key.
    fn hrandfield(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>>;
    /// HRANDFIELD with a count: positive = distinct fields (at most all of them), negative =
    /// |count| fields that may repeat. Values come along (for WITHVALUES).
    fn hrandfield_count(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<FieldValue>>;
    /// HSCAN: one step from `cursor` (0 starts); returns the next cursor (0: done) and pairs.
    /// Every field present for the whole scan is returned at least once.
    fn hscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        opts: &ScanOptions,
    ) -> Result<(u64, Vec<FieldValue>)>;
}

fn pair((f, v): (&[u8], &[u8])) -> FieldValue {
    (f.to_vec(), v.to_vec())
}

impl HashStore for Db {
    fn hset<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        pairs: &[(F, V)],
    ) -> Result<usize> {
        let key = key.as_ref();
        // HSET with a few pairs (the usual case) borrows them from the stack, not a Vec.
        let mut inline: [(&[u8], &[u8]); 4] = [(&[], &[]); 4];
        let heap: Vec<(&[u8], &[u8])>;
        let pairs: &[(&[u8], &[u8])] = if pairs.len() <= inline.len() {
            for (slot, (f, v)) in inline.iter_mut().zip(pairs) {
                *slot = (f.as_ref(), v.as_ref());
            }
            &inline[..pairs.len()]
        } else {
            heap = pairs
                .iter()
                .map(|(f, v)| (f.as_ref(), v.as_ref()))
                .collect();
            &heap
        };
        self.admit().key(key)?.pairs(pairs)?.check()?;
        self.write_entry(key, |slot| {
            let added = write(slot, true, |h: &mut Hash| {
                Ok(pairs.iter().filter(|(f, v)| h.set(f, v)).count())
            })?;
            slot.journal(Effect::HashSet {
                db: slot.db(),
                key,
                pairs,
            });
            slot.notify(Class::Hash, "hset");
            Ok(added.unwrap_or(0))
        })
    }

    fn hsetnx(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<bool> {
        let (key, field, value) = (key.as_ref(), field.as_ref(), value.as_ref());
        self.inner
            .admit()
            .key(key)?
            .arg(field)?
            .arg(value)?
            .check()?;
        self.write_entry(key, |slot| {
            let set = write(slot, true, |h: &mut Hash| Ok(h.set_nx(field, value)))? == Some(true);
            if set {
                slot.journal(Effect::HashSet {
                    db: slot.db(),
                    key,
                    pairs: &[(field, value)],
                });
                slot.notify(Class::Hash, "hset");
            }
            Ok(set)
        })
    }

    fn hget(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let field = field.as_ref();
        read(self, key.as_ref(), |h: Option<&Hash>| {
            h.and_then(|h| h.get(field)).map(<[u8]>::to_vec)
        })
    }

    fn hmget<F: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        fields: &[F],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        read(self, key.as_ref(), |h: Option<&Hash>| match h {
            Some(h) => h
                .get_many(fields)
                .into_iter()
                .map(|v| v.map(<[u8]>::to_vec))
                .collect(),
            None => vec![None; fields.len()],
        })
    }

    fn hdel<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<usize> {
        let key = key.as_ref();
        let fields = bytes(fields);
        self.admit().key(key)?.keys(&fields)?.check()?;
        self.write_entry(key, |slot| {
            let removed: Vec<&[u8]> = write(slot, false, |h: &mut Hash| {
                Ok(fields.iter().copied().filter(|f| h.remove(f)).collect())
            })?
            .unwrap_or_default();
            if !removed.is_empty() {
                slot.journal(Effect::HashDel {
                    db: slot.db(),
                    key,
                    fields: &removed,
                });
                slot.notify(Class::Hash, "hdel");
            }
            Ok(removed.len())
        })
    }

    fn hlen(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        read(self, key.as_ref(), |h: Option<&Hash>| {
            h.map_or(0, Hash::len)
        })
    }

    fn hstrlen(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<usize> {
        let field = field.as_ref();
        read(self, key.as_ref(), |h: Option<&Hash>| {
            h.map_or(0, |h| h.value_len(field))
        })
    }

    fn hexists(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<bool> {
        let field = field.as_ref();
        read(self, key.as_ref(), |h: Option<&Hash>| {
            h.is_some_and(|h| h.contains(field))
        })
    }

    fn hkeys(&self, key: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>> {
        read(self, key.as_ref(), |h: Option<&Hash>| {
            h.map_or_else(Vec::new, |h| h.fields().map(<[u8]>::to_vec).collect())
        })
    }

    fn hvals(&self, key: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>> {
        read(self, key.as_ref(), |h: Option<&Hash>| {
            h.map_or_else(Vec::new, |h| h.values().map(<[u8]>::to_vec).collect())
        })
    }

    fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<FieldValue>> {
        read(self, key.as_ref(), |h: Option<&Hash>| {
            h.map_or_else(Vec::new, |h| h.iter().map(pair).collect())
        })
    }

    fn hincrby(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        let (key, field) = (key.as_ref(), field.as_ref());
        self.admit().key(key)?.arg(field)?.check()?;
        self.write_entry(key, |slot| {
            let n = write(slot, true, |h: &mut Hash| Ok(h.incr_by(field, delta)?))?;
            // Created above when missing, so there is a result.
            let n = n.expect("hash exists");
            let text = n.to_string();
            slot.journal(Effect::HashSet {
                db: slot.db(),
                key,
                pairs: &[(field, text.as_bytes())],
            });
            slot.notify(Class::Hash, "hincrby");
            Ok(n)
        })
    }

    fn hincrbyfloat(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        delta: impl Into<LongDouble>,
    ) -> Result<Vec<u8>> {
        let (key, field, delta) = (key.as_ref(), field.as_ref(), delta.into());
        self.admit().key(key)?.arg(field)?.check()?;
        self.write_entry(key, |slot| {
            let text = write(
                slot,
                true,
                |h: &mut Hash| Ok(h.incr_by_float(field, delta)?),
            )?;
            let text = text.expect("hash exists");
            slot.journal(Effect::HashSet {
                db: slot.db(),
                key,
                pairs: &[(field, text.as_bytes())],
            });
            slot.notify(Class::Hash, "hincrbyfloat");
            Ok(text.into_bytes())
        })
    }

    fn hrandfield(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let mut rng = rng(self);
        read(self, key.as_ref(), |h: Option<&Hash>| {
            h.and_then(|h| h.random_field(&mut rng))
                .map(|(f, _)| f.to_vec())
        })
    }

    fn hrandfield_count(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<FieldValue>> {
        let mut rng = rng(self);
        read(self, key.as_ref(), |h: Option<&Hash>| {
            h.map_or_else(Vec::new, |h| {
                h.random_fields(&mut rng, count)
                    .into_iter()
                    .map(pair)
                    .collect()
            })
        })
    }

    fn hscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        opts: &ScanOptions,
    ) -> Result<(u64, Vec<FieldValue>)> {
        let pattern = opts.pattern.as_deref().map(Pattern::new);
        read(self, key.as_ref(), |h: Option<&Hash>| {
            let Some(h) = h else { return (0, Vec::new()) };
            let mut out = Vec::new();
            let next = h.scan(cursor, opts.count, |f, v| {
                if pattern.as_ref().is_none_or(|p| p.matches(f)) {
                    out.push((f.to_vec(), v.to_vec()));
                }
            });
            (next, out)
        })
    }
}
