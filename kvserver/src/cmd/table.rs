//! The command table: every command's name, arity, flags, key positions, documentation and
//! handler, in one place (Redis's `redisCommandTable`). `COMMAND` reports it, the dispatcher
//! checks arity and auth from it, and `INFO commandstats` is indexed by it.

use std::collections::HashMap;
use std::sync::LazyLock;

use kvproto::Request;

use super::ctx::{CmdResult, Ctx};
use super::error::{CmdError, arity_error, unknown_subcommand};
use super::spec::{self, Meta};
use super::{
    blocking, client, command, config, connection, expire, hash, info, keys, lcs, list, object,
    server, set, string, zcombine, zset,
};

/// A command handler.
pub(crate) type Handler = fn(&mut Ctx<'_>, &Request<'_>) -> CmdResult;

/// Redis's command flags, as `COMMAND INFO` names them: bit `i` is `Flags::NAMES[i]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flags(u32);

impl Flags {
    pub(crate) const WRITE: Flags = fl("write");
    pub(crate) const NO_AUTH: Flags = fl("no_auth");

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

    #[inline]
    pub(crate) fn has(self, o: Flags) -> bool {
        self.0 & o.0 == o.0
    }

    /// The flag names, in Redis's order.
    pub(crate) fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::NAMES
            .into_iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| n)
    }
}

/// Flags from their space-separated Redis names (`"write denyoom fast"`), so that a table line
/// reads like Redis's `COMMAND INFO`. Evaluated at compile time: an unknown name fails the build.
pub(crate) const fn fl(names: &str) -> Flags {
    let b = names.as_bytes();
    let mut bits = 0;
    let (mut start, mut i) = (0, 0);
    while i <= b.len() {
        if i == b.len() || b[i] == b' ' {
            if i > start {
                bits |= flag_bit(b, start, i);
            }
            start = i + 1;
        }
        i += 1;
    }
    Flags(bits)
}

const fn flag_bit(b: &[u8], start: usize, end: usize) -> u32 {
    let mut n = 0;
    while n < Flags::NAMES.len() {
        let name = Flags::NAMES[n].as_bytes();
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
    panic!("unknown command flag")
}

/// One command.
#[derive(Debug)]
pub(crate) struct Command {
    /// Lowercase; a subcommand is `container|sub` as Redis 7 names it.
    pub(crate) name: &'static str,
    /// Exactly `n` arguments (name included) when positive, at least `-n` when negative.
    pub(crate) arity: i32,
    pub(crate) flags: Flags,
    /// Key positions (first, last, step) as `COMMAND INFO` reports them; last -1 = to the end.
    pub(crate) keys: (i32, i32, i32),
    /// `string`, `list`, `hash`, `set`, `sorted-set`, `generic`, `connection` or `server`, as
    /// `COMMAND DOCS` groups them.
    pub(crate) group: &'static str,
    pub(crate) since: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) handler: Handler,
}

impl Command {
    #[inline]
    pub(crate) fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The part after `|` for a subcommand, the name otherwise.
    pub(crate) fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }

    /// Redis's ACL categories for this command, in Redis's order.
    pub(crate) fn categories(&self) -> impl Iterator<Item = &'static str> {
        self.meta().acl.split_whitespace()
    }

    /// What `COMMAND INFO` and `COMMAND DOCS` report beyond this table.
    pub(crate) fn meta(&self) -> &'static Meta {
        // A unit test checks that every command and subcommand has an entry.
        spec::meta(self.name).unwrap_or(&NO_META)
    }
}

/// For a command missing from `spec::meta` (a unit test rules that out).
static NO_META: Meta = Meta {
    acl: "",
    tips: &[],
    key_specs: &[],
    complexity: "",
};

#[allow(clippy::too_many_arguments)]
const fn c(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: (i32, i32, i32),
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: Handler,
) -> Command {
    Command {
        name,
        arity,
        flags,
        keys,
        group,
        since,
        summary,
        handler,
    }
}

