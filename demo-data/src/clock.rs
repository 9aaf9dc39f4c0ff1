//! Simulated time of the bundle: a fixed base and a span of three days.

/// 2026-11-20T00:00:00Z, in Unix milliseconds.
pub const BASE_MS: i64 = 1_795_132_800_000;
pub const MINUTE_MS: i64 = 60 * 1000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// Snapshot interval (the default of wsprof).
pub const INTERVAL_MS: i64 = 30 * MINUTE_MS;
/// Everything in the bundle happens in `BASE_MS .. BASE_MS + SPAN_MS`.
pub const SPAN_MS: i64 = 72 * HOUR_MS;
