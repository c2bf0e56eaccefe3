//! Resources as Neutron renders them.

use serde_json::{Value, json};

use crate::sim::clock::iso_seconds;
use crate::sim::model::{Model, Port};

pub(super) fn network_json(m: &Model, i: usize) -> Value {
    let n = &m.networks[i];
    json!({
        "id": n.id, "name": n.name, "status": "ACTIVE", "admin_state_up": true,
        "subnets": n.subnets.iter().map(|s| m.subnets[*s].id.clone()).collect::<Vec<_>>(),
        "shared": n.shared, "router:external": n.external,
        "project_id": n.project_id, "tenant_id": n.project_id,
        "mtu": 1450, "availability_zones": m.azs.first().map(|a| vec![a.clone()]).unwrap_or_default(),
        "availability_zone_hints": [], "port_security_enabled": true,
        "created_at": iso_seconds(n.created_at), "updated_at": iso_seconds(n.created_at),
        "revision_number": 1, "tags": [], "description": "",
        "ipv4_address_scope": null, "ipv6_address_scope": null,
        "l2_adjacency": true, "is_default": false,
    })
}

pub(super) fn subnet_json(m: &Model, i: usize) -> Value {
    let s = &m.subnets[i];
    let (start, end) = s.pool();
    json!({
        "id": s.id, "name": s.name, "network_id": m.networks[s.network].id,
        "project_id": s.project_id, "tenant_id": s.project_id,
        "ip_version": 4, "cidr": s.cidr, "gateway_ip": s.gateway(),
        "allocation_pools": [{"start": start, "end": end}],
        "enable_dhcp": true, "dns_nameservers": [], "host_routes": [],
        "ipv6_address_mode": null, "ipv6_ra_mode": null, "segment_id": null,
        "subnetpool_id": null, "service_types": [], "dns_publish_fixed_ip": false,
        "created_at": iso_seconds(s.created_at), "updated_at": iso_seconds(s.created_at),
        "revision_number": 1, "tags": [], "description": "", "router:external": false,
    })
}

pub(super) fn port_json(m: &Model, p: &Port, admin: bool) -> Value {
    let mut v = json!({
        "id": p.id, "name": p.name, "network_id": m.networks[p.network].id,
        "project_id": p.project_id, "tenant_id": p.project_id,
        "mac_address": p.mac,
        "fixed_ips": p.fixed_ips.iter().map(|(ip, s)| json!({"ip_address": ip, "subnet_id": m.subnets[*s].id})).collect::<Vec<_>>(),
        "device_id": p.device_id, "device_owner": p.device_owner,
        "status": p.status, "admin_state_up": true,
        "security_groups": p.security_groups.iter().map(|s| m.security_groups[*s].id.clone()).collect::<Vec<_>>(),
        "allowed_address_pairs": [], "extra_dhcp_opts": [],
        "port_security_enabled": true, "ip_allocation": "immediate",
        "dns_name": "", "dns_assignment": [],
        "binding:vnic_type": "normal",
        "created_at": iso_seconds(p.created_at), "updated_at": iso_seconds(p.updated_at),
        "revision_number": p.revision, "tags": [], "description": p.description,
        "propagate_uplink_status": false,
    });
    if admin {
        v["binding:host_id"] = json!(p.binding_host);
        v["binding:vif_type"] = json!(if p.binding_host.is_empty() {
            "unbound"
        } else {
            "ovs"
        });
        v["binding:profile"] = json!({});
        v["binding:vif_details"] = json!({});
    }
    v
}

pub(super) fn security_group_json(m: &Model, i: usize) -> Value {
    let g = &m.security_groups[i];
    let t = iso_seconds(g.created_at);
    let rules: Vec<Value> = ["IPv4", "IPv6"]
        .iter()
        .zip(&g.rule_ids)
        .map(|(eth, id)| {
            json!({
                "id": id, "direction": "egress", "ethertype": eth, "protocol": null,
                "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null,
                "remote_group_id": null, "normalized_cidr": null, "remote_address_group_id": null,
                "security_group_id": g.id, "project_id": g.project_id, "tenant_id": g.project_id,
                "created_at": t, "updated_at": t, "revision_number": 0, "tags": [],
                "description": "", "belongs_to_default_sg": g.name == "default",
            })
        })
        .collect();
    json!({
        "id": g.id, "name": g.name, "description": g.description,
        "project_id": g.project_id, "tenant_id": g.project_id,
        "security_group_rules": rules, "stateful": true, "shared": false,
        "created_at": t, "updated_at": t, "revision_number": 1, "tags": [],
    })
}

pub(super) fn floating_ip_json(m: &Model, i: usize) -> Value {
    let f = &m.floating_ips[i];
    let details = f.port_id.as_ref().and_then(|p| m.ports.get(p)).map(|p| {
        json!({
            "status": p.status, "name": p.name, "admin_state_up": true,
            "network_id": m.networks[p.network].id, "device_owner": p.device_owner,
            "mac_address": p.mac, "device_id": p.device_id,
        })
    });
    json!({
        "id": f.id, "floating_ip_address": f.address,
        "floating_network_id": m.networks[f.network].id,
        "router_id": null, "port_id": f.port_id, "fixed_ip_address": f.fixed_ip,
        "project_id": f.project_id, "tenant_id": f.project_id,
        "status": if f.port_id.is_some() { "ACTIVE" } else { "DOWN" },
        "description": "", "dns_domain": "", "dns_name": "",
        "port_details": details, "port_forwardings": [], "qos_policy_id": null,
        "created_at": iso_seconds(f.created_at), "updated_at": iso_seconds(f.updated_at),
        "revision_number": f.revision, "tags": [],
    })
}
