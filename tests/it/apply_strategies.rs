//! The in-place strategies end to end, over real HTTP against the
//! simulator: shelve (as a member and as an admin), cold and live (admin);
//! what each keeps (UUID, fixed IP, MAC) and where the server ends (AZ,
//! host, pin, power state); the downtime the report measures; failures
//! (a migration Nova cannot schedule, an unshelve that fails, a live
//! migration that never converges) leaving the server pinned where it is;
//! and runs cut short at each stage of each strategy, then run again,
//! converging with the UUID kept and no second server.
//!
//! The plans are made by the planner with `strategy: snapshot` and turned
//! into in-place moves here (the step lists of the strategies contract),
//! so the engine is tested with exactly the lists it must handle, whole or
//! trimmed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::support::apply::*;
use crate::support::scenario::ScenarioBuilder;
use azmove::apply::{ApplyReport, ServerOutcome, execute, prepare};
use azmove::openstack::Client;
use azmove::plan::changeset::{Changeset, Existing, Step};
use azmove::plan::file::Strategy;
use azmove::plan::inventory::{Inventory, Server, tags};
use azmove::sim::SimHandle;
use secrecy::ExposeSecret;

/// Two AZs of two hosts each; an admin project and a member project.
fn cloud() -> ScenarioBuilder {
    ScenarioBuilder::new(9)
        .time_scale(20.0)
        .timing("boot", "4s")
        .timing("stop", "2s")
        .timing("start", "2s")
        .timing("shelve_offload", "2s")
        .timing("unshelve", "4s")
        .timing("snapshot_overhead", "2s")
        .timing("snapshot_throughput_mb_s", "200")
        .timing("migrate_overhead", "4s")
        .timing("migrate_throughput_mb_s", "200")
        .timing("confirm_resize", "1s")
        .timing("revert_resize", "2s")
        .timing("live_migration_overhead", "4s")
        .timing("live_migration_throughput_mb_s", "500")
        .zones(&[
            ("nova", &["node-27", "node-28"]),
            ("nova2", &["node-31", "node-32"]),
        ])
        .hosts_of(16, 32_768, 500)
        .member("demo", "demo-secret")
        .cidr("10.0.0.0/24")
        .server_with(
            "web1",
            "nova",
            "project: admin, host: node-27, metadata: {role: web}",
        )
        .server_with("web2", "nova", "project: admin, host: node-27")
        .server_with(
            "quiet",
            "nova",
            "project: admin, host: node-28, status: SHUTOFF",
        )
        .server_with(
            "tenant-vm",
            "nova",
            "project: demo, user: demo, host: node-28",
        )
}

const TIME_SCALE: f64 = 20.0;

/// The contract's step lists of a fresh move.
fn steps_of(strategy: Strategy) -> Vec<Step> {
    use Step::*;
    match strategy {
        Strategy::Shelve => vec![
            MarkMoving,
            Shelve,
            ShelveOffload,
            Unshelve,
            Verify,
            RestorePowerState,
            Finish,
        ],
        Strategy::Cold => vec![
            MarkMoving,
            Unpin,
            ColdMigrate,
            ConfirmMigration,
            Verify,
            Repin,
            Finish,
        ],
        Strategy::Live => vec![MarkMoving, Unpin, LiveMigrate, Verify, Repin, Finish],
        _ => Vec::new(),
    }
}

fn plan_yaml(select: &str, extra: &str) -> String {
    format!(
        "version: 1\ndefaults:\n  strategy: snapshot\n{extra}limits:\n  concurrency: 4\n  requests_per_second: 200\nmoves:\n  - select: {{name: \"{select}\"}}\n    to: nova2\n"
    )
}

/// The planner's moves turned into `strategy` moves with `steps`.
fn in_place(mut cs: Changeset, strategy: Strategy, steps: &[Step]) -> Changeset {
    for m in cs.moves.iter_mut().filter(|m| m.is_move()) {
        m.strategy = strategy;
        m.settings.strategy = strategy;
        m.strategy_reason = "set by the test".into();
        m.steps = steps.to_vec();
        m.boot = None;
        m.existing = Existing::default();
    }
    cs
}

