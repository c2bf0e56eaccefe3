//! `azmove plan -o` then `azmove apply SAVED`: a server that changed after
//! the plan was saved is refused as stale, saying what changed; the others
//! are moved exactly as reviewed. The binary runs against a simulator that
//! lives in this test process, so both commands see the same cloud.

use std::path::Path;
use std::time::Duration;

use crate::support::apply::*;
use crate::support::scenario::ScenarioBuilder;
use azmove::plan::inventory::tags;

/// alpha, bravo and charlie in nova.
fn cloud() -> ScenarioBuilder {
    ScenarioBuilder::new(9)
        .time_scale(20.0)
        .hosts_of(64, 131_072, 2000)
        .quota(100, 100, 102_400)
        .cidr("10.0.0.0/24")
        .server("alpha", "nova")
        .server("bravo", "nova")
        .server("charlie", "nova")
}

const PLAN: &str = r#"
version: 1
defaults: {strategy: snapshot}
limits: {concurrency: 3, requests_per_second: 50}
moves:
  - {server: alpha, to: nova2}
  - {server: bravo, to: nova2}
  - {server: charlie, to: nova2}
"#;

fn azmove(dir: &Path, env: &[(String, String)], args: &[&str]) -> std::process::Output {
    azmove_in(dir, env)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs azmove")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_changed_since_the_saved_plan_is_refused_and_the_others_move() {
    let cloud = start(cloud().build(), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).expect("plan");
    let env = os_env(&cloud.sim);

    let out = azmove(dir.path(), &env, &["plan", "plan.yaml", "-o", "saved.json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Someone stops bravo after the plan was reviewed.
    let bravo = servers(&cloud.client)
        .await
        .into_iter()
        .find(|s| s.name == "bravo")
        .expect("bravo");
    cloud
        .client
        .stop_server(&bravo.id)
        .await
        .expect("stops bravo");
    for _ in 0..200 {
        let now = cloud
            .client
            .get_server(&bravo.id)
            .await
            .expect("reads bravo")
            .expect("bravo exists");
        if now.status == "SHUTOFF" && now.task_state.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let out = azmove(
        dir.path(),
        &env,
        &[
            "apply",
            "saved.json",
            "--report",
            "report.json",
            "--poll-min",
            "50ms",
            "--poll-max",
            "400ms",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("not moving bravo")
            && stderr.contains("status changed from ACTIVE to SHUTOFF"),
        "{stderr}"
    );
    assert!(stdout.contains("2 moved"), "{stdout}");
    assert!(stdout.contains("1 stale"), "{stdout}");

    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report"),
    )
    .expect("json");
    for s in report["servers"].as_array().expect("servers") {
        let expected = if s["name"] == "bravo" {
            "stale"
        } else {
            "moved"
        };
        assert_eq!(s["outcome"], expected, "{s}");
    }

    // bravo is exactly as its owner left it; the others moved.
    let now = servers(&cloud.client).await;
    let b = now
        .iter()
        .find(|s| s.id == bravo.id)
        .expect("bravo still exists");
    assert_eq!(b.status, "SHUTOFF");
    assert_eq!(b.availability_zone.as_deref(), Some("nova"));
    assert!(
        b.metadata.keys().all(|k| !k.starts_with("azmove_")),
        "{:?}",
        b.metadata
    );
    let reps = replacements(&now);
    assert!(!reps.contains_key(&bravo.id));
    assert_eq!(reps.len(), 2);
    assert!(
        now.iter()
            .filter(|s| s.metadata.contains_key(tags::MOVED_TO))
            .count()
            == 2
    );
    cloud.sim.shutdown().await;
}
