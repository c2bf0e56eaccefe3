//! How servers change over time, the way Nova drives them: boots go
//! BUILD → ACTIVE (or ERROR), snapshots walk their task states while the
//! Glance image goes queued → saving → active (or killed), and so on.
//!
//! Nothing runs in the background: every API request first calls
//! [`Model::advance`], which applies, in time order, every step whose time
//! has come. Steps carry their own due time, so a chain of steps computes
//! the same timestamps however late it is evaluated.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use super::clock::{Clock, iso_seconds};
use super::errors::ApiError;
use super::faults::Faults;
use super::model::{
    Caller, Fault, FlavorRec, Image, Model, NO_VALID_HOST, NetRequest, Server, Step, VmState,
    Volume, hostname_of,
};
use super::stats::{Collector, OpSide};

/// What the model needs besides itself: the clock, counters and faults.
#[derive(Debug)]
pub struct Env {
    pub clock: Clock,
    pub stats: Mutex<Collector>,
    pub faults: Mutex<Faults>,
}

impl Env {
    pub fn stats(&self) -> std::sync::MutexGuard<'_, Collector> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn later(&self, at: OffsetDateTime, d: Duration) -> OffsetDateTime {
        at + self.clock.scaled(d)
    }
}

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

/// A validated `unshelve` action.
#[derive(Debug, Clone, Default)]
pub struct UnshelveRequest {
    /// `None`: keep the pinned AZ; `Some(None)`: unpin (2.91);
    /// `Some(Some(az))`: unshelve into `az` and pin it (2.77).
    pub az: Option<Option<String>>,
    /// A host name (2.91, admins only).
    pub host: Option<String>,
}

/// A validated `POST /servers`, in model terms.
#[derive(Debug, Clone)]
pub struct BootRequest {
    pub name: String,
    pub flavor: usize,
    pub image: Option<usize>,
    pub boot_volume: Option<BootVolume>,
    pub availability_zone: Option<String>,
    pub forced_host: Option<usize>,
    pub networks: Vec<NetRequest>,
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub user_data: Option<String>,
    pub config_drive: bool,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub hints: BTreeMap<String, serde_json::Value>,
    pub group: Option<usize>,
    pub disk_config: &'static str,
    pub access_ipv4: String,
    pub access_ipv6: String,
}

/// Nova's answer when an action does not fit the server's state.
pub fn invalid_state(action: &str, id: &str, attr: &str, state: &str) -> ApiError {
    ApiError::nova(
        409,
        format!("Cannot '{action}' instance {id} while it is in {attr} {state}"),
    )
}

pub(crate) fn check_state(s: &Server, action: &str, allowed: &[VmState]) -> Result<(), ApiError> {
    if !allowed.contains(&s.vm_state) {
        return Err(invalid_state(
            action,
            &s.id,
            "vm_state",
            s.vm_state.as_str(),
        ));
    }
    if let Some(task) = s.task_state {
        return Err(invalid_state(action, &s.id, "task_state", task));
    }
    Ok(())
}

/// The first line of Nova's 500 for an exception its API does not handle
/// (`wsgi.expected_errors`; `[DEFAULT] support` text of Nova ≥ 2025.1).
pub const UNEXPECTED_API_ERROR: &str = "Unexpected API Error. Please contact the administrator";

/// Nova's 500 for an unhandled exception of class `nova.exception.<class>`.
pub fn unexpected_api_error(class: &str) -> ApiError {
    ApiError::nova(
        500,
        format!("{UNEXPECTED_API_ERROR}\n<class 'nova.exception.{class}'>"),
    )
}

/// How an action answers when it loses the compare-and-swap on task_state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LostRace {
    /// The API does not handle `UnexpectedTaskStateError`: a 500.
    Unexpected,
    /// `shelve` turns it into a 409 with the exception's message.
    Conflict,
}

/// vm_states whose servers' metadata may change (Nova's
/// `update_instance_metadata`/`delete_instance_metadata`; Nova's server
/// tags, not served here, use the same list without the task check).
const METADATA_STATES: &[VmState] = &[
    VmState::Active,
    VmState::Paused,
    VmState::Suspended,
    VmState::Stopped,
];

pub(crate) fn check_lock(s: &Server, caller: &Caller) -> Result<(), ApiError> {
    if s.locked && !caller.is_admin {
        return Err(ApiError::nova(409, format!("Instance {} is locked", s.id)));
    }
    Ok(())
}

/// Bytes of a snapshot of this server (its root disk).
fn snapshot_bytes(s: &Server) -> u64 {
    if s.image_id.is_none() {
        0
    } else {
        s.flavor.disk_gb * 1024 * 1024 * 1024
    }
}

