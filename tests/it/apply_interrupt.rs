//! Ctrl-C during `azmove apply`: the first one starts nothing new, lets
//! what is in flight reach a safe point, prints what remains and how to
//! resume, and exits 4; running the same command again finishes the job.
//! A second Ctrl-C ends the run at once (its report is still written),
//! and that too is safe to resume. Ctrl-C
//! while apply is still planning exits 4 with nothing changed.
//!
//! Every Ctrl-C is sent on observed state — the run's journal shows its
//! first steps started, its stderr shows the first Ctrl-C was taken, the
//! simulator shows the planning request arrived — never after a sleep.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use crate::support::apply::*;
use crate::support::scenario::ScenarioBuilder;

/// 10 servers in nova; the first two server actions (the first two
/// os-stop) take 3 s to answer, so that Ctrl-C finds calls in flight.
fn cloud() -> ScenarioBuilder {
    ScenarioBuilder::new(4)
        .time_scale(4.0)
        .timing("boot", "8s")
        .timing("stop", "2s")
        .timing("snapshot_overhead", "4s")
        .timing("snapshot_throughput_mb_s", "100")
        .hosts_of(64, 131_072, 2000)
        .quota(100, 100, 102_400)
        .cidr("10.0.0.0/24")
        .servers(10, "vm-{i:02}", "nova")
        .fault(r#"latency: {delay: 3s, method: POST, path: "^/servers/[^/]+/action$", calls: {from: 1, to: 2}}"#)
}

/// The first list of servers — planning reading the cloud — is answered
/// only after 30 s: a Ctrl-C sent once it has arrived comes mid-planning.
const SLOW_PLANNING: &str =
    r#"latency: {delay: 30s, method: GET, path: "^/servers/detail$", calls: {from: 1, to: 1}}"#;

const PLAN: &str = r#"
version: 1
defaults: {strategy: snapshot, source_after: delete}
limits: {concurrency: 2, requests_per_second: 50}
moves:
  - select: {name: "vm-*"}
    to: nova2
"#;

/// Guards against a hang; never a timing assertion.
const LIMIT: Duration = Duration::from_secs(120);

/// `azmove apply plan.yaml --yes` in `dir`, journal in `dir/LABEL-journal`,
/// report in `dir/LABEL.json`, output in `dir/LABEL.out` and `.err`.
fn spawn(dir: &Path, env: &[(String, String)], label: &str) -> Child {
    let journal = dir.join(format!("{label}-journal"));
    let report = dir.join(format!("{label}.json"));
    spawn_azmove(
        dir,
        env,
        &[
            "apply",
            "plan.yaml",
            "--yes",
            "--report",
            report.to_str().expect("UTF-8 path"),
            "--journal-dir",
            journal.to_str().expect("UTF-8 path"),
            "--poll-min",
            "100ms",
            "--poll-max",
            "1s",
        ],
        label,
    )
}

fn output(dir: &Path, label: &str, ext: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{label}.{ext}"))).unwrap_or_default()
}

fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
}

/// Wait for `child` (SIGKILLed after LIMIT); its exit code and stdout, stderr.
fn exit_of(mut child: Child, dir: &Path, label: &str) -> (Option<i32>, String, String) {
    let code = wait_at_most(&mut child, LIMIT);
    (code, output(dir, label, "out"), output(dir, label, "err"))
}

/// Once run `label` has its first calls in flight: its journal shows two
/// servers started (both slots of `concurrency: 2`) and the cloud has
/// received their two os-stop, which it answers only after 3 s. The names
/// of the servers started.
async fn first_calls_in_flight(dir: &Path, label: &str, cloud: &TestCloud) -> BTreeSet<String> {
    let journal = dir.join(format!("{label}-journal"));
    wait_for(LIMIT, "the first two os-stop calls to be under way", || {
        let started: BTreeSet<String> = journal_events(&journal)
            .iter()
            .filter(|e| e["event"] == "step_started")
            .filter_map(|e| e["name"].as_str().map(str::to_owned))
            .collect();
        (started.len() >= 2 && server_actions(cloud) >= 2).then_some(started)
    })
    .await
}

