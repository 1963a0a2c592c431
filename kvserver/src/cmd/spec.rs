//! The vocabulary a command's entry (`table::Command`) is written in: flags, ACL categories,
//! key specifications, documented arguments and groups, as Redis 7 names them.

/// Redis's command flags, as `COMMAND INFO` names them: bit `i` is `Flags::NAMES[i]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flags(u32);

impl Flags {
    pub(crate) const WRITE: Flags = Flags::parse("write");
    pub(crate) const NO_AUTH: Flags = Flags::parse("no_auth");

    /// Redis 7's flag names, in the order `COMMAND INFO` lists them.
    const NAMES: [&'static str; 21] = [
        "write",
        "readonly",
        "denyoom",
        "module",
        "admin",
        "pubsub",
        "noscript",
        "blocking",
        "loading",
        "stale",
        "skip_monitor",
        "skip_slowlog",
        "asking",
        "fast",
        "no_auth",
        "may_replicate",
        "no_mandatory_keys",
        "no_async_loading",
        "no_multi",
        "movablekeys",
        "allow_busy",
    ];

    /// Flags from their space-separated Redis names (`"write denyoom fast"`), so that an entry
    /// reads like Redis's `COMMAND INFO`. Evaluated at compile time: an unknown name fails the
    /// build.
    pub(crate) const fn parse(names: &str) -> Flags {
        Flags(bits(names, &Flags::NAMES, "unknown command flag"))
    }

    #[inline]
    pub(crate) fn has(self, o: Flags) -> bool {
        self.0 & o.0 == o.0
    }

    /// The flag names, in Redis's order.
    pub(crate) fn names(self) -> impl Iterator<Item = &'static str> {
        names_of(self.0, &Flags::NAMES)
    }
}

/// ACL categories: bit `i` is `Acl::NAMES[i]`, Redis's order (`ACL CAT`, `COMMAND INFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Acl(u32);

impl Acl {
    const NAMES: [&'static str; 21] = [
        "@keyspace",
        "@read",
        "@write",
        "@set",
        "@sortedset",
        "@list",
        "@hash",
        "@string",
        "@bitmap",
        "@hyperloglog",
        "@geo",
        "@stream",
        "@pubsub",
        "@admin",
        "@fast",
        "@slow",
        "@blocking",
        "@dangerous",
        "@connection",
        "@transaction",
        "@scripting",
    ];
    pub(crate) const NONE: Acl = Acl(0);

    /// Categories from their space-separated names (`"@read @string @fast"`), as `COMMAND INFO`
    /// lists them. Evaluated at compile time: an unknown name fails the build.
    pub(crate) const fn parse(names: &str) -> Acl {
        Acl(bits(names, &Acl::NAMES, "unknown ACL category"))
    }

    /// The category a name (`read`, without the `@`) denotes, ASCII case-insensitively.
    pub(crate) fn named(name: &[u8]) -> Option<Acl> {
        Acl::NAMES
            .iter()
            .position(|n| n.as_bytes()[1..].eq_ignore_ascii_case(name))
            .map(|i| Acl(1 << i))
    }

    pub(crate) fn has(self, o: Acl) -> bool {
        self.0 & o.0 == o.0
    }

    /// The category names (`@read`), in Redis's order.
    pub(crate) fn names(self) -> impl Iterator<Item = &'static str> {
        names_of(self.0, &Acl::NAMES)
    }
}

/// The bits of the space-separated `names` in `table`; panics (at compile time, where it is
/// used) with `unknown` on a name the table lacks.
const fn bits(names: &str, table: &[&str], unknown: &str) -> u32 {
    let b = names.as_bytes();
    let mut bits = 0;
    let (mut start, mut i) = (0, 0);
    while i <= b.len() {
        if i == b.len() || b[i] == b' ' {
            if i > start {
                bits |= bit(b, start, i, table, unknown);
            }
            start = i + 1;
        }
        i += 1;
    }
    bits
}

const fn bit(b: &[u8], start: usize, end: usize, table: &[&str], unknown: &str) -> u32 {
    let mut n = 0;
    while n < table.len() {
        let name = table[n].as_bytes();
        if name.len() == end - start {
            let mut j = 0;
            while j < name.len() && name[j] == b[start + j] {
                j += 1;
            }
            if j == name.len() {
                return 1 << n;
            }
        }
        n += 1;
    }
    panic!("{}", unknown)
}

fn names_of(bits: u32, table: &'static [&'static str]) -> impl Iterator<Item = &'static str> {
    table
        .iter()
        .enumerate()
        .filter(move |(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
}

/// `COMMAND DOCS`'s `group`. The variants are in the order `COMMAND` lists the groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Group {
    String,
    Generic,
    List,
    Hash,
    Set,
    SortedSet,
    Connection,
    Server,
}

