//! Nova (compute API v2.1) with microversions: servers and their actions,
//! flavors, availability zones, server groups, limits, keypairs, and the
//! per-server interface, volume attachment and metadata sub-resources.
//! Field sets follow Nova's view builders per microversion and policy.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use regex::Regex;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};

use super::{
    AppState, empty, json, json_bytes, nova_moves, parse_json, query_all, query_get, query_pairs,
    str_field, truthy,
};
use crate::sim::clock::{iso_micros, iso_seconds, parse_microversion, parse_timestamp};
use crate::sim::errors::ApiError;
use crate::sim::lifecycle::{BootRequest, BootVolume};
use crate::sim::model::{Caller, FlavorRec, Model, NetRequest, Server, VmState};

/// The negotiated compute microversion of a request (major is always 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mv(pub u16);

impl Mv {
    pub fn at_least(self, minor: u16) -> bool {
        self.0 >= minor
    }
}

/// Pick the microversion from `OpenStack-API-Version: compute X.Y` or
/// `X-OpenStack-Nova-API-Version: X.Y`, the way Nova does.
pub fn negotiate(headers: &HeaderMap, max: (u16, u16)) -> Result<Mv, ApiError> {
    let mut requested: Option<String> = None;
    for v in headers.get_all("openstack-api-version") {
        let Ok(v) = v.to_str() else { continue };
        for part in v.split(',') {
            let mut it = part.split_whitespace();
            if it.next().is_some_and(|s| s.eq_ignore_ascii_case("compute"))
                && let Some(ver) = it.next()
            {
                requested = Some(ver.to_owned());
            }
        }
    }
    if requested.is_none() {
        requested = headers
            .get("x-openstack-nova-api-version")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_owned());
    }
    let Some(req) = requested else {
        return Ok(Mv(1));
    };
    if req.eq_ignore_ascii_case("latest") {
        return Ok(Mv(max.1));
    }
    let Some((major, minor)) = parse_microversion(&req) else {
        return Err(ApiError::nova(
            400,
            format!(
                "API Version String {req} is of invalid format. Must be of format MajorNum.MinorNum."
            ),
        ));
    };
    if major != 2 || minor < 1 || minor > max.1 {
        return Err(ApiError::nova(
            406,
            format!(
                "Version {req} is not supported by the API. Minimum is 2.1 and maximum is {}.{}.",
                max.0, max.1
            ),
        ));
    }
    Ok(Mv(minor))
}

async fn microversion(State(sim): State<AppState>, mut req: Request, next: Next) -> Response {
    let mv = match negotiate(req.headers(), sim.max_microversion) {
        Ok(mv) => mv,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(mv);
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("compute 2.{}", mv.0)) {
        h.insert("openstack-api-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("2.{}", mv.0)) {
        h.insert("x-openstack-nova-api-version", v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    );
    resp
}

pub fn routes(sim: AppState) -> Router<AppState> {
    let p = "/compute/v2.1";
    let versioned = Router::new()
        .route(
            &format!("{p}/servers"),
            get(list_servers).post(create_server),
        )
        .route(&format!("{p}/servers/detail"), get(list_servers_detail))
        .route(
            &format!("{p}/servers/{{id}}"),
            get(show_server).put(update_server).delete(delete_server),
        )
        .route(&format!("{p}/servers/{{id}}/action"), post(action))
        .route(&format!("{p}/servers/{{id}}/os-interface"), get(interfaces))
        .route(
            &format!("{p}/servers/{{id}}/os-interface/{{port}}"),
            get(interface),
        )
        .route(
            &format!("{p}/servers/{{id}}/os-volume_attachments"),
            get(volume_attachments),
        )
        .route(
            &format!("{p}/servers/{{id}}/os-volume_attachments/{{vol}}"),
            get(volume_attachment),
        )
        .route(
            &format!("{p}/servers/{{id}}/metadata"),
            get(metadata_get)
                .post(metadata_update)
                .put(metadata_replace),
        )
        .route(
            &format!("{p}/servers/{{id}}/metadata/{{key}}"),
            get(metadata_item)
                .put(metadata_item_set)
                .delete(metadata_item_delete),
        )
        .route(&format!("{p}/flavors"), get(flavors))
        .route(&format!("{p}/flavors/detail"), get(flavors_detail))
        .route(&format!("{p}/flavors/{{id}}"), get(flavor))
        .route(
            &format!("{p}/flavors/{{id}}/os-extra_specs"),
            get(extra_specs),
        )
        .route(&format!("{p}/os-availability-zone"), get(azs))
        .route(&format!("{p}/os-availability-zone/detail"), get(azs_detail))
        .route(&format!("{p}/os-server-groups"), get(server_groups))
        .route(&format!("{p}/os-server-groups/{{id}}"), get(server_group))
        .route(&format!("{p}/limits"), get(limits))
        .route(&format!("{p}/os-keypairs"), get(keypairs))
        .route(&format!("{p}/os-keypairs/{{name}}"), get(keypair))
        .merge(super::nova_moves::routes(p))
        .route_layer(middleware::from_fn_with_state(sim, microversion));
    Router::new()
        .route("/compute", get(versions))
        .route("/compute/", get(versions))
        .route("/compute/v2.1", get(version))
        .route("/compute/v2.1/", get(version))
        .merge(versioned)
}

// ---- version documents ------------------------------------------------------

fn v21_doc(m: &Model, with_media: bool) -> Value {
    let mut v = json!({
        "id": "v2.1",
        "links": [{"href": format!("{}/", m.cfg.compute_url()), "rel": "self"}],
        "status": "CURRENT",
        "version": format!("{}.{}", m.cfg.max_microversion.0, m.cfg.max_microversion.1),
        "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z",
    });
    if with_media {
        v["links"] = json!([
            {"href": format!("{}/", m.cfg.compute_url()), "rel": "self"},
            {"href": "http://docs.openstack.org/", "rel": "describedby", "type": "text/html"}
        ]);
        v["media-types"] = json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]);
    }
    v
}

async fn versions(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    let v20 = json!({
        "id": "v2.0",
        "links": [{"href": format!("{}/compute/v2/", m.cfg.base_url), "rel": "self"}],
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2025-07-04T12:00:00Z",
    });
    json(
        StatusCode::OK,
        &json!({"versions": [v20, v21_doc(&m, false)]}),
    )
}

async fn version(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    json(StatusCode::OK, &json!({"version": v21_doc(&m, true)}))
}

// ---- helpers ----------------------------------------------------------------

pub(super) fn not_found_instance(id: &str) -> ApiError {
    ApiError::nova(404, format!("Instance {id} could not be found."))
}

