//! Streams in the RDB (`RDB_TYPE_STREAM_LISTPACKS_2`, and version 1 for reading): listpack
//! nodes keyed by their master ID, the stream's counters, then the consumer groups with their
//! pending entries and consumers.
//!
//! A node's listpack opens with its master entry (live count, deleted count, the master
//! fields, a 0), then holds entries of `flags, ms delta, seq delta, [field count, fields and
//! values | values], element count`; an entry with the master's fields stores only values.
//! Writing cuts nodes where Redis's `XADD` would (100 entries, or when the listpack plus the
//! next entry's fields and values reaches 4096 bytes), so a stream built by XADD dumps to
//! Redis's bytes.

use std::collections::BTreeMap;

use crate::types::{Stream, StreamGroup, StreamId};

use super::listpack::{self, Elem};
use super::{Corrupt, Reader, put_len, put_string};

const FLAG_DELETED: i64 = 1;
const FLAG_SAME_FIELDS: i64 = 2;
const NODE_MAX_ENTRIES: u64 = 100;
const NODE_MAX_BYTES: usize = 4096;

fn raw_id(id: StreamId) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&id.ms.to_be_bytes());
    out[8..].copy_from_slice(&id.seq.to_be_bytes());
    out
}

fn parse_raw_id(raw: &[u8]) -> Result<StreamId, Corrupt> {
    let raw: [u8; 16] = raw.try_into().map_err(|_| Corrupt)?;
    Ok(StreamId::new(
        u64::from_be_bytes(raw[..8].try_into().expect("eight bytes")),
        u64::from_be_bytes(raw[8..].try_into().expect("eight bytes")),
    ))
}

/// A node being filled: the master entry's tail (field count, fields, 0) and the entries.
struct Node {
    master: StreamId,
    fields: Vec<Vec<u8>>,
    head: listpack::Writer,
    body: listpack::Writer,
    count: u64,
}

impl Node {
    fn new(master: StreamId, fields: &[(&[u8], &[u8])]) -> Node {
        let mut head = listpack::Writer::new();
        head.push_int(fields.len() as i64);
        for (f, _) in fields {
            head.push(f);
        }
        head.push_int(0);
        Node {
            master,
            fields: fields.iter().map(|(f, _)| f.to_vec()).collect(),
            head,
            body: listpack::Writer::new(),
            count: 0,
        }
    }

    /// `lpBytes` of the node's listpack (its live count, at most 100, takes 2 bytes).
    fn bytes(&self) -> usize {
        6 + 2 + 2 + (self.head.bytes() - 7) + (self.body.bytes() - 7) + 1
    }

    fn push(&mut self, id: StreamId, fields: &[(&[u8], &[u8])]) {
        let same = fields.len() == self.fields.len()
            && fields
                .iter()
                .zip(&self.fields)
                .all(|((f, _), m)| *f == &m[..]);
        let b = &mut self.body;
        b.push_int(if same { FLAG_SAME_FIELDS } else { 0 });
        b.push_int(id.ms.wrapping_sub(self.master.ms) as i64);
        b.push_int(id.seq.wrapping_sub(self.master.seq) as i64);
        if !same {
            b.push_int(fields.len() as i64);
        }
        for (f, v) in fields {
            if !same {
                b.push(f);
            }
            b.push(v);
        }
        let n = fields.len() as i64;
        b.push_int(if same { n + 3 } else { 2 * n + 4 });
        self.count += 1;
    }

    fn finish(self) -> ([u8; 16], Vec<u8>) {
        let mut lp = listpack::Writer::new();
        lp.push_int(self.count as i64);
        lp.push_int(0);
        lp.append(&self.head);
        lp.append(&self.body);
        (raw_id(self.master), lp.finish())
    }
}

/// Appends a stream's payload (after its type byte).
pub(crate) fn put_stream(out: &mut Vec<u8>, s: &Stream) {
    let mut nodes = Vec::new();
    let mut cur: Option<Node> = None;
    for e in s.iter() {
        let fields: Vec<(&[u8], &[u8])> = e.fields().collect();
        let elements: usize = fields.iter().map(|(f, v)| f.len() + v.len()).sum();
        if let Some(n) = &cur
            && (n.bytes() + elements >= NODE_MAX_BYTES || n.count >= NODE_MAX_ENTRIES)
        {
            nodes.push(cur.take().expect("checked above").finish());
        }
        cur.get_or_insert_with(|| Node::new(e.id(), &fields))
            .push(e.id(), &fields);
    }
    nodes.extend(cur.map(Node::finish));
    put_len(out, nodes.len() as u64);
    for (key, lp) in &nodes {
        put_string(out, key);
        put_string(out, lp);
    }
    let (last, first, max_deleted) = (s.last_id(), s.first_id(), s.max_deleted());
    for n in [
        s.len(),
        last.ms,
        last.seq,
        first.ms,
        first.seq,
        max_deleted.ms,
        max_deleted.seq,
        s.entries_added(),
    ] {
        put_len(out, n);
    }
    put_len(out, s.groups().len() as u64);
    for (name, g) in s.groups() {
        put_string(out, name);
        put_len(out, g.last_id.ms);
        put_len(out, g.last_id.seq);
        put_len(out, g.entries_read.unwrap_or(u64::MAX));
        put_len(out, g.pel().len() as u64);
        for (&id, nack) in g.pel() {
            out.extend_from_slice(&raw_id(id));
            out.extend_from_slice(&nack.time.to_le_bytes());
            put_len(out, nack.count);
        }
        put_len(out, g.consumer_count() as u64);
        for (_, c) in g.consumers() {
            put_string(out, &c.name);
            out.extend_from_slice(&c.seen.to_le_bytes());
            put_len(out, c.pel.len() as u64);
            for &id in &c.pel {
                out.extend_from_slice(&raw_id(id));
            }
        }
    }
}

