//! Nova's side besides servers: hosts and their capacity, flavors,
//! keypairs, server groups, and where a server is placed.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use sha2::{Digest, Sha224};
use time::OffsetDateTime;

use crate::sim::model::{Model, Server};

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

impl Model {
    pub fn flavor(&self, id: &str) -> Option<usize> {
        self.flavors.iter().position(|f| f.id == id)
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
}
