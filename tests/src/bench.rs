//! What the benchmarks (`tests/benches`) share: percentiles of sorted timings and the process's
//! peak resident memory.
use std::time::Duration;

/// The `p` quantile (0..=1) of `sorted` timings (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// This process's peak resident set (`VmHWM`), KiB; 0 where `/proc` does not say.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_owned()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}
