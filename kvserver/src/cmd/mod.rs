//! The commands: one table (`table.rs`) and one file per command family.

mod blocking;
mod client;
mod command;
mod config;
mod connection;
mod ctx;
mod docs;
mod error;
mod expire;
mod hash;
mod info;
mod keys;
mod lcs;
mod list;
mod object;
mod server;
mod set;
mod spec;
mod string;
pub(crate) mod table;
mod zcombine;
mod zset;

pub(crate) use ctx::Ctx;
pub(crate) use error::{arity_error, unknown_command, write_error};
