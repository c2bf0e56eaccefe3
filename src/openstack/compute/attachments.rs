//! What is attached to a server, as Nova reports it: its ports
//! (`os-interface`) and its volumes (`os-volume_attachments`).

use serde::{Deserialize, Serialize};

/// A port attached to a server, as Nova reports it (`os-interface`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInterface {
    pub port_id: String,
    pub net_id: String,
    pub mac_addr: Option<String>,
    pub fixed_ips: Vec<String>,
    pub port_state: Option<String>,
}

#[derive(Deserialize)]
struct InterfacesWire {
    #[serde(rename = "interfaceAttachments")]
    attachments: Vec<InterfaceWire>,
}

#[derive(Deserialize)]
struct InterfaceWire {
    port_id: String,
    net_id: String,
    #[serde(default)]
    mac_addr: Option<String>,
    #[serde(default)]
    fixed_ips: Vec<FixedIpWire>,
    #[serde(default)]
    port_state: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct FixedIpWire {
    pub ip_address: String,
}

/// Parses `GET /servers/{id}/os-interface`.
pub fn parse_interfaces(body: &[u8]) -> Result<Vec<ServerInterface>, serde_json::Error> {
    let wire: InterfacesWire = serde_json::from_slice(body)?;
    Ok(wire
        .attachments
        .into_iter()
        .map(|i| ServerInterface {
            port_id: i.port_id,
            net_id: i.net_id,
            mac_addr: i.mac_addr,
            fixed_ips: i.fixed_ips.into_iter().map(|f| f.ip_address).collect(),
            port_state: i.port_state,
        })
        .collect())
}

/// A volume attached to a server, as Nova reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerVolume {
    pub volume_id: String,
    pub device: Option<String>,
    /// Cinder attachment id (2.89).
    pub attachment_id: Option<String>,
    /// Whether deleting the server deletes the volume (2.79).
    pub delete_on_termination: Option<bool>,
}

#[derive(Deserialize)]
struct VolumeAttachmentsWire {
    #[serde(rename = "volumeAttachments")]
    attachments: Vec<VolumeAttachmentWire>,
}

#[derive(Deserialize)]
struct VolumeAttachmentWire {
    #[serde(rename = "volumeId")]
    volume_id: String,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    attachment_id: Option<String>,
    #[serde(default)]
    delete_on_termination: Option<bool>,
}

/// Parses `GET /servers/{id}/os-volume_attachments`.
pub fn parse_volume_attachments(body: &[u8]) -> Result<Vec<ServerVolume>, serde_json::Error> {
    let wire: VolumeAttachmentsWire = serde_json::from_slice(body)?;
    Ok(wire
        .attachments
        .into_iter()
        .map(|a| ServerVolume {
            volume_id: a.volume_id,
            device: a.device,
            attachment_id: a.attachment_id,
            delete_on_termination: a.delete_on_termination,
        })
        .collect())
}
