//! The resources a scenario starts with: AZs and hosts, flavors, images,
//! networks, projects and users, volumes, servers, floating IPs.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

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