impl Model {
    /// Apply every step due at or before `now`, in time order.
    pub fn advance(&mut self, now: OffsetDateTime, env: &Env) {
        if self.last_advance.is_some_and(|t| t > now) {
            return;
        }
        self.last_advance = Some(now);
        while let Some(std::cmp::Reverse(ev)) = self.queue.peek() {
            if ev.at > now {
                break;
            }
            let Some(std::cmp::Reverse(ev)) = self.queue.pop() else {
                break;
            };
            if self.servers[ev.server].generation != ev.generation {
                continue;
            }
            self.run_step(ev.server, ev.step, ev.at, env);
        }
    }

    pub(crate) fn touch(&mut self, i: usize, at: OffsetDateTime, task: Option<&'static str>) {
        let s = &mut self.servers[i];
        s.task_state = task;
        s.updated = at;
    }

    /// `now` falls within `races.task_state_window` after an API action set
    /// server `i`'s (still set) task_state: a request arriving now read the
    /// server before that action saved it.
    pub(crate) fn racing(&self, i: usize, now: OffsetDateTime, env: &Env) -> bool {
        let w = self.cfg.races.task_state_window;
        let s = &self.servers[i];
        !w.is_zero()
            && s.task_state.is_some()
            && s.task_set_at.is_some_and(|t0| now < env.later(t0, w))
    }

    /// [`check_state`] of an action that saves its task_state with
    /// `expected_task_state=[None]`. Within the race window the request saw
    /// no task, so it passes here and loses in [`Model::cas_task`].
    pub(crate) fn check_state_cas(
        &self,
        i: usize,
        action: &str,
        allowed: &[VmState],
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        let s = &self.servers[i];
        if !allowed.contains(&s.vm_state) {
            return Err(invalid_state(
                action,
                &s.id,
                "vm_state",
                s.vm_state.as_str(),
            ));
        }
        if let Some(task) = s.task_state
            && !self.racing(i, now, env)
        {
            return Err(invalid_state(action, &s.id, "task_state", task));
        }
        Ok(())
    }

    /// Nova's `instance.save(expected_task_state=[None])`: fails when
    /// another action set a task meanwhile (only reachable through
    /// [`Model::check_state_cas`] within the race window). Nothing of the
    /// action happens after this; what happened before it stays.
    pub(crate) fn cas_task(&self, i: usize, lost: LostRace, env: &Env) -> Result<(), ApiError> {
        let s = &self.servers[i];
        let Some(actual) = s.task_state else {
            return Ok(());
        };
        env.stats().record_fault("task_state_race");
        let class = if actual == "deleting" {
            "UnexpectedDeletingTaskStateError"
        } else {
            "UnexpectedTaskStateError"
        };
        Err(match lost {
            LostRace::Unexpected => unexpected_api_error(class),
            LostRace::Conflict => ApiError::nova(
                409,
                format!(
                    "Conflict updating instance {}. Expected: {{'task_state': [None]}}. Actual: {{'task_state': '{actual}'}}",
                    s.id
                ),
            ),
        })
    }

    /// An API action sets the server's task_state (its compare-and-swap
    /// has passed): the race window starts.
    pub(crate) fn begin_task(&mut self, i: usize, now: OffsetDateTime, task: &'static str) {
        self.touch(i, now, Some(task));
        self.servers[i].task_set_at = Some(now);
    }

    /// How long to hold back the answer to the request that set server
    /// `i`'s task_state at `now` (wall time): a real API answers only after
    /// its save, so a client's next request cannot race its previous one.
    pub fn answer_hold(&self, i: usize, now: OffsetDateTime, env: &Env) -> Option<Duration> {
        let w = self.cfg.races.task_state_window;
        (!w.is_zero() && self.servers[i].task_set_at == Some(now)).then(|| env.clock.scaled(w))
    }

    /// Nova's checks before a server's metadata changes: locked (409), then
    /// `@check_instance_state(vm_state=[ACTIVE, PAUSED, SUSPENDED, STOPPED],
    /// task_state=None)` with `must_have_launched`, answered as
    /// `Cannot '<action>' instance <uuid> while it is in <attr> <state>`.
    /// `action` is `update metadata` or `delete metadata`.
    pub fn check_metadata_write(
        &self,
        i: usize,
        action: &str,
        caller: &Caller,
    ) -> Result<(), ApiError> {
        let s = &self.servers[i];
        check_lock(s, caller)?;
        check_state(s, action, METADATA_STATES)?;
        if s.launched_at.is_none() {
            return Err(invalid_state(action, &s.id, "launched_at", "None"));
        }
        Ok(())
    }

