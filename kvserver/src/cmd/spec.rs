//! What `COMMAND INFO` and `COMMAND DOCS` report beyond the dispatch table: ACL categories,
//! command tips, key specifications and time complexity, per command and subcommand; which
//! commands are deprecated and the history of their changes.
//!
//! The data is Redis's own, recorded from redis-server 7.0.15's `COMMAND INFO` and `COMMAND
//! DOCS` (CLIENT SETINFO, which 7.0 lacks, from 7.2). `tools/diffcommand.py` compares it with a
//! running Redis. It is written out per command rather than derived from the flags, so that a
//! reviewer can check a line against Redis's reply.

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

impl KeySpec {
    const fn notes(self, notes: &'static str) -> KeySpec {
        KeySpec {
            notes: Some(notes),
            ..self
        }
    }
}

/// A command's metadata for `COMMAND INFO` and `COMMAND DOCS`.
#[derive(Debug)]
pub(crate) struct Meta {
    /// The ACL categories, space-separated, in the order Redis lists them.
    pub(crate) acl: &'static str,
    pub(crate) tips: &'static [&'static str],
    pub(crate) key_specs: &'static [KeySpec],
    pub(crate) complexity: &'static str,
}

const fn m(
    acl: &'static str,
    tips: &'static [&'static str],
    key_specs: &'static [KeySpec],
    complexity: &'static str,
) -> Meta {
    Meta {
        acl,
        tips,
        key_specs,
        complexity,
    }
}

const fn ks(flags: &'static str, begin: Begin, find: Find) -> KeySpec {
    KeySpec {
        notes: None,
        flags,
        begin,
        find,
    }
}

use Begin::Index;
use Find::{Keynum, Range};

/// The metadata of a command or subcommand (`get`, `client|list`), by its lowercase name.
/// A linear search: only `COMMAND` asks, and the table is small.
pub(crate) fn meta(name: &str) -> Option<&'static Meta> {
    META.iter().find(|(n, _)| *n == name).map(|(_, m)| m)
}

