//! Moves that keep a server's identity, the way Nova drives them: cold
//! migration (`migrate` → RESIZE → VERIFY_RESIZE → `confirmResize` or
//! `revertResize`) and live migration (`os-migrateLive` → MIGRATING →
//! ACTIVE on the destination, or aborted back to the source).
//!
//! Each move has a migration record (`GET /os-migrations`,
//! `/servers/{id}/migrations`) that also says which host claims it holds:
//! while a move is under way the flavor is counted on both hosts, as
//! Placement does with the migration's allocations.
//!
//! Scheduling follows Nova's request spec: a server pinned to an AZ
//! (`pinned_availability_zone`) only goes to hosts of that AZ, so asking
//! for a host elsewhere is accepted by the API (202) and fails
//! asynchronously with "No valid host" — the migration ends `error` and
//! the server stays where it was, with an instance fault.

use std::time::Duration;

use time::OffsetDateTime;

use super::clock::iso_seconds;
use super::errors::ApiError;
use super::lifecycle::{Env, LostRace, check_lock, check_state, invalid_state};
use super::model::{
    Caller, Fault, Migration, MigrationKind, Model, NO_VALID_HOST, Server, Step, VmState,
};
use super::stats::{MigrationEvent, OpSide};

/// Why a move found no destination: the instance fault it leaves.
type NoDestination = String;

/// GB of disk that lives on the compute host (not in volumes).
fn local_disk_gb(s: &Server) -> u64 {
    let root = if s.image_id.is_some() {
        s.flavor.disk_gb
    } else {
        0
    };
    root + s.flavor.ephemeral_gb
}

impl Model {
    /// `migrate` (cold), optionally to the host named `host`, with Nova's
    /// checks in Nova's order (lock, state, same host, unknown host); the
    /// policy has been checked by the API.
    pub fn migrate_server(
        &mut self,
        i: usize,
        host: Option<&str>,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        check_lock(&self.servers[i], caller)?;
        self.check_state_cas(i, "migrate", &[VmState::Active, VmState::Stopped], now, env)?;
        let s = &self.servers[i];
        if s.launched_at.is_none() {
            return Err(invalid_state("migrate", &s.id, "launched_at", "None"));
        }
        let Some(source) = s.host else {
            return Err(ApiError::nova(
                409,
                format!("Instance {} is not ready", s.id),
            ));
        };
        if host == Some(self.hosts[source].name.as_str()) {
            return Err(ApiError::nova(
                400,
                "Cannot migrate to the host where the server exists.",
            ));
        }
        let host = host.map(|h| self.host_named(h)).transpose()?;
        // The task_state is saved before the conductor records the migration.
        self.cas_task(i, LostRace::Unexpected, env)?;
        let mi = self.new_migration(i, MigrationKind::Cold, host, false, caller, now);
        self.migrations[mi].status = "pre-migrating";
        self.begin_task(i, now, "resize_prep");
        self.op_started(i, "migrate", OpSide::Source, env);
        if let Some(h) = host {
            env.stats()
                .op_add_side(&self.servers[i].id, OpSide::Target, &self.hosts[h].az);
        }
        self.record_migration(mi, env);
        let half = self.cfg.timings.migrate_overhead / 2;
        self.schedule(i, env.later(now, half), Step::MigrateScheduled);
        Ok(())
    }

    /// `os-migrateLive`, optionally to the host named `host`; `forced`
    /// takes it as given, without the scheduler (a host before 2.30, or
    /// `force` in 2.30–2.67). `block` is true when `block_migration` is
    /// true (not `auto`): the disk is copied with the memory.
    #[allow(clippy::too_many_arguments)]
    pub fn live_migrate_server(
        &mut self,
        i: usize,
        host: Option<&str>,
        forced: bool,
        block: bool,
        synchronous_checks: bool,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        check_lock(&self.servers[i], caller)?;
        self.check_state_cas(
            i,
            "os-migrateLive",
            &[VmState::Active, VmState::Paused],
            now,
            env,
        )?;
        let host = host.map(|h| self.host_named(h)).transpose()?;
        self.cas_task(i, LostRace::Unexpected, env)?;
        let mi = self.new_migration(i, MigrationKind::Live, host, forced, caller, now);
        // Before 2.34 the conductor's pre-checks answer the API call: the
        // migration is recorded as failed, with an instance fault.
        if synchronous_checks {
            let source = self.servers[i].host.unwrap_or_default();
            if let Err(reason) = self.pick_destination(i, source, host, forced) {
                self.servers[i].migration = None;
                self.set_migration_status(mi, "error", now, env);
                self.servers[i].fault = Some(Fault {
                    code: 500,
                    message: reason.clone(),
                    created: now,
                });
                return Err(ApiError::nova(400, reason));
            }
        }
        if block {
            let s = &self.servers[i];
            self.migrations[mi].disk_total = local_disk_gb(s) * 1024 * 1024 * 1024;
        }
        self.begin_task(i, now, "migrating");
        self.op_started(i, "live_migrate", OpSide::Source, env);
        if let Some(h) = host {
            env.stats()
                .op_add_side(&self.servers[i].id, OpSide::Target, &self.hosts[h].az);
        }
        self.record_migration(mi, env);
        let half = self.cfg.timings.live_migration_overhead / 2;
        self.schedule(i, env.later(now, half), Step::LiveScheduled);
        Ok(())
    }

