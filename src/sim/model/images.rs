//! Glance images.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::sim::model::{Caller, Model};

#[derive(Debug, Clone)]
pub struct Image {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub visibility: String,
    pub status: String,
    pub size: Option<u64>,
    pub min_disk: u64,
    pub min_ram: u64,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub protected: bool,
    pub tags: Vec<String>,
    pub properties: BTreeMap<String, String>,
    pub checksum: Option<String>,
    pub hash: Option<String>,
    pub deleted: bool,
    /// `os_hidden`: left out of image lists unless asked for (Glance 2.7).
    pub os_hidden: bool,
}

impl Image {
    /// Mark the upload finished: status, size and digests.
    pub fn finish_upload(&mut self, size: u64, at: OffsetDateTime) {
        self.status = "active".to_owned();
        self.size = Some(size);
        let digest = Sha256::digest(format!("{}:{size}", self.id).as_bytes());
        let hex = hex::encode(digest);
        self.checksum = Some(hex[..32].to_owned());
        self.hash = Some(format!("{hex}{hex}"));
        self.updated_at = at;
    }
}

impl Model {
    pub fn add_image(&mut self, image: Image) -> usize {
        let idx = self.images.len();
        self.image_index.insert(image.id.clone(), idx);
        self.images.push(image);
        idx
    }

    pub fn image(&self, id: &str) -> Option<usize> {
        self.image_index
            .get(id)
            .copied()
            .filter(|i| !self.images[*i].deleted)
    }

    pub fn image_visible(&self, idx: usize, caller: &Caller) -> bool {
        let im = &self.images[idx];
        !im.deleted
            && (caller.is_admin
                || im.visibility == "public"
                || im.visibility == "community"
                || im.owner == caller.project_id)
    }
}
