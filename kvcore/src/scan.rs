//! SCAN and RANDOMKEY: walking the key space without a global lock.
//!
//! # The cursor
//! A cursor is `shard << 32 | slot`: the shard (bits 32..48) and the slot id (bits 0..32;
//! the packed strings' slots, then the containers' from bit 30, then the full slab's from bit
//! 31, see `shard.rs`) where the next
//! call resumes. Bits 48..64 are zero (a compacting slab would put a generation
//! there). Cursor 0 starts at shard 0, slot 0; a walk ends when 0 comes back.
//!
//! # The guarantee
//! Each call read-locks one shard at a time and walks its slots upwards from the cursor. A
//! live key changes slot only forward in that order, once, from a packed slot to the full
//! slab (see `shard.rs`), so a key present for the whole walk is passed at least once: it is
//! returned (twice if the walk passed both positions). Keys
//! inserted behind the cursor are missed, keys deleted and re-inserted may be seen twice,
//! both allowed by Redis's contract.

use crate::glob::Pattern;
use crate::kv::Db;
use crate::options::ScanOptions;

const SLOT_BITS: u32 = 32;

pub(crate) fn scan(db: &Db, cursor: u64, opts: &ScanOptions) -> (u64, Vec<Vec<u8>>) {
    let inner = &*db.inner;
    if cursor >> 48 != 0 {
        // Not a cursor this store handed out: the walk is over, as Redis answers garbage.
        return (0, Vec::new());
    }
    let pattern = opts.pattern.as_deref().map(Pattern::new);
    let mut shard_i = (cursor >> SLOT_BITS) as usize & 0xffff;
    let mut slot_i = (cursor & 0xffff_ffff) as u32;
    let count = opts.count.max(1);
    let mut out = Vec::new();
    let (mut visited, mut empty) = (0usize, 0usize);
    let now = inner.now();
    while shard_i < inner.shard_count() {
        let shard = db.shard_read(db.index, shard_i);
        for here in shard.ids_from(slot_i) {
            slot_i = here + 1;
            match shard.slot(here) {
                None => empty += 1,
                Some(slot) => {
                    visited += 1;
                    let e = &slot.entry;
                    if !e.is_expired(now)
                        && opts.key_type.is_none_or(|t| t == e.value.key_type())
                        && pattern.as_ref().is_none_or(|p| p.matches(&slot.key))
                    {
                        out.push(slot.key.to_vec());
                    }
                }
            }
            if visited >= count || empty >= count.saturating_mul(10) {
                return (((shard_i as u64) << SLOT_BITS) | u64::from(slot_i), out);
            }
        }
        drop(shard);
        shard_i += 1;
        slot_i = 0;
    }
    (0, out)
}

pub(crate) fn randomkey(db: &Db) -> Option<Vec<u8>> {
    let inner = &*db.inner;
    let now = inner.now();
    let shards = inner.shard_count();
    // Random probes first: cheap and uniform enough while the slabs are reasonably full.
    for _ in 0..64 {
        let r = inner.random();
        let shard = db.shard_read(db.index, r as usize % shards);
        if shard.slot_count() == 0 {
            continue;
        }
        let idx = shard.id_at((r >> 32) as usize % shard.slot_count());
        if let Some(slot) = shard.slot(idx)
            && !slot.entry.is_expired(now)
        {
            return Some(slot.key.to_vec());
        }
    }
    // Sparse or mostly expired: walk from a random shard to the first live key.
    let start = inner.random() as usize % shards;
    (0..shards).find_map(|i| {
        let shard = db.shard_read(db.index, (start + i) % shards);
        shard
            .iter()
            .find(|(_, s)| !s.entry.is_expired(now))
            .map(|(_, s)| s.key.to_vec())
    })
}
