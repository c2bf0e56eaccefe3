//! Building the model from a [`Scenario`].

mod network;
mod servers;

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use time::OffsetDateTime;

use crate::sim::model::{
    AppCred, Config, FlavorRec, Host, Image, Model, Project, Quota, ServerGroup, User, Volume,
    ipv4, name_uuid,
};
use crate::sim::scenario::Scenario;

impl Model {
    /// Build the cloud described by a scenario. `base_url` is where it is served.
    pub fn from_scenario(
        sc: &Scenario,
        base_url: &str,
        now: OffsetDateTime,
    ) -> Result<Model, String> {
        let max_microversion = crate::sim::clock::parse_microversion(&sc.max_microversion)
            .ok_or_else(|| format!("max_microversion {:?} is invalid", sc.max_microversion))?;
        let mut m = Model {
            cfg: Config {
                base_url: base_url.trim_end_matches('/').to_owned(),
                region: sc.region.clone(),
                max_microversion,
                token_ttl: sc.token_ttl,
                max_limit: sc.max_limit,
                timings: sc.timings.clone(),
                races: sc.races.clone(),
            },
            role_ids: BTreeMap::new(),
            projects: Vec::new(),
            users: Vec::new(),
            tokens: HashMap::new(),
            azs: Vec::new(),
            hosts: Vec::new(),
            flavors: Vec::new(),
            images: Vec::new(),
            image_index: HashMap::new(),
            networks: Vec::new(),
            subnets: Vec::new(),
            ports: BTreeMap::new(),
            ports_by_device: HashMap::new(),
            security_groups: Vec::new(),
            floating_ips: Vec::new(),
            volumes: Vec::new(),
            keypairs: Vec::new(),
            server_groups: Vec::new(),
            servers: Vec::new(),
            server_index: HashMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            ids: ChaCha8Rng::seed_from_u64(sc.seed),
            instance_counter: 0,
            last_advance: None,
            pending_boot_volumes: HashMap::new(),
            migrations: Vec::new(),
            created_at: now,
        };
        m.load_identity(sc)?;
        m.load_compute_basics(sc)?;
        m.load_images(sc, now)?;
        m.load_network(sc, now)?;
        m.load_volumes(sc, now)?;
        m.load_servers(sc, now)?;
        m.load_floating_ips(sc, now)?;
        Ok(m)
    }

    fn load_identity(&mut self, sc: &Scenario) -> Result<(), String> {
        for p in &sc.projects {
            if self.projects.iter().any(|x| x.name == p.name) {
                return Err(format!("project {:?} is defined twice", p.name));
            }
            let id = self.id_or_new(&p.id, true);
            self.projects.push(Project {
                id,
                name: p.name.clone(),
                quota: Quota {
                    instances: p.quota.instances,
                    cores: p.quota.cores,
                    ram_mb: p.quota.ram_mb,
                },
            });
        }
        for u in &sc.users {
            if self.projects.iter().all(|p| p.name != u.project) {
                // A user's project need not be listed separately.
                let id = self.new_hex_id();
                self.projects.push(Project {
                    id,
                    name: u.project.clone(),
                    quota: Quota {
                        instances: 10,
                        cores: 20,
                        ram_mb: 51200,
                    },
                });
            }
        }
        if self.projects.is_empty() {
            let id = self.new_hex_id();
            self.projects.push(Project {
                id,
                name: "admin".to_owned(),
                quota: Quota {
                    instances: 10,
                    cores: 20,
                    ram_mb: 51200,
                },
            });
        }
        let mut role_names: Vec<String> = vec!["admin".into(), "member".into(), "reader".into()];
        for u in &sc.users {
            if self.users.iter().any(|x| x.name == u.name) {
                return Err(format!("user {:?} is defined twice", u.name));
            }
            let project = self.project_by_name(&u.project).ok_or_else(|| {
                format!("user {:?}: project {:?} is not defined", u.name, u.project)
            })?;
            for r in &u.roles {
                if !role_names.contains(r) {
                    role_names.push(r.clone());
                }
            }
            let id = self.id_or_new(&u.id, true);
            let mut app_creds = Vec::new();
            for a in &u.application_credentials {
                let id = self.id_or_new(&a.id, true);
                app_creds.push(AppCred {
                    id,
                    name: a.name.clone(),
                    secret: a.secret.clone(),
                    roles: a.roles.clone().unwrap_or_else(|| u.roles.clone()),
                });
            }
            self.users.push(User {
                id,
                name: u.name.clone(),
                password: u.password.clone(),
                project,
                roles: u.roles.clone(),
                app_creds,
            });
        }
        for r in role_names {
            let id = self.new_hex_id();
            self.role_ids.insert(r, id);
        }
        Ok(())
    }