/// Server actions (os-stop, createImage, …) the cloud has received.
fn server_actions(cloud: &TestCloud) -> u64 {
    cloud
        .sim
        .stats()
        .requests_by_route
        .iter()
        .filter(|(route, _)| route.starts_with("compute POST") && route.ends_with("/action"))
        .map(|(_, n)| n)
        .sum()
}

/// Run again until done. After an exit at once, a source may still be
/// powering off; plan then reports it busy (exit 3) until the stop ends.
async fn finish(dir: &Path, env: &[(String, String)], cloud: &TestCloud) {
    let mut out = exit_of(spawn(dir, env, "finish"), dir, "finish");
    for _ in 0..5 {
        if out.0 != Some(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        out = exit_of(spawn(dir, env, "finish"), dir, "finish");
    }
    assert_eq!(out.0, Some(0), "{}\n{}", out.1, out.2);
    let now = servers(&cloud.client).await;
    let reps = replacements(&now);
    assert_eq!(reps.len(), 10);
    assert!(
        reps.values()
            .all(|r| r.len() == 1 && r[0].status == "ACTIVE")
    );
    assert!(
        now.iter()
            .all(|s| s.name.starts_with("vm-") && s.availability_zone.as_deref() == Some("nova2"))
    );
    assert!(azmove_images(&cloud.client, "nova2").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_ctrl_c_stops_gracefully_and_tells_how_to_resume() {
    let cloud = start(cloud().build(), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    std::fs::write(dir.join("plan.yaml"), PLAN).expect("plan");
    let env = os_env(&cloud.sim);

    let child = spawn(dir, &env, "first");
    // Ctrl-C once both slots of `concurrency: 2` have started a server
    // and its os-stop call is under way.
    let started = first_calls_in_flight(dir, "first", &cloud).await;
    interrupt(&child);
    let (code, stdout, stderr) = exit_of(child, dir, "first");
    assert_eq!(code, Some(4), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("Stopping: no new server starts"),
        "{stderr}"
    );
    assert!(stdout.contains("Apply interrupted"), "{stdout}");
    assert!(
        stdout.contains("To continue, run: azmove apply plan.yaml"),
        "{stdout}"
    );
    assert_eq!(started.len(), 2, "{started:?}");
    for name in &started {
        assert!(stderr.contains(&format!("{name}: interrupted")), "{stderr}");
    }

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("first.json")).expect("report"))
            .expect("json");
    assert_eq!(report["interrupted"], true);
    let rows = report["servers"].as_array().expect("servers");
    // Nothing was started after the interruption: the servers with steps
    // are exactly the two the journal showed started when Ctrl-C was sent,
    // and nothing was moved; all ten are reported not finished.
    let with_steps: BTreeSet<String> = rows
        .iter()
        .filter(|s| !s["steps"].as_array().is_none_or(Vec::is_empty))
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(with_steps, started, "{report}");
    assert_eq!(report["counts"]["moved"], 0, "{report}");
    assert_eq!(report["counts"]["interrupted"], 10, "{report}");
    assert!(
        rows.iter().all(|s| s["outcome"] == "interrupted"),
        "{report}"
    );
    // The calls in flight were let finish and nothing else was asked: the
    // cloud got exactly the two os-stop, and the stops were seen through —
    // both sources SHUTOFF with no task left, the eight others untouched.
    assert_eq!(server_actions(&cloud), 2);
    let (model, _) = model_view(&cloud.sim);
    for s in model.iter().filter(|s| s.name.starts_with("vm-")) {
        let want = if started.contains(&s.name) {
            "SHUTOFF"
        } else {
            "ACTIVE"
        };
        assert_eq!(
            (s.status.as_str(), s.az.as_str(), s.task_state.as_deref()),
            (want, "nova", None),
            "{}",
            s.name
        );
    }
    // The journal agrees: each started server's step ended (`interrupted`
    // or `done`), the server was finished `interrupted`, and so was the run.
    let events = journal_events(&dir.join("first-journal"));
    assert!(
        moves_in_flight(&dir.join("first-journal")).is_empty(),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e["event"] == "interrupted"));
    assert!(events.iter().any(|e| e["event"] == "run_finished"));

    // The graceful stop left nothing busy: the very next run goes through.
    let (code, stdout, _) = exit_of(spawn(dir, &env, "next"), dir, "next");
    assert_eq!(code, Some(0), "{stdout}");
    finish(dir, &env, &cloud).await;
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_ctrl_c_exits_at_once_and_a_rerun_finishes() {
    let cloud = start(cloud().build(), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    std::fs::write(dir.join("plan.yaml"), PLAN).expect("plan");
    let env = os_env(&cloud.sim);

    let child = spawn(dir, &env, "twice");
    first_calls_in_flight(dir, "twice", &cloud).await;
    interrupt(&child);
    // The second Ctrl-C once the first was taken (apply said so).
    wait_for(LIMIT, "apply to take the first Ctrl-C", || {
        output(dir, "twice", "err")
            .contains("Stopping: no new server starts")
            .then_some(())
    })
    .await;
    interrupt(&child);
    let (code, _, stderr) = exit_of(child, dir, "twice");
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("Exiting now"), "{stderr}");
    assert!(stderr.contains("azmove apply plan.yaml"), "{stderr}");
    // It did not wait for the calls in flight (3 s more): in its journal
    // both stop steps are still running (the `interrupted` line is written
    // when the first Ctrl-C is taken). It still ended through the normal
    // path: the run is finished in the journal and the report written,
    // with every server interrupted.
    let journal = dir.join("twice-journal");
    let events = journal_events(&journal);
    let running: Vec<String> = moves_in_flight(&journal)
        .values()
        .filter(|m| m.step_running && m.step == "stop source")
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(running.len(), 2, "{events:?}");
    assert!(
        events.iter().any(|e| e["event"] == "interrupted"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e["event"] == "run_finished"),
        "{events:?}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&output(dir, "twice", "json")).expect("the report");
    assert_eq!(report["interrupted"], true, "{report}");
    assert_eq!(report["counts"]["interrupted"], 10, "{report}");

    finish(dir, &env, &cloud).await;
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_while_planning_exits_4_and_changes_nothing() {
    let cloud = start(cloud().fault(SLOW_PLANNING).build(), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    std::fs::write(dir.join("plan.yaml"), PLAN).expect("plan");
    let env = os_env(&cloud.sim);
    let before = cloud.sim.stats();

    let child = spawn(dir, &env, "planning");
    // Ctrl-C once the planning's list of servers has reached the cloud
    // (its answer is held for 30 s).
    wait_for(LIMIT, "planning to list the servers", || {
        let stats = cloud.sim.stats();
        let listed = stats
            .requests_by_route
            .get("compute GET /servers/detail")
            .copied()
            .unwrap_or(0);
        (listed > 0).then_some(())
    })
    .await;
    interrupt(&child);
    let (code, stdout, stderr) = exit_of(child, dir, "planning");
    assert_eq!(code, Some(4), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("Apply interrupted before anything was changed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("To continue, run: azmove apply plan.yaml"),
        "{stderr}"
    );
    // It ended while planning: no plan was shown, no journal begun.
    assert!(stdout.trim().is_empty(), "{stdout}");
    assert!(!dir.join("planning-journal").exists());
    // Nothing changed: the cloud got no request but reads (and a token),
    // nothing was created (no claim or run record either), every server is
    // ACTIVE in nova with no task.
    let stats = cloud.sim.stats();
    let writes: Vec<_> = stats
        .requests_by_method
        .iter()
        .filter(|(k, _)| !k.ends_with(" GET") && k.as_str() != "identity POST")
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(stats.created, before.created);
    assert_eq!(stats.deleted, before.deleted);
    let (model, _) = model_view(&cloud.sim);
    assert!(
        model.iter().all(|s| s.status == "ACTIVE"
            && s.az == "nova"
            && s.task_state.is_none()
            && s.metadata.keys().all(|k| !k.starts_with("azmove_"))),
        "{model:?}"
    );
    cloud.sim.shutdown().await;
}
