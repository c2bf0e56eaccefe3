//! Neutron v2.0: the ports, networks, security groups and floating IPs of
//! the servers being moved.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::Client;
use super::error::{Error, Service};
use super::paging::{Link, Page, PageParser};
use super::transport::ApiRequest;
use crate::plan::inventory::Port;

/// Filters of `GET /v2.0/ports`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortQuery {
    /// Ports of these devices (server ids); many in one call.
    pub device_ids: Vec<String>,
    pub network_id: Option<String>,
}

/// Device ids per request: each adds about 50 bytes to the URL, and
/// proxies commonly cap URLs at 8 KiB.
const DEVICE_IDS_PER_REQUEST: usize = 100;

/// A Neutron port with what links it to its server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortInfo {
    /// The server (or router, DHCP agent…) using the port.
    pub device_id: Option<String>,
    /// `compute:<az>` for server ports.
    pub device_owner: Option<String>,
    pub status: Option<String>,
    pub port: Port,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub status: Option<String>,
    pub shared: bool,
    /// `router:external`.
    pub external: bool,
    /// AZs the network is available in (with the AZ extension).
    pub availability_zones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub project_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatingIp {
    pub id: String,
    pub floating_ip_address: String,
    pub fixed_ip_address: Option<String>,
    /// The port it is associated with; `None` when free.
    pub port_id: Option<String>,
    pub floating_network_id: String,
    pub status: Option<String>,
}

#[derive(Deserialize)]
struct PortsWire {
    ports: Vec<PortWire>,
    #[serde(default)]
    ports_links: Vec<Link>,
}

#[derive(Deserialize)]
struct PortWire {
    id: String,
    network_id: String,
    #[serde(default)]
    mac_address: Option<String>,
    #[serde(default)]
    fixed_ips: Vec<super::compute::FixedIpWire>,
    #[serde(default)]
    security_groups: Vec<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    device_owner: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.is_empty())
}

/// Parses `GET /v2.0/ports`.
pub fn parse_port_list(body: &[u8]) -> Result<Page<PortInfo>, serde_json::Error> {
    let wire: PortsWire = serde_json::from_slice(body)?;
    Ok(Page::linked(
        wire.ports,
        &wire.ports_links,
        |p| Some(p.id.clone()),
        |p| PortInfo {
            device_id: non_empty(p.device_id),
            device_owner: non_empty(p.device_owner),
            status: p.status,
            port: Port {
                id: p.id,
                network_id: p.network_id,
                mac_address: p.mac_address,
                fixed_ips: p.fixed_ips.into_iter().map(|f| f.ip_address).collect(),
                security_group_ids: p.security_groups,
            },
        },
    ))
}

#[derive(Deserialize)]
struct NetworksWire {
    networks: Vec<NetworkWire>,
    #[serde(default)]
    networks_links: Vec<Link>,
}

#[derive(Deserialize)]
struct NetworkWire {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    shared: bool,
    #[serde(rename = "router:external", default)]
    external: bool,
    #[serde(default)]
    availability_zones: Vec<String>,
}

/// Parses `GET /v2.0/networks`.
pub fn parse_network_list(body: &[u8]) -> Result<Page<Network>, serde_json::Error> {
    let wire: NetworksWire = serde_json::from_slice(body)?;
    Ok(Page::linked(
        wire.networks,
        &wire.networks_links,
        |n| Some(n.id.clone()),
        |n| Network {
            id: n.id,
            name: n.name,
            status: n.status,
            shared: n.shared,
            external: n.external,
            availability_zones: n.availability_zones,
        },
    ))
}

#[derive(Deserialize)]
struct SecurityGroupsWire {
    security_groups: Vec<SecurityGroupWire>,
    #[serde(default)]
    security_groups_links: Vec<Link>,
}

#[derive(Deserialize)]
struct SecurityGroupWire {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    tenant_id: Option<String>,
}

/// Parses `GET /v2.0/security-groups`.
pub fn parse_security_group_list(body: &[u8]) -> Result<Page<SecurityGroup>, serde_json::Error> {
    let wire: SecurityGroupsWire = serde_json::from_slice(body)?;
    Ok(Page::linked(
        wire.security_groups,
        &wire.security_groups_links,
        |g| Some(g.id.clone()),
        |g| SecurityGroup {
            id: g.id,
            name: g.name,
            project_id: g.project_id.or(g.tenant_id),
        },
    ))
}