/// Every top-level command, sorted by group then name.
#[rustfmt::skip]
pub(crate) static TABLE: &[Command] = &[
    // strings
    c("append", 3, fl("write denyoom fast"), (1, 1, 1), "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", string::append),
    c("decr", 2, fl("write denyoom fast"), (1, 1, 1), "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", string::decr),
    c("decrby", 3, fl("write denyoom fast"), (1, 1, 1), "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", string::decrby),
    c("get", 2, fl("readonly fast"), (1, 1, 1), "string", "1.0.0", "Returns the string value of a key.", string::get),
    c("getdel", 2, fl("write fast"), (1, 1, 1), "string", "6.2.0", "Returns the string value of a key after deleting the key.", string::getdel),
    c("getex", -2, fl("write fast"), (1, 1, 1), "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", string::getex),
    c("getrange", 4, fl("readonly"), (1, 1, 1), "string", "2.4.0", "Returns a substring of the string stored at a key.", string::getrange),
    c("getset", 3, fl("write denyoom fast"), (1, 1, 1), "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", string::getset),
    c("incr", 2, fl("write denyoom fast"), (1, 1, 1), "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", string::incr),
    c("incrby", 3, fl("write denyoom fast"), (1, 1, 1), "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", string::incrby),
    c("incrbyfloat", 3, fl("write denyoom fast"), (1, 1, 1), "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", string::incrbyfloat),
    c("lcs", -3, fl("readonly"), (1, 2, 1), "string", "7.0.0", "Finds the longest common substring.", lcs::lcs),
    c("mget", -2, fl("readonly fast"), (1, -1, 1), "string", "1.0.0", "Atomically returns the string values of one or more keys.", string::mget),
    c("mset", -3, fl("write denyoom"), (1, -1, 2), "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", string::mset),
    c("msetnx", -3, fl("write denyoom"), (1, -1, 2), "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", string::msetnx),
    c("psetex", 4, fl("write denyoom"), (1, 1, 1), "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", string::psetex),
    c("set", -3, fl("write denyoom"), (1, 1, 1), "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", string::set),
    c("setex", 4, fl("write denyoom"), (1, 1, 1), "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", string::setex),
    c("setnx", 3, fl("write denyoom fast"), (1, 1, 1), "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", string::setnx),
    c("setrange", 4, fl("write denyoom"), (1, 1, 1), "string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", string::setrange),
    c("strlen", 2, fl("readonly fast"), (1, 1, 1), "string", "2.2.0", "Returns the length of a string value.", string::strlen),
    c("substr", 4, fl("readonly"), (1, 1, 1), "string", "1.0.0", "Returns a substring from a string value.", string::getrange),
    // keys
    c("copy", -3, fl("write denyoom"), (1, 2, 1), "generic", "6.2.0", "Copies the value of a key to a new key.", keys::copy),
    c("del", -2, fl("write"), (1, -1, 1), "generic", "1.0.0", "Deletes one or more keys.", keys::del),
    c("exists", -2, fl("readonly fast"), (1, -1, 1), "generic", "1.0.0", "Determines whether one or more keys exist.", keys::exists),
    c("expire", -3, fl("write fast"), (1, 1, 1), "generic", "1.0.0", "Sets the expiration time of a key in seconds.", expire::expire),
    c("expireat", -3, fl("write fast"), (1, 1, 1), "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", expire::expireat),
    c("expiretime", 2, fl("readonly fast"), (1, 1, 1), "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", expire::expiretime),
    c("keys", 2, fl("readonly"), (0, 0, 0), "generic", "1.0.0", "Returns all key names that match a pattern.", keys::keys),
    c("move", 3, fl("write fast"), (1, 1, 1), "generic", "1.0.0", "Moves a key to another database.", keys::move_key),
    c("object", -2, fl(""), (0, 0, 0), "generic", "2.2.3", "A container for object introspection commands.", object::object),
    c("persist", 2, fl("write fast"), (1, 1, 1), "generic", "2.2.0", "Removes the expiration time of a key.", expire::persist),
    c("pexpire", -3, fl("write fast"), (1, 1, 1), "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", expire::pexpire),
    c("pexpireat", -3, fl("write fast"), (1, 1, 1), "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", expire::pexpireat),
    c("pexpiretime", 2, fl("readonly fast"), (1, 1, 1), "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", expire::pexpiretime),
    c("pttl", 2, fl("readonly fast"), (1, 1, 1), "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", expire::pttl),
    c("randomkey", 1, fl("readonly"), (0, 0, 0), "generic", "1.0.0", "Returns a random key name from the database.", keys::randomkey),
    c("rename", 3, fl("write"), (1, 2, 1), "generic", "1.0.0", "Renames a key and overwrites the destination.", keys::rename),
    c("renamenx", 3, fl("write fast"), (1, 2, 1), "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", keys::renamenx),
    c("scan", -2, fl("readonly"), (0, 0, 0), "generic", "2.8.0", "Iterates over the key names in the database.", keys::scan),
    c("touch", -2, fl("readonly fast"), (1, -1, 1), "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", keys::touch),
    c("ttl", 2, fl("readonly fast"), (1, 1, 1), "generic", "1.0.0", "Returns the expiration time in seconds of a key.", expire::ttl),
    c("type", 2, fl("readonly fast"), (1, 1, 1), "generic", "1.0.0", "Determines the type of value stored at a key.", keys::key_type),
    c("unlink", -2, fl("write fast"), (1, -1, 1), "generic", "4.0.0", "Asynchronously deletes one or more keys.", keys::del),
    // lists
    c("blmove", 6, fl("write denyoom noscript blocking"), (1, 2, 1), "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", blocking::blmove),
    c("blmpop", -5, fl("write blocking movablekeys"), (0, 0, 0), "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking::blmpop),
    c("blpop", -3, fl("write noscript blocking"), (1, -2, 1), "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking::blpop),
    c("brpop", -3, fl("write noscript blocking"), (1, -2, 1), "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking::brpop),
    c("brpoplpush", 4, fl("write denyoom noscript blocking"), (1, 2, 1), "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", blocking::brpoplpush),
    c("lindex", 3, fl("readonly"), (1, 1, 1), "list", "1.0.0", "Returns an element from a list by its index.", list::lindex),
    c("linsert", 5, fl("write denyoom"), (1, 1, 1), "list", "2.2.0", "Inserts an element before or after another element in a list.", list::linsert),
    c("llen", 2, fl("readonly fast"), (1, 1, 1), "list", "1.0.0", "Returns the length of a list.", list::llen),
    c("lmove", 5, fl("write denyoom"), (1, 2, 1), "list", "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", list::lmove),
    c("lmpop", -4, fl("write movablekeys"), (0, 0, 0), "list", "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", list::lmpop),
    c("lpop", -2, fl("write fast"), (1, 1, 1), "list", "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", list::lpop),
    c("lpos", -3, fl("readonly"), (1, 1, 1), "list", "6.0.6", "Returns the index of matching elements in a list.", list::lpos),
    c("lpush", -3, fl("write denyoom fast"), (1, 1, 1), "list", "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", list::lpush),
    c("lpushx", -3, fl("write denyoom fast"), (1, 1, 1), "list", "2.2.0", "Prepends one or more elements to a list only when the list exists.", list::lpushx),
    c("lrange", 4, fl("readonly"), (1, 1, 1), "list", "1.0.0", "Returns a range of elements from a list.", list::lrange),
    c("lrem", 4, fl("write"), (1, 1, 1), "list", "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", list::lrem),
    c("lset", 4, fl("write denyoom"), (1, 1, 1), "list", "1.0.0", "Sets the value of an element in a list by its index.", list::lset),
    c("ltrim", 4, fl("write"), (1, 1, 1), "list", "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", list::ltrim),
    c("rpop", -2, fl("write fast"), (1, 1, 1), "list", "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", list::rpop),
    c("rpoplpush", 3, fl("write denyoom"), (1, 2, 1), "list", "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", list::rpoplpush),
    c("rpush", -3, fl("write denyoom fast"), (1, 1, 1), "list", "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", list::rpush),
    c("rpushx", -3, fl("write denyoom fast"), (1, 1, 1), "list", "2.2.0", "Appends an element to a list only when the list exists.", list::rpushx),
    // hashes
    c("hdel", -3, fl("write fast"), (1, 1, 1), "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hash::hdel),
    c("hexists", 3, fl("readonly fast"), (1, 1, 1), "hash", "2.0.0", "Determines whether a field exists in a hash.", hash::hexists),
    c("hget", 3, fl("readonly fast"), (1, 1, 1), "hash", "2.0.0", "Returns the value of a field in a hash.", hash::hget),
    c("hgetall", 2, fl("readonly"), (1, 1, 1), "hash", "2.0.0", "Returns all fields and values in a hash.", hash::hgetall),
    c("hincrby", 4, fl("write denyoom fast"), (1, 1, 1), "hash", "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hash::hincrby),
    c("hincrbyfloat", 4, fl("write denyoom fast"), (1, 1, 1), "hash", "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hash::hincrbyfloat),
    c("hkeys", 2, fl("readonly"), (1, 1, 1), "hash", "2.0.0", "Returns all fields in a hash.", hash::hkeys),
    c("hlen", 2, fl("readonly fast"), (1, 1, 1), "hash", "2.0.0", "Returns the number of fields in a hash.", hash::hlen),
    c("hmget", -3, fl("readonly fast"), (1, 1, 1), "hash", "2.0.0", "Returns the values of all fields in a hash.", hash::hmget),
    c("hmset", -4, fl("write denyoom fast"), (1, 1, 1), "hash", "2.0.0", "Sets the values of multiple fields.", hash::hmset),
    c("hrandfield", -2, fl("readonly"), (1, 1, 1), "hash", "6.2.0", "Returns one or more random fields from a hash.", hash::hrandfield),
    c("hscan", -3, fl("readonly"), (1, 1, 1), "hash", "2.8.0", "Iterates over fields and values of a hash.", hash::hscan),
    c("hset", -4, fl("write denyoom fast"), (1, 1, 1), "hash", "2.0.0", "Creates or modifies the value of a field in a hash.", hash::hset),
    c("hsetnx", 4, fl("write denyoom fast"), (1, 1, 1), "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", hash::hsetnx),
    c("hstrlen", 3, fl("readonly fast"), (1, 1, 1), "hash", "3.2.0", "Returns the length of the value of a field.", hash::hstrlen),
    c("hvals", 2, fl("readonly"), (1, 1, 1), "hash", "2.0.0", "Returns all values in a hash.", hash::hvals),
    // sets
    c("sadd", -3, fl("write denyoom fast"), (1, 1, 1), "set", "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", set::sadd),
    c("scard", 2, fl("readonly fast"), (1, 1, 1), "set", "1.0.0", "Returns the number of members in a set.", set::scard),
    c("sdiff", -2, fl("readonly"), (1, -1, 1), "set", "1.0.0", "Returns the difference of multiple sets.", set::sdiff),
    c("sdiffstore", -3, fl("write denyoom"), (1, -1, 1), "set", "1.0.0", "Stores the difference of multiple sets in a key.", set::sdiffstore),
    c("sinter", -2, fl("readonly"), (1, -1, 1), "set", "1.0.0", "Returns the intersect of multiple sets.", set::sinter),
    c("sintercard", -3, fl("readonly movablekeys"), (0, 0, 0), "set", "7.0.0", "Returns the number of members of the intersect of multiple sets.", set::sintercard),
    c("sinterstore", -3, fl("write denyoom"), (1, -1, 1), "set", "1.0.0", "Stores the intersect of multiple sets in a key.", set::sinterstore),
    c("sismember", 3, fl("readonly fast"), (1, 1, 1), "set", "1.0.0", "Determines whether a member belongs to a set.", set::sismember),
    c("smembers", 2, fl("readonly"), (1, 1, 1), "set", "1.0.0", "Returns all members of a set.", set::smembers),
    c("smismember", -3, fl("readonly fast"), (1, 1, 1), "set", "6.2.0", "Determines whether multiple members belong to a set.", set::smismember),
    c("smove", 4, fl("write fast"), (1, 2, 1), "set", "1.0.0", "Moves a member from one set to another.", set::smove),
    c("spop", -2, fl("write fast"), (1, 1, 1), "set", "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", set::spop),
    c("srandmember", -2, fl("readonly"), (1, 1, 1), "set", "1.0.0", "Get one or multiple random members from a set", set::srandmember),
    c("srem", -3, fl("write fast"), (1, 1, 1), "set", "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.", set::srem),
    c("sscan", -3, fl("readonly"), (1, 1, 1), "set", "2.8.0", "Iterates over members of a set.", set::sscan),
    c("sunion", -2, fl("readonly"), (1, -1, 1), "set", "1.0.0", "Returns the union of multiple sets.", set::sunion),
    c("sunionstore", -3, fl("write denyoom"), (1, -1, 1), "set", "1.0.0", "Stores the union of multiple sets in a key.", set::sunionstore),
    // sorted sets
    c("bzmpop", -5, fl("write blocking movablekeys"), (0, 0, 0), "sorted-set", "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", blocking::bzmpop),
    c("bzpopmax", -3, fl("write noscript blocking fast"), (1, -2, 1), "sorted-set", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", blocking::bzpopmax),
    c("bzpopmin", -3, fl("write noscript blocking fast"), (1, -2, 1), "sorted-set", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", blocking::bzpopmin),
    c("zadd", -4, fl("write denyoom fast"), (1, 1, 1), "sorted-set", "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zset::zadd),
    c("zcard", 2, fl("readonly fast"), (1, 1, 1), "sorted-set", "1.2.0", "Returns the number of members in a sorted set.", zset::zcard),
    c("zcount", 4, fl("readonly fast"), (1, 1, 1), "sorted-set", "2.0.0", "Returns the count of members in a sorted set that have scores within a range.", zset::zcount),
    c("zdiff", -3, fl("readonly movablekeys"), (0, 0, 0), "sorted-set", "6.2.0", "Returns the difference between multiple sorted sets.", zcombine::zdiff),
    c("zdiffstore", -4, fl("write denyoom movablekeys"), (1, 1, 1), "sorted-set", "6.2.0", "Stores the difference of multiple sorted sets in a key.", zcombine::zdiffstore),
    c("zincrby", 4, fl("write denyoom fast"), (1, 1, 1), "sorted-set", "1.2.0", "Increments the score of a member in a sorted set.", zset::zincrby),
    c("zinter", -3, fl("readonly movablekeys"), (0, 0, 0), "sorted-set", "6.2.0", "Returns the intersect of multiple sorted sets.", zcombine::zinter),
    c("zintercard", -3, fl("readonly movablekeys"), (0, 0, 0), "sorted-set", "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.", zcombine::zintercard),
    c("zinterstore", -4, fl("write denyoom movablekeys"), (1, 1, 1), "sorted-set", "2.0.0", "Stores the intersect of multiple sorted sets in a key.", zcombine::zinterstore),
    c("zlexcount", 4, fl("readonly fast"), (1, 1, 1), "sorted-set", "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.", zset::zlexcount),
    c("zmpop", -4, fl("write movablekeys"), (0, 0, 0), "sorted-set", "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", zset::zmpop),
    c("zmscore", -3, fl("readonly fast"), (1, 1, 1), "sorted-set", "6.2.0", "Returns the score of one or more members in a sorted set.", zset::zmscore),
    c("zpopmax", -2, fl("write fast"), (1, 1, 1), "sorted-set", "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zset::zpopmax),
    c("zpopmin", -2, fl("write fast"), (1, 1, 1), "sorted-set", "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zset::zpopmin),
    c("zrandmember", -2, fl("readonly"), (1, 1, 1), "sorted-set", "6.2.0", "Returns one or more random members from a sorted set.", zset::zrandmember),
    c("zrange", -4, fl("readonly"), (1, 1, 1), "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes.", zset::zrange),
    c("zrangebylex", -4, fl("readonly"), (1, 1, 1), "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range.", zset::zrangebylex),
    c("zrangebyscore", -4, fl("readonly"), (1, 1, 1), "sorted-set", "1.0.5", "Returns members in a sorted set within a range of scores.", zset::zrangebyscore),
    c("zrangestore", -5, fl("write denyoom"), (1, 2, 1), "sorted-set", "6.2.0", "Stores a range of members from sorted set in a key.", zset::zrangestore),
    c("zrank", -3, fl("readonly fast"), (1, 1, 1), "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.", zset::zrank),
    c("zrem", -3, fl("write fast"), (1, 1, 1), "sorted-set", "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zset::zrem),
    c("zremrangebylex", 4, fl("write"), (1, 1, 1), "sorted-set", "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", zset::zremrangebylex),
    c("zremrangebyrank", 4, fl("write"), (1, 1, 1), "sorted-set", "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", zset::zremrangebyrank),
    c("zremrangebyscore", 4, fl("write"), (1, 1, 1), "sorted-set", "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", zset::zremrangebyscore),
    c("zrevrange", -4, fl("readonly"), (1, 1, 1), "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.", zset::zrevrange),
    c("zrevrangebylex", -4, fl("readonly"), (1, 1, 1), "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.", zset::zrevrangebylex),
    c("zrevrangebyscore", -4, fl("readonly"), (1, 1, 1), "sorted-set", "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.", zset::zrevrangebyscore),
    c("zrevrank", -3, fl("readonly fast"), (1, 1, 1), "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.", zset::zrevrank),
    c("zscan", -3, fl("readonly"), (1, 1, 1), "sorted-set", "2.8.0", "Iterates over members and scores of a sorted set.", zset::zscan),
    c("zscore", 3, fl("readonly fast"), (1, 1, 1), "sorted-set", "1.2.0", "Returns the score of a member in a sorted set.", zset::zscore),
    c("zunion", -3, fl("readonly movablekeys"), (0, 0, 0), "sorted-set", "6.2.0", "Returns the union of multiple sorted sets.", zcombine::zunion),
    c("zunionstore", -4, fl("write denyoom movablekeys"), (1, 1, 1), "sorted-set", "2.0.0", "Stores the union of multiple sorted sets in a key.", zcombine::zunionstore),
    // connection
    c("auth", -2, fl("noscript loading stale fast no_auth allow_busy"), (0, 0, 0), "connection", "1.0.0", "Authenticates the connection.", connection::auth),
    c("client", -2, fl(""), (0, 0, 0), "connection", "2.4.0", "A container for client connection commands.", client::client),
    c("echo", 2, fl("loading stale fast"), (0, 0, 0), "connection", "1.0.0", "Returns the given string.", connection::echo),
    c("hello", -1, fl("noscript loading stale fast no_auth allow_busy"), (0, 0, 0), "connection", "6.0.0", "Handshakes with the Redis server.", connection::hello),
    c("ping", -1, fl("fast"), (0, 0, 0), "connection", "1.0.0", "Returns the server's liveliness response.", connection::ping),
    c("quit", -1, fl("noscript loading stale fast no_auth allow_busy"), (0, 0, 0), "connection", "1.0.0", "Closes the connection.", connection::quit),
    c("reset", 1, fl("noscript loading stale fast no_auth allow_busy"), (0, 0, 0), "connection", "6.2.0", "Resets the connection.", connection::reset),
    c("select", 2, fl("loading stale fast"), (0, 0, 0), "connection", "1.0.0", "Changes the selected database.", connection::select),
    // server
    c("command", -1, fl("loading stale"), (0, 0, 0), "server", "2.8.13", "Returns detailed information about all commands.", command::command),
    c("config", -2, fl(""), (0, 0, 0), "server", "2.0.0", "A container for server configuration commands.", config::config),
    c("dbsize", 1, fl("readonly fast"), (0, 0, 0), "server", "1.0.0", "Returns the number of keys in the database.", server::dbsize),
    c("flushall", -1, fl("write"), (0, 0, 0), "server", "1.0.0", "Removes all keys from all databases.", server::flushall),
    c("flushdb", -1, fl("write"), (0, 0, 0), "server", "1.0.0", "Remove all keys from the current database.", server::flushdb),
    c("info", -1, fl("loading stale"), (0, 0, 0), "server", "1.0.0", "Returns information and statistics about the server.", info::info),
    c("memory", -2, fl(""), (0, 0, 0), "server", "4.0.0", "A container for memory diagnostics commands.", object::memory),
    c("bgsave", -1, fl("admin noscript no_async_loading"), (0, 0, 0), "server", "1.0.0", "Asynchronously saves the database(s) to disk.", server::bgsave),
    c("lastsave", 1, fl("loading stale fast"), (0, 0, 0), "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", server::lastsave),
    c("save", 1, fl("admin noscript no_async_loading no_multi"), (0, 0, 0), "server", "1.0.0", "Synchronously saves the database(s) to disk.", server::save),
    c("shutdown", -1, fl("admin noscript loading stale no_multi allow_busy"), (0, 0, 0), "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", server::shutdown),
    c("swapdb", 3, fl("write fast"), (0, 0, 0), "server", "4.0.0", "Swaps two Redis databases.", server::swapdb),
    c("time", 1, fl("loading stale fast"), (0, 0, 0), "server", "2.6.0", "Returns the server time.", server::time),
];

/// The longest command name, for the stack buffer of [`lookup`].
const MAX_NAME: usize = 16;

/// Name to table index. foldhash rather than std's SipHash: the key is a short command name,
/// hashed once per request, and the table is fixed (no flooding risk).
static INDEX: LazyLock<HashMap<&'static [u8], usize, foldhash::fast::FixedState>> =
    LazyLock::new(|| {
        TABLE
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_bytes(), i))
            .collect()
    });

/// Finds a command by name, ASCII case-insensitively, without allocating.
#[inline]
pub(crate) fn lookup(name: &[u8]) -> Option<usize> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut buf = [0u8; MAX_NAME];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    INDEX.get(&*lower).copied()
}

/// Finds a subcommand of a container command (`CLIENT SETNAME` in `client::SUBCOMMANDS`).
pub(crate) fn lookup_sub(subs: &'static [Command], name: &[u8]) -> Option<&'static Command> {
    subs.iter()
        .find(|c| c.short_name().as_bytes().eq_ignore_ascii_case(name))
}

/// Runs the subcommand of a container command (`CLIENT SETNAME x`): lookup, arity, handler.
pub(crate) fn dispatch_sub(
    container: &str,
    subs: &'static [Command],
    ctx: &mut Ctx<'_>,
    req: &Request<'_>,
) -> CmdResult {
    let sub =
        lookup_sub(subs, req.arg(1)).ok_or_else(|| unknown_subcommand(container, req.arg(1)))?;
    if !sub.arity_ok(req.len()) {
        return Err(CmdError::Text(arity_error(sub.name)));
    }
    (sub.handler)(ctx, req)
}

/// Statistics slots, as Redis keeps them: one per command (a [`TABLE`] index is its slot) and
/// one per subcommand (`config|get`), so `INFO commandstats` and CLIENT LIST's `cmd=` name the
/// subcommand that ran.
struct StatSlots {
    commands: Vec<&'static Command>,
    names: Vec<&'static str>,
    /// Per [`TABLE`] index: the slot of its first subcommand, for containers.
    first_sub: Vec<Option<usize>>,
}

static STAT_SLOTS: LazyLock<StatSlots> = LazyLock::new(|| {
    let mut commands: Vec<&'static Command> = TABLE.iter().collect();
    let mut first_sub = vec![None; TABLE.len()];
    for (i, c) in TABLE.iter().enumerate() {
        let subs = subcommands(c.name);
        if !subs.is_empty() {
            first_sub[i] = Some(commands.len());
            commands.extend(subs.iter());
        }
    }
    let names = commands.iter().map(|c| c.name).collect();
    StatSlots {
        commands,
        names,
        first_sub,
    }
});

/// How many statistics slots there are.
pub(crate) fn stat_slots() -> usize {
    STAT_SLOTS.names.len()
}

/// The name a slot's statistics go by (`get`, `config|get`).
pub(crate) fn stat_name(slot: usize) -> &'static str {
    STAT_SLOTS.names.get(slot).copied().unwrap_or("NULL")
}

/// Whether a request names a subcommand that container `idx` does not have (Redis rejects
/// those before any command runs, so they appear in no commandstats line).
#[inline]
pub(crate) fn unknown_subcommand_of(idx: usize, slot: usize, req: &Request<'_>) -> bool {
    slot == idx && req.len() >= 2 && STAT_SLOTS.first_sub[idx].is_some()
}

/// The command or subcommand a slot counts (its arity is checked before it runs).
pub(crate) fn stat_command(slot: usize) -> &'static Command {
    STAT_SLOTS.commands[slot]
}

/// The statistics slot of a request to command `idx`: the subcommand's for a container whose
/// subcommand exists, else the command's own.
#[inline]
pub(crate) fn stat_slot(idx: usize, req: &Request<'_>) -> usize {
    let Some(first) = STAT_SLOTS.first_sub[idx] else {
        return idx;
    };
    if req.len() < 2 {
        return idx;
    }
    let sub = req.arg(1);
    subcommands(TABLE[idx].name)
        .iter()
        .position(|c| c.short_name().as_bytes().eq_ignore_ascii_case(sub))
        .map_or(idx, |p| first + p)
}

/// Every container's subcommands, for `COMMAND` (keyed by the container's name).
pub(crate) fn subcommands(container: &str) -> &'static [Command] {
    match container {
        "client" => client::SUBCOMMANDS,
        "command" => command::SUBCOMMANDS,
        "config" => config::SUBCOMMANDS,
        "object" => object::OBJECT_SUBCOMMANDS,
        "memory" => object::MEMORY_SUBCOMMANDS,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_have_their_own_stat_slots() {
        let get = lookup(b"get").unwrap();
        let config = lookup(b"config").unwrap();
        assert_eq!(stat_name(get), "get");
        assert!(stat_slots() > TABLE.len());
        assert!(stat_slots() <= usize::from(u16::MAX));
        let names: Vec<&str> = (0..stat_slots()).map(stat_name).collect();
        assert!(names.contains(&"config|get") && names.contains(&"client|list"));
        assert_eq!(stat_name(config), "config");
    }

    #[test]
    fn names_are_unique_lowercase_and_short() {
        let mut seen = std::collections::HashSet::new();
        for c in TABLE {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(
                c.name.len() <= MAX_NAME,
                "{} is longer than MAX_NAME",
                c.name
            );
            assert!(c.arity != 0, "{}", c.name);
        }
        assert!(
            TABLE.len() < usize::from(u16::MAX),
            "conn.rs keeps indexes in a u16"
        );
    }

    #[test]
    fn every_command_has_metadata() {
        for c in TABLE {
            for c in std::iter::once(c).chain(subcommands(c.name)) {
                assert!(
                    spec::meta(c.name).is_some(),
                    "{} has no spec::meta entry",
                    c.name
                );
            }
        }
    }

    #[test]
    fn flags_parse_and_list_in_redis_order() {
        // Redis lists blocking before fast and no_multi before allow_busy, whatever the order
        // a table line names them in.
        let f = fl("fast blocking  write");
        assert_eq!(f.names().collect::<Vec<_>>(), ["write", "blocking", "fast"]);
        assert!(f.has(Flags::WRITE) && !f.has(Flags::NO_AUTH));
        let f = fl("allow_busy no_multi");
        assert_eq!(f.names().collect::<Vec<_>>(), ["no_multi", "allow_busy"]);
        assert_eq!(fl("").names().count(), 0);
    }

    #[test]
    fn categories_in_redis_order() {
        let cats = |name: &str| {
            TABLE[lookup(name.as_bytes()).unwrap()]
                .categories()
                .collect::<Vec<_>>()
        };
        // As redis-server 7.0.15 lists them in COMMAND INFO.
        assert_eq!(cats("get"), ["@read", "@string", "@fast"]);
        assert_eq!(cats("keys"), ["@keyspace", "@read", "@slow", "@dangerous"]);
        assert_eq!(cats("blpop"), ["@write", "@list", "@slow", "@blocking"]);
        assert_eq!(cats("auth"), ["@fast", "@connection"]);
        assert_eq!(cats("bgsave"), ["@admin", "@slow", "@dangerous"]);
    }

    #[test]
    fn lookup_ignores_case() {
        let get = lookup(b"GeT").expect("get is in the table");
        assert_eq!(TABLE[get].name, "get");
        assert_eq!(lookup(b"nosuchcommand"), None);
        assert_eq!(lookup(b"averyveryverylongcommandname"), None);
        assert_eq!(lookup(b""), None);
    }

    #[test]
    fn arity_rules() {
        let get = &TABLE[lookup(b"get").unwrap()];
        assert!(get.arity_ok(2) && !get.arity_ok(1) && !get.arity_ok(3));
        let set = &TABLE[lookup(b"set").unwrap()];
        assert!(set.arity_ok(3) && set.arity_ok(7) && !set.arity_ok(2));
    }

    #[test]
    fn subcommand_names_are_qualified() {
        for container in ["client", "command", "config", "object", "memory"] {
            for s in subcommands(container) {
                assert!(s.name.starts_with(&format!("{container}|")), "{}", s.name);
            }
        }
    }
}
