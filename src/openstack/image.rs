//! Glance v2: the snapshots azmove makes, found again by their properties.

use std::collections::BTreeMap;
use std::time::SystemTime;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::client::Client;
use super::error::{Error, Service};
use super::paging::{Page, marker_from_url};
use crate::plan::inventory::Image;

/// Filters of `GET /v2/images`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageQuery {
    /// Custom properties that must match exactly (`?azmove_source=<id>`).
    pub properties: BTreeMap<String, String>,
    /// queued, saving, active, killed, …
    pub status: Option<String>,
    /// Only images changed at or after this ISO 8601 time (`updated_at=gte:…`).
    pub updated_since: Option<String>,
    pub name: Option<String>,
    pub owner: Option<String>,
    /// public, private, shared, community, all.
    pub visibility: Option<String>,
    /// Only hidden images (`os_hidden=true`, Image API 2.7): azmove's claim
    /// and run records, which stay out of everyone's image lists.
    pub hidden: bool,
}

impl ImageQuery {
    /// The query of the first page: `limit`, then the filters.
    fn apply(&self, url: &mut url::Url, limit: u32) {
        let mut q = url.query_pairs_mut();
        q.append_pair("limit", &limit.to_string());
        for (k, v) in &self.properties {
            q.append_pair(k, v);
        }
        if let Some(v) = &self.status {
            q.append_pair("status", v);
        }
        if let Some(v) = &self.updated_since {
            q.append_pair("updated_at", &format!("gte:{v}"));
        }
        if let Some(v) = &self.name {
            q.append_pair("name", v);
        }
        if let Some(v) = &self.owner {
            q.append_pair("owner", v);
        }
        if let Some(v) = &self.visibility {
            q.append_pair("visibility", v);
        }
        if self.hidden {
            q.append_pair("os_hidden", "true");
        }
    }

    /// Images tagged with `key=value`.
    pub fn with_property(key: impl Into<String>, value: impl Into<String>) -> ImageQuery {
        let mut q = ImageQuery::default();
        q.properties.insert(key.into(), value.into());
        q
    }
}

/// Properties Glance defines itself; everything else at the top level of
/// an image is a custom property.
const CORE_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "size",
    "created_at",
    "updated_at",
    "checksum",
    "container_format",
    "disk_format",
    "visibility",
    "owner",
    "os_hash_algo",
    "os_hash_value",
    "os_hidden",
    "protected",
    "min_disk",
    "min_ram",
    "virtual_size",
    "tags",
    "self",
    "file",
    "schema",
    "locations",
    "direct_url",
    "stores",
];

