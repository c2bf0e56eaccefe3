//! Time in the simulated cloud. Timestamps are wall-clock (so clients can
//! compare `expires_at` and `changes-since` with their own clock), while
//! long operations last `duration / time_scale`. Tests can move the clock
//! forward instead of waiting (`POST /_sim/clock/advance`).

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// The simulator's clock: wall time plus an offset that only grows.
#[derive(Debug)]
pub struct Clock {
    time_scale: f64,
    offset: Mutex<Duration>,
}

impl Clock {
    pub fn new(time_scale: f64) -> Clock {
        Clock {
            time_scale,
            offset: Mutex::new(Duration::ZERO),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        let offset = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
        OffsetDateTime::now_utc() + offset
    }

    /// Jump forward, as if `by` of wall time had passed.
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *offset += by;
    }

    /// Wall time an operation of cloud duration `d` takes.
    pub fn scaled(&self, d: Duration) -> Duration {
        Duration::from_secs_f64(d.as_secs_f64() / self.time_scale)
    }

    pub fn time_scale(&self) -> f64 {
        self.time_scale
    }
}

const SECONDS_Z: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const MICROS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]");
const MICROS_Z: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// `2013-09-03T04:01:32Z` — Nova `created`/`updated`, Glance, Neutron.
pub fn iso_seconds(t: OffsetDateTime) -> String {
    t.format(SECONDS_Z).unwrap_or_default()
}

/// `2013-09-23T13:53:12.774549` — Nova `OS-SRV-USG:*`, Cinder timestamps.
pub fn iso_micros(t: OffsetDateTime) -> String {
    t.format(MICROS).unwrap_or_default()
}

/// `2015-11-07T02:58:43.578887Z` — Keystone `expires_at`/`issued_at`.
pub fn iso_micros_z(t: OffsetDateTime) -> String {
    t.format(MICROS_Z).unwrap_or_default()
}

/// Parse the timestamps clients send in `changes-since`, `updated_at=gt:…`
/// and similar filters: RFC 3339 with or without a zone (UTC assumed) and
/// with or without fractional seconds.
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    let with_zone = format!("{s}Z");
    if let Ok(t) = OffsetDateTime::parse(&with_zone, &time::format_description::well_known::Rfc3339)
    {
        return Some(t);
    }
    // Date only.
    let date_fmt = format_description!("[year]-[month]-[day]");
    time::Date::parse(s, date_fmt)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

/// Parse a compute microversion "2.47" into (2, 47).
pub fn parse_microversion(s: &str) -> Option<(u16, u16)> {
    let (major, minor) = s.trim().split_once('.')?;
    if major.is_empty() || minor.is_empty() {
        return None;
    }
    if !major.bytes().all(|b| b.is_ascii_digit()) || !minor.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_the_services() {
        let t = time::macros::datetime!(2013-09-23 13:53:12.774549 UTC);
        assert_eq!(iso_seconds(t), "2013-09-23T13:53:12Z");
        assert_eq!(iso_micros(t), "2013-09-23T13:53:12.774549");
        assert_eq!(iso_micros_z(t), "2013-09-23T13:53:12.774549Z");
    }

    #[test]
    fn timestamps_parse_with_and_without_zone() {
        let a = parse_timestamp("2013-09-23T13:53:12Z").unwrap();
        let b = parse_timestamp("2013-09-23T13:53:12").unwrap();
        let c = parse_timestamp("2013-09-23T15:53:12+02:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(parse_timestamp("2013-09-23T13:53:12.5").is_some());
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn microversions_parse() {
        assert_eq!(parse_microversion("2.104"), Some((2, 104)));
        assert_eq!(parse_microversion("2.1"), Some((2, 1)));
        assert_eq!(parse_microversion("2"), None);
        assert_eq!(parse_microversion("2.x"), None);
        assert_eq!(parse_microversion("2.-1"), None);
    }

    #[test]
    fn advancing_moves_now_and_scaling_divides() {
        let c = Clock::new(10.0);
        let before = c.now();
        c.advance(Duration::from_secs(100));
        assert!(c.now() - before >= time::Duration::seconds(100));
        assert_eq!(c.scaled(Duration::from_secs(10)), Duration::from_secs(1));
    }
}
