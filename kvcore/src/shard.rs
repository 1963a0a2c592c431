//! One shard of one database: two slabs of entries (full slots and packed ones), a hash index
//! into them, and an index of the entries that carry an expiry.
//!
//! Invariants:
//! - A live key's slot id never changes while the key lives (SCAN's cursor relies on it).
//!   Slots are never compacted; a slab is only dropped when no key lives in it. (A compacting
//!   shard would have to put a generation into the SCAN cursor and restart the shard on a
//!   mismatch.) A slot id is a position in the full slab, or [`PACKED`] plus a position in the
//!   packed slab; ids are walked in that order (`ids_from`).
//! - A packed slot holds a string without an expiry whose key and value fit
//!   [`PACKED_BYTES`]. A packed key whose entry stops fitting (an expiry, a longer or
//!   non-string value) is *spilled*: its full slot is boxed in `spilled` under the same id
//!   and the packed slot marked, so the key keeps its id; `settle` packs it again once it
//!   fits.
//! - `index` holds exactly the ids of occupied slots, hashed by the key's hash.
//! - `volatile` holds exactly the ids whose entry has an expiry, and each such entry's
//!   `volatile_pos` is its position there.

use std::hash::BuildHasher;
use std::ops::Deref;

use hashbrown::HashTable;

use crate::bytes::SmallKey;
use crate::entry::{Entry, Value};
use crate::evict::Access;

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

/// The bit of a slot id that places it in the packed slab.
const PACKED: u32 = 1 << 31;

/// The most bytes of key and value together that a packed slot holds.
pub(crate) const PACKED_BYTES: usize = 22;

/// `key_len` of a vacant packed slot.
const VACANT: u8 = u8::MAX;
/// `key_len` of a spilled packed slot (its slot is in `Shard::spilled`).
const SPILLED: u8 = u8::MAX - 1;

/// A short string without an expiry, 32 bytes: the access clock, the last write in seconds,
/// two lengths and the key followed by the value. `key_len` also marks a vacant or spilled
/// slot (no key is that long here).
#[derive(Debug)]
struct Packed {
    access: Access,
    updated_s: u32,
    key_len: u8,
    value_len: u8,
    buf: [u8; PACKED_BYTES],
}

impl Packed {
    /// The packed form of `key`'s entry, if it has one.
    fn of(key: &[u8], entry: &Entry) -> Option<Packed> {
        let (value, updated_s) = entry.packable()?;
        if key.len() + value.len() > PACKED_BYTES {
            return None;
        }
        let mut buf = [0; PACKED_BYTES];
        buf[..key.len()].copy_from_slice(key);
        buf[key.len()..key.len() + value.len()].copy_from_slice(value);
        Some(Packed {
            access: entry.access.clone(),
            updated_s,
            key_len: key.len() as u8,
            value_len: value.len() as u8,
            buf,
        })
    }

    /// A slot holding no key: `VACANT` or `SPILLED`.
    fn marker(key_len: u8) -> Packed {
        Packed {
            access: Access::default(),
            updated_s: 0,
            key_len,
            value_len: 0,
            buf: [0; PACKED_BYTES],
        }
    }

    fn key(&self) -> &[u8] {
        &self.buf[..usize::from(self.key_len)]
    }

    fn value(&self) -> &[u8] {
        let k = usize::from(self.key_len);
        &self.buf[k..k + usize::from(self.value_len)]
    }

    fn unpack(&self) -> Slot {
        Slot {
            key: SmallKey::new(self.key()),
            entry: Entry::unpacked(self.value(), self.updated_s, self.access.clone()),
        }
    }
}

/// An occupied slot of the packed slab.
enum Small<'a> {
    Packed(&'a Packed),
    Spilled(&'a Slot),
}

/// A slot as the shard shows it: the stored one, or a packed one unpacked into a full one
/// (a copy: its access clock is read through [`Shard::access`], never through the copy).
#[derive(Debug)]
pub(crate) enum SlotRef<'a> {
    Stored(&'a Slot),
    Unpacked(Slot),
}

impl Deref for SlotRef<'_> {
    type Target = Slot;
    fn deref(&self) -> &Slot {
        match self {
            SlotRef::Stored(s) => s,
            SlotRef::Unpacked(s) => s,
        }
    }
}