    /// A compute host by name, or Nova's 400 for an unknown one.
    fn host_named(&self, name: &str) -> Result<usize, ApiError> {
        self.hosts
            .iter()
            .position(|h| h.name == name)
            .ok_or_else(|| ApiError::nova(400, format!("Compute host {name} could not be found.")))
    }

    /// The migration of server `i` waiting in VERIFY_RESIZE.
    fn finished_migration(&self, i: usize) -> Result<usize, ApiError> {
        self.servers[i]
            .migration
            .filter(|mi| self.migrations[*mi].status == "finished")
            .ok_or_else(|| ApiError::nova(400, "Instance has not been resized."))
    }

    /// `confirmResize`: the source host lets go of the server.
    pub fn confirm_resize(
        &mut self,
        i: usize,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        check_lock(&self.servers[i], caller)?;
        check_state(&self.servers[i], "confirmResize", &[VmState::Resized])?;
        let mi = self.finished_migration(i)?;
        self.set_migration_status(mi, "confirming", now, env);
        self.servers[i].updated = now;
        self.op_started(i, "confirm_resize", OpSide::Source, env);
        let d = self.cfg.timings.confirm_resize;
        self.schedule(i, env.later(now, d), Step::ConfirmDone);
        Ok(())
    }

    /// `revertResize`: back to the source host.
    pub fn revert_resize(
        &mut self,
        i: usize,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        check_lock(&self.servers[i], caller)?;
        self.check_state_cas(i, "revertResize", &[VmState::Resized], now, env)?;
        let mi = self.finished_migration(i)?;
        self.cas_task(i, LostRace::Unexpected, env)?;
        self.set_migration_status(mi, "reverting", now, env);
        self.begin_task(i, now, "resize_reverting");
        self.op_started(i, "revert_resize", OpSide::Source, env);
        let d = self.cfg.timings.revert_resize;
        self.schedule(i, env.later(now, d), Step::RevertDone);
        Ok(())
    }

    /// The live migration `id` of server `i`, as Nova looks it up.
    fn live_migration_of(&self, i: usize, id: &str) -> Option<usize> {
        let n: u64 = id.trim().parse().ok()?;
        let mi = usize::try_from(n.checked_sub(1)?).ok()?;
        self.migrations
            .get(mi)
            .filter(|m| m.server == i && m.kind == MigrationKind::Live)
            .map(|_| mi)
    }

    /// `DELETE /servers/{id}/migrations/{migration_id}` (2.24): abort a
    /// running live migration (also `queued`/`preparing` ones from 2.65).
    pub fn abort_live_migration(
        &mut self,
        i: usize,
        id: &str,
        allow_queued: bool,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        let s = &self.servers[i];
        check_lock(s, caller)?;
        if s.task_state != Some("migrating") {
            return Err(invalid_state(
                "abort live migration",
                &s.id,
                "task_state",
                s.task_state.unwrap_or("None"),
            ));
        }
        let Some(mi) = self.live_migration_of(i, id) else {
            return Err(ApiError::nova(
                404,
                format!("Migration {id} not found for instance {}", s.id),
            ));
        };
        let status = self.migrations[mi].status;
        let allowed =
            status == "running" || (allow_queued && matches!(status, "queued" | "preparing"));
        if !allowed {
            return Err(ApiError::nova(
                400,
                format!(
                    "Migration {id} state of instance {} is {status}. Cannot abort live migration while the migration is in this state.",
                    s.id
                ),
            ));
        }
        // Whatever was still to come of the migration will not happen.
        self.servers[i].generation += 1;
        let d = self.cfg.timings.live_migration_overhead / 4;
        self.schedule(i, env.later(now, d), Step::LiveAborted);
        Ok(())
    }