/// Plan `yaml` (snapshot), turn it into `strategy` with `steps`, apply.
async fn run(
    client: &Client,
    yaml: &str,
    strategy: Strategy,
    steps: &[Step],
) -> (Changeset, ApplyReport) {
    let (cs, inventory) = plan(client, yaml).await;
    let cs = in_place(cs, strategy, steps);
    let report = apply_changeset(client, cs.clone(), &inventory).await;
    (cs, report)
}

async fn apply_changeset(client: &Client, cs: Changeset, inventory: &Inventory) -> ApplyReport {
    let input = prepare::from_fresh_plan(cs, inventory);
    execute(Arc::new(client.clone()), input, options(poll(TIME_SCALE))).await
}

async fn server(client: &Client, name: &str) -> Server {
    servers(client)
        .await
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} exists"))
}

/// Network name → (address, MAC) of each port.
type Addresses = BTreeMap<String, Vec<(String, Option<String>)>>;

/// What a move must keep: the UUID, and every fixed address with its MAC.
fn identity(s: &Server) -> (String, Addresses) {
    let addrs = s
        .addresses
        .iter()
        .map(|(n, a)| {
            (
                n.clone(),
                a.iter().map(|x| (x.addr.clone(), x.mac.clone())).collect(),
            )
        })
        .collect();
    (s.id.clone(), addrs)
}

fn has_no_move_tags(s: &Server) -> bool {
    [tags::MOVING_TO, tags::STRATEGY, tags::WAS_SHUTOFF]
        .iter()
        .all(|k| !s.metadata.contains_key(*k))
}

fn servers_made(sim: &SimHandle) -> usize {
    sim.stats()
        .created
        .iter()
        .filter(|e| e.kind == "server")
        .count()
}

fn row<'a>(report: &'a ApplyReport, name: &str) -> &'a azmove::apply::report::ServerReport {
    report
        .servers
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} in the report:\n{}", report.render_text()))
}

/// Moved, in nova2 on a host of it, pinned there, no tags, same identity.
fn assert_moved(before: &Server, after: &Server, status: &str) {
    assert_eq!(identity(after), identity(before), "identity kept");
    assert_eq!(after.task_state, None);
    assert_at_rest_in(after, status, "nova2");
}

/// `status` in `az`, pinned there, without azmove's in-place tags: where a
/// finished or undone move must leave a server.
#[track_caller]
fn assert_at_rest_in(after: &Server, status: &str, az: &str) {
    assert_eq!(after.status, status, "{after:?}");
    assert_eq!(after.availability_zone.as_deref(), Some(az), "{after:?}");
    assert_eq!(
        after.pinned_availability_zone.as_deref(),
        Some(az),
        "{after:?}"
    );
    assert!(has_no_move_tags(after), "{:?}", after.metadata);
}

