//! The cloud is the state: after apply has moved the seed server, planning
//! again says "No changes" — for every `source_after` — reading only the
//! tags azmove left in the simulated cloud.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use azmove::apply::{ApplyOptions, PollConfig, PollMode, RunInput, execute};
use azmove::connect::CloudChoice;
use azmove::observe::observe;
use azmove::ops::plan::make_plan;
use azmove::plan::changeset::Action;
use azmove::plan::planner;
use azmove::render::text;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The seed cloud, with operations 50 times faster than real time.
fn fast_seed_cloud(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(Path::new(ROOT).join("plans/seed-cloud.yaml")).unwrap();
    assert!(
        text.contains("time_scale: 1.0"),
        "the seed scenario sets time_scale"
    );
    let path = dir.join("seed-cloud-fast.yaml");
    std::fs::write(&path, text.replace("time_scale: 1.0", "time_scale: 50.0")).unwrap();
    path
}

async fn move_then_replan(source_after: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let cloud = fast_seed_cloud(dir.path());
    let plan_text = std::fs::read_to_string(Path::new(ROOT).join("plans/seed.yaml"))
        .unwrap()
        .replace(
            "source_after: keep",
            &format!("source_after: {source_after}"),
        )
        .replace("requests_per_second: 5", "requests_per_second: 200");
    let plan_path = dir.path().join("seed.yaml");
    std::fs::write(&plan_path, plan_text).unwrap();

    let args = CloudChoice {
        sim: Some(cloud),
        ..Default::default()
    };
    let planned = make_plan(&plan_path, &args).await.unwrap();
    assert_eq!(planned.changeset.summary.to_move, 1);

    let input = RunInput {
        busy: Default::default(),
        changeset: planned.changeset.clone(),
        servers: planned.inventory.servers.clone(),
        images: planned.inventory.images.clone(),
        availability_zones: planned.inventory.availability_zones.clone(),
        stale: BTreeMap::new(),
        origin: "plan".into(),
    };
    let poll = PollConfig {
        min_interval: Duration::from_millis(20),
        max_interval: Duration::from_millis(200),
        ..PollConfig::default()
    };
    let options = ApplyOptions {
        poll: PollMode::Shared(poll),
        ..ApplyOptions::default()
    };
    let client = planned.connection.client.clone();
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        execute(Arc::new(client.clone()), input, options),
    )
    .await
    .expect("apply finishes");
    println!("{report:#?}");

    let inventory = observe(&client, &planned.plan).await.unwrap();
    let again = planner::plan(
        &planned.plan,
        "seed.yaml",
        &planned.changeset.plan_digest,
        &inventory,
    );
    let out = text::render(&again, false);
    println!("{out}");
    assert_eq!(again.summary.to_move, 0, "{out}");
    assert_eq!(again.summary.blocked, 0, "{out}");
    assert!(out.contains("No changes."), "{out}");
    let reason = match &again.moves[0].action {
        Action::NoChange { reason } => reason.clone(),
        other => panic!("{other:?}"),
    };
    assert!(reason.starts_with("moved (replacement "), "{reason}");
    if source_after == "delete" {
        assert!(reason.contains("the source was deleted"), "{reason}");
    }
    // No snapshot is left behind (keep_snapshot is false).
    assert!(inventory.images.is_empty(), "{:?}", inventory.images);
    planned.connection.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replanning_after_apply_with_source_kept_has_no_changes() {
    move_then_replan("keep").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replanning_after_apply_with_source_deleted_has_no_changes() {
    move_then_replan("delete").await;
}
