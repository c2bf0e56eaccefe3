//! `createImage`: a snapshot of a server, the image its replacement boots from.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::openstack::client::Client;
use crate::openstack::error::Error;
use crate::openstack::microversion::features;
use crate::plan::inventory::Microversion;

/// `{"createImage": {"name", "metadata"}}`.
pub fn create_image_body(name: &str, metadata: &BTreeMap<String, String>) -> Value {
    json!({"createImage": {"name": name, "metadata": metadata}})
}

#[derive(Deserialize)]
struct CreateImageWire {
    image_id: String,
}

/// The snapshot's image id: from 2.45 the body `{"image_id"}`, before that
/// the last segment of the `Location` header.
pub fn created_image_id(mv: Microversion, location: Option<&str>, body: &[u8]) -> Option<String> {
    if mv >= features::CREATE_IMAGE_BODY
        && let Ok(w) = serde_json::from_slice::<CreateImageWire>(body)
    {
        return Some(w.image_id);
    }
    let location = location?;
    let path = Url::parse(location)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| location.to_owned());
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Client {
    /// `createImage`: snapshot the server; returns the new image's id
    /// (from the body from 2.45, from the `Location` header before).
    pub async fn create_image(
        &self,
        id: &str,
        name: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, Error> {
        let req = self
            .compute_request(Method::POST, &["servers", id, "action"])
            .json(&create_image_body(name, metadata))?;
        let resp = self.send(&req).await?;
        created_image_id(self.microversion(), resp.header("location"), &resp.body).ok_or_else(
            || Error::Decode {
                service: req.service,
                method: "POST".into(),
                path: req.path().to_owned(),
                detail: "createImage answered without an image id".into(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_header_gives_the_image_id_before_2_45() {
        let mv = Microversion::new(2, 44);
        assert_eq!(
            created_image_id(mv, Some("http://glance.example.com/v2/images/abc-123"), b"")
                .as_deref(),
            Some("abc-123")
        );
        assert_eq!(created_image_id(mv, None, b""), None);
    }
}
