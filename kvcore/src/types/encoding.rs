//! Redis's encoding thresholds (`hash-max-listpack-*`, `zset-max-listpack-*`,
//! `set-max-intset-entries`): where a small hash or sorted set stops being one packed buffer,
//! and where an integer set stops being reported as an `intset`.
//!
//! They are process-wide, as they are in a Redis process: the host (kvserver's CONFIG SET)
//! changes them at run time with relaxed stores, and the container types read them at the
//! moment they decide a conversion, so a change applies to the next insertion, and a value
//! already converted stays converted (Redis's conversions are one-way too).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The encoding thresholds. The defaults are Redis 7.0's.
///
/// ```
/// let mut limits = kvcore::encoding_limits();
/// limits.hash_max_listpack_entries = 128;
/// kvcore::set_encoding_limits(limits);
/// assert_eq!(kvcore::encoding_limits().hash_max_listpack_entries, 128);
/// # kvcore::set_encoding_limits(kvcore::EncodingLimits::default());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingLimits {
    /// Most fields a packed (`listpack`) hash holds (Redis's default 512).
    pub hash_max_listpack_entries: usize,
    /// Longest field or value, in bytes, a packed hash holds (default 64).
    pub hash_max_listpack_value: usize,
    /// Most members a packed (`listpack`) sorted set holds (default 128).
    pub zset_max_listpack_entries: usize,
    /// Longest member, in bytes, a packed sorted set holds (default 64).
    pub zset_max_listpack_value: usize,
    /// Most integers a set reported as `intset` holds (default 512).
    pub set_max_intset_entries: usize,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            set_max_intset_entries: 512,
        }
    }
}

static HASH_ENTRIES: AtomicUsize = AtomicUsize::new(512);
static HASH_VALUE: AtomicUsize = AtomicUsize::new(64);
static ZSET_ENTRIES: AtomicUsize = AtomicUsize::new(128);
static ZSET_VALUE: AtomicUsize = AtomicUsize::new(64);
static INTSET_ENTRIES: AtomicUsize = AtomicUsize::new(512);

/// Sets the encoding thresholds of every store in this process, from their next insertion on.
pub fn set_encoding_limits(l: EncodingLimits) {
    HASH_ENTRIES.store(l.hash_max_listpack_entries, Relaxed);
    HASH_VALUE.store(l.hash_max_listpack_value, Relaxed);
    ZSET_ENTRIES.store(l.zset_max_listpack_entries, Relaxed);
    ZSET_VALUE.store(l.zset_max_listpack_value, Relaxed);
    INTSET_ENTRIES.store(l.set_max_intset_entries, Relaxed);
}

/// The encoding thresholds in effect.
pub fn encoding_limits() -> EncodingLimits {
    EncodingLimits {
        hash_max_listpack_entries: hash_entries(),
        hash_max_listpack_value: hash_value(),
        zset_max_listpack_entries: zset_entries(),
        zset_max_listpack_value: zset_value(),
        set_max_intset_entries: intset_entries(),
    }
}

pub(crate) fn hash_entries() -> usize {
    HASH_ENTRIES.load(Relaxed)
}

pub(crate) fn hash_value() -> usize {
    HASH_VALUE.load(Relaxed)
}

pub(crate) fn zset_entries() -> usize {
    ZSET_ENTRIES.load(Relaxed)
}

pub(crate) fn zset_value() -> usize {
    ZSET_VALUE.load(Relaxed)
}

pub(crate) fn intset_entries() -> usize {
    INTSET_ENTRIES.load(Relaxed)
}
