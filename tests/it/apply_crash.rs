//! Crash safety: the real `azmove` binary is killed with SIGKILL 30 times
//! in the middle of a 50-server apply that deletes its sources, and run
//! again each time. The simulated cloud lives in this test process, so it
//! outlives every killed run.
//!
//! Each kill lands on observed state, never on a timer: in turn, while the
//! simulator's model shows a source stopping, a snapshot being taken, a
//! replacement building or a source being deleted, *and* the killed run's
//! journal shows that server's move at the matching step. For every kill
//! the test records what was in flight, and at the end asserts from each
//! killed run's journal (complete up to the SIGKILL: it is written line by
//! line, unbuffered) that the kill landed mid-move: the server it was
//! caught on has a move step started and no `server_finished`.
//!
//! At every stop, no source is lost (each is still there or has an ACTIVE
//! replacement in the target AZ); at the end every server is moved once: no
//! duplicate replacement, one snapshot per source, no leftover snapshot,
//! claim or run record (hidden Glance images too, also the killed runs').

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::support::apply::*;
use crate::support::scenario::ScenarioBuilder;
use azmove::plan::inventory::{Server, tags};
use azmove::sim::model::Model;

/// 50 servers in nova, to be moved to nova2.
fn cloud() -> ScenarioBuilder {
    ScenarioBuilder::new(3)
        .time_scale(5.0)
        .timing("boot", "10s")
        .timing("stop", "4s")
        .timing("delete", "2s")
        .timing("snapshot_overhead", "4s")
        .timing("snapshot_throughput_mb_s", "100")
        .quota(1000, 1000, 1_024_000)
        .servers(50, "vm-{i:02}", "nova")
}

const PLAN: &str = r#"
version: 1
defaults:
  strategy: snapshot
  source_after: delete
limits:
  concurrency: 4
  requests_per_second: 200
moves:
  - select: {name: "vm-*"}
    to: nova2
"#;

/// No source is lost: each is still there, or has an ACTIVE replacement in nova2.
fn assert_nothing_lost(originals: &[Server], now: &[Server], when: &str) {
    let reps = replacements(now);
    for o in originals {
        let present = now.iter().any(|s| s.id == o.id);
        let replaced = reps.get(&o.id).is_some_and(|r| {
            r.iter()
                .any(|s| s.status == "ACTIVE" && s.availability_zone.as_deref() == Some("nova2"))
        });
        assert!(
            present || replaced,
            "{when}: {} ({}) is gone without an ACTIVE replacement",
            o.name,
            o.id
        );
    }
}

/// How many times the binary is killed.
const KILLS: usize = 30;
/// Guards against a hang; never a timing assertion.
const LIMIT: Duration = Duration::from_secs(120);

/// azmove's marks, read by name: the referee does not share the player's constants.
const TAG_SOURCE: &str = "azmove_source";
const TAG_CLAIM: &str = "azmove_claim";
const TAG_RUN_RECORD: &str = "azmove_run_record";

/// Where in a move the kills land, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Stopping,
    Snapshotting,
    Building,
    DeletingSource,
}

impl Stage {
    const ALL: [Stage; 4] = [
        Stage::Stopping,
        Stage::Snapshotting,
        Stage::Building,
        Stage::DeletingSource,
    ];

