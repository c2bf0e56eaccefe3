//! Ctrl-C during `azmove apply`: the first one starts nothing new, lets
//! what is in flight reach a safe point, prints what remains and how to
//! resume, and exits 4; running the same command again finishes the job.
//! A second Ctrl-C exits at once, and that too is safe to resume.

mod apply_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use apply_support::*;

const CLOUD: &str = r#"
seed: 4
time_scale: 4
timings:
  boot: 8s
  stop: 2s
  snapshot_overhead: 4s
  snapshot_throughput_mb_s: 100
availability_zones:
  - {name: nova,  hosts: [{name: node-27, vcpus: 64, ram_mb: 131072, disk_gb: 2000}]}
  - {name: nova2, hosts: [{name: node-31, vcpus: 64, ram_mb: 131072, disk_gb: 2000}]}
flavors:
  - {name: m1.tiny, id: "1", vcpus: 1, ram_mb: 512, disk_gb: 1}
images:
  - {name: cirros, size_mb: 20}
projects:
  - {name: admin, quota: {instances: 100, cores: 100, ram_mb: 102400}}
users:
  - {name: admin, password: secret, project: admin, roles: [admin, member, reader]}
networks:
  - {name: net1, shared: true, subnets: [{name: sub1, cidr: 10.0.0.0/24}]}
servers:
  - generate: {count: 10, name: "vm-{i:02}", availability_zone: nova, flavor: m1.tiny, image: cirros, networks: [net1]}
faults:
  # The first two server actions (the first two os-stop) take 3 s to answer,
  # so that Ctrl-C finds calls in flight.
  - latency: {delay: 3s, method: POST, path: "^/servers/[^/]+/action$", calls: {from: 1, to: 2}}
"#;

const PLAN: &str = r#"
version: 1
defaults: {strategy: snapshot, source_after: delete}
limits: {concurrency: 2, requests_per_second: 50}
moves:
  - select: {name: "vm-*"}
    to: nova2
"#;

fn spawn(dir: &Path, env: &[(String, String)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_azmove"))
        .current_dir(dir)
        .args([
            "apply",
            "plan.yaml",
            "--yes",
            "--report",
            "report.json",
            "--poll-min",
            "100ms",
            "--poll-max",
            "1s",
        ])
        .env_clear()
        .envs(env.iter().cloned())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts azmove")
}

fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
}

/// Run again until done. After an exit at once, a source may still be
/// powering off; plan then reports it busy (exit 3) until the stop ends.
async fn finish(dir: &Path, env: &[(String, String)], cloud: &TestCloud) {
    let mut out = spawn(dir, env).wait_with_output().expect("runs");
    for _ in 0..5 {
        if out.status.code() != Some(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        out = spawn(dir, env).wait_with_output().expect("runs");
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
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
    let cloud = start(scenario(CLOUD), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).expect("plan");
    let env = os_env(&cloud.sim);

    let child = spawn(dir.path(), &env);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    interrupt(&child);
    let out = child.wait_with_output().expect("exits");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(4),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("Stopping: no new server starts"),
        "{stderr}"
    );
    assert!(stdout.contains("Apply interrupted"), "{stdout}");
    assert!(
        stdout.contains("To continue, run: azmove apply plan.yaml"),
        "{stdout}"
    );
    // The calls in flight were let finish: both sources were asked to stop,
    // and their steps ended at the wait, not in the middle of the call.
    assert!(
        stderr.contains("vm-01: interrupted") && stderr.contains("vm-02: interrupted"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report"),
    )
    .expect("json");
    assert_eq!(report["interrupted"], true);
    let not_done: Vec<_> = report["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .filter(|s| s["outcome"] == "interrupted")
        .collect();
    assert!(!not_done.is_empty(), "{report}");
    // Nothing was started after the interruption: at most two were in flight.
    let started = report["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .filter(|s| !s["steps"].as_array().is_none_or(Vec::is_empty))
        .count();
    assert!(started < 10, "{started} servers were started");

    // The graceful stop left nothing busy: the very next run goes through.
    let out = spawn(dir.path(), &env).wait_with_output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    finish(dir.path(), &env, &cloud).await;
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_ctrl_c_exits_at_once_and_a_rerun_finishes() {
    let cloud = start(scenario(CLOUD), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).expect("plan");
    let env = os_env(&cloud.sim);

    let child = spawn(dir.path(), &env);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    interrupt(&child);
    // The calls in flight take seconds more: this one does not wait for them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    interrupt(&child);
    let out = child.wait_with_output().expect("exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("Exiting now"), "{stderr}");
    assert!(stderr.contains("azmove apply plan.yaml"), "{stderr}");

    finish(dir.path(), &env, &cloud).await;
    cloud.sim.shutdown().await;
}
