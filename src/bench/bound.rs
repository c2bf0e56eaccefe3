//! The lower bound on an apply's makespan, from the cloud's own operation
//! times and the plan's limits.
//!
//! No schedule, however clever, can finish before
//! - the longest chain of `after` dependencies (each move's own operations
//!   back to back), nor
//! - the total work divided by how many moves may run at once: a move holds
//!   one `concurrency` slot and one slot of each AZ it touches from its
//!   first step until its last, so for the global limit and for each capped
//!   AZ, (sum of the durations of the moves using it) / (its cap) is a
//!   bound too.
//!
//! The larger of these is the classic list-scheduling lower bound. The
//! benchmark divides the measured makespan by it: 1.00 would mean the
//! engine adds nothing to what the cloud and the limits impose.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::file::SourceAfter;
use crate::sim::scenario::Timings;

/// One move, as far as scheduling is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Seconds from its first operation starting to its last one ending.
    pub duration: f64,
    /// The AZs whose slots it holds (the one it leaves and the one it goes to).
    pub azs: Vec<String>,
    /// Indices of the jobs that must have finished before it starts.
    pub after: Vec<usize>,
}

/// The plan's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Caps {
    pub concurrency: usize,
    pub per_az: BTreeMap<String, usize>,
}

/// The bound and what it is made of, in the same unit as the jobs' durations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bound {
    pub critical_path: f64,
    /// Sum of every job's duration.
    pub work: f64,
    /// `work / concurrency`.
    pub concurrency_bound: f64,
    /// For each capped AZ: (durations of the jobs touching it) / cap.
    pub az_bounds: BTreeMap<String, f64>,
    /// The largest of the above.
    pub bound: f64,
    /// Which of them is the largest, in words.
    pub binding: String,
    /// `work / max(concurrency bound, AZ bounds)`: how many moves run at
    /// once, on average, in the best schedule the limits allow.
    pub effective_parallelism: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BoundError {
    #[error("job {job} waits for job {after}, which does not exist")]
    UnknownAfter { job: usize, after: usize },
    #[error("the `after` dependencies form a cycle; there is no schedule to bound")]
    Cycle,
    #[error("the concurrency limit is 0; nothing can ever run")]
    NoConcurrency,
}

/// The list-scheduling lower bound of `jobs` under `caps`.
pub fn lower_bound(jobs: &[Job], caps: &Caps) -> Result<Bound, BoundError> {
    if caps.concurrency == 0 {
        return Err(BoundError::NoConcurrency);
    }
    let critical_path = critical_path(jobs)?;
    let work: f64 = jobs.iter().map(|j| j.duration).sum();
    let concurrency_bound = work / caps.concurrency as f64;
    let mut az_bounds = BTreeMap::new();
    for (az, cap) in &caps.per_az {
        let load: f64 = jobs
            .iter()
            .filter(|j| j.azs.iter().any(|a| a == az))
            .map(|j| j.duration)
            .sum();
        // A cap of 0 is raised to 1 by the engine, so it is here too.
        az_bounds.insert(az.clone(), load / (*cap).max(1) as f64);
    }
    let mut candidates = vec![
        ("the critical path".to_string(), critical_path),
        (
            format!("concurrency {}", caps.concurrency),
            concurrency_bound,
        ),
    ];
    for (az, b) in &az_bounds {
        candidates.push((
            format!("per_az {az}: {}", caps.per_az.get(az).copied().unwrap_or(1)),
            *b,
        ));
    }
    let bound = candidates.iter().map(|c| c.1).fold(0.0, f64::max);
    let load_bound = candidates[1..].iter().map(|c| c.1).fold(0.0, f64::max);
    // Several limits often bind equally (20 slots, 10 per AZ, two AZs).
    let close = |x: f64| (x - bound).abs() <= bound * 1e-9;
    let binding = candidates
        .iter()
        .filter(|c| close(c.1))
        .map(|c| c.0.as_str())
        .collect::<Vec<_>>()
        .join(" = ");
    let effective_parallelism = if load_bound > 0.0 {
        work / load_bound
    } else {
        0.0
    };
    Ok(Bound {
        critical_path,
        work,
        concurrency_bound,
        az_bounds,
        bound,
        binding,
        effective_parallelism,
    })
}

