//! The collection traits (lists, hashes, sets, sorted sets, geo, streams) for every
//! [`Delegate`]: each method is `self.delegate(move |db| db.<method>(<its arguments>))`.

use std::ops::RangeBounds;

use super::Delegate;
use crate::error::Result;
use crate::number::LongDouble;
use crate::ops::geo::{GeoPoint, GeoQuery, GeoStore};
use crate::ops::hash::{FieldValue, HashStore};
use crate::ops::list::{KeyElements, ListStore};
use crate::ops::set::{SetOp, SetStore};
use crate::ops::stream::{
    StreamEntry, StreamInfo, StreamStore, XAddId, XAddOptions, XSetIdOptions, XTrim,
};
use crate::ops::stream_group::{
    AutoClaim, ConsumerInfo, GroupEntry, GroupFull, GroupInfo, GroupStart, PendingEntry,
    PendingSummary, ReadGroup, XClaimOptions,
};
use crate::ops::zset::{ScoredMember, ZOp, ZRange, ZRangeBy, ZSetStore};
use crate::options::ScanOptions;
use crate::types::{Aggregate, End, LexRange, ScoreRange, StreamEntryRef, StreamId, ZAddFlags};
impl<S: Delegate> ListStore for S {
    fn push<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, end: End, values: &[V]) -> Result<usize> {
        self.delegate(move |db| db.push(key, end, values))
    }
    fn push_existing<V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        end: End,
        values: &[V],
    ) -> Result<usize> {
        self.delegate(move |db| db.push_existing(key, end, values))
    }
    fn pop(&self, key: impl AsRef<[u8]>, end: End) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.pop(key, end))
    }
    fn pop_count(
        &self,
        key: impl AsRef<[u8]>,
        end: End,
        count: usize,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        self.delegate(move |db| db.pop_count(key, end, count))
    }
    fn llen(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        self.delegate(move |db| db.llen(key))
    }
    fn lrange(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<Vec<Vec<u8>>> {
        self.delegate(move |db| db.lrange(key, start, stop))
    }
    fn lindex(&self, key: impl AsRef<[u8]>, index: i64) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.lindex(key, index))
    }
    fn lset(&self, key: impl AsRef<[u8]>, index: i64, value: impl AsRef<[u8]>) -> Result<()> {
        self.delegate(move |db| db.lset(key, index, value))
    }
    fn lrem(&self, key: impl AsRef<[u8]>, count: i64, value: impl AsRef<[u8]>) -> Result<usize> {
        self.delegate(move |db| db.lrem(key, count, value))
    }
    fn ltrim(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<()> {
        self.delegate(move |db| db.ltrim(key, start, stop))
    }
    fn linsert(
        &self,
        key: impl AsRef<[u8]>,
        before: bool,
        pivot: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<i64> {
        self.delegate(move |db| db.linsert(key, before, pivot, value))
    }
    fn lpos(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        rank: i64,
        count: usize,
        maxlen: usize,
    ) -> Result<Vec<usize>> {
        self.delegate(move |db| db.lpos(key, value, rank, count, maxlen))
    }
    fn lmove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        from: End,
        to: End,
    ) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.lmove(src, dst, from, to))
    }
    fn lmpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        end: End,
        count: usize,
    ) -> Result<Option<KeyElements>> {
        self.delegate(move |db| db.lmpop(keys, end, count))
    }
    fn sort_store<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<usize> {
        self.delegate(move |db| db.sort_store(key, values))
    }
}