#[derive(Deserialize)]
struct FloatingIpsWire {
    floatingips: Vec<FloatingIpWire>,
    #[serde(default)]
    floatingips_links: Vec<Link>,
}

#[derive(Deserialize)]
struct FloatingIpOneWire {
    floatingip: FloatingIpWire,
}

#[derive(Deserialize)]
struct FloatingIpWire {
    id: String,
    floating_ip_address: String,
    #[serde(default)]
    fixed_ip_address: Option<String>,
    #[serde(default)]
    port_id: Option<String>,
    floating_network_id: String,
    #[serde(default)]
    status: Option<String>,
}

impl From<FloatingIpWire> for FloatingIp {
    fn from(f: FloatingIpWire) -> FloatingIp {
        FloatingIp {
            id: f.id,
            floating_ip_address: f.floating_ip_address,
            fixed_ip_address: f.fixed_ip_address,
            port_id: f.port_id,
            floating_network_id: f.floating_network_id,
            status: f.status,
        }
    }
}

/// Parses `GET /v2.0/floatingips`.
pub fn parse_floating_ip_list(body: &[u8]) -> Result<Page<FloatingIp>, serde_json::Error> {
    let wire: FloatingIpsWire = serde_json::from_slice(body)?;
    Ok(Page::linked(
        wire.floatingips,
        &wire.floatingips_links,
        |f| Some(f.id.clone()),
        FloatingIp::from,
    ))
}

/// Parses `GET`/`PUT /v2.0/floatingips/{id}`.
pub fn parse_floating_ip(body: &[u8]) -> Result<FloatingIp, serde_json::Error> {
    Ok(serde_json::from_slice::<FloatingIpOneWire>(body)?
        .floatingip
        .into())
}

/// `PUT /v2.0/floatingips/{id}` body: associate with `port_id`, or
/// disassociate with `None`.
pub fn floating_ip_port_body(port_id: Option<&str>) -> serde_json::Value {
    json!({"floatingip": {"port_id": port_id}})
}

impl Client {
    /// Every item of a Neutron collection, following pages.
    async fn neutron_list<T>(
        &self,
        resource: &str,
        params: &[(&str, &str)],
        parse: PageParser<T>,
    ) -> Result<Vec<T>, Error> {
        let req = self.service_request(Service::Network, Method::GET, &[resource])?;
        let req = list_request(req, self.page_size(), params);
        self.all_pages(&req, parse).await.map(|(items, _)| items)
    }

    /// Ports matching `query`; many device ids are asked for a batch at a time.
    pub async fn list_ports(&self, query: &PortQuery) -> Result<Vec<PortInfo>, Error> {
        let mut common: Vec<(&str, &str)> = Vec::new();
        if let Some(n) = &query.network_id {
            common.push(("network_id", n));
        }
        if query.device_ids.is_empty() {
            return self.neutron_list("ports", &common, parse_port_list).await;
        }
        let mut out = Vec::new();
        for chunk in query.device_ids.chunks(DEVICE_IDS_PER_REQUEST) {
            let mut params = common.clone();
            params.extend(chunk.iter().map(|d| ("device_id", d.as_str())));
            out.extend(self.neutron_list("ports", &params, parse_port_list).await?);
        }
        Ok(out)
    }

    pub async fn list_networks(&self) -> Result<Vec<Network>, Error> {
        self.neutron_list("networks", &[], parse_network_list).await
    }

    /// Security groups, without their rules (which azmove does not need).
    pub async fn list_security_groups(&self) -> Result<Vec<SecurityGroup>, Error> {
        let fields = [
            ("fields", "id"),
            ("fields", "name"),
            ("fields", "project_id"),
            ("fields", "tenant_id"),
        ];
        self.neutron_list("security-groups", &fields, parse_security_group_list)
            .await
    }
}

/// The first page of a Neutron list: `limit`, then the filters as given.
fn list_request(mut req: ApiRequest, limit: u32, params: &[(&str, &str)]) -> ApiRequest {
    {
        let mut q = req.url.query_pairs_mut();
        q.append_pair("limit", &limit.to_string());
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    req
}
