//! Neutron's side: networks, subnets handing out IPv4 addresses, ports,
//! security groups and floating IPs.

use time::OffsetDateTime;

use crate::sim::model::{Caller, Model};

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
    pub(super) next: u32,
    pub(super) freed: Vec<u32>,
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

pub fn ipv4(a: u32) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

fn parse_ipv4(s: &str) -> Option<u32> {
    s.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

pub(super) fn parse_cidr(s: &str) -> Option<(u32, u8)> {
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

pub(super) fn default_sg_description(name: &str) -> String {
    if name == "default" {
        "Default security group".to_owned()
    } else {
        String::new()
    }
}

impl Model {
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
    fn cidrs_must_be_ipv4() {
        assert_eq!(parse_cidr("10.1.2.3/16"), Some((0x0a01_0000, 16)));
        assert!(parse_cidr("fd00::/64").is_none());
        assert!(parse_cidr("10.0.0.0").is_none());
    }
}
