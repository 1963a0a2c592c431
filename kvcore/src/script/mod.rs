//! Lua scripting (EVAL, EVALSHA, FCALL): Redis's Lua 5.1 environment over the store.
//!
//! Behind the `scripting` cargo feature (on by default).

pub(crate) mod lib;
