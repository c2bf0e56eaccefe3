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

pub mod hosts;
mod migrate;
mod rollback;
mod shelve;

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::signals::StopSignal;
use super::steps::{JobCtx, RunEnv, StepResult, read_servers, same_host};
use super::waiter::{WaitError, WaitKind, Waiter};
use crate::openstack::Error;
use crate::plan::changeset::{PlannedMove, Step};
use crate::plan::inventory::{Server, tags};

pub(super) use rollback::rollback;

/// Run one step of an in-place move.
pub(super) async fn run(
    env: &RunEnv,
    mv: &PlannedMove,
    ctx: &mut JobCtx,
    step: Step,
    stop: StopSignal,
) -> StepResult {
    let Some(source) = mv.source.as_ref() else {
        return StepResult::failed("the entry resolved to no server", false);
    };
    let mut m = InPlace {
        env,
        mv,
        id: source.id.as_str(),
        ctx,
        stop,
        step: Some(step),
    };
    let result = match step {
        Step::MarkMoving => m.mark_moving().await,
        Step::Shelve => m.shelve().await,
        Step::ShelveOffload => m.shelve_offload().await,
        Step::Unshelve => m.unshelve().await,
        Step::Unpin => m.unpin().await,
        Step::ColdMigrate => m.cold_migrate().await,
        Step::ConfirmMigration => m.confirm().await,
        Step::LiveMigrate => m.live_migrate().await,
        Step::Verify => m.verify().await,
        Step::Repin => m.repin().await,
        Step::RestorePowerState => m.restore_power_state().await,
        Step::Finish => m.finish().await,
        other => Err(StepResult::failed(
            format!(
                "step `{}` is not a step of the {} strategy; plan again",
                other.as_str(),
                mv.strategy
            ),
            false,
        )),
    };
    if let Some(s) = m.env.waiter.server(m.id) {
        m.ctx.server = Some(s);
    }
    result.unwrap_or_else(|r| r)
}

/// A step's answer: `Ok` and `Err` both end the step; `Err` lets `?`
/// return early from helpers.
type StepOutcome = Result<StepResult, StepResult>;

/// The same failure, without undoing anything (nothing was changed).
fn nothing_to_undo(mut r: StepResult) -> StepResult {
    if let super::dispatcher::Outcome::Failed { rollback, .. } = &mut r.outcome {
        *rollback = false;
    }
    r
}

/// Statuses of a server that is running or stopped, not half-way in a move.
fn at_rest(s: &Server) -> bool {
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
struct Timeouts;

impl Timeouts {
    fn shelve(mv: &PlannedMove) -> Duration {
        mv.settings.timeout_snapshot
    }
    fn unshelve(mv: &PlannedMove) -> Duration {
        mv.settings.timeout_boot
    }
    fn migration(mv: &PlannedMove) -> Duration {
        mv.settings.timeout_snapshot
    }
    fn short(mv: &PlannedMove) -> Duration {
        mv.settings.timeout_stop
    }
    fn undo(mv: &PlannedMove) -> Duration {
        mv.settings.timeout_source
    }
}

struct InPlace<'a> {
    env: &'a RunEnv,
    mv: &'a PlannedMove,
    /// The server's UUID (it stays the same through the move).
    id: &'a str,
    ctx: &'a mut JobCtx,
    stop: StopSignal,
    /// The step running; `None` while undoing a failed move.
    step: Option<Step>,
}

