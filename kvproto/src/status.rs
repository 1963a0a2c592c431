//! The outcome of a decode attempt that did not fail.

/// The result of a decoder: a complete value, or a sign that more bytes are needed.
///
/// Needing more bytes is not an error, so a `?` never turns a half-arrived frame into a dropped
/// connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Status<T> {
    /// A whole value was decoded; for the crate's decoders `T` carries the bytes it consumed.
    Complete(T),
    /// The input ends inside a value: call again with the same bytes plus more.
    Incomplete,
}

impl<T> Status<T> {
    /// Returns `true` for [`Status::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// Returns `true` for [`Status::Incomplete`].
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Status::Incomplete)
    }

    /// The complete value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Incomplete => None,
        }
    }

    /// Maps the complete value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Status<U> {
        match self {
            Status::Complete(t) => Status::Complete(f(t)),
            Status::Incomplete => Status::Incomplete,
        }
    }
}
