//! Scale: planning 10,000 servers reads the cloud in bulk. The request
//! bound is asserted (from the client's counter and the simulator's own
//! statistics); plan time and peak memory are printed, never asserted.

use std::time::Instant;

use azmove::connect::CloudChoice;
use azmove::connect::{self, Target};
use azmove::observe::observe;
use azmove::plan::planner;
use azmove::render::text;

use crate::support::peak_rss_kib;
use crate::support::scenario::ScenarioBuilder;

const SERVERS: u64 = 10_000;

const PLAN: &str = r#"
version: 1
limits: {concurrency: 16, requests_per_second: 1000}
moves:
  - id: fleet
    select: {name: "vm-*", availability_zone: nova}
    to: nova2
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_servers_are_planned_in_a_bounded_number_of_requests() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = dir.path().join("fleet.yaml");
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&cloud, ScenarioBuilder::fleet(11, SERVERS as usize).yaml()).unwrap();
    std::fs::write(&plan, PLAN).unwrap();

    let azmove::ops::plan::Loaded {
        plan: file, digest, ..
    } = azmove::ops::plan::load(&plan).unwrap();
    let args = CloudChoice {
        sim: Some(cloud),
        ..Default::default()
    };
    let target = Target {
        cloud: &args,
        plan_cloud: None,
        plan_region: None,
    };
    let connection = connect::connect(&target, connect::client_options(&file.limits))
        .await
        .unwrap();
    let t0 = Instant::now();
    let inventory = observe(&connection.client, &file).await.unwrap();
    let observe_time = t0.elapsed();
    let t1 = Instant::now();
    let cs = planner::plan(&file, "plan.yaml", &digest, &inventory);
    let plan_time = t1.elapsed();
    assert_eq!(cs.summary.to_move as u64, SERVERS, "{}", cs.summary.line());

    let sent = connection.client.requests_sent();
    let stats = connection.sim().unwrap().stats();
    let bound = SERVERS.div_ceil(1000) + 10;
    println!(
        "requests: {sent} sent by the client, {} seen by the cloud, bound {bound}",
        stats.requests_total
    );
    println!("by route: {:#?}", stats.requests_by_route);
    assert_eq!(
        sent, stats.requests_total,
        "the client's counter and the cloud agree"
    );
    assert!(
        sent <= bound,
        "{sent} requests for {SERVERS} servers; at most {bound} allowed"
    );
    let server_pages = stats
        .requests_by_route
        .get("compute GET /servers/detail")
        .copied()
        .unwrap_or(0);
    assert!(
        server_pages <= SERVERS.div_ceil(1000) + 1,
        "{server_pages} server pages"
    );

    let render_started = Instant::now();
    let out = text::render(&cs, false);
    let render_time = render_started.elapsed();
    assert!(out.ends_with("Plan: 10000 to move, 0 unchanged, 0 blocked.\n"));
    println!(
        "observe {:?}, plan (pure) {:?}, text rendering {:?} ({} KiB), peak RSS of the test process incl. the simulator {} KiB",
        observe_time,
        plan_time,
        render_time,
        out.len() / 1024,
        peak_rss_kib()
            .map(|k| k.to_string())
            .unwrap_or_else(|| "?".into())
    );
    connection.shutdown().await;
}
