//! Servers as Nova describes them: reading one or a filtered list, deleting
//! one, and the metadata azmove tags them with.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use reqwest::Method;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use url::Url;

use super::non_empty;
use crate::openstack::client::Client;
use crate::openstack::error::Error;
use crate::openstack::microversion::features;
use crate::openstack::paging::{Link, Page};
use crate::plan::inventory::{Address, FlavorRef, Server};

#[derive(Deserialize)]
struct ServerListWire {
    servers: Vec<ServerWire>,
    #[serde(default)]
    servers_links: Vec<Link>,
}

#[derive(Deserialize)]
struct ServerOneWire {
    server: ServerWire,
}

#[derive(Deserialize)]
struct ServerWire {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: String,
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    task_state: Option<String>,
    #[serde(rename = "OS-EXT-AZ:availability_zone", default)]
    availability_zone: Option<String>,
    #[serde(rename = "OS-EXT-SRV-ATTR:hypervisor_hostname", default)]
    hypervisor_hostname: Option<String>,
    #[serde(rename = "OS-EXT-SRV-ATTR:host", default)]
    host: Option<String>,
    #[serde(default)]
    flavor: Option<FlavorWire>,
    #[serde(default)]
    image: ImageField,
    #[serde(default)]
    addresses: AddressesWire,
    #[serde(default)]
    security_groups: Option<Vec<NameWire>>,
    #[serde(default)]
    key_name: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(rename = "os-extended-volumes:volumes_attached", default)]
    volumes_attached: Vec<IdWire>,
    #[serde(rename = "OS-EXT-SRV-ATTR:user_data", default)]
    user_data: Option<String>,
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    updated: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    fault: Option<FaultWire>,
    #[serde(default)]
    locked: Option<bool>,
    #[serde(default)]
    pinned_availability_zone: Option<String>,
}

/// Before 2.47 `{"id": "1", "links": […]}`; from 2.47 the flavor itself
/// (`original_name`, `vcpus`, `ram`, `disk`, …) without the id.
#[derive(Deserialize)]
struct FlavorWire {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    original_name: Option<String>,
    #[serde(default)]
    vcpus: Option<u32>,
    #[serde(default)]
    ram: Option<u64>,
    #[serde(default)]
    disk: Option<u64>,
}

/// `addresses` in the order Nova sends it: Nova builds it from the
/// instance's network info, so the networks come in the order of the
/// server's NICs, which a map keyed by name would lose.
#[derive(Default)]
struct AddressesWire(Vec<(String, Vec<AddressWire>)>);

