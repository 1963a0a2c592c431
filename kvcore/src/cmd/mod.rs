//! The operations, one file per command family, written with the primitives of `access.rs`.

pub(crate) mod expire;
pub(crate) mod keys;
pub(crate) mod string;
