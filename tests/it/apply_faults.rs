//! A bad day in the cloud: snapshots killed, boots in ERROR, 429s with and
//! without `Retry-After`, a burst of 503s and tokens that die mid-run.
//! Every server ends either moved or exactly as it was, and is reported;
//! the images and servers azmove created and deleted balance out.

use std::collections::BTreeSet;

use crate::support::apply::*;
use crate::support::scenario::ScenarioBuilder;
use azmove::apply::ServerOutcome;
use azmove::plan::inventory::tags;

/// 40 servers in nova, and every kind of fault.
fn cloud() -> ScenarioBuilder {
    ScenarioBuilder::new(5)
        .time_scale(10.0)
        .timing("api_latency", "2ms")
        .timing("boot", "10s")
        .timing("stop", "3s")
        .timing("snapshot_overhead", "3s")
        .timing("snapshot_throughput_mb_s", "200")
        .quota(1000, 1000, 1_024_000)
        .servers(38, "vm-{i:02}", "nova")
        .server("doomed", "nova")
        .server("follower", "nova")
        .fault("snapshot_killed: {probability: 0.1}")
        .fault("boot_error: {probability: 0.1}")
        // Every boot of `doomed` fails: it must end restarted, cleaned up, reported.
        .fault("boot_error: {server: \"^doomed$\", probability: 1.0}")
        .fault("http_error: {status: 429, retry_after: 1s, probability: 0.03}")
        .fault("http_error: {status: 429, probability: 0.03}")
        .fault("http_error: {status: 503, service: compute, calls: {from: 80, to: 95}}")
        .fault("token_expiry: {after: 4s, advertised: 1h}")
}

const PLAN: &str = r#"
version: 1
defaults:
  strategy: snapshot
  source_after: delete
  retries: 2
limits:
  concurrency: 6
  requests_per_second: 40
moves:
  - server: doomed
    to: nova2
  - server: follower
    to: nova2
    after: [doomed]
  - select: {name: "vm-*"}
    to: nova2
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_is_moved_or_left_intact_and_reported() {
    let cloud = start(cloud().build(), Some(40.0)).await;
    let before = servers(&cloud.client).await;
    let (cs, report) = plan_and_apply(&cloud.client, PLAN, poll(10.0)).await;
    assert_eq!(cs.summary.to_move, 40, "{:?}", cs.summary);
    assert_eq!(report.servers.len(), 40);
    assert!(!report.is_success(), "doomed cannot succeed");

    let by_name = |n: &str| {
        report
            .servers
            .iter()
            .find(|s| s.name == n)
            .expect("reported")
    };
    let doomed = by_name("doomed");
    assert_eq!(doomed.outcome, ServerOutcome::Failed);
    let message = doomed.message.as_deref().unwrap_or_default();
    // The burst of 503s lands on whichever compute calls are 80th–95th; when
    // it takes the deletion of one of doomed's failed replacements past the
    // client's retries, that is the failure reported (the rollback still
    // cleans up: checked below). Otherwise its boots ran out.
    let burst = message.contains("HTTP 503");
    assert!(burst || message.contains("No valid host"), "{message}");
    assert!(burst || message.contains("3 attempts"), "{message}");
    let follower = by_name("follower");
    assert_eq!(follower.outcome, ServerOutcome::Skipped);
    assert!(
        follower
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("doomed"),
        "{follower:?}"
    );

    let after = servers(&cloud.client).await;
    let reps = replacements(&after);
    let mut moved = 0;
    let mut kept_for_a_rerun = 0;
    for original in &before {
        let r = report
            .servers
            .iter()
            .find(|s| s.source_id.as_ref() == Some(&original.id))
            .expect("every server is reported");
        let now = after.iter().find(|s| s.id == original.id);
        let its_reps = reps.get(&original.id).cloned().unwrap_or_default();
        match r.outcome {
            ServerOutcome::Moved => {
                moved += 1;
                assert!(
                    now.is_none(),
                    "{} was moved but its source is still there",
                    original.name
                );
                assert_eq!(
                    its_reps.len(),
                    1,
                    "{} has {} replacements",
                    original.name,
                    its_reps.len()
                );
                assert_eq!(its_reps[0].status, "ACTIVE");
                assert_eq!(its_reps[0].availability_zone.as_deref(), Some("nova2"));
            }
            // Failed after its replacement verified (say, deleting the
            // source failed): nothing is undone, a re-run finishes it.
            ServerOutcome::Failed if r.replacement_id.is_some() => {
                kept_for_a_rerun += 1;
                assert!(
                    now.is_some(),
                    "{} failed and its source is lost",
                    original.name
                );
                assert_eq!(its_reps.len(), 1, "{}: {:?}", original.name, r.message);
                assert_eq!(its_reps[0].status, "ACTIVE");
                assert!(
                    r.message
                        .as_deref()
                        .unwrap_or_default()
                        .contains("run again"),
                    "{r:?}"
                );
            }
            ServerOutcome::Failed | ServerOutcome::Skipped => {
                let now = now
                    .unwrap_or_else(|| panic!("{} failed and its source is lost", original.name));
                assert_eq!(
                    now.status, "ACTIVE",
                    "{} was not restarted: {:?}, source {:?}",
                    original.name, r.message, r.source_state
                );
                assert_eq!(now.availability_zone, original.availability_zone);
                assert!(
                    !now.metadata.contains_key(tags::STOPPED_BY),
                    "{} keeps the stop tag: {:?}, source {:?}, steps {:?}",
                    original.name,
                    r.message,
                    r.source_state,
                    r.steps
                );
                assert!(
                    its_reps.is_empty(),
                    "{} left a replacement behind",
                    original.name
                );
                assert!(
                    r.message.is_some(),
                    "{} is reported without a reason",
                    original.name
                );
            }
            other => panic!("{} ended {other:?}", original.name),
        }
    }
    assert_eq!(moved, report.counts.moved);
    assert!(
        moved >= 30,
        "only {moved} of 38 movable servers moved:\n{}",
        report.render_text()
    );
    assert!(
        azmove_images(&cloud.client, "nova2").await.is_empty(),
        "snapshots were left behind"
    );

    // What was created was deleted, except one replacement per moved server.
    let stats = cloud.sim.stats();
    let (img_created, img_deleted) = balance(&cloud.sim, "image");
    assert_eq!(img_created, img_deleted);
    let created: BTreeSet<&str> = stats
        .created
        .iter()
        .filter(|e| e.kind == "server")
        .map(|e| e.id.as_str())
        .collect();
    let deleted_replacements = stats
        .deleted
        .iter()
        .filter(|e| e.kind == "server" && created.contains(e.id.as_str()))
        .count();
    assert_eq!(
        created.len() - deleted_replacements,
        moved + kept_for_a_rerun
    );

    // The faults really happened.
    let faults = &stats.faults_injected;
    let count = |prefix: &str| {
        faults
            .iter()
            .filter(|(k, _)| k.contains(prefix))
            .map(|(_, v)| *v)
            .sum::<u64>()
    };
    assert!(count("snapshot") > 0, "{faults:?}");
    assert!(count("boot") > 3, "{faults:?}");
    assert!(count("429") > 0, "{faults:?}");
    assert!(count("503") > 0, "{faults:?}");
    assert!(
        stats.responses_by_status.get("401").copied().unwrap_or(0) > 0,
        "no token expired: {:?}",
        stats.responses_by_status
    );
    cloud.sim.shutdown().await;
}
