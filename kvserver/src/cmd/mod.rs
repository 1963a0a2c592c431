//! The commands: one file per command family, each declaring its commands' entries next to
//! their handlers (`string::COMMANDS`, ...); `table.rs` assembles them and finds them by name.

mod bitmap;
mod blocking;
mod client;
mod command;
mod config;
mod connection;
mod ctx;
mod error;
mod expire;
mod function;
mod geo;
mod hash;
mod hll;
mod info;
mod keys;
mod latency;
mod lcs;
mod list;
mod multi;
mod object;
mod pause;
mod pubsub;
mod script;
mod server;
mod set;
mod slowlog;
mod sort;
mod spec;
mod stream;
mod stream_group;
mod string;
pub(crate) mod table;
mod zcombine;
mod zset;

pub(crate) use command::key_positions;
pub(crate) use config::apply as apply_param;
pub(crate) use ctx::Ctx;
pub(crate) use error::{CmdError, arity_error, unknown_command, write_error};
pub(crate) use info::REDIS_VERSION;
pub(crate) use latency::Latency;
pub(crate) use multi::Transaction;
pub(crate) use pause::Pause;
pub(crate) use pubsub::{allowed_when_subscribed, refused_when_subscribed};
pub(crate) use script::busy;
pub(crate) use slowlog::SlowLog;
