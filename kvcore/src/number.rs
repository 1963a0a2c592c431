//! Numbers stored as strings: Redis's strict integer rules (from `kvnum`, which kvproto
//! shares), and the `long double` that INCRBYFLOAT and HINCRBYFLOAT compute in.

mod long_double;

pub(crate) use kvnum::{I64_LEN, format_i64, parse_i64};
pub use long_double::LongDouble;