pub(super) fn forbidden_policy(rule: &str) -> ApiError {
    ApiError::nova(403, format!("Policy doesn't allow {rule} to be performed."))
}

pub(super) fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError::nova(400, msg)
}

pub(super) fn links(m: &Model, collection: &str, id: &str) -> Value {
    json!([
        {"href": format!("{}/{collection}/{id}", m.cfg.compute_url()), "rel": "self"},
        {"href": format!("{}/compute/{collection}/{id}", m.cfg.base_url), "rel": "bookmark"}
    ])
}

/// The last path segment of an id or an href.
fn id_from_ref(r: &str) -> &str {
    r.trim_end_matches('/').rsplit('/').next().unwrap_or(r)
}

fn str_map(v: Option<&Value>, what: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(bad_request(format!(
                    "Invalid input for field/attribute {what}. Value: {other}. {other} is not of type 'string'"
                ))),
            })
            .collect(),
        Some(other) => Err(bad_request(format!(
            "Invalid input for field/attribute {what}. Value: {other}. {other} is not of type 'object'"
        ))),
    }
}

// ---- server views -----------------------------------------------------------

/// One server as Nova's `show`/`detail` view builder renders it.
struct ServerView<'a> {
    m: &'a Model,
    s: &'a Server,
    mv: Mv,
    admin: bool,
    /// `GET /servers/{id}` (and PUT): adds `server_groups` from 2.71.
    show: bool,
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

struct BriefView<'a> {
    m: &'a Model,
    s: &'a Server,
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

// ---- server listing ---------------------------------------------------------

/// Query parameters `GET /servers` knows (others are refused from 2.75).
const SERVER_QUERY_KEYS: &[&str] = &[
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "all_tenants",
    "tenant_id",
    "project_id",
    "user_id",
    "name",
    "status",
    "availability_zone",
    "host",
    "node",
    "ip",
    "ip6",
    "image",
    "flavor",
    "key_name",
    "changes-since",
    "changes-before",
    "locked",
    "reservation_id",
    "deleted",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
    "config_drive",
    "created_at",
    "launched_at",
    "terminated_at",
    "power_state",
    "task_state",
    "vm_state",
    "progress",
    "hostname",
    "uuid",
    "access_ip_v4",
    "access_ip_v6",
    "description",
    "display_name",
    "display_description",
    "instance_name",
    "soft_deleted",
    "locked_by",
    "root_device_name",
    "kernel_id",
    "ramdisk_id",
    "launch_index",
    "pinned_availability_zone",
];

struct Filters {
    all_tenants: bool,
    tenant: Option<String>,
    name: Option<Regex>,
    status: Vec<String>,
    az: Option<String>,
    host: Option<String>,
    ip: Option<Regex>,
    image: Option<String>,
    flavor: Option<String>,
    key_name: Option<String>,
    user_id: Option<String>,
    changes_since: Option<time::OffsetDateTime>,
    changes_before: Option<time::OffsetDateTime>,
    locked: Option<bool>,
}

