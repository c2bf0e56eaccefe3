//! Nova: servers, their actions, availability zones, flavors, limits.
//!
//! Wire types mirror Nova's JSON and stay private; the calls return the
//! planner's model (`crate::plan::inventory`) or the small types below.
//! Where a body depends on the microversion the function says which.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use reqwest::Method;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::client::Client;
use super::error::Error;
use super::microversion::features;
use super::paging::{Link, Page, marker_from_links};
use crate::plan::inventory::{
    Address, AvailabilityZone, Flavor, FlavorRef, Host, Microversion, Quota, QuotaUse, Server,
};

// ---------------------------------------------------------------- wire types

#[derive(Deserialize)]
struct ServerListWire {
    servers: Vec<ServerWire>,
    #[serde(default)]
    servers_links: Vec<Link>,
}

#[derive(Deserialize)]
struct ServerOneWire {
    server: ServerWire,
}

#[derive(Deserialize)]
struct ServerWire {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: String,
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    task_state: Option<String>,
    #[serde(rename = "OS-EXT-AZ:availability_zone", default)]
    availability_zone: Option<String>,
    #[serde(rename = "OS-EXT-SRV-ATTR:hypervisor_hostname", default)]
    hypervisor_hostname: Option<String>,
    #[serde(rename = "OS-EXT-SRV-ATTR:host", default)]
    host: Option<String>,
    #[serde(default)]
    flavor: Option<FlavorWire>,
    #[serde(default)]
    image: ImageField,
    #[serde(default)]
    addresses: AddressesWire,
    #[serde(default)]
    security_groups: Option<Vec<NameWire>>,
    #[serde(default)]
    key_name: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(rename = "os-extended-volumes:volumes_attached", default)]
    volumes_attached: Vec<IdWire>,
    #[serde(rename = "OS-EXT-SRV-ATTR:user_data", default)]
    user_data: Option<String>,
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    updated: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    fault: Option<FaultWire>,
    #[serde(default)]
    locked: Option<bool>,
    #[serde(default)]
    pinned_availability_zone: Option<String>,
}

/// Before 2.47 `{"id": "1", "links": […]}`; from 2.47 the flavor itself
/// (`original_name`, `vcpus`, `ram`, `disk`, …) without the id.
#[derive(Deserialize)]
struct FlavorWire {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    original_name: Option<String>,
    #[serde(default)]
    vcpus: Option<u32>,
    #[serde(default)]
    ram: Option<u64>,
    #[serde(default)]
    disk: Option<u64>,
}

/// `addresses` in the order Nova sends it: Nova builds it from the
/// instance's network info, so the networks come in the order of the
/// server's NICs, which a map keyed by name would lose.
#[derive(Default)]
struct AddressesWire(Vec<(String, Vec<AddressWire>)>);

