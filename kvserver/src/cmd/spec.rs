//! The vocabulary a command's entry (`table::Command`) is written in: flags, ACL categories,
//! key specifications, documented arguments and groups, as Redis 7 names them in
//! `src/commands/*.json`, and the rules Redis derives from them when it builds its command
//! table: the implied ACL categories, the legacy `(first, last, step)` key range and the
//! `movablekeys` flag. Deriving them here means they cannot disagree with what they come from.

/// Redis's command flags, as `COMMAND INFO` names them: bit `i` is `Flags::NAMES[i]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flags(u32);

impl Flags {
    pub(crate) const WRITE: Flags = Flags::parse("write");
    pub(crate) const NO_AUTH: Flags = Flags::parse("no_auth");
    pub(crate) const NO_MULTI: Flags = Flags::parse("no_multi");
    pub(crate) const NO_SCRIPT: Flags = Flags::parse("noscript");
    pub(crate) const ALLOW_BUSY: Flags = Flags::parse("allow_busy");
    /// The commands MONITOR does not show (either flag).
    pub(crate) const UNMONITORED: Flags = Flags::parse("admin skip_monitor");
    /// The commands that read or change the keyspace (any of the flags), which a monitoring
    /// client may not run.
    pub(crate) const KEYSPACE: Flags = Flags::parse("readonly write may_replicate");
    /// Commands the slow log leaves out (AUTH, HELLO, EXEC, ...).
    pub(crate) const SKIP_SLOWLOG: Flags = Flags::parse("skip_slowlog");
    /// The commands CLIENT PAUSE WRITE holds (either flag).
    pub(crate) const PAUSED_BY_WRITE: Flags = Flags::parse("write may_replicate");
    pub(crate) const READONLY: Flags = Flags::parse("readonly");
    /// Commands a replica runs while its link is down and it serves no stale data.
    pub(crate) const STALE: Flags = Flags::parse("stale");
    /// Commands a server runs while it loads its data.
    pub(crate) const LOADING: Flags = Flags::parse("loading");
    /// Commands refused while memory stays over `maxmemory` (`memory.rs`).
    pub(crate) const DENYOOM: Flags = Flags::parse("denyoom");
    const ADMIN: Flags = Flags::parse("admin");
    pub(crate) const PUBSUB: Flags = Flags::parse("pubsub");
    /// The latency monitor's `fast-command` event rather than `command`.
    pub(crate) const FAST: Flags = Flags::parse("fast");
    /// EVAL's and FCALL's: a request that names no key is still valid (COMMAND GETKEYS
    /// answers an empty array).
    pub(crate) const NO_MANDATORY_KEYS: Flags = Flags::parse("no_mandatory_keys");
    const BLOCKING: Flags = Flags::parse("blocking");
    const MOVABLE_KEYS: Flags = Flags(bits("movablekeys", &Flags::NAMES, "unknown command flag"));

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
    /// reads like Redis's `command_flags`. Evaluated at compile time: an unknown name fails the
    /// build, and so does `movablekeys`, which [`legacy_range`] derives from the key specs.
    pub(crate) const fn parse(names: &str) -> Flags {
        let bits = bits(names, &Flags::NAMES, "unknown command flag");
        assert!(
            bits & Flags::MOVABLE_KEYS.0 == 0,
            "movablekeys is derived from the key specs"
        );
        Flags(bits)
    }

    #[inline]
    pub(crate) fn has(self, o: Flags) -> bool {
        self.0 & o.0 == o.0
    }

    /// Whether any of `o`'s flags is set.
    #[inline]
    pub(crate) fn any(self, o: Flags) -> bool {
        self.0 & o.0 != 0
    }

