//! The state machine: a kvcore store that the Raft log's entries are applied to.
//!
//! An entry's data is a piece of the leader's replication stream (kvcore's Redis-protocol
//! record of every effect, `kvcore/src/repl/`): the kind byte, the stream offset of its first
//! byte (u64, little-endian), then the bytes. Offsets are the stream's own: every leader
//! continues the stream at the offset the log reached, so each byte has one number across
//! the group's history, and applying is by offset: bytes at or below the offset the store
//! already reflects are skipped. That one rule covers the leader (which ran the commands
//! itself, so its own entries are skipped when they commit), a node that loaded a snapshot
//! taken in the middle of an entry, and a log replayed after a restart.
//!
//! A snapshot's data is the stream offset it reflects (u64), the database the stream had
//! selected there (u64), then an RDB of the whole store (`Kv::write_rdb`'s format).

use kvcore::{Kv, StreamApplier};

use crate::error::{Error, Result};

/// The kind byte of an entry holding stream bytes.
const STREAM: u8 = 1;

/// Encodes an entry's data: `bytes` of the stream, the first of them at offset `start`.
pub(crate) fn encode_entry(start: u64, bytes: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(9 + bytes.len());
    data.push(STREAM);
    data.extend_from_slice(&start.to_le_bytes());
    data.extend_from_slice(bytes);
    data
}

/// Decodes an entry's data: `None` for an empty entry (a new leader's), else the offset of
/// its first byte and the bytes.
pub(crate) fn decode_entry(data: &[u8]) -> Result<Option<(u64, &[u8])>> {
    if data.is_empty() {
        return Ok(None);
    }
    if data.len() < 9 || data[0] != STREAM {
        return Err(Error::Invalid(format!(
            "a raft entry of {} bytes is not a stream piece",
            data.len()
        )));
    }
    let start = u64::from_le_bytes(data[1..9].try_into().expect("8 bytes, checked above"));
    Ok(Some((start, &data[9..])))
}

/// Encodes a snapshot's data around an RDB.
pub(crate) fn snapshot_header(offset: u64, db: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(16);
    data.extend_from_slice(&offset.to_le_bytes());
    data.extend_from_slice(&(db as u64).to_le_bytes());
    data
}

/// The applying side of a node's store.
pub(crate) struct Machine {
    kv: Kv,
    applier: StreamApplier,
}

impl Machine {
    /// A machine over an empty `kv` (the stream at offset 0).
    pub(crate) fn new(kv: Kv) -> Machine {
        kv.set_passive_expiry(true);
        kv.replication().set_generating(false);
        let applier = StreamApplier::new(kv.clone(), 0);
        Machine { kv, applier }
    }

    /// The offset the store reflects.
    pub(crate) fn offset(&self) -> u64 {
        self.applier.offset()
    }

    /// The database selected at [`Machine::offset`].
    pub(crate) fn selected_db(&self) -> usize {
        self.applier.selected_db()
    }

    /// Continues applying from `offset` with database `db` selected (after this node led and
    /// its own commands brought the store there).
    pub(crate) fn continue_at(&mut self, offset: u64, db: usize) {
        self.applier = StreamApplier::new(self.kv.clone(), offset).with_selected_db(db);
    }

    /// Applies an entry's data; returns the offset of its last byte, if it has any.
    pub(crate) fn apply(&mut self, data: &[u8]) -> Result<Option<u64>> {
        let Some((start, bytes)) = decode_entry(data)? else {
            return Ok(None);
        };
        if bytes.is_empty() {
            return Ok(None);
        }
        let end = start + bytes.len() as u64 - 1;
        let have = self.applier.offset();
        if end <= have {
            return Ok(Some(end));
        }
        if start > have + 1 {
            return Err(Error::Invalid(format!(
                "a raft entry starts at stream offset {start}, after a gap (the store is at {have})"
            )));
        }
        let skip = (have + 1 - start) as usize;
        self.applier.apply(&bytes[skip..])?;
        Ok(Some(end))
    }