impl Group {
    /// Redis's name for the group.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Group::String => "string",
            Group::Generic => "generic",
            Group::List => "list",
            Group::Hash => "hash",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Connection => "connection",
            Group::Server => "server",
        }
    }
}

/// Where a key specification's search begins (Redis's `begin_search`). Every key-taking command
/// kv supports starts at a fixed argument index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Begin {
    /// The argument at this index (the command name is 0).
    Index(i64),
}

/// How a key specification finds its keys from where the search began (Redis's `find_keys`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Find {
    /// `(lastkey, keystep, limit)`: keys up to `lastkey` past the start (negative: counted from
    /// the end, -1 the last argument), every `keystep`-th; `limit` divides the rest when nonzero.
    Range(i64, i64, i64),
    /// `(keynumidx, firstkey, keystep)`: the key count is the argument `keynumidx` past the
    /// start, the keys begin `firstkey` past the start, every `keystep`-th.
    Keynum(i64, i64, i64),
}

/// One Redis 7 key specification.
#[derive(Debug)]
pub(crate) struct KeySpec {
    pub(crate) notes: Option<&'static str>,
    /// Space-separated, in Redis's order: `RO`/`RW`/`OW`/`RM`, then `access`, `update`,
    /// `insert`, `delete`, then `not_key`, `incomplete`, `variable_flags`.
    pub(crate) flags: &'static str,
    pub(crate) begin: Begin,
    pub(crate) find: Find,
}

/// A key specification: `ks("RW insert", Index(1), Range(0, 1, 0))`.
pub(crate) const fn ks(flags: &'static str, begin: Begin, find: Find) -> KeySpec {
    KeySpec {
        notes: None,
        flags,
        begin,
        find,
    }
}

impl KeySpec {
    pub(crate) const fn notes(self, notes: &'static str) -> KeySpec {
        KeySpec {
            notes: Some(notes),
            ..self
        }
    }
}

/// One documented argument (`COMMAND DOCS`), Redis's fields in Redis's order.
#[derive(Debug)]
pub(crate) struct Arg {
    pub(crate) name: &'static str,
    /// `key`, `string`, `integer`, `double`, `pattern`, `unix-time`, `pure-token`, `oneof`
    /// or `block`.
    pub(crate) kind: &'static str,
    pub(crate) key_spec_index: Option<i64>,
    pub(crate) token: Option<&'static str>,
    pub(crate) since: Option<&'static str>,
    pub(crate) deprecated_since: Option<&'static str>,
    /// Space-separated: `optional`, `multiple`, `multiple_token`.
    pub(crate) flags: &'static str,
    /// The members of a `oneof` or a `block`.
    pub(crate) args: &'static [Arg],
}

/// A documented argument: `a("key", "key").key(0)`, `a("count", "integer").flags("optional")`.
pub(crate) const fn a(name: &'static str, kind: &'static str) -> Arg {
    Arg {
        name,
        kind,
        key_spec_index: None,
        token: None,
        since: None,
        deprecated_since: None,
        flags: "",
        args: &[],
    }
}

impl Arg {
    pub(crate) const fn key(self, index: i64) -> Arg {
        Arg {
            key_spec_index: Some(index),
            ..self
        }
    }

    pub(crate) const fn token(self, token: &'static str) -> Arg {
        Arg {
            token: Some(token),
            ..self
        }
    }

    pub(crate) const fn since(self, since: &'static str) -> Arg {
        Arg {
            since: Some(since),
            ..self
        }
    }

    pub(crate) const fn deprecated(self, since: &'static str) -> Arg {
        Arg {
            deprecated_since: Some(since),
            ..self
        }
    }

    pub(crate) const fn flags(self, flags: &'static str) -> Arg {
        Arg { flags, ..self }
    }

    pub(crate) const fn args(self, args: &'static [Arg]) -> Arg {
        Arg { args, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_list_in_redis_order() {
        // Redis lists blocking before fast and no_multi before allow_busy, whatever the order
        // an entry names them in.
        let f = Flags::parse("fast blocking  write");
        assert_eq!(f.names().collect::<Vec<_>>(), ["write", "blocking", "fast"]);
        assert!(f.has(Flags::WRITE) && !f.has(Flags::NO_AUTH));
        let f = Flags::parse("allow_busy no_multi");
        assert_eq!(f.names().collect::<Vec<_>>(), ["no_multi", "allow_busy"]);
        assert_eq!(Flags::parse("").names().count(), 0);
    }

    #[test]
    fn categories_parse_and_list_in_redis_order() {
        let cats = Acl::parse("@fast @read @string");
        assert_eq!(
            cats.names().collect::<Vec<_>>(),
            ["@read", "@string", "@fast"]
        );
        assert_eq!(Acl::named(b"SortedSet"), Some(Acl::parse("@sortedset")));
        assert_eq!(Acl::named(b"@read"), None);
    }
}
