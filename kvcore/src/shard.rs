//! One shard of one database: a slab of entries, a hash index into it, and an index of the
//! entries that carry an expiry.
//!
//! Invariants:
//! - A live key's slot index never changes while the key lives (SCAN's cursor relies on it).
//!   Slots are never compacted; a slab is only dropped when no key lives in it. (A compacting
//!   shard would have to put a generation into the SCAN cursor and restart the shard on a
//!   mismatch.)
//! - `index` holds exactly the slot indexes of occupied slots, hashed by the key's hash.
//! - `volatile` holds exactly the slot indexes whose entry has `expire_at`, and each such
//!   entry's `volatile_pos` is its position there.

use hashbrown::HashTable;

use crate::bytes::SmallKey;
use crate::entry::Entry;

/// One key's slot, laid out for the look-up path: 192 bytes (three cache lines) starting
/// with the key (24 bytes, inline up to 22), the expiry (16) and the value (104, a string inline
/// up to 102 bytes), so GET of a short key reads consecutive lines of one slot and follows no
/// pointer. Times, the volatile position and the stored hash come last.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct Slot {
    pub(crate) key: SmallKey,
    pub(crate) entry: Entry,
    pub(crate) hash: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Shard {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    index: HashTable<u32>,
    volatile: Vec<u32>,
}

impl Shard {
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
        let expire_at = entry.expire_at.take();
        let slot = Some(Slot {
            hash,
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
        let slots = &self.slots;
        self.index.insert_unique(hash, idx, |&i| {
            slots[i as usize]
                .as_ref()
                .expect("indexed slots are occupied")
                .hash
        });
        self.set_expiry(idx, expire_at);
        idx
    }

    /// Removes occupied slot `idx`, returning its contents (expiry included).
    pub(crate) fn remove(&mut self, idx: u32) -> Slot {
        let slot = self.slots[idx as usize]
            .take()
            .expect("removing an occupied slot");
        if slot.entry.expire_at.is_some() {
            self.unlist_volatile(slot.entry.volatile_pos as usize);
        }
        match self.index.find_entry(slot.hash, |&i| i == idx) {
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
        match (entry.expire_at.is_some(), at) {
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
        self.entry_mut(idx).expire_at = at;
    }

    /// Slot indexes of the entries that carry an expiry.
    pub(crate) fn volatile(&self) -> &[u32] {
        &self.volatile
    }

    /// Empties the shard, giving its memory back.
    pub(crate) fn clear(&mut self) {
        crate::memory::note_vacant(-(self.free.len() as isize));
        *self = Shard::default();
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
    fn a_slot_is_three_cache_lines_with_key_expiry_and_value_first() {
        assert_eq!(std::mem::size_of::<Option<Slot>>(), 192);
        assert_eq!(std::mem::align_of::<Slot>(), 64);
        assert_eq!(std::mem::size_of::<Value>(), 104);
        let entry = std::mem::offset_of!(Slot, entry);
        assert_eq!(entry + std::mem::offset_of!(Entry, expire_at), 24);
        assert_eq!(entry + std::mem::offset_of!(Entry, value), 40);
    }

    #[test]
    fn slots_stay_put_and_the_volatile_index_stays_exact() {
        let mut shard = Shard::default();
        let mut ids = Vec::new();
        for i in 0..100u64 {
            let key = format!("k{i}");
            let mut e = Entry::new(Value::string(b"v"), 0);
            e.expire_at = (i % 3 == 0).then_some(i);
            ids.push(shard.insert(i, key.as_bytes(), e));
        }
        for i in (0..100u64).step_by(2) {
            shard.remove(ids[i as usize]);
        }
        for i in (1..100u64).step_by(2) {
            let key = format!("k{i}");
            assert_eq!(
                shard.find(i, key.as_bytes()),
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
    }
}