impl SlotRef<'_> {
    /// The slot by value (a copy of a stored one).
    pub(crate) fn into_owned(self) -> Slot {
        match self {
            SlotRef::Stored(s) => Slot {
                key: s.key.clone(),
                entry: s.entry.clone(),
            },
            SlotRef::Unpacked(s) => s,
        }
    }
}

/// Unpacked slots kept for a caller that holds several at once (a multi-key read under its
/// locks): each stays at its address until the arena is dropped.
#[derive(Default)]
pub(crate) struct Unpacked(std::cell::UnsafeCell<Vec<*mut Slot>>);

impl Unpacked {
    /// A reference to `slot` that lives as long as the arena and the shard's borrow.
    pub(crate) fn keep<'s>(&'s self, slot: SlotRef<'s>) -> &'s Slot {
        match slot {
            SlotRef::Stored(s) => s,
            SlotRef::Unpacked(s) => {
                let p = Box::into_raw(Box::new(s));
                // SAFETY: only this method touches the vector, it does not re-enter, and no
                // reference to the vector escapes; the boxes it points to are freed only by
                // `drop`, which needs the arena back, so `&*p` stays valid for `'s`.
                unsafe {
                    (*self.0.get()).push(p);
                    &*p
                }
            }
        }
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        for p in self.0.get_mut().drain(..) {
            // SAFETY: `p` came from `Box::into_raw` in `keep` and is freed once, here; the
            // references `keep` gave out cannot outlive `self`.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// The hasher of the store (one per `Kv`): the index rehashes keys with it when it grows.
pub(crate) type KeyHasher = foldhash::fast::RandomState;

#[derive(Debug)]
pub(crate) struct Shard {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    packed: Vec<Packed>,
    packed_free: Vec<u32>,
    /// The slots of spilled packed slots, by position in the packed slab.
    spilled: std::collections::HashMap<u32, Box<Slot>, KeyHasher>,
    index: HashTable<u32>,
    volatile: Vec<u32>,
    hasher: KeyHasher,
}

const FULL_SIZE: usize = std::mem::size_of::<Option<Slot>>();
const PACKED_SIZE: usize = std::mem::size_of::<Packed>();

impl Shard {
    /// An empty shard whose keys are hashed by `hasher` (the one the callers' hashes come from).
    pub(crate) fn new(hasher: KeyHasher) -> Shard {
        Shard {
            slots: Vec::new(),
            free: Vec::new(),
            packed: Vec::new(),
            packed_free: Vec::new(),
            spilled: std::collections::HashMap::with_hasher(hasher.clone()),
            index: HashTable::new(),
            volatile: Vec::new(),
            hasher,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Bytes of the two slabs' capacity, and keys the index has room for (MEMORY USAGE's share
    /// of them per key).
    pub(crate) fn capacities(&self) -> (usize, usize) {
        (
            self.slots.capacity() * FULL_SIZE + self.packed.capacity() * PACKED_SIZE,
            self.index.capacity(),
        )
    }

    /// Heap bytes slot `idx` owns outside its slab (a spilled slot's box).
    pub(crate) fn boxed_size(&self, idx: u32) -> usize {
        match self.small(idx) {
            // The box and the map's entry.
            Some(Small::Spilled(_)) => std::mem::size_of::<Slot>() + 16,
            _ => 0,
        }
    }

    /// Positions in the two slabs together (see [`Shard::id_at`]).
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len() + self.packed.len()
    }

    /// The id of position `n` (below [`Shard::slot_count`]): the full slab's first.
    pub(crate) fn id_at(&self, n: usize) -> u32 {
        if n < self.slots.len() {
            n as u32
        } else {
            PACKED | (n - self.slots.len()) as u32
        }
    }

    /// The ids from `from` upward, in the order SCAN walks them.
    pub(crate) fn ids_from(&self, from: u32) -> impl Iterator<Item = u32> + use<> {
        let full = self.slots.len() as u32;
        let packed_end = PACKED | self.packed.len() as u32;
        (from.min(full)..full).chain(from.max(PACKED)..packed_end)
    }

    fn small(&self, idx: u32) -> Option<Small<'_>> {
        if idx & PACKED == 0 {
            return None;
        }
        let i = idx & !PACKED;
        let p = self.packed.get(i as usize)?;
        match p.key_len {
            VACANT => None,
            SPILLED => Some(Small::Spilled(&self.spilled[&i])),
            _ => Some(Small::Packed(p)),
        }
    }

    /// The key of slot `idx`, if occupied.
    #[inline]
    fn key_at(&self, idx: u32) -> Option<&[u8]> {
        key_in(&self.slots, &self.packed, &self.spilled, idx)
    }

    pub(crate) fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        self.index
            .find(hash, |&i| self.key_at(i) == Some(key))
            .copied()
    }

    pub(crate) fn slot(&self, idx: u32) -> Option<SlotRef<'_>> {
        if idx & PACKED == 0 {
            return self
                .slots
                .get(idx as usize)
                .and_then(Option::as_ref)
                .map(SlotRef::Stored);
        }
        Some(match self.small(idx)? {
            Small::Packed(p) => SlotRef::Unpacked(p.unpack()),
            Small::Spilled(s) => SlotRef::Stored(s),
        })
    }

    /// The occupied slot `idx`. Panics if it is vacant: callers got `idx` from `find` or
    /// `insert` under the same lock.
    pub(crate) fn get(&self, idx: u32) -> SlotRef<'_> {
        self.slot(idx)
            .expect("slot index came from find/insert under this lock")
    }

