//! Nova's state checks before an action, and the compare-and-swap on
//! task_state that a racing request loses.

use std::time::Duration;

use time::OffsetDateTime;

use super::Env;
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Model, Server, VmState};

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

impl Model {
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
}