    pub(crate) fn op_started(&self, i: usize, kind: &str, side: OpSide, env: &Env) {
        let s = &self.servers[i];
        let az = self.server_az(s);
        env.stats().op_started(&s.id, kind, side, &az);
    }

    pub(crate) fn op_finished(&self, i: usize, env: &Env) {
        env.stats().op_finished(&self.servers[i].id);
    }

    /// Count a server's flavor as used on a host (the server's own host,
    /// or a migration's claim).
    pub(crate) fn claim(&mut self, h: usize, f: &FlavorRec) {
        let host = &mut self.hosts[h];
        host.used_vcpus += f.vcpus;
        host.used_ram_mb += f.ram_mb;
        host.used_disk_gb += f.disk_gb + f.ephemeral_gb;
    }

    pub(crate) fn unclaim(&mut self, h: usize, f: &FlavorRec) {
        let host = &mut self.hosts[h];
        host.used_vcpus = host.used_vcpus.saturating_sub(f.vcpus);
        host.used_ram_mb = host.used_ram_mb.saturating_sub(f.ram_mb);
        host.used_disk_gb = host.used_disk_gb.saturating_sub(f.disk_gb + f.ephemeral_gb);
    }

    fn take_host(&mut self, i: usize, h: usize) {
        let f = self.servers[i].flavor.clone();
        self.claim(h, &f);
        self.servers[i].host = Some(h);
    }

    fn release_host(&mut self, i: usize) {
        if let Some(h) = self.servers[i].host.take() {
            let f = self.servers[i].flavor.clone();
            self.unclaim(h, &f);
        }
    }

