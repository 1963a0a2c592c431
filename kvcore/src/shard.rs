//! One shard of one database: three slabs of entries (full slots, packed strings and small
//! containers), a hash index into them, and an index of the entries that carry an expiry.
//!
//! Invariants:
//! - A live key's slot id changes only forward in SCAN's order (SCAN's cursor relies on it),
//!   and only when [`Shard::settle`] moves a spilled packed key to the full slab. Slots are
//!   never compacted; a slab is only dropped when no key lives in it. (A compacting shard
//!   would have to put a generation into the SCAN cursor and restart the shard on a
//!   mismatch.) A slot id is a position in the packed string slab, [`CONTAINER`] plus a
//!   position in the container slab, or [`FULL`] plus a position in the full slab; ids are
//!   walked in that order (`ids_from`).
//! - A packed slot holds a string without an expiry whose key and value fit
//!   [`PACKED_BYTES`], or a small container without an expiry whose key and inline form fit
//!   [`CONTAINER_BYTES`]. A write to a packed key *spills* it: its full slot is boxed in
//!   `spilled` under the same id and the packed slot marked; `settle`, at the end of the
//!   write, packs it again if it fits, or moves it to the full slab. A container that fits
//!   may stay spilled in the shard's open box until another key of the shard spills (see
//!   [`Spilled`]).
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

/// The bit of a slot id that places it in the full slab.
const FULL: u32 = 1 << 31;
/// The bit of a slot id that places it in the container slab (ids with neither bit are in
/// the packed string slab).
const CONTAINER: u32 = 1 << 30;

/// The most bytes of key and value together that a packed string slot holds.
pub(crate) const PACKED_BYTES: usize = 22;
/// The most bytes of key and inline container form together that a container slot holds.
pub(crate) const CONTAINER_BYTES: usize = 54;

/// `key_len` of a vacant packed slot.
const VACANT: u8 = u8::MAX;
/// `key_len` of a spilled packed slot (its slot is in `Shard::spilled`).
const SPILLED: u8 = u8::MAX - 1;

/// A small value without an expiry: the access clock, the last write in seconds, two lengths
/// and the key followed by the value. In the string slab (`N` = [`PACKED_BYTES`], 32 bytes)
/// the value is a short string; in the container slab (`N` = [`CONTAINER_BYTES`], 64 bytes)
/// it is a small list, hash, set or sorted set in its inline form (`types/inline.rs`), whose
/// kind is the top two bits of `value_len`. `key_len` also marks a vacant or spilled slot
/// (no key is that long here).
#[derive(Debug)]
struct Packed<const N: usize> {
    access: Access,
    updated_s: u32,
    key_len: u8,
    value_len: u8,
    buf: [u8; N],
}

impl<const N: usize> Packed<N> {
    /// The packed form of `key`'s entry in this slab, if it has one.
    fn of(key: &[u8], entry: &Entry) -> Option<Packed<N>> {
        let (value, updated_s) = entry.packable()?;
        if key.len() > N {
            return None;
        }
        let mut buf = [0; N];
        let (kind, len) = if N == PACKED_BYTES {
            match value {
                Value::String(s) if !s.is_heap() && key.len() + s.len() <= N => {
                    buf[key.len()..key.len() + s.len()].copy_from_slice(s);
                    (0, s.len())
                }
                _ => return None,
            }
        } else {
            value.encode_inline(&mut buf[key.len()..])?
        };
        buf[..key.len()].copy_from_slice(key);
        Some(Packed {
            access: entry.access.clone(),
            updated_s,
            key_len: key.len() as u8,
            // len <= N - key_len < 64, kind < 4.
            value_len: (kind << 6) | len as u8,
            buf,
        })
    }

    /// A slot holding no key: `VACANT` or `SPILLED`.
    fn marker(key_len: u8) -> Packed<N> {
        Packed {
            access: Access::default(),
            updated_s: 0,
            key_len,
            value_len: 0,
            buf: [0; N],
        }
    }

    fn key(&self) -> &[u8] {
        &self.buf[..usize::from(self.key_len)]
    }

    fn value(&self) -> &[u8] {
        let k = usize::from(self.key_len);
        &self.buf[k..k + usize::from(self.value_len & 0x3f)]
    }

    fn unpack(&self) -> Slot {
        let value = if N == PACKED_BYTES {
            Value::string(self.value())
        } else {
            Value::decode_inline(self.value_len >> 6, self.value())
        };
        Slot {
            key: SmallKey::new(self.key()),
            entry: Entry::unpacked(value, self.updated_s, self.access.clone()),
        }
    }
}

