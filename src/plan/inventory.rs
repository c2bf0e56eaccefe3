//! What azmove observed in the cloud: the planner's view of the world.
//!
//! Plain data, filled by the observation edge (`crate::observe`) from list
//! calls and read by the pure planner. It is deliberately not the wire
//! format of any OpenStack API: the client converts into it, so the planner
//! never depends on microversion details.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Metadata / image property keys azmove puts on what it creates.
pub mod tags {
    /// On snapshots and replacement servers: the UUID of the source server.
    pub const SOURCE: &str = "azmove_source";
    /// On snapshots and replacement servers: digest of the plan entry that made it.
    pub const PLAN: &str = "azmove_plan";
    /// On snapshots and replacement servers: the target AZ of the move.
    pub const TARGET: &str = "azmove_target";
    /// On the source server once it has been handled (`source_after` done).
    pub const MOVED_TO: &str = "azmove_moved_to";
    /// On the source when azmove stopped it, so a failed move restarts it.
    pub const STOPPED_BY: &str = "azmove_stopped";
    /// On snapshots and replacement servers: the name of the source server,
    /// so a move by name is recognised as done after the source is deleted.
    pub const SOURCE_NAME: &str = "azmove_source_name";
    /// On a server moved in place (shelve, cold, live): the target AZ, from
    /// the first step until the move is finished.
    pub const MOVING_TO: &str = "azmove_moving_to";
    /// On a server moved in place that was SHUTOFF before: it ends SHUTOFF.
    pub const WAS_SHUTOFF: &str = "azmove_was_shutoff";
    /// On a replacement that passed verification: the run that verified it.
    /// Such a replacement is never deleted by a rollback.
    pub const VERIFIED: &str = "azmove_verified";
    /// On a server moved in place: the strategy in progress (`shelve`,
    /// `cold`, `live`), so a re-run continues it rather than choosing anew.
    pub const STRATEGY: &str = "azmove_strategy";
}

/// A compute API microversion such as 2.104.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct Microversion {
    pub major: u16,
    pub minor: u16,
}

impl Microversion {
    pub const fn new(major: u16, minor: u16) -> Self {
        Microversion { major, minor }
    }

    /// Parse `2.104` (as found in version documents and headers).
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b) = s.trim().split_once('.')?;
        Some(Microversion {
            major: a.parse().ok()?,
            minor: b.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Microversion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What the cloud and the caller can do, as far as azmove needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Capabilities {
    /// The compute microversion negotiated for this session.
    pub compute_microversion: Microversion,
    /// Whether the caller has the admin role (sees hosts, may migrate).
    pub is_admin: bool,
}

/// A server as observed (one entry of `GET /servers/detail`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Server {
    pub id: String,
    pub name: String,
    /// Nova status: ACTIVE, SHUTOFF, BUILD, ERROR, SHELVED_OFFLOADED, …
    pub status: String,
    /// `OS-EXT-STS:task_state`; `None` when no task runs.
    pub task_state: Option<String>,
    /// `OS-EXT-AZ:availability_zone`.
    pub availability_zone: Option<String>,
    /// `OS-EXT-SRV-ATTR:hypervisor_hostname` (or `host`); admin only.
    pub host: Option<String>,
    pub flavor: FlavorRef,
    /// Image id; `None` for a server booted from a volume.
    pub image_id: Option<String>,
    /// Network name → fixed/floating addresses, from `addresses`.
    pub addresses: BTreeMap<String, Vec<Address>>,
    /// Security group names.
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Ids of attached volumes (`os-extended-volumes:volumes_attached`).
    pub volumes_attached: Vec<String>,
    /// `OS-EXT-SRV-ATTR:user_data` (base64), visible to admins from 2.3.
    pub user_data: Option<String>,
    pub tenant_id: Option<String>,
    /// `updated` timestamp as Nova wrote it; part of the staleness fingerprint.
    pub updated: String,
    pub created: String,
    /// The fault message of a server in ERROR.
    pub fault: Option<String>,
    pub locked: bool,
    /// `pinned_availability_zone` (2.96+), when the cloud reports it.
    pub pinned_availability_zone: Option<String>,
    /// Neutron ports of the server; filled only for servers in the plan.
    pub ports: Vec<Port>,
    /// The network names of `addresses` in the order Nova listed them, which
    /// is the order of the server's NICs (`addresses` itself is sorted).
    #[serde(default)]
    pub network_order: Vec<String>,
}

/// User data may hold credentials (cloud-init often carries them), so it is
/// never printed by `{:?}`: only its presence and size are shown.
impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user_data = self
            .user_data
            .as_ref()
            .map(|u| format!("<redacted, {} bytes>", u.len()));
        f.debug_struct("Server")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("status", &self.status)
            .field("task_state", &self.task_state)
            .field("availability_zone", &self.availability_zone)
            .field("host", &self.host)
            .field("flavor", &self.flavor)
            .field("image_id", &self.image_id)
            .field("addresses", &self.addresses)
            .field("security_groups", &self.security_groups)
            .field("key_name", &self.key_name)
            .field("metadata", &self.metadata)
            .field("volumes_attached", &self.volumes_attached)
            .field("user_data", &user_data)
            .field("tenant_id", &self.tenant_id)
            .field("updated", &self.updated)
            .field("created", &self.created)
            .field("fault", &self.fault)
            .field("locked", &self.locked)
            .field("pinned_availability_zone", &self.pinned_availability_zone)
            .field("ports", &self.ports)
            .field("network_order", &self.network_order)
            .finish()
    }
}

