//! LZF, the compression Redis applies to strings longer than 20 bytes in DUMP payloads and
//! RDB files (liblzf 3.6 as Redis builds it: a 2^16-entry hash table, the `VERY_FAST` variant).
//!
//! The format: a control byte `000LLLLL` starts a literal run of L+1 bytes; `LLLooooo oooooooo`
//! copies L+2 bytes (L < 7) from `o+1` bytes back; `111ooooo LLLLLLLL oooooooo` copies L+9
//! bytes. The compressor makes the same choices as Redis's, so kv's payloads are byte for byte
//! Redis's (the tests compare with DUMP payloads recorded from redis-server).

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// The hash-table slot of the three bytes folded into `h` (liblzf's `IDX`, `VERY_FAST`).
fn slot(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

thread_local! {
    /// The compressor's hash table, all zeros between calls: each call puts back to zero the
    /// slots it wrote. Zeroing all 256 KiB for every string cost far more than compressing a
    /// short one (writing a million 100-byte values took seconds, nearly all of it memset).
    static TABLE: std::cell::RefCell<Box<[u32]>> =
        std::cell::RefCell::new(vec![0; HSIZE].into_boxed_slice());
}

/// Compresses `input` into at most `limit` bytes, or `None` when it does not fit (Redis asks
/// for 4 bytes less than the input, and stores the string as it is otherwise).
pub(crate) fn compress(input: &[u8], limit: usize) -> Option<Vec<u8>> {
    if input.is_empty() || limit == 0 {
        return None;
    }
    TABLE.with(|table| {
        let mut table = table.borrow_mut();
        let mut written = Vec::with_capacity(input.len());
        let out = compress_with(input, limit, &mut table, &mut written);
        for s in written {
            table[usize::from(s)] = 0;
        }
        out
    })
}

/// [`compress`] with a hash table that is all zeros; notes in `written` every slot it sets.
fn compress_with(
    input: &[u8],
    limit: usize,
    table: &mut [u32],
    written: &mut Vec<u16>,
) -> Option<Vec<u8>> {
    let n = input.len();
    // Room for the bytes written after a bound check passes (at most 3 past `limit`).
    let mut out = vec![0u8; limit + 4];
    // `table` holds the positions of earlier three-byte sequences. Position 0 can never be
    // referenced (Redis tests `ref > in_data`), so 0 doubles as "empty".
    let mut set = |table: &mut [u32], s: usize, ip: usize| {
        table[s] = ip as u32;
        // A slot is below HSIZE = 2^16.
        written.push(s as u16);
    };
    let first = |p: usize| (u32::from(input[p]) << 8) | u32::from(input[p + 1]);
    let next = |h: u32, p: usize| (h << 8) | u32::from(input[p + 2]);
    let (mut ip, mut op, mut lit) = (0usize, 1usize, 0usize);
    let mut h = if n >= 2 { first(0) } else { 0 };
    while ip + 2 < n {
        h = next(h, ip);
        let s = slot(h);
        let r = table[s] as usize;
        set(table, s, ip);
        let off = ip.wrapping_sub(r).wrapping_sub(1);
        if off < MAX_OFF
            && r > 0
            && input[r + 2] == input[ip + 2]
            && input[r] == input[ip]
            && input[r + 1] == input[ip + 1]
        {
            let mut len = 2;
            let max = (n - ip - len).min(MAX_REF);
            if op + 4 >= limit && op - usize::from(lit == 0) + 4 >= limit {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // close the literal run
            op -= usize::from(lit == 0); // an empty run takes no byte
            // liblzf compares 16 bytes unchecked when more than 16 may match, then one by one.
            'scan: {
                if max > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[r + len] != input[ip + len] {
                            break 'scan;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < max && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 2; // the offset's low byte, and a new run's control byte
            lit = 0;
            ip += len + 1;
            if ip + 2 >= n {
                break;
            }
            // Hash the last two positions of the match, as `VERY_FAST` does.
            ip -= 2;
            h = next(first(ip), ip);
            set(table, slot(h), ip);
            ip += 1;
            h = next(h, ip);
            set(table, slot(h), ip);
            ip += 1;
        } else {
            if op >= limit {
                return None;
            }
            out[op] = input[ip];
            (op, ip, lit) = (op + 1, ip + 1, lit + 1);
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > limit {
        return None;
    }
    while ip < n {
        out[op] = input[ip];
        (op, ip, lit) = (op + 1, ip + 1, lit + 1);
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
}

/// Decompresses `input`, which must expand to exactly `len` bytes; `None` when it is corrupt
/// (a reference before the start, a truncated run, more or fewer bytes than `len`).
pub(crate) fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < 32 {
            let run = input.get(ip..ip + ctrl + 1)?;
            if out.len() + run.len() > len {
                return None;
            }
            out.extend_from_slice(run);
            ip += ctrl + 1;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(ip)?);
                ip += 1;
            }
            let low = usize::from(*input.get(ip)?);
            ip += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            let from = out.len().checked_sub(back)?;
            if out.len() + n + 2 > len {
                return None;
            }
            // The source may overlap what is being written (a run): copy byte by byte.
            for i in 0..n + 2 {
                let b = out[from + i];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::{compress, decompress};

    fn round_trip(input: &[u8]) {
        if let Some(c) = compress(input, input.len().saturating_sub(4)) {
            assert!(c.len() <= input.len() - 4);
            assert_eq!(decompress(&c, input.len()).as_deref(), Some(input));
        }
    }

    #[test]
    fn round_trips() {
        round_trip(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        round_trip(b"abcabcabcabcabcabcabcabcabcabcabcabc");
        round_trip(&[7u8; 5000]);
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        round_trip(&text);
        let mut x = 12345u64;
        let noise: Vec<u8> = (0..3000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect();
        assert_eq!(
            compress(&noise, noise.len() - 4),
            None,
            "noise does not compress"
        );
        let mixed = [&noise[..], &noise[..], &text[..100]].concat();
        round_trip(&mixed);
    }

    #[test]
    fn recorded_from_redis() {
        // `SET k <value>` then `DUMP k` on redis-server 7.0.15: the LZF part of the payload.
        let v = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert_eq!(
            compress(v, v.len() - 4).unwrap(),
            b"\x01aa\xe0\x57\x00\x01aa"
        );
    }

    #[test]
    fn each_call_starts_from_an_empty_table() {
        // What `b` compresses to does not depend on what the thread compressed before (a
        // stale slot could only offer a position whose bytes `b` also has there and the fresh
        // table lacks: one inside an earlier match of `b`; this is a smoke test of the
        // thread-local table, not of that case).
        let mut a: Vec<u8> = (0..49u8).map(|i| i + 100).collect();
        a.extend_from_slice(b"yQRS");
        a.extend_from_slice(&[b'z'; 200]);
        let mut b: Vec<u8> = (0..49u8).collect();
        b.extend_from_slice(b"xQRS");
        b.extend((0..46u8).map(|i| i + 160));
        b.extend_from_slice(b"yQRS");
        b.extend_from_slice(&[b'w'; 200]);
        assert_eq!(&b[99..103], b"yQRS");
        let on_a_new_thread = {
            let b = b.clone();
            std::thread::spawn(move || compress(&b, b.len() - 4))
                .join()
                .unwrap()
        };
        assert!(on_a_new_thread.is_some());
        assert!(compress(&a, a.len() - 4).is_some());
        assert_eq!(compress(&b, b.len() - 4), on_a_new_thread);
    }

    #[test]
    fn corrupt_input_is_refused() {
        assert_eq!(decompress(b"\x05ab", 6), None, "a truncated literal run");
        assert_eq!(
            decompress(b"\x20\x00", 2),
            None,
            "a reference before the start"
        );
        assert_eq!(decompress(b"\x01ab", 3), None, "fewer bytes than promised");
        assert_eq!(
            decompress(b"\x01ab\xe0\xff\x01", 10),
            None,
            "more bytes than promised"
        );
        assert_eq!(decompress(b"\x01ab", 2).as_deref(), Some(&b"ab"[..]));
    }
}
