//! Shared helpers of the apply tests: a simulated cloud in the test
//! process, azmove's client connected to it over real HTTP, planning from
//! YAML text, applying, and reading the cloud back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use azmove::apply::signals::StopSignal;
use azmove::apply::{
    ApplyOptions, ApplyReport, PollConfig, PollMode, ProgressMode, execute, prepare,
};
use azmove::observe::observe;
use azmove::openstack::{Client, ClientOptions, CloudConfig, ImageQuery, ServerQuery};
use azmove::plan::changeset::Changeset;
use azmove::plan::inventory::{Image, Inventory, Server, tags};
use azmove::plan::planner;
use azmove::plan::yaml::parse_plan;
use azmove::sim::{self, Scenario, SimHandle};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

pub fn root(p: &str) -> std::path::PathBuf {
    Path::new(ROOT).join(p)
}

/// A running simulator and a client logged in as its first admin.
pub struct TestCloud {
    pub sim: SimHandle,
    pub client: Client,
    /// The simulator runs on a runtime of its own, so that the client's
    /// tasks never delay when it sees (and counts) a request.
    _thread: SimThread,
}

/// Keeps the simulator's runtime alive; dropping it stops the runtime.
pub struct SimThread {
    _stop: std::sync::mpsc::Sender<()>,
}

pub fn scenario(yaml: &str) -> Scenario {
    Scenario::from_yaml(yaml).expect("valid scenario")
}

/// The OS_* variables that point a client (the azmove binary) at `sim`.
pub fn os_env(sim: &SimHandle) -> Vec<(String, String)> {
    let c = sim.credentials(None).expect("an admin user");
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

pub async fn start(scenario: Scenario, requests_per_second: Option<f64>) -> TestCloud {
    let (sim, thread) = tokio::task::spawn_blocking(move || start_on_own_thread(scenario))
        .await
        .expect("simulator thread");
    let client = connect(&sim, requests_per_second).await;
    TestCloud {
        sim,
        client,
        _thread: thread,
    }
}

fn start_on_own_thread(scenario: Scenario) -> (SimHandle, SimThread) {
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("simulator runtime");
        let sim = runtime.block_on(sim::start(scenario, "127.0.0.1:0".parse().expect("addr")));
        let _ = handle_tx.send(sim);
        // Serve until the test is done with the simulator.
        let _ = stop_rx.recv();
    });
    let sim = handle_rx
        .recv()
        .expect("simulator thread")
        .expect("simulator starts");
    (sim, SimThread { _stop: stop_tx })
}

pub async fn connect(sim: &SimHandle, requests_per_second: Option<f64>) -> Client {
    let c = sim.credentials(None).expect("an admin user");
    let config = CloudConfig::password(
        c.auth_url.clone(),
        c.username.clone(),
        c.password.expose_secret().to_string(),
        c.project.clone(),
        c.domain.clone(),
    )
    .with_region(c.region.clone());
    // Paced the way `azmove apply` paces a plan's `requests_per_second`.
    let paced = requests_per_second.map(|rps| {
        let limits = azmove::plan::file::Limits {
            requests_per_second: rps,
            ..Default::default()
        };
        azmove::connect::client_options(&limits)
            .requests_per_second
            .unwrap_or(rps)
    });
    let options = ClientOptions {
        requests_per_second: paced,
        retry_base_delay: Duration::from_millis(50),
        retry_max_delay: Duration::from_secs(2),
        ..ClientOptions::default()
    };
    Client::connect(config, options)
        .await
        .expect("logs in to the simulator")
}

/// Observe the cloud and plan `plan_yaml` against it.
pub async fn plan(client: &Client, plan_yaml: &str) -> (Changeset, Inventory) {
    let (file, _) = parse_plan("plan.yaml", plan_yaml.as_bytes()).expect("valid plan");
    let digest = hex::encode(Sha256::digest(plan_yaml.as_bytes()));
    let inventory = observe(client, &file)
        .await
        .expect("observes the simulator");
    let cs = planner::plan(&file, "plan.yaml", &digest, &inventory);
    (cs, inventory)
}

/// Shared polling scaled to the simulator's clock.
pub fn poll(time_scale: f64) -> PollMode {
    PollMode::Shared(PollConfig::default().scaled(time_scale))
}

pub fn options(poll: PollMode) -> ApplyOptions {
    ApplyOptions {
        poll,
        progress: ProgressMode::Quiet,
        stop: StopSignal::never(),
        ..ApplyOptions::default()
    }
}

/// Plan, then apply everything, as `azmove apply --yes` does.
pub async fn plan_and_apply(
    client: &Client,
    plan_yaml: &str,
    poll: PollMode,
) -> (Changeset, ApplyReport) {
    let (cs, inventory) = plan(client, plan_yaml).await;
    let input = prepare::from_fresh_plan(cs.clone(), &inventory);
    let report = execute(Arc::new(client.clone()), input, options(poll)).await;
    (cs, report)
}

pub async fn servers(client: &Client) -> Vec<Server> {
    client
        .list_servers(&ServerQuery::default())
        .await
        .expect("lists servers")
}

/// Every image azmove made (any plan).
pub async fn azmove_images(client: &Client, target: &str) -> Vec<Image> {
    client
        .list_images(&ImageQuery::with_property(tags::TARGET, target))
        .await
        .expect("lists images")
}

/// Replacements per source id.
pub fn replacements(servers: &[Server]) -> BTreeMap<String, Vec<&Server>> {
    let mut out: BTreeMap<String, Vec<&Server>> = BTreeMap::new();
    for s in servers {
        if let Some(src) = s.metadata.get(tags::SOURCE) {
            out.entry(src.clone()).or_default().push(s);
        }
    }
    out
}

/// Created minus deleted, per kind, from the simulator's own records.
pub fn balance(sim: &SimHandle, kind: &str) -> (usize, usize) {
    let stats = sim.stats();
    let created = stats.created.iter().filter(|e| e.kind == kind).count();
    let deleted = stats.deleted.iter().filter(|e| e.kind == kind).count();
    (created, deleted)
}

/// `azmove apply plan.yaml --yes` in `dir` with only `env` (and PATH),
/// polling fast, output discarded: a process a test can SIGKILL.
pub fn spawn_apply(dir: &Path, env: &[(String, String)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_azmove"))
        .current_dir(dir)
        .args([
            "apply",
            "plan.yaml",
            "--yes",
            "--allow-blocked",
            "--poll-min",
            "50ms",
            "--poll-max",
            "400ms",
        ])
        .env_clear()
        .envs(env.iter().cloned())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts azmove")
}
