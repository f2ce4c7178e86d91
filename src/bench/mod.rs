//! Benchmarks that write their figures to a file (`vcurate bench ...`). Benchmarks, not timed
//! tests: nothing here asserts a wall time.

pub mod contamination;
pub mod dedup;
pub mod ingest;
pub mod scale;
pub mod secrets;
pub mod train;

use serde::Serialize;

/// Peak resident memory of this process in bytes (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_bytes("VmHWM")
}

/// Resident memory of this process now, in bytes (Linux `VmRSS`), if known.
pub fn rss_bytes() -> Option<u64> {
    proc_status_bytes("VmRSS")
}

/// A `kB` field of `/proc/self/status`, in bytes.
fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = fs_err::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Reset the VmHWM peak to the current RSS (Linux >= 4.0: write 5 to /proc/self/clear_refs).
pub fn reset_peak_rss() -> bool {
    fs_err::write("/proc/self/clear_refs", "5").is_ok()
}

/// Writes figures as pretty JSON.
pub fn write_figures<T: Serialize>(path: &std::path::Path, figures: &T) -> std::io::Result<()> {
    let mut s = serde_json::to_string_pretty(figures).expect("figures serialize");
    s.push('\n');
    crate::core::fs::write_atomic(path, s.as_bytes())
}

pub use crate::core::hash::SplitMix64 as Rng;

/// `a / b` as a share, 1 when there is nothing to measure (`b == 0`): precision and recall.
pub(crate) fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}
