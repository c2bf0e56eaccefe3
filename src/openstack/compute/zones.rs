//! Where a server can go: availability zones with their compute hosts, and
//! the hypervisors with their state and free capacity.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::non_empty;
use crate::openstack::client::Client;
use crate::openstack::error::Error;
use crate::openstack::microversion::features;
use crate::openstack::paging::{Link, Page};
use crate::plan::inventory::{AvailabilityZone, Host};

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
fn parse_hypervisors(body: &[u8]) -> Result<Page<Hypervisor>, serde_json::Error> {
    let wire: HypervisorsWire = serde_json::from_slice(body)?;
    Ok(Page::linked(
        wire.hypervisors,
        &wire.hypervisors_links,
        |h| match &h.id {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        },
        |h| Hypervisor {
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
        },
    ))
}

impl Client {
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
        self.send_parse(&req, parse_availability_zones).await
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
        let req = self.compute_request_at(Method::GET, &["os-hypervisors", "detail"], mv);
        self.all_pages(&req, parse_hypervisors)
            .await
            .map(|(hypervisors, _)| hypervisors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