/// Longest chain through the `after` graph (Kahn's order, longest finish).
fn critical_path(jobs: &[Job]) -> Result<f64, BoundError> {
    let n = jobs.len();
    let mut indegree = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, j) in jobs.iter().enumerate() {
        for &a in &j.after {
            if a >= n {
                return Err(BoundError::UnknownAfter { job: i, after: a });
            }
            indegree[i] += 1;
            dependents[a].push(i);
        }
    }
    let mut start = vec![0.0f64; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut done = 0;
    let mut longest = 0.0f64;
    while let Some(i) = ready.pop() {
        done += 1;
        let finish = start[i] + jobs[i].duration;
        longest = longest.max(finish);
        for &d in &dependents[i] {
            start[d] = start[d].max(finish);
            indegree[d] -= 1;
            if indegree[d] == 0 {
                ready.push(d);
            }
        }
    }
    if done < n {
        return Err(BoundError::Cycle);
    }
    Ok(longest)
}

/// How a move's source starts and what the plan asks of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoveShape {
    /// Flavor root disk: the snapshot uploads all of it.
    pub disk_gb: u64,
    /// The source is running (so `stop_before_snapshot` costs a stop).
    pub active: bool,
    pub stop_before_snapshot: bool,
    pub source_after: SourceAfter,
}

