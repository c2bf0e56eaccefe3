//! `POST /servers`: the replacement server azmove boots.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::openstack::client::Client;
use crate::openstack::error::Error;
use crate::openstack::microversion::features;
use crate::plan::inventory::Microversion;

/// How a new server is connected (`networks` of the create request).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Networks {
    /// Let Nova pick or auto-allocate a network (`"auto"`, 2.37).
    #[default]
    Auto,
    /// No network at all (`"none"`, 2.37).
    None,
    List(Vec<NetworkAttachment>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkAttachment {
    /// A new port on a network, optionally with a given fixed IP.
    Network {
        uuid: String,
        fixed_ip: Option<String>,
    },
    /// An existing port (keeps its MAC and IPs).
    Port(String),
}

/// `POST /servers`: what azmove sets when it recreates a server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateServer {
    pub name: String,
    /// Image to boot from (azmove's snapshot).
    pub image_ref: Option<String>,
    pub flavor_ref: String,
    pub availability_zone: Option<String>,
    pub networks: Networks,
    /// Security group names.
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Base64, as Nova stores it.
    pub user_data: Option<String>,
    pub config_drive: Option<bool>,
    /// Server group to join (the `group` scheduler hint).
    pub server_group: Option<String>,
    /// Other scheduler hints, sent as given.
    pub scheduler_hints: BTreeMap<String, Value>,
}

/// The body of `POST /servers`.
///
/// `networks` is sent from 2.37, where it is required; before that only an
/// explicit list can be sent and `auto` is Nova's behaviour anyway.
pub fn create_server_body(req: &CreateServer, mv: Microversion) -> Result<Value, Error> {
    let mut server = json!({"name": req.name, "flavorRef": req.flavor_ref});
    if let Some(image) = &req.image_ref {
        server["imageRef"] = json!(image);
    }
    if let Some(az) = &req.availability_zone {
        server["availability_zone"] = json!(az);
    }
    match &req.networks {
        Networks::Auto if mv >= features::NETWORKS_AUTO_NONE => server["networks"] = json!("auto"),
        Networks::Auto => {}
        Networks::None if mv >= features::NETWORKS_AUTO_NONE => server["networks"] = json!("none"),
        Networks::None => {
            return Err(Error::MicroversionTooOld {
                feature: "creating a server without network",
                needed: features::NETWORKS_AUTO_NONE,
                have: mv,
            });
        }
        Networks::List(list) => {
            let list: Vec<Value> = list
                .iter()
                .map(|n| match n {
                    NetworkAttachment::Port(port) => json!({"port": port}),
                    NetworkAttachment::Network {
                        uuid,
                        fixed_ip: Some(ip),
                    } => json!({"uuid": uuid, "fixed_ip": ip}),
                    NetworkAttachment::Network {
                        uuid,
                        fixed_ip: None,
                    } => json!({"uuid": uuid}),
                })
                .collect();
            server["networks"] = Value::Array(list);
        }
    }
    if !req.security_groups.is_empty() {
        server["security_groups"] = Value::Array(
            req.security_groups
                .iter()
                .map(|n| json!({"name": n}))
                .collect(),
        );
    }
    if let Some(key) = &req.key_name {
        server["key_name"] = json!(key);
    }
    if !req.metadata.is_empty() {
        server["metadata"] = json!(req.metadata);
    }
    if let Some(data) = &req.user_data {
        server["user_data"] = json!(data);
    }
    if let Some(cd) = req.config_drive {
        server["config_drive"] = json!(cd);
    }
    let mut body = json!({"server": server});
    let mut hints = req.scheduler_hints.clone();
    if let Some(group) = &req.server_group {
        hints.insert("group".into(), json!(group));
    }
    if !hints.is_empty() {
        body["OS-SCH-HNT:scheduler_hints"] = json!(hints);
    }
    Ok(body)
}

#[derive(Deserialize)]
struct CreatedServerWire {
    server: CreatedWire,
}

/// Only the id is read: the answer also carries `adminPass`, which azmove
/// has no use for and does not keep.
#[derive(Deserialize)]
struct CreatedWire {
    id: String,
}

/// The id of the server a `POST /servers` answer describes.
pub fn parse_created_server(body: &[u8]) -> Result<String, serde_json::Error> {
    Ok(serde_json::from_slice::<CreatedServerWire>(body)?.server.id)
}

impl Client {
    /// `POST /servers`; returns the new server's id.
    pub async fn create_server(&self, server: &CreateServer) -> Result<String, Error> {
        let body = create_server_body(server, self.microversion())?;
        let req = self
            .compute_request(Method::POST, &["servers"])
            .json(&body)?;
        self.send_parse(&req, parse_created_server).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_none_needs_2_37() {
        let req = CreateServer {
            networks: Networks::None,
            ..CreateServer::default()
        };
        assert!(create_server_body(&req, Microversion::new(2, 36)).is_err());
        let body = create_server_body(&req, Microversion::new(2, 37)).expect("builds");
        assert_eq!(body["server"]["networks"], json!("none"));
    }
}
