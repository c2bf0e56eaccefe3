//! The simulated cloud's state: every resource of every service, held in
//! memory behind one mutex, built from a [`Scenario`]. Behaviour over time
//! (boots, snapshots, …) lives in `lifecycle.rs`; the HTTP views in `api/`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use secrecy::SecretString;
use sha2::{Digest, Sha224, Sha256};
use time::OffsetDateTime;

use super::lifecycle::BootVolume;
use super::scenario::{self, Scenario, ServerSpec};

/// Settings fixed for the life of the simulator.
#[derive(Debug, Clone)]
pub struct Config {
    pub base_url: String,
    pub region: String,
    pub max_microversion: (u16, u16),
    pub token_ttl: Duration,
    pub max_limit: usize,
    pub timings: scenario::Timings,
    pub races: scenario::Races,
}

impl Config {
    pub fn identity_url(&self) -> String {
        format!("{}/identity", self.base_url)
    }
    pub fn compute_url(&self) -> String {
        format!("{}/compute/v2.1", self.base_url)
    }
    pub fn image_url(&self) -> String {
        format!("{}/image", self.base_url)
    }
    pub fn network_url(&self) -> String {
        format!("{}/networking", self.base_url)
    }
    pub fn volume_url(&self, project_id: &str) -> String {
        format!("{}/volume/v3/{project_id}", self.base_url)
    }
}

#[derive(Debug, Clone)]
pub struct Quota {
    pub instances: i64,
    pub cores: i64,
    pub ram_mb: i64,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub quota: Quota,
}

#[derive(Debug, Clone)]
pub struct AppCred {
    pub id: String,
    pub name: String,
    pub secret: SecretString,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub password: SecretString,
    pub project: usize,
    pub roles: Vec<String>,
    pub app_creds: Vec<AppCred>,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub user: usize,
    pub project: usize,
    pub roles: Vec<String>,
    pub methods: Vec<String>,
    pub issued: OffsetDateTime,
    /// After this the token is refused.
    pub valid_until: OffsetDateTime,
    /// What `expires_at` says.
    pub expires_at: OffsetDateTime,
    pub audit_id: String,
    pub app_cred: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub az: String,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
    pub enabled: bool,
    pub used_vcpus: u32,
    pub used_ram_mb: u64,
    pub used_disk_gb: u64,
    /// Compute node uuid (`os-hypervisors` id from 2.53), derived from the name.
    pub uuid: String,
    /// Its nova-compute service's uuid (2.53).
    pub service_uuid: String,
    /// `host_ip` of the hypervisor and `dest_host` of migrations to it.
    pub ip: String,
}

impl Host {
    pub fn fits(&self, f: &FlavorRec) -> bool {
        self.enabled
            && self.used_vcpus + f.vcpus <= self.vcpus
            && self.used_ram_mb + f.ram_mb <= self.ram_mb
            && self.used_disk_gb + f.disk_gb + f.ephemeral_gb <= self.disk_gb
    }
}

/// A flavor, and the copy of it every server keeps (Nova embeds it).
#[derive(Debug, Clone)]
pub struct FlavorRec {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
    pub ephemeral_gb: u64,
    pub swap_mb: u64,
    pub public: bool,
    pub description: Option<String>,
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Image {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub visibility: String,
    pub status: String,
    pub size: Option<u64>,
    pub min_disk: u64,
    pub min_ram: u64,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub protected: bool,
    pub tags: Vec<String>,
    pub properties: BTreeMap<String, String>,
    pub checksum: Option<String>,
    pub hash: Option<String>,
    pub deleted: bool,
    /// `os_hidden`: left out of image lists unless asked for (Glance 2.7).
    pub os_hidden: bool,
}

impl Image {
    /// Mark the upload finished: status, size and digests.
    pub fn finish_upload(&mut self, size: u64, at: OffsetDateTime) {
        self.status = "active".to_owned();
        self.size = Some(size);
        let digest = Sha256::digest(format!("{}:{size}", self.id).as_bytes());
        let hex = hex::encode(digest);
        self.checksum = Some(hex[..32].to_owned());
        self.hash = Some(format!("{hex}{hex}"));
        self.updated_at = at;
    }
}

#[derive(Debug, Clone)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub shared: bool,
    pub external: bool,
    pub subnets: Vec<usize>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub id: String,
    pub name: String,
    pub network: usize,
    pub project_id: String,
    pub cidr: String,
    pub base: u32,
    pub prefix: u8,
    next: u32,
    freed: Vec<u32>,
    pub created_at: OffsetDateTime,
}

impl Subnet {
    pub fn gateway(&self) -> String {
        ipv4(self.base + 1)
    }
    pub fn pool(&self) -> (String, String) {
        (ipv4(self.base + 2), ipv4(self.broadcast() - 1))
    }
    fn broadcast(&self) -> u32 {
        let host_bits = 32 - u32::from(self.prefix);
        if host_bits >= 32 {
            u32::MAX
        } else {
            self.base | ((1u32 << host_bits) - 1)
        }
    }
    fn allocate(&mut self) -> Option<String> {
        if let Some(a) = self.freed.pop() {
            return Some(ipv4(a));
        }
        let addr = self.base.checked_add(self.next)?;
        if addr >= self.broadcast() {
            return None;
        }
        self.next += 1;
        Some(ipv4(addr))
    }
    fn release(&mut self, addr: &str) {
        if let Some(a) = parse_ipv4(addr) {
            self.freed.push(a);
        }
    }
}