    fn label(self) -> &'static str {
        match self {
            Stage::Stopping => "a source stopping",
            Stage::Snapshotting => "a snapshot being taken",
            Stage::Building => "a replacement building",
            Stage::DeletingSource => "a source being deleted",
        }
    }

    /// The journal's steps of a move during which the model shows it.
    fn steps(self) -> &'static [&'static str] {
        match self {
            Stage::Stopping => &["stop source"],
            Stage::Snapshotting => &["snapshot", "wait image active"],
            Stage::Building => &["boot in target AZ", "wait ACTIVE"],
            Stage::DeletingSource => &["handle source"],
        }
    }

    /// What the model shows of source `id` at this stage, if it is there.
    fn seen(self, m: &Model, id: &str) -> Option<String> {
        let s = &m.servers[m.server(id)?];
        let task = s.task_state.unwrap_or("none");
        match self {
            Stage::Stopping => (task == "powering-off")
                .then(|| format!("{} {} with task {task}", s.name, s.status())),
            Stage::Snapshotting => {
                let snapshot = m.images.iter().find(|im| {
                    !im.deleted
                        && im.status != "active"
                        && im.properties.get(TAG_SOURCE).map(String::as_str) == Some(id)
                });
                match snapshot {
                    Some(im) => Some(format!(
                        "{}: its snapshot {} is {} (source task {task})",
                        s.name, im.id, im.status
                    )),
                    None => task
                        .starts_with("image_")
                        .then(|| format!("{} {} with task {task}", s.name, s.status())),
                }
            }
            Stage::Building => m
                .servers
                .iter()
                .find(|r| {
                    !r.is_deleted()
                        && r.status() == "BUILD"
                        && r.metadata.get(TAG_SOURCE).map(String::as_str) == Some(id)
                })
                .map(|r| {
                    format!(
                        "{}: its replacement {} is BUILD (task {})",
                        s.name,
                        r.id,
                        r.task_state.unwrap_or("none")
                    )
                }),
            Stage::DeletingSource => {
                (task == "deleting").then(|| format!("{} {} with task {task}", s.name, s.status()))
            }
        }
    }
}

/// One kill, and what was in flight when it was sent.
struct Kill {
    n: usize,
    stage: Stage,
    /// What decided the kill: what the model showed of a server, and where
    /// the run's journal had that server's move. `None`: the run was not
    /// caught at the stage (it ended, or the limit passed) and was killed
    /// anyway.
    caught: Option<(String, MidMove)>,
    /// The moves the killed run's journal shows started and not finished,
    /// read after the kill: what was in flight at the SIGKILL.
    in_flight: Vec<MidMove>,
}

impl Kill {
    /// Caught at its stage, and the server it was caught on is still
    /// mid-move in the killed run's journal, read after the kill.
    fn landed_mid_move(&self) -> bool {
        self.caught
            .as_ref()
            .is_some_and(|(_, mid)| self.in_flight.iter().any(|m| m.name == mid.name))
    }

    fn describe(&self) -> String {
        let caught = match &self.caught {
            Some((seen, step)) => format!("{seen}; journal: {step}"),
            None => "NOT CAUGHT at that stage".to_owned(),
        };
        let in_flight = if self.in_flight.is_empty() {
            "NONE".to_owned()
        } else {
            self.in_flight
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "kill {:02} at {}: {caught}; in flight at the SIGKILL: {in_flight}",
            self.n,
            self.stage.label()
        )
    }
}

