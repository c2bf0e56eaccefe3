//! The claim protocol's decisions, as pure functions over what was read.
//!
//! Nova has no compare-and-swap that azmove could use on a server in every
//! state (tag and metadata writes are refused while a server is shelved
//! offloaded, resized or busy with a task), so a claim is a record of its
//! own: a hidden Glance image that names the server and the run. The rule
//! that makes two simultaneous claims safe needs no compare-and-swap, only
//! that a record once created is seen by every list that starts after:
//!
//! 1. write my claim;
//! 2. list every claim on the server;
//! 3. I hold the server only if no *other live* run's claim is there;
//!    otherwise I withdraw mine (and may try again after a random pause).
//!
//! If A holds the server, A's list did not see B's claim, so B wrote it
//! after A listed, so B's list (later still) sees A's claim: B withdraws.
//! Two runs can both withdraw (both saw each other); neither then acts,
//! which is safe, and the random pause lets one of them win next time.
//!
//! "Live" is a lease: a run's record carries a heartbeat (Glance's own
//! `updated_at`, the cloud's clock), and a run whose heartbeat is older
//! than the lease — or whose process is known to be gone on this very
//! machine — is dead, its claims free to take over. A run that cannot
//! renew its heartbeat stops acting before others may call it dead
//! ([`super::Lease`]).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::plan::inventory::Image;

/// Property of every record of the protocol: `claim` or `run`, so that one
/// list finds them all (Glance filters on a value, not on a key's presence).
pub const RECORD: &str = "azmove_record";
/// Property of a claim record: the UUID of the claimed server.
pub const CLAIM: &str = "azmove_claim";
/// Property of claim records, snapshots and replacements: the run that made it.
pub const RUN: &str = "azmove_run";
/// Property of a run record: its run id.
pub const RUN_RECORD: &str = "azmove_run_record";
/// Property of a claim record: the server's name when claimed (for people).
pub const CLAIM_SERVER_NAME: &str = "azmove_claim_server_name";
/// Property of a claim record: the plan file the run applies.
pub const CLAIM_PLAN: &str = "azmove_claim_plan";
/// Properties of a run record.
pub const RUN_USER: &str = "azmove_run_user";
pub const RUN_HOST: &str = "azmove_run_host";
pub const RUN_PROC: &str = "azmove_run_proc";
pub const RUN_PLAN: &str = "azmove_run_plan";
pub const RUN_BEAT: &str = "azmove_run_beat";
pub const RUN_LEASE: &str = "azmove_run_lease_s";

/// A claim record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The Glance record's id.
    pub record_id: String,
    pub server_id: String,
    pub run: String,
    pub server_name: Option<String>,
    pub plan: Option<String>,
    /// Glance's `created_at`: when the claim was made (cloud clock).
    pub created_at: String,
}

impl Claim {
    /// The claim an image record holds, if it is one.
    pub fn from_image(image: &Image) -> Option<Claim> {
        let p = &image.properties;
        Some(Claim {
            record_id: image.id.clone(),
            server_id: p.get(CLAIM)?.clone(),
            run: p.get(RUN)?.clone(),
            server_name: p.get(CLAIM_SERVER_NAME).cloned(),
            plan: p.get(CLAIM_PLAN).cloned(),
            created_at: image.created_at.clone(),
        })
    }
}

/// Where a run's process lives, precise enough to tell on this machine
/// whether it still runs: the kernel boot and pid namespace, the pid and
/// the process's start time (so a reused pid is not taken for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcKey {
    pub machine: String,
    pub pid: u32,
    pub start: u64,
}

impl ProcKey {
    pub fn encode(&self) -> String {
        format!("{}/{}/{}", self.machine, self.pid, self.start)
    }

    pub fn parse(s: &str) -> Option<ProcKey> {
        let mut it = s.rsplitn(3, '/');
        let start = it.next()?.parse().ok()?;
        let pid = it.next()?.parse().ok()?;
        let machine = it.next()?.to_string();
        (!machine.is_empty()).then_some(ProcKey {
            machine,
            pid,
            start,
        })
    }
}

/// A run record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub record_id: String,
    pub run: String,
    pub user: Option<String>,
    pub host: Option<String>,
    pub plan: Option<String>,
    pub proc_key: Option<ProcKey>,
    pub created_at: String,
    /// Glance's `updated_at`: the last heartbeat, on the cloud's clock.
    pub updated_at: Option<SystemTime>,
    /// The lease the run renews by, as it wrote it (`azmove_run_lease_s`).
    pub lease: Option<Duration>,
}

impl RunRecord {
    pub fn from_image(image: &Image) -> Option<RunRecord> {
        let p = &image.properties;
        Some(RunRecord {
            record_id: image.id.clone(),
            run: p.get(RUN_RECORD)?.clone(),
            user: p.get(RUN_USER).cloned(),
            host: p.get(RUN_HOST).cloned(),
            plan: p.get(RUN_PLAN).cloned(),
            proc_key: p.get(RUN_PROC).and_then(|s| ProcKey::parse(s)),
            created_at: image.created_at.clone(),
            updated_at: parse_time(&image.updated_at),
            lease: p
                .get(RUN_LEASE)
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs),
        })
    }
}

