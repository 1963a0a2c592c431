//! Consumer groups of a stream: Redis's `streamCG`, `streamConsumer` and `streamNACK`.
//!
//! A group has a last-delivered ID, an entries-read counter (None: unknown, Redis's -1), its
//! consumers and its pending entries list (PEL): every entry delivered and not yet
//! acknowledged, with its owner, its last delivery time and its delivery count. Redis keeps
//! the PEL twice (the group's radix tree and the owner's, sharing the NACK); here the group's
//! PEL is a `BTreeMap` from ID to NACK (owner as a consumer number, 24 bytes) and each
//! consumer keeps a `BTreeSet` of its IDs, so "pending of one consumer" (XPENDING with a
//! consumer, XINFO, XREADGROUP's history) walks only that consumer's entries.
//!
//! Consumers live in a slab (`Vec<Option<Consumer>>`, freed numbers reused) indexed by name
//! in byte order, which is the order Redis's radix tree lists them in.

use std::collections::{BTreeMap, BTreeSet};

use super::stream::StreamId;

/// A pending entry: who it was last delivered to, when, and how many times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nack {
    pub(crate) owner: u32,
    pub(crate) time: u64,
    pub(crate) count: u64,
}

/// One consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Consumer {
    pub(crate) name: Box<[u8]>,
    /// When it last read or claimed (or tried to), unix ms (Redis's seen-time).
    pub(crate) seen: u64,
    /// When it last got entries, unix ms (Redis 7.2's active-time); None: never.
    pub(crate) active: Option<u64>,
    pub(crate) pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Group {
    pub(crate) last_id: StreamId,
    pub(crate) entries_read: Option<u64>,
    pel: BTreeMap<StreamId, Nack>,
    consumers: Vec<Option<Consumer>>,
    free: Vec<u32>,
    by_name: BTreeMap<Box<[u8]>, u32>,
}

impl Group {
    pub(crate) fn new(last_id: StreamId, entries_read: Option<u64>) -> Group {
        Group {
            last_id,
            entries_read,
            ..Group::default()
        }
    }

    /// The group's PEL, in ID order.
    pub(crate) fn pel(&self) -> &BTreeMap<StreamId, Nack> {
        &self.pel
    }

    pub(crate) fn nack(&self, id: StreamId) -> Option<&Nack> {
        self.pel.get(&id)
    }

    /// How many consumers it has.
    pub(crate) fn consumer_count(&self) -> usize {
        self.by_name.len()
    }

    /// The consumers, in name order, with their numbers.
    pub(crate) fn consumers(&self) -> impl Iterator<Item = (u32, &Consumer)> + '_ {
        self.by_name
            .values()
            .map(|&n| (n, self.consumer(n).expect("named consumers exist")))
    }

    /// Consumer number `n`.
    pub(crate) fn consumer(&self, n: u32) -> Option<&Consumer> {
        self.consumers.get(n as usize).and_then(Option::as_ref)
    }

    fn consumer_mut(&mut self, n: u32) -> &mut Consumer {
        // Numbers come from `by_name` or the PEL, which only hold live consumers.
        self.consumers[n as usize]
            .as_mut()
            .expect("a live consumer number")
    }

    /// The number of the consumer called `name`.
    pub(crate) fn find(&self, name: &[u8]) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// The consumer called `name`, created (seen at `now`) if missing; true if created.
    pub(crate) fn create_consumer(&mut self, name: &[u8], now: u64) -> (u32, bool) {
        if let Some(n) = self.find(name) {
            return (n, false);
        }
        let c = Consumer {
            name: name.into(),
            seen: now,
            active: None,
            pel: BTreeSet::new(),
        };
        let n = match self.free.pop() {
            Some(n) => {
                self.consumers[n as usize] = Some(c);
                n
            }
            None => {
                self.consumers.push(Some(c));
                (self.consumers.len() - 1) as u32
            }
        };
        self.by_name.insert(name.into(), n);
        (n, true)
    }

    /// Sets consumer `n`'s seen time (and active time, if given).
    pub(crate) fn touch(&mut self, n: u32, seen: u64, active: Option<u64>) {
        let c = self.consumer_mut(n);
        c.seen = seen;
        if active.is_some() {
            c.active = active;
        }
    }

    /// Deletes the consumer called `name` and its pending entries; how many it had.
    pub(crate) fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let n = self.by_name.remove(name)?;
        let c = self.consumers[n as usize]
            .take()
            .expect("named consumers exist");
        for id in &c.pel {
            self.pel.remove(id);
        }
        self.free.push(n);
        Some(c.pel.len())
    }

    /// Makes `id` pending for consumer `owner`, delivered at `time`, `count` times (moving it
    /// from its previous owner, if any).
    pub(crate) fn assign(&mut self, id: StreamId, owner: u32, time: u64, count: u64) {
        let nack = Nack { owner, time, count };
        if let Some(old) = self.pel.insert(id, nack)
            && old.owner != owner
        {
            self.consumer_mut(old.owner).pel.remove(&id);
        }
        self.consumer_mut(owner).pel.insert(id);
    }

    /// Updates a pending entry's delivery time and count in place.
    pub(crate) fn redeliver(&mut self, id: StreamId, time: u64, count: u64) {
        if let Some(n) = self.pel.get_mut(&id) {
            n.time = time;
            n.count = count;
        }
    }

    /// Removes `id` from the PEL (XACK); false if it was not pending.
    pub(crate) fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                self.consumer_mut(n.owner).pel.remove(&id);
                true
            }
            None => false,
        }
    }

    /// Heap bytes, estimated: a B-tree entry costs its key and value plus about half more
    /// (nodes filled to about 2/3 by in-order inserts).
    pub(crate) fn memory_usage(&self) -> usize {
        let pel = self.pel.len() * (16 + 24) * 3 / 2;
        let consumers: usize = self
            .consumers
            .iter()
            .flatten()
            .map(|c| 96 + 2 * super::alloc_size(c.name.len()) + c.pel.len() * 16 * 3 / 2)
            .sum();
        std::mem::size_of::<Group>() + pel + consumers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> StreamId {
        StreamId::new(n, 0)
    }

    #[test]
    fn assign_moves_entries_between_consumers_and_ack_removes_them() {
        let mut g = Group::new(StreamId::MIN, Some(0));
        let (a, new) = g.create_consumer(b"a", 5);
        assert!(new);
        let (b, _) = g.create_consumer(b"b", 6);
        assert_eq!(g.create_consumer(b"a", 9), (a, false));
        g.assign(id(1), a, 10, 1);
        g.assign(id(2), a, 10, 1);
        g.assign(id(1), b, 20, 2);
        assert_eq!(g.consumer(a).unwrap().pel.len(), 1);
        assert_eq!(g.consumer(b).unwrap().pel.len(), 1);
        assert_eq!(
            g.nack(id(1)),
            Some(&Nack {
                owner: b,
                time: 20,
                count: 2
            })
        );
        assert!(g.ack(id(1)));
        assert!(!g.ack(id(1)));
        assert!(g.consumer(b).unwrap().pel.is_empty());
        assert_eq!(g.delete_consumer(b"a"), Some(1));
        assert!(g.pel().is_empty());
        // The freed number is reused; names stay in byte order.
        let (c, _) = g.create_consumer(b"0", 7);
        assert_eq!(c, a);
        let names: Vec<&[u8]> = g.consumers().map(|(_, c)| &*c.name).collect();
        assert_eq!(names, [&b"0"[..], b"b"]);
    }
}
