//! The log file's bytes: its header, the frame (kvcore's layout), the records, and the replay
//! that turns a file back into a [`State`] (docs/format.md, *The Raft log*).

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState};

use super::state::State;

/// A log file starts with these 32 bytes' magic.
const MAGIC: &[u8; 8] = b"KVRAFTLG";
const VERSION: u32 = 1;
/// Bytes of the file header.
pub(crate) const HEADER_LEN: usize = 32;
/// Bytes of a frame before its payload: length and CRC.
const FRAME_HEADER: usize = 8;
/// The smallest payload: the sequence number and the kind byte.
const MIN_PAYLOAD: usize = 9;

const BASE: u8 = 1;
const ENTRY: u8 = 2;
const HARD_STATE: u8 = 3;
const CONF_STATE: u8 = 4;
const COMMIT: u8 = 5;

/// One change to the log's state, as a record says it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    /// The first record of every file: the entry before the first one held, and the snapshot
    /// the file was written against (both `(index, term)`, `(0, 0)` for none).
    Base { base: (u64, u64), snap: (u64, u64) },
    /// One entry; an index at or below the last one held replaces it and everything after it.
    Entry(Entry),
    /// The whole hard state.
    HardState(HardState),
    /// The whole configuration state.
    ConfState(ConfState),
    /// The hard state's commit index alone.
    Commit(u64),
}