/// Glance's timestamps (`2026-12-03T17:00:00Z`, sometimes with a fraction
/// or without the zone).
pub fn parse_time(s: &str) -> Option<SystemTime> {
    if s.is_empty() {
        return None;
    }
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z'))
        .ok()
        .or_else(|| humantime::parse_rfc3339(s).ok())
}

/// What can be known on this machine about processes.
pub trait LocalProcesses {
    /// This machine's key (kernel boot and pid namespace), when known.
    fn machine(&self) -> Option<&str>;
    /// Whether process `pid`, started at `start`, still runs here.
    fn is_running(&self, pid: u32, start: u64) -> bool;
}

/// Whether a run holds its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Alive {
        /// How long ago its last heartbeat was (cloud clock).
        beat_age: Duration,
    },
    Dead {
        why: String,
    },
}

impl Liveness {
    pub fn is_alive(&self) -> bool {
        matches!(self, Liveness::Alive { .. })
    }
}

/// A run is alive while one of its records had a heartbeat within its
/// lease (the one its records name, else `default_lease`; cloud clock) and
/// its process, if it lived on this machine, still runs.
pub fn liveness(
    records: &[RunRecord],
    cloud_now: SystemTime,
    default_lease: Duration,
    local: &dyn LocalProcesses,
) -> Liveness {
    let lease = records
        .iter()
        .filter_map(|r| r.lease)
        .max()
        .unwrap_or(default_lease);
    let Some(last) = records.iter().filter_map(|r| r.updated_at).max() else {
        return Liveness::Dead {
            why: if records.is_empty() {
                "it has ended (its run record is gone)".into()
            } else {
                "its run record has no heartbeat time".into()
            },
        };
    };
    if let Some(key) = records.iter().find_map(|r| r.proc_key.as_ref())
        && local.machine() == Some(key.machine.as_str())
        && !local.is_running(key.pid, key.start)
    {
        return Liveness::Dead {
            why: format!("its process {} on this machine is gone", key.pid),
        };
    }
    // A heartbeat "from the future" (clock skew between API nodes) is fresh.
    let age = cloud_now.duration_since(last).unwrap_or_default();
    if age > lease {
        Liveness::Dead {
            why: format!(
                "no heartbeat for {} (lease {})",
                humantime::format_duration(Duration::from_secs(age.as_secs())),
                humantime::format_duration(lease)
            ),
        }
    } else {
        Liveness::Alive { beat_age: age }
    }
}

/// The outcome of steps 2–3 of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No other live run claims the server: it is mine. `stale` are claims
    /// of dead runs, to be removed.
    Won { stale: Vec<Claim> },
    /// Another live run claims it (the earliest such claim).
    Lost { holder: Claim },
}

/// Decide, from every claim read back after writing mine, whether I hold
/// the server. `alive(run)` says whether another run is alive.
pub fn decide(me: &str, claims: &[Claim], alive: impl Fn(&str) -> bool) -> Decision {
    let mut live: Vec<&Claim> = Vec::new();
    let mut stale = Vec::new();
    for c in claims.iter().filter(|c| c.run != me) {
        if alive(&c.run) {
            live.push(c);
        } else {
            stale.push(c.clone());
        }
    }
    live.sort_by(|a, b| (&a.created_at, &a.run).cmp(&(&b.created_at, &b.run)));
    match live.first() {
        Some(holder) => Decision::Lost {
            holder: (*holder).clone(),
        },
        None => Decision::Won { stale },
    }
}

