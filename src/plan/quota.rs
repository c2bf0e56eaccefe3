//! The quota rule of the snapshot strategy.
//!
//! A replacement is booted while its source still exists, so every move
//! needs one more instance and its flavor's cores and RAM. Nova counts
//! stopped servers too. Two kinds of move differ in how long that lasts:
//!
//! - `source_after: keep | stop`: the source stays, so the extra use is
//!   permanent and adds up over every move.
//! - `source_after: delete`: the extra use lasts until the move ends. At most
//!   `limits.concurrency` moves run at once, so the peak is at most the sum of
//!   the `min(concurrency, n)` largest of these moves, taken per resource
//!   (which over-estimates a little when different moves are largest in
//!   different resources — conservative on purpose).
//!
//! Moves are admitted in plan order; a move that would push any resource past
//! what is free is refused and does not count, so later smaller moves may
//! still fit. The outcome depends only on the plan order, never on timing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::inventory::Quota;

/// What one move needs while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Need {
    pub instances: u64,
    pub cores: u64,
    pub ram_mb: u64,
}

/// One resource that would be over quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Short {
    pub resource: &'static str,
    pub needed: u64,
    pub available: u64,
}

/// The `k` largest values seen so far and their sum.
#[derive(Debug, Default)]
struct TopK {
    k: usize,
    heap: BinaryHeap<Reverse<u64>>,
    sum: u64,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::new(),
            sum: 0,
        }
    }

    /// The sum of the top `k` if `v` were added.
    fn sum_with(&self, v: u64) -> u64 {
        if self.k == 0 {
            return self.sum;
        }
        if self.heap.len() < self.k {
            return self.sum + v;
        }
        match self.heap.peek() {
            Some(Reverse(min)) if v > *min => self.sum - min + v,
            _ => self.sum,
        }
    }

    fn add(&mut self, v: u64) {
        self.sum = self.sum_with(v);
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Reverse(v));
        } else if matches!(self.heap.peek(), Some(Reverse(min)) if v > *min) {
            self.heap.pop();
            self.heap.push(Reverse(v));
        }
    }
}

/// Admits moves one at a time against the free quota.
#[derive(Debug)]
pub struct Admission {
    free: [Option<u64>; 3],
    permanent: [u64; 3],
    transient: [TopK; 3],
}

const NAMES: [&str; 3] = ["instances", "cores", "RAM (MB)"];

impl Admission {
    /// `concurrency` is `limits.concurrency` (0 is treated as 1).
    pub fn new(quota: &Quota, concurrency: u32) -> Self {
        let free = |q: &super::inventory::QuotaUse| q.limit.map(|l| l.saturating_sub(q.used));
        let k = concurrency.max(1) as usize;
        Admission {
            free: [
                free(&quota.instances),
                free(&quota.cores),
                free(&quota.ram_mb),
            ],
            permanent: [0; 3],
            transient: [TopK::new(k), TopK::new(k), TopK::new(k)],
        }
    }

    /// Admit a move, or say which resources it would exceed (it is then not counted).
    pub fn admit(&mut self, need: Need, frees_at_end: bool) -> Result<(), Vec<Short>> {
        let v = [need.instances, need.cores, need.ram_mb];
        let mut short = Vec::new();
        for i in 0..3 {
            let total = if frees_at_end {
                self.permanent[i] + self.transient[i].sum_with(v[i])
            } else {
                self.permanent[i] + v[i] + self.transient[i].sum
            };
            if let Some(free) = self.free[i]
                && total > free
            {
                short.push(Short {
                    resource: NAMES[i],
                    needed: total,
                    available: free,
                });
            }
        }
        if !short.is_empty() {
            return Err(short);
        }
        for ((value, permanent), transient) in
            v.iter().zip(&mut self.permanent).zip(&mut self.transient)
        {
            if frees_at_end {
                transient.add(*value);
            } else {
                *permanent += value;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::inventory::QuotaUse;

    fn quota(instances: u64, cores: u64, ram: u64) -> Quota {
        Quota {
            instances: QuotaUse {
                limit: Some(instances),
                used: 0,
            },
            cores: QuotaUse {
                limit: Some(cores),
                used: 0,
            },
            ram_mb: QuotaUse {
                limit: Some(ram),
                used: 0,
            },
        }
    }

    const SMALL: Need = Need {
        instances: 1,
        cores: 1,
        ram_mb: 512,
    };

    #[test]
    fn kept_sources_add_up() {
        let mut a = Admission::new(&quota(2, 100, 100_000), 8);
        assert!(a.admit(SMALL, false).is_ok());
        assert!(a.admit(SMALL, false).is_ok());
        let e = a.admit(SMALL, false).unwrap_err();
        assert_eq!(
            e,
            vec![Short {
                resource: "instances",
                needed: 3,
                available: 2
            }]
        );
    }

    #[test]
    fn deleted_sources_are_bounded_by_concurrency() {
        let mut a = Admission::new(&quota(2, 100, 100_000), 2);
        for _ in 0..50 {
            assert!(a.admit(SMALL, true).is_ok());
        }
        let mut a = Admission::new(&quota(2, 100, 100_000), 3);
        assert!(a.admit(SMALL, true).is_ok());
        assert!(a.admit(SMALL, true).is_ok());
        assert!(a.admit(SMALL, true).is_err());
    }

    #[test]
    fn the_largest_concurrent_moves_count() {
        let big = Need {
            instances: 1,
            cores: 8,
            ram_mb: 1024,
        };
        let mut a = Admission::new(&quota(10, 10, 100_000), 1);
        assert!(a.admit(SMALL, true).is_ok());
        assert!(a.admit(big, true).is_ok()); // peak is max(1, 8) = 8 cores
        let mut a = Admission::new(&quota(10, 10, 100_000), 2);
        assert!(a.admit(SMALL, true).is_ok());
        assert!(a.admit(big, true).is_ok()); // 1 + 8 = 9
        assert!(a.admit(SMALL, true).is_ok()); // top two still 8 + 1
        assert!(a.admit(Need { cores: 3, ..SMALL }, true).is_err()); // 8 + 3 > 10
    }

    #[test]
    fn a_refused_move_does_not_count_and_unlimited_is_unlimited() {
        let mut q = quota(1, 2, 1000);
        q.ram_mb.limit = None;
        let mut a = Admission::new(&q, 4);
        let big = Need {
            instances: 1,
            cores: 4,
            ram_mb: 1 << 40,
        };
        assert_eq!(a.admit(big, false).unwrap_err()[0].resource, "cores");
        assert!(a.admit(SMALL, false).is_ok());
    }

    #[test]
    fn used_quota_is_subtracted() {
        let mut q = quota(10, 10, 10_000);
        q.cores.used = 9;
        let mut a = Admission::new(&q, 4);
        assert!(a.admit(SMALL, false).is_ok());
        let e = a.admit(SMALL, false).unwrap_err();
        assert_eq!(
            e,
            vec![Short {
                resource: "cores",
                needed: 2,
                available: 1
            }]
        );
    }
}
