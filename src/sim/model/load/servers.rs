//! The servers a scenario starts with, already running.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::sim::model::{Fault, Model, NO_VALID_HOST, Server, VmState, hostname_of};
use crate::sim::scenario::{self, Scenario, ServerSpec};

impl Model {
    pub(super) fn load_servers(
        &mut self,
        sc: &Scenario,
        now: OffsetDateTime,
    ) -> Result<(), String> {
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
}