/// A uuid derived from a name, so that adding hosts does not change the
/// ids the seeded generator hands out to everything else.
pub fn name_uuid(kind: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{kind}:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

pub fn ipv4(a: u32) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

fn parse_ipv4(s: &str) -> Option<u32> {
    s.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

#[derive(Debug, Clone)]
pub struct Port {
    pub id: String,
    pub name: String,
    pub network: usize,
    pub project_id: String,
    pub mac: String,
    pub fixed_ips: Vec<(String, usize)>,
    pub device_id: String,
    pub device_owner: String,
    pub status: String,
    pub security_groups: Vec<usize>,
    pub binding_host: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub revision: u64,
    pub description: String,
    /// Created by Nova for a server, so deleted with it.
    pub nova_created: bool,
}

#[derive(Debug, Clone)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub description: String,
    pub created_at: OffsetDateTime,
    pub rule_ids: [String; 2],
}

#[derive(Debug, Clone)]
pub struct FloatingIp {
    pub id: String,
    pub address: String,
    pub network: usize,
    pub project_id: String,
    pub port_id: Option<String>,
    pub fixed_ip: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub revision: u64,
}

#[derive(Debug, Clone)]
pub struct VolumeAttachment {
    pub server_id: String,
    pub attachment_id: String,
    pub device: String,
    pub attached_at: OffsetDateTime,
    pub host: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub size_gb: u64,
    pub az: String,
    pub status: String,
    pub bootable: bool,
    pub volume_type: String,
    pub attachments: Vec<VolumeAttachment>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct Keypair {
    pub name: String,
    pub user_id: String,
    pub public_key: String,
    pub fingerprint: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct ServerGroup {
    pub id: String,
    pub name: String,
    pub policy: String,
    pub project_id: String,
    pub user_id: String,
    pub members: Vec<String>,
}

/// Nova's vm_state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    Building,
    Active,
    Stopped,
    Paused,
    Suspended,
    Shelved,
    ShelvedOffloaded,
    /// A cold migration waiting for confirmResize or revertResize.
    Resized,
    Error,
    Deleted,
}

impl VmState {
    pub fn as_str(self) -> &'static str {
        match self {
            VmState::Building => "building",
            VmState::Active => "active",
            VmState::Stopped => "stopped",
            VmState::Paused => "paused",
            VmState::Suspended => "suspended",
            VmState::Shelved => "shelved",
            VmState::ShelvedOffloaded => "shelved_offloaded",
            VmState::Resized => "resized",
            VmState::Error => "error",
            VmState::Deleted => "deleted",
        }
    }

    /// The API status for this vm_state when no task changes it (see
    /// [`Server::status`] for the ones that do).
    pub fn status(self) -> &'static str {
        match self {
            VmState::Building => "BUILD",
            VmState::Active => "ACTIVE",
            VmState::Stopped => "SHUTOFF",
            VmState::Paused => "PAUSED",
            VmState::Suspended => "SUSPENDED",
            VmState::Shelved => "SHELVED",
            VmState::ShelvedOffloaded => "SHELVED_OFFLOADED",
            VmState::Resized => "VERIFY_RESIZE",
            VmState::Error => "ERROR",
            VmState::Deleted => "DELETED",
        }
    }

    pub fn from_status(status: &str) -> Option<VmState> {
        Some(match status.to_ascii_uppercase().as_str() {
            "BUILD" => VmState::Building,
            "ACTIVE" => VmState::Active,
            "SHUTOFF" => VmState::Stopped,
            "PAUSED" => VmState::Paused,
            "SUSPENDED" => VmState::Suspended,
            "SHELVED" => VmState::Shelved,
            "SHELVED_OFFLOADED" => VmState::ShelvedOffloaded,
            "ERROR" => VmState::Error,
            "DELETED" => VmState::Deleted,
            _ => return None,
        })
    }

    /// Nova's power_state (1 running, 3 paused, 4 shutdown, 7 suspended, 0 none).
    pub fn power_state(self) -> u8 {
        match self {
            VmState::Active => 1,
            VmState::Paused => 3,
            VmState::Stopped | VmState::Shelved => 4,
            VmState::Suspended => 7,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub code: u16,
    pub message: String,
    pub created: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct ServerVolume {
    pub volume_id: String,
    pub device: String,
    pub attachment_id: String,
    pub bdm_uuid: String,
    pub delete_on_termination: bool,
}

/// What a server asked for at boot, kept until its ports exist.
#[derive(Debug, Clone)]
pub enum NetRequest {
    Network(usize, Option<String>),
    Port(String),
}

#[derive(Debug, Clone)]
pub struct Server {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    /// The AZ asked for at boot (or set by unshelve/PUT); `pinned_availability_zone`.
    pub requested_az: Option<String>,
    pub host: Option<usize>,
    pub flavor: FlavorRec,
    pub image_id: Option<String>,
    pub image_properties: BTreeMap<String, String>,
    pub vm_state: VmState,
    pub task_state: Option<&'static str>,
    pub power_state: u8,
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
    pub launched_at: Option<OffsetDateTime>,
    pub terminated_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    pub metadata: BTreeMap<String, String>,
    pub key_name: Option<String>,
    pub user_data: Option<String>,
    pub config_drive: bool,
    pub security_groups: Vec<String>,
    pub fault: Option<Fault>,
    pub locked: bool,
    pub locked_reason: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub hostname: String,
    pub instance_name: String,
    pub reservation_id: String,
    pub scheduler_hints: BTreeMap<String, serde_json::Value>,
    pub server_group: Option<usize>,
    pub volumes: Vec<ServerVolume>,
    pub net_requests: Vec<NetRequest>,
    pub access_ipv4: String,
    pub access_ipv6: String,
    pub disk_config: &'static str,
    /// Bumped whenever pending events of this server must be ignored.
    pub generation: u64,
    /// Snapshot (or shelve image) being uploaded.
    pub pending_image: Option<usize>,
    /// The pending snapshot will end `killed`.
    pub pending_image_fails: bool,
    /// The shelve image, deleted on unshelve.
    pub shelve_image: Option<usize>,
    /// The migration moving it, from the request until it is over
    /// (confirmed, reverted, completed, cancelled or failed).
    pub migration: Option<usize>,
    /// The host an admin asked `unshelve` for (2.91).
    pub unshelve_host: Option<usize>,
    /// When an API action last set `task_state` (not a step of the task):
    /// requests arriving within `races.task_state_window` of it race it.
    pub task_set_at: Option<OffsetDateTime>,
}

impl Server {
    /// Nova's `status_from_state`: the vm_state's status, except for the
    /// task states that have their own (resize and live migration).
    pub fn status(&self) -> &'static str {
        if self.deleted_at.is_some() {
            return "DELETED";
        }
        match (self.vm_state, self.task_state) {
            (VmState::Active | VmState::Paused, Some("migrating")) => "MIGRATING",
            (
                VmState::Active | VmState::Stopped,
                Some("resize_prep" | "resize_migrating" | "resize_migrated" | "resize_finish"),
            ) => "RESIZE",
            (VmState::Resized, Some("resize_reverting")) => "REVERT_RESIZE",
            (state, _) => state.status(),
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// Something that happens to a server later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Scheduled,
    Spawned,
    Stopped,
    Started,
    SnapshotPendingUpload,
    SnapshotUploading,
    SnapshotDone,
    ShelvePendingUpload,
    ShelveUploading,
    Shelved,
    Offloaded,
    UnshelveScheduled,
    Unshelved,
    /// The unshelve's spawn failed (an `unshelve_error` fault).
    UnshelveFailed,
    Deleted,
    /// Cold migration: scheduled (or not) after `resize_prep`.
    MigrateScheduled,
    /// Cold migration: the disk is on the destination (`resize_migrated`).
    MigrateCopied,
    /// Cold migration: the destination takes the server (`resize_finish`).
    MigrateFinishing,
    /// Cold migration: VERIFY_RESIZE.
    MigrateFinished,
    ConfirmDone,
    RevertDone,
    /// Live migration: pre-checks and scheduling done (or failed).
    LiveScheduled,
    /// Live migration: memory copy starts (`running`).
    LiveRunning,
    LiveDone,
    LiveAborted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: OffsetDateTime,
    pub seq: u64,
    pub server: usize,
    pub generation: u64,
    pub step: Step,
}

impl Ord for Event {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The whole cloud.
#[derive(Debug)]
pub struct Model {
    pub cfg: Config,
    pub role_ids: BTreeMap<String, String>,
    pub projects: Vec<Project>,
    pub users: Vec<User>,
    pub tokens: HashMap<String, Token>,
    pub azs: Vec<String>,
    pub hosts: Vec<Host>,
    pub flavors: Vec<FlavorRec>,
    pub images: Vec<Image>,
    pub image_index: HashMap<String, usize>,
    pub networks: Vec<Network>,
    pub subnets: Vec<Subnet>,
    pub ports: BTreeMap<String, Port>,
    pub ports_by_device: HashMap<String, Vec<String>>,
    pub security_groups: Vec<SecurityGroup>,
    pub floating_ips: Vec<FloatingIp>,
    pub volumes: Vec<Volume>,
    pub keypairs: Vec<Keypair>,
    pub server_groups: Vec<ServerGroup>,
    pub servers: Vec<Server>,
    pub server_index: HashMap<String, usize>,
    pub(crate) queue: BinaryHeap<Reverse<Event>>,
    pub(crate) seq: u64,
    ids: ChaCha8Rng,
    instance_counter: u64,
    pub(crate) last_advance: Option<OffsetDateTime>,
    /// Boot volumes of servers still in BUILD, created when they are scheduled.
    pub(crate) pending_boot_volumes: HashMap<String, BootVolume>,
    /// Every migration record; `id` is the position plus one.
    pub migrations: Vec<Migration>,
    /// When the cloud was built (creation time of its host aggregates).
    pub created_at: OffsetDateTime,
}

/// `migration_type` of a migration record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationKind {
    /// Cold migration (`migrate`): ends in VERIFY_RESIZE.
    Cold,
    Live,
}

impl MigrationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationKind::Cold => "migration",
            MigrationKind::Live => "live-migration",
        }
    }
}

/// One of Nova's migration records, and the host claims it holds.
#[derive(Debug, Clone)]
pub struct Migration {
    pub id: u64,
    pub uuid: String,
    pub server: usize,
    pub instance_uuid: String,
    pub kind: MigrationKind,
    /// accepted, pre-migrating, migrating, post-migrating, finished,
    /// confirming, confirmed, reverting, reverted, preparing, running,
    /// completed, cancelled, error.
    pub status: &'static str,
    pub source: usize,
    /// The destination, once chosen (or the one asked for).
    pub dest: Option<usize>,
    /// The host the caller asked for.
    pub requested: Option<usize>,
    /// Live migration forced to `requested` (2.30–2.67): no scheduler.
    pub forced: bool,
    /// Nova's flavor database id (old and new are the same for a migration).
    pub flavor_db_id: u64,
    pub user_id: String,
    pub project_id: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// vm_state to return to after confirm or revert (active or stopped).
    pub old_vm_state: VmState,
    /// The migration holds the flavor's resources on the source host.
    pub source_claimed: bool,
    /// The migration holds the flavor's resources on the destination host.
    pub dest_claimed: bool,
    pub memory_total: u64,
    pub disk_total: u64,
    /// When the copy started and when it ends (`None`: it never does).
    pub copy_started: Option<OffsetDateTime>,
    pub copy_ends: Option<OffsetDateTime>,
    /// An injected `live_migration_hang`: the copy never converges.
    pub hangs: bool,
}

impl Migration {
    /// Nova's list of statuses of a live migration in progress.
    pub fn in_progress(&self) -> bool {
        matches!(
            self.status,
            "queued" | "preparing" | "running" | "post-migrating"
        )
    }

    /// Bytes copied so far, out of `total`, at `now`.
    pub fn processed(&self, total: u64, now: OffsetDateTime) -> u64 {
        let Some(start) = self.copy_started else {
            return 0;
        };
        match self.status {
            "completed" | "finished" | "confirming" | "confirmed" | "post-migrating" => {
                return total;
            }
            _ => {}
        }
        let Some(end) = self.copy_ends else {
            // A copy that never converges: dirty pages keep ~5 % behind.
            return total - total / 20;
        };
        let span = (end - start).as_seconds_f64();
        if span <= 0.0 {
            return total;
        }
        let done = ((now - start).as_seconds_f64() / span).clamp(0.0, 1.0);
        (total as f64 * done) as u64
    }
}

/// The caller of an API: who, in which project, with which rights.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub user_name: String,
    pub project_id: String,
    pub project_name: String,
    pub roles: Vec<String>,
    pub is_admin: bool,
}