/// Watch the model and `journal` until the model shows `stage` on one of
/// the sources `ids` while the journal has that server's move at one of
/// the stage's steps; then SIGKILL `child` at once. What was seen, or
/// `None` if the run ended first (or LIMIT passed).
async fn kill_at(
    cloud: &TestCloud,
    ids: &[String],
    journal: &Path,
    stage: Stage,
    child: &mut Child,
) -> Option<(String, MidMove)> {
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        if child.try_wait().expect("child status").is_some() {
            return None;
        }
        let seen: Vec<(&String, String)> = {
            let m = cloud.sim.sim().lock();
            ids.iter()
                .filter_map(|id| stage.seen(&m, id).map(|what| (id, what)))
                .collect()
        };
        if !seen.is_empty() {
            let flight = moves_in_flight(journal);
            for (id, what) in seen {
                if let Some(mid) = flight
                    .get(id)
                    .filter(|mid| stage.steps().contains(&mid.step.as_str()))
                {
                    child.kill().expect("SIGKILL");
                    return Some((what, mid.clone()));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_thirty_times_mid_move_then_finished_without_duplicates_or_losses() {
    let t0 = Instant::now();
    let cloud = start(cloud().build(), None).await;
    let originals = servers(&cloud.client).await;
    assert_eq!(originals.len(), 50);
    let ids: Vec<String> = originals.iter().map(|s| s.id.clone()).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    std::fs::write(dir.join("plan.yaml"), PLAN).expect("plan");
    let env = os_env(&cloud.sim);

    let mut kills = Vec::new();
    for n in 0..KILLS {
        let stage = Stage::ALL[n % Stage::ALL.len()];
        let journal = dir.join(format!("journal-{n:02}"));
        let mut child = spawn_apply_journaled(dir, &env, &journal);
        let caught = kill_at(&cloud, &ids, &journal, stage, &mut child).await;
        // (a run not caught is killed too, and counted as missed below)
        let _ = child.kill();
        let _ = child.wait();
        let kill = Kill {
            n,
            stage,
            caught,
            in_flight: moves_in_flight(&journal).into_values().collect(),
        };
        eprintln!("{}", kill.describe());
        kills.push(kill);
        assert_nothing_lost(
            &originals,
            &servers(&cloud.client).await,
            &format!("after kill {n}"),
        );
    }
    let killing = t0.elapsed();

    // Run to the end (a few times at most: a run may find a server busy
    // with a task left by a killed run, skip it, and leave it to the next).
    let mut done = false;
    let mut final_runs = 0;
    for _ in 0..6 {
        final_runs += 1;
        let status = spawn_apply(dir, &env).wait().expect("runs");
        assert_nothing_lost(
            &originals,
            &servers(&cloud.client).await,
            "after a full run",
        );
        if status.code() == Some(0) {
            let (cs, _) = plan(&cloud.client, PLAN).await;
            if cs.summary.to_move == 0 && cs.summary.blocked == 0 {
                done = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(done, "the apply did not converge");

    let now = servers(&cloud.client).await;
    let reps = replacements(&now);
    for o in &originals {
        assert!(
            now.iter().all(|s| s.id != o.id),
            "{} was not deleted",
            o.name
        );
        let r = reps.get(&o.id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(r.len(), 1, "{} has {} replacements", o.name, r.len());
        assert_eq!(r[0].status, "ACTIVE");
        assert_eq!(
            r[0].metadata.get(tags::TARGET).map(String::as_str),
            Some("nova2")
        );
    }
    assert!(
        azmove_images(&cloud.client, "nova2").await.is_empty(),
        "snapshots were left behind"
    );
    // Every image made — snapshots and the hidden claim and run records
    // (Glance images too) — was deleted again, the killed runs' records
    // included.
    let stats = cloud.sim.stats();
    let (img_created, img_deleted) = balance(&cloud.sim, "image");
    assert_eq!(img_created, img_deleted);
    let (_, model_images) = model_view(&cloud.sim);
    let left: Vec<String> = model_images
        .iter()
        .filter(|im| !im.deleted)
        .filter(|im| {
            [TAG_SOURCE, TAG_CLAIM, TAG_RUN_RECORD]
                .iter()
                .any(|t| im.properties.contains_key(*t))
        })
        .map(|im| format!("{} {} ({})", im.id, im.name, im.status))
        .collect();
    assert!(left.is_empty(), "images left behind: {left:?}");
    let snapshots = model_images
        .iter()
        .filter(|im| im.properties.contains_key(TAG_SOURCE))
        .count();
    // A killed run's snapshot is found and used by the next run, never
    // taken again.
    assert_eq!(snapshots, 50, "sources were snapshotted more than once");
    let originals_ids: BTreeSet<&str> = originals.iter().map(|s| s.id.as_str()).collect();
    let created: BTreeSet<&str> = stats
        .created
        .iter()
        .filter(|e| e.kind == "server")
        .map(|e| e.id.as_str())
        .collect();
    let deleted_replacements = stats
        .deleted
        .iter()
        .filter(|e| e.kind == "server" && !originals_ids.contains(e.id.as_str()))
        .count();
    assert_eq!(created.len(), 50, "replacements were booted more than once");
    assert_eq!(
        created.len() - deleted_replacements,
        50,
        "replacements made and not deleted"
    );
    eprintln!(
        "{KILLS} kills in {:.0?}, then {final_runs} run(s) to the end; {} servers created; {img_created} images created: {snapshots} snapshots, {} claim and run records; {:.0?} in all",
        killing,
        created.len(),
        img_created - snapshots,
        t0.elapsed()
    );

    // Every kill landed mid-move, as the killed run's own journal proves.
    let missed: Vec<String> = kills
        .iter()
        .filter(|k| !k.landed_mid_move())
        .map(Kill::describe)
        .collect();
    assert!(
        missed.is_empty(),
        "{} of {KILLS} kills did not land mid-move (caught at their stage, and that server's move started and not finished in the killed run's journal):\n  {}",
        missed.len(),
        missed.join("\n  ")
    );
    cloud.sim.shutdown().await;
}
