//! A hash table whose entries live in stable slots: the shared core of hashes, sets and the
//! member index of sorted sets.
//!
//! Entries sit in a `Vec<Option<T>>`; a `hashbrown::HashTable<u32>` maps a key's hash to its
//! slot. Because an entry never changes slot while it is present, a scan cursor can simply be
//! a slot number: every entry present for a whole scan is visited exactly once, which is
//! stronger than Redis's "at least once". Holes left by removals are reused by insertions, and
//! when more than three quarters of the slots are holes the table is compacted; compaction bumps
//! a generation number carried in the cursor, and a cursor from an older generation restarts the
//! scan from the beginning (repeats are allowed by SCAN's contract, omissions are not).
//!
//! The same slot vector gives O(1) expected random picks (HRANDFIELD, SPOP, SRANDMEMBER): the
//! hole ratio is bounded, so a random slot is occupied with probability at least 1/4.

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

use super::rng::Rng;

/// An entry that carries its own key.
pub(crate) trait Keyed {
    /// The key that the table is indexed by.
    fn key(&self) -> &[u8];
}

/// Bits of a scan cursor that hold the slot number; the generation sits above them.
const SLOT_BITS: u32 = 40;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
const GENERATION_MASK: u32 = (1 << (64 - SLOT_BITS)) - 1;
/// Tables with fewer slots than this are never compacted: the holes cost less than the work.
const COMPACT_MIN_SLOTS: usize = 64;

/// The slot table. See the module docs.
#[derive(Clone)]
pub(crate) struct Table<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: RandomState,
    len: usize,
    generation: u32,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: RandomState::default(),
            len: 0,
            generation: 0,
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.slots.iter().flatten()).finish()
    }
}

impl<T: Keyed> Table<T> {
    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Number of slots (entries plus holes); slot ids are below this.
    #[cfg(test)]
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn entry(slots: &[Option<T>], slot: u32) -> &T {
        // The index only ever holds ids of occupied slots.
        slots[slot as usize]
            .as_ref()
            .expect("indexed slot is occupied")
    }

    /// The slot holding `key`, if present.
    pub(crate) fn find(&self, key: &[u8]) -> Option<u32> {
        let h = self.hash(key);
        self.index
            .find(h, |&s| Self::entry(&self.slots, s).key() == key)
            .copied()
    }