    /// Empties the store and loads a snapshot's data into it, parsed in place (a snapshot
    /// file mapped into memory: [`crate::SnapshotReader::map`]).
    pub(crate) fn load(&mut self, data: &[u8]) -> Result<()> {
        let Some((header, rdb)) = data.split_first_chunk::<16>() else {
            return Err(Error::Invalid(format!(
                "a raft snapshot without its 16-byte header ({} bytes)",
                data.len()
            )));
        };
        let offset = u64::from_le_bytes(header[0..8].try_into().expect("8 bytes"));
        let db = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes")) as usize;
        self.clear()?;
        self.kv.load_rdb_bytes(rdb)?;
        self.applier = StreamApplier::new(self.kv.clone(), offset).with_selected_db(db);
        Ok(())
    }

    /// Empties the store (the stream back at offset 0).
    pub(crate) fn clear(&mut self) -> Result<()> {
        self.kv.replication().set_generating(false);
        self.kv.flushall()?;
        let functions = self.kv.function_store();
        functions.flush()?;
        functions.commit()?;
        self.applier = StreamApplier::new(self.kv.clone(), 0);
        Ok(())
    }

    /// Whether bytes are held back (a partial command, an open MULTI): a snapshot now would
    /// not be at the applied entry's end.
    pub(crate) fn has_pending(&self) -> bool {
        self.applier.pending() > 0
    }

    /// A snapshot of the store as it is: only valid while nothing else writes to it (a
    /// follower, between two applied entries).
    pub(crate) fn snapshot(&self) -> Result<Vec<u8>> {
        let mut data = snapshot_header(self.applier.offset(), self.applier.selected_db());
        self.kv.write_rdb(&mut data)?;
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, value: &str) -> Vec<u8> {
        format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
            key.len(),
            value.len()
        )
        .into_bytes()
    }

    #[test]
    fn entries_apply_by_offset_once() {
        let kv = Kv::in_memory(kvcore::Options::default());
        let mut m = Machine::new(kv.clone());
        let a = set("a", "1");
        let b = set("b", "2");
        let end_a = m.apply(&encode_entry(1, &a)).unwrap().unwrap();
        assert_eq!(end_a, a.len() as u64);
        // The same entry again (a replayed log) changes nothing.
        kv.db(0).unwrap();
        assert_eq!(m.apply(&encode_entry(1, &a)).unwrap(), Some(end_a));
        // An entry that overlaps what is applied is applied from the first new byte.
        let mut both = a.clone();
        both.extend_from_slice(&b);
        m.apply(&encode_entry(1, &both)).unwrap();
        use kvcore::Store;
        assert_eq!(kv.db(0).unwrap().get("b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(m.offset(), both.len() as u64);
        // A gap is refused.
        let far = encode_entry(both.len() as u64 + 10, &set("c", "3"));
        assert!(matches!(m.apply(&far), Err(Error::Invalid(_))));
        // An empty entry (a new leader's) is nothing.
        assert_eq!(m.apply(&[]).unwrap(), None);
    }

    #[test]
    fn a_snapshot_loads_into_another_store_with_its_offset() {
        use kvcore::Store;
        let kv = Kv::in_memory(kvcore::Options::default());
        let mut m = Machine::new(kv.clone());
        let a = set("a", "1");
        m.apply(&encode_entry(1, &a)).unwrap();
        let snap = m.snapshot().unwrap();
        let other = Kv::in_memory(kvcore::Options::default());
        other.db(0).unwrap().set("stale", "x").unwrap();
        let mut n = Machine::new(other.clone());
        n.load(&snap[..]).unwrap();
        assert_eq!(n.offset(), a.len() as u64);
        let db = other.db(0).unwrap();
        assert_eq!(db.get("a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(db.get("stale").unwrap(), None);
    }
}
