//! A server as Nova's view builders render it, per microversion and policy.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};

use super::{Mv, links};
use crate::sim::clock::{iso_micros, iso_seconds};
use crate::sim::model::{Model, Server, VmState};

/// One server as Nova's `show`/`detail` view builder renders it.
pub(super) struct ServerView<'a> {
    pub(super) m: &'a Model,
    pub(super) s: &'a Server,
    pub(super) mv: Mv,
    pub(super) admin: bool,
    /// `GET /servers/{id}` (and PUT): adds `server_groups` from 2.71.
    pub(super) show: bool,
}

impl ServerView<'_> {
    fn addresses(&self) -> Value {
        let mut out = serde_json::Map::new();
        if self.s.vm_state == VmState::Building {
            return Value::Object(out);
        }
        for p in self.m.ports_of(&self.s.id) {
            let net = &self.m.networks[p.network].name;
            let entry = out
                .entry(net.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                for (ip, _) in &p.fixed_ips {
                    list.push(json!({"version": 4, "addr": ip, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": p.mac}));
                }
                for f in &self.m.floating_ips {
                    if f.port_id.as_deref() == Some(p.id.as_str()) {
                        list.push(json!({"version": 4, "addr": f.address, "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": p.mac}));
                    }
                }
            }
        }
        Value::Object(out)
    }

    fn security_groups(&self) -> Vec<Value> {
        let mut names: Vec<&str> = Vec::new();
        for p in self.m.ports_of(&self.s.id) {
            for sg in &p.security_groups {
                let n = self.m.security_groups[*sg].name.as_str();
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        names.into_iter().map(|n| json!({"name": n})).collect()
    }

    fn flavor(&self) -> Value {
        let f = &self.s.flavor;
        if self.mv.at_least(47) {
            json!({
                "vcpus": f.vcpus, "ram": f.ram_mb, "disk": f.disk_gb,
                "ephemeral": f.ephemeral_gb, "swap": f.swap_mb,
                "original_name": f.name, "extra_specs": f.extra_specs,
            })
        } else {
            json!({
                "id": f.id,
                "links": [{"href": format!("{}/compute/flavors/{}", self.m.cfg.base_url, f.id), "rel": "bookmark"}]
            })
        }
    }

    fn image(&self) -> Value {
        match &self.s.image_id {
            None => json!(""),
            Some(id) => {
                let mut v = json!({
                    "id": id,
                    "links": [{"href": format!("{}/compute/images/{id}", self.m.cfg.base_url), "rel": "bookmark"}]
                });
                if self.mv.at_least(98) {
                    v["properties"] = json!(self.s.image_properties);
                }
                v
            }
        }
    }
}

impl Serialize for ServerView<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let (m, s, mv) = (self.m, self.s, self.mv);
        let status = s.status();
        let host = s.host.map(|h| m.hosts[h].name.as_str());
        let mut map = ser.serialize_map(None)?;
        map.serialize_entry("id", &s.id)?;
        map.serialize_entry("name", &s.name)?;
        map.serialize_entry("status", status)?;
        map.serialize_entry("tenant_id", &s.project_id)?;
        map.serialize_entry("user_id", &s.user_id)?;
        map.serialize_entry("metadata", &s.metadata)?;
        map.serialize_entry("hostId", &m.host_id(s))?;
        map.serialize_entry("image", &self.image())?;
        map.serialize_entry("flavor", &self.flavor())?;
        map.serialize_entry("created", &iso_seconds(s.created))?;
        map.serialize_entry("updated", &iso_seconds(s.updated))?;
        map.serialize_entry("addresses", &self.addresses())?;
        map.serialize_entry("accessIPv4", &s.access_ipv4)?;
        map.serialize_entry("accessIPv6", &s.access_ipv6)?;
        map.serialize_entry("links", &links(m, "servers", &s.id))?;
        map.serialize_entry("OS-DCF:diskConfig", s.disk_config)?;
        if matches!(status, "ERROR" | "DELETED")
            && let Some(f) = &s.fault
        {
            map.serialize_entry(
                "fault",
                &json!({"code": f.code, "created": iso_seconds(f.created), "message": f.message}),
            )?;
        }
        if matches!(
            status,
            "ACTIVE" | "BUILD" | "REBUILD" | "RESIZE" | "VERIFY_RESIZE" | "MIGRATING"
        ) {
            map.serialize_entry("progress", &0)?;
        }
        map.serialize_entry("OS-EXT-AZ:availability_zone", &m.server_az(s))?;
        map.serialize_entry("config_drive", if s.config_drive { "True" } else { "" })?;
        map.serialize_entry("key_name", &s.key_name)?;
        map.serialize_entry("OS-SRV-USG:launched_at", &s.launched_at.map(iso_micros))?;
        map.serialize_entry("OS-SRV-USG:terminated_at", &s.terminated_at.map(iso_micros))?;
        let sgs = self.security_groups();
        if !sgs.is_empty() {
            map.serialize_entry("security_groups", &sgs)?;
        }
        if self.admin {
            map.serialize_entry("OS-EXT-SRV-ATTR:host", &host)?;
            map.serialize_entry("OS-EXT-SRV-ATTR:instance_name", &s.instance_name)?;
            map.serialize_entry("OS-EXT-SRV-ATTR:hypervisor_hostname", &host)?;
            if mv.at_least(3) {
                map.serialize_entry("OS-EXT-SRV-ATTR:reservation_id", &s.reservation_id)?;
                map.serialize_entry("OS-EXT-SRV-ATTR:launch_index", &0)?;
                map.serialize_entry("OS-EXT-SRV-ATTR:hostname", &s.hostname)?;
                map.serialize_entry("OS-EXT-SRV-ATTR:kernel_id", "")?;
                map.serialize_entry("OS-EXT-SRV-ATTR:ramdisk_id", "")?;
                map.serialize_entry("OS-EXT-SRV-ATTR:root_device_name", "/dev/vda")?;
                map.serialize_entry("OS-EXT-SRV-ATTR:user_data", &s.user_data)?;
            }
        } else if mv.at_least(90) {
            map.serialize_entry("OS-EXT-SRV-ATTR:hostname", &s.hostname)?;
        }
        map.serialize_entry("OS-EXT-STS:task_state", &s.task_state)?;
        map.serialize_entry("OS-EXT-STS:vm_state", s.vm_state.as_str())?;
        map.serialize_entry("OS-EXT-STS:power_state", &s.power_state)?;
        let vols: Vec<Value> = s
            .volumes
            .iter()
            .map(|v| {
                if mv.at_least(3) {
                    json!({"id": v.volume_id, "delete_on_termination": v.delete_on_termination})
                } else {
                    json!({"id": v.volume_id})
                }
            })
            .collect();
        map.serialize_entry("os-extended-volumes:volumes_attached", &vols)?;
        if mv.at_least(16) && self.admin {
            let hs = match s.host {
                Some(h) if m.hosts[h].enabled => "UP",
                Some(_) => "MAINTENANCE",
                None => "",
            };
            map.serialize_entry("host_status", hs)?;
        }
        if mv.at_least(9) {
            map.serialize_entry("locked", &s.locked)?;
        }
        if mv.at_least(19) {
            map.serialize_entry("description", &s.description)?;
        }
        if mv.at_least(26) {
            map.serialize_entry("tags", &s.tags)?;
        }
        if mv.at_least(63) {
            map.serialize_entry("trusted_image_certificates", &Value::Null)?;
        }
        if mv.at_least(71) && self.show {
            let groups: Vec<&str> = s
                .server_group
                .map(|g| vec![m.server_groups[g].id.as_str()])
                .unwrap_or_default();
            map.serialize_entry("server_groups", &groups)?;
        }
        if mv.at_least(73) {
            map.serialize_entry("locked_reason", &s.locked_reason)?;
        }
        if mv.at_least(96) {
            map.serialize_entry("pinned_availability_zone", &s.requested_az)?;
        }
        if mv.at_least(100) {
            map.serialize_entry("scheduler_hints", &s.scheduler_hints)?;
        }
        map.end()
    }
}

pub(super) struct BriefView<'a> {
    pub(super) m: &'a Model,
    pub(super) s: &'a Server,
}

impl Serialize for BriefView<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut map = ser.serialize_map(Some(3))?;
        map.serialize_entry("id", &self.s.id)?;
        map.serialize_entry("name", &self.s.name)?;
        map.serialize_entry("links", &links(self.m, "servers", &self.s.id))?;
        map.end()
    }
}