impl Caller {
    /// Nova's `project_manager_or_admin` rule (the project is checked by
    /// the caller's visibility of the server).
    pub fn is_manager_or_admin(&self) -> bool {
        self.is_admin || self.roles.iter().any(|r| r == "manager")
    }
}

impl Model {
    /// Build the cloud described by a scenario. `base_url` is where it is served.
    pub fn from_scenario(
        sc: &Scenario,
        base_url: &str,
        now: OffsetDateTime,
    ) -> Result<Model, String> {
        let max_microversion = super::clock::parse_microversion(&sc.max_microversion)
            .ok_or_else(|| format!("max_microversion {:?} is invalid", sc.max_microversion))?;
        let mut m = Model {
            cfg: Config {
                base_url: base_url.trim_end_matches('/').to_owned(),
                region: sc.region.clone(),
                max_microversion,
                token_ttl: sc.token_ttl,
                max_limit: sc.max_limit,
                timings: sc.timings.clone(),
                races: sc.races.clone(),
            },
            role_ids: BTreeMap::new(),
            projects: Vec::new(),
            users: Vec::new(),
            tokens: HashMap::new(),
            azs: Vec::new(),
            hosts: Vec::new(),
            flavors: Vec::new(),
            images: Vec::new(),
            image_index: HashMap::new(),
            networks: Vec::new(),
            subnets: Vec::new(),
            ports: BTreeMap::new(),
            ports_by_device: HashMap::new(),
            security_groups: Vec::new(),
            floating_ips: Vec::new(),
            volumes: Vec::new(),
            keypairs: Vec::new(),
            server_groups: Vec::new(),
            servers: Vec::new(),
            server_index: HashMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            ids: ChaCha8Rng::seed_from_u64(sc.seed),
            instance_counter: 0,
            last_advance: None,
            pending_boot_volumes: HashMap::new(),
            migrations: Vec::new(),
            created_at: now,
        };
        m.load_identity(sc)?;
        m.load_compute_basics(sc)?;
        m.load_images(sc, now)?;
        m.load_network(sc, now)?;
        m.load_volumes(sc, now)?;
        m.load_servers(sc, now)?;
        m.load_floating_ips(sc, now)?;
        Ok(m)
    }

