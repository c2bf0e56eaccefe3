//! The steps of the strategies that move a server itself — shelve, cold
//! and live — keeping its UUID and ports. They run on the same engine as
//! the snapshot strategy (dispatcher, limits, shared polls, journal); only
//! the list of steps differs.
//!
//! Every step first reads where the server is and does nothing when its
//! effect is already there, so a run killed at any point and run again
//! continues: a server found SHELVED_OFFLOADED is unshelved into the
//! target, one in VERIFY_RESIZE is confirmed, one in the target AZ but not
//! pinned is pinned. The tags `azmove_moving_to`, `azmove_strategy` and
//! `azmove_was_shutoff`, set by the first step and removed by the last,
//! tell a later plan that the move is azmove's and how it must end.
//!
//! An action's outcome is judged only on a state read after the action was
//! accepted (see [`Waiter::server_seen_since`]): a poll already under way
//! must not make a migration that has not started look failed.
//!
//! A move that fails is undone where it stands (see `rollback.rs`): the
//! server ends at rest, pinned to the AZ it is in, with its power state
//! and without the tags; the report says where it is.

mod common;
mod migration;
mod rollback;
#[cfg(test)]
mod tests;

use std::time::Duration;

use tokio::time::Instant;

use futures::future::BoxFuture;

use super::{Job, Strategy};
use crate::apply::hosts::same_host;
use crate::apply::step::{JobCtx, ReadError, RunEnv, StepError, StepResult, read_servers};
use crate::apply::waiter::{WaitError, WaitKind, Waiter};
use crate::openstack::Error;
use crate::plan::changeset::{PlannedMove, Step};
use crate::plan::inventory::{Server, tags};
use tokio_util::sync::CancellationToken;

pub(super) use migration::{Landing, resizing};
pub(super) use rollback::rollback;

/// A step's answer: `Ok` and `Err` both end the step; `Err` lets `?`
/// return early from helpers.
pub(in crate::apply::strategy) type StepOutcome = Result<StepResult, StepResult>;

/// The same failure, without undoing anything (nothing was changed).
pub(in crate::apply::strategy) fn nothing_to_undo(mut r: StepResult) -> StepResult {
    if let crate::apply::dispatcher::Outcome::Failed { rollback, .. } = &mut r.outcome {
        *rollback = false;
    }
    r
}

/// Statuses of a server that is running or stopped, not half-way in a move.
pub(in crate::apply::strategy) fn at_rest(s: &Server) -> bool {
    s.task_state.is_none() && matches!(s.status.as_str(), "ACTIVE" | "SHUTOFF")
}

/// Where a server is, in words: `ACTIVE in nova2 on node-31, pinned to nova2`.
pub(crate) fn place(s: &Server) -> String {
    let mut out = s.status.clone();
    if let Some(task) = &s.task_state {
        out.push_str(&format!(" (task {task})"));
    }
    match (s.availability_zone.as_deref(), s.host.as_deref()) {
        (Some(az), Some(h)) => out.push_str(&format!(" in {az} on {h}")),
        (Some(az), None) => out.push_str(&format!(" in {az}")),
        (None, Some(h)) => out.push_str(&format!(" on {h}")),
        (None, None) => out.push_str(", on no host"),
    }
    match &s.pinned_availability_zone {
        Some(p) => out.push_str(&format!(", pinned to {p}")),
        None => out.push_str(", not pinned"),
    }
    out
}

/// The timeouts of the in-place steps, taken from the plan's `timeouts`
/// (docs/apply.md lists them): shelving uploads an image, as a snapshot
/// does; a migration copies the disk or the memory, as long as a snapshot
/// at most; an unshelve is a boot; confirming, pinning and powering are
/// short, like a stop.
pub(in crate::apply::strategy) struct Timeouts;

impl Timeouts {
    pub(in crate::apply::strategy) fn shelve(mv: &PlannedMove) -> Duration {
        mv.settings.timeout_snapshot
    }
    pub(in crate::apply::strategy) fn unshelve(mv: &PlannedMove) -> Duration {
        mv.settings.timeout_boot
    }
    pub(in crate::apply::strategy) fn migration(mv: &PlannedMove) -> Duration {
        mv.settings.timeout_snapshot
    }
    pub(in crate::apply::strategy) fn short(mv: &PlannedMove) -> Duration {
        mv.settings.timeout_stop
    }
    pub(in crate::apply::strategy) fn undo(mv: &PlannedMove) -> Duration {
        mv.settings.timeout_source
    }
}

/// One in-place move while one of its steps runs (or while it is undone).
pub(in crate::apply::strategy) struct InPlace<'a> {
    pub(in crate::apply::strategy) env: &'a RunEnv,
    pub(in crate::apply::strategy) mv: &'a PlannedMove,
    /// The server's UUID (it stays the same through the move).
    pub(in crate::apply::strategy) id: &'a str,
    pub(in crate::apply::strategy) ctx: &'a mut JobCtx,
    pub(in crate::apply::strategy) stop: CancellationToken,
    /// The step running; `None` while undoing a failed move.
    pub(in crate::apply::strategy) step: Option<Step>,
}

