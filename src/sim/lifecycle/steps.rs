//! The steps that move servers along once their time has come.

use time::OffsetDateTime;

use super::Env;
use super::images::snapshot_bytes;
use crate::sim::clock::iso_seconds;
use crate::sim::model::{Fault, Model, NO_VALID_HOST, Step, VmState};
use crate::sim::stats::OpSide;

impl Model {
    pub(super) fn run_step(&mut self, i: usize, step: Step, at: OffsetDateTime, env: &Env) {
        let t = self.cfg.timings.clone();
        match step {
            Step::Scheduled => {
                let (az, flavor, group, name, forced) = {
                    let s = &self.servers[i];
                    (
                        s.requested_az.clone(),
                        s.flavor.clone(),
                        s.server_group,
                        s.name.clone(),
                        s.host,
                    )
                };
                // A host forced with "az:host" was taken at create time.
                let host = match forced {
                    Some(h) => Some(h),
                    None => self.pick_host(az.as_deref(), &flavor, group),
                };
                let fault_az = host
                    .map(|h| self.hosts[h].az.clone())
                    .or(az.clone())
                    .unwrap_or_default();
                let injected = env.faults().boot_error(&fault_az, &name);
                if injected {
                    env.stats().record_fault("boot_error");
                }
                let Some(h) = host.filter(|_| !injected) else {
                    if forced.is_some() {
                        self.release_host(i);
                    }
                    if az.is_none() {
                        // Never counted as started: count the failed boot now.
                        let s = &self.servers[i];
                        env.stats()
                            .op_started(&s.id, "boot", OpSide::Target, &fault_az);
                    }
                    self.error_no_valid_host(i, at, env);
                    return;
                };
                if forced.is_none() {
                    self.take_host(i, h);
                }
                if az.is_none() {
                    self.op_started(i, "boot", OpSide::Target, env);
                }
                self.touch(i, at, Some("spawning"));
                self.create_boot_ports(i, at, env);
                self.create_boot_volume(i, at);
                self.schedule(i, env.later(at, t.boot.mul_f64(0.8)), Step::Spawned);
            }
            Step::Spawned => {
                self.servers[i].launched_at = Some(at);
                self.settle(i, VmState::Active, 1, at, env);
            }
            Step::Stopped => self.settle(i, VmState::Stopped, 4, at, env),
            Step::Started => self.settle(i, VmState::Active, 1, at, env),
            Step::SnapshotPendingUpload => self.touch(i, at, Some("image_pending_upload")),
            Step::SnapshotUploading => {
                self.touch(i, at, Some("image_uploading"));
                self.image_saving(i, at);
            }
            Step::SnapshotDone => {
                self.finish_image(i, at, env);
                self.touch(i, at, None);
                self.op_finished(i, env);
            }
            Step::ShelvePendingUpload => self.touch(i, at, Some("shelving_image_pending_upload")),
            Step::ShelveUploading => {
                self.touch(i, at, Some("shelving_image_uploading"));
                self.image_saving(i, at);
            }
            Step::Shelved => {
                let img = self.servers[i].pending_image;
                self.finish_image(i, at, env);
                let s = &mut self.servers[i];
                s.shelve_image = img;
                s.vm_state = VmState::Shelved;
                s.power_state = 4;
                // shelved_offload_time = 0 (Nova's default): offload at once.
                self.touch(i, at, Some("shelving_offloading"));
                self.schedule(i, env.later(at, t.shelve_offload), Step::Offloaded);
            }
            Step::Offloaded => {
                self.release_host(i);
                let s = &mut self.servers[i];
                s.vm_state = VmState::ShelvedOffloaded;
                s.power_state = 0;
                self.touch(i, at, None);
                self.rebind_ports(i, at);
                self.op_finished(i, env);
            }
            Step::UnshelveScheduled => {
                let (az, flavor, group, forced, name) = {
                    let s = &mut self.servers[i];
                    (
                        s.requested_az.clone(),
                        s.flavor.clone(),
                        s.server_group,
                        s.unshelve_host.take(),
                        s.name.clone(),
                    )
                };
                let host = match forced {
                    // The scheduler still checks the host asked for.
                    Some(h) => Some(h).filter(|h| {
                        self.hosts[*h].fits(&flavor)
                            && az.as_ref().is_none_or(|a| &self.hosts[*h].az == a)
                    }),
                    None => self.pick_host(az.as_deref(), &flavor, group),
                };
                match host {
                    Some(h) => {
                        self.take_host(i, h);
                        self.touch(i, at, Some("spawning"));
                        self.rebind_ports(i, at);
                        let fails = env.faults().unshelve_error(&self.hosts[h].az, &name);
                        let next = if fails {
                            Step::UnshelveFailed
                        } else {
                            Step::Unshelved
                        };
                        self.schedule(i, env.later(at, t.unshelve.mul_f64(0.8)), next);
                    }
                    None => {
                        // Nova leaves the server shelved when no host fits.
                        self.touch(i, at, None);
                        self.op_finished(i, env);
                    }
                }
            }
            Step::Unshelved => {
                let s = &mut self.servers[i];
                s.vm_state = VmState::Active;
                s.power_state = 1;
                let shelve_image = s.shelve_image.take();
                self.touch(i, at, None);
                if let Some(img) = shelve_image {
                    self.delete_image_record(img, at, env);
                }
                self.rebind_ports(i, at);
                self.op_finished(i, env);
            }
            Step::UnshelveFailed => {
                env.stats().record_fault("unshelve_error");
                // The spawn failed: the compute host lets go of the server,
                // which stays offloaded with an instance fault.
                self.release_host(i);
                let s = &mut self.servers[i];
                s.vm_state = VmState::ShelvedOffloaded;
                s.power_state = 0;
                s.fault = Some(Fault {
                    code: 500,
                    message: format!(
                        "Build of instance {} aborted: Failed to spawn the unshelved server.",
                        s.id
                    ),
                    created: at,
                });
                self.touch(i, at, None);
                self.rebind_ports(i, at);
                self.op_finished(i, env);
            }
            Step::Deleted => self.finish_delete(i, at, env),
            Step::MigrateScheduled
            | Step::MigrateCopied
            | Step::MigrateFinishing
            | Step::MigrateFinished
            | Step::ConfirmDone
            | Step::RevertDone
            | Step::LiveScheduled
            | Step::LiveRunning
            | Step::LiveDone
            | Step::LiveAborted => self.run_move_step(i, step, at, env),
        }
    }

