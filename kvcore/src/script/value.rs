//! [`Value`]: a command's reply as scripts see it, without a wire encoding.

/// A reply, in the shapes Redis's protocol has, as `redis.call` hands it to a script and as a
/// script's result goes back to its caller. kvcore knows no wire protocol: the host turns its
/// replies into `Value`s and `Value`s into its replies (kvserver: RESP2 or RESP3).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A status line (`+OK`).
    Status(Vec<u8>),
    /// An error: its text with the code first (`ERR ...`, `WRONGTYPE ...`), without a `-`.
    Error(Vec<u8>),
    /// An integer.
    Int(i64),
    /// A byte string.
    Bulk(Vec<u8>),
    /// No value (a missing key; RESP2's null bulk string or null array, RESP3's null).
    Nil,
    /// An array.
    Array(Vec<Value>),
    /// A map (RESP3), in order.
    Map(Vec<(Value, Value)>),
    /// A set (RESP3).
    Set(Vec<Value>),
    /// A double (RESP3).
    Double(f64),
    /// A boolean (RESP3).
    Bool(bool),
    /// A big number (RESP3), as its decimal digits.
    BigNumber(Vec<u8>),
    /// A verbatim string (RESP3): a three-letter format and the text.
    Verbatim(Vec<u8>, Vec<u8>),
}

impl Value {
    /// An error value from its text (`"ERR something"`).
    pub fn error(text: impl Into<Vec<u8>>) -> Value {
        Value::Error(text.into())
    }
}
