//! `azmove plan`'s Claims section and `azmove unlock`, with the real
//! binary against a simulated cloud that lives in this test process (so
//! that the records made here are there when the binary looks).
//!
//! The claims are made by the claim protocol's own writer
//! (`apply::claims::ClaimBook`), exactly as `azmove apply` makes them, by
//! two "runs" that never move anything: one left dead (its lease long
//! expired on the cloud's clock, as after a crash), one alive (a fresh
//! heartbeat). A third kind of dead run, one whose process is known gone
//! on this very machine, is written by hand. What unlock removed is read
//! from the simulator's own model, not from azmove's output.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::support::apply::*;
use crate::support::scenario::ScenarioBuilder;
use azmove::apply::Cloud;
use azmove::apply::claims::local::ThisMachine;
use azmove::apply::claims::rules::{self, LocalProcesses, ProcKey};
use azmove::apply::claims::{ClaimBook, ClaimResult, RunIdentity};

const DEAD: &str = "20261203T170000Z-1111";
const ALIVE: &str = "20261203T171000Z-2222";

const PLAN: &str = "version: 1\nmoves:\n  - select: {name: \"vm-*\"}\n    to: nova2\n";

/// The binary, its exit code, stdout and stderr.
struct Ran {
    code: Option<i32>,
    out: String,
    err: String,
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.out, self.err
        )
    }
}

/// `azmove ARGS…` in `dir` pointed at `env`, off the test's runtime (the
/// binary talks to the simulator while this test waits).
async fn azmove(dir: &Path, env: &[(String, String)], args: &[&str], label: &str) -> Ran {
    let dir = dir.to_path_buf();
    let env = env.to_vec();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let label = label.to_string();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = spawn_azmove(&dir, &env, &args, &label);
        let code = wait_at_most(&mut child, Duration::from_secs(120));
        let read = |ext: &str| {
            std::fs::read_to_string(dir.join(format!("{label}.{ext}"))).unwrap_or_default()
        };
        Ran {
            code,
            out: read("out"),
            err: read("err"),
        }
    })
    .await
    .expect("the binary ran")
}

/// A cloud with vm-a, vm-b, vm-c in `nova`, and the server ids by name.
async fn cloud() -> (TestCloud, BTreeMap<String, String>) {
    let cloud = start(
        ScenarioBuilder::two_zones(7, 1.0)
            .server_of("vm-a", "nova", "admin")
            .server_of("vm-b", "nova", "admin")
            .server_of("vm-c", "nova", "admin")
            .build(),
        None,
    )
    .await;
    let ids = servers(&cloud.client)
        .await
        .into_iter()
        .map(|s| (s.name, s.id))
        .collect();
    (cloud, ids)
}

/// A run that claims `server` and then stops without releasing anything.
async fn claim_as(
    cloud: &TestCloud,
    ids: &BTreeMap<String, String>,
    identity: RunIdentity,
    lease: Duration,
    server: &str,
) {
    let api: Arc<dyn Cloud> = Arc::new(cloud.client.clone());
    let book = ClaimBook::open(api, identity, lease, None)
        .await
        .expect("the run registers");
    let won = book
        .claim(&ids[server], server, None)
        .await
        .expect("the claim is written");
    assert!(matches!(won, ClaimResult::Won { .. }), "{won:?}");
}

/// vm-a claimed by a dead run (bob's, its lease of 1m lapsed 10 minutes
/// ago on the cloud's clock), vm-b by a live one (alice's), vm-c free;
/// plus a hidden record of the dead run that is not a claim.
async fn two_runs() -> (TestCloud, BTreeMap<String, String>) {
    let (cloud, ids) = cloud().await;
    add_two_runs(&cloud, &ids).await;
    (cloud, ids)
}