    /// The entry for `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&T> {
        self.find(key).map(|s| Self::entry(&self.slots, s))
    }

    /// The entry for `key`, mutably. The caller must not change the entry's key.
    pub(crate) fn get_mut(&mut self, key: &[u8]) -> Option<&mut T> {
        let s = self.find(key)?;
        self.slots[s as usize].as_mut()
    }

    /// The entry in `slot`; panics if the slot is a hole.
    pub(crate) fn at(&self, slot: u32) -> &T {
        Self::entry(&self.slots, slot)
    }

    /// The entry in `slot`, mutably; panics if the slot is a hole. The key must not change.
    pub(crate) fn at_mut(&mut self, slot: u32) -> &mut T {
        // Callers pass slot ids obtained from this table while it held the entry.
        self.slots[slot as usize]
            .as_mut()
            .expect("slot is occupied")
    }

    /// Adds an entry whose key is not present yet and returns its slot.
    pub(crate) fn insert_new(&mut self, item: T) -> u32 {
        debug_assert!(self.find(item.key()).is_none());
        let h = self.hash(item.key());
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(item);
                s
            }
            None => {
                // A u32 slot id bounds a single container to 4 billion entries.
                let s = u32::try_from(self.slots.len()).expect("container exceeds 2^32 entries");
                self.slots.push(Some(item));
                s
            }
        };
        let Table {
            slots,
            index,
            hasher,
            ..
        } = self;
        index.insert_unique(h, slot, |&s| hasher.hash_one(Self::entry(slots, s).key()));
        self.len += 1;
        slot
    }

    /// Removes the entry for `key`. Does not compact; see [`Table::maybe_compact`].
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<T> {
        let slot = self.find(key)?;
        Some(self.remove_slot(slot))
    }

    /// Removes the entry in `slot`; panics if it is a hole. Does not compact.
    pub(crate) fn remove_slot(&mut self, slot: u32) -> T {
        let h = self.hash(self.at(slot).key());
        match self.index.find_entry(h, |&s| s == slot) {
            Ok(e) => {
                e.remove();
            }
            Err(_) => unreachable!("every occupied slot is indexed"),
        }
        self.len -= 1;
        self.free.push(slot);
        // The slot was occupied (checked by `at` above).
        self.slots[slot as usize].take().expect("slot is occupied")
    }

    /// True when holes dominate and [`Table::compact`] would pay off.
    pub(crate) fn needs_compaction(&self) -> bool {
        self.slots.len() >= COMPACT_MIN_SLOTS && self.len < self.slots.len() / 4
    }

    /// Compacts if [`Table::needs_compaction`]; for users that keep no slot ids.
    pub(crate) fn maybe_compact(&mut self) {
        if self.needs_compaction() {
            self.compact();
        }
    }

    /// Moves every entry to the front, keeping their relative order, and returns the map from
    /// old slot to new slot (`u32::MAX` for old holes). Invalidates scan cursors (they restart).
    pub(crate) fn compact(&mut self) -> Vec<u32> {
        let mut map = vec![u32::MAX; self.slots.len()];
        let mut slots = Vec::with_capacity(self.len);
        for (old, item) in std::mem::take(&mut self.slots).into_iter().enumerate() {
            if let Some(item) = item {
                // Fewer live entries than old slots, which fit in u32.
                map[old] = slots.len() as u32;
                slots.push(Some(item));
            }
        }
        self.slots = slots;
        self.free = Vec::new();
        self.index = HashTable::with_capacity(self.len);
        let Table {
            slots,
            index,
            hasher,
            ..
        } = self;
        for (s, item) in slots.iter().enumerate() {
            let h = hasher.hash_one(item.as_ref().expect("compacted slots are full").key());
            index.insert_unique(h, s as u32, |&s| {
                hasher.hash_one(Self::entry(slots, s).key())
            });
        }
        self.generation = (self.generation + 1) & GENERATION_MASK;
        map
    }

    /// Entries with their slots, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &T)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(s, e)| e.as_ref().map(|e| (s as u32, e)))
    }

    /// Entries in slot order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.slots.iter().flatten()
    }

    /// Entries in slot order, mutably. Callers must not change the entries' keys.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.slots.iter_mut().flatten()
    }

    /// A uniformly random occupied slot, None when empty.
    pub(crate) fn random_slot(&self, rng: &mut Rng) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        loop {
            let s = rng.below(self.slots.len());
            if self.slots[s].is_some() {
                return Some(s as u32);
            }
        }
    }

    /// Up to `count` distinct random slots (all of them, in slot order, when `count >= len`).
    pub(crate) fn random_distinct(&self, rng: &mut Rng, count: usize) -> Vec<u32> {
        if count >= self.len {
            return self.iter().map(|(s, _)| s).collect();
        }
        if count.saturating_mul(3) > self.len {
            // Many of the entries are wanted: a partial shuffle of all slot ids.
            let mut all: Vec<u32> = self.iter().map(|(s, _)| s).collect();
            for i in 0..count {
                let j = i + rng.below(all.len() - i);
                all.swap(i, j);
            }
            all.truncate(count);
            return all;
        }
        // Few wanted: sample and drop repeats; expected < 1.5 draws per pick.
        let mut picked =
            hashbrown::HashSet::with_capacity_and_hasher(count, RandomState::default());
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            // len > count >= 1 here, so a slot exists.
            let s = self.random_slot(rng).expect("table is not empty");
            if picked.insert(s) {
                out.push(s);
            }
        }
        out
    }

    /// `count` random slots, possibly repeated; empty when the table is.
    pub(crate) fn random_repeated(&self, rng: &mut Rng, count: usize) -> Vec<u32> {
        if self.len == 0 {
            return Vec::new();
        }
        // `random_slot` only returns None for an empty table, ruled out above.
        (0..count)
            .map(|_| self.random_slot(rng).expect("table is not empty"))
            .collect()
    }

    /// One step of a cursor scan: calls `f` on up to about `count` entries starting at `cursor`
    /// and returns the cursor to continue from, 0 when the scan is complete. Cursor 0 starts.
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&T)) -> u64 {
        let generation = u64::from(self.generation);
        let start = if cursor >> SLOT_BITS == generation {
            cursor & SLOT_MASK
        } else {
            0
        };
        let Ok(mut slot) = usize::try_from(start) else {
            return 0;
        };
        let count = count.max(1);
        // Bound the holes visited too, like Redis's `maxiterations = count * 10`.
        let mut budget = count.saturating_mul(10);
        let mut emitted = 0;
        while slot < self.slots.len() && emitted < count && budget > 0 {
            if let Some(e) = &self.slots[slot] {
                f(e);
                emitted += 1;
            }
            slot += 1;
            budget -= 1;
        }
        if slot >= self.slots.len() {
            0
        } else {
            (generation << SLOT_BITS) | slot as u64
        }
    }

    /// Approximate bytes used by the table itself (slots, free list, index), not the entries'
    /// heap data.
    pub(crate) fn overhead_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Option<T>>()
            + self.free.capacity() * size_of::<u32>()
            // hashbrown: one u32 plus one control byte per bucket.
            + self.index.capacity() * (size_of::<u32>() + 1)
            + size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    impl Keyed for Vec<u8> {
        fn key(&self) -> &[u8] {
            self
        }
    }

    fn full_scan(t: &Table<Vec<u8>>, count: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = t.scan(cursor, count, |e| out.push(e.clone()));
            if cursor == 0 {
                return out;
            }
        }
    }

    #[test]
    fn insert_find_remove_reuses_holes() {
        let mut t = Table::default();
        let a = t.insert_new(b"a".to_vec());
        let b = t.insert_new(b"b".to_vec());
        assert_eq!(t.find(b"a"), Some(a));
        assert_eq!(t.get(b"b").map(|v| v.as_slice()), Some(&b"b"[..]));
        assert_eq!(t.remove(b"a"), Some(b"a".to_vec()));
        assert_eq!(t.remove(b"a"), None);
        assert_eq!(t.find(b"a"), None);
        let c = t.insert_new(b"c".to_vec());
        assert_eq!(c, a, "the hole is reused");
        assert_ne!(c, b);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn compaction_keeps_entries_and_restarts_old_cursors() {
        let mut t = Table::default();
        for i in 0..200u32 {
            t.insert_new(i.to_string().into_bytes());
        }
        let cursor = t.scan(0, 10, |_| {});
        assert_ne!(cursor, 0);
        for i in 0..190u32 {
            t.remove(i.to_string().as_bytes());
        }
        assert!(t.needs_compaction());
        let map = t.compact();
        assert_eq!(map.iter().filter(|&&m| m != u32::MAX).count(), 10);
        assert_eq!(t.slot_count(), 10);
        for i in 190..200u32 {
            assert!(t.find(i.to_string().as_bytes()).is_some());
        }
        // The old cursor belongs to generation 0: the scan restarts and still sees everything.
        let mut seen = Vec::new();
        let mut c = cursor;
        loop {
            c = t.scan(c, 3, |e| seen.push(e.clone()));
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 10);
    }

    #[test]
    fn scan_returns_everything_once_and_survives_concurrent_changes() {
        let mut t = Table::default();
        for i in 0..100u32 {
            t.insert_new(i.to_string().into_bytes());
        }
        assert_eq!(full_scan(&t, 7).len(), 100);
        // Mutate between steps: elements present throughout must all be returned.
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut step = 0u32;
        loop {
            cursor = t.scan(cursor, 5, |e| {
                seen.insert(e.clone());
            });
            t.remove((50 + step).to_string().as_bytes()); // removes 50..
            t.insert_new(format!("new{step}").into_bytes());
            step += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..50u32 {
            assert!(seen.contains(i.to_string().as_bytes()), "{i} missed");
        }
    }

    #[test]
    fn scan_of_empty_and_garbage_cursor_ends() {
        let t: Table<Vec<u8>> = Table::default();
        assert_eq!(t.scan(0, 10, |_| panic!("empty")), 0);
        let mut t = Table::default();
        t.insert_new(b"x".to_vec());
        assert_eq!(t.scan(12345, 10, |_| {}), 0);
    }

    #[test]
    fn random_slot_hits_only_entries() {
        let mut t = Table::default();
        let mut rng = Rng::new(3);
        assert_eq!(t.random_slot(&mut rng), None);
        for i in 0..10u32 {
            t.insert_new(i.to_string().into_bytes());
        }
        for i in 0..9u32 {
            t.remove(i.to_string().as_bytes());
        }
        for _ in 0..20 {
            let s = t.random_slot(&mut rng).unwrap();
            assert_eq!(t.at(s).as_slice(), b"9");
        }
    }
}
