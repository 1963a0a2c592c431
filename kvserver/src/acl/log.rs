//! The ACL log (ACL LOG): denied commands, keys, channels and failed AUTHs, newest first, at
//! most `acllog-max-len` entries. As Redis, an event like one of the last ten (same reason,
//! context, object and user, within a minute) bumps that entry's count instead of adding one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Why an event was logged (ACL LOG's `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the denied command came from (ACL LOG's `context`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// One logged event.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) count: u64,
    pub(crate) reason: Reason,
    pub(crate) context: Context,
    pub(crate) object: Vec<u8>,
    pub(crate) username: Vec<u8>,
    /// Wall-clock milliseconds of the last occurrence.
    pub(crate) ms: u64,
    /// The client's CLIENT LIST line (without its newline).
    pub(crate) client_info: String,
}

/// Events closer than this are grouped into one entry (Redis's 60 s).
const GROUPING_MS: u64 = 60_000;
/// How many recent entries an event is compared with.
const SCAN: usize = 10;

/// The log and its live length limit.
#[derive(Debug)]
pub(crate) struct AclLog {
    entries: Mutex<VecDeque<Entry>>,
    max_len: AtomicUsize,
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl AclLog {
    pub(crate) fn new(max_len: usize) -> AclLog {
        AclLog {
            entries: Mutex::new(VecDeque::new()),
            max_len: AtomicUsize::new(max_len),
        }
    }

    /// `acllog-max-len`; a shorter limit drops the oldest entries at the next event.
    pub(crate) fn set_max_len(&self, n: usize) {
        self.max_len.store(n, Ordering::Relaxed);
    }

    pub(crate) fn push(&self, e: Entry) {
        let mut entries = self.entries.lock();
        let similar = entries.iter().take(SCAN).position(|old| {
            old.reason == e.reason
                && old.context == e.context
                && old.ms.abs_diff(e.ms) <= GROUPING_MS
                && old.object == e.object
                && old.username == e.username
        });
        if let Some(i) = similar {
            // The index came from this deque under its lock.
            let mut old = entries.remove(i).expect("a similar entry is in the log");
            old.count += 1;
            old.ms = e.ms;
            old.client_info = e.client_info;
            entries.push_front(old);
            return;
        }
        entries.push_front(e);
        entries.truncate(self.max_len.load(Ordering::Relaxed));
    }

    pub(crate) fn reset(&self) {
        self.entries.lock().clear();
    }

    /// Writes the newest `count` entries as ACL LOG answers them.
    pub(crate) fn write(&self, w: &mut kvproto::Writer<'_>, count: usize) {
        let entries = self.entries.lock();
        let now = now_ms();
        let n = count.min(entries.len());
        w.array_len(n);
        for e in entries.iter().take(n) {
            w.map_len(7);
            w.bulk(b"count");
            w.integer(e.count as i64);
            w.bulk(b"reason");
            w.bulk(e.reason.name().as_bytes());
            w.bulk(b"context");
            w.bulk(e.context.name().as_bytes());
            w.bulk(b"object");
            w.bulk(&e.object);
            w.bulk(b"username");
            w.bulk(&e.username);
            w.bulk(b"age-seconds");
            w.double(now.saturating_sub(e.ms) as f64 / 1000.0);
            w.bulk(b"client-info");
            w.bulk(e.client_info.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str, ms: u64) -> Entry {
        Entry {
            count: 1,
            reason: Reason::Key,
            context: Context::Toplevel,
            object: object.as_bytes().to_vec(),
            username: b"u".to_vec(),
            ms,
            client_info: String::new(),
        }
    }

    #[test]
    fn similar_events_group_and_the_length_is_bounded() {
        let log = AclLog::new(2);
        log.push(entry("a", 1000));
        log.push(entry("a", 2000));
        log.push(entry("b", 2000));
        {
            let e = log.entries.lock();
            assert_eq!(e.len(), 2);
            assert_eq!((e[0].object.as_slice(), e[0].count), (&b"b"[..], 1));
            assert_eq!((e[1].object.as_slice(), e[1].count), (&b"a"[..], 2));
        }
        // More than a minute later: a new entry, and the oldest goes.
        log.push(entry("a", 2000 + GROUPING_MS + 1));
        let e = log.entries.lock();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].object.as_slice(), e[0].count), (&b"a"[..], 1));
        assert_eq!(e[1].object, b"b");
        drop(e);
        log.set_max_len(0);
        log.push(entry("c", 0));
        assert!(log.entries.lock().is_empty());
    }
}
