//! `POST /servers` in model terms: quota, the BUILD record, and the ports
//! and boot volume made once a host is picked.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::Env;
use crate::sim::clock::iso_seconds;
use crate::sim::errors::ApiError;
use crate::sim::model::{
    BootVolume, Caller, FlavorRec, Model, NetRequest, Server, Step, VmState, Volume, hostname_of,
};
use crate::sim::stats::OpSide;

/// A validated `POST /servers`, in model terms.
#[derive(Debug, Clone)]
pub struct BootRequest {
    pub name: String,
    pub flavor: usize,
    pub image: Option<usize>,
    pub boot_volume: Option<BootVolume>,
    pub availability_zone: Option<String>,
    pub forced_host: Option<usize>,
    pub networks: Vec<NetRequest>,
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub user_data: Option<String>,
    pub config_drive: bool,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub hints: BTreeMap<String, serde_json::Value>,
    pub group: Option<usize>,
    pub disk_config: &'static str,
    pub access_ipv4: String,
    pub access_ipv6: String,
}

impl Model {
    /// `POST /servers`: checks quota, records the server in BUILD and
    /// schedules it. Returns the new server's index and admin password.
    pub fn create_server(
        &mut self,
        req: BootRequest,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<usize, ApiError> {
        let flavor = self.flavors[req.flavor].clone();
        self.check_quota(&caller.project_id, &flavor)?;
        let id = self.new_uuid();
        let instance_name = self.next_instance_name();
        let reservation_id = format!("r-{:08x}", self.random_u64() as u32);
        let (image_id, image_properties) = match req.image {
            Some(img) => (
                Some(self.images[img].id.clone()),
                self.images[img].properties.clone(),
            ),
            None => (None, BTreeMap::new()),
        };
        let server = Server {
            id: id.clone(),
            name: req.name.clone(),
            project_id: caller.project_id.clone(),
            user_id: caller.user_id.clone(),
            requested_az: req.availability_zone.clone(),
            host: None,
            flavor,
            image_id,
            image_properties,
            vm_state: VmState::Building,
            task_state: Some("scheduling"),
            power_state: 0,
            created: now,
            updated: now,
            launched_at: None,
            terminated_at: None,
            deleted_at: None,
            metadata: req.metadata,
            key_name: req.key_name,
            user_data: req.user_data,
            config_drive: req.config_drive,
            security_groups: req.security_groups,
            fault: None,
            locked: false,
            locked_reason: None,
            description: req.description,
            tags: req.tags,
            hostname: hostname_of(&req.name),
            instance_name,
            reservation_id,
            scheduler_hints: req.hints,
            server_group: req.group,
            volumes: Vec::new(),
            net_requests: req.networks,
            access_ipv4: req.access_ipv4,
            access_ipv6: req.access_ipv6,
            disk_config: req.disk_config,
            generation: 0,
            pending_image: None,
            pending_image_fails: false,
            shelve_image: None,
            migration: None,
            unshelve_host: None,
            task_set_at: None,
        };
        let i = self.servers.len();
        self.server_index.insert(id.clone(), i);
        self.servers.push(server);
        if let Some(g) = req.group {
            self.server_groups[g].members.push(id.clone());
        }
        if let Some(bv) = req.boot_volume {
            if let BootVolume::Existing { volume, .. } = &bv {
                self.volumes[*volume].status = "reserved".to_owned();
            }
            self.pending_boot_volumes.insert(id.clone(), bv);
        }
        if let Some(h) = req.forced_host {
            self.take_host(i, h);
        }
        env.stats()
            .resource_created("server", &id, &req.name, iso_seconds(now));
        if req.availability_zone.is_some() || req.forced_host.is_some() {
            self.op_started(i, "boot", OpSide::Target, env);
        }
        let delay = self.cfg.timings.boot.mul_f64(0.2);
        self.schedule(i, env.later(now, delay), Step::Scheduled);
        Ok(i)
    }

    fn check_quota(&self, project_id: &str, flavor: &FlavorRec) -> Result<(), ApiError> {
        let Some(p) = self.project_by_id(project_id) else {
            return Ok(());
        };
        let q = &self.projects[p].quota;
        let (n, cores, ram) = self.usage(project_id);
        let checks = [
            ("cores", i64::from(flavor.vcpus), cores, q.cores),
            ("instances", 1, n, q.instances),
            ("ram", flavor.ram_mb as i64, ram, q.ram_mb),
        ];
        let over: Vec<_> = checks
            .iter()
            .filter(|(_, want, used, limit)| *limit >= 0 && used + want > *limit)
            .collect();
        if over.is_empty() {
            return Ok(());
        }
        let column = |n: usize| {
            over.iter()
                .map(|c| match n {
                    0 => c.0.to_owned(),
                    1 => c.1.to_string(),
                    2 => c.2.to_string(),
                    _ => c.3.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let names = column(0);
        Err(ApiError::nova(
            403,
            format!(
                "Quota exceeded for {names}: Requested {}, but already used {} of {} {names}",
                column(1),
                column(2),
                column(3),
            ),
        ))
    }

    pub(super) fn create_boot_ports(&mut self, i: usize, at: OffsetDateTime, env: &Env) {
        let requests = std::mem::take(&mut self.servers[i].net_requests);
        let project = self.servers[i].project_id.clone();
        let names = self.servers[i].security_groups.clone();
        let sgs = self
            .resolve_security_groups(&project, &names)
            .unwrap_or_default();
        for r in requests {
            match r {
                NetRequest::Network(net, fixed_ip) => {
                    match self.create_port(net, &project, fixed_ip, sgs.clone(), at, Some(i), true)
                    {
                        Ok(id) => env
                            .stats()
                            .resource_created("port", &id, "", iso_seconds(at)),
                        Err(_) => {
                            // Neutron ran out of addresses: the boot fails.
                            self.error_no_valid_host(i, at, env);
                            return;
                        }
                    }
                }
                NetRequest::Port(id) => self.bind_port(&id, i, at),
            }
        }
    }

    pub(super) fn create_boot_volume(&mut self, i: usize, at: OffsetDateTime) {
        let Some(bv) = self.pending_boot_volumes.remove(&self.servers[i].id) else {
            return;
        };
        let vol = match bv {
            BootVolume::Existing { volume, .. } => volume,
            BootVolume::New { image, size_gb, .. } => {
                let id = self.new_uuid();
                let s = &self.servers[i];
                let az = self.server_az(s);
                let v = Volume {
                    id,
                    name: String::new(),
                    project_id: s.project_id.clone(),
                    user_id: s.user_id.clone(),
                    size_gb,
                    az,
                    status: "available".to_owned(),
                    bootable: image.is_some(),
                    volume_type: "__DEFAULT__".to_owned(),
                    attachments: Vec::new(),
                    created_at: at,
                    updated_at: at,
                };
                self.volumes.push(v);
                self.volumes.len() - 1
            }
        };
        let delete = matches!(
            bv,
            BootVolume::New {
                delete_on_termination: true,
                ..
            } | BootVolume::Existing {
                delete_on_termination: true,
                ..
            }
        );
        self.attach_volume(i, vol, "/dev/vda".to_owned(), at);
        if let Some(sv) = self.servers[i].volumes.last_mut() {
            sv.delete_on_termination = delete;
        }
    }
}