impl<S: Delegate> HashStore for S {
    fn hset<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        pairs: &[(F, V)],
    ) -> Result<usize> {
        self.delegate(move |db| db.hset(key, pairs))
    }
    fn hsetnx(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<bool> {
        self.delegate(move |db| db.hsetnx(key, field, value))
    }
    fn hget(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.hget(key, field))
    }
    fn hmget<F: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        fields: &[F],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        self.delegate(move |db| db.hmget(key, fields))
    }
    fn hdel<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<usize> {
        self.delegate(move |db| db.hdel(key, fields))
    }
    fn hlen(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        self.delegate(move |db| db.hlen(key))
    }
    fn hstrlen(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<usize> {
        self.delegate(move |db| db.hstrlen(key, field))
    }
    fn hexists(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<bool> {
        self.delegate(move |db| db.hexists(key, field))
    }
    fn hkeys(&self, key: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>> {
        self.delegate(move |db| db.hkeys(key))
    }
    fn hvals(&self, key: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>> {
        self.delegate(move |db| db.hvals(key))
    }
    fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<FieldValue>> {
        self.delegate(move |db| db.hgetall(key))
    }
    fn hincrby(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        self.delegate(move |db| db.hincrby(key, field, delta))
    }
    fn hincrbyfloat(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        delta: impl Into<LongDouble>,
    ) -> Result<Vec<u8>> {
        self.delegate(move |db| db.hincrbyfloat(key, field, delta))
    }
    fn hrandfield(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.hrandfield(key))
    }
    fn hrandfield_count(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<FieldValue>> {
        self.delegate(move |db| db.hrandfield_count(key, count))
    }
    fn hscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        opts: &ScanOptions,
    ) -> Result<(u64, Vec<FieldValue>)> {
        self.delegate(move |db| db.hscan(key, cursor, opts))
    }
}

impl<S: Delegate> SetStore for S {
    fn sadd<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize> {
        self.delegate(move |db| db.sadd(key, members))
    }
    fn srem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize> {
        self.delegate(move |db| db.srem(key, members))
    }
    fn sismember(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<bool> {
        self.delegate(move |db| db.sismember(key, member))
    }
    fn smismember<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<bool>> {
        self.delegate(move |db| db.smismember(key, members))
    }
    fn scard(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        self.delegate(move |db| db.scard(key))
    }
    fn smembers(&self, key: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>> {
        self.delegate(move |db| db.smembers(key))
    }
    fn spop(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.spop(key))
    }
    fn spop_count(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Vec<Vec<u8>>> {
        self.delegate(move |db| db.spop_count(key, count))
    }
    fn srandmember(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.srandmember(key))
    }
    fn srandmember_count(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<Vec<u8>>> {
        self.delegate(move |db| db.srandmember_count(key, count))
    }
    fn smove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
    ) -> Result<bool> {
        self.delegate(move |db| db.smove(src, dst, member))
    }
    fn sinter<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Vec<u8>>> {
        self.delegate(move |db| db.sinter(keys))
    }
    fn sintercard<K: AsRef<[u8]>>(&self, keys: &[K], limit: usize) -> Result<usize> {
        self.delegate(move |db| db.sintercard(keys, limit))
    }
    fn sunion<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Vec<u8>>> {
        self.delegate(move |db| db.sunion(keys))
    }
    fn sdiff<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Vec<u8>>> {
        self.delegate(move |db| db.sdiff(keys))
    }
    fn sstore<K: AsRef<[u8]>>(
        &self,
        op: SetOp,
        dst: impl AsRef<[u8]>,
        keys: &[K],
    ) -> Result<usize> {
        self.delegate(move |db| db.sstore(op, dst, keys))
    }
    fn sscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        opts: &ScanOptions,
    ) -> Result<(u64, Vec<Vec<u8>>)> {
        self.delegate(move |db| db.sscan(key, cursor, opts))
    }
}

impl<S: Delegate> ZSetStore for S {
    fn zadd<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        pairs: &[(f64, M)],
        flags: &ZAddFlags,
    ) -> Result<usize> {
        self.delegate(move |db| db.zadd(key, pairs, flags))
    }
    fn zadd_incr(
        &self,
        key: impl AsRef<[u8]>,
        delta: f64,
        member: impl AsRef<[u8]>,
        flags: &ZAddFlags,
    ) -> Result<Option<f64>> {
        self.delegate(move |db| db.zadd_incr(key, delta, member, flags))
    }
    fn zincrby(&self, key: impl AsRef<[u8]>, delta: f64, member: impl AsRef<[u8]>) -> Result<f64> {
        self.delegate(move |db| db.zincrby(key, delta, member))
    }
    fn zscore(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<f64>> {
        self.delegate(move |db| db.zscore(key, member))
    }
    fn zmscore<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<f64>>> {
        self.delegate(move |db| db.zmscore(key, members))
    }
    fn zcard(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        self.delegate(move |db| db.zcard(key))
    }
    fn zcount(&self, key: impl AsRef<[u8]>, range: &ScoreRange) -> Result<usize> {
        self.delegate(move |db| db.zcount(key, range))
    }
    fn zlexcount(&self, key: impl AsRef<[u8]>, range: &LexRange<'_>) -> Result<usize> {
        self.delegate(move |db| db.zlexcount(key, range))
    }
    fn zrange(&self, key: impl AsRef<[u8]>, range: &ZRange<'_>) -> Result<Vec<ScoredMember>> {
        self.delegate(move |db| db.zrange(key, range))
    }
    fn zrangestore(
        &self,
        dst: impl AsRef<[u8]>,
        src: impl AsRef<[u8]>,
        range: &ZRange<'_>,
    ) -> Result<usize> {
        self.delegate(move |db| db.zrangestore(dst, src, range))
    }
    fn zrank(
        &self,
        key: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
        rev: bool,
    ) -> Result<Option<(usize, f64)>> {
        self.delegate(move |db| db.zrank(key, member, rev))
    }
    fn zrem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize> {
        self.delegate(move |db| db.zrem(key, members))
    }
    fn zremrange(&self, key: impl AsRef<[u8]>, by: &ZRangeBy<'_>) -> Result<usize> {
        self.delegate(move |db| db.zremrange(key, by))
    }
    fn zpop(&self, key: impl AsRef<[u8]>, max: bool, count: usize) -> Result<Vec<ScoredMember>> {
        self.delegate(move |db| db.zpop(key, max, count))
    }
    fn zmpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        max: bool,
        count: usize,
    ) -> Result<Option<(Vec<u8>, Vec<ScoredMember>)>> {
        self.delegate(move |db| db.zmpop(keys, max, count))
    }
    fn zrandmember(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.delegate(move |db| db.zrandmember(key))
    }
    fn zrandmember_count(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<ScoredMember>> {
        self.delegate(move |db| db.zrandmember_count(key, count))
    }
    fn zcombine<K: AsRef<[u8]>>(
        &self,
        op: ZOp,
        keys: &[K],
        weights: Option<&[f64]>,
        aggregate: Aggregate,
    ) -> Result<Vec<ScoredMember>> {
        self.delegate(move |db| db.zcombine(op, keys, weights, aggregate))
    }
    fn zcombinestore<K: AsRef<[u8]>>(
        &self,
        op: ZOp,
        dst: impl AsRef<[u8]>,
        keys: &[K],
        weights: Option<&[f64]>,
        aggregate: Aggregate,
    ) -> Result<usize> {
        self.delegate(move |db| db.zcombinestore(op, dst, keys, weights, aggregate))
    }
    fn zintercard<K: AsRef<[u8]>>(&self, keys: &[K], limit: usize) -> Result<usize> {
        self.delegate(move |db| db.zintercard(keys, limit))
    }
    fn zscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        opts: &ScanOptions,
    ) -> Result<(u64, Vec<ScoredMember>)> {
        self.delegate(move |db| db.zscan(key, cursor, opts))
    }
}

impl<S: Delegate> GeoStore for S {
    fn geoadd<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        items: &[(f64, f64, M)],
        flags: &ZAddFlags,
    ) -> Result<usize> {
        self.delegate(move |db| db.geoadd(key, items, flags))
    }
    fn geopos<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<(f64, f64)>>> {
        self.delegate(move |db| db.geopos(key, members))
    }
    fn geodist(
        &self,
        key: impl AsRef<[u8]>,
        member1: impl AsRef<[u8]>,
        member2: impl AsRef<[u8]>,
    ) -> Result<Option<f64>> {
        self.delegate(move |db| db.geodist(key, member1, member2))
    }
    fn geohash<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        self.delegate(move |db| db.geohash(key, members))
    }
    fn geosearch(&self, key: impl AsRef<[u8]>, query: &GeoQuery<'_>) -> Result<Vec<GeoPoint>> {
        self.delegate(move |db| db.geosearch(key, query))
    }
    fn geosearchstore(
        &self,
        dst: impl AsRef<[u8]>,
        src: impl AsRef<[u8]>,
        query: &GeoQuery<'_>,
        store_dist: bool,
    ) -> Result<usize> {
        self.delegate(move |db| db.geosearchstore(dst, src, query, store_dist))
    }
}

