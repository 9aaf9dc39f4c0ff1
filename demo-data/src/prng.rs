//! A tiny deterministic PRNG (SplitMix64): the same seed gives the same bundle on every
//! machine, without a dependency whose algorithm may change between versions.

/// SplitMix64 (Steele, Lea, Flood 2014).
#[derive(Debug, Clone)]
pub struct Prng {
    state: u64,
}

impl Prng {
    pub fn new(seed: u64) -> Prng {
        Prng { state: seed }
    }

    /// An independent stream derived from this seed and a label (e.g. a container name),
    /// so adding one container does not shift the randomness of the others.
    pub fn fork(seed: u64, label: &str) -> Prng {
        // FNV-1a of the label, mixed with the seed.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in label.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let mut p = Prng::new(seed ^ h);
        p.next_u64();
        p
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        // multiply-shift: unbiased enough for demo data, and branch-free
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `n` lowercase hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        (0..n)
            .map(|_| HEX[self.below(16) as usize] as char)
            .collect()
    }

    /// A temp-file-like name of `n >= 2` letters and digits, with at least one of each
    /// (`Xa81kq`), the shape `mktemp` and Python's `tempfile` produce.
    pub fn temp_name(&mut self, n: usize) -> String {
        const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        const DIGITS: &[u8] = b"0123456789";
        const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut s: Vec<u8> = (0..n).map(|_| *self.pick(ALNUM)).collect();
        let l = self.below(n as u64) as usize;
        let mut d = self.below(n as u64 - 1) as usize;
        if d >= l {
            d += 1;
        }
        s[l] = *self.pick(LETTERS);
        s[d] = *self.pick(DIGITS);
        String::from_utf8(s).expect("ascii")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = (0..8)
            .scan(Prng::new(7), |p, _| Some(p.next_u64()))
            .collect();
        let b: Vec<u64> = (0..8)
            .scan(Prng::new(7), |p, _| Some(p.next_u64()))
            .collect();
        assert_eq!(a, b);
        // SplitMix64 reference value for seed 0
        assert_eq!(Prng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn bounded_and_shaped() {
        let mut p = Prng::fork(1, "x");
        for _ in 0..1000 {
            assert!(p.below(7) < 7);
            let r = p.range(-3, 3);
            assert!((-3..=3).contains(&r));
            let t = p.temp_name(6);
            assert_eq!(t.len(), 6);
            assert!(t.bytes().any(|b| b.is_ascii_digit()), "{t}");
            assert!(t.bytes().any(|b| b.is_ascii_alphabetic()), "{t}");
        }
    }
}