impl<'a> InPlace<'a> {
    /// The move at `step`; `None` when the entry resolved to no server.
    pub(in crate::apply::strategy) fn new(job: Job<'a>, step: Step) -> Option<InPlace<'a>> {
        let source = job.mv.source.as_ref()?;
        Some(InPlace {
            env: job.env,
            mv: job.mv,
            id: source.id.as_str(),
            ctx: job.ctx,
            stop: job.stop,
            step: Some(step),
        })
    }

    /// The step's answer, once the server as last seen is noted for the
    /// report.
    pub(in crate::apply::strategy) fn end(self, result: StepOutcome) -> StepResult {
        if let Some(s) = self.env.waiter.server(self.id) {
            self.ctx.server = Some(s);
        }
        result.unwrap_or_else(|r| r)
    }

    /// A step the plan lists that this strategy does not know.
    pub(in crate::apply::strategy) fn not_a_step(&self, step: Step) -> StepResult {
        super::not_a_step(step, self.strategy())
    }
}

/// What an in-place strategy adds to the steps all of them share (mark the
/// move, unpin, verify, pin again, restore the power state, finish): its
/// name, its list of steps, and its own steps.
pub(in crate::apply::strategy) trait InPlaceStrategy: Sync {
    const NAME: &'static str;

    /// The steps of a fresh move, in order.
    const STEPS: &'static [Step];

    /// One of its own steps; `None` for a step it does not have.
    fn own_step<'m>(m: &'m mut InPlace<'_>, step: Step) -> Option<BoxFuture<'m, StepOutcome>>;
}

impl<T: InPlaceStrategy> Strategy for T {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn moves_in_place(&self) -> bool {
        true
    }

    fn steps(&self) -> &'static [Step] {
        T::STEPS
    }

    fn run<'a>(&'a self, job: Job<'a>, step: Step) -> BoxFuture<'a, StepResult> {
        Box::pin(async move {
            let Some(mut m) = InPlace::new(job, step) else {
                return StepResult::failed("the entry resolved to no server", false);
            };
            let result = match step {
                Step::MarkMoving => m.mark_moving().await,
                Step::Unpin => m.unpin().await,
                Step::Repin => m.repin().await,
                Step::RestorePowerState => m.restore_power_state().await,
                Step::Finish => m.finish().await,
                other => {
                    let unknown = m.not_a_step(other);
                    match T::own_step(&mut m, other) {
                        Some(own) => own.await,
                        None => Err(unknown),
                    }
                }
            };
            m.end(result)
        })
    }

    fn verify<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, StepResult> {
        Box::pin(verify(job))
    }

    fn rollback<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, StepResult> {
        Box::pin(rollback(job))
    }
}

/// [`Step::Verify`] of every in-place strategy: the server itself is
/// where the plan wants it.
pub(in crate::apply::strategy) async fn verify(job: Job<'_>) -> StepResult {
    match InPlace::new(job, Step::Verify) {
        Some(mut m) => {
            let result = m.verify().await;
            m.end(result)
        }
        None => StepResult::failed("the entry resolved to no server", false),
    }
}