impl<'de> Deserialize<'de> for AddressesWire {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AddressesWire;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of network names to address lists")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AddressesWire, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Vec<AddressWire>>()? {
                    out.push(entry);
                }
                Ok(AddressesWire(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// `"image": ""` for a server booted from a volume, else `{"id": …}`.
#[derive(Default)]
struct ImageField(Option<String>);

impl<'de> Deserialize<'de> for ImageField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ImageField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an image reference object or an empty string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<ImageField, E> {
                Ok(ImageField(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ImageField, E> {
                Ok(ImageField(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<ImageField, E> {
                Ok(ImageField(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ImageField, A::Error> {
                let mut id = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "id" {
                        id = map.next_value::<Option<String>>()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(ImageField(id.filter(|s| !s.is_empty())))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct AddressWire {
    addr: String,
    #[serde(rename = "OS-EXT-IPS:type", default)]
    kind: Option<String>,
    #[serde(rename = "OS-EXT-IPS-MAC:mac_addr", default)]
    mac: Option<String>,
}

#[derive(Deserialize)]
struct NameWire {
    name: String,
}

#[derive(Deserialize)]
struct IdWire {
    id: String,
}

#[derive(Deserialize)]
struct FaultWire {
    #[serde(default)]
    message: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.is_empty())
}

impl From<ServerWire> for Server {
    fn from(w: ServerWire) -> Server {
        let mut security_groups: Vec<String> = Vec::new();
        // Nova lists a group once per port; keep each name once.
        for sg in w.security_groups.unwrap_or_default() {
            if !security_groups.contains(&sg.name) {
                security_groups.push(sg.name);
            }
        }
        let flavor = w
            .flavor
            .map(|f| FlavorRef {
                id: f.id,
                original_name: f.original_name,
                vcpus: f.vcpus,
                ram_mb: f.ram,
                disk_gb: f.disk,
            })
            .unwrap_or_default();
        Server {
            id: w.id,
            name: w.name,
            status: w.status,
            task_state: non_empty(w.task_state),
            availability_zone: non_empty(w.availability_zone),
            host: non_empty(w.hypervisor_hostname).or(non_empty(w.host)),
            flavor,
            image_id: w.image.0,
            network_order: w.addresses.0.iter().map(|(net, _)| net.clone()).collect(),
            addresses: w
                .addresses
                .0
                .into_iter()
                .map(|(net, addrs)| {
                    let addrs = addrs
                        .into_iter()
                        .map(|a| Address {
                            addr: a.addr,
                            kind: a.kind,
                            mac: a.mac,
                        })
                        .collect();
                    (net, addrs)
                })
                .collect(),
            security_groups,
            key_name: non_empty(w.key_name),
            metadata: w.metadata,
            volumes_attached: w.volumes_attached.into_iter().map(|v| v.id).collect(),
            user_data: non_empty(w.user_data),
            tenant_id: w.tenant_id,
            updated: w.updated.unwrap_or_default(),
            created: w.created.unwrap_or_default(),
            fault: w.fault.and_then(|f| non_empty(f.message)),
            locked: w.locked.unwrap_or(false),
            pinned_availability_zone: non_empty(w.pinned_availability_zone),
            ports: Vec::new(),
        }
    }
}

/// Parses `GET /servers/detail`. The shape tells the microversion's
/// variations apart (embedded flavor from 2.47, `pinned_availability_zone`
/// from 2.96), so no version is needed to read it.
pub fn parse_server_list(body: &[u8]) -> Result<Page<Server>, serde_json::Error> {
    let wire: ServerListWire = serde_json::from_slice(body)?;
    let last = wire.servers.last().map(|s| s.id.clone());
    let next_marker = marker_from_links(&wire.servers_links, last.as_deref());
    Ok(Page {
        items: wire.servers.into_iter().map(Server::from).collect(),
        next_marker,
    })
}

/// Parses `GET /servers/{id}` (and the `PUT` answer).
pub fn parse_server(body: &[u8]) -> Result<Server, serde_json::Error> {
    let wire: ServerOneWire = serde_json::from_slice(body)?;
    Ok(wire.server.into())
}

// ------------------------------------------------------------------ queries

/// Filters of `GET /servers/detail`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerQuery {
    /// Regular expression on the name (Nova matches it as a regex).
    pub name: Option<String>,
    /// Admin only by default policy.
    pub availability_zone: Option<String>,
    /// Compute host; admin only.
    pub host: Option<String>,
    /// Servers of every project; admin only.
    pub all_tenants: bool,
    /// ISO 8601 time: only servers changed since (deleted ones included).
    pub changes_since: Option<String>,
    /// ISO 8601 time: only servers changed before (compute 2.66).
    pub changes_before: Option<String>,
    pub status: Option<String>,
    /// Deleted servers too; admin only.
    pub deleted: bool,
}

impl ServerQuery {
    fn apply(&self, url: &mut Url, limit: u32) {
        let mut q = url.query_pairs_mut();
        q.append_pair("limit", &limit.to_string());
        if let Some(v) = &self.name {
            q.append_pair("name", v);
        }
        if let Some(v) = &self.availability_zone {
            q.append_pair("availability_zone", v);
        }
        if let Some(v) = &self.host {
            q.append_pair("host", v);
        }
        if self.all_tenants {
            q.append_pair("all_tenants", "True");
        }
        if let Some(v) = &self.changes_since {
            q.append_pair("changes-since", v);
        }
        if let Some(v) = &self.changes_before {
            q.append_pair("changes-before", v);
        }
        if let Some(v) = &self.status {
            q.append_pair("status", v);
        }
        if self.deleted {
            q.append_pair("deleted", "True");
        }
    }
}

// ------------------------------------------------------------- create server

/// How a new server is connected (`networks` of the create request).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Networks {
    /// Let Nova pick or auto-allocate a network (`"auto"`, 2.37).
    #[default]
    Auto,
    /// No network at all (`"none"`, 2.37).
    None,
    List(Vec<NetworkAttachment>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkAttachment {
    /// A new port on a network, optionally with a given fixed IP.
    Network {
        uuid: String,
        fixed_ip: Option<String>,
    },
    /// An existing port (keeps its MAC and IPs).
    Port(String),
}

/// `POST /servers`: what azmove sets when it recreates a server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateServer {
    pub name: String,
    /// Image to boot from (azmove's snapshot).
    pub image_ref: Option<String>,
    pub flavor_ref: String,
    pub availability_zone: Option<String>,
    pub networks: Networks,
    /// Security group names.
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Base64, as Nova stores it.
    pub user_data: Option<String>,
    pub config_drive: Option<bool>,
    /// Server group to join (the `group` scheduler hint).
    pub server_group: Option<String>,
    /// Other scheduler hints, sent as given.
    pub scheduler_hints: BTreeMap<String, Value>,
}

/// The body of `POST /servers`.
///
/// `networks` is sent from 2.37, where it is required; before that only an
/// explicit list can be sent and `auto` is Nova's behaviour anyway.
pub fn create_server_body(req: &CreateServer, mv: Microversion) -> Result<Value, Error> {
    let mut server = json!({"name": req.name, "flavorRef": req.flavor_ref});
    if let Some(image) = &req.image_ref {
        server["imageRef"] = json!(image);
    }
    if let Some(az) = &req.availability_zone {
        server["availability_zone"] = json!(az);
    }
    match &req.networks {
        Networks::Auto if mv >= features::NETWORKS_AUTO_NONE => server["networks"] = json!("auto"),
        Networks::Auto => {}
        Networks::None if mv >= features::NETWORKS_AUTO_NONE => server["networks"] = json!("none"),
        Networks::None => {
            return Err(Error::MicroversionTooOld {
                feature: "creating a server without network",
                needed: features::NETWORKS_AUTO_NONE,
                have: mv,
            });
        }
        Networks::List(list) => {
            let list: Vec<Value> = list
                .iter()
                .map(|n| match n {
                    NetworkAttachment::Port(port) => json!({"port": port}),
                    NetworkAttachment::Network {
                        uuid,
                        fixed_ip: Some(ip),
                    } => json!({"uuid": uuid, "fixed_ip": ip}),
                    NetworkAttachment::Network {
                        uuid,
                        fixed_ip: None,
                    } => json!({"uuid": uuid}),
                })
                .collect();
            server["networks"] = Value::Array(list);
        }
    }
    if !req.security_groups.is_empty() {
        server["security_groups"] = Value::Array(
            req.security_groups
                .iter()
                .map(|n| json!({"name": n}))
                .collect(),
        );
    }
    if let Some(key) = &req.key_name {
        server["key_name"] = json!(key);
    }
    if !req.metadata.is_empty() {
        server["metadata"] = json!(req.metadata);
    }
    if let Some(data) = &req.user_data {
        server["user_data"] = json!(data);
    }
    if let Some(cd) = req.config_drive {
        server["config_drive"] = json!(cd);
    }
    let mut body = json!({"server": server});
    let mut hints = req.scheduler_hints.clone();
    if let Some(group) = &req.server_group {
        hints.insert("group".into(), json!(group));
    }
    if !hints.is_empty() {
        body["OS-SCH-HNT:scheduler_hints"] = json!(hints);
    }
    Ok(body)
}

#[derive(Deserialize)]
struct CreatedServerWire {
    server: CreatedWire,
}

/// Only the id is read: the answer also carries `adminPass`, which azmove
/// has no use for and does not keep.
#[derive(Deserialize)]
struct CreatedWire {
    id: String,
}

/// The id of the server a `POST /servers` answer describes.
pub fn parse_created_server(body: &[u8]) -> Result<String, serde_json::Error> {
    Ok(serde_json::from_slice::<CreatedServerWire>(body)?.server.id)
}

// ------------------------------------------------------------- action bodies

/// `{"createImage": {"name", "metadata"}}`.
pub fn create_image_body(name: &str, metadata: &BTreeMap<String, String>) -> Value {
    json!({"createImage": {"name": name, "metadata": metadata}})
}

#[derive(Deserialize)]
struct CreateImageWire {
    image_id: String,
}

/// The snapshot's image id: from 2.45 the body `{"image_id"}`, before that
/// the last segment of the `Location` header.
pub fn created_image_id(mv: Microversion, location: Option<&str>, body: &[u8]) -> Option<String> {
    if mv >= features::CREATE_IMAGE_BODY
        && let Ok(w) = serde_json::from_slice::<CreateImageWire>(body)
    {
        return Some(w.image_id);
    }
    let location = location?;
    let path = Url::parse(location)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| location.to_owned());
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `{"unshelve": {"availability_zone": …}}` from 2.77, `{"unshelve": null}`
/// without a zone. Before 2.77 no zone can be asked for.
pub fn unshelve_body(availability_zone: Option<&str>, mv: Microversion) -> Result<Value, Error> {
    match availability_zone {
        None => Ok(json!({"unshelve": null})),
        Some(_) if mv < features::UNSHELVE_AZ => Err(Error::MicroversionTooOld {
            feature: "unshelving into an availability zone",
            needed: features::UNSHELVE_AZ,
            have: mv,
        }),
        Some(az) => Ok(json!({"unshelve": {"availability_zone": az}})),
    }
}

/// `{"migrate": {"host": …}}` from 2.56, `{"migrate": null}` without a host.
pub fn migrate_body(host: Option<&str>, mv: Microversion) -> Result<Value, Error> {
    match host {
        None => Ok(json!({"migrate": null})),
        Some(_) if mv < features::MIGRATE_HOST => Err(Error::MicroversionTooOld {
            feature: "cold migration to a chosen host",
            needed: features::MIGRATE_HOST,
            have: mv,
        }),
        Some(h) => Ok(json!({"migrate": {"host": h}})),
    }
}

/// `os-migrateLive`: from 2.25 `block_migration: "auto"` (Nova decides
/// between shared and block storage); before, explicit `false` and the
/// `disk_over_commit` flag that 2.25 removed.
pub fn live_migrate_body(host: Option<&str>, mv: Microversion) -> Value {
    if mv >= features::LIVE_MIGRATE_AUTO {
        json!({"os-migrateLive": {"host": host, "block_migration": "auto"}})
    } else {
        json!({"os-migrateLive": {"host": host, "block_migration": false, "disk_over_commit": false}})
    }
}

/// `PUT /servers/{id}` changing only the pinned AZ (2.104); `None` unpins.
pub fn update_pinned_az_body(availability_zone: Option<&str>) -> Value {
    json!({"server": {"pinned_availability_zone": availability_zone}})
}

// ----------------------------------------------------- AZs, flavors, limits

#[derive(Deserialize)]
struct AzListWire {
    #[serde(rename = "availabilityZoneInfo")]
    zones: Vec<AzWire>,
}

#[derive(Deserialize)]
struct AzWire {
    #[serde(rename = "zoneName")]
    name: String,
    #[serde(rename = "zoneState", default)]
    state: Option<AzStateWire>,
    #[serde(default)]
    hosts: Option<BTreeMap<String, BTreeMap<String, ServiceStateWire>>>,
}

#[derive(Deserialize)]
struct AzStateWire {
    #[serde(default)]
    available: bool,
}

/// In `os-availability-zone/detail`, per host and service binary:
/// `available` is "the service is up", `active` is "not disabled".
#[derive(Deserialize)]
struct ServiceStateWire {
    #[serde(default)]
    available: bool,
    #[serde(default)]
    active: bool,
}

/// Parses `GET /os-availability-zone[/detail]` (Nova; Cinder uses the same
/// shape without hosts). With details, hosts are the ones running
/// `nova-compute`, and zones without any (Nova's `internal` zone, which
/// holds the control services) are left out.
pub fn parse_availability_zones(body: &[u8]) -> Result<Vec<AvailabilityZone>, serde_json::Error> {
    let wire: AzListWire = serde_json::from_slice(body)?;
    let mut out = Vec::with_capacity(wire.zones.len());
    for z in wire.zones {
        let hosts = match z.hosts {
            None => None,
            Some(hosts) => {
                let compute: Vec<Host> = hosts
                    .into_iter()
                    .filter_map(|(name, services)| {
                        services.get("nova-compute").map(|s| Host {
                            name,
                            enabled: s.active,
                            up: s.available,
                        })
                    })
                    .collect();
                if compute.is_empty() {
                    continue;
                }
                Some(compute)
            }
        };
        out.push(AvailabilityZone {
            name: z.name,
            available: z.state.is_some_and(|s| s.available),
            hosts,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct FlavorListWire {
    flavors: Vec<FlavorDetailWire>,
    #[serde(default)]
    flavors_links: Vec<Link>,
}

#[derive(Deserialize)]
struct FlavorDetailWire {
    id: String,
    name: String,
    vcpus: u32,
    ram: u64,
    disk: u64,
    #[serde(rename = "os-flavor-access:is_public", default = "yes")]
    is_public: bool,
    #[serde(default)]
    extra_specs: Option<BTreeMap<String, Value>>,
}

fn yes() -> bool {
    true
}

/// Parses `GET /flavors/detail`; `extra_specs` are there from 2.61 and
/// empty before.
pub fn parse_flavor_list(body: &[u8]) -> Result<Page<Flavor>, serde_json::Error> {
    let wire: FlavorListWire = serde_json::from_slice(body)?;
    let last = wire.flavors.last().map(|f| f.id.clone());
    let next_marker = marker_from_links(&wire.flavors_links, last.as_deref());
    let items = wire
        .flavors
        .into_iter()
        .map(|f| Flavor {
            id: f.id,
            name: f.name,
            vcpus: f.vcpus,
            ram_mb: f.ram,
            disk_gb: f.disk,
            is_public: f.is_public,
            extra_specs: f
                .extra_specs
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
        })
        .collect();
    Ok(Page { items, next_marker })
}

#[derive(Deserialize)]
struct LimitsWire {
    limits: LimitsInner,
}

#[derive(Deserialize)]
struct LimitsInner {
    absolute: AbsoluteWire,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AbsoluteWire {
    max_total_instances: i64,
    #[serde(default)]
    total_instances_used: i64,
    max_total_cores: i64,
    #[serde(default)]
    total_cores_used: i64,
    #[serde(rename = "maxTotalRAMSize")]
    max_total_ram_size: i64,
    #[serde(rename = "totalRAMUsed", default)]
    total_ram_used: i64,
}

fn quota_use(limit: i64, used: i64) -> QuotaUse {
    QuotaUse {
        limit: u64::try_from(limit).ok(),
        used: u64::try_from(used).unwrap_or(0),
    }
}

/// Parses `GET /limits` (absolute limits; -1 means unlimited).
pub fn parse_limits(body: &[u8]) -> Result<Quota, serde_json::Error> {
    let a = serde_json::from_slice::<LimitsWire>(body)?.limits.absolute;
    Ok(Quota {
        instances: quota_use(a.max_total_instances, a.total_instances_used),
        cores: quota_use(a.max_total_cores, a.total_cores_used),
        ram_mb: quota_use(a.max_total_ram_size, a.total_ram_used),
    })
}

// ------------------------------------- interfaces, volumes, groups, migrations

/// A port attached to a server, as Nova reports it (`os-interface`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInterface {
    pub port_id: String,
    pub net_id: String,
    pub mac_addr: Option<String>,
    pub fixed_ips: Vec<String>,
    pub port_state: Option<String>,
}

#[derive(Deserialize)]
struct InterfacesWire {
    #[serde(rename = "interfaceAttachments")]
    attachments: Vec<InterfaceWire>,
}

#[derive(Deserialize)]
struct InterfaceWire {
    port_id: String,
    net_id: String,
    #[serde(default)]
    mac_addr: Option<String>,
    #[serde(default)]
    fixed_ips: Vec<FixedIpWire>,
    #[serde(default)]
    port_state: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct FixedIpWire {
    pub ip_address: String,
}

/// Parses `GET /servers/{id}/os-interface`.
pub fn parse_interfaces(body: &[u8]) -> Result<Vec<ServerInterface>, serde_json::Error> {
    let wire: InterfacesWire = serde_json::from_slice(body)?;
    Ok(wire
        .attachments
        .into_iter()
        .map(|i| ServerInterface {
            port_id: i.port_id,
            net_id: i.net_id,
            mac_addr: i.mac_addr,
            fixed_ips: i.fixed_ips.into_iter().map(|f| f.ip_address).collect(),
            port_state: i.port_state,
        })
        .collect())
}

/// A volume attached to a server, as Nova reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerVolume {
    pub volume_id: String,
    pub device: Option<String>,
    /// Cinder attachment id (2.89).
    pub attachment_id: Option<String>,
    /// Whether deleting the server deletes the volume (2.79).
    pub delete_on_termination: Option<bool>,
}

#[derive(Deserialize)]
struct VolumeAttachmentsWire {
    #[serde(rename = "volumeAttachments")]
    attachments: Vec<VolumeAttachmentWire>,
}

#[derive(Deserialize)]
struct VolumeAttachmentWire {
    #[serde(rename = "volumeId")]
    volume_id: String,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    attachment_id: Option<String>,
    #[serde(default)]
    delete_on_termination: Option<bool>,
}

/// Parses `GET /servers/{id}/os-volume_attachments`.
pub fn parse_volume_attachments(body: &[u8]) -> Result<Vec<ServerVolume>, serde_json::Error> {
    let wire: VolumeAttachmentsWire = serde_json::from_slice(body)?;
    Ok(wire
        .attachments
        .into_iter()
        .map(|a| ServerVolume {
            volume_id: a.volume_id,
            device: a.device,
            attachment_id: a.attachment_id,
            delete_on_termination: a.delete_on_termination,
        })
        .collect())
}

/// A server group (affinity rules the replacement must join).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerGroup {
    pub id: String,
    pub name: String,
    /// `affinity`, `anti-affinity`, `soft-…` (from `policy`, 2.64, or the
    /// first of `policies` before).
    pub policy: Option<String>,
    /// Server ids.
    pub members: Vec<String>,
}

#[derive(Deserialize)]
struct ServerGroupsWire {
    server_groups: Vec<ServerGroupWire>,
}

#[derive(Deserialize)]
struct ServerGroupWire {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    members: Vec<String>,
}

/// Parses `GET /os-server-groups`.
pub fn parse_server_groups(body: &[u8]) -> Result<Vec<ServerGroup>, serde_json::Error> {
    let wire: ServerGroupsWire = serde_json::from_slice(body)?;
    Ok(wire
        .server_groups
        .into_iter()
        .map(|g| ServerGroup {
            id: g.id,
            name: g.name,
            policy: g.policy.or_else(|| g.policies.into_iter().next()),
            members: g.members,
        })
        .collect())
}

/// An in-progress migration of a server (`/servers/{id}/migrations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMigration {
    pub id: u64,
    pub uuid: Option<String>,
    pub status: String,
    pub source_compute: Option<String>,
    pub dest_compute: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Deserialize)]
struct MigrationsWire {
    migrations: Vec<MigrationWire>,
}

#[derive(Deserialize)]
struct MigrationWire {
    id: u64,
    #[serde(default)]
    uuid: Option<String>,
    status: String,
    #[serde(default)]
    source_compute: Option<String>,
    #[serde(default)]
    dest_compute: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

/// Parses `GET /servers/{id}/migrations`.
pub fn parse_server_migrations(body: &[u8]) -> Result<Vec<ServerMigration>, serde_json::Error> {
    let wire: MigrationsWire = serde_json::from_slice(body)?;
    Ok(wire
        .migrations
        .into_iter()
        .map(|m| ServerMigration {
            id: m.id,
            uuid: m.uuid,
            status: m.status,
            source_compute: m.source_compute,
            dest_compute: m.dest_compute,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
        .collect())
}

// -------------------------------------------------------------- hypervisors

/// A compute node as `os-hypervisors/detail` shows it (admin). The usage
/// figures are there up to 2.87 only; later answers leave them `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hypervisor {
    /// `hypervisor_hostname` (often the FQDN).
    pub hostname: String,
    /// `service.host`: the name `migrate`/`os-migrateLive` take as `host`
    /// and `os-availability-zone/detail` lists.
    pub service_host: Option<String>,
    /// `up` or `down`.
    pub state: Option<String>,
    /// `enabled` or `disabled`.
    pub status: Option<String>,
    pub memory_mb: Option<i64>,
    pub memory_mb_used: Option<i64>,
    pub free_ram_mb: Option<i64>,
    pub vcpus: Option<i64>,
    pub vcpus_used: Option<i64>,
    pub free_disk_gb: Option<i64>,
}

impl Hypervisor {
    /// RAM not yet handed out, when the answer says (up to 2.87).
    pub fn free_ram(&self) -> Option<i64> {
        self.free_ram_mb
            .or_else(|| match (self.memory_mb, self.memory_mb_used) {
                (Some(total), Some(used)) => Some(total - used),
                _ => None,
            })
    }

    /// Whether Nova may place servers on it: enabled and up (an absent
    /// field is not held against it).
    pub fn usable(&self) -> bool {
        self.state.as_deref().is_none_or(|s| s == "up")
            && self.status.as_deref().is_none_or(|s| s == "enabled")
    }
}

#[derive(Deserialize)]
struct HypervisorsWire {
    hypervisors: Vec<HypervisorWire>,
    #[serde(default)]
    hypervisors_links: Vec<Link>,
}

#[derive(Deserialize)]
struct HypervisorWire {
    /// An integer before 2.53, a uuid after.
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    hypervisor_hostname: Option<String>,
    #[serde(default)]
    service: Option<HypervisorServiceWire>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    memory_mb: Option<i64>,
    #[serde(default)]
    memory_mb_used: Option<i64>,
    #[serde(default)]
    free_ram_mb: Option<i64>,
    #[serde(default)]
    vcpus: Option<i64>,
    #[serde(default)]
    vcpus_used: Option<i64>,
    #[serde(default)]
    free_disk_gb: Option<i64>,
}

#[derive(Deserialize)]
struct HypervisorServiceWire {
    #[serde(default)]
    host: Option<String>,
}

/// Parses `GET /os-hypervisors/detail` (any microversion).
pub fn parse_hypervisors(body: &[u8]) -> Result<Page<Hypervisor>, serde_json::Error> {
    let wire: HypervisorsWire = serde_json::from_slice(body)?;
    let last_id = wire.hypervisors.last().and_then(|h| match &h.id {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    });
    let next_marker = marker_from_links(&wire.hypervisors_links, last_id.as_deref());
    let items = wire
        .hypervisors
        .into_iter()
        .map(|h| Hypervisor {
            hostname: h.hypervisor_hostname.unwrap_or_default(),
            service_host: h.service.and_then(|s| non_empty(s.host)),
            state: h.state,
            status: h.status,
            memory_mb: h.memory_mb,
            memory_mb_used: h.memory_mb_used,
            free_ram_mb: h.free_ram_mb,
            vcpus: h.vcpus,
            vcpus_used: h.vcpus_used,
            free_disk_gb: h.free_disk_gb,
        })
        .collect();
    Ok(Page { items, next_marker })
}

// -------------------------------------------------------------------- calls

impl Client {
    /// One page of `GET /servers/detail`, from `marker` on.
    pub async fn list_servers_page(
        &self,
        query: &ServerQuery,
        marker: Option<&str>,
    ) -> Result<Page<Server>, Error> {
        self.fetch_servers_page(query, marker)
            .await
            .map(|(page, _)| page)
    }

    async fn fetch_servers_page(
        &self,
        query: &ServerQuery,
        marker: Option<&str>,
    ) -> Result<(Page<Server>, Option<SystemTime>), Error> {
        if query.changes_before.is_some() {
            self.require("the changes-before filter", features::CHANGES_BEFORE)?;
        }
        let mut url = super::client::join(&self.endpoints().compute, &["servers", "detail"]);
        query.apply(&mut url, self.page_size());
        if let Some(m) = marker {
            url.query_pairs_mut().append_pair("marker", m);
        }
        let req = self.compute_request_url(Method::GET, url);
        let resp = self.send(&req).await?;
        let date = resp
            .header("date")
            .and_then(|d| httpdate::parse_http_date(d).ok());
        let page =
            parse_server_list(&resp.body).map_err(|e| super::transport::decode_error(&req, &e))?;
        Ok((page, date))
    }

    /// Every server matching `query`, following pages (`limit`/`marker`).
    pub async fn list_servers(&self, query: &ServerQuery) -> Result<Vec<Server>, Error> {
        self.list_servers_dated(query)
            .await
            .map(|(servers, _)| servers)
    }

    /// Like [`Client::list_servers`], with the `Date` of the first answer:
    /// the cloud's own "now", a safe `changes-since` for the next poll
    /// whatever the local clock says.
    pub async fn list_servers_dated(
        &self,
        query: &ServerQuery,
    ) -> Result<(Vec<Server>, Option<SystemTime>), Error> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut first_date: Option<Option<SystemTime>> = None;
        loop {
            let (page, date) = self.fetch_servers_page(query, marker.as_deref()).await?;
            let date = *first_date.get_or_insert(date);
            let empty = page.items.is_empty();
            out.extend(page.items);
            match page.next_marker {
                Some(next) if !empty && marker.as_deref() != Some(next.as_str()) => {
                    marker = Some(next)
                }
                _ => return Ok((out, date)),
            }
        }
    }

    /// `GET /servers/{id}`; `None` when there is no such server.
    pub async fn get_server(&self, id: &str) -> Result<Option<Server>, Error> {
        let req = self.compute_request(Method::GET, &["servers", id]);
        match self.send(&req).await {
            Ok(resp) => parse_server(&resp.body)
                .map(Some)
                .map_err(|e| super::transport::decode_error(&req, &e)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /servers`; returns the new server's id.
    pub async fn create_server(&self, server: &CreateServer) -> Result<String, Error> {
        let body = create_server_body(server, self.microversion())?;
        let req = self
            .compute_request(Method::POST, &["servers"])
            .json(&body)?;
        let resp = self.send(&req).await?;
        parse_created_server(&resp.body).map_err(|e| super::transport::decode_error(&req, &e))
    }

    /// `DELETE /servers/{id}`; a server that is already gone is fine.
    pub async fn delete_server(&self, id: &str) -> Result<(), Error> {
        let req = self.compute_request(Method::DELETE, &["servers", id]);
        self.send_allow_missing(&req).await
    }

    async fn action(&self, id: &str, body: &Value) -> Result<super::transport::Response, Error> {
        let req = self
            .compute_request(Method::POST, &["servers", id, "action"])
            .json(body)?;
        self.send(&req).await
    }

    /// `os-stop`: power the server off.
    pub async fn stop_server(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"os-stop": null})).await.map(drop)
    }

    /// `os-start`: power the server on.
    pub async fn start_server(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"os-start": null})).await.map(drop)
    }

    /// `createImage`: snapshot the server; returns the new image's id
    /// (from the body from 2.45, from the `Location` header before).
    pub async fn create_image(
        &self,
        id: &str,
        name: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, Error> {
        let req = self
            .compute_request(Method::POST, &["servers", id, "action"])
            .json(&create_image_body(name, metadata))?;
        let resp = self.send(&req).await?;
        created_image_id(self.microversion(), resp.header("location"), &resp.body).ok_or_else(
            || Error::Decode {
                service: req.service,
                method: "POST".into(),
                path: req.path().to_owned(),
                detail: "createImage answered without an image id".into(),
            },
        )
    }

    /// `shelve`: snapshot and stop (Nova may offload it right away).
    pub async fn shelve(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"shelve": null})).await.map(drop)
    }

    /// `shelveOffload`: free the host of a shelved server.
    pub async fn shelve_offload(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"shelveOffload": null}))
            .await
            .map(drop)
    }

    /// `unshelve`, into `availability_zone` when given (2.77).
    pub async fn unshelve(&self, id: &str, availability_zone: Option<&str>) -> Result<(), Error> {
        let body = unshelve_body(availability_zone, self.microversion())?;
        self.action(id, &body).await.map(drop)
    }

    /// `migrate` (cold), to `host` when given (2.56). Ends in VERIFY_RESIZE.
    pub async fn migrate(&self, id: &str, host: Option<&str>) -> Result<(), Error> {
        let body = migrate_body(host, self.microversion())?;
        self.action(id, &body).await.map(drop)
    }

    /// `os-migrateLive`, to `host` when given, block migration decided by Nova.
    pub async fn live_migrate(&self, id: &str, host: Option<&str>) -> Result<(), Error> {
        let body = live_migrate_body(host, self.microversion());
        self.action(id, &body).await.map(drop)
    }

    /// `confirmResize`: accept a finished cold migration.
    pub async fn confirm_resize(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"confirmResize": null}))
            .await
            .map(drop)
    }

    /// `revertResize`: undo a cold migration waiting in VERIFY_RESIZE; the
    /// server goes back to its source host.
    pub async fn revert_resize(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"revertResize": null}))
            .await
            .map(drop)
    }

    /// Pins the server to `availability_zone`, or unpins it with `None` (2.104).
    pub async fn update_pinned_az(
        &self,
        id: &str,
        availability_zone: Option<&str>,
    ) -> Result<Server, Error> {
        self.require(
            "changing a server's pinned availability zone",
            features::UPDATE_PINNED_AZ,
        )?;
        let req = self
            .compute_request(Method::PUT, &["servers", id])
            .json(&update_pinned_az_body(availability_zone))?;
        let resp = self.send(&req).await?;
        parse_server(&resp.body).map_err(|e| super::transport::decode_error(&req, &e))
    }

    /// In-progress migrations of a server (2.23).
    pub async fn list_server_migrations(&self, id: &str) -> Result<Vec<ServerMigration>, Error> {
        self.require(
            "listing a server's migrations",
            features::LIST_SERVER_MIGRATIONS,
        )?;
        let req = self.compute_request(Method::GET, &["servers", id, "migrations"]);
        let resp = self.send(&req).await?;
        parse_server_migrations(&resp.body).map_err(|e| super::transport::decode_error(&req, &e))
    }

    /// Aborts a running live migration (2.24).
    pub async fn abort_migration(&self, id: &str, migration_id: u64) -> Result<(), Error> {
        self.require("aborting a live migration", features::ABORT_MIGRATION)?;
        let mid = migration_id.to_string();
        let req = self.compute_request(Method::DELETE, &["servers", id, "migrations", &mid]);
        self.send(&req).await.map(drop)
    }

    /// Sets (adds or replaces) metadata items on a server.
    pub async fn set_server_metadata(
        &self,
        id: &str,
        items: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        let req = self
            .compute_request(Method::POST, &["servers", id, "metadata"])
            .json(&json!({"metadata": items}))?
            .idempotent(true);
        self.send(&req).await.map(drop)
    }

    /// Removes one metadata item; a missing item is fine.
    pub async fn delete_server_metadata(&self, id: &str, key: &str) -> Result<(), Error> {
        let req = self.compute_request(Method::DELETE, &["servers", id, "metadata", key]);
        self.send_allow_missing(&req).await
    }

    /// Every compute node with its state (`os-hypervisors/detail`, admin).
    /// Asked at 2.87 when the cloud has it, since 2.88 dropped the usage
    /// figures a destination is chosen by; pages from 2.33.
    pub async fn list_hypervisors(&self) -> Result<Vec<Hypervisor>, Error> {
        let mv = if self.compute_versions().max >= features::HYPERVISOR_USAGE {
            features::HYPERVISOR_USAGE
        } else {
            self.microversion()
        };
        let url = super::client::join(&self.endpoints().compute, &["os-hypervisors", "detail"]);
        self.all_pages(
            url,
            |u| self.compute_request_at(Method::GET, u, mv),
            parse_hypervisors,
        )
        .await
    }

    /// Availability zones. `detail` (admin by default policy) adds the
    /// compute hosts and their state; without it `hosts` is `None`.
    pub async fn list_availability_zones(
        &self,
        detail: bool,
    ) -> Result<Vec<AvailabilityZone>, Error> {
        let segments: &[&str] = if detail {
            &["os-availability-zone", "detail"]
        } else {
            &["os-availability-zone"]
        };
        let req = self.compute_request(Method::GET, segments);
        let resp = self.send(&req).await?;
        parse_availability_zones(&resp.body).map_err(|e| super::transport::decode_error(&req, &e))
    }

    /// Every flavor visible to the project (`extra_specs` from 2.61).
    pub async fn list_flavors(&self) -> Result<Vec<Flavor>, Error> {
        let mut url = super::client::join(&self.endpoints().compute, &["flavors", "detail"]);
        url.query_pairs_mut()
            .append_pair("limit", &self.page_size().to_string());
        self.all_pages(
            url,
            |u| self.compute_request_url(Method::GET, u),
            parse_flavor_list,
        )
        .await
    }

    /// Every item of a marker-paged compute list starting at `url`: follows
    /// `next` markers, and stops on an empty page or a marker that repeats
    /// (a cloud that pages wrongly must not loop forever).
    async fn all_pages<T>(
        &self,
        url: Url,
        request: impl Fn(Url) -> super::transport::ApiRequest,
        parse: fn(&[u8]) -> Result<Page<T>, serde_json::Error>,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut page_url = url.clone();
            if let Some(m) = &marker {
                page_url.query_pairs_mut().append_pair("marker", m);
            }
            let req = request(page_url);
            let resp = self.send(&req).await?;
            let page = parse(&resp.body).map_err(|e| super::transport::decode_error(&req, &e))?;
            let empty = page.items.is_empty();
            out.extend(page.items);
            match page.next_marker {
                Some(next) if !empty && marker.as_deref() != Some(next.as_str()) => {
                    marker = Some(next)
                }
                _ => return Ok(out),
            }
        }
    }

    /// Ports attached to a server, as Nova sees them.
    pub async fn list_interfaces(&self, server_id: &str) -> Result<Vec<ServerInterface>, Error> {
        let req = self.compute_request(Method::GET, &["servers", server_id, "os-interface"]);
        let resp = self.send(&req).await?;
        parse_interfaces(&resp.body).map_err(|e| super::transport::decode_error(&req, &e))
    }

    /// Volumes attached to a server.
    pub async fn list_volume_attachments(
        &self,
        server_id: &str,
    ) -> Result<Vec<ServerVolume>, Error> {
        let req = self.compute_request(
            Method::GET,
            &["servers", server_id, "os-volume_attachments"],
        );
        let resp = self.send(&req).await?;
        parse_volume_attachments(&resp.body).map_err(|e| super::transport::decode_error(&req, &e))
    }

    /// Server groups of the project.
    pub async fn list_server_groups(&self) -> Result<Vec<ServerGroup>, Error> {
        let mut url = super::client::join(&self.endpoints().compute, &["os-server-groups"]);
        url.query_pairs_mut()
            .append_pair("limit", &self.page_size().to_string());
        let req = self.compute_request_url(Method::GET, url);
        let resp = self.send(&req).await?;
        parse_server_groups(&resp.body).map_err(|e| super::transport::decode_error(&req, &e))
    }

    /// The project's compute quota and usage (`GET /limits`).
    pub async fn limits(&self) -> Result<Quota, Error> {
        let req = self.compute_request(Method::GET, &["limits"]);
        let resp = self.send(&req).await?;
        parse_limits(&resp.body).map_err(|e| super::transport::decode_error(&req, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_backed_server_has_no_image() {
        let body = br#"{"server": {"id": "s1", "name": "vb", "status": "ACTIVE", "image": "", "flavor": {"id": "1"}}}"#;
        let s = parse_server(body).expect("parses");
        assert_eq!(s.image_id, None);
        assert_eq!(s.flavor.id.as_deref(), Some("1"));
    }

    #[test]
    fn building_server_with_empty_fields() {
        let body = br#"{"server": {"id": "s1", "status": "BUILD", "OS-EXT-AZ:availability_zone": "", "OS-EXT-STS:task_state": "scheduling", "image": {"id": "i"}}}"#;
        let s = parse_server(body).expect("parses");
        assert_eq!(s.availability_zone, None);
        assert_eq!(s.task_state.as_deref(), Some("scheduling"));
        assert_eq!(s.image_id.as_deref(), Some("i"));
    }

    /// As real Nova 34 sent it for a server booted with NICs on `net1`, then
    /// `aaa-probe` (tests/real_cloud.rs checks the move keeps that order).
    #[test]
    fn networks_keep_the_order_of_the_nics() {
        let body = br#"{"server": {"id": "s1", "addresses": {"net1": [{"version": 4, "addr": "10.0.0.221", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:fb:d7:c9"}], "aaa-probe": [{"version": 4, "addr": "10.9.0.244", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:41:65:be"}]}}}"#;
        let s = parse_server(body).expect("parses");
        assert_eq!(s.network_order, ["net1", "aaa-probe"]);
        assert_eq!(s.addresses.len(), 2);
        assert_eq!(
            s.addresses["aaa-probe"][0].mac.as_deref(),
            Some("fa:16:3e:41:65:be")
        );
        let none = parse_server(br#"{"server": {"id": "s1"}}"#).expect("parses");
        assert!(none.addresses.is_empty() && none.network_order.is_empty());
    }

    #[test]
    fn security_groups_are_listed_once() {
        let body = br#"{"server": {"id": "s1", "security_groups": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}}"#;
        assert_eq!(
            parse_server(body).expect("parses").security_groups,
            ["a", "b"]
        );
    }

    #[test]
    fn fault_message_is_kept() {
        let body = br#"{"server": {"id": "s1", "status": "ERROR", "fault": {"code": 500, "message": "No valid host was found. ", "created": "x"}}}"#;
        assert_eq!(
            parse_server(body).expect("parses").fault.as_deref(),
            Some("No valid host was found. ")
        );
    }

    #[test]
    fn location_header_gives_the_image_id_before_2_45() {
        let mv = Microversion::new(2, 44);
        assert_eq!(
            created_image_id(mv, Some("http://glance.example.com/v2/images/abc-123"), b"")
                .as_deref(),
            Some("abc-123")
        );
        assert_eq!(created_image_id(mv, None, b""), None);
    }

    #[test]
    fn networks_none_needs_2_37() {
        let req = CreateServer {
            networks: Networks::None,
            ..CreateServer::default()
        };
        assert!(create_server_body(&req, Microversion::new(2, 36)).is_err());
        let body = create_server_body(&req, Microversion::new(2, 37)).expect("builds");
        assert_eq!(body["server"]["networks"], json!("none"));
    }

    #[test]
    fn version_gated_bodies_refuse_old_microversions() {
        assert!(unshelve_body(Some("nova2"), Microversion::new(2, 76)).is_err());
        assert_eq!(
            unshelve_body(None, Microversion::new(2, 76)).expect("ok"),
            json!({"unshelve": null})
        );
        assert!(migrate_body(Some("h"), Microversion::new(2, 55)).is_err());
        assert_eq!(
            migrate_body(None, Microversion::new(2, 1)).expect("ok"),
            json!({"migrate": null})
        );
    }

    #[test]
    fn hypervisors_with_and_without_usage() {
        let old = br#"{"hypervisors": [{"id": 1, "hypervisor_hostname": "node-31.example.org", "state": "up", "status": "enabled", "memory_mb": 8192, "memory_mb_used": 512, "free_ram_mb": 7680, "vcpus": 2, "vcpus_used": 0, "service": {"host": "node-31", "id": 3}}], "hypervisors_links": [{"rel": "next", "href": "http://x/v2.1/os-hypervisors/detail?limit=1&marker=1"}]}"#;
        let page = parse_hypervisors(old).expect("parses");
        assert_eq!(page.next_marker.as_deref(), Some("1"));
        let h = &page.items[0];
        assert_eq!(h.service_host.as_deref(), Some("node-31"));
        assert_eq!(h.free_ram(), Some(7680));
        assert!(h.usable());
        let new = br#"{"hypervisors": [{"id": "f6d2", "hypervisor_hostname": "host2", "state": "down", "status": "enabled", "uptime": null, "service": {"host": "host2", "id": "21bb", "disabled_reason": null}}]}"#;
        let page = parse_hypervisors(new).expect("parses");
        assert_eq!(page.next_marker, None);
        assert_eq!(page.items[0].free_ram(), None);
        assert!(!page.items[0].usable());
        let computed = Hypervisor {
            memory_mb: Some(4096),
            memory_mb_used: Some(1024),
            ..Hypervisor::default()
        };
        assert_eq!(computed.free_ram(), Some(3072));
    }

    #[test]
    fn server_query_encodes_filters() {
        let q = ServerQuery {
            name: Some("^web-.*$".into()),
            all_tenants: true,
            changes_since: Some("2024-01-01T00:00:00Z".into()),
            ..ServerQuery::default()
        };
        let mut url = Url::parse("http://n/v2.1/servers/detail").expect("url");
        q.apply(&mut url, 1000);
        assert_eq!(
            url.query(),
            Some(
                "limit=1000&name=%5Eweb-.*%24&all_tenants=True&changes-since=2024-01-01T00%3A00%3A00Z"
            )
        );
    }
}
