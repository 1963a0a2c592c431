//! Lua scripting (EVAL, EVALSHA, SCRIPT): Redis 7's Lua 5.1 environment over the store.
//!
//! Behind the `scripting` cargo feature (on by default). [`Engine`] holds the interpreters
//! (a pool, so scripts run side by side), their sandbox and `redis` API (`prelude.lua`), and
//! the script cache; [`Host`] is what runs a script's commands; [`Value`] is a reply
//! without a wire encoding.
//!
//! An embedder runs the same scripts in-process: it answers `redis.call` with its own
//! [`Host`] over the store, and runs the script inside an open transaction over its keys, as
//! kvserver does (there, the host is its whole command table), so the script is atomic and
//! one log record.
//!
//! ```
//! use kvcore::script::{Call, Engine, EngineOptions, Host, Source, Value};
//! use kvcore::{Db, Kv, Options, Scope, Store};
//!
//! /// GET and SET over a database handle of the running transaction.
//! struct Commands(Db);
//!
//! impl Host for Commands {
//!     fn call(&mut self, args: &[&[u8]], call: &Call) -> (Value, bool) {
//!         match (args[0].to_ascii_lowercase().as_slice(), args.len()) {
//!             (b"get", 2) => match self.0.get(args[1]) {
//!                 Ok(v) => (v.map_or(Value::Nil, Value::Bulk), false),
//!                 Err(e) => (Value::Error(format!("ERR {e}").into_bytes()), false),
//!             },
//!             (b"set", 3) if !call.read_only => match self.0.set(args[1], args[2]) {
//!                 Ok(_) => (Value::Status(b"OK".to_vec()), true),
//!                 Err(e) => (Value::Error(format!("ERR {e}").into_bytes()), false),
//!             },
//!             _ => (Value::error("ERR Unknown Redis command called from script"), false),
//!         }
//!     }
//!
//!     fn log(&mut self, _level: u8, message: &[u8]) {
//!         eprintln!("{}", String::from_utf8_lossy(message));
//!     }
//! }
//!
//! let kv = Kv::in_memory(Options::default());
//! let engine = Engine::new(EngineOptions::default());
//! let script = b"local n = tonumber(redis.call('get', KEYS[1]) or '0') + ARGV[1]
//!                redis.call('set', KEYS[1], n)
//!                return n";
//! let keys: &[(usize, &[u8])] = &[(0, b"counter")];
//! for _ in 0..2 {
//!     let reply = kv.transaction(Scope::Open(keys), |tx| {
//!         let mut host = Commands(tx.db(0)?);
//!         Ok(engine.eval(Source::Body(script), &[b"counter"], &[b"5"], false, &mut host))
//!     })?;
//!     assert!(matches!(reply, Value::Int(5 | 10)));
//! }
//! assert_eq!(kv.db(0)?.get("counter")?, Some(b"10".to_vec()));
//! # Ok::<(), kvcore::Error>(())
//! ```

mod call;
mod convert;
mod dump;
mod engine;
mod function;
mod heap;
pub(crate) mod lib;
mod pool;
mod value;
mod vm;

pub use engine::{Call, Engine, EngineOptions, Host, KillOutcome, Reserved, ScriptFlags, Source};
pub use function::Policy;
pub use value::Value;
