//! Errors the container operations can return; the store maps them onto kvcore's `Error`.

/// Why a container operation was refused. Each variant maps to one Redis error reply; the reply
/// text lives in the server, the variant only has to be distinguishable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeError {
    /// LSET with an index outside the list ("ERR index out of range").
    IndexOutOfRange,
    /// HINCRBY on a field whose value is not an integer ("ERR hash value is not an integer").
    HashValueNotInteger,
    /// HINCRBYFLOAT on a field whose value is not a float ("ERR hash value is not a float").
    HashValueNotFloat,
    /// An integer increment left the i64 range ("ERR increment or decrement would overflow").
    Overflow,
    /// A float increment produced NaN or an infinity ("ERR increment would produce NaN or Infinity").
    NanOrInfinity,
    /// A sorted-set score became NaN, e.g. `+inf` plus `-inf`
    /// ("ERR resulting score is not a number (NaN)").
    ScoreNan,
    /// ZADD with both NX and XX ("ERR XX and NX options at the same time are not compatible").
    ZAddNxXx,
    /// ZADD with GT and LT, or NX with GT/LT
    /// ("ERR GT, LT, and/or NX options at the same time are not compatible").
    ZAddGtLtNx,
    /// ZADD INCR with more than one score/member pair
    /// ("ERR INCR option supports a single increment-element pair").
    ZAddIncrPairs,
}
