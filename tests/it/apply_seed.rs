//! The classic scenario end to end, over real HTTP against the simulator:
//! `admin_vm01` moves from nova (node-27) to nova2 (node-31) with its
//! flavor, network, security group, key and metadata; the snapshot is
//! cleaned up; the source is handled per `source_after`; a new plan then
//! says "No changes". Also the `azmove apply` binary itself.

use crate::support::apply::*;
use assert_cmd::Command;
use azmove::apply::ServerOutcome;
use azmove::plan::inventory::tags;
use azmove::render::text;

/// The seed cloud, ten times faster.
fn seed_cloud() -> azmove::sim::Scenario {
    let mut s = azmove::sim::Scenario::load(root("plans/seed-cloud.yaml")).expect("seed cloud");
    s.time_scale = 10.0;
    s
}

fn seed_plan(source_after: &str) -> String {
    let text = std::fs::read_to_string(root("plans/seed.yaml")).expect("seed plan");
    let replaced = text.replace(
        "source_after: keep",
        &format!("source_after: {source_after}"),
    );
    assert!(source_after == "keep" || replaced != text);
    replaced
}

async fn move_seed(source_after: &str) -> (TestCloud, String) {
    let cloud = start(seed_cloud(), Some(20.0)).await;
    let before = servers(&cloud.client).await;
    let source = before
        .iter()
        .find(|s| s.name == "admin_vm01")
        .expect("admin_vm01")
        .clone();
    assert_eq!(source.availability_zone.as_deref(), Some("nova"));

    let (cs, report) = plan_and_apply(&cloud.client, &seed_plan(source_after), poll(10.0)).await;
    assert_eq!(cs.summary.to_move, 1);
    assert!(report.is_success(), "{}", report.render_text());
    assert_eq!(report.counts.moved, 1);
    let r = &report.servers[0];
    assert_eq!(r.outcome, ServerOutcome::Moved);
    assert_eq!(r.replacement_host.as_deref(), Some("node-31"));

    // The replacement: ACTIVE on node-31 in nova2, same spec.
    let after = servers(&cloud.client).await;
    let new = after
        .iter()
        .find(|s| Some(&s.id) == r.replacement_id.as_ref())
        .expect("the replacement exists");
    assert_eq!(new.name, "admin_vm01");
    assert_eq!(new.status, "ACTIVE");
    assert_eq!(new.availability_zone.as_deref(), Some("nova2"));
    assert_eq!(new.host.as_deref(), Some("node-31"));
    assert_eq!(new.flavor.original_name, source.flavor.original_name);
    assert_eq!(
        new.addresses.keys().collect::<Vec<_>>(),
        source.addresses.keys().collect::<Vec<_>>()
    );
    assert_eq!(new.security_groups, source.security_groups);
    assert_eq!(new.key_name, source.key_name);
    assert_eq!(new.metadata.get("role").map(String::as_str), Some("demo"));
    assert_eq!(new.metadata.get(tags::SOURCE), Some(&source.id));
    assert_eq!(
        new.metadata.get(tags::TARGET).map(String::as_str),
        Some("nova2")
    );
    assert_ne!(new.id, source.id);

    // The snapshot is gone; exactly one replacement exists.
    assert!(
        azmove_images(&cloud.client, "nova2").await.is_empty(),
        "the snapshot was not cleaned up"
    );
    assert_eq!(replacements(&after).get(&source.id).map(Vec::len), Some(1));
    let (img_created, img_deleted) = balance(&cloud.sim, "image");
    assert_eq!(img_created, img_deleted, "every image made was deleted");

    // A new plan finds nothing to do.
    let (again, _) = plan(&cloud.client, &seed_plan(source_after)).await;
    assert_eq!(again.summary.to_move, 0, "{}", text::render(&again, false));
    assert_eq!(again.summary.blocked, 0, "{}", text::render(&again, false));
    assert!(
        text::render(&again, false).contains("No changes"),
        "{}",
        text::render(&again, false)
    );
    (cloud, source.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_move_keeps_the_source_stopped_and_tagged() {
    let (cloud, source_id) = move_seed("keep").await;
    let after = servers(&cloud.client).await;
    let source = after
        .iter()
        .find(|s| s.id == source_id)
        .expect("the source is kept");
    assert_eq!(source.status, "SHUTOFF");
    assert_eq!(source.availability_zone.as_deref(), Some("nova"));
    assert_eq!(
        source.metadata.get(tags::STOPPED_BY).map(String::as_str),
        Some("1")
    );
    let replacement = replacements(&after)[&source_id][0].id.clone();
    assert_eq!(source.metadata.get(tags::MOVED_TO), Some(&replacement));
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_move_with_delete_removes_the_source_only_after_the_replacement() {
    let (cloud, source_id) = move_seed("delete").await;
    let after = servers(&cloud.client).await;
    assert!(
        after.iter().all(|s| s.id != source_id),
        "the source was not deleted"
    );
    let stats = cloud.sim.stats();
    let created = stats
        .created
        .iter()
        .position(|e| e.kind == "server")
        .expect("replacement created");
    let deleted = stats
        .deleted
        .iter()
        .find(|e| e.id == source_id)
        .expect("source deleted");
    assert!(
        stats.created[created].at <= deleted.at,
        "source deleted before the replacement existed"
    );
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_move_with_stop_leaves_the_source_shut_off() {
    let (cloud, source_id) = move_seed("stop").await;
    let after = servers(&cloud.client).await;
    let source = after
        .iter()
        .find(|s| s.id == source_id)
        .expect("the source is kept");
    assert_eq!(source.status, "SHUTOFF");
    assert!(source.metadata.contains_key(tags::MOVED_TO));
    cloud.sim.shutdown().await;
}

fn faster_seed_scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(root("plans/seed-cloud.yaml")).expect("seed cloud");
    let path = dir.join("seed-cloud-fast.yaml");
    std::fs::write(&path, text.replace("time_scale: 1.0", "time_scale: 10.0"))
        .expect("write scenario");
    path
}

fn azmove(dir: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("azmove").expect("binary");
    c.current_dir(dir)
        .env_remove("OS_CLOUD")
        .env_remove("OS_AUTH_URL")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    c
}

#[test]
fn the_binary_moves_the_seed_server_and_writes_report_and_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = faster_seed_scenario(dir.path());
    let out = azmove(dir.path())
        .args([
            "apply",
            &root("plans/seed.yaml").display().to_string(),
            "--sim",
        ])
        .arg(&scenario)
        .args([
            "--yes",
            "--report",
            "report.json",
            "--journal-dir",
            "journal",
        ])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("Plan: 1 to move"), "{stdout}");
    assert!(
        stdout.contains("1 moved, 0 unchanged, 0 failed, 0 skipped"),
        "{stdout}"
    );
    assert!(stdout.contains("nova2/node-31"), "{stdout}");
    // Off a terminal, progress goes to stderr as timestamped log lines.
    assert!(stderr.contains("admin_vm01: wait image active"), "{stderr}");

    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report"),
    )
    .expect("json");
    assert_eq!(report["counts"]["moved"], 1);
    assert_eq!(report["servers"][0]["outcome"], "moved");
    assert_eq!(report["servers"][0]["replacement_host"], "node-31");
    assert!(
        report["servers"][0]["steps"]
            .as_array()
            .is_some_and(|s| s.len() == 8)
    );

    let journals: Vec<_> = std::fs::read_dir(dir.path().join("journal"))
        .expect("journal dir")
        .flatten()
        .collect();
    assert_eq!(journals.len(), 1);
    let text = std::fs::read_to_string(journals[0].path()).expect("journal");
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(
        events.first().map(|e| e["event"].clone()),
        Some("run_started".into())
    );
    assert_eq!(
        events.last().map(|e| e["event"].clone()),
        Some("run_finished".into())
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "step_finished")
            .count(),
        8
    );
    // The simulator's admin password never appears.
    assert!(!text.contains("secret"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = journals[0].metadata().expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn without_yes_and_without_a_terminal_nothing_is_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = faster_seed_scenario(dir.path());
    let out = azmove(dir.path())
        .args([
            "apply",
            &root("plans/seed.yaml").display().to_string(),
            "--sim",
        ])
        .arg(&scenario)
        .args(["--journal-dir", "journal"])
        .write_stdin("yes\n")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert!(
        !dir.path().join("journal").exists(),
        "a journal was started"
    );
}
