//! `SmallBytes` (values: up to 102 bytes inline, growable) and `SmallKey` (keys: up to 22
//! bytes inline, 24 bytes in all).
//!
//! Keys and short values are the common case; keeping them inside the slab slot saves an
//! allocation and, on a look-up, the cache miss of following a pointer to the heap: the slot
//! the key comparison just loaded also holds the value. 102 bytes is what fits a slot of three
//! cache lines (see `shard.rs`); longer strings live in a `Vec` so APPEND/SETRANGE grow them
//! amortised.

use std::fmt;
use std::ops::Deref;

/// The longest string kept inline: the enum is 104 bytes. On the 1M-key benchmark (100-byte
/// values), measured against 30 bytes inline in a 128-byte slot: kvcore went from behind
/// dashmap in 6 of 8 runs to ahead in 7 of 8, from one cache miss less per GET. Memory per key
/// is a 192-byte slot instead of 128 bytes plus a heap block: less for values of 31..=102
/// bytes, 64 bytes more for shorter ones.
const INLINE: usize = 102;

#[derive(Clone)]
pub(crate) enum SmallBytes {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Vec<u8>),
}

impl SmallBytes {
    pub(crate) fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            SmallBytes::Inline {
                len: bytes.len() as u8,
                buf,
            }
        } else {
            SmallBytes::Heap(bytes.to_vec())
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, buf } => &buf[..*len as usize],
            SmallBytes::Heap(v) => v,
        }
    }

    /// Replaces the contents with `bytes`, reusing a heap buffer that fits (SET over an
    /// existing string then costs no allocation).
    pub(crate) fn assign(&mut self, bytes: &[u8]) {
        match self {
            // Reuse unless the buffer would waste more than half of itself.
            SmallBytes::Heap(v) if bytes.len() > INLINE && v.capacity() / 2 <= bytes.len() => {
                v.clear();
                v.extend_from_slice(bytes);
            }
            _ => *self = SmallBytes::new(bytes),
        }
    }

    /// Mutable access as a `Vec`, moving an inline string to the heap first.
    pub(crate) fn make_vec(&mut self) -> &mut Vec<u8> {
        if let SmallBytes::Inline { .. } = self {
            *self = SmallBytes::Heap(self.as_slice().to_vec());
        }
        match self {
            SmallBytes::Heap(v) => v,
            SmallBytes::Inline { .. } => unreachable!("moved to the heap just above"),
        }
    }

    /// True for a heap string: longer than the inline limit, or changed in place through
    /// [`make_vec`](Self::make_vec) (OBJECT ENCODING calls both `raw`).
    pub(crate) fn is_heap(&self) -> bool {
        matches!(self, SmallBytes::Heap(_))
    }

    /// Bytes of heap memory this string owns (0 when inline).
    pub(crate) fn heap_size(&self) -> usize {
        match self {
            SmallBytes::Inline { .. } => 0,
            SmallBytes::Heap(v) => v.capacity(),
        }
    }
}

/// The longest key kept inline: `SmallKey` is 24 bytes, so a slot's key, value and the tag
/// of its expiry share one cache line (see `shard.rs`).
const KEY_INLINE: usize = 22;

/// An immutable byte string for keys: up to 22 bytes inline, else boxed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum SmallKey {
    Inline { len: u8, buf: [u8; KEY_INLINE] },
    Heap(Box<[u8]>),
}

impl SmallKey {
    pub(crate) fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= KEY_INLINE {
            let mut buf = [0; KEY_INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            SmallKey::Inline {
                len: bytes.len() as u8,
                buf,
            }
        } else {
            SmallKey::Heap(bytes.into())
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            SmallKey::Inline { len, buf } => &buf[..*len as usize],
            SmallKey::Heap(b) => b,
        }
    }
}

impl Deref for SmallKey {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for SmallKey {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for SmallKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_slice().escape_ascii().to_string())
    }
}

impl Deref for SmallBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for SmallBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SmallBytes {}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_slice().escape_ascii().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[u8], inline: bool) {
        let s = SmallBytes::new(input);
        assert_eq!(s.as_slice(), input);
        assert_eq!(matches!(s, SmallBytes::Inline { .. }), inline, "{input:?}");
        let mut grown = s.clone();
        grown.make_vec().extend_from_slice(b"xyz");
        assert_eq!(&grown[..input.len()], input);
        assert_eq!(&grown[input.len()..], b"xyz");
        for other in [&b""[..], b"short", &[9; 102], &[9; 103], &[9; 300]] {
            let mut t = s.clone();
            t.assign(other);
            assert_eq!(t.as_slice(), other);
            assert_eq!(
                matches!(t, SmallBytes::Inline { .. }),
                other.len() <= INLINE
            );
        }
    }

    #[test]
    fn keys_inline_up_to_22_bytes() {
        for (input, inline) in [(&b""[..], true), (&[1; 22], true), (&[1; 23], false)] {
            let k = SmallKey::new(input);
            assert_eq!(k.as_slice(), input);
            assert_eq!(matches!(k, SmallKey::Inline { .. }), inline);
        }
        assert_eq!(std::mem::size_of::<SmallKey>(), 24);
    }

    #[test]
    fn inline_up_to_102_bytes() {
        check(b"", true);
        check(b"k", true);
        check(&[7; 102], true);
        check(&[7; 103], false);
        check(&[0xff; 1000], false);
        assert_eq!(std::mem::size_of::<SmallBytes>(), 104);
    }
}