/// One packed slab: its slots and the positions of its vacant ones.
#[derive(Debug, Default)]
struct Slab<const N: usize> {
    slots: Vec<Packed<N>>,
    free: Vec<u32>,
}

impl<const N: usize> Slab<N> {
    const SIZE: usize = std::mem::size_of::<Packed<N>>();

    /// Stores `p`, returning its position.
    fn put(&mut self, p: Packed<N>) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = p;
                crate::memory::note_vacant(-(Self::SIZE as isize));
                i
            }
            None => {
                let i = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&i| i < CONTAINER)
                    .expect("a shard holds < 2^30 packed keys of one kind");
                self.slots.push(p);
                i
            }
        }
    }

    /// Vacates position `i`, returning what it held.
    fn take(&mut self, i: u32) -> Packed<N> {
        let p = std::mem::replace(&mut self.slots[i as usize], Packed::marker(VACANT));
        assert_ne!(p.key_len, VACANT, "removing an occupied slot");
        self.free.push(i);
        crate::memory::note_vacant(Self::SIZE as isize);
        p
    }

    fn free_bytes(&self) -> usize {
        self.free.len() * Self::SIZE
    }

    fn capacity_bytes(&self) -> usize {
        self.slots.capacity() * Self::SIZE
    }
}

/// An occupied packed slot, of either slab.
enum PackedRef<'a> {
    String(&'a Packed<PACKED_BYTES>),
    Container(&'a Packed<CONTAINER_BYTES>),
}

impl PackedRef<'_> {
    fn unpack(&self) -> Slot {
        match self {
            PackedRef::String(p) => p.unpack(),
            PackedRef::Container(p) => p.unpack(),
        }
    }
}

