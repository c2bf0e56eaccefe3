//! The query of `GET /servers`: which parameters it knows, and which
//! servers match them for a caller.

use regex::Regex;

use super::{Mv, bad_request, forbidden_policy, id_from_ref};
use crate::sim::api::{query_all, query_get, truthy};
use crate::sim::clock::{iso_seconds, parse_timestamp};
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Model, Server};

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

pub(super) struct Filters {
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

pub(super) fn parse_filters(
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

pub(super) fn server_matches(
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