fn parse_filters(
    q: &[(String, String)],
    caller: &Caller,
    mv: Mv,
    detail: bool,
) -> Result<Filters, ApiError> {
    if mv.at_least(75)
        && let Some((k, v)) = q
            .iter()
            .find(|(k, _)| !SERVER_QUERY_KEYS.contains(&k.as_str()))
    {
        return Err(bad_request(format!(
            "Invalid input for query parameters {k}. Value: {v}. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let all_tenants = query_get(q, "all_tenants").is_some_and(truthy);
    if all_tenants && !caller.is_admin {
        return Err(forbidden_policy(if detail {
            "os_compute_api:servers:detail:get_all_tenants"
        } else {
            "os_compute_api:servers:index:get_all_tenants"
        }));
    }
    // Non-admins may use only some filters; Nova ignores the others.
    let admin = caller.is_admin;
    let newer = mv.at_least(83);
    let regex = |s: &str| {
        Regex::new(s).unwrap_or_else(|_| {
            Regex::new(&regex::escape(s)).unwrap_or_else(|_| Regex::new("$^").expect("valid"))
        })
    };
    let ts = |key: &str| -> Result<Option<time::OffsetDateTime>, ApiError> {
        match query_get(q, key) {
            None => Ok(None),
            Some(v) => parse_timestamp(v)
                .map(Some)
                .ok_or_else(|| bad_request(format!("Invalid filter field: {key}."))),
        }
    };
    let changes_since = ts("changes-since")?;
    let changes_before = if mv.at_least(66) {
        ts("changes-before")?
    } else {
        None
    };
    if let (Some(a), Some(b)) = (changes_since, changes_before)
        && a > b
    {
        return Err(bad_request(format!(
            "The value of changes-since ({}) cannot be greater than changes-before ({}).",
            iso_seconds(a),
            iso_seconds(b)
        )));
    }
    Ok(Filters {
        all_tenants,
        tenant: if all_tenants {
            query_get(q, "project_id")
                .or(query_get(q, "tenant_id"))
                .map(str::to_owned)
        } else {
            None
        },
        name: query_get(q, "name").map(regex),
        status: query_all(q, "status")
            .into_iter()
            .map(|s| s.to_ascii_uppercase())
            .collect(),
        az: query_get(q, "availability_zone")
            .filter(|_| admin || newer)
            .map(str::to_owned),
        host: query_get(q, "host")
            .or(query_get(q, "node"))
            .filter(|_| admin)
            .map(str::to_owned),
        ip: query_get(q, "ip").map(regex),
        image: query_get(q, "image").map(|s| id_from_ref(s).to_owned()),
        flavor: query_get(q, "flavor").map(|s| id_from_ref(s).to_owned()),
        key_name: query_get(q, "key_name")
            .filter(|_| admin || newer)
            .map(str::to_owned),
        user_id: query_get(q, "user_id")
            .filter(|_| admin || newer)
            .map(str::to_owned),
        changes_since,
        changes_before,
        locked: if mv.at_least(73) {
            query_get(q, "locked").map(truthy)
        } else {
            None
        },
    })
}

fn server_matches(
    m: &Model,
    s: &Server,
    f: &Filters,
    caller: &Caller,
    now: time::OffsetDateTime,
) -> bool {
    if let Some(deleted_at) = s.deleted_at {
        // Deleted servers show only to polls with changes-since, for a while.
        let window =
            time::Duration::try_from(m.cfg.timings.deleted_visible).unwrap_or(time::Duration::HOUR);
        if f.changes_since.is_none() || deleted_at < now - window {
            return false;
        }
    }
    if f.all_tenants {
        if let Some(t) = &f.tenant
            && &s.project_id != t
        {
            return false;
        }
    } else if s.project_id != caller.project_id {
        return false;
    }
    if let Some(re) = &f.name
        && !re.is_match(&s.name)
    {
        return false;
    }
    if !f.status.is_empty() && !f.status.iter().any(|st| st == s.status()) {
        return false;
    }
    if let Some(az) = &f.az
        && &m.server_az(s) != az
    {
        return false;
    }
    if let Some(h) = &f.host
        && s.host.map(|i| &m.hosts[i].name) != Some(h)
    {
        return false;
    }
    if let Some(re) = &f.ip
        && !m
            .ports_of(&s.id)
            .iter()
            .any(|p| p.fixed_ips.iter().any(|(a, _)| re.is_match(a)))
    {
        return false;
    }
    if let Some(i) = &f.image
        && s.image_id.as_ref() != Some(i)
    {
        return false;
    }
    if let Some(fl) = &f.flavor
        && &s.flavor.id != fl
    {
        return false;
    }
    if let Some(k) = &f.key_name
        && s.key_name.as_ref() != Some(k)
    {
        return false;
    }
    if let Some(u) = &f.user_id
        && &s.user_id != u
    {
        return false;
    }
    // Nova's database keeps whole seconds, as `updated` shows them.
    let updated = s.updated.replace_nanosecond(0).unwrap_or(s.updated);
    if let Some(cs) = f.changes_since
        && updated < cs
    {
        return false;
    }
    if let Some(cb) = f.changes_before
        && updated > cb
    {
        return false;
    }
    if let Some(l) = f.locked
        && s.locked != l
    {
        return false;
    }
    true
}

pub(super) fn parse_limit(q: &[(String, String)], max: usize) -> Result<usize, ApiError> {
    match query_get(q, "limit") {
        None => Ok(max),
        Some(v) => {
            let n: i64 = v
                .parse()
                .map_err(|_| bad_request("limit param must be an integer"))?;
            if n < 0 {
                return Err(bad_request("limit param must be positive"));
            }
            Ok((n as usize).min(max))
        }
    }
}

pub(super) fn next_link(base: &str, q: &[(String, String)], marker: &str) -> String {
    let mut params: BTreeMap<String, String> = q.iter().cloned().collect();
    params.insert("marker".to_owned(), marker.to_owned());
    let qs = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    format!("{base}?{qs}")
}

fn list(sim: &AppState, caller: &Caller, mv: Mv, raw: Option<String>, detail: bool) -> Response {
    let q = query_pairs(raw.as_deref());
    let filters = match parse_filters(&q, caller, mv, detail) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let now = sim.env.clock.now();
    let m = sim.lock();
    let limit = match parse_limit(&q, m.cfg.max_limit) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let mut end = m.servers.len();
    if let Some(marker) = query_get(&q, "marker") {
        match m.server_index.get(marker) {
            Some(i) => end = *i,
            None => return bad_request(format!("marker [{marker}] not found")).into_response(),
        }
    }
    let mut picked = Vec::with_capacity(limit.min(1024));
    for i in (0..end).rev() {
        if picked.len() >= limit {
            break;
        }
        let s = &m.servers[i];
        if server_matches(&m, s, &filters, caller, now) {
            picked.push(i);
        }
    }
    let mut out: Vec<u8> = Vec::with_capacity(picked.len() * if detail { 2048 } else { 256 });
    out.extend_from_slice(b"{\"servers\":[");
    for (n, i) in picked.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        let s = &m.servers[*i];
        let res = if detail {
            serde_json::to_writer(
                &mut out,
                &ServerView {
                    m: &m,
                    s,
                    mv,
                    admin: caller.is_admin,
                    show: false,
                },
            )
        } else {
            serde_json::to_writer(&mut out, &BriefView { m: &m, s })
        };
        if res.is_err() {
            return ApiError::nova(500, "Unexpected API Error.").into_response();
        }
    }
    out.push(b']');
    if limit > 0
        && picked.len() == limit
        && let Some(last) = picked.last()
    {
        let base = format!(
            "{}/servers{}",
            m.cfg.compute_url(),
            if detail { "/detail" } else { "" }
        );
        let link = json!([{"href": next_link(&base, &q, &m.servers[*last].id), "rel": "next"}]);
        out.extend_from_slice(b",\"servers_links\":");
        out.extend_from_slice(link.to_string().as_bytes());
    }
    out.push(b'}');
    json_bytes(StatusCode::OK, out)
}

async fn list_servers(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    list(&sim, &caller, mv, q, false)
}

async fn list_servers_detail(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    list(&sim, &caller, mv, q, true)
}

fn show_json(m: &Model, i: usize, caller: &Caller, mv: Mv) -> Response {
    let view = ServerView {
        m,
        s: &m.servers[i],
        mv,
        admin: caller.is_admin,
        show: true,
    };
    let mut out = b"{\"server\":".to_vec();
    if serde_json::to_writer(&mut out, &view).is_err() {
        return ApiError::nova(500, "Unexpected API Error.").into_response();
    }
    out.push(b'}');
    json_bytes(StatusCode::OK, out)
}

async fn show_server(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m.visible_server(&id, &caller) {
        Some(i) => show_json(&m, i, &caller, mv),
        None => not_found_instance(&id).into_response(),
    }
}

async fn update_server(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e).into_response(),
    };
    let Some(upd) = body.get("server").and_then(Value::as_object) else {
        return bad_request(
            "Invalid input for field/attribute server. 'server' is a required property",
        )
        .into_response();
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    // Nova refuses the whole update when the pin cannot change.
    let pin = match nova_moves::pinned_az_update(&m, i, upd, mv) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut changed = false;
    if let Some(name) = upd.get("name").and_then(Value::as_str) {
        m.servers[i].name = name.to_owned();
        changed = true;
    }
    if mv.at_least(19)
        && let Some(d) = upd.get("description")
    {
        m.servers[i].description = d.as_str().map(str::to_owned);
        changed = true;
    }
    // The pin lives in Nova's request spec, not in the instance: changing
    // only the pin leaves `updated` alone.
    if let Some(pin) = pin {
        m.servers[i].requested_az = pin;
    }
    if changed {
        m.servers[i].updated = now;
    }
    show_json(&m, i, &caller, mv)
}

async fn delete_server(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let now = sim.env.clock.now();
    let hold = {
        let mut m = sim.lock();
        let Some(i) = m.visible_server(&id, &caller) else {
            return not_found_instance(&id).into_response();
        };
        if let Err(e) = m.delete_server(i, &caller, now, &sim.env) {
            return e.into_response();
        }
        m.answer_hold(i, now, &sim.env)
    };
    if let Some(d) = hold {
        tokio::time::sleep(d).await;
    }
    empty(StatusCode::NO_CONTENT)
}

// ---- server create ----------------------------------------------------------

fn parse_boot(m: &Model, body: &Value, caller: &Caller, mv: Mv) -> Result<BootRequest, ApiError> {
    let Some(s) = body.get("server").filter(|v| v.is_object()) else {
        return Err(bad_request(
            "Invalid input for field/attribute server. 'server' is a required property",
        ));
    };
    let name = str_field(s, "name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            bad_request("Invalid input for field/attribute name. 'name' is a required property")
        })?
        .to_owned();
    let flavor_ref = s
        .get("flavorRef")
        .and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        })
        .ok_or_else(|| {
            bad_request(
                "Invalid input for field/attribute flavorRef. 'flavorRef' is a required property",
            )
        })?;
    let flavor_id = id_from_ref(&flavor_ref);
    let flavor = m
        .flavor(flavor_id)
        .filter(|f| caller.is_admin || m.flavors[*f].public)
        .ok_or_else(|| bad_request(format!("Flavor {flavor_id} could not be found.")))?;
    let fl: &FlavorRec = &m.flavors[flavor];

    // Boot source: an image, or a block device mapping with boot_index 0.
    let image_ref = str_field(s, "imageRef").unwrap_or("");
    let bdms = s
        .get("block_device_mapping_v2")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let boot_bdm = bdms.iter().find(|b| {
        b.get("boot_index")
            .is_some_and(|x| x.as_i64() == Some(0) || x.as_str() == Some("0"))
    });
    let find_image = |id: &str| -> Result<usize, ApiError> {
        let idx = m
            .image(id)
            .filter(|i| m.image_visible(*i, caller))
            .ok_or_else(|| bad_request(format!("Image {id} could not be found.")))?;
        if m.images[idx].status != "active" {
            return Err(bad_request(format!("Image {id} is not active.")));
        }
        Ok(idx)
    };
    let mut image = None;
    let mut boot_volume = None;
    match boot_bdm {
        Some(b) if str_field(b, "destination_type") == Some("volume") => {
            let source = str_field(b, "source_type").unwrap_or("image");
            let uuid = str_field(b, "uuid").unwrap_or("");
            let delete = b
                .get("delete_on_termination")
                .is_some_and(|x| x.as_bool() == Some(true) || x.as_str().is_some_and(truthy));
            match source {
                "volume" => {
                    let v = m
                        .volumes
                        .iter()
                        .position(|x| x.id == uuid && x.status != "deleted")
                        .ok_or_else(|| bad_request(format!("Volume {uuid} could not be found.")))?;
                    if m.volumes[v].status != "available" {
                        return Err(bad_request(format!(
                            "Invalid volume: volume '{uuid}' status must be 'available'. Currently in '{}'",
                            m.volumes[v].status
                        )));
                    }
                    boot_volume = Some(BootVolume::Existing {
                        volume: v,
                        delete_on_termination: delete,
                    });
                }
                "image" | "blank" => {
                    let img = if source == "image" {
                        Some(find_image(uuid)?)
                    } else {
                        None
                    };
                    let size = b
                        .get("volume_size")
                        .and_then(Value::as_u64)
                        .unwrap_or(fl.disk_gb.max(1));
                    boot_volume = Some(BootVolume::New {
                        image: img,
                        size_gb: size,
                        delete_on_termination: delete,
                    });
                }
                other => {
                    return Err(bad_request(format!(
                        "Invalid source_type {other} for a boot volume."
                    )));
                }
            }
        }
        Some(b) => {
            image = Some(find_image(str_field(b, "uuid").unwrap_or(image_ref))?);
        }
        None => {
            if image_ref.is_empty() {
                return Err(bad_request(
                    "Block Device Mapping is Invalid: You specified more local devices than the limit allows",
                ));
            }
            image = Some(find_image(id_from_ref(image_ref))?);
        }
    }
    if let Some(img) = image {
        let im = &m.images[img];
        let flavor_bytes = fl.disk_gb * 1024 * 1024 * 1024;
        if fl.disk_gb > 0 {
            if im.size.is_some_and(|sz| sz > flavor_bytes) {
                return Err(bad_request(format!(
                    "Flavor's disk is too small for requested image. Flavor disk is {flavor_bytes} bytes, image is {} bytes.",
                    im.size.unwrap_or(0)
                )));
            }
            if im.min_disk > fl.disk_gb {
                return Err(bad_request(format!(
                    "Flavor's disk is smaller than the minimum size specified in image metadata. Flavor disk is {flavor_bytes} bytes, minimum size is {} bytes.",
                    im.min_disk * 1024 * 1024 * 1024
                )));
            }
        }
        if im.min_ram > fl.ram_mb {
            return Err(bad_request(
                "Flavor's memory is too small for requested image.",
            ));
        }
    }

    // Availability zone, possibly "az:host" (admin only).
    let mut availability_zone = None;
    let mut forced_host = None;
    if let Some(az) = str_field(s, "availability_zone").filter(|a| !a.is_empty()) {
        let (zone, host) = match az.split_once(':') {
            Some((z, h)) => (z, Some(h.split(':').next().unwrap_or(h))),
            None => (az, None),
        };
        if !zone.is_empty() {
            if !m.azs.iter().any(|a| a == zone) {
                return Err(bad_request(
                    "The requested availability zone is not available",
                ));
            }
            availability_zone = Some(zone.to_owned());
        }
        if let Some(h) = host.filter(|h| !h.is_empty()) {
            if !caller.is_admin {
                return Err(forbidden_policy(
                    "os_compute_api:servers:create:forced_host",
                ));
            }
            let idx = m.hosts.iter().position(|x| x.name == h).ok_or_else(|| {
                bad_request(format!(
                    "No valid host was found. Compute host {h} could not be found."
                ))
            })?;
            forced_host = Some(idx);
        }
    }
    if mv.at_least(74)
        && let Some(h) = str_field(s, "host").or(str_field(s, "hypervisor_hostname"))
    {
        if !caller.is_admin {
            return Err(forbidden_policy(
                "compute:servers:create:requested_destination",
            ));
        }
        let idx = m
            .hosts
            .iter()
            .position(|x| x.name == h)
            .ok_or_else(|| bad_request(format!("Compute host {h} could not be found.")))?;
        if !m.hosts[idx].fits(fl) {
            return Err(bad_request(format!(
                "Host {h} has no room for flavor {}.",
                fl.name
            )));
        }
        forced_host = Some(idx);
    }

    // Networks.
    let visible_nets: Vec<usize> = (0..m.networks.len())
        .filter(|n| m.network_visible(*n, caller) && !m.networks[*n].external)
        .collect();
    let auto = |m: &Model| -> Result<Vec<NetRequest>, ApiError> {
        match visible_nets.as_slice() {
            [] => Err(bad_request(format!(
                "Unable to automatically allocate a network for project {}",
                caller.project_id
            ))),
            [one] => Ok(vec![NetRequest::Network(*one, None)]),
            many => {
                // Nova prefers the project's own network when several are visible.
                let own: Vec<_> = many
                    .iter()
                    .filter(|n| m.networks[**n].project_id == caller.project_id)
                    .collect();
                if own.len() == 1 {
                    Ok(vec![NetRequest::Network(*own[0], None)])
                } else {
                    Err(ApiError::nova(
                        409,
                        "Multiple possible networks found, use a Network ID to be more specific.",
                    ))
                }
            }
        }
    };
    let networks = match s.get("networks") {
        None => {
            if mv.at_least(37) {
                return Err(bad_request(
                    "Invalid input for field/attribute networks. 'networks' is a required property",
                ));
            }
            auto(m)?
        }
        Some(Value::String(x)) if x == "none" && mv.at_least(37) => Vec::new(),
        Some(Value::String(x)) if x == "auto" && mv.at_least(37) => auto(m)?,
        Some(Value::Array(list)) => {
            let mut out = Vec::new();
            for n in list {
                if let Some(port) = str_field(n, "port") {
                    let p = m
                        .ports
                        .get(port)
                        .filter(|p| caller.is_admin || p.project_id == caller.project_id)
                        .ok_or_else(|| bad_request(format!("Port {port} could not be found.")))?;
                    if !p.device_id.is_empty() {
                        return Err(ApiError::nova(409, format!("Port {port} is still in use.")));
                    }
                    out.push(NetRequest::Port(port.to_owned()));
                } else if let Some(uuid) = str_field(n, "uuid") {
                    let net = m
                        .networks
                        .iter()
                        .position(|x| x.id == uuid)
                        .filter(|i| m.network_visible(*i, caller))
                        .ok_or_else(|| {
                            bad_request(format!("Network {uuid} could not be found."))
                        })?;
                    out.push(NetRequest::Network(
                        net,
                        str_field(n, "fixed_ip").map(str::to_owned),
                    ));
                } else {
                    return Err(bad_request(
                        "Bad networks format: network uuid is not in proper format",
                    ));
                }
            }
            out
        }
        Some(other) => {
            return Err(bad_request(format!(
                "Invalid input for field/attribute networks. Value: {other}."
            )));
        }
    };

    let security_groups: Vec<String> = match s.get("security_groups").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(|g| str_field(g, "name").map(str::to_owned))
            .collect(),
        None => vec!["default".to_owned()],
    };
    if !networks.is_empty() {
        m.resolve_security_groups(&caller.project_id, &security_groups)
            .map_err(|_| {
                bad_request(format!(
                    "Security group {} not found for project {}.",
                    security_groups.join(", "),
                    caller.project_id
                ))
            })?;
    }
    let key_name = str_field(s, "key_name").map(str::to_owned);
    if let Some(k) = &key_name
        && !m
            .keypairs
            .iter()
            .any(|x| &x.name == k && x.user_id == caller.user_id)
    {
        return Err(bad_request("Invalid key_name provided."));
    }
    let hints = body
        .get("OS-SCH-HNT:scheduler_hints")
        .or(body.get("os:scheduler_hints"))
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default();
    let group = match hints.get("group").and_then(Value::as_str) {
        Some(g) => Some(
            m.server_groups
                .iter()
                .position(|x| x.id == g)
                .ok_or_else(|| bad_request(format!("Server group {g} could not be found.")))?,
        ),
        None => None,
    };
    let count = s
        .get("max_count")
        .or(s.get("min_count"))
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|x| x.parse().ok()))
        })
        .unwrap_or(1);
    if count != 1 {
        return Err(bad_request(
            "The simulated cloud boots one server per request (min_count/max_count 1).",
        ));
    }
    Ok(BootRequest {
        name,
        flavor,
        image,
        boot_volume,
        availability_zone,
        forced_host,
        networks,
        security_groups,
        key_name,
        metadata: str_map(s.get("metadata"), "metadata")?,
        user_data: str_field(s, "user_data").map(str::to_owned),
        config_drive: s.get("config_drive").is_some_and(|v| {
            v.as_bool() == Some(true) || v.as_str().is_some_and(|x| truthy(x) && !x.is_empty())
        }),
        description: if mv.at_least(19) {
            str_field(s, "description").map(str::to_owned)
        } else {
            None
        },
        tags: if mv.at_least(52) {
            s.get("tags")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        },
        hints,
        group,
        disk_config: if str_field(s, "OS-DCF:diskConfig") == Some("AUTO") {
            "AUTO"
        } else {
            "MANUAL"
        },
        access_ipv4: str_field(s, "accessIPv4").unwrap_or("").to_owned(),
        access_ipv6: str_field(s, "accessIPv6").unwrap_or("").to_owned(),
    })
}