    /// A fresh id, deterministic for a given seed and order of creation.
    pub fn new_uuid(&mut self) -> String {
        let bytes: [u8; 16] = self.ids.random();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A Keystone-style id (32 hex digits).
    pub fn new_hex_id(&mut self) -> String {
        self.new_uuid().replace('-', "")
    }

    pub fn random_u64(&mut self) -> u64 {
        self.ids.random()
    }

    fn new_mac(&mut self) -> String {
        let b: [u8; 3] = self.ids.random();
        format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
    }

    fn id_or_new(&mut self, given: &Option<String>, hex: bool) -> String {
        match given {
            Some(id) => id.clone(),
            None if hex => self.new_hex_id(),
            None => self.new_uuid(),
        }
    }

    fn load_identity(&mut self, sc: &Scenario) -> Result<(), String> {
        for p in &sc.projects {
            if self.projects.iter().any(|x| x.name == p.name) {
                return Err(format!("project {:?} is defined twice", p.name));
            }
            let id = self.id_or_new(&p.id, true);
            self.projects.push(Project {
                id,
                name: p.name.clone(),
                quota: Quota {
                    instances: p.quota.instances,
                    cores: p.quota.cores,
                    ram_mb: p.quota.ram_mb,
                },
            });
        }
        for u in &sc.users {
            if self.projects.iter().all(|p| p.name != u.project) {
                // A user's project need not be listed separately.
                let id = self.new_hex_id();
                self.projects.push(Project {
                    id,
                    name: u.project.clone(),
                    quota: Quota {
                        instances: 10,
                        cores: 20,
                        ram_mb: 51200,
                    },
                });
            }
        }
        if self.projects.is_empty() {
            let id = self.new_hex_id();
            self.projects.push(Project {
                id,
                name: "admin".to_owned(),
                quota: Quota {
                    instances: 10,
                    cores: 20,
                    ram_mb: 51200,
                },
            });
        }
        let mut role_names: Vec<String> = vec!["admin".into(), "member".into(), "reader".into()];
        for u in &sc.users {
            if self.users.iter().any(|x| x.name == u.name) {
                return Err(format!("user {:?} is defined twice", u.name));
            }
            let project = self.project_by_name(&u.project).ok_or_else(|| {
                format!("user {:?}: project {:?} is not defined", u.name, u.project)
            })?;
            for r in &u.roles {
                if !role_names.contains(r) {
                    role_names.push(r.clone());
                }
            }
            let id = self.id_or_new(&u.id, true);
            let mut app_creds = Vec::new();
            for a in &u.application_credentials {
                let id = self.id_or_new(&a.id, true);
                app_creds.push(AppCred {
                    id,
                    name: a.name.clone(),
                    secret: a.secret.clone(),
                    roles: a.roles.clone().unwrap_or_else(|| u.roles.clone()),
                });
            }
            self.users.push(User {
                id,
                name: u.name.clone(),
                password: u.password.clone(),
                project,
                roles: u.roles.clone(),
                app_creds,
            });
        }
        for r in role_names {
            let id = self.new_hex_id();
            self.role_ids.insert(r, id);
        }
        Ok(())
    }

    fn load_compute_basics(&mut self, sc: &Scenario) -> Result<(), String> {
        for az in &sc.availability_zones {
            if self.azs.contains(&az.name) {
                return Err(format!("availability zone {:?} is defined twice", az.name));
            }
            self.azs.push(az.name.clone());
            for h in &az.hosts {
                if self.hosts.iter().any(|x| x.name == h.name) {
                    return Err(format!("host {:?} is defined twice", h.name));
                }
                let n = self.hosts.len() as u32;
                self.hosts.push(Host {
                    uuid: name_uuid("compute-node", &h.name),
                    service_uuid: name_uuid("nova-compute", &h.name),
                    ip: ipv4(0xC0A8_0000 + 10 + n),
                    name: h.name.clone(),
                    az: az.name.clone(),
                    vcpus: h.vcpus,
                    ram_mb: h.ram_mb,
                    disk_gb: h.disk_gb,
                    enabled: h.enabled,
                    used_vcpus: 0,
                    used_ram_mb: 0,
                    used_disk_gb: 0,
                });
            }
        }
        for (i, f) in sc.flavors.iter().enumerate() {
            if self.flavors.iter().any(|x| x.name == f.name) {
                return Err(format!("flavor {:?} is defined twice", f.name));
            }
            let id = f.id.clone().unwrap_or_else(|| (i + 1).to_string());
            self.flavors.push(FlavorRec {
                id,
                name: f.name.clone(),
                vcpus: f.vcpus,
                ram_mb: f.ram_mb,
                disk_gb: f.disk_gb,
                ephemeral_gb: f.ephemeral_gb,
                swap_mb: f.swap_mb,
                public: f.public,
                description: f.description.clone(),
                extra_specs: f.extra_specs.clone(),
            });
        }
        for sg in &sc.server_groups {
            let project =
                self.project_id_or_default(&sg.project, &format!("server group {:?}", sg.name))?;
            let id = self.id_or_new(&sg.id, false);
            let user_id = self.first_user_of(&project).unwrap_or_default();
            if ![
                "affinity",
                "anti-affinity",
                "soft-affinity",
                "soft-anti-affinity",
            ]
            .contains(&sg.policy.as_str())
            {
                return Err(format!(
                    "server group {:?}: unknown policy {:?}",
                    sg.name, sg.policy
                ));
            }
            self.server_groups.push(ServerGroup {
                id,
                name: sg.name.clone(),
                policy: sg.policy.clone(),
                project_id: project,
                user_id,
                members: Vec::new(),
            });
        }
        Ok(())
    }

    fn load_images(&mut self, sc: &Scenario, now: OffsetDateTime) -> Result<(), String> {
        for im in &sc.images {
            let owner = self.project_id_or_default(&im.project, &format!("image {:?}", im.name))?;
            let id = self.id_or_new(&im.id, false);
            if !["public", "private", "shared", "community"].contains(&im.visibility.as_str()) {
                return Err(format!(
                    "image {:?}: visibility must be public, private, shared or community",
                    im.name
                ));
            }
            let mut image = Image {
                id: id.clone(),
                name: im.name.clone(),
                owner,
                visibility: im.visibility.clone(),
                status: im.status.clone(),
                size: None,
                min_disk: im.min_disk,
                min_ram: im.min_ram,
                disk_format: Some(im.disk_format.clone()),
                container_format: Some("bare".to_owned()),
                created_at: now,
                updated_at: now,
                protected: im.protected,
                tags: im.tags.clone(),
                properties: im.properties.clone(),
                checksum: None,
                hash: None,
                deleted: false,
                os_hidden: im.os_hidden,
            };
            if im.status == "active" {
                image.finish_upload(im.size_mb * 1024 * 1024, now);
            }
            self.add_image(image);
        }
        Ok(())
    }

    pub fn add_image(&mut self, image: Image) -> usize {
        let idx = self.images.len();
        self.image_index.insert(image.id.clone(), idx);
        self.images.push(image);
        idx
    }

    fn load_network(&mut self, sc: &Scenario, now: OffsetDateTime) -> Result<(), String> {
        for n in &sc.networks {
            if self.networks.iter().any(|x| x.name == n.name) {
                return Err(format!("network {:?} is defined twice", n.name));
            }
            let project =
                self.project_id_or_default(&n.project, &format!("network {:?}", n.name))?;
            let id = self.id_or_new(&n.id, false);
            let net_idx = self.networks.len();
            let mut subnet_ids = Vec::new();
            for s in &n.subnets {
                let (base, prefix) = parse_cidr(&s.cidr).ok_or_else(|| {
                    format!(
                        "network {:?}, subnet {:?}: {:?} is not an IPv4 CIDR such as 10.0.0.0/24",
                        n.name, s.name, s.cidr
                    )
                })?;
                let sid = self.id_or_new(&s.id, false);
                subnet_ids.push(self.subnets.len());
                self.subnets.push(Subnet {
                    id: sid,
                    name: s.name.clone(),
                    network: net_idx,
                    project_id: project.clone(),
                    cidr: s.cidr.clone(),
                    base,
                    prefix,
                    next: 2,
                    freed: Vec::new(),
                    created_at: now,
                });
            }
            self.networks.push(Network {
                id,
                name: n.name.clone(),
                project_id: project,
                shared: n.shared,
                external: n.external,
                subnets: subnet_ids,
                created_at: now,
            });
        }
        for sg in &sc.security_groups {
            let project =
                self.project_id_or_default(&sg.project, &format!("security group {:?}", sg.name))?;
            let id = self.id_or_new(&sg.id, false);
            let rule_ids = [self.new_uuid(), self.new_uuid()];
            self.security_groups.push(SecurityGroup {
                id,
                name: sg.name.clone(),
                project_id: project,
                description: sg
                    .description
                    .clone()
                    .unwrap_or_else(|| default_sg_description(&sg.name)),
                created_at: now,
                rule_ids,
            });
        }
        // Neutron gives every project a "default" security group.
        for p in 0..self.projects.len() {
            let pid = self.projects[p].id.clone();
            if !self
                .security_groups
                .iter()
                .any(|s| s.name == "default" && s.project_id == pid)
            {
                let id = self.new_uuid();
                let rule_ids = [self.new_uuid(), self.new_uuid()];
                self.security_groups.push(SecurityGroup {
                    id,
                    name: "default".to_owned(),
                    project_id: pid,
                    description: default_sg_description("default"),
                    created_at: now,
                    rule_ids,
                });
            }
        }
        for k in &sc.keypairs {
            let user = match &k.user {
                Some(u) => self
                    .users
                    .iter()
                    .find(|x| &x.name == u)
                    .map(|x| x.id.clone())
                    .ok_or_else(|| format!("keypair {:?}: user {u:?} is not defined", k.name))?,
                None => self
                    .first_admin_user()
                    .map(|u| self.users[u].id.clone())
                    .unwrap_or_default(),
            };
            let public_key = k.public_key.clone().unwrap_or_else(|| {
                format!(
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} {}@azmove-sim",
                    hex::encode(&Sha256::digest(k.name.as_bytes())[..16]),
                    k.name
                )
            });
            let digest = Sha256::digest(public_key.as_bytes());
            let fingerprint = digest[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":");
            self.keypairs.push(Keypair {
                name: k.name.clone(),
                user_id: user,
                public_key,
                fingerprint,
                created_at: now,
            });
        }
        Ok(())
    }

