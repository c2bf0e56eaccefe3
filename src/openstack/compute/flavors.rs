//! What a server may use: the flavors, and the project's compute quota.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::openstack::client::Client;
use crate::openstack::error::Error;
use crate::openstack::paging::{Link, Page};
use crate::plan::inventory::{Flavor, Quota, QuotaUse};

#[derive(Deserialize)]
struct FlavorListWire {
    flavors: Vec<FlavorDetailWire>,
    #[serde(default)]
    flavors_links: Vec<Link>,
}

#[derive(Deserialize)]
struct FlavorDetailWire {
    id: String,
    name: String,
    vcpus: u32,
    ram: u64,
    disk: u64,
    #[serde(rename = "os-flavor-access:is_public", default = "yes")]
    is_public: bool,
    #[serde(default)]
    extra_specs: Option<BTreeMap<String, Value>>,
}

fn yes() -> bool {
    true
}

/// Parses `GET /flavors/detail`; `extra_specs` are there from 2.61 and
/// empty before.
pub fn parse_flavor_list(body: &[u8]) -> Result<Page<Flavor>, serde_json::Error> {
    let wire: FlavorListWire = serde_json::from_slice(body)?;
    Ok(Page::linked(
        wire.flavors,
        &wire.flavors_links,
        |f| Some(f.id.clone()),
        |f| Flavor {
            id: f.id,
            name: f.name,
            vcpus: f.vcpus,
            ram_mb: f.ram,
            disk_gb: f.disk,
            is_public: f.is_public,
            extra_specs: f
                .extra_specs
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
        },
    ))
}

#[derive(Deserialize)]
struct LimitsWire {
    limits: LimitsInner,
}

#[derive(Deserialize)]
struct LimitsInner {
    absolute: AbsoluteWire,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AbsoluteWire {
    max_total_instances: i64,
    #[serde(default)]
    total_instances_used: i64,
    max_total_cores: i64,
    #[serde(default)]
    total_cores_used: i64,
    #[serde(rename = "maxTotalRAMSize")]
    max_total_ram_size: i64,
    #[serde(rename = "totalRAMUsed", default)]
    total_ram_used: i64,
}

fn quota_use(limit: i64, used: i64) -> QuotaUse {
    QuotaUse {
        limit: u64::try_from(limit).ok(),
        used: u64::try_from(used).unwrap_or(0),
    }
}

/// Parses `GET /limits` (absolute limits; -1 means unlimited).
pub fn parse_limits(body: &[u8]) -> Result<Quota, serde_json::Error> {
    let a = serde_json::from_slice::<LimitsWire>(body)?.limits.absolute;
    Ok(Quota {
        instances: quota_use(a.max_total_instances, a.total_instances_used),
        cores: quota_use(a.max_total_cores, a.total_cores_used),
        ram_mb: quota_use(a.max_total_ram_size, a.total_ram_used),
    })
}

impl Client {
    /// Every flavor visible to the project (`extra_specs` from 2.61).
    pub async fn list_flavors(&self) -> Result<Vec<Flavor>, Error> {
        let mut req = self.compute_request(Method::GET, &["flavors", "detail"]);
        req.url
            .query_pairs_mut()
            .append_pair("limit", &self.page_size().to_string());
        self.all_pages(&req, parse_flavor_list)
            .await
            .map(|(flavors, _)| flavors)
    }

    /// The project's compute quota and usage (`GET /limits`).
    pub async fn limits(&self) -> Result<Quota, Error> {
        let req = self.compute_request(Method::GET, &["limits"]);
        self.send_parse(&req, parse_limits).await
    }
}