    fn error_no_valid_host(&mut self, i: usize, at: OffsetDateTime, env: &Env) {
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

    fn run_step(&mut self, i: usize, step: Step, at: OffsetDateTime, env: &Env) {
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
                let s = &mut self.servers[i];
                s.vm_state = VmState::Active;
                s.power_state = 1;
                s.launched_at = Some(at);
                self.touch(i, at, None);
                self.op_finished(i, env);
            }
            Step::Stopped => {
                let s = &mut self.servers[i];
                s.vm_state = VmState::Stopped;
                s.power_state = 4;
                self.touch(i, at, None);
                self.op_finished(i, env);
            }
            Step::Started => {
                let s = &mut self.servers[i];
                s.vm_state = VmState::Active;
                s.power_state = 1;
                self.touch(i, at, None);
                self.op_finished(i, env);
            }
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

    fn create_boot_ports(&mut self, i: usize, at: OffsetDateTime, env: &Env) {
        let requests = std::mem::take(&mut self.servers[i].net_requests);
        let project = self.servers[i].project_id.clone();
        let names = self.servers[i].security_groups.clone();
        let sgs = self
            .resolve_security_groups(&project, &names)
            .unwrap_or_default();
        for r in requests {
            match r {
                NetRequest::Network(net, fixed_ip) => {
                    match self.create_port(net, &project, fixed_ip, sgs.clone(), at, Some(i), true)
                    {
                        Ok(id) => env
                            .stats()
                            .resource_created("port", &id, "", iso_seconds(at)),
                        Err(_) => {
                            // Neutron ran out of addresses: the boot fails.
                            self.error_no_valid_host(i, at, env);
                            return;
                        }
                    }
                }
                NetRequest::Port(id) => self.bind_port(&id, i, at),
            }
        }
    }

    fn create_boot_volume(&mut self, i: usize, at: OffsetDateTime) {
        let Some(bv) = self.pending_boot_volumes.remove(&self.servers[i].id) else {
            return;
        };
        let vol = match bv {
            BootVolume::Existing { volume, .. } => volume,
            BootVolume::New { image, size_gb, .. } => {
                let id = self.new_uuid();
                let s = &self.servers[i];
                let az = self.server_az(s);
                let v = Volume {
                    id,
                    name: String::new(),
                    project_id: s.project_id.clone(),
                    user_id: s.user_id.clone(),
                    size_gb,
                    az,
                    status: "available".to_owned(),
                    bootable: image.is_some(),
                    volume_type: "__DEFAULT__".to_owned(),
                    attachments: Vec::new(),
                    created_at: at,
                    updated_at: at,
                };
                self.volumes.push(v);
                self.volumes.len() - 1
            }
        };
        let delete = matches!(
            bv,
            BootVolume::New {
                delete_on_termination: true,
                ..
            } | BootVolume::Existing {
                delete_on_termination: true,
                ..
            }
        );
        self.attach_volume(i, vol, "/dev/vda".to_owned(), at);
        if let Some(sv) = self.servers[i].volumes.last_mut() {
            sv.delete_on_termination = delete;
        }
    }

    /// `POST /servers`: checks quota, records the server in BUILD and
    /// schedules it. Returns the new server's index and admin password.
    pub fn create_server(
        &mut self,
        req: BootRequest,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<usize, ApiError> {
        let flavor = self.flavors[req.flavor].clone();
        self.check_quota(&caller.project_id, &flavor)?;
        let id = self.new_uuid();
        let instance_name = self.next_instance_name();
        let reservation_id = format!("r-{:08x}", self.random_u64() as u32);
        let (image_id, image_properties) = match req.image {
            Some(img) => (
                Some(self.images[img].id.clone()),
                self.images[img].properties.clone(),
            ),
            None => (None, BTreeMap::new()),
        };
        let server = Server {
            id: id.clone(),
            name: req.name.clone(),
            project_id: caller.project_id.clone(),
            user_id: caller.user_id.clone(),
            requested_az: req.availability_zone.clone(),
            host: None,
            flavor,
            image_id,
            image_properties,
            vm_state: VmState::Building,
            task_state: Some("scheduling"),
            power_state: 0,
            created: now,
            updated: now,
            launched_at: None,
            terminated_at: None,
            deleted_at: None,
            metadata: req.metadata,
            key_name: req.key_name,
            user_data: req.user_data,
            config_drive: req.config_drive,
            security_groups: req.security_groups,
            fault: None,
            locked: false,
            locked_reason: None,
            description: req.description,
            tags: req.tags,
            hostname: hostname_of(&req.name),
            instance_name,
            reservation_id,
            scheduler_hints: req.hints,
            server_group: req.group,
            volumes: Vec::new(),
            net_requests: req.networks,
            access_ipv4: req.access_ipv4,
            access_ipv6: req.access_ipv6,
            disk_config: req.disk_config,
            generation: 0,
            pending_image: None,
            pending_image_fails: false,
            shelve_image: None,
            migration: None,
            unshelve_host: None,
            task_set_at: None,
        };
        let i = self.servers.len();
        self.server_index.insert(id.clone(), i);
        self.servers.push(server);
        if let Some(g) = req.group {
            self.server_groups[g].members.push(id.clone());
        }
        if let Some(bv) = req.boot_volume {
            if let BootVolume::Existing { volume, .. } = &bv {
                self.volumes[*volume].status = "reserved".to_owned();
            }
            self.pending_boot_volumes.insert(id.clone(), bv);
        }
        if let Some(h) = req.forced_host {
            self.take_host(i, h);
        }
        env.stats()
            .resource_created("server", &id, &req.name, iso_seconds(now));
        if req.availability_zone.is_some() || req.forced_host.is_some() {
            self.op_started(i, "boot", OpSide::Target, env);
        }
        let delay = self.cfg.timings.boot.mul_f64(0.2);
        self.schedule(i, env.later(now, delay), Step::Scheduled);
        Ok(i)
    }

    fn check_quota(&self, project_id: &str, flavor: &FlavorRec) -> Result<(), ApiError> {
        let Some(p) = self.project_by_id(project_id) else {
            return Ok(());
        };
        let q = &self.projects[p].quota;
        let (n, cores, ram) = self.usage(project_id);
        let checks = [
            ("cores", i64::from(flavor.vcpus), cores, q.cores),
            ("instances", 1, n, q.instances),
            ("ram", flavor.ram_mb as i64, ram, q.ram_mb),
        ];
        let over: Vec<_> = checks
            .iter()
            .filter(|(_, want, used, limit)| *limit >= 0 && used + want > *limit)
            .collect();
        if over.is_empty() {
            return Ok(());
        }
        let column = |n: usize| {
            over.iter()
                .map(|c| match n {
                    0 => c.0.to_owned(),
                    1 => c.1.to_string(),
                    2 => c.2.to_string(),
                    _ => c.3.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let names = column(0);
        Err(ApiError::nova(
            403,
            format!(
                "Quota exceeded for {names}: Requested {}, but already used {} of {} {names}",
                column(1),
                column(2),
                column(3),
            ),
        ))
    }

    /// `os-stop`.
    pub fn stop_server(
        &mut self,
        i: usize,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        check_lock(&self.servers[i], caller)?;
        self.check_state_cas(i, "stop", &[VmState::Active, VmState::Error], now, env)?;
        self.cas_task(i, LostRace::Unexpected, env)?;
        self.begin_task(i, now, "powering-off");
        self.op_started(i, "stop", OpSide::Source, env);
        let d = self.cfg.timings.stop;
        self.schedule(i, env.later(now, d), Step::Stopped);
        Ok(())
    }

    /// `os-start`.
    pub fn start_server(
        &mut self,
        i: usize,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        check_lock(&self.servers[i], caller)?;
        self.check_state_cas(i, "start", &[VmState::Stopped], now, env)?;
        self.cas_task(i, LostRace::Unexpected, env)?;
        self.begin_task(i, now, "powering-on");
        self.op_started(i, "start", OpSide::Source, env);
        let d = self.cfg.timings.start;
        self.schedule(i, env.later(now, d), Step::Started);
        Ok(())
    }

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

    /// `shelveOffload`.
    pub fn shelve_offload_server(
        &mut self,
        i: usize,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        check_lock(&self.servers[i], caller)?;
        self.check_state_cas(i, "shelveOffload", &[VmState::Shelved], now, env)?;
        self.cas_task(i, LostRace::Unexpected, env)?;
        self.begin_task(i, now, "shelving_offloading");
        self.op_started(i, "shelve_offload", OpSide::Source, env);
        let d = self.cfg.timings.shelve_offload;
        self.schedule(i, env.later(now, d), Step::Offloaded);
        Ok(())
    }

    /// `unshelve`, optionally into another AZ (2.77; `Some(None)` unpins,
    /// 2.91) or onto a host (2.91, admins), with Nova's checks in Nova's
    /// order: lock, state, offloaded, AZ, host.
    pub fn unshelve_server(
        &mut self,
        i: usize,
        req: UnshelveRequest,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        check_lock(&self.servers[i], caller)?;
        self.check_state_cas(
            i,
            "unshelve",
            &[VmState::Shelved, VmState::ShelvedOffloaded],
            now,
            env,
        )?;
        let offloaded = self.servers[i].vm_state == VmState::ShelvedOffloaded;
        if (req.az.is_some() || req.host.is_some()) && !offloaded {
            return Err(ApiError::nova(
                409,
                format!(
                    "Specifying an availability zone or a host when unshelving server \"{}\" with status \"{}\" is not supported. The server status must be SHELVED_OFFLOADED.",
                    self.servers[i].id,
                    self.servers[i].vm_state.as_str()
                ),
            ));
        }
        if let Some(Some(az)) = &req.az
            && !self.available_zones().contains(az)
        {
            return Err(ApiError::nova(
                400,
                "The requested availability zone is not available",
            ));
        }
        let az_after = match &req.az {
            Some(az) => az.clone(),
            None => self.servers[i].requested_az.clone(),
        };
        let mut forced = None;
        if let Some(host) = &req.host {
            if !caller.is_admin {
                return Err(ApiError::nova(
                    403,
                    "Policy doesn't allow os_compute_api:os-shelve:unshelve_to_host to be performed.",
                ));
            }
            let h = self
                .hosts
                .iter()
                .position(|x| &x.name == host)
                .ok_or_else(|| {
                    ApiError::nova(400, format!("Compute host {host} could not be found."))
                })?;
            if let Some(az) = &az_after
                && &self.hosts[h].az != az
            {
                return Err(ApiError::nova(
                    409,
                    format!("Host \"{host}\" is not in the availability zone \"{az}\"."),
                ));
            }
            forced = Some(h);
        }
        // Nova saves the request spec (the pin) before the task_state.
        if let Some(az) = req.az {
            self.servers[i].requested_az = az;
        }
        self.cas_task(i, LostRace::Unexpected, env)?;
        self.servers[i].unshelve_host = forced;
        self.begin_task(i, now, "unshelving");
        let d = self.cfg.timings.unshelve;
        if offloaded {
            self.op_started(i, "unshelve", OpSide::Target, env);
            self.schedule(i, env.later(now, d.mul_f64(0.2)), Step::UnshelveScheduled);
        } else {
            self.op_started(i, "unshelve", OpSide::Source, env);
            self.schedule(i, env.later(now, d.mul_f64(0.5)), Step::Unshelved);
        }
        Ok(())
    }

    /// AZs with at least one enabled compute host (Nova's "available" zones).
    pub fn available_zones(&self) -> Vec<String> {
        self.azs
            .iter()
            .filter(|az| self.hosts.iter().any(|h| &h.az == *az && h.enabled))
            .cloned()
            .collect()
    }

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

    fn finish_delete(&mut self, i: usize, at: OffsetDateTime, env: &Env) {
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