    fn load_volumes(&mut self, sc: &Scenario, now: OffsetDateTime) -> Result<(), String> {
        for v in &sc.volumes {
            if self.volumes.iter().any(|x| x.name == v.name) {
                return Err(format!("volume {:?} is defined twice", v.name));
            }
            let project =
                self.project_id_or_default(&v.project, &format!("volume {:?}", v.name))?;
            let user_id = self.first_user_of(&project).unwrap_or_default();
            let id = self.id_or_new(&v.id, false);
            self.volumes.push(Volume {
                id,
                name: v.name.clone(),
                project_id: project,
                user_id,
                size_gb: v.size_gb,
                az: v.availability_zone.clone(),
                status: "available".to_owned(),
                bootable: v.bootable,
                volume_type: v
                    .volume_type
                    .clone()
                    .unwrap_or_else(|| "__DEFAULT__".to_owned()),
                attachments: Vec::new(),
                created_at: now,
                updated_at: now,
            });
        }
        Ok(())
    }

    fn load_servers(&mut self, sc: &Scenario, now: OffsetDateTime) -> Result<(), String> {
        for spec in &sc.servers {
            match &spec.generate {
                Some(g) => {
                    let count = g.count.unwrap_or(0);
                    let start = g.start.unwrap_or(1);
                    let template = g.name.clone().unwrap_or_default();
                    for i in start..start.saturating_add(count) {
                        let name = scenario::expand_name(&template, i);
                        self.load_server(g, name, now)?;
                    }
                }
                None => {
                    let name = spec.name.clone().unwrap_or_default();
                    self.load_server(spec, name, now)?;
                }
            }
        }
        Ok(())
    }

