//! `azmove plan` and `azmove show` against the simulated cloud, over real
//! HTTP: snapshots of every output format for the seed plan, exit codes,
//! saved plans (no secrets, `show` renders them), blockers seen end to end,
//! and the bounded number of requests when ports must be read.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use azmove::connect::CloudChoice;
use azmove::ops::plan::{Planned, make_plan};
use azmove::plan::changeset::{Action, Blocker, Changeset};
use azmove::render::{json, markdown, text};
use regex::Regex;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn root(p: &str) -> PathBuf {
    Path::new(ROOT).join(p)
}

async fn plan_with(plan: &Path, scenario: &Path) -> Planned {
    let cloud = CloudChoice {
        sim: Some(scenario.to_path_buf()),
        ..Default::default()
    };
    make_plan(plan, &cloud)
        .await
        .expect("plans against the simulator")
}

/// Timestamps differ between runs; the version changes on every release.
fn mask(s: &str) -> String {
    let ts = Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})").unwrap();
    let version = Regex::new(r#""azmove_version": "[^"]*""#).unwrap();
    let s = ts.replace_all(s, "[timestamp]");
    version
        .replace_all(&s, r#""azmove_version": "[version]""#)
        .into_owned()
}

fn relative_plan_path(cs: &mut Changeset) {
    cs.plan_path = cs
        .plan_path
        .trim_start_matches(ROOT)
        .trim_start_matches('/')
        .to_string();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_plan_snapshots() {
    let planned = plan_with(&root("plans/seed.yaml"), &root("plans/seed-cloud.yaml")).await;
    let mut cs = planned.changeset;
    planned.connection.shutdown().await;
    relative_plan_path(&mut cs);

    assert_eq!(cs.summary.to_move, 1);
    let m = &cs.moves[0];
    let src = m.source.as_ref().unwrap();
    assert_eq!(
        (
            src.name.as_str(),
            src.availability_zone.as_deref(),
            src.host.as_deref()
        ),
        ("admin_vm01", Some("nova"), Some("node-27"))
    );
    assert_eq!(m.target_az, "nova2");

    insta::assert_snapshot!("seed_text", mask(&text::render(&cs, false)));
    insta::assert_snapshot!("seed_markdown", mask(&markdown::render(&cs)));
    insta::assert_snapshot!("seed_json", mask(&json::render(&cs)));
}

fn azmove() -> Command {
    let mut c = Command::cargo_bin("azmove").unwrap();
    c.current_dir(ROOT)
        .env_remove("OS_CLOUD")
        .env_remove("OS_AUTH_URL")
        .env("NO_COLOR", "1");
    c
}

/// One colour decision for plan's stdout: `--color always` colours even
/// with NO_COLOR set; without `--color`, NO_COLOR wins over CLICOLOR_FORCE
/// (which alone colours a pipe).
#[test]
fn plan_stdout_colour_follows_the_flag_then_no_color() {
    let plan = |extra: &[&str], env: &[(&str, &str)], no_color: bool| {
        let mut c = azmove();
        if !no_color {
            c.env_remove("NO_COLOR");
        }
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c
            .args(["plan", "plans/seed.yaml", "--sim", "plans/seed-cloud.yaml"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().contains('\x1b')
    };
    assert!(plan(&["--color", "always"], &[], true));
    assert!(!plan(&[], &[("CLICOLOR_FORCE", "1")], true));
    assert!(plan(&[], &[("CLICOLOR_FORCE", "1")], false));
    assert!(!plan(
        &["--color", "never"],
        &[("CLICOLOR_FORCE", "1")],
        false
    ));
}

#[test]
fn cli_exit_codes_and_saved_plan_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("seed.plan.json");

    let out = azmove()
        .args([
            "plan",
            "plans/seed.yaml",
            "--sim",
            "plans/seed-cloud.yaml",
            "--detailed-exitcode",
            "-o",
        ])
        .arg(&saved)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan_text = String::from_utf8(out.stdout).unwrap();
    assert!(
        plan_text.contains("~ admin_vm01 (") && plan_text.contains("nova/node-27 → nova2"),
        "{plan_text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("azmove show"));

    // Without --detailed-exitcode, changes still exit 0.
    azmove()
        .args(["plan", "plans/seed.yaml", "--sim", "plans/seed-cloud.yaml"])
        .assert()
        .code(0);

    // `show` renders the saved plan exactly as `plan` did.
    let shown = azmove().arg("show").arg(&saved).output().unwrap();
    assert_eq!(shown.status.code(), Some(0));
    assert_eq!(String::from_utf8(shown.stdout).unwrap(), plan_text);
    let md = azmove()
        .arg("show")
        .arg(&saved)
        .args(["--format", "markdown"])
        .output()
        .unwrap();
    assert!(String::from_utf8(md.stdout).unwrap().contains("<details>"));

    // The saved plan holds no credentials of the scenario (password `secret`,
    // application credential `ci-secret`) and no token.
    let body = std::fs::read_to_string(&saved).unwrap();
    for needle in [
        "secret",
        "password",
        "X-Auth-Token",
        "x-subject-token",
        "gAAAA",
    ] {
        assert!(
            !body.to_lowercase().contains(&needle.to_lowercase()),
            "saved plan contains {needle}"
        );
    }
    let cs = Changeset::from_json("saved", &body).unwrap();
    let fp = cs.moves[0].fingerprint.as_ref().unwrap();
    assert_eq!(
        (fp.status.as_str(), fp.host.as_deref()),
        ("ACTIVE", Some("node-27"))
    );
    assert_eq!(cs.plan_digest.len(), 64);
}

#[test]
fn show_refuses_what_is_not_a_saved_plan() {
    let out = azmove().args(["show", "plans/seed.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a saved azmove plan"));
}

const SMALL_CLOUD: &str = r#"
seed: 7
availability_zones:
  - name: nova
    hosts: [{name: node-1, vcpus: 1024, ram_mb: 1048576, disk_gb: 20000}]
  - name: nova2
    hosts: [{name: node-2, vcpus: 1024, ram_mb: 1048576, disk_gb: 20000, enabled: false}]
  - name: nova3
    hosts: [{name: node-3, vcpus: 1024, ram_mb: 1048576, disk_gb: 20000}]
flavors:
  - {name: m1.tiny, id: "1", vcpus: 1, ram_mb: 512, disk_gb: 1}
  - {name: m1.pinned, id: "9", vcpus: 1, ram_mb: 512, disk_gb: 1, extra_specs: {"aggregate_instance_extra_specs:availability_zone": nova}}
images:
  - {name: cirros}
projects:
  - {name: admin, quota: {instances: 500, cores: 500, ram_mb: 1000000}}
  - {name: demo}
users:
  - {name: admin, password: hunter2, project: admin, roles: [admin]}
  - {name: member, password: member-pass, project: admin, roles: [member]}
networks:
  - {name: net1, shared: true, subnets: [{name: s1, cidr: 10.1.0.0/24}]}
  - {name: hidden, project: demo, subnets: [{name: s2, cidr: 10.2.0.0/24}]}
servers:
  - {name: app, availability_zone: nova, flavor: m1.tiny, image: cirros, networks: [net1], user_data: "I2Nsb3VkLWNvbmZpZwpwYXNzd29yZDogczNjcjN0"}
  - {name: dup, availability_zone: nova, flavor: m1.tiny, image: cirros, networks: [net1]}
  - {name: dup, availability_zone: nova, flavor: m1.tiny, image: cirros, networks: [net1]}
  - {name: pinned, availability_zone: nova, flavor: m1.pinned, image: cirros, networks: [net1]}
  - {name: broken, availability_zone: nova, flavor: m1.tiny, image: cirros, networks: [net1], status: ERROR}
  - generate: {count: 150, name: "twin-{i:03}", availability_zone: nova, flavor: m1.tiny, image: cirros, networks: [hidden]}
"#;

const SMALL_PLAN: &str = r#"
version: 1
defaults: {strategy: snapshot}
limits: {concurrency: 4, requests_per_second: 1000}
moves:
  - {server: app, to: nova3}
  - {server: dup, to: nova3}
  - {server: pinned, to: nova3}
  - {server: broken, to: nova3}
  - {server: ghost, to: nova3}
  - {id: late, select: {name: "ap*"}, to: nova2}
  - {id: twins, select: {name: "twin-*"}, to: nova3}
"#;

fn small_files(dir: &Path, plan: &str) -> (PathBuf, PathBuf) {
    let cloud = dir.join("cloud.yaml");
    let plan_path = dir.join("plan.yaml");
    std::fs::write(&cloud, SMALL_CLOUD).unwrap();
    std::fs::write(&plan_path, plan).unwrap();
    (plan_path, cloud)
}

fn route_count(routes: &std::collections::BTreeMap<String, u64>, part: &str) -> u64 {
    routes
        .iter()
        .filter(|(k, _)| k.contains(part))
        .map(|(_, v)| v)
        .sum()
}

fn blockers<'a>(cs: &'a Changeset, name: &str) -> &'a [Blocker] {
    let m = cs
        .moves
        .iter()
        .find(|m| m.display_name() == name)
        .unwrap_or_else(|| panic!("no move {name}"));
    match &m.action {
        Action::Blocked { reasons } => reasons,
        other => panic!("{name} is {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blockers_and_ports_against_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    // `app` twice would be matched by two entries; keep one for this run.
    let plan = SMALL_PLAN.replace("  - {id: late, select: {name: \"ap*\"}, to: nova2}\n", "");
    let (plan_path, cloud) = small_files(dir.path(), &plan);
    let planned = plan_with(&plan_path, &cloud).await;
    let cs = &planned.changeset;

    assert!(matches!(&blockers(cs, "dup")[0], Blocker::Ambiguous { ids, .. } if ids.len() == 2));
    assert!(matches!(
        &blockers(cs, "pinned")[0],
        Blocker::FlavorNotUsable { .. }
    ));
    assert!(
        matches!(&blockers(cs, "broken")[0], Blocker::BadState { status, .. } if status == "ERROR")
    );
    assert!(matches!(
        &blockers(cs, "ghost")[0],
        Blocker::NotFound { .. }
    ));

    // A tidy cloud for an admin: every network name is known, so no ports
    // are read, and nothing is fetched per server.
    let app = cs.moves.iter().find(|m| m.display_name() == "app").unwrap();
    assert_eq!(app.action, Action::Move);
    let twins: Vec<_> = cs.moves.iter().filter(|m| m.entry == "twins").collect();
    assert_eq!(twins.len(), 150);
    assert!(twins.iter().all(|m| m.is_move()));
    let stats = planned.connection.sim().unwrap().stats();
    let routes = &stats.requests_by_route;
    assert_eq!(route_count(routes, "ports"), 0, "{routes:?}");
    assert_eq!(
        route_count(routes, "compute GET /servers/{"),
        0,
        "no per-server GET: {routes:?}"
    );

    // User data is planned (admin sees it) but never saved.
    let boot = app.boot.as_ref().unwrap();
    assert!(boot.user_data.is_some() && boot.user_data_sha256.is_some());
    let saved = json::render(cs);
    assert!(
        !saved.contains("I2Nsb3Vk") && !saved.contains("hunter2"),
        "{saved}"
    );
    planned.connection.shutdown().await;
}

#[test]
fn cli_blocked_entries_exit_3_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let (plan_path, cloud) = small_files(dir.path(), SMALL_PLAN);
    let run = |extra: &[&str]| {
        azmove()
            .arg("plan")
            .arg(&plan_path)
            .arg("--sim")
            .arg(&cloud)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Blocked (apply skips these):"), "{text}");
    assert!(
        text.contains("matched by several entries (app, late)"),
        "{text}"
    );
    assert!(text.contains("2 servers are named `dup`"), "{text}");
    assert_eq!(run(&["--allow-blocked"]).status.code(), Some(0));
    assert_eq!(
        run(&["--allow-blocked", "--detailed-exitcode"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn cli_reports_a_bad_plan_file_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let (plan_path, cloud) = small_files(
        dir.path(),
        "version: 1\nmoves:\n  - {server: app, to: nova3, colour: red}\n",
    );
    let out = azmove()
        .arg("plan")
        .arg(&plan_path)
        .arg("--sim")
        .arg(&cloud)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn member_plans_without_hosts_and_reads_ports_only_when_needed() {
    // A project member sees no hosts and no user data, and cannot see the
    // network `hidden` the twins are on: their ports are read instead, 100
    // servers per request, and give the network ids.
    let dir = tempfile::tempdir().unwrap();
    let plan = "version: 1\ndefaults: {strategy: snapshot}\nlimits: {requests_per_second: 1000}\nmoves:\n  - {server: app, to: nova3}\n  - {id: twins, select: {name: \"twin-*\"}, to: nova3}\n";
    let (plan_path, cloud) = small_files(dir.path(), plan);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cloud_args = CloudChoice {
            sim: Some(cloud.clone()),
            sim_user: Some("member".into()),
            ..Default::default()
        };
        let planned = make_plan(&plan_path, &cloud_args).await.unwrap();
        let cs = &planned.changeset;
        assert!(!cs.capabilities.is_admin);
        let app = cs.moves.iter().find(|m| m.display_name() == "app").unwrap();
        assert_eq!(app.action, Action::Move);
        assert_eq!(app.source.as_ref().unwrap().host, None);
        assert!(app.boot.as_ref().unwrap().user_data.is_none());
        let twins: Vec<_> = cs.moves.iter().filter(|m| m.entry == "twins").collect();
        assert_eq!(twins.len(), 150);
        assert!(
            twins
                .iter()
                .all(|m| m.is_move() && m.boot.as_ref().is_some_and(|b| b.networks.len() == 1)),
            "{:?}",
            twins[0].action
        );
        let stats = planned.connection.sim().unwrap().stats();
        assert_eq!(
            route_count(&stats.requests_by_route, "ports"),
            2,
            "{:?}",
            stats.requests_by_route
        );
        planned.connection.shutdown().await;
    });
    let out = azmove()
        .arg("plan")
        .arg(&plan_path)
        .arg("--sim")
        .arg(&cloud)
        .args(["--sim-user", "member"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("compute API 2.104, project member"));
    let out = azmove()
        .arg("plan")
        .arg(&plan_path)
        .arg("--sim")
        .arg(&cloud)
        .args(["--sim-user", "nobody"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no user `nobody`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_chooses_per_caller_and_per_server_on_one_plan() {
    // The default strategy is `auto`: an admin gets live for a running
    // server, a project member gets shelve; a server in ERROR fits none.
    let dir = tempfile::tempdir().unwrap();
    let plan = "version: 1\nlimits: {requests_per_second: 1000}\nmoves:\n  - {server: app, to: nova3}\n  - {server: broken, to: nova3}\n";
    let (plan_path, cloud) = small_files(dir.path(), plan);
    let mut chosen = Vec::new();
    for user in ["admin", "member"] {
        let cloud_args = CloudChoice {
            sim: Some(cloud.clone()),
            sim_user: Some(user.into()),
            ..Default::default()
        };
        let planned = make_plan(&plan_path, &cloud_args).await.unwrap();
        let cs = &planned.changeset;
        let app = cs.moves.iter().find(|m| m.display_name() == "app").unwrap();
        assert_eq!(app.action, Action::Move, "{user}");
        assert!(app.boot.is_none() && app.effects.keeps_uuid, "{user}");
        chosen.push((app.strategy, app.strategy_reason.clone()));
        assert!(
            matches!(&blockers(cs, "broken")[0], Blocker::StrategyUnsupported { why, .. } if why.contains("(this one is ERROR)")),
            "{user}: {:?}",
            blockers(cs, "broken")
        );
        planned.connection.shutdown().await;
    }
    use azmove::plan::file::Strategy;
    assert_eq!(chosen[0].0, Strategy::Live, "{:?}", chosen[0]);
    assert_eq!(chosen[1].0, Strategy::Shelve, "{:?}", chosen[1]);
    assert!(
        chosen[1].1.contains("live/cold need the admin role"),
        "{:?}",
        chosen[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mixed_fleet_example_gets_a_strategy_per_server_and_per_caller() {
    use azmove::plan::file::Strategy::{Cold, Live, Shelve, Snapshot};
    let mut got = Vec::new();
    for user in ["admin", "alice"] {
        let cloud_args = CloudChoice {
            sim: Some(root("plans/mixed-cloud.yaml")),
            sim_user: Some(user.into()),
            ..Default::default()
        };
        let planned = make_plan(&root("plans/mixed.yaml"), &cloud_args)
            .await
            .unwrap();
        let cs = &planned.changeset;
        assert_eq!(cs.summary.to_move, 5, "{user}: {}", cs.summary.line());
        let by_name: Vec<(String, _)> = cs
            .moves
            .iter()
            .map(|m| (m.display_name().to_string(), m.strategy))
            .collect();
        got.push(by_name);
        planned.connection.shutdown().await;
    }
    let names = |v: &[(String, azmove::plan::file::Strategy)]| {
        v.iter()
            .map(|(n, s)| format!("{n}:{s}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let expect = |list: &[(&str, azmove::plan::file::Strategy)]| {
        list.iter()
            .map(|(n, s)| format!("{n}:{s}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        names(&got[0]),
        expect(&[
            ("web-1", Live),
            ("web-2", Live),
            ("db-1", Cold),
            ("batch-1", Shelve),
            ("kiosk-1", Snapshot)
        ])
    );
    assert_eq!(
        names(&got[1]),
        expect(&[
            ("web-1", Shelve),
            ("web-2", Shelve),
            ("db-1", Shelve),
            ("batch-1", Shelve),
            ("kiosk-1", Snapshot)
        ])
    );
}
