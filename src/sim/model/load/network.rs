//! Networks, subnets, security groups and floating IPs of a scenario.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::sim::model::network::{default_sg_description, parse_cidr};
use crate::sim::model::{FloatingIp, Keypair, Model, Network, SecurityGroup, Subnet};
use crate::sim::scenario::Scenario;

impl Model {
    pub(super) fn load_network(
        &mut self,
        sc: &Scenario,
        now: OffsetDateTime,
    ) -> Result<(), String> {
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

    pub(super) fn load_floating_ips(
        &mut self,
        sc: &Scenario,
        now: OffsetDateTime,
    ) -> Result<(), String> {
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
}