/// Every command and subcommand kv supports, in the order of `COMMAND LIST`.
#[rustfmt::skip]
static META: &[(&str, Meta)] = &[
    ("append", m("@write @string @fast", &[], &[ks("RW insert", Index(1), Range(0, 1, 0))], "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.")),
    ("decr", m("@write @string @fast", &[], &[ks("RW access update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("decrby", m("@write @string @fast", &[], &[ks("RW access update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("get", m("@read @string @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(1)")),
    ("getdel", m("@write @string @fast", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0))], "O(1)")),
    ("getex", m("@write @string @fast", &[], &[ks("RW access update", Index(1), Range(0, 1, 0)).notes("RW and UPDATE because it changes the TTL")], "O(1)")),
    ("getrange", m("@read @string @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.")),
    ("getset", m("@write @string @fast", &[], &[ks("RW access update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("incr", m("@write @string @fast", &[], &[ks("RW access update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("incrby", m("@write @string @fast", &[], &[ks("RW access update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("incrbyfloat", m("@write @string @fast", &[], &[ks("RW access update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("lcs", m("@read @string @slow", &[], &[ks("RO access", Index(1), Range(1, 1, 0))], "O(N*M) where N and M are the lengths of s1 and s2, respectively")),
    ("mget", m("@read @string @fast", &["request_policy:multi_shard"], &[ks("RO access", Index(1), Range(-1, 1, 0))], "O(N) where N is the number of keys to retrieve.")),
    ("mset", m("@write @string @slow", &["request_policy:multi_shard", "response_policy:all_succeeded"], &[ks("OW update", Index(1), Range(-1, 2, 0))], "O(N) where N is the number of keys to set.")),
    ("msetnx", m("@write @string @slow", &["request_policy:multi_shard", "response_policy:agg_min"], &[ks("OW insert", Index(1), Range(-1, 2, 0))], "O(N) where N is the number of keys to set.")),
    ("psetex", m("@write @string @slow", &[], &[ks("OW update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("set", m("@write @string @slow", &[], &[ks("RW access update variable_flags", Index(1), Range(0, 1, 0)).notes("RW and ACCESS due to the optional `GET` argument")], "O(1)")),
    ("setex", m("@write @string @slow", &[], &[ks("OW update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("setnx", m("@write @string @fast", &[], &[ks("OW insert", Index(1), Range(0, 1, 0))], "O(1)")),
    ("setrange", m("@write @string @slow", &[], &[ks("RW update", Index(1), Range(0, 1, 0))], "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.")),
    ("strlen", m("@read @string @fast", &[], &[ks("RO", Index(1), Range(0, 1, 0))], "O(1)")),
    ("substr", m("@read @string @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.")),
    ("copy", m("@keyspace @write @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0)), ks("OW update", Index(2), Range(0, 1, 0))], "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.")),
    ("del", m("@keyspace @write @slow", &["request_policy:multi_shard", "response_policy:agg_sum"], &[ks("RM delete", Index(1), Range(-1, 1, 0))], "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).")),
    ("exists", m("@keyspace @read @fast", &["request_policy:multi_shard", "response_policy:agg_sum"], &[ks("RO", Index(1), Range(-1, 1, 0))], "O(N) where N is the number of keys to check.")),
    ("expire", m("@keyspace @write @fast", &[], &[ks("RW update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("expireat", m("@keyspace @write @fast", &[], &[ks("RW update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("expiretime", m("@keyspace @read @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(1)")),
    ("keys", m("@keyspace @read @slow @dangerous", &["request_policy:all_shards", "nondeterministic_output_order"], &[], "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.")),
    ("move", m("@keyspace @write @fast", &[], &[ks("RW access update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("object", m("@slow", &[], &[], "Depends on subcommand.")),
    ("object|encoding", m("@keyspace @read @slow", &["nondeterministic_output"], &[ks("RO", Index(2), Range(0, 1, 0))], "O(1)")),
    ("object|freq", m("@keyspace @read @slow", &["nondeterministic_output"], &[ks("RO", Index(2), Range(0, 1, 0))], "O(1)")),
    ("object|help", m("@keyspace @slow", &[], &[], "O(1)")),
    ("object|idletime", m("@keyspace @read @slow", &["nondeterministic_output"], &[ks("RO", Index(2), Range(0, 1, 0))], "O(1)")),
    ("object|refcount", m("@keyspace @read @slow", &["nondeterministic_output"], &[ks("RO", Index(2), Range(0, 1, 0))], "O(1)")),
    ("persist", m("@keyspace @write @fast", &[], &[ks("RW update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("pexpire", m("@keyspace @write @fast", &[], &[ks("RW update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("pexpireat", m("@keyspace @write @fast", &[], &[ks("RW update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("pexpiretime", m("@keyspace @read @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(1)")),
    ("pttl", m("@keyspace @read @fast", &["nondeterministic_output"], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(1)")),
    ("randomkey", m("@keyspace @read @slow", &["request_policy:all_shards", "nondeterministic_output"], &[], "O(1)")),
    ("rename", m("@keyspace @write @slow", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("OW update", Index(2), Range(0, 1, 0))], "O(1)")),
    ("renamenx", m("@keyspace @write @fast", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("OW insert", Index(2), Range(0, 1, 0))], "O(1)")),
    ("scan", m("@keyspace @read @slow", &["nondeterministic_output", "request_policy:special"], &[], "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.")),
    ("touch", m("@keyspace @read @fast", &["request_policy:multi_shard", "response_policy:agg_sum"], &[ks("RO", Index(1), Range(-1, 1, 0))], "O(N) where N is the number of keys that will be touched.")),
    ("ttl", m("@keyspace @read @fast", &["nondeterministic_output"], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(1)")),
    ("type", m("@keyspace @read @fast", &[], &[ks("RO", Index(1), Range(0, 1, 0))], "O(1)")),
    ("unlink", m("@keyspace @write @fast", &["request_policy:multi_shard", "response_policy:agg_sum"], &[ks("RM delete", Index(1), Range(-1, 1, 0))], "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.")),
    ("blmove", m("@write @list @slow @blocking", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("RW insert", Index(2), Range(0, 1, 0))], "O(1)")),
    ("blmpop", m("@write @list @slow @blocking", &[], &[ks("RW access delete", Index(2), Keynum(0, 1, 1))], "O(N+M) where N is the number of provided keys and M is the number of elements returned.")),
    ("blpop", m("@write @list @slow @blocking", &[], &[ks("RW access delete", Index(1), Range(-2, 1, 0))], "O(N) where N is the number of provided keys.")),
    ("brpop", m("@write @list @slow @blocking", &[], &[ks("RW access delete", Index(1), Range(-2, 1, 0))], "O(N) where N is the number of provided keys.")),
    ("brpoplpush", m("@write @list @slow @blocking", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("RW insert", Index(2), Range(0, 1, 0))], "O(1)")),
    ("lindex", m("@read @list @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).")),
    ("linsert", m("@write @list @slow", &[], &[ks("RW insert", Index(1), Range(0, 1, 0))], "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).")),
    ("llen", m("@read @list @fast", &[], &[ks("RO", Index(1), Range(0, 1, 0))], "O(1)")),
    ("lmove", m("@write @list @slow", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("RW insert", Index(2), Range(0, 1, 0))], "O(1)")),
    ("lmpop", m("@write @list @slow", &[], &[ks("RW access delete", Index(1), Keynum(0, 1, 1))], "O(N+M) where N is the number of provided keys and M is the number of elements returned.")),
    ("lpop", m("@write @list @fast", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0))], "O(N) where N is the number of elements returned")),
    ("lpos", m("@read @list @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.")),
    ("lpush", m("@write @list @fast", &[], &[ks("RW insert", Index(1), Range(0, 1, 0))], "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")),
    ("lpushx", m("@write @list @fast", &[], &[ks("RW insert", Index(1), Range(0, 1, 0))], "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")),
    ("lrange", m("@read @list @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.")),
    ("lrem", m("@write @list @slow", &[], &[ks("RW delete", Index(1), Range(0, 1, 0))], "O(N+M) where N is the length of the list and M is the number of elements removed.")),
    ("lset", m("@write @list @slow", &[], &[ks("RW update", Index(1), Range(0, 1, 0))], "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).")),
    ("ltrim", m("@write @list @slow", &[], &[ks("RW delete", Index(1), Range(0, 1, 0))], "O(N) where N is the number of elements to be removed by the operation.")),
    ("rpop", m("@write @list @fast", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0))], "O(N) where N is the number of elements returned")),
    ("rpoplpush", m("@write @list @slow", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("RW insert", Index(2), Range(0, 1, 0))], "O(1)")),
    ("rpush", m("@write @list @fast", &[], &[ks("RW insert", Index(1), Range(0, 1, 0))], "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")),
    ("rpushx", m("@write @list @fast", &[], &[ks("RW insert", Index(1), Range(0, 1, 0))], "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")),
    ("hdel", m("@write @hash @fast", &[], &[ks("RW delete", Index(1), Range(0, 1, 0))], "O(N) where N is the number of fields to be removed.")),
    ("hexists", m("@read @hash @fast", &[], &[ks("RO", Index(1), Range(0, 1, 0))], "O(1)")),
    ("hget", m("@read @hash @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(1)")),
    ("hgetall", m("@read @hash @slow", &["nondeterministic_output_order"], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the size of the hash.")),
    ("hincrby", m("@write @hash @fast", &[], &[ks("RW access update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("hincrbyfloat", m("@write @hash @fast", &[], &[ks("RW access update", Index(1), Range(0, 1, 0))], "O(1)")),
    ("hkeys", m("@read @hash @slow", &["nondeterministic_output_order"], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the size of the hash.")),
    ("hlen", m("@read @hash @fast", &[], &[ks("RO", Index(1), Range(0, 1, 0))], "O(1)")),
    ("hmget", m("@read @hash @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the number of fields being requested.")),
    ("hmset", m("@write @hash @fast", &[], &[ks("RW update", Index(1), Range(0, 1, 0))], "O(N) where N is the number of fields being set.")),
    ("hrandfield", m("@read @hash @slow", &["nondeterministic_output"], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the number of fields returned")),
    ("hscan", m("@read @hash @slow", &["nondeterministic_output"], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..")),
    ("hset", m("@write @hash @fast", &[], &[ks("RW update", Index(1), Range(0, 1, 0))], "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.")),
    ("hsetnx", m("@write @hash @fast", &[], &[ks("RW insert", Index(1), Range(0, 1, 0))], "O(1)")),
    ("hstrlen", m("@read @hash @fast", &[], &[ks("RO", Index(1), Range(0, 1, 0))], "O(1)")),
    ("hvals", m("@read @hash @slow", &["nondeterministic_output_order"], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the size of the hash.")),
    ("sadd", m("@write @set @fast", &[], &[ks("RW insert", Index(1), Range(0, 1, 0))], "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")),
    ("scard", m("@read @set @fast", &[], &[ks("RO", Index(1), Range(0, 1, 0))], "O(1)")),
    ("sdiff", m("@read @set @slow", &["nondeterministic_output_order"], &[ks("RO access", Index(1), Range(-1, 1, 0))], "O(N) where N is the total number of elements in all given sets.")),
    ("sdiffstore", m("@write @set @slow", &[], &[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Range(-1, 1, 0))], "O(N) where N is the total number of elements in all given sets.")),
    ("sinter", m("@read @set @slow", &["nondeterministic_output_order"], &[ks("RO access", Index(1), Range(-1, 1, 0))], "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.")),
    ("sintercard", m("@read @set @slow", &[], &[ks("RO access", Index(1), Keynum(0, 1, 1))], "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.")),
    ("sinterstore", m("@write @set @slow", &[], &[ks("RW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Range(-1, 1, 0))], "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.")),
    ("sismember", m("@read @set @fast", &[], &[ks("RO", Index(1), Range(0, 1, 0))], "O(1)")),
    ("smembers", m("@read @set @slow", &["nondeterministic_output_order"], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the set cardinality.")),
    ("smismember", m("@read @set @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the number of elements being checked for membership")),
    ("smove", m("@write @set @fast", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("RW insert", Index(2), Range(0, 1, 0))], "O(1)")),
    ("spop", m("@write @set @fast", &["nondeterministic_output"], &[ks("RW access delete", Index(1), Range(0, 1, 0))], "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.")),
    ("srandmember", m("@read @set @slow", &["nondeterministic_output"], &[ks("RO access", Index(1), Range(0, 1, 0))], "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.")),
    ("srem", m("@write @set @fast", &[], &[ks("RW delete", Index(1), Range(0, 1, 0))], "O(N) where N is the number of members to be removed.")),
    ("sscan", m("@read @set @slow", &["nondeterministic_output"], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..")),
    ("sunion", m("@read @set @slow", &["nondeterministic_output_order"], &[ks("RO access", Index(1), Range(-1, 1, 0))], "O(N) where N is the total number of elements in all given sets.")),
    ("sunionstore", m("@write @set @slow", &[], &[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Range(-1, 1, 0))], "O(N) where N is the total number of elements in all given sets.")),
    ("bzmpop", m("@write @sortedset @slow @blocking", &[], &[ks("RW access delete", Index(2), Keynum(0, 1, 1))], "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.")),
    ("bzpopmax", m("@write @sortedset @fast @blocking", &[], &[ks("RW access delete", Index(1), Range(-2, 1, 0))], "O(log(N)) with N being the number of elements in the sorted set.")),
    ("bzpopmin", m("@write @sortedset @fast @blocking", &[], &[ks("RW access delete", Index(1), Range(-2, 1, 0))], "O(log(N)) with N being the number of elements in the sorted set.")),
    ("zadd", m("@write @sortedset @fast", &[], &[ks("RW update", Index(1), Range(0, 1, 0))], "O(log(N)) for each item added, where N is the number of elements in the sorted set.")),
    ("zcard", m("@read @sortedset @fast", &[], &[ks("RO", Index(1), Range(0, 1, 0))], "O(1)")),
    ("zcount", m("@read @sortedset @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(log(N)) with N being the number of elements in the sorted set.")),
    ("zdiff", m("@read @sortedset @slow", &[], &[ks("RO access", Index(1), Keynum(0, 1, 1))], "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.")),
    ("zdiffstore", m("@write @sortedset @slow", &[], &[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Keynum(0, 1, 1))], "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.")),
    ("zincrby", m("@write @sortedset @fast", &[], &[ks("RW access update", Index(1), Range(0, 1, 0))], "O(log(N)) where N is the number of elements in the sorted set.")),
    ("zinter", m("@read @sortedset @slow", &[], &[ks("RO access", Index(1), Keynum(0, 1, 1))], "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.")),
    ("zintercard", m("@read @sortedset @slow", &[], &[ks("RO access", Index(1), Keynum(0, 1, 1))], "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.")),
    ("zinterstore", m("@write @sortedset @slow", &[], &[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Keynum(0, 1, 1))], "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.")),
    ("zlexcount", m("@read @sortedset @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(log(N)) with N being the number of elements in the sorted set.")),
    ("zmpop", m("@write @sortedset @slow", &[], &[ks("RW access delete", Index(1), Keynum(0, 1, 1))], "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.")),
    ("zmscore", m("@read @sortedset @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the number of members being requested.")),
    ("zpopmax", m("@write @sortedset @fast", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0))], "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.")),
    ("zpopmin", m("@write @sortedset @fast", &[], &[ks("RW access delete", Index(1), Range(0, 1, 0))], "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.")),
    ("zrandmember", m("@read @sortedset @slow", &["nondeterministic_output"], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(N) where N is the number of elements returned")),
    ("zrange", m("@read @sortedset @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.")),
    ("zrangebylex", m("@read @sortedset @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")),
    ("zrangebyscore", m("@read @sortedset @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")),
    ("zrangestore", m("@write @sortedset @slow", &[], &[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Range(0, 1, 0))], "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.")),
    ("zrank", m("@read @sortedset @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(log(N))")),
    ("zrem", m("@write @sortedset @fast", &[], &[ks("RW delete", Index(1), Range(0, 1, 0))], "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.")),
    ("zremrangebylex", m("@write @sortedset @slow", &[], &[ks("RW delete", Index(1), Range(0, 1, 0))], "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.")),
    ("zremrangebyrank", m("@write @sortedset @slow", &[], &[ks("RW delete", Index(1), Range(0, 1, 0))], "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.")),
    ("zremrangebyscore", m("@write @sortedset @slow", &[], &[ks("RW delete", Index(1), Range(0, 1, 0))], "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.")),
    ("zrevrange", m("@read @sortedset @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.")),
    ("zrevrangebylex", m("@read @sortedset @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")),
    ("zrevrangebyscore", m("@read @sortedset @slow", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")),
    ("zrevrank", m("@read @sortedset @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(log(N))")),
    ("zscan", m("@read @sortedset @slow", &["nondeterministic_output"], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..")),
    ("zscore", m("@read @sortedset @fast", &[], &[ks("RO access", Index(1), Range(0, 1, 0))], "O(1)")),
    ("zunion", m("@read @sortedset @slow", &[], &[ks("RO access", Index(1), Keynum(0, 1, 1))], "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.")),
    ("zunionstore", m("@write @sortedset @slow", &[], &[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Keynum(0, 1, 1))], "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.")),
    ("auth", m("@fast @connection", &[], &[], "O(N) where N is the number of passwords defined for the user")),
    ("client", m("@slow", &[], &[], "Depends on subcommand.")),
    ("client|getname", m("@slow @connection", &[], &[], "O(1)")),
    ("client|help", m("@slow @connection", &[], &[], "O(1)")),
    ("client|id", m("@slow @connection", &[], &[], "O(1)")),
    ("client|info", m("@slow @connection", &["nondeterministic_output"], &[], "O(1)")),
    ("client|kill", m("@admin @slow @dangerous @connection", &[], &[], "O(N) where N is the number of client connections")),
    ("client|list", m("@admin @slow @dangerous @connection", &["nondeterministic_output"], &[], "O(N) where N is the number of client connections")),
    ("client|no-evict", m("@admin @slow @dangerous @connection", &[], &[], "O(1)")),
    ("client|reply", m("@slow @connection", &[], &[], "O(1)")),
    ("client|setname", m("@slow @connection", &[], &[], "O(1)")),
    ("echo", m("@fast @connection", &[], &[], "O(1)")),
    ("hello", m("@fast @connection", &[], &[], "O(1)")),
    ("ping", m("@fast @connection", &["request_policy:all_shards", "response_policy:all_succeeded"], &[], "O(1)")),
    ("quit", m("@fast @connection", &[], &[], "O(1)")),
    ("reset", m("@fast @connection", &[], &[], "O(1)")),
    ("select", m("@fast @connection", &[], &[], "O(1)")),
    ("command", m("@slow @connection", &["nondeterministic_output_order"], &[], "O(N) where N is the total number of Redis commands")),
    ("command|count", m("@slow @connection", &[], &[], "O(1)")),
    ("command|docs", m("@slow @connection", &["nondeterministic_output_order"], &[], "O(N) where N is the number of commands to look up")),
    ("command|getkeys", m("@slow @connection", &[], &[], "O(N) where N is the number of arguments to the command")),
    ("command|help", m("@slow @connection", &[], &[], "O(1)")),
    ("command|info", m("@slow @connection", &["nondeterministic_output_order"], &[], "O(N) where N is the number of commands to look up")),
    ("command|list", m("@slow @connection", &["nondeterministic_output_order"], &[], "O(N) where N is the total number of Redis commands")),
    ("config", m("@slow", &[], &[], "Depends on subcommand.")),
    ("config|get", m("@admin @slow @dangerous", &[], &[], "O(N) when N is the number of configuration parameters provided")),
    ("config|help", m("@slow", &[], &[], "O(1)")),
    ("config|resetstat", m("@admin @slow @dangerous", &[], &[], "O(1)")),
    ("config|set", m("@admin @slow @dangerous", &["request_policy:all_nodes", "response_policy:all_succeeded"], &[], "O(N) when N is the number of configuration parameters provided")),
    ("dbsize", m("@keyspace @read @fast", &["request_policy:all_shards", "response_policy:agg_sum"], &[], "O(1)")),
    ("flushall", m("@keyspace @write @slow @dangerous", &["request_policy:all_shards", "response_policy:all_succeeded"], &[], "O(N) where N is the total number of keys in all databases")),
    ("flushdb", m("@keyspace @write @slow @dangerous", &["request_policy:all_shards", "response_policy:all_succeeded"], &[], "O(N) where N is the number of keys in the selected database")),
    ("info", m("@slow @dangerous", &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"], &[], "O(1)")),
    ("memory", m("@slow", &[], &[], "Depends on subcommand.")),
    ("memory|help", m("@slow", &[], &[], "O(1)")),
    ("memory|usage", m("@read @slow", &[], &[ks("RO", Index(2), Range(0, 1, 0))], "O(N) where N is the number of samples.")),
    ("bgsave", m("@admin @slow @dangerous", &[], &[], "O(1)")),
    ("lastsave", m("@admin @fast @dangerous", &["nondeterministic_output"], &[], "O(1)")),
    ("save", m("@admin @slow @dangerous", &[], &[], "O(N) where N is the total number of keys in all databases")),
    ("shutdown", m("@admin @slow @dangerous", &[], &[], "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)")),
    ("swapdb", m("@keyspace @write @fast @dangerous", &[], &[], "O(N) where N is the count of clients watching or blocking on keys from both databases.")),
    ("time", m("@fast", &["nondeterministic_output"], &[], "O(1)")),
    // Redis 7.2 (absent from 7.0): as 7.2 reports it.
    ("client|setinfo", m("@slow @connection", &[], &[], "O(1)")),
];

/// `deprecated_since` and `replaced_by` of a deprecated command, for `COMMAND DOCS`.
pub(crate) fn deprecated(name: &str) -> Option<(&'static str, &'static str)> {
    DEPRECATED
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|&(_, since, by)| (since, by))
}

/// The changes to a command, `(version, what changed)`, oldest first, for `COMMAND DOCS`.
pub(crate) fn history(name: &str) -> &'static [(&'static str, &'static str)] {
    HISTORY
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&[], |(_, h)| h)
}

#[rustfmt::skip]
static DEPRECATED: &[(&str, &str, &str)] = &[
    ("getset", "6.2.0", "`SET` with the `!GET` argument"),
    ("substr", "2.0.0", "`GETRANGE`"),
    ("brpoplpush", "6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments"),
    ("rpoplpush", "6.2.0", "`LMOVE` with the `RIGHT` and `LEFT` arguments"),
    ("hmset", "4.0.0", "`HSET` with multiple field-value pairs"),
    ("zrangebylex", "6.2.0", "`ZRANGE` with the `BYLEX` argument"),
    ("zrangebyscore", "6.2.0", "`ZRANGE` with the `BYSCORE` argument"),
    ("zrevrange", "6.2.0", "`ZRANGE` with the `REV` argument"),
    ("zrevrangebylex", "6.2.0", "`ZRANGE` with the `REV` and `BYLEX` arguments"),
    ("zrevrangebyscore", "6.2.0", "`ZRANGE` with the `REV` and `BYSCORE` arguments"),
];

#[rustfmt::skip]
static HISTORY: &[(&str, &[(&str, &str)])] = &[
    ("set", &[("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."), ("6.0.0", "Added the `KEEPTTL` option."), ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."), ("7.0.0", "Allowed the `NX` and `GET` options to be used together.")]),
    ("exists", &[("3.0.3", "Accepts multiple `key` arguments.")]),
    ("expire", &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")]),
    ("expireat", &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")]),
    ("pexpire", &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")]),
    ("pexpireat", &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")]),
    ("pttl", &[("2.8.0", "Added the -2 reply.")]),
    ("renamenx", &[("3.2.0", "The command no longer returns an error when source and destination names are the same.")]),
    ("scan", &[("6.0.0", "Added the `TYPE` subcommand.")]),
    ("ttl", &[("2.8.0", "Added the -2 reply.")]),
    ("blpop", &[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")]),
    ("brpop", &[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")]),
    ("brpoplpush", &[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")]),
    ("lpop", &[("6.2.0", "Added the `count` argument.")]),
    ("lpush", &[("2.4.0", "Accepts multiple `element` arguments.")]),
    ("lpushx", &[("4.0.0", "Accepts multiple `element` arguments.")]),
    ("rpop", &[("6.2.0", "Added the `count` argument.")]),
    ("rpush", &[("2.4.0", "Accepts multiple `element` arguments.")]),
    ("rpushx", &[("4.0.0", "Accepts multiple `element` arguments.")]),
    ("hdel", &[("2.4.0", "Accepts multiple `field` arguments.")]),
    ("hset", &[("4.0.0", "Accepts multiple `field` and `value` arguments.")]),
    ("sadd", &[("2.4.0", "Accepts multiple `member` arguments.")]),
    ("spop", &[("3.2.0", "Added the `count` argument.")]),
    ("srandmember", &[("2.6.0", "Added the optional `count` argument.")]),
    ("srem", &[("2.4.0", "Accepts multiple `member` arguments.")]),
    ("bzpopmax", &[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")]),
    ("bzpopmin", &[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")]),
    ("zadd", &[("2.4.0", "Accepts multiple elements."), ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."), ("6.2.0", "Added the `GT` and `LT` options.")]),
    ("zrange", &[("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options.")]),
    ("zrangebyscore", &[("2.0.0", "Added the `WITHSCORES` modifier.")]),
    ("zrem", &[("2.4.0", "Accepts multiple elements.")]),
    ("zrevrangebyscore", &[("2.1.6", "`min` and `max` can be exclusive.")]),
    ("auth", &[("6.0.0", "Added ACL style (username and password).")]),
    ("client|kill", &[("2.8.12", "Added new filter format."), ("2.8.12", "`ID` option."), ("3.2.0", "Added `master` type in for `TYPE` option."), ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."), ("6.2.0", "`LADDR` option.")]),
    ("client|list", &[("2.8.12", "Added unique client `id` field."), ("5.0.0", "Added optional `TYPE` filter."), ("6.0.0", "Added `user` field."), ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."), ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."), ("7.0.3", "Added `ssub` field.")]),
    ("hello", &[("6.2.0", "`protover` made optional; when called without arguments the command reports the current connection's context.")]),
    ("command|info", &[("7.0.0", "Allowed to be called with no argument to get info on all commands.")]),
    ("config|get", &[("7.0.0", "Added the ability to pass multiple pattern parameters in one call")]),
    ("config|set", &[("7.0.0", "Added the ability to set multiple parameters in one call.")]),
    ("flushall", &[("4.0.0", "Added the `ASYNC` flushing mode modifier."), ("6.2.0", "Added the `SYNC` flushing mode modifier.")]),
    ("flushdb", &[("4.0.0", "Added the `ASYNC` flushing mode modifier."), ("6.2.0", "Added the `SYNC` flushing mode modifier.")]),
    ("info", &[("7.0.0", "Added support for taking multiple section arguments.")]),
    ("bgsave", &[("3.2.2", "Added the `SCHEDULE` option.")]),
    ("shutdown", &[("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers.")]),
    // Redis 7.2 (kv has WITHSCORE).
    ("zrank", &[("7.2.0", "Added the optional `WITHSCORE` argument.")]),
    ("zrevrank", &[("7.2.0", "Added the optional `WITHSCORE` argument.")]),
];
