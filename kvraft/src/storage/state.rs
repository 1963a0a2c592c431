//! The log's state in memory: what replaying the records builds and what the store serves.

use raft::eraftpb::{ConfState, Entry, HardState};

use super::record::Record;

/// The entries held, the hard and configuration states, and where the log and the newest
/// snapshot begin.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct State {
    /// `(index, term)` of the entry just before the first one held (the log's truncation
    /// point): `term` answers for it although its entry is gone.
    pub(crate) base: (u64, u64),
    /// `(index, term)` of the newest snapshot, `(0, 0)` for none; never below `base`.
    pub(crate) snap: (u64, u64),
    /// `entries[i]` has index `base.0 + 1 + i`.
    pub(crate) entries: Vec<Entry>,
    pub(crate) hard_state: HardState,
    pub(crate) conf_state: ConfState,
}

impl State {
    pub(crate) fn new(base: (u64, u64), snap: (u64, u64)) -> State {
        State {
            base,
            snap,
            ..State::default()
        }
    }

    pub(crate) fn first_index(&self) -> u64 {
        self.base.0 + 1
    }

    pub(crate) fn last_index(&self) -> u64 {
        self.base.0 + self.entries.len() as u64
    }

    /// The term of entry `index` if the log knows it (the base included).
    pub(crate) fn term(&self, index: u64) -> Option<u64> {
        if index == self.base.0 {
            return Some(self.base.1);
        }
        if index < self.base.0 || index > self.last_index() {
            return None;
        }
        Some(self.entries[(index - self.base.0 - 1) as usize].term)
    }

    /// Checks that `entries` can be appended: consecutive, starting after the base and at most
    /// one past the last entry.
    pub(crate) fn check_append(&self, entries: &[Entry]) -> Result<(), crate::Error> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let bad = || crate::Error::BadAppend {
            index: first.index,
            first: self.first_index(),
            last: self.last_index(),
        };
        if first.index <= self.base.0 || first.index > self.last_index() + 1 {
            return Err(bad());
        }
        if entries.windows(2).any(|w| w[1].index != w[0].index + 1) {
            return Err(bad());
        }
        Ok(())
    }

    /// Appends entries that passed [`State::check_append`], dropping the suffix they replace.
    pub(crate) fn append(&mut self, entries: &[Entry]) {
        if let Some(first) = entries.first() {
            self.entries
                .truncate((first.index - self.base.0 - 1) as usize);
            self.entries.extend_from_slice(entries);
        }
    }

    /// Moves the base to `(index, term)`: the entries up to `index` are dropped, and the rest
    /// too unless the log holds `index` with that `term` (a snapshot from the leader that the
    /// log does not match replaces the whole log).
    pub(crate) fn rebase(&mut self, index: u64, term: u64) {
        if self.term(index) == Some(term) && index >= self.base.0 {
            self.entries.drain(..(index - self.base.0) as usize);
        } else {
            self.entries.clear();
        }
        self.base = (index, term);
    }

    /// Applies one record read back from the log (after the file's `Base`).
    pub(crate) fn apply(&mut self, record: Record) -> Result<(), String> {
        match record {
            Record::Base { .. } => return Err("a second base record".into()),
            Record::Entry(e) => {
                let entries = [e];
                self.check_append(&entries).map_err(|e| e.to_string())?;
                self.append(&entries);
            }
            Record::HardState(hs) => self.hard_state = hs,
            Record::ConfState(cs) => self.conf_state = cs,
            Record::Commit(c) => self.hard_state.commit = c,
        }
        Ok(())
    }

    /// The records that rebuild this state in a new file, the base first.
    pub(crate) fn records(&self) -> impl Iterator<Item = Record> + '_ {
        [
            Record::Base {
                base: self.base,
                snap: self.snap,
            },
            Record::HardState(self.hard_state.clone()),
            Record::ConfState(self.conf_state.clone()),
        ]
        .into_iter()
        .chain(self.entries.iter().cloned().map(Record::Entry))
    }
}