    /// The occupied slot `idx` if it is stored as a full slot (not packed).
    pub(crate) fn stored(&self, idx: u32) -> Option<&Slot> {
        if idx & PACKED == 0 {
            return self.slots[idx as usize].as_ref();
        }
        match self.small(idx)? {
            Small::Packed(_) => None,
            Small::Spilled(s) => Some(s),
        }
    }

    /// The access clock of occupied slot `idx` (the stored one, which a read may update).
    pub(crate) fn access(&self, idx: u32) -> &Access {
        match self.stored(idx) {
            Some(s) => &s.entry.access,
            None => match self.small(idx) {
                Some(Small::Packed(p)) => &p.access,
                _ => unreachable!("slot index came from find/insert under this lock"),
            },
        }
    }

    /// The expiry of occupied slot `idx` (a packed slot has none).
    pub(crate) fn expire_at(&self, idx: u32) -> Option<u64> {
        self.stored(idx).and_then(|s| s.entry.expire_at())
    }

    /// The entry of occupied slot `idx` for changing; a packed slot is spilled first (and
    /// packed again by [`Shard::settle`]). Change its expiry only through
    /// [`Shard::set_expiry`].
    pub(crate) fn entry_mut(&mut self, idx: u32) -> &mut Entry {
        &mut self.slot_mut(idx).entry
    }

    fn slot_mut(&mut self, idx: u32) -> &mut Slot {
        const OCCUPIED: &str = "slot index came from find/insert under this lock";
        if idx & PACKED == 0 {
            return self.slots[idx as usize].as_mut().expect(OCCUPIED);
        }
        let i = idx & !PACKED;
        let p = &mut self.packed[i as usize];
        assert_ne!(p.key_len, VACANT, "{OCCUPIED}");
        if p.key_len != SPILLED {
            let slot = p.unpack();
            *p = Packed::marker(SPILLED);
            self.spilled.insert(i, Box::new(slot));
        }
        self.spilled.get_mut(&i).expect(OCCUPIED)
    }

