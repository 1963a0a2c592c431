//! List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LRANGE, LINDEX, LSET, LREM,
//! LTRIM, LINSERT, LPOS, LMOVE, RPOPLPUSH, LMPOP. The blocking forms (BLPOP, BLMOVE, ...) are
//! these plus waiting, which is the host's job: it retries when [`ListStore::lpush`] and
//! friends report that a key got elements.

use crate::effect::Effect;
use crate::error::{Error, Result};
use crate::kv::Db;
use crate::notify::Class;
use crate::ops::container::{bytes, read, write};
use crate::types::{End, List};

/// What LMPOP returns: the key popped from and its elements.
pub type KeyElements = (Vec<u8>, Vec<Vec<u8>>);

/// List operations, as Redis's list commands. Indexes follow Redis: 0 is the head, -1 the
/// tail, out-of-range ranges are clamped.
///
/// Every method fails with [`Error::WrongType`] when the key holds another type; a list that
/// becomes empty is deleted.
///
/// ```
/// use kvcore::{End, Kv, ListStore, Options};
///
/// let db = Kv::in_memory(Options::default()).db(0)?;
/// db.push("jobs", End::Right, &["a", "b", "c"])?; // RPUSH jobs a b c
/// assert_eq!(db.lrange("jobs", 0, -1)?, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
/// assert_eq!(db.pop("jobs", End::Left)?, Some(b"a".to_vec())); // LPOP
/// assert_eq!(db.lmove("jobs", "done", End::Left, End::Right)?, Some(b"b".to_vec()));
/// assert_eq!(db.llen("jobs")?, 1);
/// # Ok::<(), kvcore::Error>(())
/// ```
pub trait ListStore {
    /// LPUSH (`End::Left`) / RPUSH (`End::Right`): pushes each value in turn, creating the
    /// list; returns the new length.
    fn push<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, end: End, values: &[V]) -> Result<usize>;
    /// LPUSHX / RPUSHX: like [`push`](ListStore::push) but only onto an existing list; 0 when
    /// the key is missing.
    fn push_existing<V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        end: End,
        values: &[V],
    ) -> Result<usize>;
    /// LPOP / RPOP without a count: one element, None when the key is missing.
    fn pop(&self, key: impl AsRef<[u8]>, end: End) -> Result<Option<Vec<u8>>>;
    /// LPOP / RPOP with a count: up to `count` elements in pop order, None when the key is
    /// missing (an existing list and count 0 give an empty vector).
    fn pop_count(
        &self,
        key: impl AsRef<[u8]>,
        end: End,
        count: usize,
    ) -> Result<Option<Vec<Vec<u8>>>>;
    /// LLEN: 0 for a missing key.
    fn llen(&self, key: impl AsRef<[u8]>) -> Result<usize>;
    /// LRANGE: elements `start..=stop`.
    fn lrange(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<Vec<Vec<u8>>>;
    /// LINDEX.
    fn lindex(&self, key: impl AsRef<[u8]>, index: i64) -> Result<Option<Vec<u8>>>;
    /// LSET.
    ///
    /// # Errors
    /// [`Error::NoSuchKey`] for a missing key, [`Error::IndexOutOfRange`] outside the list.
    fn lset(&self, key: impl AsRef<[u8]>, index: i64, value: impl AsRef<[u8]>) -> Result<()>;
    /// LREM: removes up to |count| elements equal to `value` (from the head when positive,
    /// from the tail when negative, all when 0); returns how many.
    fn lrem(&self, key: impl AsRef<[u8]>, count: i64, value: impl AsRef<[u8]>) -> Result<usize>;
    /// LTRIM: keeps `start..=stop` only (deleting the key when nothing is left).
    fn ltrim(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<()>;
    /// LINSERT: inserts `value` before (`before`) or after the first `pivot`. Returns the new
    /// length, -1 when the pivot is absent, 0 when the key is missing.
    fn linsert(
        &self,
        key: impl AsRef<[u8]>,
        before: bool,
        pivot: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<i64>;
    /// LPOS: positions of `value`. `rank` (not 0) is the first match to report (negative:
    /// searching from the tail), `count` how many (0: all), `maxlen` how many elements to
    /// compare (0: all). LPOS without COUNT is `count` 1 and the first position.
    fn lpos(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        rank: i64,
        count: usize,
        maxlen: usize,
    ) -> Result<Vec<usize>>;
    /// LMOVE (RPOPLPUSH is `End::Right, End::Left`): pops from `src`'s `from` end and pushes
    /// onto `dst`'s `to` end, atomically; None when `src` is missing.
    ///
    /// # Errors
    /// `WrongType` when either key is not a list (nothing moves).
    fn lmove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        from: End,
        to: End,
    ) -> Result<Option<Vec<u8>>>;
    /// LMPOP: pops up to `count` elements from the first non-empty list of `keys`; returns
    /// that key and the elements, None when all are missing.
    ///
    /// # Errors
    /// `WrongType` when a key before the first non-empty list is not a list.
    fn lmpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        end: End,
        count: usize,
    ) -> Result<Option<KeyElements>>;
    /// SORT ... STORE: replaces `key`, whatever it holds (its TTL too), with a list of
    /// `values`, or deletes it when `values` is empty; returns the list's length. Notifies
    /// `sortstore` (or `del`), as Redis does.
    fn sort_store<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<usize>;
}

