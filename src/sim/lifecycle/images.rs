//! Actions that upload the server's disk to Glance: `createImage` and
//! `shelve`.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Env, LostRace, check_lock, check_state, invalid_state};
use crate::sim::clock::iso_seconds;
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Image, Model, Server, Step, VmState};
use crate::sim::stats::OpSide;

/// Bytes of a snapshot of this server (its root disk).
pub(super) fn snapshot_bytes(s: &Server) -> u64 {
    if s.image_id.is_none() {
        0
    } else {
        s.flavor.disk_gb * 1024 * 1024 * 1024
    }
}

impl Model {
    fn new_snapshot_image(
        &mut self,
        i: usize,
        name: String,
        metadata: BTreeMap<String, String>,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> usize {
        let id = self.new_uuid();
        let s = &self.servers[i];
        let mut properties = s.image_properties.clone();
        properties.insert("image_type".into(), "snapshot".into());
        properties.insert("instance_uuid".into(), s.id.clone());
        properties.insert("user_id".into(), caller.user_id.clone());
        properties.insert("owner_project_name".into(), caller.project_name.clone());
        properties.insert("owner_user_name".into(), caller.user_name.clone());
        properties.insert("boot_roles".into(), caller.roles.join(","));
        properties.insert(
            "base_image_ref".into(),
            s.image_id.clone().unwrap_or_default(),
        );
        if s.image_id.is_none() {
            properties.insert("root_device_name".into(), "/dev/vda".into());
            properties.insert("bdm_v2".into(), "True".into());
            let bdm: Vec<serde_json::Value> = s
                .volumes
                .iter()
                .map(|v| {
                    serde_json::json!({
                        "source_type": "snapshot",
                        "destination_type": "volume",
                        "device_name": v.device,
                        "boot_index": if v.device == "/dev/vda" { serde_json::json!(0) } else { serde_json::Value::Null },
                        "delete_on_termination": v.delete_on_termination,
                        "volume_id": null,
                    })
                })
                .collect();
            properties.insert(
                "block_device_mapping".into(),
                serde_json::Value::Array(bdm).to_string(),
            );
        }
        properties.extend(metadata);
        let source = s
            .image_id
            .as_deref()
            .and_then(|id| self.image(id))
            .map(|idx| self.images[idx].disk_format.clone());
        let image = Image {
            id: id.clone(),
            name: name.clone(),
            owner: s.project_id.clone(),
            visibility: "private".into(),
            status: "queued".into(),
            size: None,
            min_disk: s.flavor.disk_gb,
            min_ram: 0,
            disk_format: source.flatten().or(Some("qcow2".into())),
            container_format: Some("bare".into()),
            created_at: now,
            updated_at: now,
            protected: false,
            tags: Vec::new(),
            properties,
            checksum: None,
            hash: None,
            deleted: false,
            os_hidden: false,
        };
        env.stats()
            .resource_created("image", &id, &name, iso_seconds(now));
        self.add_image(image)
    }

    /// `createImage`: returns the new image's id.
    pub fn snapshot_server(
        &mut self,
        i: usize,
        name: String,
        metadata: BTreeMap<String, String>,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<String, ApiError> {
        let allowed = [
            VmState::Active,
            VmState::Stopped,
            VmState::Paused,
            VmState::Suspended,
        ];
        let volume_backed = self.servers[i].image_id.is_none();
        if volume_backed {
            // Nova snapshots volumes in the API, without a task_state swap.
            check_state(&self.servers[i], "createImage", &allowed)?;
        } else {
            self.check_state_cas(i, "createImage", &allowed, now, env)?;
        }
        // Nova creates the Glance image first, then swaps the task_state.
        let img = self.new_snapshot_image(i, name, metadata, caller, now, env);
        if !volume_backed && let Err(e) = self.cas_task(i, LostRace::Unexpected, env) {
            if self.servers[i].task_state == Some("deleting") {
                // Nova deletes the image and answers as for a deleted server.
                self.delete_image_record(img, now, env);
                return Err(invalid_state(
                    "createImage",
                    &self.servers[i].id,
                    "task_state",
                    "deleting",
                ));
            }
            // The image record stays behind, `queued` for good.
            return Err(e);
        }
        let az = self.server_az(&self.servers[i]);
        let fails = env.faults().snapshot_killed(&az, &self.servers[i].name);
        let s = &mut self.servers[i];
        s.pending_image = Some(img);
        s.pending_image_fails = fails;
        let upload = Duration::from_secs_f64(
            snapshot_bytes(s) as f64
                / (1024.0 * 1024.0)
                / self.cfg.timings.snapshot_throughput_mb_s,
        );
        self.begin_task(i, now, "image_snapshot");
        self.op_started(i, "snapshot", OpSide::Source, env);
        let half = self.cfg.timings.snapshot_overhead / 2;
        let t1 = env.later(now, half);
        let t2 = env.later(now, half * 2);
        let t3 = env.later(now, half * 2 + upload);
        self.schedule(i, t1, Step::SnapshotPendingUpload);
        self.schedule(i, t2, Step::SnapshotUploading);
        self.schedule(i, t3, Step::SnapshotDone);
        Ok(self.images[img].id.clone())
    }

    /// `shelve` (offloaded right after, as with Nova's default settings).
    pub fn shelve_server(
        &mut self,
        i: usize,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        check_lock(&self.servers[i], caller)?;
        self.check_state_cas(
            i,
            "shelve",
            &[
                VmState::Active,
                VmState::Stopped,
                VmState::Paused,
                VmState::Suspended,
            ],
            now,
            env,
        )?;
        self.cas_task(i, LostRace::Conflict, env)?;
        let volume_backed = self.servers[i].image_id.is_none();
        if !volume_backed {
            let name = format!("{}-shelved", self.servers[i].name);
            let img = self.new_snapshot_image(i, name, BTreeMap::new(), caller, now, env);
            self.servers[i].pending_image = Some(img);
        }
        self.servers[i].pending_image_fails = false;
        let upload = Duration::from_secs_f64(
            snapshot_bytes(&self.servers[i]) as f64
                / (1024.0 * 1024.0)
                / self.cfg.timings.snapshot_throughput_mb_s,
        );
        self.begin_task(i, now, "shelving");
        self.op_started(i, "shelve", OpSide::Source, env);
        let half = self.cfg.timings.snapshot_overhead / 2;
        self.schedule(i, env.later(now, half), Step::ShelvePendingUpload);
        self.schedule(i, env.later(now, half * 2), Step::ShelveUploading);
        self.schedule(i, env.later(now, half * 2 + upload), Step::Shelved);
        Ok(())
    }
}
