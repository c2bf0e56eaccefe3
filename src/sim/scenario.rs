//! Scenario files: the YAML description of a simulated cloud (its AZs,
//! hosts, flavors, images, networks, projects, users, servers, timings and
//! the faults to inject). Every key is documented in docs/simulator.md;
//! unknown keys are rejected so that a typo never silently changes a test.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

/// Why a scenario file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("scenario file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("scenario {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A whole simulated cloud, as written in a scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seeds every random decision (ids, probabilistic faults).
    #[serde(default)]
    pub seed: u64,
    /// How much faster than real time long operations complete.
    #[serde(default = "default_time_scale")]
    pub time_scale: f64,
    /// Highest compute microversion the fake Nova accepts ("2.104").
    #[serde(default = "default_max_microversion")]
    pub max_microversion: String,
    /// Keystone region of every catalog endpoint.
    #[serde(default = "default_region")]
    pub region: String,
    /// Lifetime of Keystone tokens (wall-clock, not scaled).
    #[serde(default = "default_token_ttl", deserialize_with = "de_duration")]
    pub token_ttl: Duration,
    /// Server page size cap, as Nova's `[api] max_limit`.
    #[serde(default = "default_max_limit")]
    pub max_limit: usize,
    #[serde(default)]
    pub timings: Timings,
    /// How requests that overlap in time conflict (see [`Races`]).
    #[serde(default)]
    pub races: Races,
    #[serde(default)]
    pub availability_zones: Vec<AzSpec>,
    #[serde(default)]
    pub flavors: Vec<FlavorSpec>,
    #[serde(default)]
    pub images: Vec<ImageSpec>,
    #[serde(default)]
    pub networks: Vec<NetworkSpec>,
    #[serde(default)]
    pub security_groups: Vec<SecurityGroupSpec>,
    #[serde(default)]
    pub keypairs: Vec<KeypairSpec>,
    #[serde(default)]
    pub projects: Vec<ProjectSpec>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub server_groups: Vec<ServerGroupSpec>,
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
    #[serde(default)]
    pub servers: Vec<ServerSpec>,
    #[serde(default)]
    pub floating_ips: Vec<FloatingIpSpec>,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Where the scenario was read from (for error messages); not a YAML key.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl Default for Scenario {
    /// An empty cloud with every setting at its documented default.
    fn default() -> Self {
        Scenario {
            seed: 0,
            time_scale: default_time_scale(),
            max_microversion: default_max_microversion(),
            region: default_region(),
            token_ttl: default_token_ttl(),
            max_limit: default_max_limit(),
            timings: Timings::default(),
            races: Races::default(),
            availability_zones: Vec::new(),
            flavors: Vec::new(),
            images: Vec::new(),
            networks: Vec::new(),
            security_groups: Vec::new(),
            keypairs: Vec::new(),
            projects: Vec::new(),
            users: Vec::new(),
            server_groups: Vec::new(),
            volumes: Vec::new(),
            servers: Vec::new(),
            floating_ips: Vec::new(),
            faults: Vec::new(),
            source: None,
        }
    }
}

fn default_time_scale() -> f64 {
    1.0
}
fn default_max_microversion() -> String {
    "2.104".to_owned()
}
fn default_region() -> String {
    "RegionOne".to_owned()
}
fn default_token_ttl() -> Duration {
    Duration::from_secs(3600)
}
fn default_max_limit() -> usize {
    1000
}

