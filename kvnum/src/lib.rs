//! kvnum: the number text rules that Redis applies everywhere, shared by kvcore (stored values,
//! INCR, encodings) and kvproto (lengths and integers on the wire).
//!
//! ```
//! // Redis's `string2ll`: one canonical spelling per integer.
//! assert_eq!(kvnum::parse_i64(b"-42"), Some(-42));
//! assert_eq!(kvnum::parse_i64(b"+42"), None);
//! assert_eq!(kvnum::parse_i64(b"042"), None);
//!
//! let mut buf = [0u8; kvnum::I64_LEN];
//! assert_eq!(kvnum::format_i64(i64::MIN, &mut buf), b"-9223372036854775808");
//!
//! // Shortest round-trip digits, laid out as C's `%.17g` lays them out.
//! let mut out = Vec::new();
//! kvnum::push_double(&mut out, 1.5e-7);
//! assert_eq!(out, b"1.5e-07");
//! ```
//!
//! Only text rules live here: no protocol, no store. Nothing allocates except by appending to
//! the caller's buffer, nothing panics on any input.
#![warn(missing_docs)]

mod double;
mod int;

pub use double::push_double;
pub use int::{I64_LEN, format_i64, format_u64, parse_i64, parse_u64};
