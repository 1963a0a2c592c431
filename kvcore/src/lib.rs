//! kvcore: an embeddable, Redis-compatible key-value store.
//!
//! ```
//! use std::time::Duration;
//! use kvcore::{Kv, Options, Store, SetOptions, SetExpiry, Ttl};
//!
//! let kv = Kv::in_memory(Options::default());
//! let db = kv.db(0)?;
//! db.set("greeting", "hello")?;
//! db.set_with("session", b"abc", &SetOptions::new().expiry(SetExpiry::Ex(60)))?;
//! assert_eq!(db.get("greeting")?, Some(b"hello".to_vec()));
//! assert_eq!(db.incr("visits")?, 1);
//! assert_eq!(db.ttl("session")?, Ttl::ExpiresIn(Duration::from_secs(60)));
//! # Ok::<(), kvcore::Error>(())
//! ```
//!
//! A [`Kv`] holds numbered databases; [`Kv::db`] gives a [`Db`] handle, whose operations are
//! the [`Store`] trait's: Redis's string, key and expiry commands, with Redis's semantics and
//! errors. Keys and values are bytes. Every operation is atomic; multi-key ones (MSET, RENAME,
//! COPY, ...) too. A host's own type that implements [`Delegate`] (run an operation on a
//! [`Db`] of its choosing, or refuse it) gets [`Store`] and every other store trait. Time
//! comes from a replaceable [`Clock`]; expired keys are never returned, and
//! [`Kv::active_expire_cycle`] / [`Kv::start_active_expiry`] reclaim them in the background.
//!
//! A store lives in memory ([`Kv::in_memory`]) or in a directory ([`Kv::open`]): both take
//! [`Options`] (shards, databases, clock); only `open` takes [`PersistOptions`] (when a write
//! is durable, snapshot rules, the log's segments). Errors are one [`Error`] enum; a failed
//! file operation keeps the operating system's [`std::io::Error`] as its source ([`IoError`]).
//!
//! # Publish/subscribe
//!
//! Each store has one message bus. [`Kv::publish`] sends a message to the subscribers of a
//! channel and of every pattern that matches it (Redis's glob, as KEYS uses) and returns how
//! many subscriptions received it; [`Kv::spublish`] serves shard channels, which patterns never
//! match. An embedding program subscribes with [`Kv::subscribe`], [`Kv::psubscribe`] or
//! [`Kv::ssubscribe`] and reads a [`Subscription`] (blocking, with a timeout, or as an
//! iterator); a server registers its own [`Sink`] per client with [`Kv::subscriber`]. They all
//! share the bus, so a message published by either side reaches both, and every subscriber sees
//! the messages in one order.
//!
//! ```
//! use std::time::Duration;
//! use kvcore::{Kv, Options};
//!
//! let kv = Kv::in_memory(Options::default());
//! let news = kv.subscribe(["news"]);
//! let all = kv.psubscribe(["news*"]);
//! assert_eq!(kv.publish("news", "hello"), 2);
//! assert_eq!(news.recv()?.payload(), b"hello");
//! let m = all.recv_timeout(Duration::from_secs(1))?.expect("a message");
//! assert_eq!((m.pattern(), m.channel()), (Some(&b"news*"[..]), &b"news"[..]));
//! # Ok::<(), kvcore::Error>(())
//! ```
//!
//! Subscribers are bounded: a [`Subscription`] that does not read is closed once 32 MiB (by
//! default, [`SubscriptionOptions`]) of messages wait, as Redis disconnects a pub/sub client
//! over its output buffer limit; publishers never wait for a subscriber.
//!
//! # Logging
//!
//! kvcore never prints. What a host may want to show an operator goes through the
//! [`log`](https://docs.rs/log) facade, under targets starting with `kvcore`: the progress of a
//! long recovery (info), recovery warnings such as a torn log tail cut off or a damaged
//! snapshot skipped (warn; also in [`RecoveryInfo::warnings`]), and the moment a persistent
//! store stops accepting writes because its log failed (error; also every later write's
//! [`Error::PersistenceFailed`]). Without a logger installed they go nowhere.
#![warn(missing_docs)]

mod access;
mod batch;
mod bytes;
mod clock;
mod coordinate;
mod delegate;
mod effect;
mod entry;
mod error;
mod evict;
mod expiry;
mod glob;
mod kv;
mod memory;
mod notify;
mod number;
mod ops;
mod options;
mod persist;
mod pubsub;
#[cfg_attr(not(feature = "scripting"), allow(dead_code))]
mod rdb;
mod repl;
mod scan;
#[cfg(feature = "scripting")]
pub mod script;
mod shard;
mod store;
mod tx;
mod types;

pub use batch::{Batch, Deferred};
pub use clock::{Clock, ManualClock, SystemClock};
pub use coordinate::{Coordinator, Forward, Permit, Refused, Route, Unsettled};
pub use delegate::Delegate;
pub use entry::{EntryMeta, KeyType};
pub use error::{Error, IoError, Result, StreamError};
pub use evict::{EvictionListener, EvictionPolicy, MemoryGauge, no_touch};
pub use expiry::{ExpireStats, ExpiryTask};
pub use glob::Pattern;
pub use kv::{Db, FunctionStore, Kv, Stats};
pub use memory::{Allocated, CountingAlloc, allocated, fold_thread_allocations};
pub use notify::{ChangeObserver, NotifyFlags};
pub use number::LongDouble;
pub use ops::bitmap::{BitOp, BitmapStore};
pub use ops::expire::{ExpireTime, Ttl};
pub use ops::geo::{
    GeoFrom, GeoOrder, GeoPoint, GeoQuery, GeoShape, GeoStore, format_distance, geo_valid,
};
pub use ops::hash::{FieldValue, HashStore};
pub use ops::hll::{HllDebug, HllDebugInfo, HllStore, hll_selftest};
pub use ops::list::{KeyElements, ListStore};
pub use ops::set::{SetOp, SetStore};
pub use ops::stream::{
    StreamEntry, StreamInfo, StreamStore, XAddId, XAddOptions, XSetIdOptions, XTrim,
};
pub use ops::stream_group::{
    AutoClaim, ConsumerInfo, ConsumerPending, GroupEntry, GroupFull, GroupInfo, GroupStart,
    PendingEntry, PendingSummary, ReadGroup, XClaimOptions,
};
pub use ops::zset::{ScoredMember, ZOp, ZRange, ZRangeBy, ZSetStore};
pub use options::{
    ExpireCondition, GetExOption, Options, ScanOptions, SetCondition, SetExpiry, SetOptions,
    SetOutcome,
};
pub use persist::{
    CheckReport, LogProblem, PersistOptions, PersistenceInfo, PersistenceTask, RecoveryInfo,
    SaveInfo, SnapshotCheck, SyncMode, check_data_dir,
};
pub use pubsub::{
    Counts, Delivery, Event, Kind, Message, Messages, PendingFlush, Sink, Subscriber, Subscription,
    SubscriptionOptions,
};
pub use rdb::{RdbLoadInfo, RestoreOptions};
pub use repl::{
    DEFAULT_BACKLOG_SIZE, Follower, FullSync, OnAppend, Replication, StreamApplier, StreamReader,
};
pub use store::Store;
pub use tx::{GateHold, Scope, Tx, Watch};
pub use types::{
    Aggregate, BitRange, BitUnit, BitfieldOp, BitfieldType, EncodingLimits, End, LexBound,
    LexRange, Overflow, ScoreRange, StreamEntryRef, StreamId, ZAddFlags, encoding_limits,
    format_score, parse_score, set_encoding_limits,
};
