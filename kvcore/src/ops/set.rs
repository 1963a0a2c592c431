//! Set commands: SADD, SREM, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS, SPOP, SRANDMEMBER, SMOVE,
//! SINTER, SINTERCARD, SUNION, SDIFF, their STORE forms, SSCAN.

use crate::effect::Effect;
use crate::error::Result;
use crate::glob::Pattern;
use crate::kv::Db;
use crate::notify::Class;
use crate::ops::container::{Container, bytes, read, rng, write};
use crate::options::ScanOptions;
use crate::types::Set;

/// Set operations, as Redis's set commands. Members are bytes.
///
/// Every method fails with [`Error::WrongType`](crate::Error::WrongType) when a key it reads
/// holds another type; a set whose last member goes is deleted.
///
/// ```
/// use kvcore::{Kv, Options, SetOp, SetStore};
///
/// let db = Kv::in_memory(Options::default()).db(0)?;
/// db.sadd("a", &["x", "y", "z"])?;
/// db.sadd("b", &["y", "z", "w"])?;
/// let mut both = db.sinter(&["a", "b"])?;
/// both.sort();
/// assert_eq!(both, [b"y".to_vec(), b"z".to_vec()]);
/// assert_eq!(db.sstore(SetOp::Union, "all", &["a", "b"])?, 4); // SUNIONSTORE
/// # Ok::<(), kvcore::Error>(())
/// ```
pub trait SetStore {
    /// SADD: returns how many members were new.
    fn sadd<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize>;
    /// SREM: returns how many members were present.
    fn srem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize>;
    /// SISMEMBER.
    fn sismember(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<bool>;
    /// SMISMEMBER: one answer per member.
    fn smismember<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M])
    -> Result<Vec<bool>>;
    /// SCARD.
    fn scard(&self, key: impl AsRef<[u8]>) -> Result<usize>;
    /// SMEMBERS.
    fn smembers(&self, key: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>>;
    /// SPOP without a count: removes and returns a random member.
    fn spop(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>>;
    /// SPOP with a count: removes and returns up to `count` distinct random members.
    fn spop_count(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Vec<Vec<u8>>>;
    /// SRANDMEMBER without a count.
    fn srandmember(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>>;
    /// SRANDMEMBER with a count: positive = distinct (at most all), negative = |count|
    /// members that may repeat.
    fn srandmember_count(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<Vec<u8>>>;
    /// SMOVE: moves `member` from `src` to `dst` atomically; false when it is not in `src`.
    fn smove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
    ) -> Result<bool>;
    /// SINTER (missing keys are empty sets).
    fn sinter<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Vec<u8>>>;
    /// SINTERCARD: the intersection's size, counting stops at `limit` (0: no limit).
    fn sintercard<K: AsRef<[u8]>>(&self, keys: &[K], limit: usize) -> Result<usize>;
    /// SUNION.
    fn sunion<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Vec<u8>>>;
    /// SDIFF: members of the first set in none of the others.
    fn sdiff<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Vec<u8>>>;
    /// SINTERSTORE / SUNIONSTORE / SDIFFSTORE: stores the result at `dst` (replacing it;
    /// deleting it when the result is empty); returns the result's size.
    fn sstore<K: AsRef<[u8]>>(&self, op: SetOp, dst: impl AsRef<[u8]>, keys: &[K])
    -> Result<usize>;
    /// SSCAN: one step from `cursor` (0 starts); returns the next cursor (0: done).
    fn sscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        opts: &ScanOptions,
    ) -> Result<(u64, Vec<Vec<u8>>)>;
}

/// Which algebra SSTORE applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// SINTER
    Inter,
    /// SUNION
    Union,
    /// SDIFF
    Diff,
}

fn apply(op: SetOp, sets: &[Option<&Set>]) -> Set {
    match op {
        SetOp::Inter => Set::inter(sets),
        SetOp::Union => Set::union(sets),
        SetOp::Diff => Set::diff(sets),
    }
}

fn members(s: &Set) -> Vec<Vec<u8>> {
    s.iter().map(<[u8]>::to_vec).collect()
}

/// Reads `keys` (as sets) at one instant and runs `f` on them.
fn with_sets<K: AsRef<[u8]>, R>(
    db: &Db,
    keys: &[K],
    f: impl FnOnce(&[Option<&Set>]) -> R,
) -> Result<R> {
    let d = db.index;
    let ids: Vec<(usize, &[u8])> = keys.iter().map(|k| (d, k.as_ref())).collect();
    let locked = db.lock_read(&ids);
    let sets = ids
        .iter()
        .map(|&(d, k)| locked.entry(d, k).map(|e| Set::of(&e.value)).transpose())
        .collect::<Result<Vec<_>>>()?;
    Ok(f(&sets))
}

impl SetStore for Db {
    fn sadd<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize> {
        let key = key.as_ref();
        let members = bytes(members);
        self.admit().key(key)?.keys(&members)?.check()?;
        self.write_entry(key, |slot| {
            let added: Vec<&[u8]> = write(slot, true, |s: &mut Set| {
                Ok(members.iter().copied().filter(|m| s.add(m)).collect())
            })?
            .unwrap_or_default();
            if !added.is_empty() {
                slot.journal(Effect::SetAdd {
                    db: slot.db(),
                    key,
                    members: &added,
                });
                slot.notify(Class::Set, "sadd");
            }
            Ok(added.len())
        })
    }

    fn srem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize> {
        let key = key.as_ref();
        let members = bytes(members);
        self.admit().key(key)?.keys(&members)?.check()?;
        self.write_entry(key, |slot| {
            let removed: Vec<&[u8]> = write(slot, false, |s: &mut Set| {
                Ok(members.iter().copied().filter(|m| s.remove(m)).collect())
            })?
            .unwrap_or_default();
            if !removed.is_empty() {
                slot.journal(Effect::SetRem {
                    db: slot.db(),
                    key,
                    members: &removed,
                });
                slot.notify(Class::Set, "srem");
            }
            Ok(removed.len())
        })
    }

    fn sismember(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<bool> {
        let member = member.as_ref();
        read(self, key.as_ref(), |s: Option<&Set>| {
            s.is_some_and(|s| s.contains(member))
        })
    }

    fn smismember<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<bool>> {
        read(self, key.as_ref(), |s: Option<&Set>| match s {
            Some(s) => s.contains_many(members),
            None => vec![false; members.len()],
        })
    }

    fn scard(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        read(self, key.as_ref(), |s: Option<&Set>| s.map_or(0, Set::len))
    }

    fn smembers(&self, key: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>> {
        read(self, key.as_ref(), |s: Option<&Set>| {
            s.map_or_else(Vec::new, members)
        })
    }

    fn spop(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let key = key.as_ref();
        let mut rng = rng(self);
        self.write_entry(key, |slot| {
            let popped = write(slot, false, |s: &mut Set| Ok(s.pop(&mut rng)))?.flatten();
            if let Some(m) = &popped {
                slot.journal(Effect::SetRem {
                    db: slot.db(),
                    key,
                    members: &[m],
                });
                slot.notify(Class::Set, "spop");
            }
            Ok(popped.map(Vec::from))
        })
    }

    fn spop_count(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Vec<Vec<u8>>> {
        let key = key.as_ref();
        let mut rng = rng(self);
        self.write_entry(key, |slot| {
            let popped = write(slot, false, |s: &mut Set| Ok(s.pop_many(&mut rng, count)))?
                .unwrap_or_default();
            if !popped.is_empty() {
                let members: Vec<&[u8]> = popped.iter().map(|m| &**m).collect();
                slot.journal(Effect::SetRem {
                    db: slot.db(),
                    key,
                    members: &members,
                });
                slot.notify(Class::Set, "spop");
            }
            Ok(popped.into_iter().map(Vec::from).collect())
        })
    }

    fn srandmember(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let mut rng = rng(self);
        read(self, key.as_ref(), |s: Option<&Set>| {
            s.and_then(|s| s.random_member(&mut rng))
                .map(<[u8]>::to_vec)
        })
    }

    fn srandmember_count(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<Vec<u8>>> {
        let mut rng = rng(self);
        read(self, key.as_ref(), |s: Option<&Set>| {
            s.map_or_else(Vec::new, |s| {
                s.random_members(&mut rng, count)
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect()
            })
        })
    }

    fn smove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
    ) -> Result<bool> {
        let (src, dst, member, d) = (src.as_ref(), dst.as_ref(), member.as_ref(), self.index);
        self.inner
            .admit()
            .key(src)?
            .key(dst)?
            .arg(member)?
            .check()?;
        self.write_many(&[(d, src), (d, dst)], |locked| {
            let present = match locked.slot(d, src).entry() {
                None => return Ok(false),
                Some(e) => Set::of(&e.value)?.contains(member),
            };
            if let Some(e) = locked.slot(d, dst).entry() {
                Set::of(&e.value)?;
            }
            if !present {
                return Ok(false);
            }
            if src == dst {
                return Ok(true);
            }
            {
                let mut slot = locked.slot(d, src);
                write(&mut slot, false, |s: &mut Set| Ok(s.remove(member)))?;
                slot.journal(Effect::SetRem {
                    db: d,
                    key: src,
                    members: &[member],
                });
                slot.notify(Class::Set, "srem");
            }
            let mut slot = locked.slot(d, dst);
            if write(&mut slot, true, |s: &mut Set| Ok(s.add(member)))? == Some(true) {
                slot.journal(Effect::SetAdd {
                    db: d,
                    key: dst,
                    members: &[member],
                });
                slot.notify(Class::Set, "sadd");
            }
            Ok(true)
        })
    }

    fn sinter<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Vec<u8>>> {
        with_sets(self, keys, |sets| members(&Set::inter(sets)))
    }

    fn sintercard<K: AsRef<[u8]>>(&self, keys: &[K], limit: usize) -> Result<usize> {
        with_sets(self, keys, |sets| Set::inter_card(sets, limit))
    }

    fn sunion<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Vec<u8>>> {
        with_sets(self, keys, |sets| members(&Set::union(sets)))
    }

    fn sdiff<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Vec<u8>>> {
        with_sets(self, keys, |sets| members(&Set::diff(sets)))
    }

    fn sstore<K: AsRef<[u8]>>(
        &self,
        op: SetOp,
        dst: impl AsRef<[u8]>,
        keys: &[K],
    ) -> Result<usize> {
        let (dst, d) = (dst.as_ref(), self.index);
        let mut ids: Vec<(usize, &[u8])> = keys.iter().map(|k| (d, k.as_ref())).collect();
        ids.push((d, dst));
        self.write_many(&ids, |locked| {
            let result = {
                let sets = ids[..ids.len() - 1]
                    .iter()
                    .map(|&(d, k)| locked.source(d, k).map(|e| Set::of(&e.value)).transpose())
                    .collect::<Result<Vec<_>>>()?;
                apply(op, &sets)
            };
            let n = result.len();
            let mut slot = locked.slot(d, dst);
            if n == 0 {
                if slot.remove().is_some() {
                    slot.journal(Effect::Del { db: d, key: dst });
                    slot.notify(Class::Generic, "del");
                }
            } else {
                slot.store(result.into_value(), None)?;
                let event = match op {
                    SetOp::Inter => "sinterstore",
                    SetOp::Union => "sunionstore",
                    SetOp::Diff => "sdiffstore",
                };
                slot.notify(Class::Set, event);
            }
            Ok(n)
        })
    }

    fn sscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        opts: &ScanOptions,
    ) -> Result<(u64, Vec<Vec<u8>>)> {
        let pattern = opts.pattern.as_deref().map(Pattern::new);
        read(self, key.as_ref(), |s: Option<&Set>| {
            let Some(s) = s else { return (0, Vec::new()) };
            let mut out = Vec::new();
            let next = s.scan(cursor, opts.count, |m| {
                if pattern.as_ref().is_none_or(|p| p.matches(m)) {
                    out.push(m.to_vec());
                }
            });
            (next, out)
        })
    }
}
