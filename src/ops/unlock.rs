//! `azmove unlock RUN_ID`: remove the claim and run records of a run that
//! died without releasing them.
//!
//! Nothing depends on this command for safety: a dead run's claims are
//! taken over by the next apply that needs those servers. It exists because
//! records of servers nobody applies again would otherwise stay forever
//! (hidden images are easy to forget), and because people who know a run
//! is gone want `azmove plan` to stop listing its claims now.
//!
//! The one rule it must keep is the protocol's: never remove the claims of
//! a run that is alive, since that run may be in the middle of a move and
//! another apply would then start the same move. So liveness is judged
//! first, with the same code `apply` uses, and the records are listed only
//! afterwards: a run found dead stays dead (its lease fence keeps it from
//! acting, or from writing any new record, once its heartbeat lapsed), so
//! every record listed after that judgement belongs to a run that will not
//! use it.

use std::time::Duration;

use crate::apply::Cloud;
use crate::apply::claims::local::ThisMachine;
use crate::apply::claims::rules::{
    CLAIM, Claim, Liveness, LocalProcesses, RUN, RUN_RECORD, RunRecord,
};
use crate::apply::claims::{DEFAULT_LEASE, describe_record, read_liveness};
use crate::connect::{self, CloudChoice, Target};
use crate::exit::Exit;
use crate::openstack::{ClientOptions, Error};

/// What was found of a run, before anything is removed.
#[derive(Debug)]
pub enum Found {
    /// No claim or run record of the run is visible.
    Nothing,
    /// The run is alive: its records must stay.
    Alive {
        beat_age: Duration,
        /// The lease the run renews by: how long its claims would hold
        /// after its last heartbeat if it stopped now.
        lease: Duration,
        /// "alice on build-7, plan plans/drain.yaml", when its record says.
        who: String,
        claims: usize,
    },
    /// The run is dead (or unknown: its run record is gone); its records
    /// may be removed.
    Dead {
        why: String,
        who: String,
        claims: Vec<Claim>,
        run_records: Vec<RunRecord>,
    },
}

/// Judge run `run`, then list its records (in that order: see the module
/// documentation).
pub async fn find(
    cloud: &dyn Cloud,
    run: &str,
    local: &(dyn LocalProcesses + Sync),
) -> Result<Found, Error> {
    let liveness = read_liveness(cloud, run, DEFAULT_LEASE, local).await?;
    let (images, _) = cloud.hidden_records(RUN_RECORD, run).await?;
    let run_records: Vec<RunRecord> = images
        .iter()
        .filter_map(RunRecord::from_image)
        .filter(|r| r.run == run)
        .collect();
    let lease = run_records
        .iter()
        .filter_map(|r| r.lease)
        .max()
        .unwrap_or(DEFAULT_LEASE);
    let who = run_records
        .iter()
        .map(describe_record)
        .find(|w| !w.is_empty())
        .unwrap_or_default();
    // `azmove_run` also marks the snapshots and replacements a run made
    // (visible ones, so not listed here anyway): only claims are taken.
    let (images, _) = cloud.hidden_records(RUN, run).await?;
    let mut claims: Vec<Claim> = images
        .iter()
        .filter(|i| i.properties.contains_key(CLAIM))
        .filter_map(Claim::from_image)
        .filter(|c| c.run == run)
        .collect();
    claims.sort_by(|a, b| {
        (&a.server_name, &a.server_id, &a.record_id).cmp(&(
            &b.server_name,
            &b.server_id,
            &b.record_id,
        ))
    });
    Ok(match liveness {
        Liveness::Alive { beat_age } => Found::Alive {
            beat_age,
            lease,
            who,
            claims: claims.len(),
        },
        Liveness::Dead { .. } if claims.is_empty() && run_records.is_empty() => Found::Nothing,
        Liveness::Dead { why } => Found::Dead {
            why,
            who,
            claims,
            run_records,
        },
    })
}