async fn add_two_runs(cloud: &TestCloud, ids: &BTreeMap<String, String>) {
    claim_as(
        cloud,
        ids,
        RunIdentity {
            run: DEAD.into(),
            plan: "plans/old.yaml".into(),
            user: Some("bob".into()),
            host: Some("laptop-3".into()),
        },
        Duration::from_secs(60),
        "vm-a",
    )
    .await;
    let other = BTreeMap::from([
        (rules::RUN.to_string(), DEAD.to_string()),
        ("purpose".to_string(), "not a claim".to_string()),
    ]);
    cloud
        .client
        .create_hidden_record("decoy", &other, None)
        .await
        .expect("a hidden record");
    cloud.sim.advance_clock(Duration::from_secs(600));
    claim_as(
        cloud,
        ids,
        RunIdentity {
            run: ALIVE.into(),
            plan: "plans/drain.yaml".into(),
            user: Some("alice".into()),
            host: Some("build-7".into()),
        },
        Duration::from_secs(3600),
        "vm-b",
    )
    .await;
}

/// Hidden records in the model (deleted ones included) whose property
/// `key` is `value`: (name, deleted).
fn records(cloud: &TestCloud, key: &str, value: &str) -> Vec<(String, bool)> {
    let (_, images) = model_view(&cloud.sim);
    images
        .into_iter()
        .filter(|i| i.properties.get(key).map(String::as_str) == Some(value))
        .map(|i| (i.name, i.deleted))
        .collect()
}

fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).expect("plan file");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_who_claims_the_plans_servers_alive_or_dead() {
    let (cloud, ids) = cloud().await;
    let dir = workdir();
    let env = os_env(&cloud.sim);

    let before = azmove(dir.path(), &env, &["plan", "plan.yaml"], "before").await;
    assert_eq!(before.code, Some(0), "{before}");
    assert!(before.out.contains("Plan: 3 to move"), "{before}");
    assert!(
        !before.out.contains("Claims"),
        "no claims, no section: {before}"
    );

    add_two_runs(&cloud, &ids).await;
    let text = azmove(dir.path(), &env, &["plan", "plan.yaml"], "text").await;
    assert_eq!(text.code, Some(0), "{text}");
    assert!(text.out.contains("\nClaims ("), "{text}");
    let line = |name: &str| {
        text.out
            .lines()
            .find(|l| l.starts_with(&format!("  {name} ({}): ", ids[name])))
            .unwrap_or_else(|| panic!("a claim line for {name}: {text}"))
            .to_string()
    };
    let a = line("vm-a");
    assert!(
        a.contains(&format!(
            "claimed by run {DEAD} — dead (no heartbeat for 10m"
        )),
        "{a}"
    );
    assert!(a.contains("(lease 1m)"), "its own lease decides: {a}");
    assert!(a.contains("bob on laptop-3"), "{a}");
    assert!(a.contains(" — since 20"), "{a}");
    assert!(
        a.ends_with(&format!(
            "; the next apply takes it over, or run `azmove unlock {DEAD}`"
        )),
        "{a}"
    );
    let b = line("vm-b");
    assert!(
        b.contains(&format!("claimed by run {ALIVE} — alive, heartbeat ")),
        "{b}"
    );
    assert!(b.contains("s ago (alice on build-7"), "{b}");
    assert!(b.contains("plan plans/drain.yaml) — since 20"), "{b}");
    assert!(
        !text.out.contains(&format!("  vm-c ({})", ids["vm-c"])),
        "vm-c is not claimed: {text}"
    );
    // The plan is the plan whatever the claims: they are apply's business.
    assert!(text.out.contains("Plan: 3 to move"), "{text}");

    let md = azmove(
        dir.path(),
        &env,
        &["plan", "plan.yaml", "--format", "markdown"],
        "md",
    )
    .await;
    assert_eq!(md.code, Some(0), "{md}");
    assert!(md.out.contains("#### Claims"), "{md}");
    assert!(
        md.out.contains(&format!(
            "- `vm-a` ({}): claimed by run {DEAD} — dead (",
            ids["vm-a"]
        )),
        "{md}"
    );
    assert!(
        md.out.contains(&format!(
            "- `vm-b` ({}): claimed by run {ALIVE} — alive, heartbeat ",
            ids["vm-b"]
        )),
        "{md}"
    );

    // JSON stdout is the saved plan, schema unchanged; the claims go to stderr.
    let json = azmove(
        dir.path(),
        &env,
        &["plan", "plan.yaml", "--format", "json"],
        "json",
    )
    .await;
    assert_eq!(json.code, Some(0), "{json}");
    let parsed: serde_json::Value = serde_json::from_str(&json.out).expect("JSON on stdout");
    assert!(parsed.get("claims").is_none(), "{json}");
    assert!(
        json.err
            .contains(&format!("vm-a ({}): claimed by run {DEAD}", ids["vm-a"])),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_refuses_a_live_run_and_changes_nothing() {
    let (cloud, _) = two_runs().await;
    let dir = workdir();
    let env = os_env(&cloud.sim);
    let ran = azmove(dir.path(), &env, &["unlock", ALIVE], "unlock").await;
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.out.is_empty(), "{ran}");
    for words in [
        format!("azmove: not unlocking run {ALIVE} (alice on build-7"),
        "it is alive — its last heartbeat was ".to_string(),
        "ago (lease 1h)".to_string(),
        "holds 1 claim".to_string(),
        "releases its claims itself when it ends".to_string(),
        format!("run `azmove unlock {ALIVE}` again"),
    ] {
        assert!(ran.err.contains(&words), "{words:?} missing: {ran}");
    }
    let claims = records(&cloud, rules::RUN, ALIVE);
    let runs = records(&cloud, rules::RUN_RECORD, ALIVE);
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(
        claims.iter().chain(&runs).all(|(_, deleted)| !deleted),
        "{claims:?} {runs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_removes_a_dead_runs_claims_and_run_record_only() {
    let (cloud, ids) = two_runs().await;
    let dir = workdir();
    let env = os_env(&cloud.sim);
    let ran = azmove(dir.path(), &env, &["unlock", DEAD], "unlock").await;
    assert_eq!(ran.code, Some(0), "{ran}");
    let lines: Vec<&str> = ran.out.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("Removed the claim on vm-a ({})", ids["vm-a"]).as_str()),
        "{ran}"
    );
    assert!(
        lines.get(1).is_some_and(|l| l
            .starts_with(&format!("Unlocked run {DEAD} (dead: no heartbeat for 10m"))
            && l.ends_with("removed 1 claim and 1 run record.")),
        "{ran}"
    );
    assert_eq!(lines.len(), 2, "{ran}");

    // The model: the dead run's claim and run record are gone; its other
    // hidden record (not a claim) and everything of the live run stay.
    let dead_claims: Vec<(String, bool)> = records(&cloud, rules::CLAIM, &ids["vm-a"]);
    assert_eq!(dead_claims.len(), 1, "{dead_claims:?}");
    assert!(dead_claims[0].1, "the claim was deleted: {dead_claims:?}");
    let dead_runs = records(&cloud, rules::RUN_RECORD, DEAD);
    assert_eq!(dead_runs.len(), 1, "{dead_runs:?}");
    assert!(dead_runs[0].1, "the run record was deleted: {dead_runs:?}");
    let decoy = records(&cloud, "purpose", "not a claim");
    assert_eq!(decoy, vec![("decoy".to_string(), false)]);
    let alive: Vec<(String, bool)> = records(&cloud, rules::RUN, ALIVE)
        .into_iter()
        .chain(records(&cloud, rules::RUN_RECORD, ALIVE))
        .collect();
    assert_eq!(alive.len(), 2, "{alive:?}");
    assert!(alive.iter().all(|(_, deleted)| !deleted), "{alive:?}");

    // Now the plan shows the live claim only, and unlock again finds nothing.
    let plan = azmove(dir.path(), &env, &["plan", "plan.yaml"], "plan").await;
    assert!(!plan.out.contains(DEAD), "{plan}");
    assert!(
        plan.out.contains(&format!("claimed by run {ALIVE}")),
        "{plan}"
    );
    let again = azmove(dir.path(), &env, &["unlock", DEAD], "again").await;
    assert_eq!(again.code, Some(0), "{again}");
    assert!(again.out.starts_with("Nothing to unlock"), "{again}");
}