    /// `force_complete` (2.22): finish a running live migration now.
    pub fn force_complete_live_migration(
        &mut self,
        i: usize,
        id: &str,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        let s = &self.servers[i];
        check_lock(s, caller)?;
        if s.vm_state != VmState::Active {
            return Err(invalid_state(
                "force_complete",
                &s.id,
                "vm_state",
                s.vm_state.as_str(),
            ));
        }
        if s.task_state != Some("migrating") {
            return Err(invalid_state(
                "force_complete",
                &s.id,
                "task_state",
                s.task_state.unwrap_or("None"),
            ));
        }
        let Some(mi) = self.live_migration_of(i, id) else {
            return Err(ApiError::nova(
                400,
                format!("Migration {id} not found for instance {}", s.id),
            ));
        };
        let status = self.migrations[mi].status;
        if status != "running" {
            return Err(ApiError::nova(
                400,
                format!(
                    "Migration {id} state of instance {} is {status}. Cannot force complete while the migration is in this state.",
                    s.id
                ),
            ));
        }
        self.servers[i].generation += 1;
        self.migrations[mi].copy_ends = Some(now);
        let d = self.cfg.timings.live_migration_overhead / 4;
        self.schedule(i, env.later(now, d), Step::LiveDone);
        Ok(())
    }

    /// The server goes away, or someone else changes its state: its move
    /// is over, and the claims it held are let go.
    pub fn abandon_move(&mut self, i: usize, at: OffsetDateTime, env: &Env) {
        let Some(mi) = self.servers[i].migration.take() else {
            return;
        };
        let flavor = self.servers[i].flavor.clone();
        let m = &mut self.migrations[mi];
        let source = std::mem::take(&mut m.source_claimed).then_some(m.source);
        let dest = std::mem::take(&mut m.dest_claimed)
            .then_some(m.dest)
            .flatten();
        // A server deleted in VERIFY_RESIZE is confirmed on the way out.
        let status = if m.status == "finished" {
            "confirmed"
        } else {
            "error"
        };
        for h in [source, dest].into_iter().flatten() {
            self.unclaim(h, &flavor);
        }
        self.set_migration_status(mi, status, at, env);
    }