    fn load_compute_basics(&mut self, sc: &Scenario) -> Result<(), String> {
        for az in &sc.availability_zones {
            if self.azs.contains(&az.name) {
                return Err(format!("availability zone {:?} is defined twice", az.name));
            }
            self.azs.push(az.name.clone());
            for h in &az.hosts {
                if self.hosts.iter().any(|x| x.name == h.name) {
                    return Err(format!("host {:?} is defined twice", h.name));
                }
                let n = self.hosts.len() as u32;
                self.hosts.push(Host {
                    uuid: name_uuid("compute-node", &h.name),
                    service_uuid: name_uuid("nova-compute", &h.name),
                    ip: ipv4(0xC0A8_0000 + 10 + n),
                    name: h.name.clone(),
                    az: az.name.clone(),
                    vcpus: h.vcpus,
                    ram_mb: h.ram_mb,
                    disk_gb: h.disk_gb,
                    enabled: h.enabled,
                    used_vcpus: 0,
                    used_ram_mb: 0,
                    used_disk_gb: 0,
                });
            }
        }
        for (i, f) in sc.flavors.iter().enumerate() {
            if self.flavors.iter().any(|x| x.name == f.name) {
                return Err(format!("flavor {:?} is defined twice", f.name));
            }
            let id = f.id.clone().unwrap_or_else(|| (i + 1).to_string());
            self.flavors.push(FlavorRec {
                id,
                name: f.name.clone(),
                vcpus: f.vcpus,
                ram_mb: f.ram_mb,
                disk_gb: f.disk_gb,
                ephemeral_gb: f.ephemeral_gb,
                swap_mb: f.swap_mb,
                public: f.public,
                description: f.description.clone(),
                extra_specs: f.extra_specs.clone(),
            });
        }
        for sg in &sc.server_groups {
            let project =
                self.project_id_or_default(&sg.project, &format!("server group {:?}", sg.name))?;
            let id = self.id_or_new(&sg.id, false);
            let user_id = self.first_user_of(&project).unwrap_or_default();
            if ![
                "affinity",
                "anti-affinity",
                "soft-affinity",
                "soft-anti-affinity",
            ]
            .contains(&sg.policy.as_str())
            {
                return Err(format!(
                    "server group {:?}: unknown policy {:?}",
                    sg.name, sg.policy
                ));
            }
            self.server_groups.push(ServerGroup {
                id,
                name: sg.name.clone(),
                policy: sg.policy.clone(),
                project_id: project,
                user_id,
                members: Vec::new(),
            });
        }
        Ok(())
    }

    fn load_images(&mut self, sc: &Scenario, now: OffsetDateTime) -> Result<(), String> {
        for im in &sc.images {
            let owner = self.project_id_or_default(&im.project, &format!("image {:?}", im.name))?;
            let id = self.id_or_new(&im.id, false);
            if !["public", "private", "shared", "community"].contains(&im.visibility.as_str()) {
                return Err(format!(
                    "image {:?}: visibility must be public, private, shared or community",
                    im.name
                ));
            }
            let mut image = Image {
                id: id.clone(),
                name: im.name.clone(),
                owner,
                visibility: im.visibility.clone(),
                status: im.status.clone(),
                size: None,
                min_disk: im.min_disk,
                min_ram: im.min_ram,
                disk_format: Some(im.disk_format.clone()),
                container_format: Some("bare".to_owned()),
                created_at: now,
                updated_at: now,
                protected: im.protected,
                tags: im.tags.clone(),
                properties: im.properties.clone(),
                checksum: None,
                hash: None,
                deleted: false,
                os_hidden: im.os_hidden,
            };
            if im.status == "active" {
                image.finish_upload(im.size_mb * 1024 * 1024, now);
            }
            self.add_image(image);
        }
        Ok(())
    }

    fn load_volumes(&mut self, sc: &Scenario, now: OffsetDateTime) -> Result<(), String> {
        for v in &sc.volumes {
            if self.volumes.iter().any(|x| x.name == v.name) {
                return Err(format!("volume {:?} is defined twice", v.name));
            }
            let project =
                self.project_id_or_default(&v.project, &format!("volume {:?}", v.name))?;
            let user_id = self.first_user_of(&project).unwrap_or_default();
            let id = self.id_or_new(&v.id, false);
            self.volumes.push(Volume {
                id,
                name: v.name.clone(),
                project_id: project,
                user_id,
                size_gb: v.size_gb,
                az: v.availability_zone.clone(),
                status: "available".to_owned(),
                bootable: v.bootable,
                volume_type: v
                    .volume_type
                    .clone()
                    .unwrap_or_else(|| "__DEFAULT__".to_owned()),
                attachments: Vec::new(),
                created_at: now,
                updated_at: now,
            });
        }
        Ok(())
    }
}