/// An occupied slot of a packed slab.
enum Small<'a> {
    Packed(PackedRef<'a>),
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

/// Spilled packed slots by id. A write spills at most one key of a shard and packs or moves
/// it when it ends (`Shard::settle`), so the first spilled slot goes to `open`, a box kept
/// for the shard's lifetime once a write has needed it (no allocation and no map entry per
/// write); only the multi-key paths, which spill several keys and leave them spilled, use
/// the map.
///
/// A container that a write left fitting its slot stays in `open`, unpacked (marked
/// `Open::settled`), until another key of the shard is spilled: then it is packed into its
/// slot (`Shard::flush_open`). A hot container written over and over is decoded once, not
/// once per write, and a write to it checks the fit in O(1) (`Value::fits_inline`).
#[derive(Debug)]
struct Spilled {
    open: Option<Box<Open>>,
    more: std::collections::HashMap<u32, Box<Slot>, KeyHasher>,
}

/// The shard's reusable spilled slot.
#[derive(Debug)]
struct Open {
    idx: u32,
    slot: Option<Slot>,
    /// `slot` is a container that fits its slot, as the last write left it, and stays here;
    /// false while a write may change it.
    settled: bool,
}

impl Spilled {
    fn new(hasher: KeyHasher) -> Spilled {
        Spilled {
            open: None,
            more: std::collections::HashMap::with_hasher(hasher),
        }
    }

    fn is_open(&self, idx: u32) -> bool {
        matches!(&self.open, Some(o) if o.idx == idx && o.slot.is_some())
    }

    fn get(&self, idx: u32) -> Option<&Slot> {
        if self.is_open(idx) {
            return self.open.as_ref().and_then(|o| o.slot.as_ref());
        }
        self.more.get(&idx).map(|b| &**b)
    }

    /// The spilled slot `idx` for changing: a held one is no longer settled.
    fn get_mut(&mut self, idx: u32) -> Option<&mut Slot> {
        if self.is_open(idx) {
            let o = self.open.as_mut()?;
            o.settled = false;
            return o.slot.as_mut();
        }
        self.more.get_mut(&idx).map(|b| &mut **b)
    }

    fn insert(&mut self, idx: u32, slot: Slot) {
        match &mut self.open {
            None => {
                self.open = Some(Box::new(Open {
                    idx,
                    slot: Some(slot),
                    settled: false,
                }))
            }
            Some(o) if o.slot.is_none() => {
                o.idx = idx;
                o.slot = Some(slot);
                o.settled = false;
            }
            Some(_) => {
                self.more.insert(idx, Box::new(slot));
            }
        }
    }

    fn remove(&mut self, idx: u32) -> Option<Slot> {
        if self.is_open(idx) {
            let o = self.open.as_mut()?;
            o.settled = false;
            return o.slot.take();
        }
        self.more.remove(&idx).map(|b| *b)
    }
}

#[derive(Debug)]
pub(crate) struct Shard {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// Short strings (ids `i`).
    packed: Slab<PACKED_BYTES>,
    /// Small containers (ids `CONTAINER | i`).
    containers: Slab<CONTAINER_BYTES>,
    /// The slots of spilled packed slots, by id.
    spilled: Spilled,
    index: HashTable<u32>,
    volatile: Vec<u32>,
    hasher: KeyHasher,
}

const FULL_SIZE: usize = std::mem::size_of::<Option<Slot>>();

/// Where a slot id points.
#[derive(Clone, Copy)]
enum Place {
    Full(usize),
    String(usize),
    Container(usize),
}

#[inline]
fn place(idx: u32) -> Place {
    if idx & FULL != 0 {
        Place::Full((idx & !FULL) as usize)
    } else if idx & CONTAINER != 0 {
        Place::Container((idx & !CONTAINER) as usize)
    } else {
        Place::String(idx as usize)
    }
}

impl Shard {
    /// An empty shard whose keys are hashed by `hasher` (the one the callers' hashes come from).
    pub(crate) fn new(hasher: KeyHasher) -> Shard {
        Shard {
            slots: Vec::new(),
            free: Vec::new(),
            packed: Slab::default(),
            containers: Slab::default(),
            spilled: Spilled::new(hasher.clone()),
            index: HashTable::new(),
            volatile: Vec::new(),
            hasher,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Bytes of the slabs' capacity, and keys the index has room for (MEMORY USAGE's share
    /// of them per key).
    pub(crate) fn capacities(&self) -> (usize, usize) {
        (
            self.slots.capacity() * FULL_SIZE
                + self.packed.capacity_bytes()
                + self.containers.capacity_bytes(),
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

    /// Positions in the slabs together (see [`Shard::id_at`]).
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len() + self.packed.slots.len() + self.containers.slots.len()
    }

    /// The id of position `n` (below [`Shard::slot_count`]): the packed strings' first,
    /// then the containers', then the full slab's.
    pub(crate) fn id_at(&self, n: usize) -> u32 {
        let (strings, containers) = (self.packed.slots.len(), self.containers.slots.len());
        if n < strings {
            n as u32
        } else if n < strings + containers {
            CONTAINER | (n - strings) as u32
        } else {
            FULL | (n - strings - containers) as u32
        }
    }

    /// The ids from `from` upward, in the order SCAN walks them (ascending: the packed
    /// strings, the containers, the full slab; a spilled packed key moves only forward in
    /// that order, see [`Shard::settle`]).
    pub(crate) fn ids_from(&self, from: u32) -> impl Iterator<Item = u32> + use<> {
        let strings_end = self.packed.slots.len() as u32;
        let containers_end = CONTAINER | self.containers.slots.len() as u32;
        let full_end = FULL | self.slots.len() as u32;
        (from.min(strings_end)..strings_end)
            .chain(from.clamp(CONTAINER, containers_end)..containers_end)
            .chain(from.clamp(FULL, full_end)..full_end)
    }

    fn small(&self, idx: u32) -> Option<Small<'_>> {
        small_in(&self.packed, &self.containers, &self.spilled, idx)
    }

    /// The key of slot `idx`, if occupied.
    #[inline]
    fn key_at(&self, idx: u32) -> Option<&[u8]> {
        key_in(
            &self.slots,
            &self.packed,
            &self.containers,
            &self.spilled,
            idx,
        )
    }

    pub(crate) fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        self.index
            .find(hash, |&i| self.key_at(i) == Some(key))
            .copied()
    }

    pub(crate) fn slot(&self, idx: u32) -> Option<SlotRef<'_>> {
        if let Place::Full(i) = place(idx) {
            return self
                .slots
                .get(i)
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
        if let Place::Full(i) = place(idx) {
            return self.slots[i].as_ref();
        }
        match self.small(idx)? {
            Small::Packed(_) => None,
            Small::Spilled(s) => Some(s),
        }
    }

    /// The access clock of occupied slot `idx` (the stored one, which a read may update).
    pub(crate) fn access(&self, idx: u32) -> &Access {
        match self.small(idx) {
            Some(Small::Packed(PackedRef::String(p))) => &p.access,
            Some(Small::Packed(PackedRef::Container(p))) => &p.access,
            _ => match self.stored(idx) {
                Some(s) => &s.entry.access,
                None => unreachable!("slot index came from find/insert under this lock"),
            },
        }
    }

    /// The type of occupied slot `idx`'s value, read without unpacking it.
    pub(crate) fn key_type(&self, idx: u32) -> crate::KeyType {
        use crate::KeyType;
        match self.small(idx) {
            Some(Small::Packed(PackedRef::String(_))) => KeyType::String,
            Some(Small::Packed(PackedRef::Container(p))) => Value::inline_type(p.value_len >> 6),
            _ => match self.stored(idx) {
                Some(s) => s.entry.value.key_type(),
                None => unreachable!("slot index came from find/insert under this lock"),
            },
        }
    }

    /// The value of occupied slot `idx` if it is a string held packed (read in place, not
    /// unpacked; a packed string has no expiry).
    pub(crate) fn packed_string(&self, idx: u32) -> Option<&[u8]> {
        match self.small(idx)? {
            Small::Packed(PackedRef::String(p)) => Some(p.value()),
            _ => None,
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
        let unpacked = match place(idx) {
            Place::Full(i) => return self.slots[i].as_mut().expect(OCCUPIED),
            Place::String(i) => spill(&mut self.packed.slots[i]),
            Place::Container(i) => spill(&mut self.containers.slots[i]),
        };
        if let Some(slot) = unpacked {
            self.flush_open();
            self.spilled.insert(idx, slot);
        }
        self.spilled.get_mut(idx).expect(OCCUPIED)
    }

    /// Packs the container held spilled in the open box back into its slot, if a write left
    /// it there settled (see [`Spilled`]).
    fn flush_open(&mut self) {
        let Some(o) = self.spilled.open.as_mut() else {
            return;
        };
        if !std::mem::take(&mut o.settled) {
            return;
        }
        let slot = o.slot.take().expect("a settled open slot is occupied");
        let Place::Container(i) = place(o.idx) else {
            unreachable!("only containers stay spilled after their write");
        };
        let idx = o.idx;
        match Packed::of(slot.key.as_slice(), &slot.entry) {
            Some(p) => self.containers.slots[i] = p,
            // Checked when it settled: kept spilled in the map if that was wrong.
            None => {
                self.spilled.more.insert(idx, Box::new(slot));
            }
        }
    }

    /// Replaces the value of packed slot `idx` in place, written at `now`, if the slot is
    /// a packed string and `value` fits it (SET over a short string); false, changing
    /// nothing, if not.
    pub(crate) fn put_packed(&mut self, idx: u32, value: &Value, now: u64) -> bool {
        let Place::String(i) = place(idx) else {
            return false;
        };
        let Some(p) = self.packed.slots.get_mut(i) else {
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

    /// Ends a write to slot `idx`: a packed slot the write spilled is packed again if its
    /// entry still fits, and otherwise moves to the full slab, for good (a key given an
    /// expiry, a string or container grown past its slot). Returns the key's id, new if it
    /// moved.
    ///
    /// Moving changes the key's id, which SCAN allows only forward: the full slab comes last
    /// in its order, so a walk that has passed the packed slot returned the key there (it may
    /// return it again: SCAN allows repeats), and a walk that has not finds it in the full
    /// slab. A key never moves back to a packed slab (that would move it backward).
    pub(crate) fn settle(&mut self, idx: u32) -> u32 {
        if idx & FULL != 0 {
            return idx;
        }
        let Some(s) = self.spilled.get(idx) else {
            return idx;
        };
        let (key, entry) = (s.key.as_slice(), &s.entry);
        if let (Place::Container(_), true) = (place(idx), self.spilled.is_open(idx)) {
            // A container in the open box stays there until another key of the shard spills
            // (`flush_open`), if it fits its slot (what `Packed::of` checks, without encoding).
            let fits = entry.packable().is_some()
                && key.len() <= CONTAINER_BYTES
                && entry.value.fits_inline(CONTAINER_BYTES - key.len());
            if fits {
                if let Some(o) = self.spilled.open.as_mut() {
                    o.settled = true;
                }
                return idx;
            }
        }
        let packed = match place(idx) {
            Place::Full(_) => unreachable!("checked above"),
            Place::String(i) => Packed::of(key, entry)
                .map(|p| self.packed.slots[i] = p)
                .is_some(),
            Place::Container(i) => Packed::of(key, entry)
                .map(|p| self.containers.slots[i] = p)
                .is_some(),
        };
        let slot = self.spilled.remove(idx).expect("looked up above");
        if packed {
            return idx;
        }
        match place(idx) {
            Place::String(_) => drop(self.packed.take(idx)),
            _ => drop(self.containers.take(idx & !CONTAINER)),
        }
        let hash = self.hasher.hash_one(slot.key.as_slice());
        let volatile = slot.entry.expire_at().map(|_| slot.entry.volatile_pos);
        let moved = self.put_full(slot);
        *self
            .index
            .find_mut(hash, |&i| i == idx)
            .expect("every occupied slot is indexed") = moved;
        if let Some(pos) = volatile {
            self.volatile[pos as usize] = moved;
        }
        moved
    }

    /// Stores `slot` in the full slab, returning its id.
    fn put_full(&mut self, slot: Slot) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                crate::memory::note_vacant(-(FULL_SIZE as isize));
                FULL | i
            }
            None => {
                let i = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&i| i < FULL)
                    .expect("a shard holds < 2^31 keys");
                self.slots.push(Some(slot));
                FULL | i
            }
        }
    }

    /// Inserts a key that is not present; returns its slot id. A short string or a small
    /// container without an expiry goes to a packed slab.
    pub(crate) fn insert(&mut self, hash: u64, key: &[u8], mut entry: Entry) -> u32 {
        debug_assert!(self.find(hash, key).is_none());
        debug_assert_eq!(hash, self.hasher.hash_one(key));
        let expire_at = entry.expire_at();
        entry.set_expire_at(None);
        let idx = if expire_at.is_some() {
            None
        } else if let Value::String(_) = entry.value {
            Packed::of(key, &entry).map(|p| self.packed.put(p))
        } else {
            Packed::of(key, &entry).map(|p| CONTAINER | self.containers.put(p))
        };
        let idx = idx.unwrap_or_else(|| {
            self.put_full(Slot {
                key: SmallKey::new(key),
                entry,
            })
        });
        let (slots, packed, containers, spilled) =
            (&self.slots, &self.packed, &self.containers, &self.spilled);
        let hasher = &self.hasher;
        self.index.insert_unique(hash, idx, |&i| {
            let key = key_in(slots, packed, containers, spilled, i);
            hasher.hash_one(key.expect("indexed slots are occupied"))
        });
        self.set_expiry(idx, expire_at);
        idx
    }

    /// Removes occupied slot `idx`, returning its contents (expiry included).
    pub(crate) fn remove(&mut self, idx: u32) -> Slot {
        let unpacked = match place(idx) {
            Place::Full(i) => {
                let slot = self.slots[i].take().expect("removing an occupied slot");
                self.free.push(i as u32);
                crate::memory::note_vacant(FULL_SIZE as isize);
                Some(slot)
            }
            Place::String(i) => {
                let p = self.packed.take(i as u32);
                (p.key_len != SPILLED).then(|| p.unpack())
            }
            Place::Container(i) => {
                let p = self.containers.take(i as u32);
                (p.key_len != SPILLED).then(|| p.unpack())
            }
        };
        let slot = unpacked.unwrap_or_else(|| {
            self.spilled
                .remove(idx)
                .expect("a spilled slot is in the map")
        });
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
            self.packed = Slab::default();
            self.containers = Slab::default();
            self.spilled = Spilled::new(self.hasher.clone());
            self.index = HashTable::new();
        }
        slot
    }

    /// Takes the free lists' slots out of the vacant count (their slabs are going).
    fn note_free_gone(&self) {
        crate::memory::note_vacant(
            -((self.free.len() * FULL_SIZE
                + self.packed.free_bytes()
                + self.containers.free_bytes()) as isize),
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

    /// Puts `key` back as it was (`before`; `None`: absent), undoing an optimistic
    /// transaction's changes (`tx.rs`). A key that exists keeps its slot (a SCAN in progress
    /// does not lose it).
    pub(crate) fn restore(&mut self, hash: u64, key: &[u8], before: Option<Entry>) {
        match (self.find(hash, key), before) {
            (None, None) => {}
            (Some(idx), None) => {
                self.remove(idx);
            }
            (None, Some(entry)) => {
                self.insert(hash, key, entry);
            }
            (Some(idx), Some(mut entry)) => {
                let at = entry.expire_at();
                entry.set_expire_at(None);
                self.set_expiry(idx, None);
                *self.entry_mut(idx) = entry;
                self.set_expiry(idx, at);
                self.settle(idx);
            }
        }
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
            .filter_map(|(i, s)| s.as_ref().map(|s| (FULL | i as u32, SlotRef::Stored(s))));
        let packed = 0..self.packed.slots.len() as u32;
        let containers = (0..self.containers.slots.len() as u32).map(|i| CONTAINER | i);
        let small = packed.chain(containers).filter_map(|idx| {
            let slot = match self.small(idx)? {
                Small::Packed(p) => SlotRef::Unpacked(p.unpack()),
                Small::Spilled(s) => SlotRef::Stored(s),
            };
            Some((idx, slot))
        });
        small.chain(full)
    }
}

/// Marks packed slot `p` spilled, returning its unpacked slot (None if it already was).
fn spill<const N: usize>(p: &mut Packed<N>) -> Option<Slot> {
    assert_ne!(
        p.key_len, VACANT,
        "slot index came from find/insert under this lock"
    );
    (p.key_len != SPILLED).then(|| {
        let slot = p.unpack();
        *p = Packed::marker(SPILLED);
        slot
    })
}

/// The occupied packed slot `idx` of a shard's packed slabs (None for a full slot id).
#[inline]
fn small_in<'a>(
    packed: &'a Slab<PACKED_BYTES>,
    containers: &'a Slab<CONTAINER_BYTES>,
    spilled: &'a Spilled,
    idx: u32,
) -> Option<Small<'a>> {
    let (key_len, p) = match place(idx) {
        Place::Full(_) => return None,
        Place::String(i) => {
            let p = packed.slots.get(i)?;
            (p.key_len, PackedRef::String(p))
        }
        Place::Container(i) => {
            let p = containers.slots.get(i)?;
            (p.key_len, PackedRef::Container(p))
        }
    };
    match key_len {
        VACANT => None,
        SPILLED => Some(Small::Spilled(
            spilled.get(idx).expect("a spilled slot is in the map"),
        )),
        _ => Some(Small::Packed(p)),
    }
}

