//! One shard of one database: a slab of entries, a hash index into it, and an index of the
//! entries that carry an expiry.
//!
//! Invariants:
//! - A live key's slot index never changes while the key lives (SCAN's cursor relies on it).
//!   Slots are never compacted; a slab is only dropped when no key lives in it. (A compacting
//!   shard would have to put a generation into the SCAN cursor and restart the shard on a
//!   mismatch.)
//! - `index` holds exactly the slot indexes of occupied slots, hashed by the key's hash.
//! - `volatile` holds exactly the slot indexes whose entry has an expiry, and each such
//!   entry's `volatile_pos` is its position there.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::bytes::SmallKey;
use crate::entry::Entry;

/// One key's slot, laid out for the look-up path: 152 bytes starting with the key (24 bytes,
/// inline up to 22), the expiry (8) and the value (104, a string inline up to 102 bytes), so
/// GET of a short key reads consecutive bytes of one slot and follows no pointer. The time of
/// the last write, the eviction state and the volatile position come last. No hash is stored:
/// the index recomputes it from the key when it grows (see ARCHITECTURE.md, *Bytes per key*).
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Slot {
    pub(crate) key: SmallKey,
    pub(crate) entry: Entry,
}

/// The hasher of the store (one per `Kv`): the index rehashes keys with it when it grows.
pub(crate) type KeyHasher = foldhash::fast::RandomState;

#[derive(Debug)]
pub(crate) struct Shard {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    index: HashTable<u32>,
    volatile: Vec<u32>,
    hasher: KeyHasher,
}

