//! The operations, one file per command family, written with the primitives of `access.rs`.

pub(crate) mod bitmap;
pub(crate) mod container;
pub(crate) mod expire;
pub(crate) mod geo;
pub(crate) mod hash;
pub(crate) mod hll;
pub(crate) mod keys;
pub(crate) mod list;
pub(crate) mod set;
pub(crate) mod stream;
pub(crate) mod stream_block;
pub(crate) mod stream_group;
pub(crate) mod string;
pub(crate) mod zset;