impl InPlace<'_> {
    pub(in crate::apply::strategy) fn waiter(&self) -> &Waiter {
        &self.env.waiter
    }

    pub(in crate::apply::strategy) fn cloud(&self) -> &dyn crate::apply::cloud::Cloud {
        self.env.cloud.as_ref()
    }

    pub(in crate::apply::strategy) fn target(&self) -> &str {
        &self.mv.target_az
    }

    pub(in crate::apply::strategy) fn strategy(&self) -> &'static str {
        self.mv.strategy.as_str()
    }

    /// A failure of this step; `rollback` undoes the move where it stands.
    pub(in crate::apply::strategy) fn fail(
        &self,
        reason: impl Into<String>,
        rollback: bool,
    ) -> StepResult {
        let label = self.step.map_or("undoing the move", Step::as_str);
        StepResult::failed(format!("{label}: {}", reason.into()), rollback)
    }

    /// A call that failed: its HTTP status, message and request id are in
    /// the error's text; the request id also goes to the report.
    pub(in crate::apply::strategy) fn call_fail(
        &mut self,
        what: &str,
        e: &Error,
        rollback: bool,
    ) -> StepResult {
        let error = StepError::call(self.id, self.step, what, e);
        let mut r = self.fail(error.message.clone(), rollback);
        self.ctx.note_call_error(&mut r, error);
        r
    }

    pub(in crate::apply::strategy) fn wait_fail(
        &self,
        what: &str,
        e: WaitError,
        rollback: bool,
    ) -> StepResult {
        match e {
            WaitError::Interrupted => StepResult::interrupted(),
            WaitError::Timeout(_) => self.fail(
                format!("{what}: {e}; raise `timeouts` in the plan if the cloud is just slow"),
                rollback,
            ),
        }
    }

    /// The server as it is now: from a list at most `max_age` old.
    pub(in crate::apply::strategy) async fn read_within(
        &mut self,
        max_age: Duration,
    ) -> Result<Server, StepResult> {
        match read_servers(self.env, &self.stop, max_age).await {
            Ok(()) => {}
            Err(ReadError::Interrupted) => return Err(StepResult::interrupted()),
            Err(ReadError::Failed(e)) => {
                return Err(self.fail(format!("could not read the servers' state: {e}"), false));
            }
        }
        match self.waiter().server(self.id) {
            Some(s) => Ok(s),
            None => Err(StepResult::changed(
                format!(
                    "the server {} was deleted by someone else during the move",
                    self.id
                ),
                false,
            )),
        }
    }

    /// The server, read no longer ago than the shared polls keep it.
    pub(in crate::apply::strategy) async fn read(&mut self) -> Result<Server, StepResult> {
        self.read_within(self.env.fresh_within).await
    }

    /// The server read right now (after a 409 said it is not as thought).
    pub(in crate::apply::strategy) async fn reread(&mut self) -> Result<Server, StepResult> {
        self.read_within(Duration::ZERO).await
    }

    /// Wait on the server with `judge(server, seen_since_accepted)`:
    /// `accepted` is when the action being waited on was accepted, so that
    /// a state read before it is never taken as its outcome.
    pub(in crate::apply::strategy) async fn wait<T>(
        &mut self,
        kind: WaitKind,
        timeout: Duration,
        accepted: Instant,
        judge: impl Fn(Option<&Server>, bool) -> Option<T>,
    ) -> Result<T, WaitError> {
        let waiter = self.env.waiter.clone();
        let id = self.id.to_string();
        self.env
            .waiter
            .wait_server(self.id, kind, timeout, &self.stop, move |s| {
                judge(s, waiter.server_seen_since(&id, accepted))
            })
            .await
    }

    /// Wait until no task runs on the server (`None`: it is gone). With
    /// `fresh_only`, only a read made after now counts, so an answer already
    /// on its way cannot end the wait early.
    pub(in crate::apply::strategy) async fn until_no_task(
        &mut self,
        timeout: Duration,
        fresh_only: bool,
    ) -> Result<Option<Server>, WaitError> {
        let now = Instant::now();
        self.wait(WaitKind::Settle, timeout, now, move |s, fresh| match s {
            None => Some(None),
            Some(s) if (fresh || !fresh_only) && s.task_state.is_none() => Some(Some(s.clone())),
            Some(_) => None,
        })
        .await
    }

    /// Wait for the server to have no task (someone else's, or one of an
    /// earlier run), within `timeout`.
    pub(in crate::apply::strategy) async fn idle(
        &mut self,
        timeout: Duration,
    ) -> Result<Server, StepResult> {
        match self.until_no_task(timeout, false).await {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(StepResult::changed(
                format!(
                    "the server {} was deleted by someone else during the move",
                    self.id
                ),
                false,
            )),
            Err(e) => Err(self.wait_fail("the server stayed busy", e, true)),
        }
    }

    /// Record what the cloud answered for an action the server took on,
    /// so that the next wait starts from it.
    pub(in crate::apply::strategy) fn note_task(&self, s: &Server, task: &str) {
        let mut s = s.clone();
        s.task_state = Some(task.to_string());
        self.waiter().note_server(s);
    }

    /// Whether the server is in the target AZ: its AZ says so and, when
    /// hosts are visible, its host is one of that AZ.
    pub(in crate::apply::strategy) fn in_target(&self, s: &Server) -> bool {
        if s.availability_zone.as_deref() != Some(self.target()) {
            return false;
        }
        match (s.host.as_deref(), self.env.zone_hosts.get(self.target())) {
            (Some(h), Some(hosts)) => hosts.iter().any(|x| same_host(&x.name, h)),
            _ => true,
        }
    }

    /// Whether the server was SHUTOFF before the move: the tag says so
    /// once the move is marked; before that, its state does.
    pub(in crate::apply::strategy) fn was_shutoff(&self, s: &Server) -> bool {
        if s.metadata.contains_key(tags::MOVING_TO) {
            s.metadata.contains_key(tags::WAS_SHUTOFF)
        } else {
            s.status == "SHUTOFF"
                || self
                    .mv
                    .source
                    .as_ref()
                    .is_some_and(|src| src.status == "SHUTOFF")
        }
    }

    // ------------------------------------------------------------- steps
}