    fn load_server(
        &mut self,
        s: &ServerSpec,
        name: String,
        now: OffsetDateTime,
    ) -> Result<(), String> {
        let what = format!("server {name:?}");
        let project_id = self.project_id_or_default(&s.project, &what)?;
        let user_id = match &s.user {
            Some(u) => self
                .users
                .iter()
                .find(|x| &x.name == u)
                .map(|x| x.id.clone())
                .ok_or_else(|| format!("{what}: user {u:?} is not defined"))?,
            None => self.first_user_of(&project_id).unwrap_or_default(),
        };
        let flavor_name = s
            .flavor
            .clone()
            .ok_or_else(|| format!("{what}: `flavor` is required"))?;
        let flavor = self
            .flavors
            .iter()
            .find(|f| f.name == flavor_name || f.id == flavor_name)
            .cloned()
            .ok_or_else(|| format!("{what}: flavor {flavor_name:?} is not defined"))?;
        let (image_id, image_properties) = match &s.image {
            Some(i) => {
                let img = self
                    .images
                    .iter()
                    .find(|x| &x.name == i || &x.id == i)
                    .ok_or_else(|| format!("{what}: image {i:?} is not defined"))?;
                (Some(img.id.clone()), img.properties.clone())
            }
            None => {
                if s.volumes.is_empty() {
                    return Err(format!(
                        "{what}: give an `image`, or `volumes` whose first one is the boot volume"
                    ));
                }
                (None, BTreeMap::new())
            }
        };
        let vm_state = match &s.status {
            None => VmState::Active,
            Some(st) => match VmState::from_status(st) {
                Some(
                    v @ (VmState::Active
                    | VmState::Stopped
                    | VmState::Paused
                    | VmState::Suspended
                    | VmState::Shelved
                    | VmState::ShelvedOffloaded
                    | VmState::Error),
                ) => v,
                _ => {
                    return Err(format!(
                        "{what}: status {st:?} is not one of ACTIVE, SHUTOFF, PAUSED, SUSPENDED, SHELVED, SHELVED_OFFLOADED, ERROR"
                    ));
                }
            },
        };
        // Place it.
        let host = if vm_state == VmState::ShelvedOffloaded {
            None
        } else {
            match &s.host {
                Some(h) => {
                    let idx = self
                        .hosts
                        .iter()
                        .position(|x| &x.name == h)
                        .ok_or_else(|| format!("{what}: host {h:?} is not defined"))?;
                    if let Some(az) = &s.availability_zone
                        && &self.hosts[idx].az != az
                    {
                        return Err(format!(
                            "{what}: host {h:?} is in availability zone {:?}, not {az:?}",
                            self.hosts[idx].az
                        ));
                    }
                    Some(idx)
                }
                None => {
                    if let Some(az) = &s.availability_zone
                        && !self.azs.contains(az)
                    {
                        return Err(format!("{what}: availability zone {az:?} is not defined"));
                    }
                    let pick = self.pick_host(s.availability_zone.as_deref(), &flavor, None);
                    match pick {
                        Some(h) => Some(h),
                        None => {
                            return Err(format!(
                                "{what}: no enabled host{} has room for flavor {} (add hosts or capacity)",
                                s.availability_zone
                                    .as_ref()
                                    .map(|a| format!(" in availability zone {a:?}"))
                                    .unwrap_or_default(),
                                flavor.name
                            ));
                        }
                    }
                }
            }
        };
        if let Some(h) = host {
            let host = &mut self.hosts[h];
            host.used_vcpus += flavor.vcpus;
            host.used_ram_mb += flavor.ram_mb;
            host.used_disk_gb += flavor.disk_gb + flavor.ephemeral_gb;
        }
        let id = self.id_or_new(&s.id, false);
        if self.server_index.contains_key(&id) {
            return Err(format!("{what}: id {id} is used twice"));
        }
        let requested_az = s
            .pinned_availability_zone
            .clone()
            .or_else(|| s.availability_zone.clone());
        if let Some(k) = &s.key_name
            && !self.keypairs.iter().any(|x| &x.name == k)
        {
            return Err(format!("{what}: keypair {k:?} is not defined"));
        }
        let server_group = match &s.server_group {
            Some(g) => Some(
                self.server_groups
                    .iter()
                    .position(|x| &x.name == g)
                    .ok_or_else(|| format!("{what}: server group {g:?} is not defined"))?,
            ),
            None => None,
        };
        self.instance_counter += 1;
        let reservation = format!("r-{:08x}", self.random_u64() as u32);
        let sgs = s
            .security_groups
            .clone()
            .unwrap_or_else(|| vec!["default".to_owned()]);
        let server = Server {
            id: id.clone(),
            name: name.clone(),
            project_id: project_id.clone(),
            user_id,
            requested_az,
            host,
            flavor,
            image_id,
            image_properties,
            vm_state,
            task_state: None,
            power_state: vm_state.power_state(),
            created: now,
            updated: now,
            launched_at: (vm_state != VmState::Error).then_some(now),
            terminated_at: None,
            deleted_at: None,
            metadata: s.metadata.clone(),
            key_name: s.key_name.clone(),
            user_data: s.user_data.clone(),
            config_drive: false,
            security_groups: sgs.clone(),
            fault: (vm_state == VmState::Error).then(|| Fault {
                code: 500,
                message: NO_VALID_HOST.to_owned(),
                created: now,
            }),
            locked: s.locked,
            locked_reason: None,
            description: None,
            tags: s.tags.clone(),
            hostname: hostname_of(&name),
            instance_name: format!("instance-{:08x}", self.instance_counter),
            reservation_id: reservation,
            scheduler_hints: BTreeMap::new(),
            server_group,
            volumes: Vec::new(),
            net_requests: Vec::new(),
            access_ipv4: String::new(),
            access_ipv6: String::new(),
            disk_config: "MANUAL",
            generation: 0,
            pending_image: None,
            pending_image_fails: false,
            shelve_image: None,
            migration: None,
            unshelve_host: None,
            task_set_at: None,
        };
        let idx = self.servers.len();
        self.server_index.insert(id.clone(), idx);
        self.servers.push(server);
        if let Some(g) = server_group {
            self.server_groups[g].members.push(id.clone());
        }
        for net_name in &s.networks {
            let net = self
                .networks
                .iter()
                .position(|n| &n.name == net_name)
                .ok_or_else(|| format!("{what}: network {net_name:?} is not defined"))?;
            let sg_ids = self
                .resolve_security_groups(&project_id, &sgs)
                .map_err(|e| format!("{what}: {e}"))?;
            self.create_port(net, &project_id, None, sg_ids, now, Some(idx), true)
                .map_err(|e| format!("{what}: {e}"))?;
        }
        for (n, vol_name) in s.volumes.iter().enumerate() {
            let v = self
                .volumes
                .iter()
                .position(|x| &x.name == vol_name)
                .ok_or_else(|| format!("{what}: volume {vol_name:?} is not defined"))?;
            if !self.volumes[v].attachments.is_empty() {
                return Err(format!("{what}: volume {vol_name:?} is attached twice"));
            }
            let device = format!(
                "/dev/vd{}",
                (b'a' + (n as u8 + u8::from(self.servers[idx].image_id.is_some())).min(25)) as char
            );
            self.attach_volume(idx, v, device, now);
        }
        Ok(())
    }

    pub fn attach_volume(
        &mut self,
        server: usize,
        volume: usize,
        device: String,
        at: OffsetDateTime,
    ) {
        let attachment_id = self.new_uuid();
        let bdm_uuid = self.new_uuid();
        let host = self.servers[server]
            .host
            .map(|h| self.hosts[h].name.clone());
        let sid = self.servers[server].id.clone();
        let vol = &mut self.volumes[volume];
        vol.status = "in-use".to_owned();
        vol.updated_at = at;
        vol.attachments.push(VolumeAttachment {
            server_id: sid,
            attachment_id: attachment_id.clone(),
            device: device.clone(),
            attached_at: at,
            host,
        });
        let vid = vol.id.clone();
        self.servers[server].volumes.push(ServerVolume {
            volume_id: vid,
            device,
            attachment_id,
            bdm_uuid,
            delete_on_termination: false,
        });
    }

