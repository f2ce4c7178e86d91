//! Benchmarks that write their figures to a file (`vcurate bench ...`). Benchmarks, not timed
//! tests: nothing here asserts a wall time.

pub mod ingest;

use serde::Serialize;

/// Peak resident memory of this process in bytes (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = fs_err::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Writes figures as pretty JSON.
pub fn write_figures<T: Serialize>(path: &std::path::Path, figures: &T) -> std::io::Result<()> {
    let mut s = serde_json::to_string_pretty(figures).expect("figures serialize");
    s.push('\n');
    crate::snapshot::write_atomic(path, s.as_bytes())
}

/// A small deterministic generator (splitmix64), so generated corpora are the same every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