/// Cloud time one snapshot move takes with nothing in its way, from the
/// simulator's timings (docs/simulator.md, "Behaviour"): stop, snapshot
/// overhead plus the root disk at the upload throughput, boot, and the
/// source's stop or delete after the replacement is verified. Calls that
/// complete at once (tags, image deletion) add nothing.
pub fn snapshot_move_duration(t: &Timings, m: &MoveShape) -> Duration {
    let mut d = Duration::ZERO;
    let mut running = m.active;
    if m.stop_before_snapshot && running {
        d += t.stop;
        running = false;
    }
    let upload_s = m.disk_gb as f64 * 1024.0 / t.snapshot_throughput_mb_s;
    d += t.snapshot_overhead + Duration::from_secs_f64(upload_s.max(0.0));
    d += t.boot;
    match m.source_after {
        SourceAfter::Keep => {}
        SourceAfter::Stop if running => d += t.stop,
        SourceAfter::Stop => {}
        SourceAfter::Delete => d += t.delete,
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(duration: f64, azs: &[&str], after: &[usize]) -> Job {
        Job {
            duration,
            azs: azs.iter().map(|s| s.to_string()).collect(),
            after: after.to_vec(),
        }
    }

    fn caps(c: usize, per: &[(&str, usize)]) -> Caps {
        Caps {
            concurrency: c,
            per_az: per.iter().map(|(a, n)| (a.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn identical_jobs_are_bound_by_work_over_concurrency() {
        let jobs: Vec<Job> = (0..100).map(|_| job(10.0, &["a", "b"], &[])).collect();
        let b = lower_bound(&jobs, &caps(20, &[])).unwrap();
        assert_eq!(b.work, 1000.0);
        assert_eq!(b.bound, 50.0);
        assert_eq!(b.critical_path, 10.0);
        assert_eq!(b.binding, "concurrency 20");
        assert_eq!(b.effective_parallelism, 20.0);
        // Caps that add up to the concurrency bind as much as it does.
        let lanes = caps(20, &[("a", 20), ("b", 20)]);
        assert_eq!(
            lower_bound(&jobs, &lanes).unwrap().binding,
            "concurrency 20 = per_az a: 20 = per_az b: 20"
        );
    }

    #[test]
    fn a_tight_az_cap_binds_before_concurrency() {
        let mut jobs: Vec<Job> = (0..50)
            .map(|_| job(10.0, &["nova", "nova2"], &[]))
            .collect();
        jobs.extend((0..50).map(|_| job(10.0, &["nova", "nova3"], &[])));
        let b = lower_bound(&jobs, &caps(20, &[("nova2", 5), ("nova3", 10)])).unwrap();
        // nova2: 500 s of work through 5 slots.
        assert_eq!(b.az_bounds["nova2"], 100.0);
        assert_eq!(b.az_bounds["nova3"], 50.0);
        assert_eq!(b.bound, 100.0);
        assert_eq!(b.binding, "per_az nova2: 5");
        assert_eq!(b.effective_parallelism, 10.0);
    }

    #[test]
    fn a_long_after_chain_binds_when_there_is_little_work() {
        let jobs = vec![
            job(10.0, &[], &[]),
            job(20.0, &[], &[0]),
            job(5.0, &[], &[1]),
            job(1.0, &[], &[]),
        ];
        let b = lower_bound(&jobs, &caps(8, &[])).unwrap();
        assert_eq!(b.critical_path, 35.0);
        assert_eq!(b.bound, 35.0);
        assert_eq!(b.binding, "the critical path");
    }

    #[test]
    fn the_critical_path_takes_the_latest_prerequisite() {
        // 3 waits for both 0 (long) and 1 (short).
        let jobs = vec![
            job(30.0, &[], &[]),
            job(1.0, &[], &[]),
            job(1.0, &[], &[1]),
            job(2.0, &[], &[0, 2]),
        ];
        assert_eq!(critical_path(&jobs).unwrap(), 32.0);
    }

    #[test]
    fn cycles_unknown_jobs_and_zero_concurrency_are_errors() {
        let cyclic = vec![job(1.0, &[], &[1]), job(1.0, &[], &[0])];
        assert_eq!(lower_bound(&cyclic, &caps(1, &[])), Err(BoundError::Cycle));
        let dangling = vec![job(1.0, &[], &[7])];
        assert_eq!(
            lower_bound(&dangling, &caps(1, &[])),
            Err(BoundError::UnknownAfter { job: 0, after: 7 })
        );
        assert_eq!(
            lower_bound(&[], &caps(0, &[])),
            Err(BoundError::NoConcurrency)
        );
    }

    #[test]
    fn no_jobs_means_a_zero_bound() {
        let b = lower_bound(&[], &caps(4, &[("a", 1)])).unwrap();
        assert_eq!(b.bound, 0.0);
        assert_eq!(b.effective_parallelism, 0.0);
    }

    #[test]
    fn a_move_costs_stop_snapshot_boot_and_the_source_handling() {
        let t = Timings {
            stop: Duration::from_secs(10),
            delete: Duration::from_secs(5),
            boot: Duration::from_secs(30),
            snapshot_overhead: Duration::from_secs(5),
            snapshot_throughput_mb_s: 1024.0,
            ..Timings::default()
        };
        let shape = MoveShape {
            disk_gb: 20,
            active: true,
            stop_before_snapshot: true,
            source_after: SourceAfter::Delete,
        };
        // 10 stop + 5 + 20 upload + 30 boot + 5 delete.
        assert_eq!(snapshot_move_duration(&t, &shape), Duration::from_secs(70));
        let keep = MoveShape {
            source_after: SourceAfter::Keep,
            ..shape
        };
        assert_eq!(snapshot_move_duration(&t, &keep), Duration::from_secs(65));
        // Not stopped first: `stop` afterwards costs the stop at the end instead.
        let live = MoveShape {
            stop_before_snapshot: false,
            source_after: SourceAfter::Stop,
            ..shape
        };
        assert_eq!(snapshot_move_duration(&t, &live), Duration::from_secs(65));
        // Already SHUTOFF: nothing to stop either way.
        let off = MoveShape {
            active: false,
            source_after: SourceAfter::Stop,
            ..shape
        };
        assert_eq!(snapshot_move_duration(&t, &off), Duration::from_secs(55));
    }
}
