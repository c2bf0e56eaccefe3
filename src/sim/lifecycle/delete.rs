//! `DELETE /servers/{id}` and what goes with the server: its ports,
//! volumes, group membership and unfinished images.

use time::OffsetDateTime;

use super::{BootVolume, Env, check_lock};
use crate::sim::clock::iso_seconds;
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Model, Step, VmState};
use crate::sim::stats::OpSide;

impl Model {
    /// `DELETE /servers/{id}`: the server goes away after `timings.delete`.
    pub fn delete_server(
        &mut self,
        i: usize,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        check_lock(&self.servers[i], caller)?;
        if self.servers[i].task_state == Some("deleting") {
            return Ok(());
        }
        self.servers[i].generation += 1;
        self.begin_task(i, now, "deleting");
        self.op_started(i, "delete", OpSide::Source, env);
        let d = self.cfg.timings.delete;
        self.schedule(i, env.later(now, d), Step::Deleted);
        Ok(())
    }

    pub(super) fn finish_delete(&mut self, i: usize, at: OffsetDateTime, env: &Env) {
        self.op_finished(i, env);
        self.abandon_move(i, at, env);
        self.release_host(i);
        let sid = self.servers[i].id.clone();
        // Ports: Nova deletes the ones it created and unbinds the others.
        let port_ids = self.ports_by_device.get(&sid).cloned().unwrap_or_default();
        for pid in port_ids {
            let created = self.ports.get(&pid).is_some_and(|p| p.nova_created);
            if created {
                if self.delete_port(&pid, at).is_some() {
                    env.stats()
                        .resource_deleted("port", &pid, "", iso_seconds(at));
                }
            } else {
                self.unbind_port(&pid, at);
            }
        }
        // Volumes: detached, deleted when asked at boot.
        let vols = std::mem::take(&mut self.servers[i].volumes);
        for v in vols {
            if let Some(pos) = self.volumes.iter().position(|x| x.id == v.volume_id) {
                let vol = &mut self.volumes[pos];
                vol.attachments.retain(|a| a.server_id != sid);
                if v.delete_on_termination {
                    // Kept as a record so indexes stay valid; hidden by the API.
                    vol.status = "deleted".to_owned();
                } else if vol.attachments.is_empty() {
                    vol.status = "available".to_owned();
                }
                vol.updated_at = at;
            }
        }
        if let Some(BootVolume::Existing { volume, .. }) = self.pending_boot_volumes.remove(&sid)
            && let Some(v) = self.volumes.get_mut(volume)
        {
            v.status = "available".to_owned();
        }
        if let Some(g) = self.servers[i].server_group {
            self.server_groups[g].members.retain(|m| m != &sid);
        }
        for img in [
            self.servers[i].pending_image.take(),
            self.servers[i].shelve_image.take(),
        ]
        .into_iter()
        .flatten()
        {
            if self.images[img].status != "active" || self.images[img].name.ends_with("-shelved") {
                self.delete_image_record(img, at, env);
            }
        }
        let s = &mut self.servers[i];
        s.vm_state = VmState::Deleted;
        s.power_state = 0;
        s.task_state = None;
        s.deleted_at = Some(at);
        s.terminated_at = Some(at);
        s.updated = at;
        let name = s.name.clone();
        env.stats()
            .resource_deleted("server", &sid, &name, iso_seconds(at));
    }
}