    /// These flags plus `movablekeys` when `movable`.
    pub(crate) fn with_movable_keys(self, movable: bool) -> Flags {
        if movable {
            Flags(self.0 | Flags::MOVABLE_KEYS.0)
        } else {
            self
        }
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
    const READ: Acl = Acl::parse("@read");
    const WRITE: Acl = Acl::parse("@write");
    const ADMIN_DANGEROUS: Acl = Acl::parse("@admin @dangerous");
    const PUBSUB: Acl = Acl::parse("@pubsub");
    const FAST: Acl = Acl::parse("@fast");
    const SLOW: Acl = Acl::parse("@slow");
    const BLOCKING: Acl = Acl::parse("@blocking");
    const SCRIPTING: Acl = Acl::parse("@scripting");
    pub(crate) const NONE: Acl = Acl(0);

    /// Categories from their space-separated names (`"@keyspace @dangerous"`), as Redis's
    /// `acl_categories` lists them. Evaluated at compile time: an unknown name fails the build.
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

    /// These categories plus those a command's flags imply, as Redis adds them
    /// (`setImplicitACLCategories`): `write` → @write, `readonly` → @read (not for scripting
    /// commands), `admin` → @admin @dangerous, `pubsub` → @pubsub, `fast` → @fast,
    /// `blocking` → @blocking, and @slow for every command that is not @fast.
    pub(crate) fn with_implied(self, flags: Flags) -> Acl {
        let mut acl = self.0;
        for (flag, implied) in [
            (Flags::WRITE, Acl::WRITE),
            (Flags::ADMIN, Acl::ADMIN_DANGEROUS),
            (Flags::PUBSUB, Acl::PUBSUB),
            (Flags::FAST, Acl::FAST),
            (Flags::BLOCKING, Acl::BLOCKING),
        ] {
            if flags.has(flag) {
                acl |= implied.0;
            }
        }
        if flags.has(Flags::READONLY) && acl & Acl::SCRIPTING.0 == 0 {
            acl |= Acl::READ.0;
        }
        if acl & Acl::FAST.0 == 0 {
            acl |= Acl::SLOW.0;
        }
        Acl(acl)
    }

    pub(crate) fn has(self, o: Acl) -> bool {
        self.0 & o.0 == o.0
    }

    /// Every category, one at a time, in Redis's order (ACL CAT).
    pub(crate) fn all() -> impl Iterator<Item = Acl> {
        (0..Acl::NAMES.len()).map(|i| Acl(1 << i))
    }

    /// The name of a single category (`@read`).
    pub(crate) fn name(self) -> &'static str {
        self.names().next().unwrap_or("")
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
    Pubsub,
    Connection,
    Server,
    Transactions,
    Scripting,
    Stream,
    Bitmap,
    Hyperloglog,
    Geo,
    Cluster,
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
            Group::Pubsub => "pubsub",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Transactions => "transactions",
            Group::Scripting => "scripting",
            Group::Stream => "stream",
            Group::Bitmap => "bitmap",
            Group::Hyperloglog => "hyperloglog",
            Group::Geo => "geo",
            Group::Cluster => "cluster",
        }
    }
}

/// Where a key specification's search begins (Redis's `begin_search`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Begin {
    /// The argument at this index (the command name is 0).
    Index(i64),
    /// `(keyword, startfrom)`: right after the first argument equal to the keyword (ASCII
    /// case-insensitively), searching forward from index `startfrom` (backward from the end
    /// when negative), as XREAD's `STREAMS`.
    Keyword(&'static str, i64),
    /// Redis's `unknown`: the keys cannot be found from the arguments' positions (SORT's
    /// BY/GET patterns and STORE); the command finds them itself.
    Unknown,
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
    /// Redis's `unknown` (with [`Begin::Unknown`]).
    Unknown,
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

    fn incomplete(&self) -> bool {
        self.flags.split_whitespace().any(|f| f == "incomplete")
    }
}