impl<'de> Deserialize<'de> for AddressesWire {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AddressesWire;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of network names to address lists")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AddressesWire, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Vec<AddressWire>>()? {
                    out.push(entry);
                }
                Ok(AddressesWire(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// `"image": ""` for a server booted from a volume, else `{"id": …}`.
#[derive(Default)]
struct ImageField(Option<String>);

impl<'de> Deserialize<'de> for ImageField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ImageField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an image reference object or an empty string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<ImageField, E> {
                Ok(ImageField(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ImageField, E> {
                Ok(ImageField(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<ImageField, E> {
                Ok(ImageField(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ImageField, A::Error> {
                let mut id = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "id" {
                        id = map.next_value::<Option<String>>()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(ImageField(id.filter(|s| !s.is_empty())))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct AddressWire {
    addr: String,
    #[serde(rename = "OS-EXT-IPS:type", default)]
    kind: Option<String>,
    #[serde(rename = "OS-EXT-IPS-MAC:mac_addr", default)]
    mac: Option<String>,
}

#[derive(Deserialize)]
struct NameWire {
    name: String,
}

#[derive(Deserialize)]
struct IdWire {
    id: String,
}

#[derive(Deserialize)]
struct FaultWire {
    #[serde(default)]
    message: Option<String>,
}

impl From<ServerWire> for Server {
    fn from(w: ServerWire) -> Server {
        let mut security_groups: Vec<String> = Vec::new();
        // Nova lists a group once per port; keep each name once.
        for sg in w.security_groups.unwrap_or_default() {
            if !security_groups.contains(&sg.name) {
                security_groups.push(sg.name);
            }
        }
        let flavor = w
            .flavor
            .map(|f| FlavorRef {
                id: f.id,
                original_name: f.original_name,
                vcpus: f.vcpus,
                ram_mb: f.ram,
                disk_gb: f.disk,
            })
            .unwrap_or_default();
        Server {
            id: w.id,
            name: w.name,
            status: w.status,
            task_state: non_empty(w.task_state),
            availability_zone: non_empty(w.availability_zone),
            host: non_empty(w.hypervisor_hostname).or(non_empty(w.host)),
            flavor,
            image_id: w.image.0,
            network_order: w.addresses.0.iter().map(|(net, _)| net.clone()).collect(),
            addresses: w
                .addresses
                .0
                .into_iter()
                .map(|(net, addrs)| {
                    let addrs = addrs
                        .into_iter()
                        .map(|a| Address {
                            addr: a.addr,
                            kind: a.kind,
                            mac: a.mac,
                        })
                        .collect();
                    (net, addrs)
                })
                .collect(),
            security_groups,
            key_name: non_empty(w.key_name),
            metadata: w.metadata,
            volumes_attached: w.volumes_attached.into_iter().map(|v| v.id).collect(),
            user_data: non_empty(w.user_data),
            tenant_id: w.tenant_id,
            updated: w.updated.unwrap_or_default(),
            created: w.created.unwrap_or_default(),
            fault: w.fault.and_then(|f| non_empty(f.message)),
            locked: w.locked.unwrap_or(false),
            pinned_availability_zone: non_empty(w.pinned_availability_zone),
            ports: Vec::new(),
        }
    }
}

/// Parses `GET /servers/detail`. The shape tells the microversion's
/// variations apart (embedded flavor from 2.47, `pinned_availability_zone`
/// from 2.96), so no version is needed to read it.
pub fn parse_server_list(body: &[u8]) -> Result<Page<Server>, serde_json::Error> {
    let wire: ServerListWire = serde_json::from_slice(body)?;
    Ok(Page::linked(
        wire.servers,
        &wire.servers_links,
        |s| Some(s.id.clone()),
        Server::from,
    ))
}

/// Parses `GET /servers/{id}` (and the `PUT` answer).
pub fn parse_server(body: &[u8]) -> Result<Server, serde_json::Error> {
    let wire: ServerOneWire = serde_json::from_slice(body)?;
    Ok(wire.server.into())
}

/// Filters of `GET /servers/detail`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerQuery {
    /// Regular expression on the name (Nova matches it as a regex).
    pub name: Option<String>,
    /// Admin only by default policy.
    pub availability_zone: Option<String>,
    /// Compute host; admin only.
    pub host: Option<String>,
    /// Servers of every project; admin only.
    pub all_tenants: bool,
    /// ISO 8601 time: only servers changed since (deleted ones included).
    pub changes_since: Option<String>,
    /// ISO 8601 time: only servers changed before (compute 2.66).
    pub changes_before: Option<String>,
    pub status: Option<String>,
    /// Deleted servers too; admin only.
    pub deleted: bool,
}

impl ServerQuery {
    fn apply(&self, url: &mut Url, limit: u32) {
        let mut q = url.query_pairs_mut();
        q.append_pair("limit", &limit.to_string());
        if let Some(v) = &self.name {
            q.append_pair("name", v);
        }
        if let Some(v) = &self.availability_zone {
            q.append_pair("availability_zone", v);
        }
        if let Some(v) = &self.host {
            q.append_pair("host", v);
        }
        if self.all_tenants {
            q.append_pair("all_tenants", "True");
        }
        if let Some(v) = &self.changes_since {
            q.append_pair("changes-since", v);
        }
        if let Some(v) = &self.changes_before {
            q.append_pair("changes-before", v);
        }
        if let Some(v) = &self.status {
            q.append_pair("status", v);
        }
        if self.deleted {
            q.append_pair("deleted", "True");
        }
    }
}

impl Client {
    /// Every server matching `query`, following pages (`limit`/`marker`).
    pub async fn list_servers(&self, query: &ServerQuery) -> Result<Vec<Server>, Error> {
        self.list_servers_dated(query)
            .await
            .map(|(servers, _)| servers)
    }

    /// Like [`Client::list_servers`], with the `Date` of the first answer:
    /// the cloud's own "now", a safe `changes-since` for the next poll
    /// whatever the local clock says.
    pub async fn list_servers_dated(
        &self,
        query: &ServerQuery,
    ) -> Result<(Vec<Server>, Option<SystemTime>), Error> {
        if query.changes_before.is_some() {
            self.require("the changes-before filter", features::CHANGES_BEFORE)?;
        }
        let mut req = self.compute_request(Method::GET, &["servers", "detail"]);
        query.apply(&mut req.url, self.page_size());
        self.all_pages(&req, parse_server_list).await
    }

    /// `GET /servers/{id}`; `None` when there is no such server.
    pub async fn get_server(&self, id: &str) -> Result<Option<Server>, Error> {
        let req = self.compute_request(Method::GET, &["servers", id]);
        self.send_parse_optional(&req, parse_server).await
    }

    /// `DELETE /servers/{id}`; a server that is already gone is fine.
    pub async fn delete_server(&self, id: &str) -> Result<(), Error> {
        let req = self.compute_request(Method::DELETE, &["servers", id]);
        self.send_allow_missing(&req).await
    }

    /// Sets (adds or replaces) metadata items on a server.
    pub async fn set_server_metadata(
        &self,
        id: &str,
        items: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        let req = self
            .compute_request(Method::POST, &["servers", id, "metadata"])
            .json(&json!({"metadata": items}))?
            .idempotent(true);
        self.send(&req).await.map(drop)
    }

    /// Removes one metadata item; a missing item is fine.
    pub async fn delete_server_metadata(&self, id: &str, key: &str) -> Result<(), Error> {
        let req = self.compute_request(Method::DELETE, &["servers", id, "metadata", key]);
        self.send_allow_missing(&req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_backed_server_has_no_image() {
        let body = br#"{"server": {"id": "s1", "name": "vb", "status": "ACTIVE", "image": "", "flavor": {"id": "1"}}}"#;
        let s = parse_server(body).expect("parses");
        assert_eq!(s.image_id, None);
        assert_eq!(s.flavor.id.as_deref(), Some("1"));
    }

    #[test]
    fn building_server_with_empty_fields() {
        let body = br#"{"server": {"id": "s1", "status": "BUILD", "OS-EXT-AZ:availability_zone": "", "OS-EXT-STS:task_state": "scheduling", "image": {"id": "i"}}}"#;
        let s = parse_server(body).expect("parses");
        assert_eq!(s.availability_zone, None);
        assert_eq!(s.task_state.as_deref(), Some("scheduling"));
        assert_eq!(s.image_id.as_deref(), Some("i"));
    }

    /// As real Nova 34 sent it for a server booted with NICs on `net1`, then
    /// `aaa-probe` (tests/it/real_cloud/end_to_end.rs checks the move keeps that order).
    #[test]
    fn networks_keep_the_order_of_the_nics() {
        let body = br#"{"server": {"id": "s1", "addresses": {"net1": [{"version": 4, "addr": "10.0.0.221", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:fb:d7:c9"}], "aaa-probe": [{"version": 4, "addr": "10.9.0.244", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:41:65:be"}]}}}"#;
        let s = parse_server(body).expect("parses");
        assert_eq!(s.network_order, ["net1", "aaa-probe"]);
        assert_eq!(s.addresses.len(), 2);
        assert_eq!(
            s.addresses["aaa-probe"][0].mac.as_deref(),
            Some("fa:16:3e:41:65:be")
        );
        let none = parse_server(br#"{"server": {"id": "s1"}}"#).expect("parses");
        assert!(none.addresses.is_empty() && none.network_order.is_empty());
    }

    #[test]
    fn security_groups_are_listed_once() {
        let body = br#"{"server": {"id": "s1", "security_groups": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}}"#;
        assert_eq!(
            parse_server(body).expect("parses").security_groups,
            ["a", "b"]
        );
    }

    #[test]
    fn fault_message_is_kept() {
        let body = br#"{"server": {"id": "s1", "status": "ERROR", "fault": {"code": 500, "message": "No valid host was found. ", "created": "x"}}}"#;
        assert_eq!(
            parse_server(body).expect("parses").fault.as_deref(),
            Some("No valid host was found. ")
        );
    }

    #[test]
    fn server_query_encodes_filters() {
        let q = ServerQuery {
            name: Some("^web-.*$".into()),
            all_tenants: true,
            changes_since: Some("2024-01-01T00:00:00Z".into()),
            ..ServerQuery::default()
        };
        let mut url = Url::parse("http://n/v2.1/servers/detail").expect("url");
        q.apply(&mut url, 1000);
        assert_eq!(
            url.query(),
            Some(
                "limit=1000&name=%5Eweb-.*%24&all_tenants=True&changes-since=2024-01-01T00%3A00%3A00Z"
            )
        );
    }
}