async fn create_server(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e).into_response(),
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let req = match parse_boot(&m, &body, &caller, mv) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let sgs = req.security_groups.clone();
    let i = match m.create_server(req, &caller, now, &sim.env) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let alphabet = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut seed = m.random_u64();
    let pass: String = (0..12)
        .map(|_| {
            let c = alphabet[(seed % alphabet.len() as u64) as usize] as char;
            seed /= alphabet.len() as u64;
            if seed == 0 {
                seed = 0x9E37_79B9_7F4A_7C15;
            }
            c
        })
        .collect();
    let s = &m.servers[i];
    let link = format!("{}/servers/{}", m.cfg.compute_url(), s.id);
    let body = json!({"server": {
        "id": s.id,
        "links": links(&m, "servers", &s.id),
        "OS-DCF:diskConfig": s.disk_config,
        "security_groups": sgs.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
        "adminPass": pass,
    }});
    drop(m);
    let mut resp = json(StatusCode::ACCEPTED, &body);
    if let Ok(v) = HeaderValue::from_str(&link) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

// ---- server actions ---------------------------------------------------------

async fn action(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e).into_response(),
    };
    let Some((name, arg)) = body.as_object().and_then(|o| o.iter().next()) else {
        return bad_request("Malformed request body").into_response();
    };
    let now = sim.env.clock.now();
    let resp = server_action(&sim, &caller, mv, &id, name, arg, now);
    // An action that set a task answers once its "save" is done (see races).
    if resp.status().is_success() {
        let hold = {
            let m = sim.lock();
            m.server(&id).and_then(|i| m.answer_hold(i, now, &sim.env))
        };
        if let Some(d) = hold {
            tokio::time::sleep(d).await;
        }
    }
    resp
}