/// The legacy key range `COMMAND INFO` reports, `(first, last, step)` (`(0, 0, 0)` for none;
/// `last` negative counts from the end), and whether the keys are movable (`movablekeys`):
/// derived from the key specs as Redis 7's `populateCommandLegacyRangeSpec` does. One range
/// spec is the range itself. Otherwise the plain ones (step 1), each beginning right after the
/// previous one's last key, are merged; any other spec (a key count, a step, a gap) leaves the
/// range and makes the keys movable, as does an `incomplete` spec.
pub(crate) fn legacy_range(specs: &[KeySpec]) -> ((i64, i64, i64), bool) {
    let absolute = |first: i64, last: i64| if last >= 0 { first + last } else { last };
    match specs {
        [] => return ((0, 0, 0), false),
        [spec] => {
            if let (Begin::Index(first), Find::Range(last, step, _)) = (spec.begin, spec.find) {
                return ((first, absolute(first, last), step), spec.incomplete());
            }
        }
        _ => {}
    }
    let mut movable = false;
    let mut first = None::<i64>;
    // Redis compares last keys as unsigned, so a negative one (counted from the end) wins.
    let mut last: i64 = 0;
    for spec in specs {
        let (Begin::Index(begin), Find::Range(lastkey, step, _)) = (spec.begin, spec.find) else {
            movable = true;
            continue;
        };
        if step != 1 || (last != 0 && last != begin - 1) {
            movable = true;
            continue;
        }
        movable |= spec.incomplete();
        first = Some(first.map_or(begin, |f| f.min(begin)));
        let this = absolute(begin, lastkey);
        if this as u32 > last as u32 {
            last = this;
        }
    }
    match first {
        None => ((0, 0, 0), true),
        Some(first) => ((first, last, 1), movable),
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
    use super::Begin::Index;
    use super::Find::{Keynum, Range};
    use super::*;

    #[track_caller]
    fn check(specs: &[KeySpec], expected: (i64, i64, i64), movable: bool) {
        assert_eq!(legacy_range(specs), (expected, movable));
    }

    #[test]
    fn legacy_range_as_redis_derives_it() {
        // Values as redis-server 7.0.15's COMMAND INFO reports them for these key specs.
        check(&[], (0, 0, 0), false); // PING
        check(&[ks("RO", Index(1), Range(0, 1, 0))], (1, 1, 1), false); // GET
        check(&[ks("OW", Index(1), Range(-1, 2, 0))], (1, -1, 2), false); // MSET
        check(&[ks("RW", Index(1), Range(-2, 1, 0))], (1, -2, 1), false); // BLPOP
        check(&[ks("RO", Index(1), Range(1, 1, 0))], (1, 2, 1), false); // LCS
        check(&[ks("RO", Index(2), Range(0, 1, 0))], (2, 2, 1), false); // OBJECT ENCODING
        let copy = [
            ks("RO", Index(1), Range(0, 1, 0)),
            ks("OW", Index(2), Range(0, 1, 0)),
        ];
        check(&copy, (1, 2, 1), false);
        check(&[ks("RW", Index(1), Keynum(0, 1, 1))], (0, 0, 0), true); // LMPOP
        let zunionstore = [
            ks("OW", Index(1), Range(0, 1, 0)),
            ks("RO", Index(2), Keynum(0, 1, 1)),
        ];
        check(&zunionstore, (1, 1, 1), true);
        // Not consecutive: the second range is left out and the keys are movable.
        let gap = [
            ks("RO", Index(1), Range(0, 1, 0)),
            ks("RO", Index(3), Range(0, 1, 0)),
        ];
        check(&gap, (1, 1, 1), true);
        // A negative last key (to the end) wins over a positive one.
        let to_end = [
            ks("RO", Index(1), Range(0, 1, 0)),
            ks("RO", Index(2), Range(-1, 1, 0)),
        ];
        check(&to_end, (1, -1, 1), false);
        check(
            &[ks("RO incomplete", Index(1), Range(0, 1, 0))],
            (1, 1, 1),
            true,
        );
    }

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
        let f = Flags::parse("readonly").with_movable_keys(true);
        assert_eq!(f.names().collect::<Vec<_>>(), ["readonly", "movablekeys"]);
        assert_eq!(Flags::NAMES[19], "movablekeys");
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

    #[test]
    fn implied_categories_as_redis_adds_them() {
        let cats = |acl: &str, flags: &str| {
            Acl::parse(acl)
                .with_implied(Flags::parse(flags))
                .names()
                .collect::<Vec<_>>()
        };
        // As redis-server 7.0.15 lists them in COMMAND INFO.
        assert_eq!(
            cats("@string", "readonly fast"),
            ["@read", "@string", "@fast"]
        );
        assert_eq!(
            cats("@keyspace @dangerous", "readonly"),
            ["@keyspace", "@read", "@slow", "@dangerous"]
        );
        assert_eq!(
            cats("@list", "write noscript blocking"),
            ["@write", "@list", "@slow", "@blocking"]
        );
        assert_eq!(
            cats("@connection", "fast no_auth"),
            ["@fast", "@connection"]
        );
        assert_eq!(
            cats("", "admin noscript"),
            ["@admin", "@slow", "@dangerous"]
        );
        assert_eq!(cats("", ""), ["@slow"]);
    }
}