/// How long the cloud takes for each operation, in cloud time (divided by
/// `time_scale` to get wall time).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timings {
    #[serde(default, deserialize_with = "de_duration")]
    pub api_latency: Duration,
    #[serde(default = "d_boot", deserialize_with = "de_duration")]
    pub boot: Duration,
    #[serde(default = "d_stop", deserialize_with = "de_duration")]
    pub stop: Duration,
    #[serde(default = "d_stop", deserialize_with = "de_duration")]
    pub start: Duration,
    #[serde(default = "d_delete", deserialize_with = "de_duration")]
    pub delete: Duration,
    /// Fixed part of a snapshot (quiesce, image_pending_upload), before the upload.
    #[serde(default = "d_snapshot_overhead", deserialize_with = "de_duration")]
    pub snapshot_overhead: Duration,
    /// Upload speed of snapshots: a flavor with a 10 GB disk takes 10240/throughput s.
    #[serde(default = "d_throughput")]
    pub snapshot_throughput_mb_s: f64,
    #[serde(default = "d_stop", deserialize_with = "de_duration")]
    pub shelve_offload: Duration,
    #[serde(default = "d_boot", deserialize_with = "de_duration")]
    pub unshelve: Duration,
    /// Seconds a deleted server stays visible as DELETED to `changes-since`.
    #[serde(default = "d_tombstone", deserialize_with = "de_duration")]
    pub deleted_visible: Duration,
    /// Fixed part of a cold migration: scheduling (half) and finishing on
    /// the destination (half), around the disk copy.
    #[serde(default = "d_migrate_overhead", deserialize_with = "de_duration")]
    pub migrate_overhead: Duration,
    /// Disk copy speed of cold migrations (root and ephemeral disks).
    #[serde(default = "d_migrate_throughput")]
    pub migrate_throughput_mb_s: f64,
    #[serde(default = "d_delete", deserialize_with = "de_duration")]
    pub confirm_resize: Duration,
    #[serde(default = "d_stop", deserialize_with = "de_duration")]
    pub revert_resize: Duration,
    /// Fixed part of a live migration: pre-checks and scheduling (half),
    /// preparing the destination and switching over (a quarter each);
    /// an abort takes a quarter too.
    #[serde(default = "d_stop", deserialize_with = "de_duration")]
    pub live_migration_overhead: Duration,
    /// Memory copy speed of live migrations (the flavor's RAM).
    #[serde(default = "d_live_throughput")]
    pub live_migration_throughput_mb_s: f64,
}

fn d_boot() -> Duration {
    Duration::from_secs(5)
}
fn d_stop() -> Duration {
    Duration::from_secs(2)
}
fn d_delete() -> Duration {
    Duration::from_secs(1)
}
fn d_snapshot_overhead() -> Duration {
    Duration::from_secs(2)
}
fn d_throughput() -> f64 {
    100.0
}
fn d_tombstone() -> Duration {
    Duration::from_secs(3600)
}
fn d_migrate_overhead() -> Duration {
    Duration::from_secs(4)
}
fn d_migrate_throughput() -> f64 {
    200.0
}
fn d_live_throughput() -> f64 {
    1000.0
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            api_latency: Duration::ZERO,
            boot: d_boot(),
            stop: d_stop(),
            start: d_stop(),
            delete: d_delete(),
            snapshot_overhead: d_snapshot_overhead(),
            snapshot_throughput_mb_s: d_throughput(),
            shelve_offload: d_stop(),
            unshelve: d_boot(),
            deleted_visible: d_tombstone(),
            migrate_overhead: d_migrate_overhead(),
            migrate_throughput_mb_s: d_migrate_throughput(),
            confirm_resize: d_delete(),
            revert_resize: d_stop(),
            live_migration_overhead: d_stop(),
            live_migration_throughput_mb_s: d_live_throughput(),
        }
    }
}

/// Races between requests that overlap in time. The simulator handles one
/// request at a time, so without this two clients could never hit Nova's
/// compare-and-swap on task_state the way they do on a real cloud.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Races {
    /// Cloud time (divided by `time_scale`) Nova's API takes between reading
    /// a server and saving its new task_state. An action arriving that soon
    /// after another action set the server's task_state has read it as
    /// `None` and loses the compare-and-swap (`UnexpectedTaskStateError`)
    /// instead of getting the usual 409; the winner's answer is held back
    /// as long, so one client's requests in sequence never race each other.
    /// 0 turns races off.
    #[serde(default = "d_task_state_window", deserialize_with = "de_duration")]
    pub task_state_window: Duration,
}

fn d_task_state_window() -> Duration {
    Duration::from_millis(100)
}