/// One server action, under the model's lock.
fn server_action(
    sim: &AppState,
    caller: &Caller,
    mv: Mv,
    id: &str,
    name: &str,
    arg: &Value,
    now: time::OffsetDateTime,
) -> Response {
    let mut m = sim.lock();
    let Some(i) = m.visible_server(id, caller) else {
        return not_found_instance(id).into_response();
    };
    let env = &sim.env;
    let result = match name {
        "createImage" => {
            let Some(img_name) = str_field(arg, "name") else {
                return bad_request(format!(
                    "Invalid input for field/attribute createImage. Value: {arg}. 'name' is a required property"
                ))
                .into_response();
            };
            let meta = match str_map(arg.get("metadata"), "metadata") {
                Ok(x) => x,
                Err(e) => return e.into_response(),
            };
            match m.snapshot_server(i, img_name.to_owned(), meta, caller, now, env) {
                Ok(image_id) => {
                    if mv.at_least(45) {
                        return json(StatusCode::ACCEPTED, &json!({"image_id": image_id}));
                    }
                    let mut resp = empty(StatusCode::ACCEPTED);
                    let loc = format!("{}/images/{image_id}", m.cfg.image_url());
                    if let Ok(v) = HeaderValue::from_str(&loc) {
                        resp.headers_mut().insert(header::LOCATION, v);
                    }
                    return resp;
                }
                Err(e) => Err(e),
            }
        }
        "os-stop" => m.stop_server(i, caller, now, env),
        "os-start" => m.start_server(i, caller, now, env),
        "shelve" => m.shelve_server(i, caller, now, env),
        "shelveOffload" => {
            if !caller.is_admin {
                return forbidden_policy("os_compute_api:os-shelve:shelve_offload").into_response();
            }
            m.shelve_offload_server(i, caller, now, env)
        }
        "unshelve" => match nova_moves::unshelve_request(arg, mv) {
            Ok(req) => m.unshelve_server(i, req, caller, now, env),
            Err(e) => Err(e),
        },
        "migrate" => {
            return nova_moves::migrate(&mut m, i, arg, caller, mv, now, env)
                .unwrap_or_else(IntoResponse::into_response);
        }
        "os-migrateLive" => {
            return nova_moves::live_migrate(&mut m, i, arg, caller, mv, now, env)
                .unwrap_or_else(IntoResponse::into_response);
        }
        "confirmResize" => {
            // Nova answers 204 here (202 would have been right, it says).
            return match m.confirm_resize(i, caller, now, env) {
                Ok(()) => empty(StatusCode::NO_CONTENT),
                Err(e) => e.into_response(),
            };
        }
        "revertResize" => m.revert_resize(i, caller, now, env),
        "lock" => {
            let s = &mut m.servers[i];
            s.locked = true;
            s.locked_reason = if mv.at_least(73) {
                str_field(arg, "locked_reason").map(str::to_owned)
            } else {
                None
            };
            s.updated = now;
            Ok(())
        }
        "unlock" => {
            let s = &mut m.servers[i];
            s.locked = false;
            s.locked_reason = None;
            s.updated = now;
            Ok(())
        }
        other => return bad_request(format!("There is no such action: {other}")).into_response(),
    };
    match result {
        Ok(()) => empty(StatusCode::ACCEPTED),
        Err(e) => e.into_response(),
    }
}

