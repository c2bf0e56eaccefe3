//! Crash safety: the real `azmove` binary is killed with SIGKILL at 30
//! random (seeded) moments of a 50-server apply that deletes its sources,
//! and run again each time. The simulated cloud lives in this test process,
//! so it outlives every killed run. At every stop, no source is lost (each
//! is still there or has an ACTIVE replacement in the target AZ); at the
//! end every server is moved once: no duplicate replacement, no leftover
//! snapshot.

mod apply_support;

use std::collections::BTreeSet;
use std::time::Duration;

use apply_support::*;
use azmove::plan::inventory::{Server, tags};
use rand::{Rng, SeedableRng};

const CLOUD: &str = r#"
seed: 3
time_scale: 5
timings:
  boot: 10s
  stop: 4s
  delete: 2s
  snapshot_overhead: 4s
  snapshot_throughput_mb_s: 100
availability_zones:
  - {name: nova,  hosts: [{name: node-27, vcpus: 256, ram_mb: 524288, disk_gb: 10000}]}
  - {name: nova2, hosts: [{name: node-31, vcpus: 256, ram_mb: 524288, disk_gb: 10000}]}
flavors:
  - {name: m1.tiny, id: "1", vcpus: 1, ram_mb: 512, disk_gb: 1}
images:
  - {name: cirros, size_mb: 20}
projects:
  - {name: admin, quota: {instances: 1000, cores: 1000, ram_mb: 1024000}}
users:
  - {name: admin, password: secret, project: admin, roles: [admin, member, reader]}
networks:
  - {name: net1, shared: true, subnets: [{name: sub1, cidr: 10.0.0.0/16}]}
servers:
  - generate: {count: 50, name: "vm-{i:02}", availability_zone: nova, flavor: m1.tiny, image: cirros, networks: [net1]}
"#;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_thirty_times_then_finished_without_duplicates_or_losses() {
    let cloud = start(scenario(CLOUD), None).await;
    let originals = servers(&cloud.client).await;
    assert_eq!(originals.len(), 50);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).expect("plan");
    let env = os_env(&cloud.sim);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(30);

    let mut finished_early = 0;
    for kill in 0..30 {
        let mut child = spawn_apply(dir.path(), &env);
        let delay = Duration::from_millis(rng.random_range(150..2500));
        tokio::time::sleep(delay).await;
        match child.try_wait().expect("child status") {
            Some(_) => finished_early += 1,
            None => {
                child.kill().expect("SIGKILL");
            }
        }
        let _ = child.wait();
        assert_nothing_lost(
            &originals,
            &servers(&cloud.client).await,
            &format!("after kill {kill}"),
        );
    }

    // Run to the end (a few times at most: a run may find a server busy
    // with a task left by a killed run, skip it, and leave it to the next).
    let mut done = false;
    for _ in 0..6 {
        let status = spawn_apply(dir.path(), &env).wait().expect("runs");
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
    let stats = cloud.sim.stats();
    let (img_created, img_deleted) = balance(&cloud.sim, "image");
    assert_eq!(img_created, img_deleted);
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
        "30 kills ({finished_early} runs had finished before their kill); {} servers and {} images created",
        created.len(),
        img_created
    );
    cloud.sim.shutdown().await;
}