    pub(crate) fn run_move_step(&mut self, i: usize, step: Step, at: OffsetDateTime, env: &Env) {
        let Some(mi) = self.servers[i].migration else {
            return;
        };
        let t = self.cfg.timings.clone();
        match step {
            Step::MigrateScheduled => {
                if self.schedule_move(i, mi, at, env).is_none() {
                    return;
                }
                let gb = local_disk_gb(&self.servers[i]);
                let copy = Duration::from_secs_f64(gb as f64 * 1024.0 / t.migrate_throughput_mb_s);
                let ends = env.later(at, copy);
                let m = &mut self.migrations[mi];
                m.disk_total = gb * 1024 * 1024 * 1024;
                m.copy_started = Some(at);
                m.copy_ends = Some(ends);
                self.set_migration_status(mi, "migrating", at, env);
                self.touch(i, at, Some("resize_migrating"));
                self.schedule(i, ends, Step::MigrateCopied);
            }
            Step::MigrateCopied => {
                self.set_migration_status(mi, "post-migrating", at, env);
                self.touch(i, at, Some("resize_migrated"));
                let d = t.migrate_overhead / 4;
                self.schedule(i, env.later(at, d), Step::MigrateFinishing);
            }
            Step::MigrateFinishing => {
                // The destination takes the server; the source's resources
                // stay held by the migration until confirm or revert.
                let m = &mut self.migrations[mi];
                let Some(dest) = m.dest else { return };
                m.dest_claimed = false;
                m.source_claimed = true;
                self.servers[i].host = Some(dest);
                self.touch(i, at, Some("resize_finish"));
                self.rebind_ports(i, at);
                let d = t.migrate_overhead / 4;
                self.schedule(i, env.later(at, d), Step::MigrateFinished);
            }
            Step::MigrateFinished => {
                self.set_migration_status(mi, "finished", at, env);
                let s = &mut self.servers[i];
                s.vm_state = VmState::Resized;
                s.launched_at = Some(at);
                self.touch(i, at, None);
                self.op_finished(i, env);
            }
            Step::ConfirmDone => {
                let flavor = self.servers[i].flavor.clone();
                let m = &mut self.migrations[mi];
                let source = std::mem::take(&mut m.source_claimed).then_some(m.source);
                let old = m.old_vm_state;
                if let Some(h) = source {
                    self.unclaim(h, &flavor);
                }
                self.set_migration_status(mi, "confirmed", at, env);
                self.end_move(i, old, at, env);
            }
            Step::RevertDone => {
                let flavor = self.servers[i].flavor.clone();
                let m = &mut self.migrations[mi];
                let (source, dest, old) = (m.source, m.dest, m.old_vm_state);
                m.source_claimed = false;
                m.dest_claimed = false;
                if let Some(d) = dest {
                    self.unclaim(d, &flavor);
                }
                self.servers[i].host = Some(source);
                self.rebind_ports(i, at);
                self.set_migration_status(mi, "reverted", at, env);
                self.end_move(i, old, at, env);
            }
            Step::LiveScheduled => {
                if self.schedule_move(i, mi, at, env).is_none() {
                    return;
                }
                self.set_migration_status(mi, "preparing", at, env);
                let d = t.live_migration_overhead / 4;
                self.schedule(i, env.later(at, d), Step::LiveRunning);
            }
            Step::LiveRunning => {
                let s = &self.servers[i];
                let m = &self.migrations[mi];
                let dest_az = m.dest.map(|d| self.hosts[d].az.clone()).unwrap_or_default();
                let hangs = env.faults().live_migration_hang(&dest_az, &s.name);
                let mb = (s.flavor.ram_mb * 1024 * 1024 + m.disk_total) as f64 / (1024.0 * 1024.0);
                let copy = Duration::from_secs_f64(mb / t.live_migration_throughput_mb_s);
                let ends = env.later(at, copy);
                let m = &mut self.migrations[mi];
                m.copy_started = Some(at);
                m.hangs = hangs;
                m.copy_ends = (!hangs).then_some(ends);
                self.set_migration_status(mi, "running", at, env);
                if hangs {
                    env.stats().record_fault("live_migration_hang");
                } else {
                    let d = t.live_migration_overhead / 4;
                    self.schedule(i, env.later(ends, d), Step::LiveDone);
                }
            }
            Step::LiveDone => {
                let flavor = self.servers[i].flavor.clone();
                let m = &mut self.migrations[mi];
                let (source, dest) = (m.source, m.dest);
                m.dest_claimed = false;
                let Some(dest) = dest else { return };
                self.unclaim(source, &flavor);
                self.servers[i].host = Some(dest);
                self.rebind_ports(i, at);
                self.set_migration_status(mi, "completed", at, env);
                let old = self.servers[i].vm_state;
                self.end_move(i, old, at, env);
            }
            Step::LiveAborted => {
                let flavor = self.servers[i].flavor.clone();
                let m = &mut self.migrations[mi];
                let dest = std::mem::take(&mut m.dest_claimed)
                    .then_some(m.dest)
                    .flatten();
                if let Some(d) = dest {
                    self.unclaim(d, &flavor);
                }
                self.set_migration_status(mi, "cancelled", at, env);
                let old = self.servers[i].vm_state;
                self.end_move(i, old, at, env);
            }
            _ => {}
        }
    }

    /// The server is done moving: back to `vm_state` with no task.
    fn end_move(&mut self, i: usize, vm_state: VmState, at: OffsetDateTime, env: &Env) {
        let s = &mut self.servers[i];
        s.migration = None;
        s.vm_state = vm_state;
        s.power_state = vm_state.power_state();
        self.touch(i, at, None);
        self.op_finished(i, env);
    }

    /// Scheduling and pre-checks of a move: claim the destination, or
    /// fail the migration and leave the server where it is.
    fn schedule_move(
        &mut self,
        i: usize,
        mi: usize,
        at: OffsetDateTime,
        env: &Env,
    ) -> Option<usize> {
        let m = &self.migrations[mi];
        let live = m.kind == MigrationKind::Live;
        let picked = self
            .pick_destination(i, m.source, m.requested, m.forced)
            .and_then(|h| {
                let injected =
                    env.faults()
                        .migration_error(&self.hosts[h].az, &self.servers[i].name, live);
                if injected {
                    env.stats().record_fault("migration_error");
                    Err(NO_VALID_HOST.to_owned())
                } else {
                    Ok(h)
                }
            });
        match picked {
            Ok(h) => {
                let flavor = self.servers[i].flavor.clone();
                self.claim(h, &flavor);
                let m = &mut self.migrations[mi];
                m.dest = Some(h);
                m.dest_claimed = true;
                env.stats()
                    .op_add_side(&self.servers[i].id, OpSide::Target, &self.hosts[h].az);
                Some(h)
            }
            Err(reason) => {
                self.set_migration_status(mi, "error", at, env);
                let s = &mut self.servers[i];
                s.fault = Some(Fault {
                    code: 500,
                    message: reason,
                    created: at,
                });
                let state = s.vm_state;
                self.end_move(i, state, at, env);
                None
            }
        }
    }

