//! The container data types (lists, hashes, sets, sorted sets, streams) as plain data structures.

pub(crate) mod bits;
mod chunk;
mod encoding;
mod error;
pub(crate) mod geo;
mod hash;
pub(crate) mod hll;
mod inline;
mod list;
mod pack;
mod rng;
mod score;
mod set;
mod skiplist;
mod slots;
mod stream;
mod stream_group;
mod zpack;
mod zset;

pub use bits::{BitRange, BitUnit, BitfieldOp, BitfieldType, Overflow};
pub use encoding::{EncodingLimits, encoding_limits, set_encoding_limits};
pub(crate) use error::TypeError;
pub(crate) use hash::Hash;
pub use list::End;
pub(crate) use list::List;
pub(crate) use rng::Rng;
pub use score::{LexBound, LexRange, ScoreRange, format_score, parse_score};
pub(crate) use set::Set;
pub use stream::{EntryRef as StreamEntryRef, StreamId};
pub(crate) use stream::{MAX_ENTRY_BYTES, Stream, Trim, TrimBy};
pub(crate) use stream_group::{Consumer as StreamConsumer, Group as StreamGroup};
pub use zset::{Aggregate, ZAddFlags};
pub(crate) use zset::{ZInput, ZSet};

/// Bytes a request of `n` bytes counts for in MEMORY USAGE: `n`, as the counting allocator
/// (`memory.rs`) counts what is requested, so that MEMORY USAGE and `used_memory` agree.
pub(crate) fn alloc_size(n: usize) -> usize {
    n
}

/// Converts a Redis-style inclusive index range (negative counts from the end) on a sequence of
/// `len` items to a half-open range of positions; None when it selects nothing (LRANGE, LTRIM,
/// ZRANGE by rank all share these rules).
pub(crate) fn normalize_range(start: i64, stop: i64, len: usize) -> Option<std::ops::Range<usize>> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 {
        start.saturating_add(len_i).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop.saturating_add(len_i)
    } else {
        stop
    };
    if start > stop || start >= len_i {
        return None;
    }
    let stop = stop.min(len_i - 1);
    // Both are in 0..len here.
    Some(start as usize..stop as usize + 1)
}

/// Resolves a single Redis index (negative counts from the end) to a position, if in range.
pub(crate) fn normalize_index(index: i64, len: usize) -> Option<usize> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let i = if index < 0 {
        index.checked_add(len_i)?
    } else {
        index
    };
    if (0..len_i).contains(&i) {
        Some(i as usize)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_range_table() {
        let cases: &[(i64, i64, usize, Option<std::ops::Range<usize>>)] = &[
            (0, -1, 5, Some(0..5)),
            (0, 0, 5, Some(0..1)),
            (-2, -1, 5, Some(3..5)),
            (-100, 100, 5, Some(0..5)),
            (3, 1, 5, None),
            (5, 10, 5, None),
            (0, -1, 0, None),
            (-1, -1, 0, None),
            (1, -5, 5, None),
            (-5, -5, 5, Some(0..1)),
            (-6, -6, 5, None),
            (i64::MIN, i64::MAX, 3, Some(0..3)),
        ];
        for (start, stop, len, want) in cases {
            assert_eq!(
                normalize_range(*start, *stop, *len),
                *want,
                "{start} {stop} {len}"
            );
        }
    }

    #[test]
    fn normalize_index_table() {
        assert_eq!(normalize_index(0, 3), Some(0));
        assert_eq!(normalize_index(-1, 3), Some(2));
        assert_eq!(normalize_index(-3, 3), Some(0));
        assert_eq!(normalize_index(-4, 3), None);
        assert_eq!(normalize_index(3, 3), None);
        assert_eq!(normalize_index(i64::MIN, 3), None);
        assert_eq!(normalize_index(0, 0), None);
    }
}
