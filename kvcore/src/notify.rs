//! Keyspace notifications: the events Redis publishes about keys (`notify-keyspace-events`).
//!
//! Every operation reports what it did to a key as a named event of a class (`set` of the
//! string class, `lpush` of the list class, `del` and `expire` of the generic class, `expired`
//! when a key's time ran out, `new` when a key was created, `keymiss` when a read found
//! nothing), with Redis's event names, through `Inner::notify` while it still holds the key's
//! shard lock, so the events of one key come in the order its changes happened. With the
//! classes of an event enabled, the store publishes it on its bus as Redis does:
//! `__keyspace@<db>__:<key>` carrying the event name, `__keyevent@<db>__:<event>` carrying the
//! key. With notifications off (the default) the cost is one relaxed load per event.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;

/// Which keyspace events a store publishes, and on which channels: Redis's
/// `notify-keyspace-events` flags.
///
/// ```
/// use kvcore::NotifyFlags;
///
/// let f = NotifyFlags::parse("Kg$x").unwrap();
/// assert_eq!(f.to_string(), "g$xK");
/// assert_eq!(NotifyFlags::parse("KEA").unwrap().to_string(), "AKE");
/// assert!(NotifyFlags::parse("Q").is_none());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifyFlags(u32);

/// One class of events, or a channel family (a bit of [`NotifyFlags`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Class {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    Keyspace = 1 << 0,
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    Keyevent = 1 << 1,
    /// `g`: DEL, EXPIRE, RENAME, ... (events of no type).
    Generic = 1 << 2,
    /// `$`: string commands.
    String = 1 << 3,
    /// `l`: list commands.
    List = 1 << 4,
    /// `s`: set commands.
    Set = 1 << 5,
    /// `h`: hash commands.
    Hash = 1 << 6,
    /// `z`: sorted-set commands.
    ZSet = 1 << 7,
    /// `x`: a key removed because its time ran out.
    Expired = 1 << 8,
    /// `e`: a key evicted for memory.
    Evicted = 1 << 9,
    /// `t`: stream commands.
    Stream = 1 << 10,
    /// `m`: a read that found no key.
    KeyMiss = 1 << 11,
    /// `d`: module events.
    Module = 1 << 13,
    /// `n`: a key created.
    New = 1 << 14,
}

/// `A`: every class but `m` and `n`, as in Redis.
const ALL: u32 = Class::Generic as u32
    | Class::String as u32
    | Class::List as u32
    | Class::Set as u32
    | Class::Hash as u32
    | Class::ZSet as u32
    | Class::Expired as u32
    | Class::Evicted as u32
    | Class::Stream as u32
    | Class::Module as u32;

/// The letters of the classes in the order Redis prints them (after `A` when all are on).
const LETTERS: [(char, Class); 11] = [
    ('g', Class::Generic),
    ('$', Class::String),
    ('l', Class::List),
    ('s', Class::Set),
    ('h', Class::Hash),
    ('z', Class::ZSet),
    ('x', Class::Expired),
    ('e', Class::Evicted),
    ('t', Class::Stream),
    ('d', Class::Module),
    ('n', Class::New),
];

impl NotifyFlags {
    /// No notifications (Redis's default, `""`).
    pub const NONE: NotifyFlags = NotifyFlags(0);

    /// Parses Redis's letters (`K`, `E`, `g`, `$`, `l`, `s`, `h`, `z`, `x`, `e`, `t`, `m`,
    /// `d`, `n`, and `A` for `g$lshzxetd`); `None` for any other character.
    pub fn parse(letters: &str) -> Option<NotifyFlags> {
        let mut bits = 0;
        for c in letters.chars() {
            bits |= match c {
                'A' => ALL,
                'K' => Class::Keyspace as u32,
                'E' => Class::Keyevent as u32,
                'm' => Class::KeyMiss as u32,
                c => LETTERS.iter().find(|(l, _)| *l == c)?.1 as u32,
            };
        }
        Some(NotifyFlags(bits))
    }

