//! Concurrency accounting: how many servers are in flight overall and per AZ.
//!
//! A server in flight occupies one slot of `concurrency` and one slot in
//! each AZ it touches (the AZ it leaves and the AZ it goes to, once when
//! they are the same), because both ends carry load: the source's compute
//! host uploads the snapshot, the target's hosts build the replacement.

use std::collections::BTreeMap;

use crate::plan::file::Limits;

/// The AZs a move occupies, without duplicates.
pub fn azs_of<'a>(source_az: Option<&'a str>, target_az: &'a str) -> Vec<&'a str> {
    match source_az {
        Some(s) if s != target_az => vec![s, target_az],
        _ => vec![target_az],
    }
}

/// Slots taken and the caps they are measured against.
#[derive(Debug, Clone)]
pub struct Slots {
    concurrency: usize,
    per_az: BTreeMap<String, usize>,
    in_flight: usize,
    per_az_in_flight: BTreeMap<String, usize>,
}

impl Slots {
    /// Caps of zero are raised to one: a cap of zero would never let a move
    /// start, and `validate` reports it as a mistake in the plan anyway.
    pub fn new(limits: &Limits) -> Self {
        Slots {
            concurrency: (limits.concurrency as usize).max(1),
            per_az: limits
                .per_az
                .iter()
                .map(|(az, n)| (az.clone(), (*n as usize).max(1)))
                .collect(),
            in_flight: 0,
            per_az_in_flight: BTreeMap::new(),
        }
    }

    /// Whether a move touching `azs` may start now.
    pub fn fits(&self, azs: &[&str]) -> bool {
        if self.in_flight >= self.concurrency {
            return false;
        }
        azs.iter().all(|az| match self.per_az.get(*az) {
            Some(cap) => self.per_az_in_flight.get(*az).copied().unwrap_or(0) < *cap,
            None => true,
        })
    }

    pub fn take(&mut self, azs: &[&str]) {
        self.in_flight += 1;
        for az in azs {
            *self.per_az_in_flight.entry((*az).to_string()).or_default() += 1;
        }
    }

    pub fn release(&mut self, azs: &[&str]) {
        self.in_flight = self.in_flight.saturating_sub(1);
        for az in azs {
            if let Some(n) = self.per_az_in_flight.get_mut(*az) {
                *n = n.saturating_sub(1);
            }
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub fn in_flight_in(&self, az: &str) -> usize {
        self.per_az_in_flight.get(az).copied().unwrap_or(0)
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The cap of `az`, if the plan sets one.
    pub fn cap_of(&self, az: &str) -> Option<usize> {
        self.per_az.get(az).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(c: u32, per: &[(&str, u32)]) -> Limits {
        Limits {
            concurrency: c,
            per_az: per.iter().map(|(a, n)| (a.to_string(), *n)).collect(),
            requests_per_second: 10.0,
        }
    }

    #[test]
    fn a_move_counts_against_both_azs_once_each() {
        let mut s = Slots::new(&limits(8, &[("nova", 1), ("nova2", 2)]));
        let azs = azs_of(Some("nova"), "nova2");
        assert!(s.fits(&azs));
        s.take(&azs);
        assert_eq!(s.in_flight_in("nova"), 1);
        assert_eq!(s.in_flight_in("nova2"), 1);
        // nova is full: a second move out of nova must wait, one into nova2 from elsewhere may go.
        assert!(!s.fits(&azs_of(Some("nova"), "nova2")));
        assert!(s.fits(&azs_of(Some("nova3"), "nova2")));
        s.release(&azs);
        assert!(s.fits(&azs));
    }

    #[test]
    fn same_az_is_counted_once_and_zero_caps_become_one() {
        assert_eq!(azs_of(Some("a"), "a"), vec!["a"]);
        let s = Slots::new(&limits(0, &[("a", 0)]));
        assert_eq!(s.concurrency(), 1);
        assert_eq!(s.cap_of("a"), Some(1));
        assert!(s.fits(&["a"]));
    }
}