fn owned(v: Vec<&[u8]>) -> Vec<Vec<u8>> {
    v.into_iter().map(<[u8]>::to_vec).collect()
}

/// Redis's event for a push at `end`.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// Redis's event for a pop at `end`.
fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

fn push(db: &Db, key: &[u8], end: End, values: &[&[u8]], create: bool) -> Result<usize> {
    db.write_entry(key, |slot| {
        let len = write(slot, create, |l: &mut List| Ok(l.push_all(end, values)))?;
        if len.is_some() {
            slot.journal(Effect::ListPush {
                db: slot.db(),
                key,
                left: end == End::Left,
                values,
            });
            slot.notify(Class::List, push_event(end));
        }
        Ok(len.unwrap_or(0))
    })
}

fn pop(db: &Db, key: &[u8], end: End, count: usize) -> Result<Option<Vec<Vec<u8>>>> {
    db.write_entry(key, |slot| {
        let popped = write(slot, false, |l: &mut List| Ok(l.pop_many(end, count)))?;
        if popped.as_ref().is_some_and(|p| !p.is_empty()) {
            let count = popped.as_ref().map_or(0, Vec::len);
            slot.journal(Effect::ListPop {
                db: slot.db(),
                key,
                left: end == End::Left,
                count,
            });
            slot.notify(Class::List, pop_event(end));
        }
        Ok(popped.map(|p| p.into_iter().map(Vec::from).collect()))
    })
}

