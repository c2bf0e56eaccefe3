//! Shared helpers of the apply tests: a simulated cloud in the test
//! process, azmove's client connected to it over real HTTP, planning from
//! YAML text, applying, and reading the cloud back.

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
use azmove::plan::parse::parse_plan;
use azmove::plan::planner;
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

/// The OS_* variables that point a client (the azmove binary) at `sim`.
pub fn os_env(sim: &SimHandle) -> Vec<(String, String)> {
    os_env_as(sim, None)
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
    log_in(sim, None, paced).await
}

/// azmove's client logged in to `sim` as `user`, with the client's default pacing.
pub async fn connect_as(sim: &SimHandle, user: &str) -> Client {
    log_in(
        sim,
        Some(user),
        ClientOptions::default().requests_per_second,
    )
    .await
}

/// `user` (`None`: the first admin) logs in to `sim`.
async fn log_in(sim: &SimHandle, user: Option<&str>, requests_per_second: Option<f64>) -> Client {
    let c = sim.credentials(user).expect("the user exists");
    let config = CloudConfig::password(
        c.auth_url.clone(),
        c.username.clone(),
        c.password.expose_secret().to_string(),
        c.project.clone(),
        c.domain.clone(),
    )
    .with_region(c.region.clone());
    let options = ClientOptions {
        requests_per_second,
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
    spawn_apply_with(dir, env, &[])
}

/// [`spawn_apply`] writing its journal into `journal` (`--journal-dir`),
/// a directory of its own, so that a test can read what this run did.
pub fn spawn_apply_journaled(
    dir: &Path,
    env: &[(String, String)],
    journal: &Path,
) -> std::process::Child {
    spawn_apply_with(
        dir,
        env,
        &["--journal-dir", journal.to_str().expect("UTF-8 path")],
    )
}

/// The `azmove` binary of this build, run in `dir` with only `env` and PATH:
/// nothing of the test process's own environment reaches it.
pub fn azmove_in(dir: &Path, env: &[(String, String)]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_azmove"));
    command
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().cloned())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

fn spawn_apply_with(dir: &Path, env: &[(String, String)], extra: &[&str]) -> std::process::Child {
    azmove_in(dir, env)
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
        .args(extra)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts azmove")
}

// ------------------------------------------------------------------
// A run's journal (docs/apply.md, "The journal"), read while the run
// lives or after it was killed: every line is written with one unbuffered
// `write`, so a SIGKILL leaves every line before it.

/// The steps of a move as the journal names them (docs/apply.md).
pub const MOVE_STEPS: &[&str] = &[
    "stop source",
    "snapshot",
    "wait image active",
    "boot in target AZ",
    "wait ACTIVE",
    "verify",
    "delete snapshot",
    "handle source",
    "mark moving",
    "shelve",
    "shelve offload",
    "unshelve in target AZ",
    "unpin AZ",
    "cold migrate",
    "confirm migration",
    "live migrate",
    "re-pin AZ",
    "restore power state",
    "finish",
    "rollback",
];

/// Every JSON line of every journal file in `dir`.
pub fn journal_events(dir: &Path) -> Vec<serde_json::Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        if let Ok(text) = std::fs::read_to_string(e.path()) {
            // a line being written when we read may be cut: skip it
            out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
        }
    }
    out
}

/// A server a run's journal shows in the middle of its move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MidMove {
    /// The server's name (the journal's `server` is its id).
    pub name: String,
    /// The last move step started.
    pub step: String,
    /// That step has not finished either (otherwise the run is between
    /// two steps of the move).
    pub step_running: bool,
}

impl std::fmt::Display for MidMove {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.step_running {
            write!(f, "{} at `{}`", self.name, self.step)
        } else {
            write!(f, "{} after `{}`", self.name, self.step)
        }
    }
}

/// The servers (by id) whose move the journal in `dir` shows started and
/// not finished: a `step_started` of a move step and no `server_finished`
/// after it.
pub fn moves_in_flight(dir: &Path) -> BTreeMap<String, MidMove> {
    let mut out: BTreeMap<String, MidMove> = BTreeMap::new();
    for e in journal_events(dir) {
        let Some(server) = e["server"].as_str() else {
            continue;
        };
        let step = e["step"].as_str().filter(|s| MOVE_STEPS.contains(s));
        match (e["event"].as_str(), step) {
            (Some("step_started"), Some(step)) => {
                out.insert(
                    server.to_owned(),
                    MidMove {
                        name: e["name"].as_str().unwrap_or(server).to_owned(),
                        step: step.to_owned(),
                        step_running: true,
                    },
                );
            }
            (Some("step_finished"), Some(step)) => {
                if let Some(m) = out.get_mut(server).filter(|m| m.step == step) {
                    m.step_running = false;
                }
            }
            (Some("server_finished"), _) => {
                out.remove(server);
            }
            _ => {}
        }
    }
    out
}

