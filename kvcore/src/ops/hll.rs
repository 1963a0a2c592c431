//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! A HyperLogLog is a string in Redis's exact layout (`types/hll.rs`), so GET, SET, DUMP and
//! the rest treat it as any string. PFADD journals only what it changed: the header's byte
//! and the span of dense registers it raised, in that order, or the whole value while it
//! is sparse (at most `hll-sparse-max-bytes`) or when it became dense. PFCOUNT of one key
//! stores the estimate in the header, as Redis does, and journals those 8 bytes.

use crate::bytes::SmallBytes;
use crate::effect::Effect;
use crate::entry::Value;
use crate::error::{Error, Result};
use crate::kv::Db;
use crate::notify::Class;
use crate::types::hll::{self, Added, HllError, REGISTERS};

impl From<HllError> for Error {
    fn from(e: HllError) -> Error {
        match e {
            HllError::NotHll => Error::NotHyperLogLog,
            HllError::Corrupt => Error::CorruptHyperLogLog,
        }
    }
}

/// What PFDEBUG looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HllDebug {
    /// GETREG: every register, after making the value dense (a write, as in Redis).
    Registers,
    /// DECODE: the sparse opcodes as text.
    Decode,
    /// ENCODING: `sparse` or `dense`.
    Encoding,
    /// TODENSE: makes the value dense.
    ToDense,
    /// Only the checks every subcommand makes first (the key exists and is a HyperLogLog).
    Check,
}

/// PFDEBUG's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HllDebugInfo {
    /// The 16384 registers.
    Registers(Vec<u8>),
    /// The sparse code (`Z:16384`, `v:2,1 z:19 ...`); None for a dense value.
    Decoded(Option<String>),
    /// `sparse` or `dense`.
    Encoding(&'static str),
    /// Whether TODENSE converted the value.
    Converted(bool),
    /// The key passed the checks.
    Checked,
}

/// HyperLogLog operations, as Redis's PF commands, on strings in Redis's own HYLL layout: a
/// value written by Redis counts the same here and the other way round.
///
/// Every method fails with [`Error::WrongType`](crate::Error::WrongType) when a key holds
/// another type, with [`Error::NotHyperLogLog`](crate::Error::NotHyperLogLog) for a string
/// that is not a HyperLogLog, and with
/// [`Error::CorruptHyperLogLog`](crate::Error::CorruptHyperLogLog) for one whose registers
/// do not add up.
///
/// ```
/// use kvcore::{HllStore, Kv, Options};
///
/// let db = Kv::in_memory(Options::default()).db(0)?;
/// assert!(db.pfadd("visitors", &["ada", "grace", "alan"])?);
/// assert!(!db.pfadd("visitors", &["ada"])?); // no register changed
/// assert_eq!(db.pfcount(&["visitors"])?, 3);
/// db.pfadd("others", &["ada", "linus"])?;
/// assert_eq!(db.pfcount(&["visitors", "others"])?, 4);
/// db.pfmerge("all", &["visitors", "others"])?;
/// assert_eq!(db.pfcount(&["all"])?, 4);
/// # Ok::<(), kvcore::Error>(())
/// ```
pub trait HllStore {
    /// PFADD: adds the elements, creating the key; true if the key was created or a register
    /// changed (the estimate may have changed).
    fn pfadd<E: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, elements: &[E]) -> Result<bool>;
    /// PFCOUNT: the estimated number of distinct elements added to one key (cached in its
    /// header), or to the union of several (missing keys count as empty).
    fn pfcount<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64>;
    /// PFMERGE: stores the union of `dest` and the sources at `dest`.
    fn pfmerge<K: AsRef<[u8]>>(&self, dest: impl AsRef<[u8]>, sources: &[K]) -> Result<()>;
    /// PFDEBUG: None when the key does not exist.
    fn pfdebug(&self, key: impl AsRef<[u8]>, what: HllDebug) -> Result<Option<HllDebugInfo>>;
}

