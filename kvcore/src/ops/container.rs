//! What the container command files share: typed access to a key's value and the
//! create-on-write rule.

use crate::access::WriteSlot;
use crate::entry::Value;
use crate::error::{Error, Result};
use crate::kv::Db;
use crate::types::{Hash, List, Rng, Set, Stream, TypeError, ZSet};

impl From<TypeError> for Error {
    fn from(e: TypeError) -> Error {
        match e {
            TypeError::IndexOutOfRange => Error::IndexOutOfRange,
            TypeError::HashValueNotInteger => Error::HashValueNotInteger,
            TypeError::HashValueNotFloat => Error::HashValueNotFloat,
            TypeError::Overflow => Error::Overflow,
            TypeError::NanOrInfinity => Error::NanOrInfinity,
            TypeError::ScoreNan => Error::ScoreNan,
            TypeError::ZAddNxXx => {
                Error::IncompatibleOptions("XX and NX options at the same time are not compatible")
            }
            TypeError::ZAddGtLtNx => Error::IncompatibleOptions(
                "GT, LT, and/or NX options at the same time are not compatible",
            ),
            TypeError::ZAddIncrPairs => {
                Error::IncompatibleOptions("INCR option supports a single increment-element pair")
            }
        }
    }
}

/// A container type stored in a [`Value`] variant.
pub(crate) trait Container: Default {
    const TYPE: crate::KeyType;
    fn of(v: &Value) -> Result<&Self>;
    fn of_mut(v: &mut Value) -> Result<&mut Self>;
    fn into_value(self) -> Value;
}

macro_rules! container {
    ($ty:ident, $wrap:expr) => {
        impl Container for $ty {
            const TYPE: crate::KeyType = crate::KeyType::$ty;
            fn of(v: &Value) -> Result<&Self> {
                match v {
                    Value::$ty(c) => Ok(c),
                    _ => Err(Error::WrongType),
                }
            }
            fn of_mut(v: &mut Value) -> Result<&mut Self> {
                match v {
                    Value::$ty(c) => Ok(c),
                    _ => Err(Error::WrongType),
                }
            }
            fn into_value(self) -> Value {
                Value::$ty($wrap(self))
            }
        }
    };
}
container!(List, std::convert::identity);
container!(Hash, std::convert::identity);
container!(Set, std::convert::identity);
container!(ZSet, std::convert::identity);
container!(Stream, Box::new);

/// Runs `f` on the container at `key` (None when missing) under the shard's read lock.
///
/// # Errors
/// `WrongType` when the key holds another type.
pub(crate) fn read<C: Container, R>(
    db: &Db,
    key: &[u8],
    f: impl FnOnce(Option<&C>) -> R,
) -> Result<R> {
    db.read_entry(key, |e| match e {
        None => Ok(f(None)),
        Some(e) => Ok(f(Some(C::of(&e.value)?))),
    })
}

/// Runs `f` on the container in `slot`, creating an empty one first when the key is missing
/// and `create` is set; `Ok(None)` when missing and not created. A container left empty is
/// deleted when the slot is dropped.
///
/// # Errors
/// `WrongType` before anything changes; whatever `f` returns (it must not have changed
/// anything when it fails).
pub(crate) fn write<C: Container, R>(
    slot: &mut WriteSlot<'_>,
    create: bool,
    f: impl FnOnce(&mut C) -> Result<R>,
) -> Result<Option<R>> {
    // The type, without decoding a packed container (the write decodes it once, to spill it).
    match slot.key_type() {
        Some(t) if t != C::TYPE => return Err(Error::WrongType),
        Some(_) => {}
        None if create => slot.put(C::default().into_value(), None),
        None => return Ok(None),
    }
    // The entry exists: it was checked or created just above.
    let value = slot.value_mut().expect("entry exists");
    f(C::of_mut(value)?).map(Some)
}

/// A random source for one command, seeded from the store's generator.
pub(crate) fn rng(db: &Db) -> Rng {
    Rng::new(db.inner.random())
}

pub(crate) fn bytes<V: AsRef<[u8]>>(values: &[V]) -> Vec<&[u8]> {
    values.iter().map(AsRef::as_ref).collect()
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;
