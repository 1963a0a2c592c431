//! CRC-64/Jones, the checksum Redis puts at the end of DUMP payloads and RDB files:
//! polynomial 0xad93d23594c935a9, input and output reflected, initial value 0, no final xor.

/// The reflected polynomial.
const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

/// One entry per byte value: the remainder of that byte shifted through eight rounds.
const TABLE: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// Continues `crc` over `data` (start from 0).
pub(crate) fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    for &b in data {
        crc = TABLE[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::crc64;

    #[test]
    fn check_values() {
        // The check value of CRC-64/Jones, and Redis's own test vector (crc64.c).
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(crc64(0, b""), 0);
        // Continuing over a split input gives the same checksum.
        let whole = crc64(0, b"hello world, a longer input");
        assert_eq!(crc64(crc64(0, b"hello world"), b", a longer input"), whole);
    }
}
