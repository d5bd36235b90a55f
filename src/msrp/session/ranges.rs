//! Which bytes of a message are covered: the chunks received while reassembling
//! (RFC 4975 §7.1.1: chunks may arrive in any order and overlap), or the ranges
//! success REPORTs acknowledged (RFC 4975 §7.1.2).

/// The most disjoint runs kept. Chunks arrive in order or nearly so; a peer that
/// sends a message as thousands of scattered one-byte chunks is refused rather
/// than given a list to grow.
pub(super) const MAX_RUNS: usize = 256;

/// A set of byte positions (1-based, as in `Byte-Range`), kept as sorted, disjoint,
/// non-adjacent inclusive runs.
#[derive(Debug, Clone, Default)]
pub(super) struct ByteSet {
    runs: Vec<(u64, u64)>,
}

/// The set would need more than [`MAX_RUNS`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TooFragmented;

impl ByteSet {
    /// Adds `start..=end`; an empty range (`end < start`) adds nothing.
    pub fn insert(&mut self, start: u64, end: u64) -> Result<(), TooFragmented> {
        if end < start {
            return Ok(());
        }
        // The first run that ends at or after `start - 1` (it may touch or overlap).
        let from = self
            .runs
            .partition_point(|&(_, e)| e.saturating_add(1) < start);
        // Runs from `from` up to `to` touch or overlap the new range: merge them.
        // `from <= len` (a partition point), so the slice is in bounds.
        let to = self.runs[from..].partition_point(|&(s, _)| s <= end.saturating_add(1)) + from;
        if from == to {
            if self.runs.len() >= MAX_RUNS {
                return Err(TooFragmented);
            }
            self.runs.insert(from, (start, end));
            return Ok(());
        }
        // from < to <= len: merge runs from..to into the first, drop the rest (not
        // `splice`, whose machinery was 0.5 KB of wasm).
        let hi = self.runs.get(to - 1).map_or(end, |last| end.max(last.1));
        if let Some(first) = self.runs.get_mut(from) {
            *first = (start.min(first.0), hi);
        }
        self.runs.drain(from + 1..to);
        Ok(())
    }

    /// Whether every byte of `1..=total` is in the set (always, for `total` 0).
    pub fn covers_all(&self, total: u64) -> bool {
        total == 0
            || self
                .runs
                .first()
                .is_some_and(|&(s, e)| s <= 1 && e >= total)
    }

    /// The highest byte in the set.
    pub fn max(&self) -> Option<u64> {
        self.runs.last().map(|&(_, e)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_when_they_touch_or_overlap_in_any_order() {
        let mut s = ByteSet::default();
        s.insert(5, 8).unwrap();
        s.insert(1, 2).unwrap();
        assert!(!s.covers_all(8));
        s.insert(3, 4).unwrap(); // adjacent on both sides: one run
        assert_eq!(s.runs, vec![(1, 8)]);
        s.insert(2, 6).unwrap(); // inside
        s.insert(10, 12).unwrap();
        s.insert(7, 11).unwrap(); // overlaps two runs
        assert_eq!(s.runs, vec![(1, 12)]);
        assert!(s.covers_all(12));
        assert!(!s.covers_all(13));
        assert_eq!(s.max(), Some(12));
        s.insert(20, 19).unwrap(); // empty
        assert_eq!(s.runs.len(), 1);
        assert!(ByteSet::default().covers_all(0));
    }

    #[test]
    fn runs_match_a_byte_model_under_random_inserts() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..2_000 {
            let mut s = ByteSet::default();
            let mut model = [false; 64];
            for _ in 0..next(12) {
                let (a, b) = (next(64), next(64));
                s.insert(a, b).unwrap();
                for m in model.iter_mut().take(b as usize + 1).skip(a as usize) {
                    *m = true;
                }
                // Sorted, disjoint, never touching, and exactly the model's bytes.
                assert!(s.runs.windows(2).all(|w| w[0].1 + 1 < w[1].0));
                for (i, &m) in model.iter().enumerate() {
                    let i = i as u64;
                    assert_eq!(s.runs.iter().any(|&(a, b)| a <= i && i <= b), m);
                }
            }
        }
    }

    #[test]
    fn scattered_bytes_are_refused_past_the_limit() {
        let mut s = ByteSet::default();
        for i in 0..MAX_RUNS as u64 {
            s.insert(i * 2 + 1, i * 2 + 1).unwrap();
        }
        assert_eq!(s.insert(10_000, 10_000), Err(TooFragmented));
        // Filling a gap still works: it merges.
        s.insert(2, 2).unwrap();
        s.insert(u64::MAX - 1, u64::MAX).unwrap();
    }
}