    /// Replaces the value of packed slot `idx` in place, written at `now`, if the slot is
    /// packed and `value` fits it (SET over a short string); false, changing nothing, if not.
    pub(crate) fn put_packed(&mut self, idx: u32, value: &Value, now: u64) -> bool {
        if idx & PACKED == 0 {
            return false;
        }
        let Some(p) = self.packed.get_mut((idx & !PACKED) as usize) else {
            return false;
        };
        let Value::String(s) = value else {
            return false;
        };
        let k = usize::from(p.key_len);
        if p.key_len >= SPILLED || s.is_heap() || k + s.len() > PACKED_BYTES {
            return false;
        }
        p.buf[k..k + s.len()].copy_from_slice(s);
        p.value_len = s.len() as u8;
        p.updated_s = crate::entry::seconds(now);
        true
    }

    /// Packs slot `idx` again if it was spilled and its entry fits a packed slot now.
    pub(crate) fn settle(&mut self, idx: u32) {
        if idx & PACKED == 0 {
            return;
        }
        let i = idx & !PACKED;
        if let Some(s) = self.spilled.get(&i)
            && let Some(p) = Packed::of(s.key.as_slice(), &s.entry)
        {
            self.packed[i as usize] = p;
            self.spilled.remove(&i);
        }
    }

    /// Inserts a key that is not present; returns its slot id. A short string without an
    /// expiry goes to the packed slab.
    pub(crate) fn insert(&mut self, hash: u64, key: &[u8], mut entry: Entry) -> u32 {
        debug_assert!(self.find(hash, key).is_none());
        debug_assert_eq!(hash, self.hasher.hash_one(key));
        let expire_at = entry.expire_at();
        entry.set_expire_at(None);
        let packed = if expire_at.is_none() {
            Packed::of(key, &entry)
        } else {
            None
        };
        let idx = match packed {
            Some(p) => match self.packed_free.pop() {
                Some(i) => {
                    self.packed[i as usize] = p;
                    crate::memory::note_vacant(-(PACKED_SIZE as isize));
                    PACKED | i
                }
                None => {
                    let i = u32::try_from(self.packed.len())
                        .ok()
                        .filter(|&i| i < PACKED)
                        .expect("a shard holds < 2^31 keys");
                    self.packed.push(p);
                    PACKED | i
                }
            },
            None => {
                let slot = Some(Slot {
                    key: SmallKey::new(key),
                    entry,
                });
                match self.free.pop() {
                    Some(i) => {
                        self.slots[i as usize] = slot;
                        crate::memory::note_vacant(-(FULL_SIZE as isize));
                        i
                    }
                    None => {
                        let i = u32::try_from(self.slots.len())
                            .ok()
                            .filter(|&i| i < PACKED)
                            .expect("a shard holds < 2^31 keys");
                        self.slots.push(slot);
                        i
                    }
                }
            }
        };
        let (slots, packed, spilled) = (&self.slots, &self.packed, &self.spilled);
        let hasher = &self.hasher;
        self.index.insert_unique(hash, idx, |&i| {
            let key = key_in(slots, packed, spilled, i);
            hasher.hash_one(key.expect("indexed slots are occupied"))
        });
        self.set_expiry(idx, expire_at);
        idx
    }

    /// Removes occupied slot `idx`, returning its contents (expiry included).
    pub(crate) fn remove(&mut self, idx: u32) -> Slot {
        let slot = if idx & PACKED == 0 {
            let slot = self.slots[idx as usize]
                .take()
                .expect("removing an occupied slot");
            self.free.push(idx);
            crate::memory::note_vacant(FULL_SIZE as isize);
            slot
        } else {
            let i = idx & !PACKED;
            let p = std::mem::replace(&mut self.packed[i as usize], Packed::marker(VACANT));
            assert_ne!(p.key_len, VACANT, "removing an occupied slot");
            self.packed_free.push(i);
            crate::memory::note_vacant(PACKED_SIZE as isize);
            match p.key_len {
                SPILLED => *self
                    .spilled
                    .remove(&i)
                    .expect("a spilled slot is in the map"),
                _ => p.unpack(),
            }
        };
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
        if self.index.is_empty() {
            self.note_free_gone();
            // Nothing lives here: drop the slabs so a drained shard gives its memory back.
            // No live key moves, so SCAN's guarantee holds.
            self.slots = Vec::new();
            self.free = Vec::new();
            self.packed = Vec::new();
            self.packed_free = Vec::new();
            self.spilled = std::collections::HashMap::with_hasher(self.hasher.clone());
            self.index = HashTable::new();
        }
        slot
    }