#[derive(Deserialize)]
struct ImageWire {
    id: String,
    #[serde(default)]
    name: Option<String>,
    status: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

impl From<ImageWire> for Image {
    fn from(w: ImageWire) -> Image {
        let properties = w
            .rest
            .into_iter()
            .filter(|(k, _)| !CORE_KEYS.contains(&k.as_str()))
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Null => None,
                other => Some((k, other.to_string())),
            })
            .collect();
        Image {
            id: w.id,
            name: w.name.unwrap_or_default(),
            status: w.status,
            properties,
            size: w.size,
            created_at: w.created_at.unwrap_or_default(),
            updated_at: w.updated_at.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct ImageListWire {
    images: Vec<ImageWire>,
    #[serde(default)]
    next: Option<String>,
}

/// Parses `GET /v2/images`: Glance says there is more with
/// `"next": "/v2/images?marker=…"`.
pub fn parse_image_list(body: &[u8]) -> Result<Page<Image>, serde_json::Error> {
    let wire: ImageListWire = serde_json::from_slice(body)?;
    let last = wire.images.last().map(|i| i.id.clone());
    let next_marker = wire
        .next
        .as_deref()
        .and_then(|n| marker_from_url(n).or(last));
    Ok(Page {
        items: wire.images.into_iter().map(Image::from).collect(),
        next_marker,
    })
}

/// Parses `GET /v2/images/{id}` (the image itself, not wrapped).
pub fn parse_image(body: &[u8]) -> Result<Image, serde_json::Error> {
    Ok(serde_json::from_slice::<ImageWire>(body)?.into())
}

/// The body of `POST /v2/images` for a hidden record (see
/// [`Client::create_hidden_record`]).
fn hidden_record_body(
    name: &str,
    properties: &BTreeMap<String, String>,
    owner: Option<&str>,
) -> Value {
    let mut body = serde_json::Map::new();
    body.insert("name".into(), Value::String(name.to_string()));
    body.insert("os_hidden".into(), Value::Bool(true));
    body.insert("visibility".into(), Value::String("private".into()));
    body.insert("container_format".into(), Value::String("bare".into()));
    body.insert("disk_format".into(), Value::String("raw".into()));
    if let Some(o) = owner {
        body.insert("owner".into(), Value::String(o.to_string()));
    }
    for (k, v) in properties {
        body.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(body)
}

/// The JSON patch setting `properties` (`add` replaces a property that
/// exists, as RFC 6902 says and Glance does).
fn properties_patch(properties: &BTreeMap<String, String>) -> Value {
    properties
        .iter()
        .map(|(k, v)| serde_json::json!({"op": "add", "path": format!("/{k}"), "value": v}))
        .collect()
}

impl Client {
    /// Every image matching `query`, following pages.
    pub async fn list_images(&self, query: &ImageQuery) -> Result<Vec<Image>, Error> {
        self.list_images_dated(query)
            .await
            .map(|(images, _)| images)
    }

    /// Like [`Client::list_images`], with the `Date` of the first answer:
    /// the cloud's own "now", against which `updated_at` of a run record is
    /// judged, whatever the local clock says.
    pub async fn list_images_dated(
        &self,
        query: &ImageQuery,
    ) -> Result<(Vec<Image>, Option<SystemTime>), Error> {
        let mut req = self.service_request(Service::Image, Method::GET, &["images"])?;
        query.apply(&mut req.url, self.page_size());
        self.all_pages(&req, parse_image_list).await
    }

    /// `GET /v2/images/{id}`; `None` when there is no such image.
    pub async fn get_image(&self, id: &str) -> Result<Option<Image>, Error> {
        let req = self.service_request(Service::Image, Method::GET, &["images", id])?;
        self.send_parse_optional(&req, parse_image).await
    }

    /// `POST /v2/images` of a hidden record that never gets data: it stays
    /// `queued` and out of every plain image list (`os_hidden`), and serves
    /// as a small record other runs can find by its properties. `owner`
    /// puts it in another project (admins only), so that the members of
    /// the project whose server it names see it too.
    pub async fn create_hidden_record(
        &self,
        name: &str,
        properties: &BTreeMap<String, String>,
        owner: Option<&str>,
    ) -> Result<Image, Error> {
        let req = self
            .service_request(Service::Image, Method::POST, &["images"])?
            .json(&hidden_record_body(name, properties, owner))?;
        self.send_parse(&req, parse_image).await
    }

    /// Sets custom properties with a JSON patch (`add` replaces a property
    /// that exists, as RFC 6902 says and Glance does). Glance moves
    /// `updated_at` to its own clock: that is what a heartbeat relies on.
    pub async fn set_image_properties(
        &self,
        id: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<Image, Error> {
        let req = self
            .service_request(Service::Image, Method::PATCH, &["images", id])?
            .json(&properties_patch(properties))?
            .header(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_static(
                    "application/openstack-images-v2.1-json-patch",
                ),
            );
        self.send_parse(&req, parse_image).await
    }

    /// `DELETE /v2/images/{id}`; an image that is already gone is fine.
    pub async fn delete_image(&self, id: &str) -> Result<(), Error> {
        let req = self.service_request(Service::Image, Method::DELETE, &["images", id])?;
        self.send_allow_missing(&req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_properties_are_separated_from_core_ones() {
        let body = br#"{"id": "i", "name": null, "status": "active", "size": null, "container_format": "bare",
            "azmove_source": "s1", "image_type": "snapshot", "min_ram": 0, "os_hidden": false, "tags": []}"#;
        let image = parse_image(body).expect("parses");
        assert_eq!(image.name, "");
        assert_eq!(
            image.properties.into_iter().collect::<Vec<_>>(),
            [
                ("azmove_source".to_owned(), "s1".to_owned()),
                ("image_type".to_owned(), "snapshot".to_owned())
            ]
        );
    }
}
