//! When to look again: the pure timing rules of the shared polls.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

use super::PollConfig;

/// When a wait should next be checked, given when it started (or last saw
/// a change), what it is expected to take, and when it was last checked.
pub fn next_check(
    cfg: &PollConfig,
    since: Instant,
    expected: Option<Duration>,
    last_check: Option<Instant>,
) -> Instant {
    let start = match expected {
        // The expectation is already a low estimate (see `estimate`): most
        // waits are over by then, and one check settles them.
        Some(e) => since + e.max(cfg.min_interval),
        None => since + cfg.min_interval,
    };
    match last_check {
        Some(l) if l >= start => {
            let origin = if expected.is_some() { start } else { since };
            let interval = (l - origin)
                .mul_f64(cfg.backoff_ratio.max(0.0))
                .clamp(cfg.min_interval, cfg.max_interval.max(cfg.min_interval));
            l + interval
        }
        _ => start,
    }
}

/// Expected duration from past samples: the low tenth of what was seen
/// (times `size`), so that a fast one is not noticed late.
pub(super) fn estimate(samples: &[f64], size: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let low = s[(s.len() - 1) / 10];
    Duration::try_from_secs_f64(low * size).ok()
}

/// A cloud timestamp minus `margin`, as `changes-since` wants it.
pub fn changes_since_value(cloud_now: SystemTime, margin: Duration) -> String {
    let t = cloud_now.checked_sub(margin).unwrap_or(cloud_now);
    OffsetDateTime::from(t)
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Parse a Nova/Glance timestamp (`2026-01-01T10:00:00Z`, with or without zone).
pub(super) fn parse_cloud_time(s: &str) -> Option<SystemTime> {
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .ok()?;
    Some(t.into())
}