    /// The end of an action that only changes the server's state.
    fn settle(&mut self, i: usize, vm: VmState, power: u8, at: OffsetDateTime, env: &Env) {
        let s = &mut self.servers[i];
        s.vm_state = vm;
        s.power_state = power;
        self.touch(i, at, None);
        self.op_finished(i, env);
    }

    pub(super) fn error_no_valid_host(&mut self, i: usize, at: OffsetDateTime, env: &Env) {
        let s = &mut self.servers[i];
        s.vm_state = VmState::Error;
        s.power_state = 0;
        s.task_state = None;
        s.updated = at;
        s.fault = Some(Fault {
            code: 500,
            message: NO_VALID_HOST.to_owned(),
            created: at,
        });
        self.op_finished(i, env);
    }

    fn image_saving(&mut self, i: usize, at: OffsetDateTime) {
        if let Some(img) = self.servers[i].pending_image {
            let im = &mut self.images[img];
            if !im.deleted {
                im.status = "saving".to_owned();
                im.updated_at = at;
            }
        }
    }

    fn finish_image(&mut self, i: usize, at: OffsetDateTime, env: &Env) {
        let fails = self.servers[i].pending_image_fails;
        let bytes = snapshot_bytes(&self.servers[i]);
        if let Some(img) = self.servers[i].pending_image.take() {
            let im = &mut self.images[img];
            if !im.deleted {
                if fails {
                    im.status = "killed".to_owned();
                    im.updated_at = at;
                    env.stats().record_fault("snapshot_killed");
                } else {
                    im.finish_upload(bytes, at);
                }
            }
        }
        self.servers[i].pending_image_fails = false;
    }

    pub fn delete_image_record(&mut self, img: usize, at: OffsetDateTime, env: &Env) {
        let im = &mut self.images[img];
        if im.deleted {
            return;
        }
        im.deleted = true;
        im.status = "deleted".to_owned();
        im.updated_at = at;
        env.stats()
            .resource_deleted("image", &im.id, &im.name, iso_seconds(at));
    }
}
