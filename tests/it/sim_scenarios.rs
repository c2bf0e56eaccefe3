//! Every scenario file in plans/ loads, starts, and says what it is.

use std::path::Path;

use azmove::sim::{self, Scenario};

fn scenario_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("plans/seed-cloud.yaml")];
    if let Ok(dir) = std::fs::read_dir(root.join("plans/scenarios")) {
        for e in dir.flatten() {
            if e.path().extension().is_some_and(|x| x == "yaml") {
                files.push(e.path());
            }
        }
    }
    files
}

#[tokio::test]
async fn all_scenario_files_load_and_start() {
    for path in scenario_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# azmove simulator scenario"),
            "{} must start with the scenario marker line",
            path.display()
        );
        let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let sim = sim::start(scenario, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            sim.credentials(None).is_some(),
            "{} has no user",
            path.display()
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn the_seed_cloud_is_the_classic_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(root.join("plans/seed-cloud.yaml")).unwrap();
    let sim = sim::start(scenario, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let admin = sim.credentials(None).unwrap();
    assert_eq!(
        (admin.username.as_str(), admin.project.as_str()),
        ("admin", "admin")
    );
    assert!(admin.is_admin);
    let demo = sim.credentials(Some("demo")).unwrap();
    assert!(!demo.is_admin);
    assert_eq!(demo.project, "demo");
    {
        let m = sim.sim().lock();
        let hosts: Vec<(&str, &str)> = m
            .hosts
            .iter()
            .map(|h| (h.name.as_str(), h.az.as_str()))
            .collect();
        assert_eq!(
            hosts,
            [
                ("node-27", "nova"),
                ("node-28", "nova"),
                ("node-31", "nova2")
            ]
        );
        let vm = m.servers.iter().find(|s| s.name == "admin_vm01").unwrap();
        assert_eq!(vm.status(), "ACTIVE");
        assert_eq!(vm.host.map(|h| m.hosts[h].name.as_str()), Some("node-27"));
        assert_eq!(vm.flavor.name, "m1.tiny");
        assert!(m.images.iter().any(|i| i.name == "cirros"));
        assert!(
            m.networks
                .iter()
                .any(|n| n.name == "net1" && !n.subnets.is_empty())
        );
        assert!(m.keypairs.iter().any(|k| k.name == "mykey"));
    }
    sim.shutdown().await;
}

#[test]
fn bad_scenarios_are_explained() {
    let cases = [
        (
            "servers:\n  - {name: a, flavor: nope}\n",
            "flavor \"nope\" is not defined",
        ),
        (
            "availability_zones:\n  - {name: nova, hosts: [{name: h, vcpus: 1}]}\nflavors:\n  - {name: f, vcpus: 2, ram_mb: 1, disk_gb: 1}\nimages:\n  - {name: i}\nservers:\n  - {name: a, flavor: f, image: i}\n",
            "no enabled host",
        ),
        ("time_scale: 0\n", "time_scale"),
        ("max_microversion: \"3\"\n", "max_microversion"),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (yaml, want) in cases {
        let err = match Scenario::from_yaml(yaml) {
            Err(e) => e.to_string(),
            Ok(s) => rt
                .block_on(sim::start(s, "127.0.0.1:0".parse().unwrap()))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
        };
        assert!(err.contains(want), "{yaml:?}: {err:?} lacks {want:?}");
    }
    let rt_err = rt.block_on(sim::start(
        Scenario::default(),
        "10.0.0.1:0".parse().unwrap(),
    ));
    assert!(rt_err.is_err());
}