// ---- server sub-resources ---------------------------------------------------

fn interface_json(m: &Model, p: &crate::sim::model::Port, mv: Mv) -> Value {
    let mut v = json!({
        "port_state": p.status,
        "fixed_ips": p.fixed_ips.iter().map(|(ip, sub)| json!({"subnet_id": m.subnets[*sub].id, "ip_address": ip})).collect::<Vec<_>>(),
        "port_id": p.id,
        "net_id": m.networks[p.network].id,
        "mac_addr": p.mac,
    });
    if mv.at_least(70) {
        v["tag"] = Value::Null;
    }
    v
}

async fn interfaces(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    let list: Vec<Value> = m
        .ports_of(&m.servers[i].id)
        .iter()
        .map(|p| interface_json(&m, p, mv))
        .collect();
    json(StatusCode::OK, &json!({"interfaceAttachments": list}))
}

async fn interface(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path((id, port)): Path<(String, String)>,
) -> Response {
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    match m.ports_of(&m.servers[i].id).iter().find(|p| p.id == port) {
        Some(p) => json(
            StatusCode::OK,
            &json!({"interfaceAttachment": interface_json(&m, p, mv)}),
        ),
        None => ApiError::nova(404, format!("Port {port} is not attached")).into_response(),
    }
}

fn attachment_json(s: &Server, v: &crate::sim::model::ServerVolume, mv: Mv) -> Value {
    let mut out = json!({
        "device": v.device,
        "serverId": s.id,
        "volumeId": v.volume_id,
    });
    if mv.at_least(89) {
        out["attachment_id"] = json!(v.attachment_id);
        out["bdm_uuid"] = json!(v.bdm_uuid);
    } else {
        out["id"] = json!(v.volume_id);
    }
    if mv.at_least(70) {
        out["tag"] = Value::Null;
    }
    if mv.at_least(79) {
        out["delete_on_termination"] = json!(v.delete_on_termination);
    }
    out
}

async fn volume_attachments(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    let s = &m.servers[i];
    let list: Vec<Value> = s
        .volumes
        .iter()
        .map(|v| attachment_json(s, v, mv))
        .collect();
    json(StatusCode::OK, &json!({"volumeAttachments": list}))
}

async fn volume_attachment(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path((id, vol)): Path<(String, String)>,
) -> Response {
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    let s = &m.servers[i];
    match s.volumes.iter().find(|v| v.volume_id == vol) {
        Some(v) => json(
            StatusCode::OK,
            &json!({"volumeAttachment": attachment_json(s, v, mv)}),
        ),
        None => ApiError::nova(
            404,
            format!("Volume {vol} is not attached to the instance {id}."),
        )
        .into_response(),
    }
}

async fn metadata_get(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m.visible_server(&id, &caller) {
        Some(i) => json(StatusCode::OK, &json!({"metadata": m.servers[i].metadata})),
        None => not_found_instance(&id).into_response(),
    }
}

