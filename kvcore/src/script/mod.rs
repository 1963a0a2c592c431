//! Lua scripting (EVAL, EVALSHA, SCRIPT): Redis 7's Lua 5.1 environment over the store.
//!
//! Behind the `scripting` cargo feature (on by default). [`Engine`] holds the interpreter,
//! its sandbox and `redis` API (`prelude.lua`) and the script cache; [`Host`] is what runs a
//! script's commands; [`Value`] is a reply without a wire encoding.

mod convert;
mod engine;
mod function;
pub(crate) mod lib;
mod value;

pub use engine::{Call, Engine, EngineOptions, Host, KillOutcome, ScriptFlags, Source};
pub use function::Policy;
pub use value::Value;