    /// Takes the free lists' slots out of the vacant count (their slabs are going).
    fn note_free_gone(&self) {
        crate::memory::note_vacant(
            -((self.free.len() * FULL_SIZE + self.packed_free.len() * PACKED_SIZE) as isize),
        );
    }

    /// Drops position `pos` from the volatile index, fixing the entry moved into its place.
    fn unlist_volatile(&mut self, pos: usize) {
        self.volatile.swap_remove(pos);
        if let Some(&moved) = self.volatile.get(pos) {
            self.entry_mut(moved).volatile_pos = pos as u32;
        }
    }

    /// Sets or clears the expiry of occupied slot `idx`, keeping the volatile index exact. A
    /// packed slot given an expiry is spilled.
    pub(crate) fn set_expiry(&mut self, idx: u32, at: Option<u64>) {
        match (self.expire_at(idx).is_some(), at) {
            (false, None) => return,
            (false, Some(_)) => {
                let pos = self.volatile.len() as u32;
                self.entry_mut(idx).volatile_pos = pos;
                self.volatile.push(idx);
            }
            (true, None) => {
                let pos = self.entry_mut(idx).volatile_pos as usize;
                self.unlist_volatile(pos);
            }
            (true, Some(_)) => {}
        }
        self.entry_mut(idx).set_expire_at(at);
    }

    /// Slot ids of the entries that carry an expiry.
    pub(crate) fn volatile(&self) -> &[u32] {
        &self.volatile
    }

    /// Empties the shard, giving its memory back.
    pub(crate) fn clear(&mut self) {
        self.note_free_gone();
        *self = Shard::new(self.hasher.clone());
    }

    /// Iterates over the occupied slots, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, SlotRef<'_>)> {
        let full = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as u32, SlotRef::Stored(s))));
        let packed = self.packed.iter().enumerate().filter_map(|(i, p)| {
            let slot = match p.key_len {
                VACANT => return None,
                SPILLED => SlotRef::Stored(&self.spilled[&(i as u32)]),
                _ => SlotRef::Unpacked(p.unpack()),
            };
            Some((PACKED | i as u32, slot))
        });
        full.chain(packed)
    }
}

