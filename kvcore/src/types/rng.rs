//! A tiny deterministic random source for random-member commands and skip-list levels.

/// SplitMix64: fast, seedable, good enough statistical quality for picking members. Not for
/// anything security-sensitive. A caller passes it in, so tests can fix the seed.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fully determined by `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..n`; `n` must be positive.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        // Lemire's multiply-shift: the bias is at most n / 2^64, negligible here.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Random positions in `0..len` with Redis's count rules: `count >= 0` gives distinct
/// positions, at most `len` (all of them, in order, when `count >= len`); a negative count gives
/// exactly |count| positions that may repeat (none when `len` is 0). For small containers.
pub(crate) fn pick(rng: &mut Rng, len: usize, count: i64) -> Vec<usize> {
    let n = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    if count < 0 {
        if len == 0 {
            return Vec::new();
        }
        return (0..n).map(|_| rng.below(len)).collect();
    }
    let mut all: Vec<usize> = (0..len).collect();
    if n >= len {
        return all;
    }
    for i in 0..n {
        let j = i + rng.below(len - i);
        all.swap(i, j);
    }
    all.truncate(n);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = rng.below(5);
            assert!(v < 5);
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn pick_follows_count_rules() {
        let mut rng = Rng::new(3);
        assert_eq!(pick(&mut rng, 4, 10), vec![0, 1, 2, 3]);
        assert!(pick(&mut rng, 4, 0).is_empty());
        let two = pick(&mut rng, 4, 2);
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1]);
        let rep = pick(&mut rng, 2, -7);
        assert_eq!(rep.len(), 7);
        assert!(rep.iter().all(|&i| i < 2));
        assert!(pick(&mut rng, 0, -3).is_empty());
    }

    #[test]
    fn same_seed_same_sequence() {
        let a: Vec<u64> = (0..4)
            .scan(Rng::new(1), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .scan(Rng::new(1), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
    }
}