impl ListStore for Db {
    fn push<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, end: End, values: &[V]) -> Result<usize> {
        let (key, values) = (key.as_ref(), bytes(values));
        self.admit().key(key)?.keys(&values)?.check()?;
        push(self, key, end, &values, true)
    }

    fn push_existing<V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        end: End,
        values: &[V],
    ) -> Result<usize> {
        let (key, values) = (key.as_ref(), bytes(values));
        self.admit().key(key)?.keys(&values)?.check()?;
        push(self, key, end, &values, false)
    }

    fn pop(&self, key: impl AsRef<[u8]>, end: End) -> Result<Option<Vec<u8>>> {
        Ok(pop(self, key.as_ref(), end, 1)?.and_then(|mut v| v.pop()))
    }

    fn pop_count(
        &self,
        key: impl AsRef<[u8]>,
        end: End,
        count: usize,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        pop(self, key.as_ref(), end, count)
    }

    fn llen(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        read(self, key.as_ref(), |l: Option<&List>| {
            l.map_or(0, List::len)
        })
    }

    fn lrange(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<Vec<Vec<u8>>> {
        read(self, key.as_ref(), |l: Option<&List>| {
            l.map_or_else(Vec::new, |l| owned(l.range(start, stop)))
        })
    }

    fn lindex(&self, key: impl AsRef<[u8]>, index: i64) -> Result<Option<Vec<u8>>> {
        read(self, key.as_ref(), |l: Option<&List>| {
            l.and_then(|l| l.index(index)).map(<[u8]>::to_vec)
        })
    }

    fn lset(&self, key: impl AsRef<[u8]>, index: i64, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.admit().key(key)?.arg(value)?.check()?;
        self.write_entry(key, |slot| {
            write(slot, false, |l: &mut List| Ok(l.set(index, value)?))?.ok_or(Error::NoSuchKey)?;
            slot.journal(Effect::ListSet {
                db: slot.db(),
                key,
                index,
                value,
            });
            slot.notify(Class::List, "lset");
            Ok(())
        })
    }

    fn lrem(&self, key: impl AsRef<[u8]>, count: i64, value: impl AsRef<[u8]>) -> Result<usize> {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.admit().key(key)?.arg(value)?.check()?;
        self.write_entry(key, |slot| {
            let n = write(slot, false, |l: &mut List| Ok(l.remove(count, value)))?.unwrap_or(0);
            if n > 0 {
                slot.journal(Effect::ListRem {
                    db: slot.db(),
                    key,
                    count,
                    value,
                });
                slot.notify(Class::List, "lrem");
            }
            Ok(n)
        })
    }

    fn ltrim(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<()> {
        let key = key.as_ref();
        self.write_entry(key, |slot| {
            let changed = write(slot, false, |l: &mut List| {
                let before = l.len();
                l.trim(start, stop);
                Ok(l.len() != before)
            })?;
            if changed == Some(true) {
                slot.journal(Effect::ListTrim {
                    db: slot.db(),
                    key,
                    start,
                    stop,
                });
            }
            if changed.is_some() {
                // Redis reports LTRIM whether or not it removed anything.
                slot.notify(Class::List, "ltrim");
            }
            Ok(())
        })
    }

    fn linsert(
        &self,
        key: impl AsRef<[u8]>,
        before: bool,
        pivot: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<i64> {
        let (key, pivot, value) = (key.as_ref(), pivot.as_ref(), value.as_ref());
        self.inner
            .admit()
            .key(key)?
            .arg(pivot)?
            .arg(value)?
            .check()?;
        self.write_entry(key, |slot| {
            match write(slot, false, |l: &mut List| {
                Ok(l.insert(before, pivot, value))
            })? {
                None => Ok(0),
                Some(None) => Ok(-1),
                Some(Some(len)) => {
                    slot.journal(Effect::ListInsert {
                        db: slot.db(),
                        key,
                        before,
                        pivot,
                        value,
                    });
                    slot.notify(Class::List, "linsert");
                    Ok(len as i64)
                }
            }
        })
    }

    fn lpos(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        rank: i64,
        count: usize,
        maxlen: usize,
    ) -> Result<Vec<usize>> {
        let value = value.as_ref();
        read(self, key.as_ref(), |l: Option<&List>| {
            l.map_or_else(Vec::new, |l| l.positions(value, rank, count, maxlen))
        })
    }

    fn lmove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        from: End,
        to: End,
    ) -> Result<Option<Vec<u8>>> {
        let (src, dst, d) = (src.as_ref(), dst.as_ref(), self.index);
        self.admit().key(src)?.key(dst)?.check()?;
        self.write_many(&[(d, src), (d, dst)], |locked| {
            // Check both types before anything moves.
            match locked.slot(d, src).entry() {
                None => return Ok(None),
                Some(e) => {
                    crate::ops::container::Container::of(&e.value).map(|_: &List| ())?;
                }
            }
            if let Some(e) = locked.slot(d, dst).entry() {
                crate::ops::container::Container::of(&e.value).map(|_: &List| ())?;
            }
            if src == dst {
                // A rotation: the list never becomes empty, so the key (and its TTL) stays, as
                // in Redis. Journaled push-then-pop, which leaves the same list, so that replay
                // never empties (and so deletes) it either.
                let mut slot = locked.slot(d, src);
                let v = write(&mut slot, false, |l: &mut List| {
                    let v = l.pop(from);
                    if let Some(v) = &v {
                        l.push(to, v);
                    }
                    Ok(v)
                })?
                .flatten();
                // A live list is never empty: empty ones are deleted.
                let v = v.expect("an existing list has an element");
                slot.journal(Effect::ListPush {
                    db: d,
                    key: dst,
                    left: to == End::Left,
                    values: &[&v],
                });
                slot.journal(Effect::ListPop {
                    db: d,
                    key: src,
                    left: from == End::Left,
                    count: 1,
                });
                slot.notify(Class::List, push_event(to));
                slot.notify(Class::List, pop_event(from));
                return Ok(Some(v.into_vec()));
            }
            // The element goes to the destination first, then leaves the source: Redis's
            // order of events (the destination's push, the source's pop, its `del` if it
            // emptied).
            let value: Vec<u8> = {
                let slot = locked.slot(d, src);
                let e = slot.entry().expect("checked above");
                let list = crate::ops::container::Container::of(&e.value).map(|l: &List| l)?;
                let at = if from == End::Left { 0 } else { -1 };
                // A live list is never empty: empty ones are deleted.
                list.index(at)
                    .expect("an existing list has an element")
                    .to_vec()
            };
            {
                let mut slot = locked.slot(d, dst);
                write(&mut slot, true, |l: &mut List| {
                    l.push(to, &value);
                    Ok(())
                })?;
                slot.journal(Effect::ListPush {
                    db: d,
                    key: dst,
                    left: to == End::Left,
                    values: &[&value],
                });
                slot.notify(Class::List, push_event(to));
            }
            let mut slot = locked.slot(d, src);
            write(&mut slot, false, |l: &mut List| Ok(l.pop(from)))?;
            slot.journal(Effect::ListPop {
                db: d,
                key: src,
                left: from == End::Left,
                count: 1,
            });
            slot.notify(Class::List, pop_event(from));
            Ok(Some(value))
        })
    }

    fn lmpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        end: End,
        count: usize,
    ) -> Result<Option<KeyElements>> {
        // Each key is tried under its own lock, as Redis does per key (no other command can
        // interleave between the check and the pop of the same key).
        for key in keys {
            let key = key.as_ref();
            if let Some(popped) = pop(self, key, end, count)? {
                return Ok(Some((key.to_vec(), popped)));
            }
        }
        Ok(None)
    }

    fn sort_store<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<usize> {
        let key = key.as_ref();
        let values = bytes(values);
        self.admit()
            .key(key)?
            .args(values.iter().copied())?
            .check()?;
        self.write_entry(key, |slot| {
            if values.is_empty() {
                if slot.remove().is_some() {
                    slot.journal(Effect::Del { db: slot.db(), key });
                    slot.notify(Class::Generic, "del");
                }
                return Ok(0);
            }
            let mut list = List::new();
            list.push_all(End::Right, &values);
            slot.store(crate::ops::container::Container::into_value(list), None)?;
            slot.notify(Class::List, "sortstore");
            Ok(values.len())
        })
    }
}