impl<S: Delegate> StreamStore for S {
    fn xadd<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        id: XAddId,
        pairs: &[(F, V)],
        opts: &XAddOptions,
    ) -> Result<Option<StreamId>> {
        self.delegate(move |db| db.xadd(key, id, pairs, opts))
    }
    fn xlen(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.delegate(move |db| db.xlen(key))
    }
    fn xrange(
        &self,
        key: impl AsRef<[u8]>,
        range: impl RangeBounds<StreamId>,
        count: Option<usize>,
    ) -> Result<Vec<StreamEntry>> {
        self.delegate(move |db| db.xrange(key, range, count))
    }
    fn xrevrange(
        &self,
        key: impl AsRef<[u8]>,
        range: impl RangeBounds<StreamId>,
        count: Option<usize>,
    ) -> Result<Vec<StreamEntry>> {
        self.delegate(move |db| db.xrevrange(key, range, count))
    }
    fn xrange_with(
        &self,
        key: impl AsRef<[u8]>,
        range: impl RangeBounds<StreamId>,
        count: Option<usize>,
        rev: bool,
        visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<usize> {
        self.delegate(move |db| db.xrange_with(key, range, count, rev, visit))
    }
    fn xdel(&self, key: impl AsRef<[u8]>, ids: &[StreamId]) -> Result<u64> {
        self.delegate(move |db| db.xdel(key, ids))
    }
    fn xtrim(&self, key: impl AsRef<[u8]>, trim: &XTrim) -> Result<u64> {
        self.delegate(move |db| db.xtrim(key, trim))
    }
    fn xsetid(&self, key: impl AsRef<[u8]>, id: StreamId, opts: &XSetIdOptions) -> Result<()> {
        self.delegate(move |db| db.xsetid(key, id, opts))
    }
    fn xinfo(&self, key: impl AsRef<[u8]>) -> Result<Option<StreamInfo>> {
        self.delegate(move |db| db.xinfo(key))
    }
    fn xgroup_create(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        start: GroupStart,
        entries_read: Option<u64>,
        mkstream: bool,
    ) -> Result<()> {
        self.delegate(move |db| db.xgroup_create(key, group, start, entries_read, mkstream))
    }
    fn xgroup_setid(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        start: GroupStart,
        entries_read: Option<u64>,
    ) -> Result<()> {
        self.delegate(move |db| db.xgroup_setid(key, group, start, entries_read))
    }
    fn xgroup_destroy(&self, key: impl AsRef<[u8]>, group: impl AsRef<[u8]>) -> Result<bool> {
        self.delegate(move |db| db.xgroup_destroy(key, group))
    }
    fn xgroup_createconsumer(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
    ) -> Result<bool> {
        self.delegate(move |db| db.xgroup_createconsumer(key, group, consumer))
    }
    fn xgroup_delconsumer(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
    ) -> Result<u64> {
        self.delegate(move |db| db.xgroup_delconsumer(key, group, consumer))
    }
    fn xreadgroup_with(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        from: ReadGroup,
        count: Option<usize>,
        noack: bool,
        visit: impl FnMut(GroupEntry<'_>),
    ) -> Result<Option<usize>> {
        self.delegate(move |db| db.xreadgroup_with(key, group, consumer, from, count, noack, visit))
    }
    fn xack(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        ids: &[StreamId],
    ) -> Result<u64> {
        self.delegate(move |db| db.xack(key, group, ids))
    }
    fn xpending(&self, key: impl AsRef<[u8]>, group: impl AsRef<[u8]>) -> Result<PendingSummary> {
        self.delegate(move |db| db.xpending(key, group))
    }
    fn xpending_range(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        start: StreamId,
        end: StreamId,
        count: usize,
        consumer: Option<&[u8]>,
        min_idle: i64,
    ) -> Result<Vec<PendingEntry>> {
        self.delegate(move |db| {
            db.xpending_range(key, group, start, end, count, consumer, min_idle)
        })
    }
    fn xclaim_with(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        min_idle: i64,
        ids: &[StreamId],
        opts: &XClaimOptions,
        visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<Vec<StreamId>> {
        self.delegate(move |db| db.xclaim_with(key, group, consumer, min_idle, ids, opts, visit))
    }
    fn xautoclaim_with(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        min_idle: i64,
        start: StreamId,
        count: usize,
        just_id: bool,
        visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<AutoClaim> {
        self.delegate(move |db| {
            db.xautoclaim_with(key, group, consumer, min_idle, start, count, just_id, visit)
        })
    }
    fn xgroup_exists(&self, key: impl AsRef<[u8]>, group: impl AsRef<[u8]>) -> Result<bool> {
        self.delegate(move |db| db.xgroup_exists(key, group))
    }
    fn xinfo_groups(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<GroupInfo>>> {
        self.delegate(move |db| db.xinfo_groups(key))
    }
    fn xinfo_consumers(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
    ) -> Result<Vec<ConsumerInfo>> {
        self.delegate(move |db| db.xinfo_consumers(key, group))
    }
    fn xinfo_full_with(
        &self,
        key: impl AsRef<[u8]>,
        count: usize,
        visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<Option<Vec<GroupFull>>> {
        self.delegate(move |db| db.xinfo_full_with(key, count, visit))
    }
}