    fn load_floating_ips(&mut self, sc: &Scenario, now: OffsetDateTime) -> Result<(), String> {
        for f in &sc.floating_ips {
            let what = format!("floating IP {}", f.address);
            let network = self
                .networks
                .iter()
                .position(|n| n.name == f.network)
                .ok_or_else(|| format!("{what}: network {:?} is not defined", f.network))?;
            let project = self.project_id_or_default(&f.project, &what)?;
            let (port_id, fixed_ip) = match &f.server {
                Some(s) => {
                    let idx = self
                        .servers
                        .iter()
                        .position(|x| &x.name == s)
                        .ok_or_else(|| format!("{what}: server {s:?} is not defined"))?;
                    let sid = self.servers[idx].id.clone();
                    let port = self
                        .ports_of(&sid)
                        .first()
                        .map(|p| (p.id.clone(), p.fixed_ips.first().map(|x| x.0.clone())))
                        .ok_or_else(|| format!("{what}: server {s:?} has no port"))?;
                    (Some(port.0), port.1)
                }
                None => (None, None),
            };
            let id = self.new_uuid();
            self.floating_ips.push(FloatingIp {
                id,
                address: f.address.clone(),
                network,
                project_id: project,
                port_id,
                fixed_ip,
                created_at: now,
                updated_at: now,
                revision: 1,
            });
        }
        Ok(())
    }

    // ---- lookups ----------------------------------------------------------

    pub fn project_by_name(&self, name: &str) -> Option<usize> {
        self.projects.iter().position(|p| p.name == name)
    }

    pub fn project_by_id(&self, id: &str) -> Option<usize> {
        self.projects.iter().position(|p| p.id == id)
    }

    fn project_id_or_default(&self, name: &Option<String>, what: &str) -> Result<String, String> {
        match name {
            Some(n) => self
                .project_by_name(n)
                .map(|p| self.projects[p].id.clone())
                .ok_or_else(|| format!("{what}: project {n:?} is not defined")),
            None => Ok(self.default_project_id()),
        }
    }

    /// The project of the first admin user (or the first project).
    pub fn default_project_id(&self) -> String {
        self.first_admin_user()
            .map(|u| self.projects[self.users[u].project].id.clone())
            .unwrap_or_else(|| self.projects[0].id.clone())
    }

    pub fn first_admin_user(&self) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.roles.iter().any(|r| r == "admin"))
    }

    fn first_user_of(&self, project_id: &str) -> Option<String> {
        self.users
            .iter()
            .find(|u| self.projects[u.project].id == project_id)
            .map(|u| u.id.clone())
    }

    pub fn server(&self, id: &str) -> Option<usize> {
        self.server_index
            .get(id)
            .copied()
            .filter(|i| !self.servers[*i].is_deleted())
    }

    /// A server the caller may act on (own project, or any for an admin).
    pub fn visible_server(&self, id: &str, caller: &Caller) -> Option<usize> {
        self.server(id)
            .filter(|i| caller.is_admin || self.servers[*i].project_id == caller.project_id)
    }

    pub fn image(&self, id: &str) -> Option<usize> {
        self.image_index
            .get(id)
            .copied()
            .filter(|i| !self.images[*i].deleted)
    }

    pub fn image_visible(&self, idx: usize, caller: &Caller) -> bool {
        let im = &self.images[idx];
        !im.deleted
            && (caller.is_admin
                || im.visibility == "public"
                || im.visibility == "community"
                || im.owner == caller.project_id)
    }

    pub fn flavor(&self, id: &str) -> Option<usize> {
        self.flavors.iter().position(|f| f.id == id)
    }

    pub fn ports_of(&self, device_id: &str) -> Vec<&Port> {
        self.ports_by_device
            .get(device_id)
            .map(|ids| ids.iter().filter_map(|id| self.ports.get(id)).collect())
            .unwrap_or_default()
    }

    pub fn network_visible(&self, n: usize, caller: &Caller) -> bool {
        let net = &self.networks[n];
        caller.is_admin || net.shared || net.external || net.project_id == caller.project_id
    }

    pub fn resolve_security_groups(
        &self,
        project_id: &str,
        names: &[String],
    ) -> Result<Vec<usize>, String> {
        names
            .iter()
            .map(|n| {
                self.security_groups
                    .iter()
                    .position(|s| (s.name == *n && s.project_id == project_id) || s.id == *n)
                    .ok_or_else(|| {
                        format!("security group {n:?} not found for project {project_id}")
                    })
            })
            .collect()
    }

    /// Nova's `hostId`: sha224(project_id + host), empty without a host.
    pub fn host_id(&self, s: &Server) -> String {
        match s.host {
            Some(h) => {
                let mut hasher = Sha224::new();
                hasher.update(s.project_id.as_bytes());
                hasher.update(self.hosts[h].name.as_bytes());
                hex::encode(hasher.finalize())
            }
            None => String::new(),
        }
    }

    /// The AZ shown for a server: its host's, else the one it asked for.
    pub fn server_az(&self, s: &Server) -> String {
        match s.host {
            Some(h) => self.hosts[h].az.clone(),
            None => s.requested_az.clone().unwrap_or_default(),
        }
    }

    // ---- scheduling and ports ---------------------------------------------

    /// Nova's filter scheduler in miniature: enabled hosts of the AZ with
    /// room for the flavor, honouring the server group policy, preferring
    /// the host with the most free RAM (the default RAM weigher spreads).
    pub fn pick_host(
        &self,
        az: Option<&str>,
        flavor: &FlavorRec,
        group: Option<usize>,
    ) -> Option<usize> {
        let group_hosts: Vec<usize> = group
            .map(|g| {
                self.server_groups[g]
                    .members
                    .iter()
                    .filter_map(|id| self.server(id))
                    .filter_map(|i| self.servers[i].host)
                    .collect()
            })
            .unwrap_or_default();
        let policy = group.map(|g| self.server_groups[g].policy.as_str());
        self.hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| az.is_none_or(|a| h.az == a))
            .filter(|(_, h)| h.fits(flavor))
            .filter(|(i, _)| match policy {
                Some("anti-affinity") => !group_hosts.contains(i),
                Some("affinity") => group_hosts.is_empty() || group_hosts.contains(i),
                _ => true,
            })
            .max_by_key(|(i, h)| {
                let soft = match policy {
                    Some("soft-affinity") => i64::from(group_hosts.contains(i)),
                    Some("soft-anti-affinity") => -i64::from(group_hosts.contains(i)),
                    _ => 0,
                };
                (soft, h.ram_mb - h.used_ram_mb, Reverse(*i))
            })
            .map(|(i, _)| i)
    }

    /// Create a port on a network, optionally bound to a server.
    #[allow(clippy::too_many_arguments)]
    pub fn create_port(
        &mut self,
        network: usize,
        project_id: &str,
        fixed_ip: Option<String>,
        security_groups: Vec<usize>,
        now: OffsetDateTime,
        server: Option<usize>,
        nova_created: bool,
    ) -> Result<String, String> {
        let mut fixed_ips = Vec::new();
        if let Some(&sub) = self.networks[network].subnets.first() {
            let addr = match fixed_ip {
                Some(a) => a,
                None => self.subnets[sub].allocate().ok_or_else(|| {
                    format!(
                        "no more IP addresses available on network {}",
                        self.networks[network].id
                    )
                })?,
            };
            fixed_ips.push((addr, sub));
        }
        let id = self.new_uuid();
        let mac = self.new_mac();
        let port = Port {
            id: id.clone(),
            name: String::new(),
            network,
            project_id: project_id.to_owned(),
            mac,
            fixed_ips,
            device_id: String::new(),
            device_owner: String::new(),
            status: "DOWN".to_owned(),
            security_groups,
            binding_host: String::new(),
            created_at: now,
            updated_at: now,
            revision: 1,
            description: String::new(),
            nova_created,
        };
        self.ports.insert(id.clone(), port);
        if let Some(s) = server {
            self.bind_port(&id, s, now);
        }
        Ok(id)
    }

    /// Attach a port to a server (device_id, owner, binding host).
    pub fn bind_port(&mut self, port_id: &str, server: usize, now: OffsetDateTime) {
        let s = &self.servers[server];
        let owner = format!("compute:{}", self.server_az(s));
        let host = s
            .host
            .map(|h| self.hosts[h].name.clone())
            .unwrap_or_default();
        let sid = s.id.clone();
        if let Some(p) = self.ports.get_mut(port_id) {
            p.device_id = sid.clone();
            p.device_owner = owner;
            p.status = if host.is_empty() { "DOWN" } else { "ACTIVE" }.to_owned();
            p.binding_host = host;
            p.updated_at = now;
            p.revision += 1;
            let list = self.ports_by_device.entry(sid).or_default();
            if !list.iter().any(|x| x == port_id) {
                list.push(port_id.to_owned());
            }
        }
    }

    /// Update binding host and owner of a server's ports after it moved.
    pub fn rebind_ports(&mut self, server: usize, now: OffsetDateTime) {
        let sid = self.servers[server].id.clone();
        let ids = self.ports_by_device.get(&sid).cloned().unwrap_or_default();
        for id in ids {
            self.bind_port(&id, server, now);
        }
    }

    /// Remove a port, releasing its addresses and any floating IP on it.
    pub fn delete_port(&mut self, port_id: &str, now: OffsetDateTime) -> Option<Port> {
        let port = self.ports.remove(port_id)?;
        for (addr, sub) in &port.fixed_ips {
            self.subnets[*sub].release(addr);
        }
        if !port.device_id.is_empty()
            && let Some(list) = self.ports_by_device.get_mut(&port.device_id)
        {
            list.retain(|x| x != port_id);
            if list.is_empty() {
                self.ports_by_device.remove(&port.device_id);
            }
        }
        for f in &mut self.floating_ips {
            if f.port_id.as_deref() == Some(port_id) {
                f.port_id = None;
                f.fixed_ip = None;
                f.updated_at = now;
                f.revision += 1;
            }
        }
        Some(port)
    }

    /// Detach a port Nova did not create: it survives, unbound.
    pub fn unbind_port(&mut self, port_id: &str, now: OffsetDateTime) {
        if let Some(p) = self.ports.get_mut(port_id) {
            let device = std::mem::take(&mut p.device_id);
            p.device_owner.clear();
            p.binding_host.clear();
            p.status = "DOWN".to_owned();
            p.updated_at = now;
            p.revision += 1;
            if let Some(list) = self.ports_by_device.get_mut(&device) {
                list.retain(|x| x != port_id);
                if list.is_empty() {
                    self.ports_by_device.remove(&device);
                }
            }
        }
    }

    pub fn next_instance_name(&mut self) -> String {
        self.instance_counter += 1;
        format!("instance-{:08x}", self.instance_counter)
    }

    pub fn schedule(&mut self, server: usize, at: OffsetDateTime, step: Step) {
        self.seq += 1;
        let generation = self.servers[server].generation;
        self.queue.push(Reverse(Event {
            at,
            seq: self.seq,
            server,
            generation,
            step,
        }));
    }

    /// Servers, used cores and RAM of a project (not deleted).
    pub fn usage(&self, project_id: &str) -> (i64, i64, i64) {
        let mut n = 0;
        let mut cores = 0;
        let mut ram = 0;
        for s in &self.servers {
            if !s.is_deleted() && s.project_id == project_id {
                n += 1;
                cores += i64::from(s.flavor.vcpus);
                ram += s.flavor.ram_mb as i64;
            }
        }
        (n, cores, ram)
    }
}