fn change_metadata(
    sim: &AppState,
    caller: &Caller,
    id: &str,
    body: &Bytes,
    replace: bool,
) -> Response {
    let body = match parse_json(body) {
        Ok(v) => v,
        Err(e) => return bad_request(e).into_response(),
    };
    let new = match str_map(body.get("metadata"), "metadata") {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.visible_server(id, caller) else {
        return not_found_instance(id).into_response();
    };
    if let Err(e) = m.check_metadata_write(i, "update metadata", caller) {
        return e.into_response();
    }
    let s = &mut m.servers[i];
    if replace {
        s.metadata = new;
    } else {
        s.metadata.extend(new);
    }
    s.updated = now;
    json(StatusCode::OK, &json!({"metadata": s.metadata}))
}

async fn metadata_update(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    change_metadata(&sim, &caller, &id, &body, false)
}

async fn metadata_replace(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    change_metadata(&sim, &caller, &id, &body, true)
}

async fn metadata_item(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    match m.servers[i].metadata.get(&key) {
        Some(v) => json(StatusCode::OK, &json!({"meta": {key: v}})),
        None => ApiError::nova(404, "Metadata item was not found").into_response(),
    }
}

async fn metadata_item_set(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e).into_response(),
    };
    let meta = match str_map(body.get("meta"), "meta") {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let Some(value) = meta.get(&key).cloned().filter(|_| meta.len() == 1) else {
        return bad_request("Request body and URI mismatch").into_response();
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    if let Err(e) = m.check_metadata_write(i, "update metadata", &caller) {
        return e.into_response();
    }
    let s = &mut m.servers[i];
    s.metadata.insert(key.clone(), value.clone());
    s.updated = now;
    json(StatusCode::OK, &json!({"meta": {key: value}}))
}

async fn metadata_item_delete(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    // Nova looks for the key before it checks the server's state.
    if !m.servers[i].metadata.contains_key(&key) {
        return ApiError::nova(404, "Metadata item was not found").into_response();
    }
    if let Err(e) = m.check_metadata_write(i, "delete metadata", &caller) {
        return e.into_response();
    }
    let s = &mut m.servers[i];
    s.metadata.remove(&key);
    s.updated = now;
    empty(StatusCode::NO_CONTENT)
}

// ---- flavors ----------------------------------------------------------------

fn flavor_json(m: &Model, f: &FlavorRec, mv: Mv, detail: bool) -> Value {
    let mut v = json!({"id": f.id, "name": f.name, "links": links(m, "flavors", &f.id)});
    if mv.at_least(55) {
        v["description"] = json!(f.description);
    }
    if !detail {
        return v;
    }
    v["ram"] = json!(f.ram_mb);
    v["disk"] = json!(f.disk_gb);
    v["vcpus"] = json!(f.vcpus);
    v["OS-FLV-EXT-DATA:ephemeral"] = json!(f.ephemeral_gb);
    v["swap"] = if mv.at_least(75) || f.swap_mb > 0 {
        json!(f.swap_mb)
    } else {
        json!("")
    };
    v["os-flavor-access:is_public"] = json!(f.public);
    if !mv.at_least(102) {
        v["OS-FLV-DISABLED:disabled"] = json!(false);
        v["rxtx_factor"] = json!(1.0);
    }
    if mv.at_least(61) {
        v["extra_specs"] = json!(f.extra_specs);
    }
    v
}

fn list_flavors(
    sim: &AppState,
    caller: &Caller,
    mv: Mv,
    raw: Option<String>,
    detail: bool,
) -> Response {
    let q = query_pairs(raw.as_deref());
    let m = sim.lock();
    let is_public = query_get(&q, "is_public").map(|v| v.to_ascii_lowercase());
    let min_ram: u64 = query_get(&q, "minRam")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let min_disk: u64 = query_get(&q, "minDisk")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut flavors: Vec<&FlavorRec> = m
        .flavors
        .iter()
        .filter(|f| match (caller.is_admin, is_public.as_deref()) {
            (true, Some("none")) => true,
            (true, Some(v)) => f.public == truthy(v),
            (true, None) | (false, _) => f.public,
        })
        .filter(|f| f.ram_mb >= min_ram && f.disk_gb >= min_disk)
        .collect();
    flavors.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(marker) = query_get(&q, "marker") {
        match flavors.iter().position(|f| f.id == marker) {
            Some(p) => flavors.drain(..=p).for_each(drop),
            None => return bad_request(format!("marker [{marker}] not found")).into_response(),
        }
    }
    let limit = match parse_limit(&q, m.cfg.max_limit) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let full = flavors.len() > limit;
    flavors.truncate(limit);
    let list: Vec<Value> = flavors
        .iter()
        .map(|f| flavor_json(&m, f, mv, detail))
        .collect();
    let mut body = json!({"flavors": list});
    if full && let Some(last) = flavors.last() {
        let base = format!(
            "{}/flavors{}",
            m.cfg.compute_url(),
            if detail { "/detail" } else { "" }
        );
        body["flavors_links"] = json!([{"href": next_link(&base, &q, &last.id), "rel": "next"}]);
    }
    json(StatusCode::OK, &body)
}

async fn flavors(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    list_flavors(&sim, &caller, mv, q, false)
}

async fn flavors_detail(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    list_flavors(&sim, &caller, mv, q, true)
}

async fn flavor(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .flavor(&id)
        .filter(|f| caller.is_admin || m.flavors[*f].public)
    {
        Some(f) => json(
            StatusCode::OK,
            &json!({"flavor": flavor_json(&m, &m.flavors[f], mv, true)}),
        ),
        None => ApiError::nova(404, format!("Flavor {id} could not be found.")).into_response(),
    }
}

async fn extra_specs(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .flavor(&id)
        .filter(|f| caller.is_admin || m.flavors[*f].public)
    {
        Some(f) => json(
            StatusCode::OK,
            &json!({"extra_specs": m.flavors[f].extra_specs}),
        ),
        None => ApiError::nova(404, format!("Flavor {id} could not be found.")).into_response(),
    }
}

// ---- availability zones -----------------------------------------------------

/// AZs that have compute hosts, and whether any of them is enabled.
fn zones(m: &Model) -> Vec<(String, bool)> {
    m.azs
        .iter()
        .filter(|az| m.hosts.iter().any(|h| &h.az == *az))
        .map(|az| (az.clone(), m.hosts.iter().any(|h| &h.az == az && h.enabled)))
        .collect()
}

async fn azs(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    let list: Vec<Value> = zones(&m)
        .into_iter()
        .map(|(name, up)| json!({"zoneName": name, "zoneState": {"available": up}, "hosts": null}))
        .collect();
    json(StatusCode::OK, &json!({"availabilityZoneInfo": list}))
}

async fn azs_detail(State(sim): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if !caller.is_admin {
        return forbidden_policy("os_compute_api:os-availability-zone:detail").into_response();
    }
    let m = sim.lock();
    let svc = |up: bool| json!({"active": up, "available": up, "updated_at": null});
    let mut list = vec![json!({
        "zoneName": "internal",
        "zoneState": {"available": true},
        "hosts": {
            "conductor": {"nova-conductor": svc(true)},
            "scheduler": {"nova-scheduler": svc(true)}
        }
    })];
    for (name, up) in zones(&m) {
        let mut hosts = serde_json::Map::new();
        for h in m.hosts.iter().filter(|h| h.az == name) {
            hosts.insert(h.name.clone(), json!({"nova-compute": svc(h.enabled)}));
        }
        list.push(json!({"zoneName": name, "zoneState": {"available": up}, "hosts": hosts}));
    }
    json(StatusCode::OK, &json!({"availabilityZoneInfo": list}))
}

// ---- server groups, limits, keypairs ---------------------------------------

fn group_json(g: &crate::sim::model::ServerGroup, mv: Mv) -> Value {
    let mut v = json!({"id": g.id, "name": g.name, "members": g.members});
    if mv.at_least(64) {
        v["policy"] = json!(g.policy);
        v["rules"] = json!({});
    } else {
        v["policies"] = json!([g.policy]);
        v["metadata"] = json!({});
    }
    if mv.at_least(13) {
        v["project_id"] = json!(g.project_id);
        v["user_id"] = json!(g.user_id);
    }
    v
}

async fn server_groups(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = query_pairs(q.as_deref());
    let all = caller.is_admin && query_get(&q, "all_projects").is_some_and(truthy);
    let m = sim.lock();
    let list: Vec<Value> = m
        .server_groups
        .iter()
        .filter(|g| all || g.project_id == caller.project_id)
        .map(|g| group_json(g, mv))
        .collect();
    json(StatusCode::OK, &json!({"server_groups": list}))
}

async fn server_group(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .server_groups
        .iter()
        .find(|g| g.id == id && (caller.is_admin || g.project_id == caller.project_id))
    {
        Some(g) => json(StatusCode::OK, &json!({"server_group": group_json(g, mv)})),
        None => {
            ApiError::nova(404, format!("Instance group {id} could not be found.")).into_response()
        }
    }
}

async fn limits(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
) -> Response {
    let m = sim.lock();
    let (n, cores, ram) = m.usage(&caller.project_id);
    let quota = m
        .project_by_id(&caller.project_id)
        .map(|p| m.projects[p].quota.clone());
    let (qi, qc, qr) = quota
        .map(|q| (q.instances, q.cores, q.ram_mb))
        .unwrap_or((-1, -1, -1));
    let groups = m
        .server_groups
        .iter()
        .filter(|g| g.project_id == caller.project_id)
        .count();
    let mut abs = json!({
        "maxServerMeta": 128,
        "maxTotalCores": qc,
        "maxTotalInstances": qi,
        "maxTotalKeypairs": 100,
        "maxTotalRAMSize": qr,
        "maxServerGroups": 10,
        "maxServerGroupMembers": 10,
        "totalCoresUsed": cores,
        "totalInstancesUsed": n,
        "totalRAMUsed": ram,
        "totalServerGroupsUsed": groups,
    });
    if !mv.at_least(36) {
        abs["maxSecurityGroups"] = json!(10);
        abs["maxSecurityGroupRules"] = json!(20);
        abs["maxTotalFloatingIps"] = json!(10);
        abs["totalFloatingIpsUsed"] = json!(0);
        abs["totalSecurityGroupsUsed"] = json!(0);
    }
    if !mv.at_least(39) {
        abs["maxImageMeta"] = json!(128);
    }
    if !mv.at_least(57) {
        abs["maxPersonality"] = json!(5);
        abs["maxPersonalitySize"] = json!(10240);
    }
    json(
        StatusCode::OK,
        &json!({"limits": {"absolute": abs, "rate": []}}),
    )
}

async fn keypairs(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
) -> Response {
    let m = sim.lock();
    let list: Vec<Value> = m
        .keypairs
        .iter()
        .filter(|k| k.user_id == caller.user_id)
        .map(|k| {
            let mut v =
                json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint});
            if mv.at_least(2) {
                v["type"] = json!("ssh");
            }
            json!({"keypair": v})
        })
        .collect();
    json(StatusCode::OK, &json!({"keypairs": list}))
}