/// The key of slot `idx` of a shard's slabs, if occupied.
#[inline]
fn key_in<'a>(
    slots: &'a [Option<Slot>],
    packed: &'a [Packed],
    spilled: &'a std::collections::HashMap<u32, Box<Slot>, KeyHasher>,
    idx: u32,
) -> Option<&'a [u8]> {
    if idx & PACKED == 0 {
        return slots[idx as usize].as_ref().map(|s| s.key.as_slice());
    }
    let i = idx & !PACKED;
    let p = &packed[i as usize];
    match p.key_len {
        VACANT => None,
        SPILLED => Some(spilled[&i].key.as_slice()),
        _ => Some(p.key()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_packed_slot_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Packed>(), 32);
    }

    fn value_of(shard: &Shard, idx: u32) -> Vec<u8> {
        shard.get(idx).entry.value.as_string().unwrap().to_vec()
    }

    #[test]
    fn short_strings_pack_and_spill_in_place() {
        let hasher = KeyHasher::default();
        let mut shard = Shard::new(hasher.clone());
        let put = |shard: &mut Shard, key: &[u8], value: &[u8], at: Option<u64>| {
            let e = Entry::with_expiry(Value::string(value), 7_000, at);
            shard.insert(hasher.hash_one(key), key, e)
        };
        let packed = put(&mut shard, b"key:0000001", b"123", None);
        let long = put(&mut shard, b"key:0000002", &[b'x'; 12], None);
        let volatile = put(&mut shard, b"key:0000003", b"1", Some(9));
        let mut heap = Value::string(b"1");
        if let Value::String(s) = &mut heap {
            s.make_vec().push(b'2');
        }
        let raw = shard.insert(hasher.hash_one(b"k4"), b"k4", Entry::new(heap, 0));
        assert!(packed & PACKED != 0 && shard.stored(packed).is_none());
        assert_eq!(long & PACKED, 0, "22 bytes of key and value at most");
        assert_eq!(volatile & PACKED, 0, "an expiry needs a full slot");
        assert_eq!(raw & PACKED, 0, "a heap string keeps its encoding");
        assert_eq!(value_of(&shard, packed), b"123");
        assert_eq!(shard.get(packed).entry.updated_ms(), 7_000);
        assert_eq!(shard.get(packed).key.as_slice(), b"key:0000001");
        assert_eq!(
            shard.get(packed).entry.access.get(),
            shard.access(packed).get()
        );

        // SET in place; a value that no longer fits spills, and packs again once it fits.
        assert!(shard.put_packed(packed, &Value::string(b"4567"), 12_000));
        assert_eq!(value_of(&shard, packed), b"4567");
        assert!(!shard.put_packed(packed, &Value::string(&[b'y'; 12]), 0));
        shard.entry_mut(packed).value = Value::string(&[b'y'; 12]);
        assert!(shard.stored(packed).is_some());
        shard.settle(packed);
        assert!(shard.stored(packed).is_some(), "still too long");
        shard.entry_mut(packed).value = Value::string(b"9");
        shard.settle(packed);
        assert!(shard.stored(packed).is_none());
        assert_eq!(value_of(&shard, packed), b"9");

        // An expiry spills (the volatile index names the same id); clearing it packs again.
        shard.set_expiry(packed, Some(50));
        assert_eq!(shard.expire_at(packed), Some(50));
        assert!(shard.volatile().contains(&packed));
        shard.settle(packed);
        assert!(shard.stored(packed).is_some());
        shard.set_expiry(packed, None);
        shard.settle(packed);
        assert!(shard.stored(packed).is_none() && !shard.volatile().contains(&packed));
        assert_eq!(
            shard.find(hasher.hash_one(b"key:0000001"), b"key:0000001"),
            Some(packed)
        );
        let removed = shard.remove(packed);
        assert_eq!(removed.key.as_slice(), b"key:0000001");
        assert_eq!(
            shard.find(hasher.hash_one(b"key:0000001"), b"key:0000001"),
            None
        );
        // The packed slab's free slot is reused.
        assert_eq!(put(&mut shard, b"k5", b"v", None), packed);
    }

    #[test]
    fn ids_walk_both_slabs_once_in_order() {
        let hasher = KeyHasher::default();
        let mut shard = Shard::new(hasher.clone());
        let mut ids = Vec::new();
        for i in 0..300u32 {
            let key = format!("key:{i}");
            let value = if i % 3 == 0 {
                vec![b'v'; 40]
            } else {
                b"1".to_vec()
            };
            let e = Entry::new(Value::string(&value), 0);
            ids.push(shard.insert(hasher.hash_one(key.as_bytes()), key.as_bytes(), e));
        }
        ids.sort_unstable();
        let walked: Vec<u32> = shard.ids_from(0).collect();
        assert_eq!(walked, ids);
        let all: Vec<u32> = shard.iter().map(|(i, _)| i).collect();
        assert_eq!(all, ids);
        let by_position: Vec<u32> = (0..shard.slot_count()).map(|n| shard.id_at(n)).collect();
        assert_eq!(by_position, ids);
        // Resuming from any cursor walks exactly the ids at or above it.
        for &from in &[
            0,
            5,
            99,
            100,
            101,
            5000,
            PACKED,
            PACKED + 7,
            PACKED + 200,
            u32::MAX,
        ] {
            let rest: Vec<u32> = shard.ids_from(from).collect();
            let expected: Vec<u32> = ids.iter().copied().filter(|&i| i >= from).collect();
            assert_eq!(rest, expected, "from {from}");
        }
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