/// Nova's message when scheduling fails.
pub const NO_VALID_HOST: &str = "No valid host was found. There are not enough hosts available.";

fn default_sg_description(name: &str) -> String {
    if name == "default" {
        "Default security group".to_owned()
    } else {
        String::new()
    }
}

/// Nova's hostname sanitisation, enough for display names.
pub fn hostname_of(name: &str) -> String {
    let mut h: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c.to_ascii_lowercase()
            } else if c == '_' || c == ' ' {
                '-'
            } else {
                '\0'
            }
        })
        .filter(|c| *c != '\0')
        .collect();
    h = h.trim_matches(|c| c == '-' || c == '.').to_owned();
    h.truncate(63);
    if h.is_empty() { "server".to_owned() } else { h }
}

fn parse_cidr(s: &str) -> Option<(u32, u8)> {
    let (addr, prefix) = s.split_once('/')?;
    let prefix: u8 = prefix.parse().ok()?;
    if !(8..=30).contains(&prefix) {
        return None;
    }
    let a = parse_ipv4(addr)?;
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    Some((a & mask, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_hand_out_addresses_and_reuse_them() {
        let (base, prefix) = parse_cidr("10.0.0.0/29").unwrap();
        let mut s = Subnet {
            id: "s".into(),
            name: "s".into(),
            network: 0,
            project_id: "p".into(),
            cidr: "10.0.0.0/29".into(),
            base,
            prefix,
            next: 2,
            freed: Vec::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        let got: Vec<_> = std::iter::from_fn(|| s.allocate()).collect();
        assert_eq!(
            got,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
        s.release("10.0.0.4");
        assert_eq!(s.allocate().as_deref(), Some("10.0.0.4"));
        assert_eq!(s.gateway(), "10.0.0.1");
    }

    #[test]
    fn hostnames_are_sanitised() {
        assert_eq!(hostname_of("admin_vm01"), "admin-vm01");
        assert_eq!(hostname_of("Web Server!"), "web-server");
        assert_eq!(hostname_of("___"), "server");
    }

    #[test]
    fn cidrs_must_be_ipv4() {
        assert_eq!(parse_cidr("10.1.2.3/16"), Some((0x0a01_0000, 16)));
        assert!(parse_cidr("fd00::/64").is_none());
        assert!(parse_cidr("10.0.0.0").is_none());
    }
}