#[cfg(test)]
mod debug_tests {
    use super::Server;

    #[test]
    fn debug_never_prints_user_data() {
        let s = Server {
            id: "x".into(),
            user_data: Some("cGFzc3dvcmQ9aHVudGVyMg==".into()),
            ..Server::default()
        };
        let text = format!("{s:?}");
        assert!(!text.contains("cGFzc3dvcmQ9aHVudGVyMg=="), "{text}");
        assert!(text.contains("redacted, 24 bytes"), "{text}");
    }
}

/// The flavor of a server. Before 2.47 only `id` is known; from 2.47 the
/// flavor is embedded without id but with `original_name` and sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FlavorRef {
    pub id: Option<String>,
    pub original_name: Option<String>,
    pub vcpus: Option<u32>,
    pub ram_mb: Option<u64>,
    pub disk_gb: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub addr: String,
    /// `fixed` or `floating`.
    pub kind: Option<String>,
    pub mac: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub id: String,
    pub network_id: String,
    pub mac_address: Option<String>,
    pub fixed_ips: Vec<String>,
    pub security_group_ids: Vec<String>,
}

/// A Neutron network visible to the project: maps the network names found in
/// a server's `addresses` to the ids a boot request needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
    pub is_public: bool,
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailabilityZone {
    pub name: String,
    pub available: bool,
    /// Compute hosts and whether their nova-compute is enabled and up.
    /// `None` when the caller cannot see hosts (non-admin).
    pub hosts: Option<Vec<Host>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub name: String,
    pub enabled: bool,
    pub up: bool,
}

/// A Glance image (azmove's snapshots are the ones that matter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    pub name: String,
    /// queued, saving, active, killed, deleted, …
    pub status: String,
    /// Custom properties, including azmove's tags.
    pub properties: BTreeMap<String, String>,
    pub size: Option<u64>,
    pub created_at: String,
    pub updated_at: String,
}

/// Compute quota of the project: limit and what is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUse {
    /// `None` means unlimited (-1 in Nova).
    pub limit: Option<u64>,
    pub used: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub instances: QuotaUse,
    pub cores: QuotaUse,
    pub ram_mb: QuotaUse,
}

/// Everything observed, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub servers: Vec<Server>,
    pub availability_zones: Vec<AvailabilityZone>,
    pub flavors: Vec<Flavor>,
    /// Images tagged by azmove (snapshots it made).
    pub images: Vec<Image>,
    pub quota: Option<Quota>,
    pub capabilities: Capabilities,
    /// Networks visible to the project (`GET /v2.0/networks`).
    #[serde(default)]
    pub networks: Vec<Network>,
}