/// Whole seconds, the way people read an age.
fn secs(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// "vm-01 (6a1b…)", or the id alone when the claim has no name.
fn server_words(c: &Claim) -> String {
    match c.server_name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} ({})", c.server_id),
        None => c.server_id.clone(),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Why the run is left alone, and when unlocking would work.
pub fn refusal(run: &str, beat_age: Duration, lease: Duration, who: &str, claims: usize) -> String {
    let who = if who.is_empty() {
        String::new()
    } else {
        format!(" ({who})")
    };
    let left = lease.saturating_sub(beat_age);
    format!(
        "not unlocking run {run}{who}: it is alive — its last heartbeat was {} ago (lease {}) — and holds {}. \
         A run releases its claims itself when it ends. \
         If it is stuck or its machine is gone, it counts as dead once its last heartbeat is older than {} \
         (in {} at the earliest): the next apply then takes its servers over, or run `azmove unlock {run}` again.",
        secs(beat_age),
        secs(lease),
        plural(claims, "claim", "claims"),
        secs(lease),
        secs(left),
    )
}

/// `azmove unlock RUN_ID` against `cloud`.
pub fn run(run: &str, cloud: &CloudChoice) -> Exit {
    let Some(runtime) = super::runtime(Some(2)) else {
        return Exit::Failure;
    };
    runtime.block_on(async {
        let target = Target {
            cloud,
            plan_cloud: None,
            plan_region: None,
        };
        let connection = match connect::connect(&target, ClientOptions::default()).await {
            Ok(c) => c,
            Err(e) => {
                super::error(format_args!("{e}"));
                return Exit::Failure;
            }
        };
        let exit = unlock(&connection.client, run).await;
        connection.shutdown().await;
        exit
    })
}

/// Find, then refuse or remove, printing as it goes.
async fn unlock(cloud: &dyn Cloud, run: &str) -> Exit {
    let found = match find(cloud, run, &ThisMachine::detect()).await {
        Ok(f) => f,
        Err(e) => {
            super::error(format_args!("could not read the records of run {run}: {e}"));
            return Exit::Failure;
        }
    };
    match found {
        Found::Nothing => {
            println!(
                "Nothing to unlock: no claim or run record of run {run} is visible to this project. \
                 It has ended and released its claims, or the id is not a run's (run ids look like 20261203T170000Z-4242)."
            );
            Exit::Success
        }
        Found::Alive {
            beat_age,
            lease,
            who,
            claims,
        } => {
            super::error(format_args!(
                "{}",
                refusal(run, beat_age, lease, &who, claims)
            ));
            Exit::Failure
        }
        Found::Dead {
            why,
            who,
            claims,
            run_records,
        } => remove(cloud, run, &why, &who, &claims, &run_records).await,
    }
}

/// Remove a dead run's claims, then its run records.
async fn remove(
    cloud: &dyn Cloud,
    run: &str,
    why: &str,
    who: &str,
    claims: &[Claim],
    run_records: &[RunRecord],
) -> Exit {
    let mut claims_removed = 0;
    for c in claims {
        match cloud.delete_image(&c.record_id).await {
            Ok(()) => {
                claims_removed += 1;
                println!("Removed the claim on {}", server_words(c));
            }
            Err(e) => eprintln!(
                "azmove: could not remove the claim on {} (record {}): {e}",
                server_words(c),
                c.record_id
            ),
        }
    }
    let mut records_removed = 0;
    // A claim left without its run record would no longer say whose it is.
    if claims_removed == claims.len() {
        for r in run_records {
            match cloud.delete_image(&r.record_id).await {
                Ok(()) => records_removed += 1,
                Err(e) => eprintln!(
                    "azmove: could not remove the run record {} of run {run}: {e}",
                    r.record_id
                ),
            }
        }
    }
    let who = if who.is_empty() {
        String::new()
    } else {
        format!("; {who}")
    };
    if claims_removed == claims.len() && records_removed == run_records.len() {
        println!(
            "Unlocked run {run} (dead: {why}{who}): removed {} and {}.",
            plural(claims_removed, "claim", "claims"),
            plural(records_removed, "run record", "run records"),
        );
        Exit::Success
    } else {
        println!(
            "Run {run} (dead: {why}{who}): removed {claims_removed} of {} and {records_removed} of {}. Run `azmove unlock {run}` again to remove the rest.",
            plural(claims.len(), "claim", "claims"),
            plural(run_records.len(), "run record", "run records"),
        );
        Exit::Failure
    }
}
