//! The simulated cloud's state: every resource of every service, held in
//! memory behind one mutex, built from a [`Scenario`](crate::sim::Scenario).
//! Behaviour over time (boots, snapshots, …) lives in `lifecycle/`; the
//! HTTP views in `api/`.

mod compute;
mod identity;
mod images;
mod load;
mod migration;
mod network;
mod server;
mod volumes;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::sim::scenario;

pub use compute::{FlavorRec, Host, Keypair, ServerGroup};
pub use identity::{AppCred, Project, Quota, Token, User};
pub use images::Image;
pub use migration::{Migration, MigrationKind};
pub use network::{FloatingIp, Network, Port, SecurityGroup, Subnet, ipv4};
pub use server::{Fault, NetRequest, Server, ServerVolume, VmState, hostname_of};
pub use volumes::{BootVolume, Volume, VolumeAttachment};

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

/// Nova's message when scheduling fails.
pub const NO_VALID_HOST: &str = "No valid host was found. There are not enough hosts available.";

impl Model {
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
}