// ----------------------------------------------------------------- shelve

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_moves_by_shelve_keeping_uuid_ip_and_mac() {
    let cloud = start(cloud().build(), None).await;
    let member = connect_as(&cloud.sim, "demo").await;
    let before = server(&member, "tenant-vm").await;
    assert_eq!(before.host, None, "members see no hosts");
    let made = servers_made(&cloud.sim);

    let (_, report) = run(
        &member,
        &plan_yaml("tenant-vm", ""),
        Strategy::Shelve,
        &steps_of(Strategy::Shelve),
    )
    .await;
    assert!(report.is_success(), "{}", report.render_text());
    let r = row(&report, "tenant-vm");
    assert_eq!(r.outcome, ServerOutcome::Moved);
    assert_eq!(r.strategy, "shelve");
    assert_eq!(r.replacement_id, None);
    assert_eq!(r.server_az.as_deref(), Some("nova2"));
    assert_eq!(r.server_pinned_az.as_deref(), Some("nova2"));
    assert_eq!(r.downtime_from.as_deref(), Some("shelve"));
    let downtime = r.downtime_seconds.expect("downtime measured");
    assert!(downtime > 0.0 && downtime < 30.0, "{downtime}");
    assert!(
        report.render_text().contains("tenant-vm"),
        "{}",
        report.render_text()
    );

    let after = server(&member, "tenant-vm").await;
    assert_moved(&before, &after, "ACTIVE");
    assert_eq!(servers_made(&cloud.sim), made, "no new server");
    // The admin sees it on a host of nova2.
    let host = cloud
        .client
        .get_server(&before.id)
        .await
        .expect("reads the server")
        .and_then(|s| s.host);
    assert!(
        matches!(host.as_deref(), Some("node-31" | "node-32")),
        "{host:?}"
    );
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutoff_server_moved_by_shelve_ends_shutoff() {
    let cloud = start(cloud().build(), None).await;
    let before = server(&cloud.client, "quiet").await;
    let (_, report) = run(
        &cloud.client,
        &plan_yaml("quiet", ""),
        Strategy::Shelve,
        &steps_of(Strategy::Shelve),
    )
    .await;
    assert!(report.is_success(), "{}", report.render_text());
    let after = server(&cloud.client, "quiet").await;
    assert_moved(&before, &after, "SHUTOFF");
    // It was not serving: there is no downtime to speak of.
    assert_eq!(row(&report, "quiet").downtime_seconds, None);
    cloud.sim.shutdown().await;
}

// ------------------------------------------------------------ cold, live

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_moves_spread_over_the_target_hosts_and_keep_identity() {
    let cloud = start(cloud().build(), None).await;
    let before: Vec<Server> = vec![
        server(&cloud.client, "web1").await,
        server(&cloud.client, "web2").await,
        server(&cloud.client, "quiet").await,
    ];
    let made = servers_made(&cloud.sim);
    let (_, report) = run(
        &cloud.client,
        &plan_yaml("*", ""),
        Strategy::Cold,
        &steps_of(Strategy::Cold),
    )
    .await;
    assert!(report.is_success(), "{}", report.render_text());
    assert_eq!(report.counts.moved, 3, "{}", report.render_text());
    let mut hosts = Vec::new();
    for b in &before {
        let after = server(&cloud.client, &b.name).await;
        let status = if b.status == "SHUTOFF" {
            "SHUTOFF"
        } else {
            "ACTIVE"
        };
        assert_moved(b, &after, status);
        hosts.push(after.host.clone().expect("admins see hosts"));
        let r = row(&report, &b.name);
        assert_eq!(r.server_host, after.host);
        if status == "ACTIVE" {
            assert_eq!(r.downtime_from.as_deref(), Some("migrate"));
            assert!(r.downtime_seconds.is_some_and(|d| d > 0.0));
        } else {
            assert_eq!(r.downtime_seconds, None);
        }
    }
    assert!(hosts.iter().any(|h| h == "node-31"), "{hosts:?}");
    assert!(hosts.iter().any(|h| h == "node-32"), "{hosts:?}");
    // The three choices shared one read of the hypervisors.
    let reads = cloud
        .sim
        .stats()
        .requests_by_route
        .get("compute GET /os-hypervisors/detail")
        .copied()
        .unwrap_or_default();
    assert_eq!(reads, 1);
    assert_eq!(servers_made(&cloud.sim), made, "no new server");
    let confirmed = cloud
        .sim
        .stats()
        .migrations
        .iter()
        .filter(|m| m.status == "confirmed" && m.dest_az.as_deref() == Some("nova2"))
        .count();
    assert_eq!(confirmed, 3);
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_moves_keep_the_server_running() {
    let cloud = start(cloud().build(), None).await;
    let before = server(&cloud.client, "web1").await;
    let (_, report) = run(
        &cloud.client,
        &plan_yaml("web1", ""),
        Strategy::Live,
        &steps_of(Strategy::Live),
    )
    .await;
    assert!(report.is_success(), "{}", report.render_text());
    let r = row(&report, "web1");
    assert_eq!(r.downtime_from.as_deref(), Some("live switch-over"));
    assert_eq!(r.downtime_seconds, Some(0.0));
    assert!(
        report.render_text().contains("(live)"),
        "{}",
        report.render_text()
    );
    let after = server(&cloud.client, "web1").await;
    assert_moved(&before, &after, "ACTIVE");
    let live = cloud
        .sim
        .stats()
        .migrations
        .iter()
        .filter(|m| m.migration_type == "live-migration" && m.status == "completed")
        .count();
    assert_eq!(live, 1);
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_cold_migrate_and_is_told_why() {
    let cloud = start(cloud().build(), None).await;
    let member = connect_as(&cloud.sim, "demo").await;
    let (_, report) = run(
        &member,
        &plan_yaml("tenant-vm", ""),
        Strategy::Cold,
        &steps_of(Strategy::Cold),
    )
    .await;
    assert_eq!(report.counts.failed, 1, "{}", report.render_text());
    let r = row(&report, "tenant-vm");
    let msg = r.message.clone().unwrap_or_default();
    assert!(msg.contains("admin"), "{msg}");
    // Undone: back in nova, pinned there, without tags.
    let after = server(&member, "tenant-vm").await;
    assert_at_rest_in(&after, "ACTIVE", "nova");
    cloud.sim.shutdown().await;
}

// ----------------------------------------------------------------- faults

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_migration_that_fails_once_is_tried_on_another_host() {
    let cloud = start(
        cloud()
            .fault("migration_error: {kind: live, nth: 1}")
            .build(),
        None,
    )
    .await;
    let before = server(&cloud.client, "web1").await;
    let (_, report) = run(
        &cloud.client,
        &plan_yaml("web1", ""),
        Strategy::Live,
        &steps_of(Strategy::Live),
    )
    .await;
    assert!(report.is_success(), "{}", report.render_text());
    let after = server(&cloud.client, "web1").await;
    assert_moved(&before, &after, "ACTIVE");
    let r = row(&report, "web1");
    let first = r
        .steps
        .iter()
        .find(|s| s.step == "live migrate")
        .and_then(|s| s.outcome.clone())
        .unwrap_or_default();
    assert!(first.starts_with("redo: the live migration to"), "{first}");
    // Not the host that failed.
    assert!(
        !first.contains(&format!("to {} ", after.host.clone().unwrap_or_default())),
        "{first}"
    );
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_nova_cannot_schedule_leaves_the_server_pinned_on_its_source() {
    let cloud = start(cloud().fault("migration_error: {kind: cold}").build(), None).await;
    let before = server(&cloud.client, "web1").await;
    let (_, report) = run(
        &cloud.client,
        &plan_yaml("web1", "  retries: 1\n"),
        Strategy::Cold,
        &steps_of(Strategy::Cold),
    )
    .await;
    assert_eq!(report.counts.failed, 1, "{}", report.render_text());
    let r = row(&report, "web1");
    let msg = r.message.clone().unwrap_or_default();
    assert!(msg.contains("the migration to node-3"), "{msg}");
    assert!(msg.contains("after 2 attempts"), "{msg}");
    assert_eq!(r.server_az.as_deref(), Some("nova"));
    assert_eq!(r.server_pinned_az.as_deref(), Some("nova"));
    assert!(
        report
            .render_text()
            .contains("(server: left ACTIVE in nova on node-27, pinned to nova)"),
        "{}",
        report.render_text()
    );
    let after = server(&cloud.client, "web1").await;
    assert_eq!(identity(&after), identity(&before));
    assert_eq!(after.host.as_deref(), Some("node-27"));
    assert_at_rest_in(&after, "ACTIVE", "nova");
    // Two attempts, on two different hosts of nova2.
    let errors = cloud
        .sim
        .stats()
        .migrations
        .iter()
        .filter(|m| m.status == "error")
        .count();
    assert_eq!(errors, 2);
    let dests: Vec<&str> = r
        .steps
        .iter()
        .filter(|s| s.step == "cold migrate")
        .filter_map(|s| s.outcome.as_deref()?.split("the migration to ").nth(1))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    assert_eq!(dests.len(), 2, "{:?}", r.steps);
    assert_ne!(dests[0], dests[1]);
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_unshelve_brings_the_server_back_into_its_source_az() {
    let cloud = start(
        cloud()
            .fault("unshelve_error: {availability_zone: nova2}")
            .build(),
        None,
    )
    .await;
    let member = connect_as(&cloud.sim, "demo").await;
    let before = server(&member, "tenant-vm").await;
    let (_, report) = run(
        &member,
        &plan_yaml("tenant-vm", "  retries: 1\n"),
        Strategy::Shelve,
        &steps_of(Strategy::Shelve),
    )
    .await;
    assert_eq!(report.counts.failed, 1, "{}", report.render_text());
    let msg = row(&report, "tenant-vm")
        .message
        .clone()
        .unwrap_or_default();
    assert!(msg.contains("unshelve into nova2 failed"), "{msg}");
    let after = server(&member, "tenant-vm").await;
    assert_eq!(identity(&after), identity(&before));
    assert_at_rest_in(&after, "ACTIVE", "nova");
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_live_migration_is_aborted_and_the_server_pinned_where_it_is() {
    let cloud = start(
        cloud()
            .fault(r#"live_migration_hang: {server: "^web1$"}"#)
            .build(),
        None,
    )
    .await;
    let before = server(&cloud.client, "web1").await;
    let (_, report) = run(
        &cloud.client,
        &plan_yaml("web1", "  timeouts: {snapshot: 3s}\n"),
        Strategy::Live,
        &steps_of(Strategy::Live),
    )
    .await;
    assert_eq!(report.counts.failed, 1, "{}", report.render_text());
    let msg = row(&report, "web1").message.clone().unwrap_or_default();
    assert!(msg.contains("aborted migration"), "{msg}");
    let after = server(&cloud.client, "web1").await;
    assert_eq!(identity(&after), identity(&before));
    assert_eq!(after.host.as_deref(), Some("node-27"));
    assert_at_rest_in(&after, "ACTIVE", "nova");
    let cancelled = cloud
        .sim
        .stats()
        .migrations
        .iter()
        .filter(|m| m.status == "cancelled")
        .count();
    assert_eq!(cancelled, 1);
    cloud.sim.shutdown().await;
}

// ------------------------------------------------------------ resumption

/// A run that stopped after `done` steps (as a killed run leaves the
/// cloud), then a run with the whole list: it converges.
async fn stopped_then_resumed(strategy: Strategy, name: &str, done: usize, expect: &str) {
    let cloud = start(cloud().build(), None).await;
    let before = server(&cloud.client, name).await;
    let all = steps_of(strategy);
    let made = servers_made(&cloud.sim);
    let (_, first) = run(&cloud.client, &plan_yaml(name, ""), strategy, &all[..done]).await;
    assert!(first.is_success(), "{}", first.render_text());
    let half = server(&cloud.client, name).await;
    assert_eq!(half.status, expect, "{half:?}");
    assert_eq!(
        half.metadata.get(tags::MOVING_TO).map(String::as_str),
        Some("nova2")
    );
    let (_, second) = run(&cloud.client, &plan_yaml(name, ""), strategy, &all).await;
    assert!(second.is_success(), "{}", second.render_text());
    let status = if before.status == "SHUTOFF" {
        "SHUTOFF"
    } else {
        "ACTIVE"
    };
    assert_moved(&before, &server(&cloud.client, name).await, status);
    assert_eq!(servers_made(&cloud.sim), made, "no new server");
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shelved_server_is_unshelved_into_the_target_on_the_next_run() {
    stopped_then_resumed(Strategy::Shelve, "web1", 3, "SHELVED_OFFLOADED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_in_verify_resize_is_confirmed_on_the_next_run() {
    stopped_then_resumed(Strategy::Cold, "web1", 3, "VERIFY_RESIZE").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpinned_server_in_the_target_is_repinned_on_the_next_run() {
    stopped_then_resumed(Strategy::Live, "web1", 4, "ACTIVE").await;
    stopped_then_resumed(Strategy::Cold, "quiet", 5, "SHUTOFF").await;
}

/// The engine cut off (its task dropped, as `kill -9` would) when the
/// server reaches `when`, then a run with the whole list.
async fn cut_then_resumed(strategy: Strategy, when: fn(&Server) -> bool) {
    let cloud = start(cloud().build(), None).await;
    let before = server(&cloud.client, "web1").await;
    let made = servers_made(&cloud.sim);
    let (cs, inventory) = plan(&cloud.client, &plan_yaml("web1", "")).await;
    let cs = in_place(cs, strategy, &steps_of(strategy));
    let client = cloud.client.clone();
    let task = tokio::spawn(async move { apply_changeset(&client, cs, &inventory).await });
    let mut seen = None;
    for _ in 0..2000 {
        let s = server(&cloud.client, "web1").await;
        if when(&s) {
            seen = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task.abort();
    let _ = task.await;
    let seen = seen.expect("the server reached the state to cut at");
    let (_, report) = run(
        &cloud.client,
        &plan_yaml("web1", ""),
        strategy,
        &steps_of(strategy),
    )
    .await;
    assert!(
        report.is_success(),
        "cut at {}: {}",
        seen.status,
        report.render_text()
    );
    assert_moved(&before, &server(&cloud.client, "web1").await, "ACTIVE");
    assert_eq!(servers_made(&cloud.sim), made, "no new server");
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_mid_shelve_then_run_again() {
    cut_then_resumed(Strategy::Shelve, |s| {
        s.task_state
            .as_deref()
            .is_some_and(|t| t.starts_with("shelving"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_mid_cold_migration_then_run_again() {
    cut_then_resumed(Strategy::Cold, |s| {
        s.task_state
            .as_deref()
            .is_some_and(|t| t.starts_with("resize_"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_mid_live_migration_then_run_again() {
    cut_then_resumed(Strategy::Live, |s| s.status == "MIGRATING").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_right_after_unpinning_then_run_again() {
    cut_then_resumed(Strategy::Live, |s| {
        s.pinned_availability_zone.is_none() && s.metadata.contains_key(tags::MOVING_TO)
    })
    .await;
}

// ----------------------------------------------- with the planner's choice

fn strategy_plan(strategy: &str, select: &str) -> String {
    format!(
        "version: 1\ndefaults:\n  strategy: {strategy}\nlimits:\n  concurrency: 4\n  requests_per_second: 200\nmoves:\n  - select: {{name: \"{select}\"}}\n    to: nova2\n"
    )
}

async fn plan_and_apply_as(client: &Client, yaml: &str) -> (Changeset, ApplyReport) {
    let (cs, inventory) = plan(client, yaml).await;
    let report = apply_changeset(client, cs.clone(), &inventory).await;
    (cs, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_moves_an_admin_by_migration_and_a_member_by_shelve_on_the_same_plan() {
    let cloud = start(cloud().build(), None).await;
    let member = connect_as(&cloud.sim, "demo").await;
    let yaml = strategy_plan("auto", "*");
    let made = servers_made(&cloud.sim);
    let before_admin = servers(&cloud.client).await;
    let before_member = server(&member, "tenant-vm").await;

    let (cs, report) = plan_and_apply_as(&cloud.client, &yaml).await;
    let chosen: BTreeMap<&str, Strategy> = cs
        .moves
        .iter()
        .map(|m| (m.display_name(), m.strategy))
        .collect();
    assert_eq!(chosen.get("web1"), Some(&Strategy::Live), "{chosen:?}");
    assert_eq!(chosen.get("quiet"), Some(&Strategy::Cold), "{chosen:?}");
    assert!(report.is_success(), "{}", report.render_text());
    for b in &before_admin {
        let status = if b.status == "SHUTOFF" {
            "SHUTOFF"
        } else {
            "ACTIVE"
        };
        assert_moved(b, &server(&cloud.client, &b.name).await, status);
    }

    let (cs, report) = plan_and_apply_as(&member, &yaml).await;
    assert_eq!(cs.moves.len(), 1);
    assert_eq!(cs.moves[0].strategy, Strategy::Shelve);
    assert!(
        cs.moves[0].strategy_reason.contains("admin"),
        "{}",
        cs.moves[0].strategy_reason
    );
    assert!(report.is_success(), "{}", report.render_text());
    assert_moved(
        &before_member,
        &server(&member, "tenant-vm").await,
        "ACTIVE",
    );
    assert_eq!(servers_made(&cloud.sim), made, "no new server");

    // Planned again: nothing left to do, for either.
    for client in [&cloud.client, &member] {
        let (again, _) = plan(client, &yaml).await;
        assert_eq!(again.summary.to_move, 0, "{again:?}");
    }
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_plan_refuses_cold_and_live_with_the_reason() {
    let cloud = start(cloud().build(), None).await;
    let member = connect_as(&cloud.sim, "demo").await;
    for strategy in ["cold", "live"] {
        let (cs, _) = plan(&member, &strategy_plan(strategy, "tenant-vm")).await;
        assert_eq!(cs.summary.blocked, 1, "{strategy}");
        let m = &cs.moves[0];
        let why = match &m.action {
            azmove::plan::changeset::Action::Blocked { reasons } => reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            other => panic!("{strategy}: {other:?}"),
        };
        assert!(why.contains("admin role"), "{strategy}: {why}");
        assert!(why.contains("shelve"), "{strategy}: {why}");
    }
    cloud.sim.shutdown().await;
}

// ------------------------------------------- the binary, killed with -9

/// OS_* for `user` of the simulator.
fn os_env_of(sim: &SimHandle, user: &str) -> Vec<(String, String)> {
    let c = sim.credentials(Some(user)).expect("the user exists");
    vec![
        ("OS_AUTH_URL".into(), c.auth_url.clone()),
        ("OS_USERNAME".into(), c.username.clone()),
        ("OS_PASSWORD".into(), c.password.expose_secret().to_string()),
        ("OS_PROJECT_NAME".into(), c.project.clone()),
        ("OS_USER_DOMAIN_NAME".into(), c.domain.clone()),
        ("OS_PROJECT_DOMAIN_NAME".into(), c.domain.clone()),
        ("OS_REGION_NAME".into(), c.region.clone()),
    ]
}

/// `azmove apply` killed with SIGKILL once the server reaches `when`, then
/// run again once: the server is moved, with its UUID, and no second
/// server exists.
async fn killed_then_run_again(strategy: &str, user: &str, name: &str, when: fn(&Server) -> bool) {
    let cloud = start(cloud().build(), None).await;
    let client = connect_as(&cloud.sim, user).await;
    let before = server(&client, name).await;
    let made = servers_made(&cloud.sim);
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = strategy_plan(strategy, name);
    std::fs::write(dir.path().join("plan.yaml"), &yaml).expect("plan");
    let env = os_env_of(&cloud.sim, user);

    let mut child = spawn_apply(dir.path(), &env);
    let mut caught = None;
    for _ in 0..4000 {
        let s = server(&client, name).await;
        if when(&s) {
            caught = Some(s);
            break;
        }
        if child.try_wait().expect("child status").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let caught = caught.unwrap_or_else(|| panic!("{strategy}: the server never reached the state"));
    assert_eq!(caught.id, before.id);

    let status = spawn_apply(dir.path(), &env).wait().expect("runs");
    assert_eq!(
        status.code(),
        Some(0),
        "{strategy}: the run after the kill did not finish the move"
    );
    let after = server(&client, name).await;
    assert_moved(&before, &after, "ACTIVE");
    assert_eq!(servers_made(&cloud.sim), made, "{strategy}: no new server");
    let (again, _) = plan(&client, &yaml).await;
    assert_eq!(again.summary.to_move, 0, "{strategy}: {again:?}");
    cloud.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shelve_killed_mid_way_as_a_member_then_run_again() {
    killed_then_run_again("shelve", "demo", "tenant-vm", |s| {
        s.task_state
            .as_deref()
            .is_some_and(|t| t.starts_with("shelving"))
            || s.status == "SHELVED_OFFLOADED"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_killed_mid_migration_then_run_again() {
    killed_then_run_again("cold", "admin", "web1", |s| {
        s.task_state
            .as_deref()
            .is_some_and(|t| t.starts_with("resize_"))
            || s.status == "VERIFY_RESIZE"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_killed_mid_migration_then_run_again() {
    killed_then_run_again("live", "admin", "web1", |s| s.status == "MIGRATING").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_killed_once_unpinned_then_run_again() {
    killed_then_run_again("live", "admin", "web1", |s| {
        s.pinned_availability_zone.is_none() && s.metadata.contains_key(tags::MOVING_TO)
    })
    .await;
}