/// The 32-byte file header of generation `gen`.
pub(crate) fn header(generation: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&generation.to_le_bytes());
    let crc = crc32fast::hash(&h[..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Appends record `seq` to `out`.
///
/// # Errors
/// [`crate::Error::TooLarge`] if its payload does not fit a frame; `out` is unchanged then.
pub(crate) fn put(out: &mut Vec<u8>, seq: u64, record: &Record) -> crate::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    out.extend_from_slice(&seq.to_le_bytes());
    let pb = |out: &mut Vec<u8>, kind: u8, m: &dyn protobuf::Message| {
        out.push(kind);
        // Writing a message into a Vec cannot fail: protobuf's errors here are I/O errors
        // of the writer, and a Vec's writes do not fail.
        m.write_to_vec(out).expect("writing protobuf into a Vec");
    };
    match record {
        Record::Base { base, snap } => {
            out.push(BASE);
            for v in [base.0, base.1, snap.0, snap.1] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        Record::Entry(e) => pb(out, ENTRY, e),
        Record::HardState(hs) => {
            out.push(HARD_STATE);
            for v in [hs.term, hs.vote, hs.commit] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        Record::ConfState(cs) => pb(out, CONF_STATE, cs),
        Record::Commit(c) => {
            out.push(COMMIT);
            out.extend_from_slice(&c.to_le_bytes());
        }
    }
    let len = out.len() - start - FRAME_HEADER;
    let Ok(len32) = u32::try_from(len) else {
        out.truncate(start);
        return Err(crate::Error::TooLarge {
            what: "raft log record",
            len,
        });
    };
    let crc = crc32fast::hash(&out[start + FRAME_HEADER..]);
    out[start..start + 4].copy_from_slice(&len32.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("a 4-byte slice"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("an 8-byte slice"))
}

/// The frame at `pos`: its payload and the offset after it, or why it is not a valid frame.
fn frame(data: &[u8], pos: usize) -> Result<(&[u8], usize), String> {
    let rest = data.len() - pos;
    if rest < FRAME_HEADER {
        return Err("incomplete frame header".into());
    }
    let len = u32_at(data, pos) as usize;
    if len < MIN_PAYLOAD {
        return Err(format!("frame length {len} is too small"));
    }
    if len > rest - FRAME_HEADER {
        return Err(format!("frame length {len} runs past the end of the file"));
    }
    let payload = &data[pos + FRAME_HEADER..pos + FRAME_HEADER + len];
    if crc32fast::hash(payload) != u32_at(data, pos + 4) {
        return Err("frame failed its checksum".into());
    }
    Ok((payload, pos + FRAME_HEADER + len))
}

/// Decodes a record's body (after the sequence number).
fn decode(body: &[u8]) -> Result<Record, String> {
    let (&kind, rest) = body.split_first().ok_or("empty record")?;
    let fixed = |n: usize| {
        if rest.len() == n * 8 {
            Ok((0..n).map(|i| u64_at(rest, i * 8)).collect::<Vec<_>>())
        } else {
            Err(format!("record kind {kind} has {} bytes", rest.len()))
        }
    };
    Ok(match kind {
        BASE => {
            let v = fixed(4)?;
            Record::Base {
                base: (v[0], v[1]),
                snap: (v[2], v[3]),
            }
        }
        ENTRY => Record::Entry(Entry::parse_from_bytes(rest).map_err(|e| e.to_string())?),
        HARD_STATE => {
            let v = fixed(3)?;
            Record::HardState(HardState {
                term: v[0],
                vote: v[1],
                commit: v[2],
                ..HardState::default()
            })
        }
        CONF_STATE => {
            Record::ConfState(ConfState::parse_from_bytes(rest).map_err(|e| e.to_string())?)
        }
        COMMIT => Record::Commit(fixed(1)?[0]),
        k => return Err(format!("unknown record kind {k}")),
    })
}

/// What reading a log file found.
#[derive(Debug)]
pub(crate) struct Replayed {
    pub(crate) state: State,
    /// The offset after the last valid record: where appending resumes.
    pub(crate) end: usize,
    /// The next record's sequence number.
    pub(crate) next_seq: u64,
    /// A torn tail at `end` that the caller cuts off: why the frame there is not valid.
    pub(crate) torn: Option<String>,
}

/// Whether a valid frame holding a record numbered after `last_seq` starts after `from`: if
/// one does, damage at `from` is not a torn tail but corruption in the middle of the file.
fn valid_record_after(data: &[u8], from: usize, last_seq: u64) -> bool {
    let mut pos = from + 1;
    while pos + FRAME_HEADER + MIN_PAYLOAD <= data.len() {
        let seq = u64_at(data, pos + FRAME_HEADER);
        if seq > last_seq && seq - last_seq < (1 << 32) && frame(data, pos).is_ok() {
            return true;
        }
        pos += 1;
    }
    false
}

/// Reads a whole log file of generation `generation`: header, then records in order.
///
/// # Errors
/// The offset and reason of damage that is not a torn tail: a bad header, a record that does
/// not decode or does not fit the state, a bad frame followed by a valid one, or a file
/// without its `Base` record.
pub(crate) fn replay(data: &[u8], generation: u64) -> Result<Replayed, (u64, String)> {
    if data.len() < HEADER_LEN {
        return Err((0, format!("the file is only {} bytes long", data.len())));
    }
    if &data[..8] != MAGIC {
        return Err((0, "not a raft log file (bad magic)".into()));
    }
    if u32_at(data, 24) != crc32fast::hash(&data[..24]) {
        return Err((24, "the header failed its checksum".into()));
    }
    let version = u32_at(data, 8);
    if version != VERSION {
        return Err((8, format!("unsupported version {version}")));
    }
    if u32_at(data, 28) != 0 {
        return Err((28, "the header's reserved bytes are not zero".into()));
    }
    if u64_at(data, 16) != generation {
        return Err((
            16,
            "the header's generation differs from the file name".into(),
        ));
    }
    let mut state: Option<State> = None;
    let mut pos = HEADER_LEN;
    let mut seq = 0u64;
    let mut torn = None;
    while pos < data.len() {
        let (payload, next) = match frame(data, pos) {
            Ok(f) if u64_at(f.0, 0) == seq + 1 => f,
            Ok(f) => {
                let reason = format!("record {} where {} was expected", u64_at(f.0, 0), seq + 1);
                return Err((pos as u64, reason));
            }
            // Zeros from here to the end of the file: space the writer filled ahead of its
            // records (`Writer::fill_zeros`), a clean end.
            Err(_) if data[pos..].iter().all(|&b| b == 0) => break,
            Err(reason) => {
                if valid_record_after(data, pos, seq) {
                    return Err((pos as u64, format!("record {}: {reason}", seq + 1)));
                }
                torn = Some(format!("record {}: {reason}", seq + 1));
                break;
            }
        };
        let record = decode(&payload[8..]).map_err(|r| (pos as u64, r))?;
        let applied = match (&mut state, record) {
            (None, Record::Base { base, snap }) => {
                state = Some(State::new(base, snap));
                Ok(())
            }
            (None, _) => Err("the first record is not the file's base".to_string()),
            (Some(s), r) => s.apply(r),
        };
        applied.map_err(|r| (pos as u64, r))?;
        seq += 1;
        pos = next;
    }
    let Some(state) = state else {
        return Err((HEADER_LEN as u64, "the file has no base record".into()));
    };
    Ok(Replayed {
        state,
        end: pos,
        next_seq: seq + 1,
        torn,
    })
}
