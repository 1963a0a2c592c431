//! The frame both files use: `[len u32 LE][crc32 u32 LE of payload][payload]`.
//!
//! In the log the payload starts with the record's sequence number (u64 LE); in a snapshot it is
//! a postcard-encoded entry. A frame is valid only if its whole payload is present and its CRC
//! matches, so a torn or flipped byte anywhere is detected.

/// Bytes before the payload: length and CRC.
pub(crate) const FRAME_HEADER: usize = 8;

/// The largest payload a frame can hold: what its `u32` length can say.
pub(crate) const MAX_PAYLOAD: usize = u32::MAX as usize;

/// Appends a frame holding `payload` to `out`.
///
/// # Panics
/// If `payload` is longer than [`MAX_PAYLOAD`]: callers check [`fits`] first.
pub(crate) fn put(out: &mut Vec<u8>, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("callers check `fits` before framing");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Whether a payload of `len` bytes can be framed under `limit` (at most [`MAX_PAYLOAD`]; a
/// store configured with a lower limit, as tests are, uses that).
pub(crate) fn fits(len: usize, limit: usize) -> bool {
    len <= limit.min(MAX_PAYLOAD)
}

/// Reads a little-endian u32 at `at` (the caller checked the bounds).
pub(crate) fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Reads a little-endian u64 at `at` (the caller checked the bounds).
pub(crate) fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Why the bytes at some offset are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bad {
    /// Fewer than 8 bytes remain: a torn frame header.
    ShortHeader,
    /// The length runs past the end of the data.
    ShortPayload { len: u32 },
    /// The payload is shorter than the format's minimum.
    TooSmall { len: u32 },
    /// The CRC does not match.
    Checksum,
}

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bad::ShortHeader => f.write_str("incomplete frame header"),
            Bad::ShortPayload { len } => {
                write!(f, "frame length {len} runs past the end of the file")
            }
            Bad::TooSmall { len } => write!(f, "frame length {len} is too small"),
            Bad::Checksum => f.write_str("frame failed its checksum"),
        }
    }
}

/// Reads the frame at `pos`: its payload and the offset just past it.
pub(crate) fn read(data: &[u8], pos: usize, min_payload: usize) -> Result<(&[u8], usize), Bad> {
    let rest = data.len().saturating_sub(pos);
    if rest < FRAME_HEADER {
        return Err(Bad::ShortHeader);
    }
    let len = u32_at(data, pos);
    if (len as usize) < min_payload {
        return Err(Bad::TooSmall { len });
    }
    if len as usize > rest - FRAME_HEADER {
        return Err(Bad::ShortPayload { len });
    }
    let start = pos + FRAME_HEADER;
    let payload = &data[start..start + len as usize];
    if crc32fast::hash(payload) != u32_at(data, pos + 4) {
        return Err(Bad::Checksum);
    }
    Ok((payload, start + len as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        put(&mut v, payload);
        v
    }

    #[test]
    fn reads_back_and_detects_damage() {
        let f = framed(b"0123456789");
        let cases: Vec<(Vec<u8>, Result<usize, Bad>)> = vec![
            (f.clone(), Ok(f.len())),
            (f[..5].to_vec(), Err(Bad::ShortHeader)),
            (
                f[..f.len() - 1].to_vec(),
                Err(Bad::ShortPayload { len: 10 }),
            ),
            (
                {
                    let mut g = f.clone();
                    g[12] ^= 1;
                    g
                },
                Err(Bad::Checksum),
            ),
            (
                {
                    let mut g = f.clone();
                    g[0] = 3;
                    g
                },
                Err(Bad::TooSmall { len: 3 }),
            ),
            (
                {
                    let mut g = f.clone();
                    g[0] = 9;
                    g
                },
                Err(Bad::Checksum),
            ),
            (
                {
                    let mut g = f.clone();
                    g[3] = 1;
                    g
                },
                Err(Bad::ShortPayload {
                    len: 10 + (1 << 24),
                }),
            ),
            (Vec::new(), Err(Bad::ShortHeader)),
        ];
        for (data, expected) in cases {
            assert_eq!(read(&data, 0, 8).map(|(_, end)| end), expected);
        }
    }
}
