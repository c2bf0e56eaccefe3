//! Power and shelve actions: the simple ones (state check, task, one step
//! later) from a table, and `unshelve`.

use std::time::Duration;

use time::OffsetDateTime;

use super::{Env, LostRace, check_lock};
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Model, Step, VmState};
use crate::sim::scenario::Timings;
use crate::sim::stats::OpSide;

/// A validated `unshelve` action.
#[derive(Debug, Clone, Default)]
pub struct UnshelveRequest {
    /// `None`: keep the pinned AZ; `Some(None)`: unpin (2.91);
    /// `Some(Some(az))`: unshelve into `az` and pin it (2.77).
    pub az: Option<Option<String>>,
    /// A host name (2.91, admins only).
    pub host: Option<String>,
}

/// An action that checks the lock and the server's state, sets a task and
/// finishes with one step after one of the scenario's timings: Nova's
/// power actions and `shelveOffload` all have this shape.
#[derive(Debug)]
pub struct SimpleAction {
    /// The name in Nova's "Cannot '<action>' instance …" answer.
    action: &'static str,
    allowed: &'static [VmState],
    task: &'static str,
    /// The operation as the stats count it.
    op: &'static str,
    delay: fn(&Timings) -> Duration,
    done: Step,
}

impl SimpleAction {
    /// `os-stop`.
    pub const STOP: SimpleAction = SimpleAction {
        action: "stop",
        allowed: &[VmState::Active, VmState::Error],
        task: "powering-off",
        op: "stop",
        delay: |t| t.stop,
        done: Step::Stopped,
    };
    /// `os-start`.
    pub const START: SimpleAction = SimpleAction {
        action: "start",
        allowed: &[VmState::Stopped],
        task: "powering-on",
        op: "start",
        delay: |t| t.start,
        done: Step::Started,
    };
    /// `shelveOffload`.
    pub const SHELVE_OFFLOAD: SimpleAction = SimpleAction {
        action: "shelveOffload",
        allowed: &[VmState::Shelved],
        task: "shelving_offloading",
        op: "shelve_offload",
        delay: |t| t.shelve_offload,
        done: Step::Offloaded,
    };
}

impl Model {
    /// Run one [`SimpleAction`] on server `i`, with Nova's checks in Nova's
    /// order: lock, state, task_state swap.
    pub fn simple_action(
        &mut self,
        i: usize,
        a: &SimpleAction,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        check_lock(&self.servers[i], caller)?;
        self.check_state_cas(i, a.action, a.allowed, now, env)?;
        self.cas_task(i, LostRace::Unexpected, env)?;
        self.begin_task(i, now, a.task);
        self.op_started(i, a.op, OpSide::Source, env);
        let d = (a.delay)(&self.cfg.timings);
        self.schedule(i, env.later(now, d), a.done);
        Ok(())
    }

    /// `os-start`, for tests that play a person at the console.
    pub fn start_server(
        &mut self,
        i: usize,
        caller: &Caller,
        now: OffsetDateTime,
        env: &Env,
    ) -> Result<(), ApiError> {
        self.simple_action(i, &SimpleAction::START, caller, now, env)
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
}