/// The key of slot `idx` of a shard's slabs, if occupied.
#[inline]
fn key_in<'a>(
    slots: &'a [Option<Slot>],
    packed: &'a Slab<PACKED_BYTES>,
    containers: &'a Slab<CONTAINER_BYTES>,
    spilled: &'a Spilled,
    idx: u32,
) -> Option<&'a [u8]> {
    if let Place::Full(i) = place(idx) {
        return slots[i].as_ref().map(|s| s.key.as_slice());
    }
    match small_in(packed, containers, spilled, idx)? {
        Small::Packed(PackedRef::String(p)) => Some(p.key()),
        Small::Packed(PackedRef::Container(p)) => Some(p.key()),
        Small::Spilled(s) => Some(s.key.as_slice()),
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
    fn a_packed_slot_is_32_bytes_and_a_container_slot_64() {
        assert_eq!(std::mem::size_of::<Packed<PACKED_BYTES>>(), 32);
        assert_eq!(std::mem::size_of::<Packed<CONTAINER_BYTES>>(), 64);
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
        assert!(packed & FULL == 0 && shard.stored(packed).is_none());
        assert_ne!(long & FULL, 0, "22 bytes of key and value at most");
        assert_ne!(volatile & FULL, 0, "an expiry needs a full slot");
        assert_ne!(raw & FULL, 0, "a heap string keeps its encoding");
        assert_eq!(value_of(&shard, packed), b"123");
        assert_eq!(shard.get(packed).entry.updated_ms(), 7_000);
        assert_eq!(shard.get(packed).key.as_slice(), b"key:0000001");
        assert_eq!(
            shard.get(packed).entry.access.get(),
            shard.access(packed).get()
        );

        // SET in place; a write spills, and the write's end packs it again while it fits.
        assert!(shard.put_packed(packed, &Value::string(b"4567"), 12_000));
        assert_eq!(value_of(&shard, packed), b"4567");
        assert!(!shard.put_packed(packed, &Value::string(&[b'y'; 12]), 0));
        shard.entry_mut(packed).value = Value::string(b"89");
        assert!(shard.stored(packed).is_some());
        assert_eq!(shard.settle(packed), packed);
        assert!(shard.stored(packed).is_none());
        assert_eq!(value_of(&shard, packed), b"89");

        // Past the slot, or given an expiry, it moves to the full slab for good (forward in
        // SCAN's order), the index and the volatile index following it.
        let key2 = b"key:0000009";
        let other = put(&mut shard, key2, b"1", None);
        shard.set_expiry(other, Some(50));
        assert!(shard.volatile().contains(&other));
        let other_moved = shard.settle(other);
        assert!(other_moved > other && other_moved & FULL != 0);
        assert_eq!(shard.volatile(), &[volatile, other_moved]);
        assert_eq!(shard.get(other_moved).entry.volatile_pos, 1);
        assert_eq!(shard.find(hasher.hash_one(key2), key2), Some(other_moved));
        assert!(shard.slot(other).is_none(), "the packed slot is vacant");
        shard.entry_mut(packed).value = Value::string(&[b'y'; 12]);
        let moved = shard.settle(packed);
        assert!(moved & FULL != 0 && shard.stored(moved).is_some());
        assert_eq!(value_of(&shard, moved), [b'y'; 12]);
        assert_eq!(
            shard.find(hasher.hash_one(b"key:0000001"), b"key:0000001"),
            Some(moved)
        );
        shard.entry_mut(moved).value = Value::string(b"9");
        assert_eq!(shard.settle(moved), moved, "never back");
        let removed = shard.remove(moved);
        assert_eq!(removed.key.as_slice(), b"key:0000001");
        assert_eq!(
            shard.find(hasher.hash_one(b"key:0000001"), b"key:0000001"),
            None
        );
        // The packed slab's free slots are reused.
        let reused = put(&mut shard, b"k5", b"v", None);
        assert!(reused == packed || reused == other);
    }

    #[test]
    fn small_containers_pack_and_spill_past_their_slot() {
        use crate::types::{Hash, List, Set, ZSet};
        let hasher = KeyHasher::default();
        let mut shard = Shard::new(hasher.clone());
        let mut hash = Hash::new();
        for i in 0..5 {
            hash.set(format!("f{i}").as_bytes(), format!("v{i}").as_bytes());
        }
        let mut zset = ZSet::new();
        for (i, score) in [0.0, -0.0, 1.5, -7.0, f64::INFINITY]
            .into_iter()
            .enumerate()
        {
            zset.add(score, format!("m{i}").as_bytes(), &Default::default())
                .unwrap();
        }
        let mut ints = Set::new();
        let mut strings = Set::new();
        for i in 0..5 {
            ints.add(format!("{}", 10 - i).as_bytes());
            strings.add(format!("m{i}").as_bytes());
        }
        let mut list = List::new();
        list.push_all(crate::types::End::Right, &[&b"e0"[..], b"", b"e2"]);
        let values = [
            Value::Hash(hash),
            Value::ZSet(zset),
            Value::Set(ints),
            Value::Set(strings),
            Value::List(list),
        ];
        for (n, value) in values.into_iter().enumerate() {
            let key = format!("key:{n:07}");
            let e = Entry::new(value.clone(), 3_000);
            let idx = shard.insert(hasher.hash_one(key.as_bytes()), key.as_bytes(), e);
            assert_eq!(idx & (FULL | CONTAINER), CONTAINER, "{value:?}");
            assert!(shard.stored(idx).is_none());
            let slot = shard.get(idx);
            assert_eq!(slot.key.as_slice(), key.as_bytes());
            assert_eq!(slot.entry.value, value);
            assert_eq!(slot.entry.updated_ms(), 3_000);
            let encoding = |v: &Value| match v {
                Value::Set(s) => s.encoding(),
                Value::ZSet(z) => z.encoding(),
                _ => "",
            };
            assert_eq!(encoding(&slot.entry.value), encoding(&value));
            drop(slot);
            // A write spills it; it packs again while it fits, and moves past that.
            let Value::List(l) = &mut shard.entry_mut(idx).value else {
                assert_eq!(shard.settle(idx), idx);
                continue;
            };
            l.push(crate::types::End::Left, b"x");
            assert_eq!(shard.settle(idx), idx);
            assert!(shard.stored(idx).is_some(), "held spilled after its write");
            let Value::List(l) = &mut shard.entry_mut(idx).value else {
                unreachable!()
            };
            l.push(crate::types::End::Left, &[b'y'; 50]);
            let moved = shard.settle(idx);
            assert_ne!(moved & FULL, 0, "too long to pack: moved to the full slab");
            assert!(shard.slot(idx).is_none());
            assert_eq!(
                shard.get(moved).entry.value.key_type(),
                crate::KeyType::List
            );
            assert_eq!(shard.remove(moved).key.as_slice(), key.as_bytes());
        }
        // A large-encoded (sticky) container or one with an expiry takes a full slot.
        let mut big = Hash::new();
        for i in 0..600 {
            big.set(format!("f{i}").as_bytes(), b"v");
        }
        for i in 1..600 {
            big.remove(format!("f{i}").as_bytes());
        }
        let e = Entry::new(Value::Hash(big), 0);
        assert_ne!(shard.insert(hasher.hash_one(b"big"), b"big", e) & FULL, 0);
        let e = Entry::with_expiry(Value::List(List::new()), 0, Some(5));
        assert_ne!(shard.insert(hasher.hash_one(b"ttl"), b"ttl", e) & FULL, 0);
    }

    #[test]
    fn a_written_container_stays_spilled_until_another_key_spills() {
        use crate::types::Hash;
        let hasher = KeyHasher::default();
        let mut shard = Shard::new(hasher.clone());
        let mut ids = Vec::new();
        for key in [&b"h1"[..], b"h2"] {
            let mut h = Hash::new();
            h.set(b"f", b"0");
            let e = Entry::new(Value::Hash(h), 1_000);
            ids.push(shard.insert(hasher.hash_one(key), key, e));
        }
        let (a, b) = (ids[0], ids[1]);
        let field = |shard: &Shard, idx: u32| {
            let Value::Hash(h) = &shard.get(idx).entry.value else {
                unreachable!()
            };
            h.get(b"f").map(<[u8]>::to_vec)
        };
        // Many writes to one key: spilled once, held between writes.
        for n in 1..=20u32 {
            let Value::Hash(h) = &mut shard.entry_mut(a).value else {
                unreachable!()
            };
            h.set(b"f", n.to_string().as_bytes());
            assert_eq!(shard.settle(a), a);
            assert!(shard.stored(a).is_some());
            assert_eq!(field(&shard, a), Some(n.to_string().into_bytes()));
        }
        // A read stamps the held slot's clock; the clock survives the pack.
        shard.access(a).set(4242);
        // Another key's write packs the held one back (its ready form) and is held instead.
        let Value::Hash(h) = &mut shard.entry_mut(b).value else {
            unreachable!()
        };
        h.set(b"g", b"1");
        assert!(shard.stored(a).is_none(), "packed back");
        assert_eq!(field(&shard, a), Some(b"20".to_vec()));
        assert_eq!(shard.access(a).get(), 4242);
        assert_eq!(shard.settle(b), b);
        assert!(shard.stored(b).is_some());
        // A held key removed, or moved when it outgrows its slot, leaves nothing behind.
        assert_eq!(shard.remove(b).key.as_slice(), b"h2");
        let Value::Hash(h) = &mut shard.entry_mut(a).value else {
            unreachable!()
        };
        h.set(b"f", &[b'z'; 60]);
        let moved = shard.settle(a);
        assert_ne!(moved & FULL, 0);
        assert!(shard.slot(a).is_none());
        assert_eq!(field(&shard, moved), Some(vec![b'z'; 60]));
        assert_eq!(shard.find(hasher.hash_one(b"h1"), b"h1"), Some(moved));
    }

    #[test]
    fn the_o1_fit_check_agrees_with_the_encoder() {
        use crate::types::{Hash, Set};
        let (mut hash, mut ints, mut strings) = (Hash::new(), Set::new(), Set::new());
        for n in 0..12 {
            hash.set(format!("f{n}").as_bytes(), &vec![b'v'; n]);
            ints.add(n.to_string().as_bytes());
            strings.add(format!("m{n}").as_bytes());
            for value in [
                Value::Hash(hash.clone()),
                Value::Set(ints.clone()),
                Value::Set(strings.clone()),
            ] {
                for room in 0..=CONTAINER_BYTES {
                    let mut buf = [0u8; CONTAINER_BYTES];
                    let encoded = value.encode_inline(&mut buf[..room]).is_some();
                    assert_eq!(value.fits_inline(room), encoded, "{value:?} in {room}");
                }
            }
        }
    }

    #[test]
    fn ids_walk_the_three_slabs_once_in_order() {
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
            let value = if i % 5 == 0 {
                let mut h = crate::types::Hash::new();
                h.set(b"f", &value);
                Value::Hash(h)
            } else {
                Value::string(&value)
            };
            let e = Entry::new(value, 0);
            ids.push(shard.insert(hasher.hash_one(key.as_bytes()), key.as_bytes(), e));
        }
        assert!(ids.iter().any(|&i| i & CONTAINER != 0));
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
            CONTAINER,
            CONTAINER + 3,
            FULL,
            FULL + 7,
            FULL + 200,
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
