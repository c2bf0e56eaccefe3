//! Cinder v3: volumes and their availability zones — a volume stays in its
//! AZ, which decides whether a server can move without it.

use serde::{Deserialize, Deserializer, Serialize};

use super::paging::{Link, Page};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub id: String,
    pub name: Option<String>,
    pub availability_zone: Option<String>,
    pub bootable: bool,
    /// available, in-use, creating, error, …
    pub status: String,
    pub size_gb: u64,
    pub volume_type: Option<String>,
    pub attachments: Vec<VolumeAttachment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeAttachment {
    pub server_id: String,
    pub attachment_id: Option<String>,
    pub device: Option<String>,
}

#[derive(Deserialize)]
struct VolumesWire {
    volumes: Vec<VolumeWire>,
    #[serde(default)]
    volumes_links: Vec<Link>,
}

#[derive(Deserialize)]
struct VolumeWire {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    availability_zone: Option<String>,
    #[serde(default, deserialize_with = "bool_or_string")]
    bootable: bool,
    status: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    volume_type: Option<String>,
    #[serde(default)]
    attachments: Vec<AttachmentWire>,
}

#[derive(Deserialize)]
struct AttachmentWire {
    server_id: String,
    #[serde(default)]
    attachment_id: Option<String>,
    #[serde(default)]
    device: Option<String>,
}

/// Cinder writes `"bootable": "false"` (a string); accept a boolean too.
fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Str(String),
    }
    Ok(match Option::<B>::deserialize(d)? {
        Some(B::Bool(b)) => b,
        Some(B::Str(s)) => s.eq_ignore_ascii_case("true"),
        None => false,
    })
}

/// Parses `GET /volumes/detail`.
pub fn parse_volume_list(body: &[u8]) -> Result<Page<Volume>, serde_json::Error> {
    let wire: VolumesWire = serde_json::from_slice(body)?;
    Ok(Page::linked(
        wire.volumes,
        &wire.volumes_links,
        |v| Some(v.id.clone()),
        |v| Volume {
            id: v.id,
            name: v.name.filter(|n| !n.is_empty()),
            availability_zone: v.availability_zone.filter(|z| !z.is_empty()),
            bootable: v.bootable,
            status: v.status,
            size_gb: v.size,
            volume_type: v.volume_type,
            attachments: v
                .attachments
                .into_iter()
                .map(|a| VolumeAttachment {
                    server_id: a.server_id,
                    attachment_id: a.attachment_id,
                    device: a.device,
                })
                .collect(),
        },
    ))
}