    /// Whether any event can be published: a class and a channel family are both on.
    pub fn is_active(self) -> bool {
        self.0 & (Class::Keyspace as u32 | Class::Keyevent as u32) != 0
            && self.0 & !(Class::Keyspace as u32 | Class::Keyevent as u32) != 0
    }

    pub(crate) fn bits(self) -> u32 {
        self.0
    }

    pub(crate) fn from_bits(bits: u32) -> NotifyFlags {
        NotifyFlags(bits)
    }

    pub(crate) fn has(self, class: Class) -> bool {
        self.0 & class as u32 != 0
    }
}

impl fmt::Display for NotifyFlags {
    /// Redis's canonical spelling (CONFIG GET's answer): `A` when every class of `A` is on,
    /// else the class letters, then `K`, `E`, `m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 & ALL == ALL {
            f.write_str("A")?;
        } else {
            for (letter, class) in LETTERS {
                if self.has(class) {
                    write!(f, "{letter}")?;
                }
            }
        }
        for (letter, class) in [
            ('K', Class::Keyspace),
            ('E', Class::Keyevent),
            ('m', Class::KeyMiss),
        ] {
            if self.has(class) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// The `__keyspace@<db>__:<key>` channel.
pub(crate) fn keyspace_channel(db: usize, key: &[u8]) -> Vec<u8> {
    let mut c = format!("__keyspace@{db}__:").into_bytes();
    c.extend_from_slice(key);
    c
}

/// The `__keyevent@<db>__:<event>` channel.
pub(crate) fn keyevent_channel(db: usize, event: &str) -> Vec<u8> {
    format!("__keyevent@{db}__:{event}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(letters: &str, canonical: Option<&str>) {
        assert_eq!(
            NotifyFlags::parse(letters).map(|f| f.to_string()),
            canonical.map(str::to_string),
            "{letters:?}"
        );
    }

    #[test]
    fn letters_parse_and_print_as_redis() {
        check("", Some(""));
        check("KEA", Some("AKE"));
        check("AKEmn", Some("AKEm"));
        check("Ex", Some("xE"));
        check("Kg$lshzxetdn", Some("AK"));
        check("Kg$lshz", Some("g$lshzK"));
        check("mK", Some("Km"));
        check("n", Some("n"));
        check("KEQ", None);
        assert!(!NotifyFlags::parse("K").unwrap().is_active());
        assert!(!NotifyFlags::parse("g").unwrap().is_active());
        assert!(NotifyFlags::parse("Kg").unwrap().is_active());
    }

    /// Runs `op` and returns the events it reported.
    fn events(kv: &crate::Kv, op: impl FnOnce()) -> Vec<String> {
        kv.inner.notify_log.lock().clear();
        op();
        std::mem::take(&mut *kv.inner.notify_log.lock())
    }

    fn store(flags: &str) -> (crate::Kv, crate::ManualClock) {
        let clock = crate::ManualClock::new(1000);
        let opts = crate::Options::new()
            .shards(4)
            .clock(std::sync::Arc::new(clock.clone()));
        let kv = crate::Kv::in_memory(opts);
        kv.set_notify_keyspace_events(NotifyFlags::parse(flags).unwrap());
        (kv, clock)
    }

    #[test]
    fn nothing_is_reported_until_enabled_and_only_enabled_classes() {
        use crate::{ListStore, Store};
        let (kv, _) = store("");
        let db = kv.db(0).unwrap();
        assert_eq!(events(&kv, || drop(db.set("k", "v"))), Vec::<String>::new());
        // Classes without K or E publish nothing: Redis's flags need a channel family.
        kv.set_notify_keyspace_events(NotifyFlags::parse("g$").unwrap());
        assert_eq!(events(&kv, || drop(db.set("k", "v"))), Vec::<String>::new());
        kv.set_notify_keyspace_events(NotifyFlags::parse("E$").unwrap());
        let got = events(&kv, || {
            db.set("k", "w").unwrap();
            db.del(&["k"]).unwrap();
            db.push("l", crate::End::Left, &["a"]).unwrap();
            db.get("nope").unwrap();
        });
        assert_eq!(got, ["0 set k"]);
        assert_eq!(kv.notify_keyspace_events().to_string(), "$E");
    }

    #[test]
    fn expiry_is_reported_whether_lazy_or_active() {
        use crate::Store;
        let (kv, clock) = store("KEA");
        let db = kv.db(0).unwrap();
        db.setex("lazy", 1, "v").unwrap();
        db.setex("active", 1, "v").unwrap();
        clock.advance(1000);
        assert_eq!(
            events(&kv, || assert_eq!(db.get("lazy").unwrap(), None)),
            ["0 expired lazy"]
        );
        let got = events(&kv, || assert_eq!(kv.active_expire_cycle(10).expired, 1));
        assert_eq!(got, ["0 expired active"]);
    }

    #[test]
    fn a_miss_is_reported_for_reads_not_for_writes_or_watches() {
        use crate::{ListStore, Store};
        let (kv, _) = store("KEm");
        let db = kv.db(0).unwrap();
        let got = events(&kv, || {
            db.get("a").unwrap();
            db.mget(&["b", "c"]).unwrap();
            db.lrange("d", 0, -1).unwrap();
        });
        assert_eq!(
            got,
            ["0 keymiss a", "0 keymiss b", "0 keymiss c", "0 keymiss d"]
        );
        let got = events(&kv, || {
            db.pop("e", crate::End::Left).unwrap();
            db.expire("f", 10, crate::ExpireCondition::None).unwrap();
            drop(db.watch(&["g"]));
        });
        assert_eq!(got, Vec::<String>::new());
    }

    #[test]
    fn a_transaction_reports_each_change_in_order() {
        use crate::Store;
        let (kv, _) = store("KEA");
        let scope = [(0, &b"a"[..]), (0, &b"b"[..])];
        let got = events(&kv, || {
            kv.transaction(crate::Scope::Keys(&scope), |tx| {
                let db = tx.db(0)?;
                db.set("a", "1")?;
                db.incr("a")?;
                db.rename("a", "b")?;
                Ok(())
            })
            .unwrap();
        });
        assert_eq!(
            got,
            ["0 set a", "0 incrby a", "0 rename_from a", "0 rename_to b"]
        );
    }

    #[test]
    fn channels() {
        assert_eq!(keyspace_channel(3, b"k\0"), b"__keyspace@3__:k\0");
        assert_eq!(keyevent_channel(0, "set"), b"__keyevent@0__:set");
    }
}

/// Told about every key a write changes, as the change is made: the seam for a host's
/// client-side caching (Redis's `signalModifiedKey` feeding `trackingInvalidateKey`).
///
/// Both methods are called by the writing thread while it holds the write locks of the shards
/// it changed (they see changes in memory order), so an observer must only record or queue
/// (no blocking, no socket writes, no store calls).
pub trait ChangeObserver: Send + Sync {
    /// Key `key` of database `db` was changed or removed (a write, an expiry).
    fn changed(&self, db: usize, key: &[u8]);
    /// Every key of database `db` (`None`: of every database) was removed (FLUSHDB, FLUSHALL).
    fn flushed(&self, db: Option<usize>);
}

/// The store's [`ChangeObserver`], if any: one relaxed load per change when there is none.
#[derive(Default)]
pub(crate) struct Observer {
    on: AtomicBool,
    observer: RwLock<Option<Arc<dyn ChangeObserver>>>,
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer")
            .field("on", &self.on.load(Ordering::Relaxed))
            .finish()
    }
}

impl Observer {
    pub(crate) fn set(&self, observer: Option<Arc<dyn ChangeObserver>>) {
        let mut slot = self.observer.write();
        self.on.store(observer.is_some(), Ordering::Relaxed);
        *slot = observer;
    }

    /// Whether an observer is set (the writers' fast path).
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Tells the observer what `effect` changed.
    #[cold]
    pub(crate) fn report(&self, effect: &crate::effect::Effect<'_>) {
        use crate::effect::Effect;
        let Some(o) = self.observer.read().clone() else {
            return;
        };
        match *effect {
            Effect::FlushAll => o.flushed(None),
            Effect::FlushDb { db } => o.flushed(Some(db)),
            _ => effect.for_each_key(|db, key| o.changed(db, key)),
        }
    }
}
