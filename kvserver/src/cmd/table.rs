//! The command table: every command's name, arity, flags, key positions, documentation and
//! handler, in one place (Redis's `redisCommandTable`). `COMMAND` reports it, the dispatcher
//! checks arity and auth from it, and `INFO commandstats` is indexed by it.

use std::collections::HashMap;
use std::sync::LazyLock;

use kvproto::Request;

use super::ctx::{CmdResult, Ctx};
use super::error::{CmdError, arity_error, unknown_subcommand};
use super::{
    blocking, client, command, config, connection, expire, hash, info, keys, lcs, list, object,
    server, set, string, zset,
};

/// A command handler.
pub(crate) type Handler = fn(&mut Ctx<'_>, &Request<'_>) -> CmdResult;

/// Redis's command flags, as `COMMAND INFO` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flags(u32);

impl Flags {
    pub(crate) const NONE: Flags = Flags(0);
    pub(crate) const WRITE: Flags = Flags(1);
    pub(crate) const READONLY: Flags = Flags(1 << 1);
    pub(crate) const DENYOOM: Flags = Flags(1 << 2);
    pub(crate) const ADMIN: Flags = Flags(1 << 3);
    pub(crate) const NOSCRIPT: Flags = Flags(1 << 4);
    pub(crate) const LOADING: Flags = Flags(1 << 5);
    pub(crate) const STALE: Flags = Flags(1 << 6);
    pub(crate) const FAST: Flags = Flags(1 << 7);
    pub(crate) const NO_AUTH: Flags = Flags(1 << 8);
    pub(crate) const ALLOW_BUSY: Flags = Flags(1 << 9);
    pub(crate) const NO_MULTI: Flags = Flags(1 << 10);
    pub(crate) const BLOCKING: Flags = Flags(1 << 11);

    const NAMES: [(Flags, &'static str); 12] = [
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::ALLOW_BUSY, "allow_busy"),
        (Flags::NO_MULTI, "no_multi"),
        (Flags::BLOCKING, "blocking"),
    ];

    pub(crate) const fn or(self, o: Flags) -> Flags {
        Flags(self.0 | o.0)
    }

    #[inline]
    pub(crate) fn has(self, o: Flags) -> bool {
        self.0 & o.0 == o.0
    }