impl InPlace<'_> {
    fn waiter(&self) -> &Waiter {
        &self.env.waiter
    }

    fn cloud(&self) -> &dyn super::cloud::Cloud {
        self.env.cloud.as_ref()
    }

    fn target(&self) -> &str {
        &self.mv.target_az
    }

    fn strategy(&self) -> &'static str {
        self.mv.strategy.as_str()
    }

    /// A failure of this step; `rollback` undoes the move where it stands.
    fn fail(&self, reason: impl Into<String>, rollback: bool) -> StepResult {
        let label = self.step.map_or("undoing the move", Step::as_str);
        StepResult::failed(format!("{label}: {}", reason.into()), rollback)
    }

    /// A call that failed: its HTTP status, message and request id are in
    /// the error's text; the request id also goes to the report.
    fn call_fail(&mut self, what: &str, e: &Error, rollback: bool) -> StepResult {
        let mut r = self.fail(format!("{what}: {e}"), rollback);
        if let Some(id) = e.request_id() {
            self.ctx.request_ids.push(id.to_string());
            r.request_ids.push(id.to_string());
        }
        r
    }

    fn wait_fail(&self, what: &str, e: WaitError, rollback: bool) -> StepResult {
        match e {
            WaitError::Interrupted => StepResult::interrupted(),
            WaitError::Timeout(_) => self.fail(
                format!("{what}: {e}; raise `timeouts` in the plan if the cloud is just slow"),
                rollback,
            ),
        }
    }

    /// The server as it is now: from a list at most `max_age` old.
    async fn read_within(&mut self, max_age: Duration) -> Result<Server, StepResult> {
        match read_servers(self.env, &mut self.stop, max_age).await {
            Ok(()) => {}
            Err(None) => return Err(StepResult::interrupted()),
            Err(Some(e)) => {
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
    async fn read(&mut self) -> Result<Server, StepResult> {
        self.read_within(self.env.fresh_within).await
    }

    /// The server read right now (after a 409 said it is not as thought).
    async fn reread(&mut self) -> Result<Server, StepResult> {
        self.read_within(Duration::ZERO).await
    }

    /// Wait on the server with `judge(server, seen_since_accepted)`:
    /// `accepted` is when the action being waited on was accepted, so that
    /// a state read before it is never taken as its outcome.
    async fn wait<T>(
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
            .wait_server(self.id, kind, timeout, &mut self.stop, move |s| {
                judge(s, waiter.server_seen_since(&id, accepted))
            })
            .await
    }

    /// Wait until no task runs on the server (`None`: it is gone). With
    /// `fresh_only`, only a read made after now counts, so an answer already
    /// on its way cannot end the wait early.
    async fn until_no_task(
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
    async fn idle(&mut self, timeout: Duration) -> Result<Server, StepResult> {
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
    fn note_task(&self, s: &Server, task: &str) {
        let mut s = s.clone();
        s.task_state = Some(task.to_string());
        self.waiter().note_server(s);
    }

    /// Whether the server is in the target AZ: its AZ says so and, when
    /// hosts are visible, its host is one of that AZ.
    fn in_target(&self, s: &Server) -> bool {
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
    fn was_shutoff(&self, s: &Server) -> bool {
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

    async fn mark_moving(&mut self) -> StepOutcome {
        let s = self.read().await?;
        match s.metadata.get(tags::MOVING_TO) {
            Some(t) if t == self.target() => {
                return Ok(StepResult::done_with(
                    None,
                    "already marked by an earlier run; continuing its move",
                ));
            }
            Some(other) => {
                return Err(self.fail(
                    format!(
                        "the server is tagged {}={other}: an earlier azmove run was moving it to {other}; apply that plan again to finish it, or remove the tag",
                        tags::MOVING_TO
                    ),
                    false,
                ));
            }
            None => {}
        }
        // Nothing is changed yet: a failure here has nothing to undo.
        let s = if s.task_state.is_some() {
            self.idle(Timeouts::short(self.mv))
                .await
                .map_err(nothing_to_undo)?
        } else {
            s
        };
        let allowed: &[&str] = match self.mv.strategy {
            crate::plan::file::Strategy::Live => &["ACTIVE"],
            crate::plan::file::Strategy::Cold => &["ACTIVE", "SHUTOFF"],
            _ => &[
                "ACTIVE",
                "SHUTOFF",
                "PAUSED",
                "SUSPENDED",
                "SHELVED",
                "SHELVED_OFFLOADED",
            ],
        };
        if !allowed.contains(&s.status.as_str()) {
            return Err(self.fail(
                format!(
                    "the server is {}, and the {} strategy needs it {}",
                    s.status,
                    self.strategy(),
                    allowed.join(" or ")
                ),
                false,
            ));
        }
        let mut mark = BTreeMap::from([
            (tags::MOVING_TO.to_string(), self.target().to_string()),
            (tags::STRATEGY.to_string(), self.strategy().to_string()),
        ]);
        if s.status == "SHUTOFF" {
            mark.insert(tags::WAS_SHUTOFF.to_string(), "1".to_string());
        }
        if let Err(e) = self.cloud().set_server_metadata(self.id, &mark).await {
            return Err(self.call_fail("could not tag the server", &e, false));
        }
        let mut s = s;
        s.metadata.extend(mark);
        self.waiter().note_server(s);
        Ok(StepResult::done_with(
            None,
            format!("tagged {}={}", tags::MOVING_TO, self.target()),
        ))
    }

    async fn unpin(&mut self) -> StepOutcome {
        let s = self.read().await?;
        if s.pinned_availability_zone.is_none() {
            return Ok(StepResult::done_with(None, "not pinned"));
        }
        if self.in_target(&s) && at_rest(&s) {
            return Ok(StepResult::done_with(None, "already in the target AZ"));
        }
        self.set_pin(&s, None).await?;
        Ok(StepResult::done_with(
            None,
            format!(
                "unpinned from {}",
                s.pinned_availability_zone.unwrap_or_default()
            ),
        ))
    }

    /// `PUT pinned_availability_zone` and remember the answer.
    async fn put_pin(&self, s: &Server, az: Option<&str>) -> Result<(), Error> {
        let mut answer = self.cloud().set_pinned_az(self.id, az).await?;
        // Keep what the answer may leave out; changing only the pin does
        // not touch `updated` (the pin lives in Nova's request spec).
        if answer.metadata.is_empty() {
            answer.metadata = s.metadata.clone();
        }
        answer.updated = s.updated.clone();
        self.waiter().note_server(answer);
        Ok(())
    }

    /// Pin the server to the AZ it is in (unpinning first when it is pinned
    /// elsewhere: Nova refuses to change a pin directly). Returns the AZ,
    /// or the call that failed and its error.
    async fn pin_calls(&self, s: &Server) -> Result<Option<String>, (String, Error)> {
        let Some(here) = s.availability_zone.clone() else {
            return Ok(None);
        };
        match s.pinned_availability_zone.as_deref() {
            Some(p) if p == here => return Ok(Some(here)),
            Some(p) => {
                let p = p.to_string();
                self.put_pin(s, None)
                    .await
                    .map_err(|e| (format!("could not unpin the server from {p}"), e))?;
            }
            None => {}
        }
        self.put_pin(s, Some(&here))
            .await
            .map_err(|e| (format!("could not pin the server to {here}"), e))?;
        Ok(Some(here))
    }

    /// Unpin; a failure fails the step (and undoes the move).
    async fn set_pin(&mut self, s: &Server, az: Option<&str>) -> Result<(), StepResult> {
        match self.put_pin(s, az).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let what = match az {
                    Some(az) => format!("could not pin the server to {az}"),
                    None => "could not unpin the server".to_string(),
                };
                Err(self.call_fail(&what, &e, true))
            }
        }
    }

    /// [`InPlace::pin_calls`] as a step: a failure fails it.
    async fn pin_here(&mut self, s: &Server) -> Result<Option<String>, StepResult> {
        match self.pin_calls(s).await {
            Ok(az) => Ok(az),
            Err((what, e)) => Err(self.call_fail(&what, &e, true)),
        }
    }

    async fn repin(&mut self) -> StepOutcome {
        let s = self.read().await?;
        let s = if s.task_state.is_some() {
            self.idle(Timeouts::short(self.mv)).await?
        } else {
            s
        };
        if !self.in_target(&s) {
            return Err(self.fail(
                format!(
                    "the server is not in {}: it is {}; not pinning it there",
                    self.target(),
                    place(&s)
                ),
                true,
            ));
        }
        if s.pinned_availability_zone.as_deref() == Some(self.target()) {
            return Ok(StepResult::done_with(
                None,
                "already pinned to the target AZ",
            ));
        }
        self.pin_here(&s).await?;
        Ok(StepResult::done_with(
            None,
            format!("pinned to {}", self.target()),
        ))
    }

    async fn verify(&mut self) -> StepOutcome {
        let s = self.read().await?;
        let mut problems = Vec::new();
        if let Some(task) = &s.task_state {
            problems.push(format!("a task is still running ({task})"));
        }
        if !matches!(s.status.as_str(), "ACTIVE" | "SHUTOFF") {
            problems.push(format!("it is {}, not ACTIVE", s.status));
        }
        match s.availability_zone.as_deref() {
            Some(az) if az == self.target() => {}
            Some(az) => problems.push(format!(
                "it is in availability zone {az}, not {}",
                self.target()
            )),
            None => problems.push("its availability zone is not reported".into()),
        }
        if let (Some(h), Some(hosts)) = (s.host.as_deref(), self.env.zone_hosts.get(self.target()))
            && !hosts.iter().any(|x| same_host(&x.name, h))
        {
            problems.push(format!("its host {h} is not a host of {}", self.target()));
        }
        if !problems.is_empty() {
            return Err(self.fail(
                format!("the server failed verification: {}", problems.join("; ")),
                true,
            ));
        }
        self.ctx.verified = true;
        let kept = match &self.mv.source {
            Some(src) => {
                let same = src.networks.iter().all(|(net, addrs)| {
                    s.addresses
                        .get(net)
                        .is_some_and(|got| addrs.iter().all(|a| got.iter().any(|g| &g.addr == a)))
                });
                if same {
                    "; UUID and addresses kept"
                } else {
                    "; UUID kept, addresses differ from the plan's"
                }
            }
            None => "; UUID kept",
        };
        Ok(StepResult::done_with(
            None,
            format!("verified: {}{kept}", place(&s)),
        ))
    }

    async fn restore_power_state(&mut self) -> StepOutcome {
        let s = self.read().await?;
        let s = if s.task_state.is_some() {
            self.idle(Timeouts::short(self.mv)).await?
        } else {
            s
        };
        if !self.was_shutoff(&s) {
            return Ok(StepResult::done_with(
                None,
                format!("it was running before the move: left {}", s.status),
            ));
        }
        if s.status == "SHUTOFF" {
            return Ok(StepResult::done_with(None, "SHUTOFF, as before the move"));
        }
        self.power(&s, false).await?;
        Ok(StepResult::done_with(
            None,
            "stopped again, as before the move",
        ))
    }

    /// Stop (`start == false`) or start the server and wait for it.
    async fn power(&mut self, s: &Server, start: bool) -> Result<(), StepResult> {
        let (call, want, what) = if start {
            (self.cloud().start_server(self.id).await, "ACTIVE", "start")
        } else {
            (self.cloud().stop_server(self.id).await, "SHUTOFF", "stop")
        };
        if let Err(e) = call
            && !e.is_conflict()
        {
            return Err(self.call_fail(&format!("could not {what} the server"), &e, false));
        }
        self.note_task(s, if start { "powering-on" } else { "powering-off" });
        let accepted = Instant::now();
        let kind = if start {
            WaitKind::Start
        } else {
            WaitKind::Stop
        };
        let got = self
            .wait(
                kind,
                Timeouts::short(self.mv),
                accepted,
                |s, fresh| match s {
                    None => Some(false),
                    Some(s) if s.status == want && s.task_state.is_none() => Some(true),
                    Some(s) if fresh && s.task_state.is_none() && s.status == "ERROR" => {
                        Some(false)
                    }
                    Some(_) => None,
                },
            )
            .await;
        match got {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.fail(format!("the server did not {what}"), false)),
            Err(e) => Err(self.wait_fail(&format!("the server did not reach {want}"), e, false)),
        }
    }

    /// Remove azmove's in-place tags (those the server carries).
    async fn remove_tags(&mut self, s: &Server) -> Result<(), StepResult> {
        let mut now = s.clone();
        for key in [tags::MOVING_TO, tags::STRATEGY, tags::WAS_SHUTOFF] {
            if !s.metadata.contains_key(key) {
                continue;
            }
            if let Err(e) = self.cloud().delete_server_metadata(self.id, key).await {
                return Err(self.call_fail(&format!("could not remove the {key} tag"), &e, false));
            }
            now.metadata.remove(key);
        }
        self.waiter().note_server(now);
        Ok(())
    }

    async fn finish(&mut self) -> StepOutcome {
        let s = self.read().await?;
        self.remove_tags(&s).await?;
        if let Some(s) = self.waiter().server(self.id) {
            self.ctx.source_state = Some(place(&s));
        }
        Ok(StepResult::done_with(
            None,
            format!("moved with the {} strategy; UUID kept", self.strategy()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status: &str, az: Option<&str>, host: Option<&str>, pin: Option<&str>) -> Server {
        Server {
            id: "s".into(),
            status: status.into(),
            availability_zone: az.map(Into::into),
            host: host.map(Into::into),
            pinned_availability_zone: pin.map(Into::into),
            ..Server::default()
        }
    }

    #[test]
    fn place_says_status_az_host_and_pin() {
        assert_eq!(
            place(&server(
                "ACTIVE",
                Some("nova2"),
                Some("node-31"),
                Some("nova2")
            )),
            "ACTIVE in nova2 on node-31, pinned to nova2"
        );
        // Members see no host.
        assert_eq!(
            place(&server("SHUTOFF", Some("nova"), None, None)),
            "SHUTOFF in nova, not pinned"
        );
        let mut offloaded = server("SHELVED_OFFLOADED", None, None, Some("nova2"));
        offloaded.task_state = Some("unshelving".into());
        assert_eq!(
            place(&offloaded),
            "SHELVED_OFFLOADED (task unshelving), on no host, pinned to nova2"
        );
    }

    #[test]
    fn only_running_or_stopped_servers_without_a_task_are_at_rest() {
        assert!(at_rest(&server("ACTIVE", None, None, None)));
        assert!(at_rest(&server("SHUTOFF", None, None, None)));
        assert!(!at_rest(&server("VERIFY_RESIZE", None, None, None)));
        let mut busy = server("ACTIVE", None, None, None);
        busy.task_state = Some("migrating".into());
        assert!(!at_rest(&busy));
    }

    #[test]
    fn a_failure_before_any_change_undoes_nothing() {
        let r = nothing_to_undo(StepResult::failed("busy", true));
        assert!(matches!(
            r.outcome,
            super::super::dispatcher::Outcome::Failed {
                rollback: false,
                ..
            }
        ));
    }

    #[test]
    fn downtime_runs_from_the_first_stop_to_the_first_start() {
        let mut ctx = JobCtx::default();
        ctx.up();
        assert!(ctx.downtime.is_none(), "no stop, no downtime");
        ctx.down("shelve");
        let first = ctx.down_since;
        ctx.down("migrate");
        assert_eq!(ctx.down_since, first, "the first stop counts");
        ctx.up();
        let d = ctx.downtime.expect("measured");
        assert_eq!(d.from, "shelve");
        assert!(ctx.down_since.is_none());
    }
}