async fn keypair(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(name): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .keypairs
        .iter()
        .find(|k| k.name == name && k.user_id == caller.user_id)
    {
        Some(k) => {
            let mut v = json!({
                "name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint,
                "user_id": k.user_id, "deleted": false, "created_at": iso_micros(k.created_at),
                "updated_at": null, "deleted_at": null, "id": 1,
            });
            if mv.at_least(2) {
                v["type"] = json!("ssh");
            }
            json(StatusCode::OK, &json!({"keypair": v}))
        }
        None => ApiError::nova(
            404,
            format!("Keypair {name} not found for user {}", caller.user_id),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn microversion_negotiation_follows_nova() {
        let max = (2, 104);
        assert_eq!(negotiate(&headers(&[]), max).unwrap(), Mv(1));
        assert_eq!(
            negotiate(&headers(&[("openstack-api-version", "compute 2.47")]), max).unwrap(),
            Mv(47)
        );
        assert_eq!(
            negotiate(
                &headers(&[("openstack-api-version", "image 2.1, compute latest")]),
                max
            )
            .unwrap(),
            Mv(104)
        );
        assert_eq!(
            negotiate(&headers(&[("x-openstack-nova-api-version", "2.60")]), max).unwrap(),
            Mv(60)
        );
        let e =
            negotiate(&headers(&[("openstack-api-version", "compute 2.200")]), max).unwrap_err();
        assert_eq!(e.status, StatusCode::NOT_ACCEPTABLE);
        assert!(
            e.body_text()
                .contains("Minimum is 2.1 and maximum is 2.104")
        );
        let e = negotiate(&headers(&[("openstack-api-version", "compute two")]), max).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn refs_may_be_hrefs() {
        assert_eq!(id_from_ref("http://x/compute/flavors/1"), "1");
        assert_eq!(id_from_ref("abc"), "abc");
    }
}