    /// The flag names, in Redis's order.
    pub(crate) fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::NAMES
            .into_iter()
            .filter(move |(f, _)| self.has(*f))
            .map(|(_, n)| n)
    }
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

    /// Redis's ACL categories for this command, derived from its flags and group, in the order
    /// Redis lists them (its category table: keyspace, read, write, set, sortedset, list,
    /// hash, string, admin, fast, slow, blocking, dangerous, connection).
    pub(crate) fn categories(&self) -> Vec<&'static str> {
        let f = |flag: Flags| self.flags.has(flag);
        let g = |group: &str| self.group == group;
        let fast = f(Flags::FAST);
        [
            (g("generic"), "@keyspace"),
            (f(Flags::READONLY), "@read"),
            (f(Flags::WRITE), "@write"),
            (g("set"), "@set"),
            (g("sorted-set"), "@sortedset"),
            (g("list"), "@list"),
            (g("hash"), "@hash"),
            (g("string"), "@string"),
            (f(Flags::ADMIN), "@admin"),
            (fast, "@fast"),
            (!fast, "@slow"),
            (f(Flags::BLOCKING), "@blocking"),
            (f(Flags::ADMIN), "@dangerous"),
            (g("connection"), "@connection"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

use Flags as F;

const RO: Flags = F::READONLY;
const RO_FAST: Flags = F::READONLY.or(F::FAST);
const W: Flags = F::WRITE;
const W_FAST: Flags = F::WRITE.or(F::FAST);
const W_OOM: Flags = F::WRITE.or(F::DENYOOM);
const W_OOM_FAST: Flags = F::WRITE.or(F::DENYOOM).or(F::FAST);
const CONN_ANY: Flags = F::NOSCRIPT
    .or(F::LOADING)
    .or(F::STALE)
    .or(F::FAST)
    .or(F::NO_AUTH)
    .or(F::ALLOW_BUSY);
const LOAD_STALE: Flags = F::LOADING.or(F::STALE);
const ADMIN: Flags = F::ADMIN.or(F::NOSCRIPT).or(F::LOADING).or(F::STALE);

const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
const ONE_KEY: (i32, i32, i32) = (1, 1, 1);
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);
const TWO_KEYS: (i32, i32, i32) = (1, 2, 1);

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
    c("append", 3, W_OOM_FAST, ONE_KEY, "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", string::append),
    c("decr", 2, W_OOM_FAST, ONE_KEY, "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", string::decr),
    c("decrby", 3, W_OOM_FAST, ONE_KEY, "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", string::decrby),
    c("get", 2, RO_FAST, ONE_KEY, "string", "1.0.0", "Returns the string value of a key.", string::get),
    c("getdel", 2, W_FAST, ONE_KEY, "string", "6.2.0", "Returns the string value of a key after deleting the key.", string::getdel),
    c("getex", -2, W_FAST, ONE_KEY, "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", string::getex),
    c("getrange", 4, RO, ONE_KEY, "string", "2.4.0", "Returns a substring of the string stored at a key.", string::getrange),
    c("getset", 3, W_OOM_FAST, ONE_KEY, "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", string::getset),
    c("incr", 2, W_OOM_FAST, ONE_KEY, "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", string::incr),
    c("incrby", 3, W_OOM_FAST, ONE_KEY, "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", string::incrby),
    c("incrbyfloat", 3, W_OOM_FAST, ONE_KEY, "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", string::incrbyfloat),
    c("lcs", -3, RO, TWO_KEYS, "string", "7.0.0", "Finds the longest common substring.", lcs::lcs),
    c("mget", -2, RO_FAST, ALL_KEYS, "string", "1.0.0", "Atomically returns the string values of one or more keys.", string::mget),
    c("mset", -3, W_OOM, (1, -1, 2), "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", string::mset),
    c("msetnx", -3, W_OOM, (1, -1, 2), "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", string::msetnx),
    c("psetex", 4, W_OOM, ONE_KEY, "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", string::psetex),
    c("set", -3, W_OOM, ONE_KEY, "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", string::set),
    c("setex", 4, W_OOM, ONE_KEY, "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", string::setex),
    c("setnx", 3, W_OOM_FAST, ONE_KEY, "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", string::setnx),
    c("setrange", 4, W_OOM, ONE_KEY, "string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", string::setrange),
    c("strlen", 2, RO_FAST, ONE_KEY, "string", "2.2.0", "Returns the length of a string value.", string::strlen),
    c("substr", 4, RO, ONE_KEY, "string", "1.0.0", "Returns a substring from a string value.", string::getrange),
    // keys
    c("copy", -3, W_OOM, TWO_KEYS, "generic", "6.2.0", "Copies the value of a key to a new key.", keys::copy),
    c("del", -2, W, ALL_KEYS, "generic", "1.0.0", "Deletes one or more keys.", keys::del),
    c("exists", -2, RO_FAST, ALL_KEYS, "generic", "1.0.0", "Determines whether one or more keys exist.", keys::exists),
    c("expire", -3, W_FAST, ONE_KEY, "generic", "1.0.0", "Sets the expiration time of a key in seconds.", expire::expire),
    c("expireat", -3, W_FAST, ONE_KEY, "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", expire::expireat),
    c("expiretime", 2, RO_FAST, ONE_KEY, "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", expire::expiretime),
    c("keys", 2, RO, NO_KEYS, "generic", "1.0.0", "Returns all key names that match a pattern.", keys::keys),
    c("move", 3, W_FAST, ONE_KEY, "generic", "1.0.0", "Moves a key to another database.", keys::move_key),
    c("object", -2, F::NONE, NO_KEYS, "generic", "2.2.3", "A container for object introspection commands.", object::object),
    c("persist", 2, W_FAST, ONE_KEY, "generic", "2.2.0", "Removes the expiration time of a key.", expire::persist),
    c("pexpire", -3, W_FAST, ONE_KEY, "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", expire::pexpire),
    c("pexpireat", -3, W_FAST, ONE_KEY, "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", expire::pexpireat),
    c("pexpiretime", 2, RO_FAST, ONE_KEY, "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", expire::pexpiretime),
    c("pttl", 2, RO_FAST, ONE_KEY, "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", expire::pttl),
    c("randomkey", 1, RO, NO_KEYS, "generic", "1.0.0", "Returns a random key name from the database.", keys::randomkey),
    c("rename", 3, W, TWO_KEYS, "generic", "1.0.0", "Renames a key and overwrites the destination.", keys::rename),
    c("renamenx", 3, W_FAST, TWO_KEYS, "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", keys::renamenx),
    c("scan", -2, RO, NO_KEYS, "generic", "2.8.0", "Iterates over the key names in the database.", keys::scan),
    c("touch", -2, RO_FAST, ALL_KEYS, "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", keys::touch),
    c("ttl", 2, RO_FAST, ONE_KEY, "generic", "1.0.0", "Returns the expiration time in seconds of a key.", expire::ttl),
    c("type", 2, RO_FAST, ONE_KEY, "generic", "1.0.0", "Determines the type of value stored at a key.", keys::key_type),
    c("unlink", -2, W_FAST, ALL_KEYS, "generic", "4.0.0", "Asynchronously deletes one or more keys.", keys::del),
    // lists
    c("blmove", 6, W_OOM.or(F::BLOCKING), TWO_KEYS, "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", blocking::blmove),
    c("blmpop", -5, W.or(F::BLOCKING), NO_KEYS, "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking::blmpop),
    c("blpop", -3, W.or(F::BLOCKING), (1, -2, 1), "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking::blpop),
    c("brpop", -3, W.or(F::BLOCKING), (1, -2, 1), "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking::brpop),
    c("brpoplpush", 4, W_OOM.or(F::BLOCKING), TWO_KEYS, "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", blocking::brpoplpush),
    c("lindex", 3, RO, ONE_KEY, "list", "1.0.0", "Returns an element from a list by its index.", list::lindex),
    c("linsert", 5, W_OOM, ONE_KEY, "list", "2.2.0", "Inserts an element before or after another element in a list.", list::linsert),
    c("llen", 2, RO_FAST, ONE_KEY, "list", "1.0.0", "Returns the length of a list.", list::llen),
    c("lmove", 5, W_OOM, TWO_KEYS, "list", "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", list::lmove),
    c("lmpop", -4, W, NO_KEYS, "list", "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", list::lmpop),
    c("lpop", -2, W_FAST, ONE_KEY, "list", "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", list::lpop),
    c("lpos", -3, RO, ONE_KEY, "list", "6.0.6", "Returns the index of matching elements in a list.", list::lpos),
    c("lpush", -3, W_OOM_FAST, ONE_KEY, "list", "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", list::lpush),
    c("lpushx", -3, W_OOM_FAST, ONE_KEY, "list", "2.2.0", "Prepends one or more elements to a list only when the list exists.", list::lpushx),
    c("lrange", 4, RO, ONE_KEY, "list", "1.0.0", "Returns a range of elements from a list.", list::lrange),
    c("lrem", 4, W, ONE_KEY, "list", "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", list::lrem),
    c("lset", 4, W_OOM, ONE_KEY, "list", "1.0.0", "Sets the value of an element in a list by its index.", list::lset),
    c("ltrim", 4, W, ONE_KEY, "list", "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", list::ltrim),
    c("rpop", -2, W_FAST, ONE_KEY, "list", "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", list::rpop),
    c("rpoplpush", 3, W_OOM, TWO_KEYS, "list", "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", list::rpoplpush),
    c("rpush", -3, W_OOM_FAST, ONE_KEY, "list", "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", list::rpush),
    c("rpushx", -3, W_OOM_FAST, ONE_KEY, "list", "2.2.0", "Appends an element to a list only when the list exists.", list::rpushx),
    // hashes
    c("hdel", -3, W_FAST, ONE_KEY, "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hash::hdel),
    c("hexists", 3, RO_FAST, ONE_KEY, "hash", "2.0.0", "Determines whether a field exists in a hash.", hash::hexists),
    c("hget", 3, RO_FAST, ONE_KEY, "hash", "2.0.0", "Returns the value of a field in a hash.", hash::hget),
    c("hgetall", 2, RO, ONE_KEY, "hash", "2.0.0", "Returns all fields and values in a hash.", hash::hgetall),
    c("hincrby", 4, W_OOM_FAST, ONE_KEY, "hash", "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hash::hincrby),
    c("hincrbyfloat", 4, W_OOM_FAST, ONE_KEY, "hash", "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hash::hincrbyfloat),
    c("hkeys", 2, RO, ONE_KEY, "hash", "2.0.0", "Returns all fields in a hash.", hash::hkeys),
    c("hlen", 2, RO_FAST, ONE_KEY, "hash", "2.0.0", "Returns the number of fields in a hash.", hash::hlen),
    c("hmget", -3, RO_FAST, ONE_KEY, "hash", "2.0.0", "Returns the values of all fields in a hash.", hash::hmget),
    c("hmset", -4, W_OOM_FAST, ONE_KEY, "hash", "2.0.0", "Sets the values of multiple fields.", hash::hmset),
    c("hrandfield", -2, RO, ONE_KEY, "hash", "6.2.0", "Returns one or more random fields from a hash.", hash::hrandfield),
    c("hscan", -3, RO, ONE_KEY, "hash", "2.8.0", "Iterates over fields and values of a hash.", hash::hscan),
    c("hset", -4, W_OOM_FAST, ONE_KEY, "hash", "2.0.0", "Creates or modifies the value of a field in a hash.", hash::hset),
    c("hsetnx", 4, W_OOM_FAST, ONE_KEY, "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", hash::hsetnx),
    c("hstrlen", 3, RO_FAST, ONE_KEY, "hash", "3.2.0", "Returns the length of the value of a field.", hash::hstrlen),
    c("hvals", 2, RO, ONE_KEY, "hash", "2.0.0", "Returns all values in a hash.", hash::hvals),
    // sets
    c("sadd", -3, W_OOM_FAST, ONE_KEY, "set", "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", set::sadd),
    c("scard", 2, RO_FAST, ONE_KEY, "set", "1.0.0", "Returns the number of members in a set.", set::scard),
    c("sdiff", -2, RO, ALL_KEYS, "set", "1.0.0", "Returns the difference of multiple sets.", set::sdiff),
    c("sdiffstore", -3, W_OOM, ALL_KEYS, "set", "1.0.0", "Stores the difference of multiple sets in a key.", set::sdiffstore),
    c("sinter", -2, RO, ALL_KEYS, "set", "1.0.0", "Returns the intersect of multiple sets.", set::sinter),
    c("sintercard", -3, RO, NO_KEYS, "set", "7.0.0", "Returns the number of members of the intersect of multiple sets.", set::sintercard),
    c("sinterstore", -3, W_OOM, ALL_KEYS, "set", "1.0.0", "Stores the intersect of multiple sets in a key.", set::sinterstore),
    c("sismember", 3, RO_FAST, ONE_KEY, "set", "1.0.0", "Determines whether a member belongs to a set.", set::sismember),
    c("smembers", 2, RO, ONE_KEY, "set", "1.0.0", "Returns all members of a set.", set::smembers),
    c("smismember", -3, RO_FAST, ONE_KEY, "set", "6.2.0", "Determines whether multiple members belong to a set.", set::smismember),
    c("smove", 4, W_FAST, TWO_KEYS, "set", "1.0.0", "Moves a member from one set to another.", set::smove),
    c("spop", -2, W_FAST, ONE_KEY, "set", "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", set::spop),
    c("srandmember", -2, RO, ONE_KEY, "set", "1.0.0", "Get one or multiple random members from a set", set::srandmember),
    c("srem", -3, W_FAST, ONE_KEY, "set", "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.", set::srem),
    c("sscan", -3, RO, ONE_KEY, "set", "2.8.0", "Iterates over members of a set.", set::sscan),
    c("sunion", -2, RO, ALL_KEYS, "set", "1.0.0", "Returns the union of multiple sets.", set::sunion),
    c("sunionstore", -3, W_OOM, ALL_KEYS, "set", "1.0.0", "Stores the union of multiple sets in a key.", set::sunionstore),
    // sorted sets
    c("bzmpop", -5, W.or(F::BLOCKING), NO_KEYS, "sorted-set", "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", blocking::bzmpop),
    c("bzpopmax", -3, W_FAST.or(F::BLOCKING), (1, -2, 1), "sorted-set", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", blocking::bzpopmax),
    c("bzpopmin", -3, W_FAST.or(F::BLOCKING), (1, -2, 1), "sorted-set", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", blocking::bzpopmin),
    c("zadd", -4, W_OOM_FAST, ONE_KEY, "sorted-set", "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zset::zadd),
    c("zcard", 2, RO_FAST, ONE_KEY, "sorted-set", "1.2.0", "Returns the number of members in a sorted set.", zset::zcard),
    c("zcount", 4, RO_FAST, ONE_KEY, "sorted-set", "2.0.0", "Returns the count of members in a sorted set that have scores within a range.", zset::zcount),
    c("zdiff", -3, RO, NO_KEYS, "sorted-set", "6.2.0", "Returns the difference between multiple sorted sets.", zset::zdiff),
    c("zdiffstore", -4, W_OOM, ONE_KEY, "sorted-set", "6.2.0", "Stores the difference of multiple sorted sets in a key.", zset::zdiffstore),
    c("zincrby", 4, W_OOM_FAST, ONE_KEY, "sorted-set", "1.2.0", "Increments the score of a member in a sorted set.", zset::zincrby),
    c("zinter", -3, RO, NO_KEYS, "sorted-set", "6.2.0", "Returns the intersect of multiple sorted sets.", zset::zinter),
    c("zintercard", -3, RO, NO_KEYS, "sorted-set", "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.", zset::zintercard),
    c("zinterstore", -4, W_OOM, ONE_KEY, "sorted-set", "2.0.0", "Stores the intersect of multiple sorted sets in a key.", zset::zinterstore),
    c("zlexcount", 4, RO_FAST, ONE_KEY, "sorted-set", "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.", zset::zlexcount),
    c("zmpop", -4, W, NO_KEYS, "sorted-set", "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", zset::zmpop),
    c("zmscore", -3, RO_FAST, ONE_KEY, "sorted-set", "6.2.0", "Returns the score of one or more members in a sorted set.", zset::zmscore),
    c("zpopmax", -2, W_FAST, ONE_KEY, "sorted-set", "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zset::zpopmax),
    c("zpopmin", -2, W_FAST, ONE_KEY, "sorted-set", "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zset::zpopmin),
    c("zrandmember", -2, RO, ONE_KEY, "sorted-set", "6.2.0", "Returns one or more random members from a sorted set.", zset::zrandmember),
    c("zrange", -4, RO, ONE_KEY, "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes.", zset::zrange),
    c("zrangebylex", -4, RO, ONE_KEY, "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range.", zset::zrangebylex),
    c("zrangebyscore", -4, RO, ONE_KEY, "sorted-set", "1.0.5", "Returns members in a sorted set within a range of scores.", zset::zrangebyscore),
    c("zrangestore", -5, W_OOM, TWO_KEYS, "sorted-set", "6.2.0", "Stores a range of members from sorted set in a key.", zset::zrangestore),
    c("zrank", -3, RO_FAST, ONE_KEY, "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.", zset::zrank),
    c("zrem", -3, W_FAST, ONE_KEY, "sorted-set", "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zset::zrem),
    c("zremrangebylex", 4, W, ONE_KEY, "sorted-set", "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", zset::zremrangebylex),
    c("zremrangebyrank", 4, W, ONE_KEY, "sorted-set", "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", zset::zremrangebyrank),
    c("zremrangebyscore", 4, W, ONE_KEY, "sorted-set", "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", zset::zremrangebyscore),
    c("zrevrange", -4, RO, ONE_KEY, "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.", zset::zrevrange),
    c("zrevrangebylex", -4, RO, ONE_KEY, "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.", zset::zrevrangebylex),
    c("zrevrangebyscore", -4, RO, ONE_KEY, "sorted-set", "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.", zset::zrevrangebyscore),
    c("zrevrank", -3, RO_FAST, ONE_KEY, "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.", zset::zrevrank),
    c("zscan", -3, RO, ONE_KEY, "sorted-set", "2.8.0", "Iterates over members and scores of a sorted set.", zset::zscan),
    c("zscore", 3, RO_FAST, ONE_KEY, "sorted-set", "1.2.0", "Returns the score of a member in a sorted set.", zset::zscore),
    c("zunion", -3, RO, NO_KEYS, "sorted-set", "6.2.0", "Returns the union of multiple sorted sets.", zset::zunion),
    c("zunionstore", -4, W_OOM, ONE_KEY, "sorted-set", "2.0.0", "Stores the union of multiple sorted sets in a key.", zset::zunionstore),
    // connection
    c("auth", -2, CONN_ANY, NO_KEYS, "connection", "1.0.0", "Authenticates the connection.", connection::auth),
    c("client", -2, F::NOSCRIPT.or(LOAD_STALE), NO_KEYS, "connection", "2.4.0", "A container for client connection commands.", client::client),
    c("echo", 2, F::FAST, NO_KEYS, "connection", "1.0.0", "Returns the given string.", connection::echo),
    c("hello", -1, CONN_ANY, NO_KEYS, "connection", "6.0.0", "Handshakes with the Redis server.", connection::hello),
    c("ping", -1, F::FAST, NO_KEYS, "connection", "1.0.0", "Returns the server's liveliness response.", connection::ping),
    c("quit", -1, CONN_ANY, NO_KEYS, "connection", "1.0.0", "Closes the connection.", connection::quit),
    c("reset", 1, CONN_ANY, NO_KEYS, "connection", "6.2.0", "Resets the connection.", connection::reset),
    c("select", 2, LOAD_STALE.or(F::FAST), NO_KEYS, "connection", "1.0.0", "Changes the selected database.", connection::select),
    // server
    c("command", -1, LOAD_STALE, NO_KEYS, "server", "2.8.13", "Returns detailed information about all commands.", command::command),
    c("config", -2, ADMIN, NO_KEYS, "server", "2.0.0", "A container for server configuration commands.", config::config),
    c("dbsize", 1, RO_FAST, NO_KEYS, "server", "1.0.0", "Returns the number of keys in the database.", server::dbsize),
    c("flushall", -1, W, NO_KEYS, "server", "1.0.0", "Removes all keys from all databases.", server::flushall),
    c("flushdb", -1, W, NO_KEYS, "server", "1.0.0", "Remove all keys from the current database.", server::flushdb),
    c("info", -1, LOAD_STALE, NO_KEYS, "server", "1.0.0", "Returns information and statistics about the server.", info::info),
    c("memory", -2, F::NONE, NO_KEYS, "server", "4.0.0", "A container for memory diagnostics commands.", object::memory),
    c("bgsave", -1, F::ADMIN.or(F::NOSCRIPT), NO_KEYS, "server", "1.0.0", "Asynchronously saves the database(s) to disk.", server::bgsave),
    c("lastsave", 1, LOAD_STALE.or(F::FAST), NO_KEYS, "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", server::lastsave),
    c("save", 1, F::ADMIN.or(F::NOSCRIPT).or(F::NO_MULTI), NO_KEYS, "server", "1.0.0", "Synchronously saves the database(s) to disk.", server::save),
    c("shutdown", -1, ADMIN.or(F::NO_MULTI).or(F::ALLOW_BUSY), NO_KEYS, "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", server::shutdown),
    c("swapdb", 3, W_FAST, NO_KEYS, "server", "4.0.0", "Swaps two Redis databases.", server::swapdb),
    c("time", 1, LOAD_STALE.or(F::FAST), NO_KEYS, "server", "2.6.0", "Returns the server time.", server::time),
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
    fn categories_in_redis_order() {
        let cats = |name: &str| TABLE[lookup(name.as_bytes()).unwrap()].categories();
        // As redis-server 7.0.15 lists them in COMMAND INFO.
        assert_eq!(cats("get"), ["@read", "@string", "@fast"]);
        assert_eq!(cats("append"), ["@write", "@string", "@fast"]);
        assert_eq!(cats("del"), ["@keyspace", "@write", "@slow"]);
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
