//! Blocking stream reads for threads of the embedding program: XREAD BLOCK and XREADGROUP
//! BLOCK as methods of [`Db`] that wait, with a timeout, until an entry arrives.
//!
//! Each is a loop over its non-blocking read: watch the keys ([`crate::Watch`]), try the read,
//! and if nothing came, park until a watched key changes (any write through the store, from
//! any thread) or the deadline passes. The watch is registered before the attempt, so no write
//! can fall between the two unseen.

use std::ops::Bound::{Excluded, Unbounded};
use std::time::{Duration, Instant};

use super::stream::{StreamEntry, StreamStore};
use super::stream_group::ReadGroup;
use crate::error::Result;
use crate::kv::Db;
use crate::types::StreamId;

impl Db {
    /// XREAD BLOCK: the entries above each stream's ID (at most `count` per stream), for the
    /// streams that have some, waiting up to `timeout` (`None`: for ever) until one does; empty
    /// when the time ran out. For Redis's `$`, pass the stream's last ID
    /// ([`StreamStore::xinfo`]) read once before the first call.
    ///
    /// ```
    /// use kvcore::{Kv, Options, StreamId, StreamStore, XAddId, XAddOptions};
    /// use std::time::Duration;
    ///
    /// let kv = Kv::in_memory(Options::default());
    /// let db = kv.db(0)?;
    /// let writer = {
    ///     let db = kv.db(0)?;
    ///     std::thread::spawn(move || {
    ///         db.xadd("jobs", XAddId::Auto, &[("task", "resize")], &XAddOptions::default())
    ///     })
    /// };
    /// let got = db.xread_blocking(&[(b"jobs", StreamId::MIN)], None, Some(Duration::from_secs(30)))?;
    /// assert_eq!(got[0].1[0].fields, vec![(b"task".to_vec(), b"resize".to_vec())]);
    /// writer.join().unwrap()?;
    /// # Ok::<(), kvcore::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`StreamStore::xrange`]: a key holding another type.
    pub fn xread_blocking<K: AsRef<[u8]>>(
        &self,
        streams: &[(K, StreamId)],
        count: Option<usize>,
        timeout: Option<Duration>,
    ) -> Result<Vec<(Vec<u8>, Vec<StreamEntry>)>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let mut watch = self.kv().watch_none();
            for (key, _) in streams {
                watch.add(self, key.as_ref());
            }
            let mut out = Vec::new();
            for (key, after) in streams {
                let entries = self.xrange(key, (Excluded(*after), Unbounded), count)?;
                if !entries.is_empty() {
                    out.push((key.as_ref().to_vec(), entries));
                }
            }
            if !out.is_empty() || !watch.wait_until(deadline) {
                return Ok(out);
            }
        }
    }

    /// XREADGROUP BLOCK of `>`: entries never delivered to `group`, given to `consumer` (and
    /// pending for it unless `noack`), at most `count`, waiting up to `timeout` (`None`: for
    /// ever) until there are some; empty when the time ran out. Threads waiting on the same
    /// group share the entries: each entry goes to one of them.
    ///
    /// # Errors
    /// As [`StreamStore::xreadgroup`]: [`crate::StreamError::NoGroup`] for a missing key or
    /// group (also when it goes away while waiting), a key holding another type.
    pub fn xreadgroup_blocking(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        count: Option<usize>,
        noack: bool,
        timeout: Option<Duration>,
    ) -> Result<Vec<StreamEntry>> {
        let (key, group, consumer) = (key.as_ref(), group.as_ref(), consumer.as_ref());
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let watch = self.watch(&[key]);
            let got = self.xreadgroup(key, group, consumer, ReadGroup::New, count, noack)?;
            // Reading `>` never finds a deleted entry: those are in a consumer's history.
            let entries: Vec<StreamEntry> = got.into_iter().filter_map(|(_, e)| e).collect();
            if !entries.is_empty() || !watch.wait_until(deadline) {
                return Ok(entries);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use crate::{Kv, Options, StreamId, StreamStore, XAddId, XAddOptions};

    const LONG: Option<Duration> = Some(Duration::from_secs(60));

    #[test]
    fn a_blocked_reader_gets_what_another_thread_adds() {
        let kv = Kv::in_memory(Options::default());
        let db = kv.db(0).unwrap();
        db.xadd("s", XAddId::Auto, &[("old", "1")], &XAddOptions::default())
            .unwrap();
        let last = db.xinfo("s").unwrap().unwrap().last_id;
        let reader = {
            let db = kv.db(0).unwrap();
            std::thread::spawn(move || db.xread_blocking(&[("s", last), ("t", last)], None, LONG))
        };
        let id = kv
            .db(0)
            .unwrap()
            .xadd("s", XAddId::Auto, &[("new", "2")], &XAddOptions::default())
            .unwrap()
            .unwrap();
        let got = reader.join().unwrap().unwrap();
        assert_eq!(got.len(), 1, "only the stream with a new entry");
        assert_eq!(got[0].0, b"s");
        assert_eq!(got[0].1.len(), 1);
        assert_eq!(got[0].1[0].id, id);
        assert_eq!(got[0].1[0].fields, vec![(b"new".to_vec(), b"2".to_vec())]);
    }

    #[test]
    fn a_timeout_ends_an_empty_wait_with_nothing() {
        let kv = Kv::in_memory(Options::default());
        let db = kv.db(0).unwrap();
        let got = db
            .xread_blocking(
                &[("nothing", StreamId::MIN)],
                None,
                Some(Duration::from_millis(20)),
            )
            .unwrap();
        assert!(got.is_empty());
        db.xgroup_create("g", "grp", crate::GroupStart::Last, None, true)
            .unwrap();
        let got = db
            .xreadgroup_blocking(
                "g",
                "grp",
                "c",
                None,
                false,
                Some(Duration::from_millis(20)),
            )
            .unwrap();
        assert!(got.is_empty());
    }

    #[test]
    fn group_readers_share_the_entries_each_exactly_once() {
        let kv = Kv::in_memory(Options::default());
        let db = kv.db(0).unwrap();
        db.xgroup_create("q", "workers", crate::GroupStart::Last, None, true)
            .unwrap();
        let readers: Vec<_> = (0..3)
            .map(|n| {
                let db = kv.db(0).unwrap();
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let got = db
                            .xreadgroup_blocking(
                                "q",
                                "workers",
                                format!("c{n}"),
                                Some(1),
                                false,
                                LONG,
                            )
                            .unwrap();
                        for e in got {
                            if e.fields[0].1 == b"stop" {
                                return mine;
                            }
                            mine.push(e.id);
                        }
                    }
                })
            })
            .collect();
        let mut added = BTreeSet::new();
        for i in 0..300 {
            let id = db
                .xadd(
                    "q",
                    XAddId::Auto,
                    &[("job", i.to_string())],
                    &XAddOptions::default(),
                )
                .unwrap()
                .unwrap();
            added.insert(id);
        }
        for _ in 0..3 {
            db.xadd(
                "q",
                XAddId::Auto,
                &[("job", "stop")],
                &XAddOptions::default(),
            )
            .unwrap();
        }
        let mut seen = BTreeSet::new();
        for r in readers {
            for id in r.join().unwrap() {
                assert!(seen.insert(id), "{id:?} delivered twice");
            }
        }
        assert_eq!(seen, added, "every job delivered once");
    }

    #[test]
    fn a_destroyed_group_ends_the_wait_with_nogroup() {
        let kv = Kv::in_memory(Options::default());
        let db = kv.db(0).unwrap();
        db.xgroup_create("q", "g", crate::GroupStart::Last, None, true)
            .unwrap();
        let reader = {
            let db = kv.db(0).unwrap();
            std::thread::spawn(move || db.xreadgroup_blocking("q", "g", "c", None, false, LONG))
        };
        // Destroying it before the reader parks, or after: either way the read fails.
        assert!(db.xgroup_destroy("q", "g").unwrap());
        let err = reader.join().unwrap().unwrap_err();
        assert!(
            matches!(err, crate::Error::Stream(crate::StreamError::NoGroup)),
            "{err:?}"
        );
    }
}