/// An integer element of a node.
fn int(e: Option<&Elem<'_>>) -> Result<i64, Corrupt> {
    match e {
        Some(Elem::Int(v)) => Ok(*v),
        _ => Err(Corrupt),
    }
}

fn string(e: Option<&Elem<'_>>) -> Result<Vec<u8>, Corrupt> {
    e.map(|e| e.to_vec()).ok_or(Corrupt)
}

/// Loads one node's live entries into `s`, checking its counts and that IDs ascend.
fn read_node(
    s: &mut Stream,
    master: StreamId,
    lp: &[u8],
    last: &mut Option<StreamId>,
) -> Result<(), Corrupt> {
    let elems = listpack::elements(lp)?;
    let mut it = elems.iter();
    let live = int(it.next())?;
    let deleted = int(it.next())?;
    let nf = usize::try_from(int(it.next())?).map_err(|_| Corrupt)?;
    let mut master_fields = Vec::new();
    for _ in 0..nf {
        master_fields.push(string(it.next())?);
    }
    if int(it.next())? != 0 {
        return Err(Corrupt);
    }
    let (mut seen_live, mut seen_deleted) = (0i64, 0i64);
    while let Some(flags) = it.next() {
        let flags = int(Some(flags))?;
        let ms = master.ms.wrapping_add(int(it.next())? as u64);
        let seq = master.seq.wrapping_add(int(it.next())? as u64);
        let id = StreamId::new(ms, seq);
        if last.is_some_and(|l| id <= l) || id < master {
            return Err(Corrupt);
        }
        *last = Some(id);
        let mut pairs = Vec::new();
        if flags & FLAG_SAME_FIELDS != 0 {
            for f in &master_fields {
                pairs.push((f.clone(), string(it.next())?));
            }
        } else {
            let n = usize::try_from(int(it.next())?).map_err(|_| Corrupt)?;
            for _ in 0..n {
                let f = string(it.next())?;
                pairs.push((f, string(it.next())?));
            }
        }
        let n = pairs.len() as i64;
        let expected = if flags & FLAG_SAME_FIELDS != 0 {
            n + 3
        } else {
            2 * n + 4
        };
        if int(it.next())? != expected || pairs.is_empty() {
            return Err(Corrupt);
        }
        if flags & FLAG_DELETED != 0 {
            seen_deleted += 1;
        } else {
            seen_live += 1;
            let borrowed: Vec<(&[u8], &[u8])> =
                pairs.iter().map(|(f, v)| (&f[..], &v[..])).collect();
            s.load(id, &borrowed);
        }
    }
    if seen_live != live || seen_deleted != deleted {
        return Err(Corrupt);
    }
    Ok(())
}

fn read_id(r: &mut Reader<'_>) -> Result<StreamId, Corrupt> {
    Ok(StreamId::new(r.len()?, r.len()?))
}

/// Reads a stream's payload; `v2` for `RDB_TYPE_STREAM_LISTPACKS_2`.
///
/// # Errors
/// [`Corrupt`] for damaged bytes or an inconsistent stream (counts that do not match, IDs out
/// of order, a pending entry nobody owns, duplicate groups or consumers).
pub(crate) fn read_stream(r: &mut Reader<'_>, v2: bool) -> Result<Stream, Corrupt> {
    let mut s = Stream::new();
    let nodes = r.len()?;
    let mut last = None;
    for _ in 0..nodes {
        let master = parse_raw_id(&r.string()?)?;
        let lp = r.string()?;
        read_node(&mut s, master, &lp, &mut last)?;
    }
    let length = r.len()?;
    let last_id = read_id(r)?;
    if length != s.len() || last.is_some_and(|l| l > last_id) {
        return Err(Corrupt);
    }
    let (added, max_deleted) = if v2 {
        let _first = read_id(r)?;
        let max_deleted = read_id(r)?;
        (r.len()?, max_deleted)
    } else {
        (length, StreamId::MIN)
    };
    s.set_id(last_id, Some(added), Some(max_deleted));
    let groups = r.len()?;
    for _ in 0..groups {
        let name = r.string()?;
        let last_id = read_id(r)?;
        let entries_read = if v2 {
            Some(r.len()?).filter(|&n| n != u64::MAX)
        } else {
            s.read_counter(last_id)
        };
        if s.groups().contains_key(&name[..]) {
            return Err(Corrupt);
        }
        let mut g = StreamGroup::new(last_id, entries_read);
        let mut pel: BTreeMap<StreamId, (u64, u64, Option<u32>)> = BTreeMap::new();
        for _ in 0..r.len()? {
            let id = parse_raw_id(r.take(16)?)?;
            let time = r.ms_time()?;
            let count = r.len()?;
            if pel.insert(id, (time, count, None)).is_some() {
                return Err(Corrupt);
            }
        }
        for _ in 0..r.len()? {
            let name = r.string()?;
            let (n, created) = g.create_consumer(&name, 0);
            if !created {
                return Err(Corrupt);
            }
            g.touch(n, r.ms_time()?, None);
            for _ in 0..r.len()? {
                let id = parse_raw_id(r.take(16)?)?;
                match pel.get_mut(&id) {
                    Some((_, _, owner @ None)) => *owner = Some(n),
                    _ => return Err(Corrupt),
                }
            }
        }
        for (id, (time, count, owner)) in pel {
            g.assign(id, owner.ok_or(Corrupt)?, time, count);
        }
        s.groups_mut().insert(name.into(), g);
    }
    Ok(s)
}