/// `/proc/PID/stat` field 22, the start time ProcKey records.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_takes_a_run_whose_process_is_gone_from_this_machine_at_once() {
    let here = ThisMachine::detect();
    let Some(machine) = here.machine().map(str::to_string) else {
        eprintln!("skipped: processes are not visible on this system");
        return;
    };
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("sleep starts");
    let pid = child.id();
    let start = start_time(pid).expect("its start time");
    child.kill().expect("kill");
    child.wait().expect("reaped");
    let key = ProcKey {
        machine,
        pid,
        start,
    };

    let (cloud, ids) = cloud().await;
    let run = "20261203T172000Z-3333";
    // A fresh heartbeat and a long lease: only the process tells it is dead.
    let record = BTreeMap::from([
        (rules::RECORD.to_string(), "run".to_string()),
        (rules::RUN_RECORD.to_string(), run.to_string()),
        (rules::RUN_PROC.to_string(), key.encode()),
        (rules::RUN_LEASE.to_string(), "3600".to_string()),
    ]);
    cloud
        .client
        .create_hidden_record(&format!("azmove-run-{run}"), &record, None)
        .await
        .expect("run record");
    for name in ["vm-a", "vm-c"] {
        let claim = BTreeMap::from([
            (rules::RECORD.to_string(), "claim".to_string()),
            (rules::CLAIM.to_string(), ids[name].clone()),
            (rules::RUN.to_string(), run.to_string()),
            (rules::CLAIM_SERVER_NAME.to_string(), name.to_string()),
        ]);
        cloud
            .client
            .create_hidden_record(&format!("azmove-claim-{}", ids[name]), &claim, None)
            .await
            .expect("claim");
    }

    let dir = workdir();
    let env = os_env(&cloud.sim);
    let plan = azmove(dir.path(), &env, &["plan", "plan.yaml"], "plan").await;
    assert!(
        plan.out.contains(&format!(
            "claimed by run {run} — dead (its process {pid} on this machine is gone)"
        )),
        "{plan}"
    );
    let ran = azmove(dir.path(), &env, &["unlock", run], "unlock").await;
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.out.contains(&format!(
            "Removed the claim on vm-a ({})\nRemoved the claim on vm-c ({})\nUnlocked run {run} (dead: its process {pid} on this machine is gone): removed 2 claims and 1 run record.\n",
            ids["vm-a"], ids["vm-c"]
        )),
        "{ran}"
    );
    let left: Vec<(String, bool)> = records(&cloud, rules::RUN, run)
        .into_iter()
        .chain(records(&cloud, rules::RUN_RECORD, run))
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.iter().all(|(_, deleted)| *deleted), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_of_a_run_with_no_records_says_so_and_succeeds() {
    // `--sim` like every cloud command: a fresh simulated cloud, so nothing.
    let dir = workdir();
    let scenario = root("plans/seed-cloud.yaml");
    let scenario = scenario.to_str().expect("a UTF-8 path");
    let ran = azmove(
        dir.path(),
        &[],
        &["unlock", "20261203T170000Z-9999", "--sim", scenario],
        "unlock",
    )
    .await;
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.out.starts_with(
            "Nothing to unlock: no claim or run record of run 20261203T170000Z-9999 is visible"
        ),
        "{ran}"
    );
    let usage = azmove(dir.path(), &[], &["unlock", ""], "usage").await;
    assert_eq!(usage.code, Some(64), "{usage}");
}