impl HllStore for Db {
    fn pfadd<E: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, elements: &[E]) -> Result<bool> {
        pfadd(self, key.as_ref(), elements)
    }

    fn pfcount<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        match keys {
            [key] => pfcount_one(self, key.as_ref()),
            _ => {
                let keys: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
                pfcount_union(self, &keys)
            }
        }
    }

    fn pfmerge<K: AsRef<[u8]>>(&self, dest: impl AsRef<[u8]>, sources: &[K]) -> Result<()> {
        let sources: Vec<&[u8]> = sources.iter().map(AsRef::as_ref).collect();
        pfmerge(self, dest.as_ref(), &sources)
    }

    fn pfdebug(&self, key: impl AsRef<[u8]>, what: HllDebug) -> Result<Option<HllDebugInfo>> {
        pfdebug(self, key.as_ref(), what)
    }
}

/// A valid HyperLogLog string or the error Redis gives.
fn checked(v: &Value) -> Result<&[u8]> {
    let s = v.as_string()?.as_slice();
    hll::validate(s)?;
    Ok(s)
}

fn pfadd<E: AsRef<[u8]>>(db: &Db, key: &[u8], elements: &[E]) -> Result<bool> {
    db.admit().key(key)?.check()?;
    let max_bytes = db.inner.hll_sparse_max_bytes();
    let d = db.index;
    // Two records at most (the header's byte, then the registers raised): a log cut between
    // them keeps a stale cache mark and the old registers, which reads as the old value.
    db.write_entry(key, |slot| {
        let created = match slot.entry() {
            Some(e) => {
                checked(&e.value)?;
                false
            }
            None => {
                slot.put(Value::String(SmallBytes::Heap(hll::new_sparse())), None);
                true
            }
        };
        let Some(value) = slot.value_mut() else {
            unreachable!("checked or created just above")
        };
        let v = value.as_string_mut()?.make_vec();
        let mut updated = created;
        let mut rewritten = created;
        let mut dense: Option<(usize, usize)> = None;
        let mut failed = None;
        for e in elements {
            match hll::add(v, e.as_ref(), max_bytes) {
                Ok(Added::Unchanged) => {}
                Ok(Added::Dense { lo, hi }) => {
                    updated = true;
                    dense = Some(dense.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                }
                Ok(Added::Rewritten) => {
                    updated = true;
                    rewritten = true;
                }
                Err(e) => {
                    // Redis keeps what the elements before changed.
                    failed = Some(e);
                    break;
                }
            }
        }
        if updated && failed.is_none() {
            hll::invalidate(v);
        }
        if rewritten {
            slot.journal_put();
        } else if let Some((lo, hi)) = dense {
            let header = [v[hll::HDR - 1]];
            let registers = v[lo..=hi].to_vec();
            for (offset, data) in [(hll::HDR - 1, &header[..]), (lo, &registers[..])] {
                slot.journal(Effect::SetRange {
                    db: d,
                    key,
                    offset,
                    data,
                });
            }
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        if updated {
            slot.notify(Class::String, "pfadd");
        }
        Ok(updated)
    })
}

fn pfcount_one(db: &Db, key: &[u8]) -> Result<u64> {
    // The cached estimate under the read lock; a raw string, as PFCOUNT leaves it in Redis.
    let cached = db.read_entry(key, |e| -> Result<Option<u64>> {
        match e {
            None => Ok(Some(0)),
            Some(e) => {
                let s = checked(&e.value)?;
                let raw = matches!(e.value, Value::String(SmallBytes::Heap(_)));
                Ok(hll::cached(s).filter(|_| raw))
            }
        }
    })?;
    if let Some(card) = cached {
        return Ok(card);
    }
    db.write_entry(key, |slot| {
        let Some(e) = slot.entry() else {
            return Ok(0);
        };
        checked(&e.value)?;
        let Some(value) = slot.value_mut() else {
            unreachable!("the entry exists")
        };
        let v = value.as_string_mut()?.make_vec();
        if let Some(card) = hll::cached(v) {
            return Ok(card);
        }
        let card = hll::count(v)?;
        hll::set_cached(v, card);
        slot.journal(Effect::SetRange {
            db: slot.db(),
            key,
            offset: 8,
            data: &card.to_le_bytes(),
        });
        Ok(card)
    })
}

fn pfcount_union(db: &Db, keys: &[&[u8]]) -> Result<u64> {
    let ids: Vec<_> = keys.iter().map(|&k| (db.index, k)).collect();
    let locked = db.lock_read(&ids);
    let mut max = Box::new([0u8; REGISTERS]);
    for &k in keys {
        // A missing key is an empty HyperLogLog (and a `keymiss` event).
        let Some(e) = locked.entry(db.index, k) else {
            continue;
        };
        hll::merge_into(&mut max, checked(&e.value)?)?;
    }
    Ok(hll::count_raw(&max))
}

fn pfmerge(db: &Db, dest: &[u8], sources: &[&[u8]]) -> Result<()> {
    db.admit().key(dest)?.keys(sources)?.check()?;
    let max_bytes = db.inner.hll_sparse_max_bytes();
    let d = db.index;
    let mut ids = Vec::with_capacity(sources.len() + 1);
    ids.push((d, dest));
    ids.extend(sources.iter().map(|&k| (d, k)));
    db.write_many(&ids, |locked| {
        // The destination is a source too, and is read first.
        let mut max = Box::new([0u8; REGISTERS]);
        let mut use_dense = false;
        for &k in std::iter::once(&dest).chain(sources) {
            let Some(e) = locked.source(d, k) else {
                continue;
            };
            let s = checked(&e.value)?;
            use_dense |= !hll::is_sparse(s);
            hll::merge_into(&mut max, s)?;
        }
        let mut slot = locked.slot(d, dest);
        if slot.entry().is_none() {
            slot.put(Value::String(SmallBytes::Heap(hll::new_sparse())), None);
        }
        let Some(value) = slot.value_mut() else {
            unreachable!("checked as a source or created just above")
        };
        let v = value.as_string_mut()?.make_vec();
        if use_dense {
            hll::to_dense(v)?;
        }
        for (i, &m) in max.iter().enumerate() {
            if m == 0 {
                continue;
            }
            if hll::is_sparse(v) {
                // As in Redis, a damaged destination is not reported here: it was read whole
                // as a source above.
                let _ = hll::sparse_set(v, i, m, max_bytes);
            } else {
                hll::dense_set(&mut v[hll::HDR..], i, m);
            }
        }
        hll::invalidate(v);
        slot.journal_put();
        slot.notify(Class::String, "pfadd");
        Ok(())
    })
}

fn pfdebug(db: &Db, key: &[u8], what: HllDebug) -> Result<Option<HllDebugInfo>> {
    db.admit().key(key)?.check()?;
    db.write_entry(key, |slot| {
        let Some(e) = slot.entry() else {
            return Ok(None);
        };
        checked(&e.value)?;
        let Some(value) = slot.value_mut() else {
            unreachable!("the entry exists")
        };
        let v = value.as_string_mut()?.make_vec();
        let sparse = hll::is_sparse(v);
        let info = match what {
            HllDebug::Registers | HllDebug::ToDense => {
                if sparse {
                    hll::to_dense(v)?;
                }
                let info = if what == HllDebug::ToDense {
                    HllDebugInfo::Converted(sparse)
                } else {
                    HllDebugInfo::Registers(hll::registers(v))
                };
                if sparse {
                    slot.journal_put();
                }
                info
            }
            HllDebug::Decode => HllDebugInfo::Decoded(sparse.then(|| hll::decode(v))),
            HllDebug::Encoding => HllDebugInfo::Encoding(if sparse { "sparse" } else { "dense" }),
            HllDebug::Check => HllDebugInfo::Checked,
        };
        Ok(Some(info))
    })
}

/// PFSELFTEST: checks that dense registers keep their values without disturbing their
/// neighbours, and that sparse and dense HyperLogLogs of up to 10 million elements agree and
/// stay within six standard errors (Redis's test, with `seed` in place of its random one).
///
/// # Errors
/// Redis's `TESTFAILED ...` text of the first check that failed.
pub fn hll_selftest(seed: u64) -> std::result::Result<(), String> {
    let mut dense = vec![0u8; hll::DENSE_SIZE];
    dense[..4].copy_from_slice(b"HYLL");
    let mut x = seed | 1;
    let mut next = move || {
        // xorshift64*: any reasonable generator serves the register test.
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut expect = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, e) in expect.iter_mut().enumerate() {
            let r = (next() & 63) as u8;
            *e = r;
            hll::dense_put(&mut dense[hll::HDR..], i, r);
        }
        for (i, &e) in expect.iter().enumerate() {
            let got = hll::dense_get(&dense[hll::HDR..], i);
            if got != e {
                return Err(format!(
                    "TESTFAILED Register {i} should be {e} but is {got}"
                ));
            }
        }
    }
    dense[hll::HDR..].fill(0);
    let mut sparse = hll::new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint: u64 = 1;
    let base = next();
    for j in 1..=10_000_000u64 {
        let ele = (j ^ base).to_le_bytes();
        let (index, count) = hll::pat_len(&ele);
        hll::dense_set(&mut dense[hll::HDR..], index, count);
        let _ = hll::add(&mut sparse, &ele, hll::DEFAULT_SPARSE_MAX_BYTES);
        if j != checkpoint {
            continue;
        }
        if j < hll::DEFAULT_SPARSE_MAX_BYTES as u64 / 2 && !hll::is_sparse(&sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let dense_count = hll::count(&dense).unwrap_or(u64::MAX);
        if hll::count(&sparse) != Ok(dense_count) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = checkpoint.abs_diff(dense_count);
        let mut maxerr = (relerr * 6.0 * checkpoint as f64).ceil() as u64;
        if j == 10 {
            maxerr = 1;
        }
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Error, HllDebug, HllDebugInfo, HllStore, Kv, Options, SetStore, Store};

    fn db() -> crate::Db {
        Kv::in_memory(Options::new().shards(2)).db(0).unwrap()
    }

    #[test]
    fn pfadd_creates_and_counts() {
        let db = db();
        assert!(
            db.pfadd::<&str>("h", &[]).unwrap(),
            "creating counts as a change"
        );
        assert_eq!(
            db.get("h").unwrap().unwrap(),
            b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff"
        );
        assert!(!db.pfadd::<&str>("h", &[]).unwrap());
        assert!(db.pfadd("h", &["a", "b", "c"]).unwrap());
        assert_eq!(db.pfcount(&["h"]).unwrap(), 3);
        // The estimate is cached in the header until the next change.
        assert_eq!(
            db.get("h").unwrap().unwrap()[8..16],
            [3, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(db.object_encoding("h").unwrap(), Some("raw"));
        assert_eq!(db.pfcount(&["h", "missing"]).unwrap(), 3);
    }

    #[test]
    fn not_an_hll_and_corrupt_values() {
        let db = db();
        db.set("s", "not an hll at all").unwrap();
        assert_eq!(db.pfadd("s", &["a"]), Err(Error::NotHyperLogLog));
        assert_eq!(db.pfcount(&["s"]), Err(Error::NotHyperLogLog));
        assert_eq!(db.pfmerge("d", &["s"]), Err(Error::NotHyperLogLog));
        db.sadd("set", &["a"]).unwrap();
        assert_eq!(db.pfcount(&["set"]), Err(Error::WrongType));
        // A sparse code that stops after one register.
        db.set("bad", b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x00")
            .unwrap();
        assert_eq!(db.pfcount(&["bad"]), Err(Error::CorruptHyperLogLog));
        assert_eq!(db.pfcount(&["bad", "s"]), Err(Error::CorruptHyperLogLog));
        assert_eq!(
            db.pfadd("bad", &["a", "b", "c"]),
            Err(Error::CorruptHyperLogLog)
        );
        assert_eq!(db.pfdebug("missing", HllDebug::Check), Ok(None));
    }

    #[test]
    fn merge_and_debug() {
        let db = db();
        db.pfadd("a", &["1", "2", "3"]).unwrap();
        db.pfadd("b", &["3", "4"]).unwrap();
        db.pfmerge("c", &["a", "b"]).unwrap();
        assert_eq!(db.pfcount(&["c"]).unwrap(), 4);
        assert_eq!(
            db.pfdebug("c", HllDebug::Encoding).unwrap(),
            Some(HllDebugInfo::Encoding("sparse"))
        );
        assert_eq!(
            db.pfdebug("c", HllDebug::ToDense).unwrap(),
            Some(HllDebugInfo::Converted(true))
        );
        assert_eq!(db.get("c").unwrap().unwrap().len(), 12304);
        assert_eq!(db.pfcount(&["c"]).unwrap(), 4);
        assert_eq!(
            db.pfdebug("c", HllDebug::Decode).unwrap(),
            Some(HllDebugInfo::Decoded(None))
        );
        db.pfadd("c", &["5"]).unwrap();
        assert_eq!(db.pfcount(&["c"]).unwrap(), 5);
    }

    #[test]
    fn selftest_passes() {
        // The full test adds 10 million elements: run it only in release builds.
        if cfg!(debug_assertions) {
            return;
        }
        assert_eq!(super::hll_selftest(42), Ok(()));
    }
}