impl Shard {
    /// An empty shard whose keys are hashed by `hasher` (the one the callers' hashes come from).
    pub(crate) fn new(hasher: KeyHasher) -> Shard {
        Shard {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            volatile: Vec::new(),
            hasher,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Slots the slab has room for, and keys the index has room for (MEMORY USAGE's share
    /// of them per key).
    pub(crate) fn capacities(&self) -> (usize, usize) {
        (self.slots.capacity(), self.index.capacity())
    }

    /// The slab's length: slot indexes run below it.
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(hash, |&i| {
                slots[i as usize]
                    .as_ref()
                    .is_some_and(|s| s.key.as_slice() == key)
            })
            .copied()
    }

    pub(crate) fn slot(&self, idx: u32) -> Option<&Slot> {
        self.slots.get(idx as usize).and_then(Option::as_ref)
    }

    /// The occupied slot `idx`. Panics if it is vacant: callers got `idx` from `find` or
    /// `insert` under the same lock.
    pub(crate) fn get(&self, idx: u32) -> &Slot {
        self.slots[idx as usize]
            .as_ref()
            .expect("slot index came from find/insert under this lock")
    }

    /// The entry of occupied slot `idx`; change its expiry only through [`Shard::set_expiry`].
    pub(crate) fn entry_mut(&mut self, idx: u32) -> &mut Entry {
        &mut self.slots[idx as usize]
            .as_mut()
            .expect("slot index came from find/insert under this lock")
            .entry
    }

    /// Inserts a key that is not present; returns its slot.
    pub(crate) fn insert(&mut self, hash: u64, key: &[u8], mut entry: Entry) -> u32 {
        debug_assert!(self.find(hash, key).is_none());
        debug_assert_eq!(hash, self.hasher.hash_one(key));
        let expire_at = entry.expire_at();
        entry.set_expire_at(None);
        let slot = Some(Slot {
            key: SmallKey::new(key),
            entry,
        });
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                crate::memory::note_vacant(-1);
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("a shard holds < 2^32 keys");
                self.slots.push(slot);
                i
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, idx, |&i| {
            let slot = slots[i as usize]
                .as_ref()
                .expect("indexed slots are occupied");
            hasher.hash_one(slot.key.as_slice())
        });
        self.set_expiry(idx, expire_at);
        idx
    }

    /// Removes occupied slot `idx`, returning its contents (expiry included).
    pub(crate) fn remove(&mut self, idx: u32) -> Slot {
        let slot = self.slots[idx as usize]
            .take()
            .expect("removing an occupied slot");
        if slot.entry.expire_at().is_some() {
            self.unlist_volatile(slot.entry.volatile_pos as usize);
        }
        let hash = self.hasher.hash_one(slot.key.as_slice());
        match self.index.find_entry(hash, |&i| i == idx) {
            Ok(e) => {
                e.remove();
            }
            Err(_) => unreachable!("every occupied slot is indexed"),
        }
        self.free.push(idx);
        crate::memory::note_vacant(1);
        if self.index.is_empty() {
            crate::memory::note_vacant(-(self.free.len() as isize));
            // Nothing lives here: drop the slab so a drained shard gives its memory back.
            // No live key moves, so SCAN's guarantee holds.
            self.slots = Vec::new();
            self.free = Vec::new();
            self.index = HashTable::new();
        }
        slot
    }

    /// Drops position `pos` from the volatile index, fixing the entry moved into its place.
    fn unlist_volatile(&mut self, pos: usize) {
        self.volatile.swap_remove(pos);
        if let Some(&moved) = self.volatile.get(pos) {
            self.entry_mut(moved).volatile_pos = pos as u32;
        }
    }

    /// Sets or clears the expiry of occupied slot `idx`, keeping the volatile index exact.
    pub(crate) fn set_expiry(&mut self, idx: u32, at: Option<u64>) {
        let entry = &mut self.slots[idx as usize]
            .as_mut()
            .expect("occupied slot")
            .entry;
        match (entry.expire_at().is_some(), at) {
            (false, Some(_)) => {
                entry.volatile_pos = self.volatile.len() as u32;
                self.volatile.push(idx);
            }
            (true, None) => {
                let pos = entry.volatile_pos as usize;
                self.unlist_volatile(pos);
            }
            _ => {}
        }
        self.entry_mut(idx).set_expire_at(at);
    }

    /// Slot indexes of the entries that carry an expiry.
    pub(crate) fn volatile(&self) -> &[u32] {
        &self.volatile
    }

    /// Empties the shard, giving its memory back.
    pub(crate) fn clear(&mut self) {
        crate::memory::note_vacant(-(self.free.len() as isize));
        *self = Shard::new(self.hasher.clone());
    }

    /// Iterates over the occupied slots.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Slot)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as u32, s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Value;

    #[test]
    fn a_slot_is_152_bytes_with_key_expiry_and_value_first() {
        assert_eq!(std::mem::size_of::<Option<Slot>>(), 152);
        assert_eq!(std::mem::size_of::<Entry>(), 128);
        assert_eq!(std::mem::size_of::<Value>(), 104);
        let entry = std::mem::offset_of!(Slot, entry);
        // The expiry (8 bytes, first in `Entry`) sits between the key and the value.
        assert_eq!(entry, 24);
        assert_eq!(entry + std::mem::offset_of!(Entry, value), 32);
    }

    #[test]
    fn slots_stay_put_and_the_volatile_index_stays_exact() {
        let hasher = KeyHasher::default();
        let mut shard = Shard::new(hasher.clone());
        let hash = |key: &str| hasher.hash_one(key.as_bytes());
        let mut ids = Vec::new();
        for i in 0..100u64 {
            let key = format!("k{i}");
            let e = Entry::with_expiry(Value::string(b"v"), 0, (i % 3 == 0).then_some(i));
            ids.push(shard.insert(hash(&key), key.as_bytes(), e));
        }
        for i in (0..100u64).step_by(2) {
            shard.remove(ids[i as usize]);
        }
        for i in (1..100u64).step_by(2) {
            let key = format!("k{i}");
            assert_eq!(
                shard.find(hash(&key), key.as_bytes()),
                Some(ids[i as usize]),
                "{key} moved"
            );
        }
        let mut volatile: Vec<u32> = shard.volatile().to_vec();
        volatile.sort_unstable();
        let mut expected: Vec<u32> = (1..100)
            .step_by(2)
            .filter(|i| i % 3 == 0)
            .map(|i| ids[i as usize])
            .collect();
        expected.sort_unstable();
        assert_eq!(volatile, expected);
        for (pos, &idx) in shard.volatile().iter().enumerate() {
            assert_eq!(shard.get(idx).entry.volatile_pos as usize, pos);
        }
        // The index grows and shrinks back without stored hashes: every key is still found.
        for i in 100..5000u64 {
            let key = format!("k{i}");
            ids.push(shard.insert(
                hash(&key),
                key.as_bytes(),
                Entry::new(Value::string(b"v"), 0),
            ));
        }
        for i in (100..5000u64).filter(|i| i % 7 != 0) {
            shard.remove(ids[i as usize]);
        }
        for i in (1..5000u64).filter(|i| if *i < 100 { i % 2 == 1 } else { i % 7 == 0 }) {
            let key = format!("k{i}");
            assert_eq!(
                shard.find(hash(&key), key.as_bytes()),
                Some(ids[i as usize])
            );
            assert_eq!(shard.get(ids[i as usize]).key.as_slice(), key.as_bytes());
        }
    }

    #[test]
    fn a_drained_shard_gives_back_its_slab_and_index() {
        let hasher = KeyHasher::default();
        let mut shard = Shard::new(hasher.clone());
        let ids: Vec<u32> = (0..1000)
            .map(|i| {
                let key = format!("k{i}");
                let e = Entry::new(Value::string(b"v"), 0);
                shard.insert(hasher.hash_one(key.as_bytes()), key.as_bytes(), e)
            })
            .collect();
        for idx in ids {
            shard.remove(idx);
        }
        assert_eq!((shard.len(), shard.slot_count()), (0, 0));
        assert_eq!(shard.index.capacity(), 0);
    }
}
