//! Cinder volumes and their attachments.

use time::OffsetDateTime;

use crate::sim::model::{Model, ServerVolume};

/// How a new server gets its boot disk when it has no image.
#[derive(Debug, Clone)]
pub enum BootVolume {
    /// Cinder creates a volume from this image (or blank) in the server's AZ.
    New {
        image: Option<usize>,
        size_gb: u64,
        delete_on_termination: bool,
    },
    Existing {
        volume: usize,
        delete_on_termination: bool,
    },
}

#[derive(Debug, Clone)]
pub struct VolumeAttachment {
    pub server_id: String,
    pub attachment_id: String,
    pub device: String,
    pub attached_at: OffsetDateTime,
    pub host: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub size_gb: u64,
    pub az: String,
    pub status: String,
    pub bootable: bool,
    pub volume_type: String,
    pub attachments: Vec<VolumeAttachment>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Model {
    pub fn attach_volume(
        &mut self,
        server: usize,
        volume: usize,
        device: String,
        at: OffsetDateTime,
    ) {
        let attachment_id = self.new_uuid();
        let bdm_uuid = self.new_uuid();
        let host = self.servers[server]
            .host
            .map(|h| self.hosts[h].name.clone());
        let sid = self.servers[server].id.clone();
        let vol = &mut self.volumes[volume];
        vol.status = "in-use".to_owned();
        vol.updated_at = at;
        vol.attachments.push(VolumeAttachment {
            server_id: sid,
            attachment_id: attachment_id.clone(),
            device: device.clone(),
            attached_at: at,
            host,
        });
        let vid = vol.id.clone();
        self.servers[server].volumes.push(ServerVolume {
            volume_id: vid,
            device,
            attachment_id,
            bdm_uuid,
            delete_on_termination: false,
        });
    }
}