/// Group run records by run id.
pub fn runs_by_id(records: &[RunRecord]) -> BTreeMap<String, Vec<RunRecord>> {
    let mut out: BTreeMap<String, Vec<RunRecord>> = BTreeMap::new();
    for r in records {
        out.entry(r.run.clone()).or_default().push(r.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Here {
        machine: Option<String>,
        running: Vec<(u32, u64)>,
    }

    impl LocalProcesses for Here {
        fn machine(&self) -> Option<&str> {
            self.machine.as_deref()
        }
        fn is_running(&self, pid: u32, start: u64) -> bool {
            self.running.contains(&(pid, start))
        }
    }

    fn nobody() -> Here {
        Here {
            machine: Some("boot-a/pidns-1".into()),
            running: vec![],
        }
    }

    fn claim(run: &str, at: &str) -> Claim {
        Claim {
            record_id: format!("rec-{run}"),
            server_id: "srv".into(),
            run: run.into(),
            server_name: None,
            plan: None,
            created_at: at.into(),
        }
    }

    fn record(run: &str, beat: SystemTime, proc_key: Option<ProcKey>) -> RunRecord {
        RunRecord {
            record_id: format!("run-{run}"),
            run: run.into(),
            user: None,
            host: None,
            plan: None,
            proc_key,
            created_at: String::new(),
            updated_at: Some(beat),
            lease: None,
        }
    }

    const T0: SystemTime = SystemTime::UNIX_EPOCH;
    const LEASE: Duration = Duration::from_secs(120);

    #[test]
    fn alone_i_win_and_clear_dead_claims() {
        let claims = vec![claim("me", "2"), claim("dead", "1")];
        assert_eq!(
            decide("me", &claims, |_| false),
            Decision::Won {
                stale: vec![claim("dead", "1")]
            }
        );
    }

    #[test]
    fn any_other_live_claim_makes_me_lose_whatever_the_order() {
        // Whether mine is older or newer: seeing a live other means withdraw.
        for mine in ["1", "3"] {
            let claims = vec![claim("me", mine), claim("b", "2"), claim("c", "0")];
            match decide("me", &claims, |r| r != "me") {
                Decision::Lost { holder } => assert_eq!(holder.run, "c"),
                other => panic!("expected to lose, got {other:?}"),
            }
        }
    }

    #[test]
    fn my_own_claims_never_block_me() {
        let claims = vec![claim("me", "1"), claim("me", "2")];
        assert_eq!(
            decide("me", &claims, |_| true),
            Decision::Won { stale: vec![] }
        );
    }

    #[test]
    fn a_heartbeat_within_the_lease_is_alive() {
        let now = T0 + Duration::from_secs(1000);
        let r = record("a", now - Duration::from_secs(30), None);
        assert_eq!(
            liveness(&[r], now, LEASE, &nobody()),
            Liveness::Alive {
                beat_age: Duration::from_secs(30)
            }
        );
    }

    #[test]
    fn an_old_heartbeat_is_dead() {
        let now = T0 + Duration::from_secs(1000);
        let r = record("a", now - Duration::from_secs(121), None);
        assert!(!liveness(&[r], now, LEASE, &nobody()).is_alive());
    }

    #[test]
    fn no_record_is_dead() {
        assert!(!liveness(&[], T0, LEASE, &nobody()).is_alive());
    }

    #[test]
    fn a_gone_process_on_this_machine_is_dead_at_once() {
        let now = T0 + Duration::from_secs(1000);
        let key = ProcKey {
            machine: "boot-a/pidns-1".into(),
            pid: 42,
            start: 7,
        };
        let r = record("a", now, Some(key.clone()));
        assert!(!liveness(std::slice::from_ref(&r), now, LEASE, &nobody()).is_alive());
        // Running with the same start time: alive.
        let here = Here {
            machine: Some("boot-a/pidns-1".into()),
            running: vec![(42, 7)],
        };
        assert!(liveness(std::slice::from_ref(&r), now, LEASE, &here).is_alive());
        // The pid reused by another process (other start time): dead.
        let reused = Here {
            machine: Some("boot-a/pidns-1".into()),
            running: vec![(42, 8)],
        };
        assert!(!liveness(std::slice::from_ref(&r), now, LEASE, &reused).is_alive());
        // On another machine nothing is known locally: the lease decides.
        let elsewhere = Here {
            machine: Some("boot-b/pidns-1".into()),
            running: vec![],
        };
        assert!(liveness(&[r], now, LEASE, &elsewhere).is_alive());
    }

    #[test]
    fn proc_keys_round_trip_even_with_slashes_in_the_machine() {
        let k = ProcKey {
            machine: "boot/pid:[4026531836]".into(),
            pid: 9,
            start: 123,
        };
        assert_eq!(ProcKey::parse(&k.encode()), Some(k));
        assert_eq!(ProcKey::parse("nonsense"), None);
    }

    #[test]
    fn glance_times_parse() {
        let t = parse_time("2026-12-03T17:00:00Z").expect("parses");
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .ok(),
            Some(1_796_317_200)
        );
        assert!(parse_time("2026-12-03T17:00:00.123456").is_some());
        assert!(parse_time("").is_none());
    }

    /// The protocol, exhaustively over interleavings of two runs' steps
    /// (write, read-and-decide, withdraw-if-lost) on a linearizable store:
    /// never do both hold the server.
    #[test]
    fn two_runs_never_both_hold_a_server_in_any_interleaving() {
        // Each run: 0 = write, 1 = read+decide (then withdraw if lost).
        let runs = ["a", "b"];
        // All interleavings of [a0, a1] and [b0, b1]: choose positions.
        let orders: Vec<Vec<usize>> = vec![
            vec![0, 0, 1, 1],
            vec![0, 1, 0, 1],
            vec![0, 1, 1, 0],
            vec![1, 0, 0, 1],
            vec![1, 0, 1, 0],
            vec![1, 1, 0, 0],
        ];
        for order in orders {
            let mut store: Vec<Claim> = Vec::new();
            let mut next = [0usize; 2];
            let mut won = [false; 2];
            for who in order {
                let run = runs[who];
                match next[who] {
                    0 => store.push(claim(run, "t")),
                    _ => match decide(run, &store, |_| true) {
                        Decision::Won { .. } => won[who] = true,
                        Decision::Lost { .. } => store.retain(|c| c.run != run),
                    },
                }
                next[who] += 1;
            }
            assert!(!(won[0] && won[1]), "both won");
        }
    }
}