    /// Nova's scheduler for a move: another enabled host with room, in
    /// the pinned AZ if there is one, the one asked for if any, preferring
    /// the most free RAM. A forced live migration skips the filters.
    fn pick_destination(
        &self,
        i: usize,
        source: usize,
        requested: Option<usize>,
        forced: bool,
    ) -> Result<usize, NoDestination> {
        let s = &self.servers[i];
        if forced && let Some(h) = requested {
            if h == source {
                return Err(format!(
                    "Unable to migrate instance ({}) to current host ({}).",
                    s.id, self.hosts[h].name
                ));
            }
            return Ok(h);
        }
        let others: Vec<usize> = s
            .server_group
            .map(|g| {
                self.server_groups[g]
                    .members
                    .iter()
                    .filter(|id| **id != s.id)
                    .filter_map(|id| self.server(id))
                    .filter_map(|x| self.servers[x].host)
                    .collect()
            })
            .unwrap_or_default();
        let policy = s
            .server_group
            .map(|g| self.server_groups[g].policy.as_str());
        self.hosts
            .iter()
            .enumerate()
            .filter(|(h, _)| *h != source)
            .filter(|(h, _)| requested.is_none_or(|r| r == *h))
            .filter(|(_, host)| s.requested_az.as_ref().is_none_or(|az| &host.az == az))
            .filter(|(_, host)| host.fits(&s.flavor))
            .filter(|(h, _)| match policy {
                Some("anti-affinity") => !others.contains(h),
                Some("affinity") => others.is_empty() || others.contains(h),
                _ => true,
            })
            .max_by_key(|(h, host)| (host.ram_mb - host.used_ram_mb, std::cmp::Reverse(*h)))
            .map(|(h, _)| h)
            .ok_or_else(|| NO_VALID_HOST.to_owned())
    }

    fn new_migration(
        &mut self,
        i: usize,
        kind: MigrationKind,
        requested: Option<usize>,
        forced: bool,
        caller: &Caller,
        now: OffsetDateTime,
    ) -> usize {
        let uuid = self.new_uuid();
        let s = &self.servers[i];
        let flavor_db_id = self
            .flavors
            .iter()
            .position(|f| f.id == s.flavor.id)
            .map_or(0, |p| p as u64 + 1);
        let migration = Migration {
            id: self.migrations.len() as u64 + 1,
            uuid,
            server: i,
            instance_uuid: s.id.clone(),
            kind,
            status: "accepted",
            source: s.host.unwrap_or_default(),
            // Nova's live migration records the host asked for at once; a
            // cold one learns its destination from the scheduler.
            dest: if kind == MigrationKind::Live {
                requested
            } else {
                None
            },
            requested,
            forced,
            flavor_db_id,
            user_id: caller.user_id.clone(),
            project_id: caller.project_id.clone(),
            created_at: now,
            updated_at: now,
            old_vm_state: s.vm_state,
            source_claimed: false,
            dest_claimed: false,
            memory_total: if kind == MigrationKind::Live {
                s.flavor.ram_mb * 1024 * 1024
            } else {
                0
            },
            disk_total: 0,
            copy_started: None,
            copy_ends: None,
            hangs: false,
        };
        self.migrations.push(migration);
        let mi = self.migrations.len() - 1;
        self.servers[i].migration = Some(mi);
        mi
    }

    fn set_migration_status(
        &mut self,
        mi: usize,
        status: &'static str,
        at: OffsetDateTime,
        env: &Env,
    ) {
        let m = &mut self.migrations[mi];
        m.status = status;
        m.updated_at = at;
        self.record_migration(mi, env);
    }

    fn record_migration(&self, mi: usize, env: &Env) {
        let m = &self.migrations[mi];
        let s = &self.servers[m.server];
        let source = &self.hosts[m.source];
        let dest = m.dest.map(|d| &self.hosts[d]);
        env.stats().migration(MigrationEvent {
            id: m.id,
            uuid: m.uuid.clone(),
            server_id: s.id.clone(),
            server_name: s.name.clone(),
            migration_type: m.kind.as_str().to_owned(),
            source_compute: source.name.clone(),
            dest_compute: dest.map(|d| d.name.clone()),
            source_az: source.az.clone(),
            dest_az: dest.map(|d| d.az.clone()),
            status: m.status.to_owned(),
            created_at: iso_seconds(m.created_at),
            updated_at: iso_seconds(m.updated_at),
        });
    }
}