impl Default for Races {
    fn default() -> Self {
        Races {
            task_state_window: d_task_state_window(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzSpec {
    pub name: String,
    #[serde(default)]
    pub hosts: Vec<HostSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: String,
    #[serde(default = "d_vcpus")]
    pub vcpus: u32,
    #[serde(default = "d_ram")]
    pub ram_mb: u64,
    #[serde(default = "d_disk")]
    pub disk_gb: u64,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn d_vcpus() -> u32 {
    64
}
fn d_ram() -> u64 {
    262_144
}
fn d_disk() -> u64 {
    4096
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlavorSpec {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
    #[serde(default)]
    pub ephemeral_gb: u64,
    #[serde(default)]
    pub swap_mb: u64,
    #[serde(default = "yes")]
    pub public: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    /// Owning project; the first admin project when omitted.
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default = "d_visibility")]
    pub visibility: String,
    #[serde(default = "d_image_size")]
    pub size_mb: u64,
    #[serde(default)]
    pub min_disk: u64,
    #[serde(default)]
    pub min_ram: u64,
    #[serde(default = "d_disk_format")]
    pub disk_format: String,
    #[serde(default = "d_status")]
    pub status: String,
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom properties, shown as top-level image attributes.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Left out of image lists unless they ask for `os_hidden=true`.
    #[serde(default)]
    pub os_hidden: bool,
}

fn d_visibility() -> String {
    "public".to_owned()
}
fn d_image_size() -> u64 {
    20
}
fn d_disk_format() -> String {
    "qcow2".to_owned()
}
fn d_status() -> String {
    "active".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub shared: bool,
    /// Provider network for floating IPs (`router:external`).
    #[serde(default)]
    pub external: bool,
    #[serde(default)]
    pub subnets: Vec<SubnetSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetSpec {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    /// IPv4 CIDR, e.g. 10.0.0.0/24.
    pub cidr: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupSpec {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeypairSpec {
    pub name: String,
    /// Owning user; the first admin user when omitted.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub quota: QuotaSpec,
}

/// Nova quota of a project; -1 means unlimited. Defaults are Nova's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSpec {
    #[serde(default = "q_instances")]
    pub instances: i64,
    #[serde(default = "q_cores")]
    pub cores: i64,
    #[serde(default = "q_ram")]
    pub ram_mb: i64,
}

fn q_instances() -> i64 {
    10
}
fn q_cores() -> i64 {
    20
}
fn q_ram() -> i64 {
    51200
}

impl Default for QuotaSpec {
    fn default() -> Self {
        QuotaSpec {
            instances: q_instances(),
            cores: q_cores(),
            ram_mb: q_ram(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    pub password: SecretString,
    /// Default (and only) project of the user.
    pub project: String,
    /// Keystone role names; `admin` makes the user a cloud admin.
    #[serde(default = "d_roles")]
    pub roles: Vec<String>,
    #[serde(default)]
    pub application_credentials: Vec<AppCredSpec>,
}

fn d_roles() -> Vec<String> {
    vec!["member".to_owned(), "reader".to_owned()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppCredSpec {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    pub secret: SecretString,
    /// Roles of tokens issued for it; the user's roles when omitted.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerGroupSpec {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    /// affinity, anti-affinity, soft-affinity or soft-anti-affinity.
    pub policy: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSpec {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    pub size_gb: u64,
    pub availability_zone: String,
    #[serde(default)]
    pub bootable: bool,
    #[serde(default)]
    pub volume_type: Option<String>,
}

/// One server, or (with `generate`) a whole fleet of similar servers.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// Server name; in a `generate` block a template where `{i}` or
    /// `{i:05}` is replaced by the server's number.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    /// Number of servers to generate (only inside `generate`).
    #[serde(default)]
    pub count: Option<u32>,
    /// First number of a generated fleet (default 1, only inside `generate`).
    #[serde(default)]
    pub start: Option<u32>,
    #[serde(default)]
    pub generate: Option<Box<ServerSpec>>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub flavor: Option<String>,
    /// Image name or id; omit for a volume-backed server (first volume boots).
    #[serde(default)]
    pub image: Option<String>,
    /// Network names: one port created per network.
    #[serde(default)]
    pub networks: Vec<String>,
    #[serde(default)]
    pub security_groups: Option<Vec<String>>,
    #[serde(default)]
    pub key_name: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub status: Option<String>,
    /// Volume names attached to the server, in device order.
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub server_group: Option<String>,
    #[serde(default)]
    pub locked: bool,
    /// The AZ requested at boot (shown as `pinned_availability_zone`, 2.96).
    #[serde(default)]
    pub pinned_availability_zone: Option<String>,
    #[serde(default)]
    pub user_data: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloatingIpSpec {
    pub address: String,
    /// The external network it belongs to.
    pub network: String,
    #[serde(default)]
    pub project: Option<String>,
    /// Server whose first port it is attached to.
    #[serde(default)]
    pub server: Option<String>,
}

/// A fault to inject. Which events a fault hits is chosen by `nth`
/// (1-based, among the events the fault applies to), `calls` (a range of
/// those numbers) and `probability`; with none of them, every event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum FaultSpec {
    /// A snapshot's upload fails: the image ends `killed`.
    SnapshotKilled(EventFault),
    /// A boot ends in ERROR with "No valid host was found".
    BootError(EventFault),
    /// A cold or live migration fails its scheduling or pre-checks: the
    /// migration ends `error`, the server stays where it was.
    MigrationError(MigrationFault),
    /// An unshelve fails to spawn: the server stays SHELVED_OFFLOADED.
    UnshelveError(EventFault),
    /// A live migration's memory copy never converges: it stays `running`
    /// until aborted or forced to complete.
    LiveMigrationHang(EventFault),
    /// The API answers with this HTTP status instead of doing the call.
    HttpError(HttpFault),
    /// The API answers late.
    Latency(LatencyFault),
    /// Tokens stop working after `after`.
    TokenExpiry(TokenExpiryFault),
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EventFault {
    #[serde(default)]
    pub nth: Option<OneOrMany>,
    #[serde(default)]
    pub calls: Option<CallRange>,
    #[serde(default)]
    pub probability: Option<f64>,
    /// Only events in this AZ (target AZ for boots, server's AZ for snapshots).
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Only servers whose name matches this regular expression.
    #[serde(default)]
    pub server: Option<String>,
}

/// A fault on migrations, optionally only cold or only live ones.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MigrationFault {
    #[serde(default)]
    pub nth: Option<OneOrMany>,
    #[serde(default)]
    pub calls: Option<CallRange>,
    #[serde(default)]
    pub probability: Option<f64>,
    /// Only migrations to this AZ (the destination's).
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Only servers whose name matches this regular expression.
    #[serde(default)]
    pub server: Option<String>,
    /// `cold` or `live`; both when omitted.
    #[serde(default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpFault {
    pub status: u16,
    /// Adds a `Retry-After` header (whole seconds) to the answer.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub retry_after: Option<Duration>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub nth: Option<OneOrMany>,
    #[serde(default)]
    pub calls: Option<CallRange>,
    #[serde(default)]
    pub probability: Option<f64>,
    /// identity, compute, image, network or volume.
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    /// Regular expression matched against the path after the service prefix
    /// and version (e.g. `^/servers/[^/]+/action$`).
    #[serde(default)]
    pub path: Option<String>,
    /// Server action name (createImage, os-stop, …); implies POST …/action.
    #[serde(default)]
    pub action: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyFault {
    #[serde(deserialize_with = "de_duration")]
    pub delay: Duration,
    #[serde(default)]
    pub nth: Option<OneOrMany>,
    #[serde(default)]
    pub calls: Option<CallRange>,
    #[serde(default)]
    pub probability: Option<f64>,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenExpiryFault {
    /// Tokens are rejected with 401 this long after they were issued.
    #[serde(deserialize_with = "de_duration")]
    pub after: Duration,
    /// What `expires_at` claims (default: the real expiry). Set it longer
    /// than `after` to simulate tokens revoked before their advertised end.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub advertised: Option<Duration>,
}

/// `nth: 3` or `nth: [3, 5]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(u64),
    Many(Vec<u64>),
}

impl OneOrMany {
    pub fn contains(&self, n: u64) -> bool {
        match self {
            OneOrMany::One(x) => *x == n,
            OneOrMany::Many(xs) => xs.contains(&n),
        }
    }
}

/// Inclusive range of event numbers: `calls: {from: 100, to: 120}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRange {
    pub from: u64,
    pub to: u64,
}

impl Scenario {
    /// Read and check a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut scenario =
            Scenario::from_yaml_named(&path.display().to_string(), &text).map_err(|e| match e {
                ScenarioError::Parse { message, .. } => ScenarioError::Parse {
                    path: path.to_owned(),
                    message,
                },
                ScenarioError::Invalid { message, .. } => ScenarioError::Invalid {
                    path: path.to_owned(),
                    message,
                },
                other => other,
            })?;
        scenario.source = Some(path.to_owned());
        Ok(scenario)
    }

    /// Parse a scenario from YAML text (checked like [`Scenario::load`]).
    pub fn from_yaml(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_yaml_named("<scenario>", text)
    }

    fn from_yaml_named(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let scenario = parse_yaml(name, text).map_err(|message| ScenarioError::Parse {
            path: PathBuf::from("<scenario>"),
            message,
        })?;
        scenario.check().map_err(|message| ScenarioError::Invalid {
            path: PathBuf::from("<scenario>"),
            message,
        })?;
        Ok(scenario)
    }

    /// Name used in messages about this scenario.
    pub fn display_name(&self) -> String {
        self.source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<scenario>".to_owned())
    }

    /// Checks that need the whole file; references between objects are
    /// checked when the model is built.
    fn check(&self) -> Result<(), String> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(format!(
                "time_scale must be a positive number, not {}",
                self.time_scale
            ));
        }
        crate::sim::clock::parse_microversion(&self.max_microversion).ok_or_else(|| {
            format!(
                "max_microversion {:?} is not of the form 2.N",
                self.max_microversion
            )
        })?;
        if self.max_limit == 0 {
            return Err("max_limit must be at least 1".to_owned());
        }
        for (key, v) in [
            (
                "snapshot_throughput_mb_s",
                self.timings.snapshot_throughput_mb_s,
            ),
            (
                "migrate_throughput_mb_s",
                self.timings.migrate_throughput_mb_s,
            ),
            (
                "live_migration_throughput_mb_s",
                self.timings.live_migration_throughput_mb_s,
            ),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("timings.{key} must be a positive number"));
            }
        }
        for (i, s) in self.servers.iter().enumerate() {
            match &s.generate {
                Some(g) => {
                    let other_keys = s.name.is_some()
                        || s.id.is_some()
                        || s.count.is_some()
                        || s.flavor.is_some()
                        || s.image.is_some()
                        || s.availability_zone.is_some()
                        || s.host.is_some()
                        || s.project.is_some();
                    if other_keys {
                        return Err(format!(
                            "servers[{i}]: put every key of a generated fleet inside `generate`"
                        ));
                    }
                    if g.count.is_none() {
                        return Err(format!("servers[{i}].generate: `count` is required"));
                    }
                    if g.name.is_none() {
                        return Err(format!(
                            "servers[{i}].generate: `name` (a template such as \"vm-{{i:05}}\") is required"
                        ));
                    }
                    if g.generate.is_some() || g.id.is_some() {
                        return Err(format!(
                            "servers[{i}].generate: `generate` and `id` cannot be used inside `generate`"
                        ));
                    }
                }
                None => {
                    if s.count.is_some() || s.start.is_some() {
                        return Err(format!(
                            "servers[{i}]: `count` and `start` belong inside a `generate` block"
                        ));
                    }
                    if s.name.is_none() {
                        return Err(format!("servers[{i}]: `name` is required"));
                    }
                }
            }
        }
        for (i, f) in self.faults.iter().enumerate() {
            let probability = match f {
                FaultSpec::SnapshotKilled(e)
                | FaultSpec::BootError(e)
                | FaultSpec::UnshelveError(e)
                | FaultSpec::LiveMigrationHang(e) => e.probability,
                FaultSpec::MigrationError(m) => m.probability,
                FaultSpec::HttpError(h) => h.probability,
                FaultSpec::Latency(l) => l.probability,
                FaultSpec::TokenExpiry(_) => None,
            };
            if let Some(p) = probability
                && !(0.0..=1.0).contains(&p)
            {
                return Err(format!(
                    "faults[{i}]: probability must be between 0 and 1, not {p}"
                ));
            }
            if let FaultSpec::MigrationError(m) = f
                && let Some(kind) = &m.kind
                && kind != "cold"
                && kind != "live"
            {
                return Err(format!(
                    "faults[{i}]: migration_error kind must be `cold` or `live`, not {kind:?}"
                ));
            }
            if let FaultSpec::HttpError(h) = f
                && !(400..=599).contains(&h.status)
            {
                return Err(format!(
                    "faults[{i}]: status must be an HTTP error status (400-599), not {}",
                    h.status
                ));
            }
        }
        Ok(())
    }
}

/// The only place YAML is parsed for the simulator: the same loader as
/// plan files, so scenario errors come with line, column and a snippet.
fn parse_yaml(name: &str, text: &str) -> Result<Scenario, String> {
    crate::yaml::from_yaml_str::<Scenario>(name, text).map_err(|e| e.to_string())
}

/// Expand a fleet name template: `{i}` → 7, `{i:05}` → 00007.
pub fn expand_name(template: &str, i: u32) -> String {
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(open) = rest.find("{i") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        if let Some(close) = after.find('}') {
            let spec = &after[..close];
            if spec.is_empty() {
                out.push_str(&i.to_string());
                rest = &after[close + 1..];
                continue;
            }
            if let Some(width) = spec
                .strip_prefix(":0")
                .and_then(|w| w.parse::<usize>().ok())
            {
                out.push_str(&format!("{i:0width$}"));
                rest = &after[close + 1..];
                continue;
            }
            if let Some(width) = spec.strip_prefix(':').and_then(|w| w.parse::<usize>().ok()) {
                out.push_str(&format!("{i:width$}"));
                rest = &after[close + 1..];
                continue;
            }
        }
        out.push_str("{i");
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Durations are written like `60s`, `200ms`, `1h 30m`, or a number of seconds.
fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    d.deserialize_any(DurationVisitor).map(Some)
}

struct DurationVisitor;

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as \"60s\", \"200ms\" or a number of seconds")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
        humantime::parse_duration(v.trim())
            .map_err(|e| E::custom(format!("invalid duration {v:?}: {e}")))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(format!("a duration cannot be negative ({v})")))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
        Duration::try_from_secs_f64(v)
            .map_err(|_| E::custom(format!("invalid duration {v} (seconds)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_templates_expand() {
        assert_eq!(expand_name("vm-{i:05}", 7), "vm-00007");
        assert_eq!(expand_name("vm-{i}", 12), "vm-12");
        assert_eq!(expand_name("a{i}b{i:03}", 4), "a4b004");
        assert_eq!(expand_name("plain", 4), "plain");
        assert_eq!(expand_name("odd-{i:x}", 4), "odd-{i:x}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Scenario::from_yaml("seed: 1\nflavours: []\n").unwrap_err();
        assert!(err.to_string().contains("flavours"), "{err}");
        let err = Scenario::from_yaml("servers:\n  - name: a\n    colour: red\n").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn races_default_to_a_short_window_and_are_strict() {
        let s = Scenario::from_yaml("seed: 1\n").unwrap();
        assert_eq!(s.races.task_state_window, Duration::from_millis(100));
        let s = Scenario::from_yaml("races: {task_state_window: 250ms}\n").unwrap();
        assert_eq!(s.races.task_state_window, Duration::from_millis(250));
        let s = Scenario::from_yaml("races: {task_state_window: 0}\n").unwrap();
        assert!(s.races.task_state_window.is_zero());
        let err = Scenario::from_yaml("races: {task_state_windw: 1s}\n").unwrap_err();
        assert!(err.to_string().contains("task_state_windw"), "{err}");
        let err = Scenario::from_yaml("races: {task_state_window: soon}\n").unwrap_err();
        assert!(err.to_string().contains("soon"), "{err}");
    }

    #[test]
    fn faults_parse_in_every_form() {
        let s = Scenario::from_yaml(
            "faults:\n  - snapshot_killed: {nth: 3}\n  - boot_error: {availability_zone: nova2, probability: 0.1}\n  - http_error: {status: 503, calls: {from: 100, to: 120}}\n  - http_error: {status: 429, retry_after: 2s, probability: 0.05}\n  - latency: {delay: 200ms}\n  - token_expiry: {after: 60s}\n",
        )
        .unwrap();
        assert_eq!(s.faults.len(), 6);
        match &s.faults[3] {
            FaultSpec::HttpError(h) => assert_eq!(h.retry_after, Some(Duration::from_secs(2))),
            other => panic!("unexpected {other:?}"),
        }
        let err = Scenario::from_yaml("faults:\n  - boot_error: {probability: 2}\n").unwrap_err();
        assert!(err.to_string().contains("probability"), "{err}");
    }

    #[test]
    fn generate_blocks_are_checked() {
        let err = Scenario::from_yaml("servers:\n  - generate: {name: \"vm-{i}\"}\n").unwrap_err();
        assert!(err.to_string().contains("count"), "{err}");
        let ok = Scenario::from_yaml(
            "servers:\n  - generate: {count: 3, name: \"vm-{i}\", flavor: m1.tiny}\n",
        )
        .unwrap();
        assert_eq!(
            ok.servers[0].generate.as_ref().and_then(|g| g.count),
            Some(3)
        );
    }
}
