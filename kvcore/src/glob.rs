//! Redis glob patterns (KEYS, SCAN MATCH) on binary keys.

pub(crate) struct Pattern {
    raw: Vec<u8>,
}

impl Pattern {
    pub(crate) fn new(pattern: &[u8]) -> Pattern {
        Pattern {
            raw: pattern.to_vec(),
        }
    }

    pub(crate) fn matches(&self, key: &[u8]) -> bool {
        self.raw == b"*" || self.raw == key
    }
}