/// Ask `probe` every 2 ms until it answers; panic after `limit` (a guard
/// against a hang, not a timing assertion), saying `what` was awaited.
pub async fn wait_for<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "waited {limit:?} in vain for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

// ------------------------------------------------------------------
// Helpers of the tests that run several `azmove` processes at once
// (tests/it/apply_concurrent.rs); usable by any apply test.

/// The OS_* variables that point a client (the azmove binary) at `sim`
/// as `user` (`None`: the first admin).
pub fn os_env_as(sim: &SimHandle, user: Option<&str>) -> Vec<(String, String)> {
    let c = sim.credentials(user).expect("the user exists");
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

/// `azmove ARGS…` in `dir` with only `env` (and PATH), stdout and stderr
/// into `dir/LABEL.out` and `dir/LABEL.err`: a process a test can SIGKILL
/// and whose output it can show when it fails.
pub fn spawn_azmove(
    dir: &Path,
    env: &[(String, String)],
    args: &[&str],
    label: &str,
) -> std::process::Child {
    let file = |ext: &str| {
        std::fs::File::create(dir.join(format!("{label}.{ext}"))).expect("an output file")
    };
    azmove_in(dir, env)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(file("out"))
        .stderr(file("err"))
        .spawn()
        .expect("starts azmove")
}

/// Wait for `child` at most `limit`; SIGKILL it after that. `None` if it
/// had to be killed (or was killed by a signal).
pub fn wait_at_most(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("child status") {
            return status.code();
        }
        if start.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A server as the simulator's own model has it (deleted ones included):
/// the referee's view, not what the API or azmove says.
#[derive(Debug, Clone)]
pub struct ModelServer {
    pub id: String,
    pub name: String,
    /// The API status (`DELETED` once deleted).
    pub status: String,
    pub task_state: Option<String>,
    pub az: String,
    pub metadata: BTreeMap<String, String>,
    pub deleted: bool,
}

/// An image record of the simulator's model, hidden or not, deleted or not.
#[derive(Debug, Clone)]
pub struct ModelImage {
    pub id: String,
    pub name: String,
    pub status: String,
    pub properties: BTreeMap<String, String>,
    pub deleted: bool,
}

pub fn model_server(m: &azmove::sim::model::Model, s: &azmove::sim::model::Server) -> ModelServer {
    ModelServer {
        id: s.id.clone(),
        name: s.name.clone(),
        status: s.status().to_owned(),
        task_state: s.task_state.map(str::to_owned),
        az: m.server_az(s),
        metadata: s.metadata.clone(),
        deleted: s.is_deleted(),
    }
}

pub fn model_image(im: &azmove::sim::model::Image) -> ModelImage {
    ModelImage {
        id: im.id.clone(),
        name: im.name.clone(),
        status: im.status.clone(),
        properties: im.properties.clone(),
        deleted: im.deleted,
    }
}

/// Every server and image of the simulator's model, as it is now.
pub fn model_view(sim: &SimHandle) -> (Vec<ModelServer>, Vec<ModelImage>) {
    let m = sim.sim().lock();
    let servers = m.servers.iter().map(|s| model_server(&m, s)).collect();
    let images = m.images.iter().map(model_image).collect();
    (servers, images)
}

/// The model's caller record for the owner of server `i`, acting as a
/// plain project member (a person using the cloud behind azmove's back).
pub fn owner_of(m: &azmove::sim::model::Model, i: usize) -> azmove::sim::model::Caller {
    let s = &m.servers[i];
    let user = m.users.iter().find(|u| u.id == s.user_id);
    let project = m.projects.iter().find(|p| p.id == s.project_id);
    azmove::sim::model::Caller {
        user_id: s.user_id.clone(),
        user_name: user.map(|u| u.name.clone()).unwrap_or_default(),
        project_id: s.project_id.clone(),
        project_name: project.map(|p| p.name.clone()).unwrap_or_default(),
        roles: vec!["member".into(), "reader".into()],
        is_admin: false,
    }
}
