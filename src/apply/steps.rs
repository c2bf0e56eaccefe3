//! The steps of a move, each idempotent: it first reads where the cloud is
//! (from the shared poll, or a fresh shared list where it matters), and
//! only then acts, so a run resumed after Ctrl-C, a crash or `kill -9`
//! continues from wherever the cloud is.
//!
//! - stop source: already SHUTOFF → nothing. Otherwise tag the source
//!   `azmove_stopped=1` *before* `os-stop`, so that whoever finds it
//!   stopped knows azmove did it and a failed move starts it again.
//! - snapshot: an azmove snapshot of this source for this target exists →
//!   `active`: use it; still uploading: wait for it; `killed`: delete it and
//!   snapshot again. A replacement already exists → nothing to do.
//! - boot: a replacement (tagged with this source and target) exists →
//!   use it (one in ERROR is deleted first). Never a second one.
//! - verify: ACTIVE, in the target AZ, on a host of that AZ (when hosts are
//!   visible; members see only the AZ), expected flavor and networks.
//! - handle source: delete only after the replacement verifies, in this
//!   step, against a fresh read; keep/stop end with the `azmove_moved_to`
//!   tag that tells a later plan the move is done.
//!
//! A failed move is rolled back: every replacement and snapshot of it is
//! deleted and the source is started again if azmove stopped it (unless
//! `source_after: stop`). Failures after verification are not rolled back:
//! the replacement is good, and a re-run finishes the job.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::cloud::{BootRequest, Cloud};
use super::dispatcher::{Outcome, Yielded};
use super::in_place;
use super::report::Downtime;
use super::signals::StopSignal;
use super::waiter::{WaitError, WaitKind, Waiter};
use crate::openstack::Error;
use crate::plan::changeset::{PlannedMove, Step};
use crate::plan::file::{SourceAfter, Strategy};
use crate::plan::inventory::Host;
use crate::plan::inventory::{Image, Server, tags};

/// Glance statuses of an image still being written.
const IMAGE_IN_PROGRESS: [&str; 5] = [
    "queued",
    "saving",
    "uploading",
    "importing",
    "pending_delete",
];

/// What every step of a run shares.
pub struct RunEnv {
    pub cloud: Arc<dyn Cloud>,
    pub waiter: Waiter,
    /// Compute hosts of each AZ, for AZs whose hosts the caller can see.
    pub hosts_by_az: BTreeMap<String, Vec<String>>,
    /// State read by a list call at most this long ago counts as fresh.
    pub fresh_within: Duration,
    /// Compute hosts of each AZ with their state, for AZs whose hosts the
    /// caller can see: where cold and live moves choose a destination.
    pub zone_hosts: BTreeMap<String, Vec<Host>>,
    /// What cold and live moves of this run claimed on each host.
    pub host_book: in_place::hosts::HostBook,
    /// This run's id: written on everything it creates (`azmove_run`), on
    /// a source it stops and on a replacement it verifies, so that every
    /// later decision knows whose work it is.
    pub run_id: Option<String>,
}

impl RunEnv {
    /// The value azmove's markers carry: the run id (`1` without one).
    pub fn marker(&self) -> String {
        self.run_id.clone().unwrap_or_else(|| "1".into())
    }
}

/// What the executor knows about one move while it runs.
#[derive(Debug, Clone, Default)]
pub struct JobCtx {
    pub snapshot_id: Option<String>,
    pub replacement_id: Option<String>,
    /// Servers and images azmove deleted in this run: never adopted again.
    pub discarded: BTreeSet<String>,
    /// The replacement passed verification in this run.
    pub verified: bool,
    /// Request ids of the calls that failed.
    pub request_ids: Vec<String>,
    /// The replacement as last seen (for the report).
    pub replacement: Option<Server>,
    /// What became of the source, in words (for the report). For in-place
    /// strategies: where the server itself was left.
    pub source_state: Option<String>,
    /// When the server stopped serving in this run: the stop (or shelve,
    /// or migrate) request was accepted. Unknown when that happened in an
    /// earlier run.
    pub down_since: Option<Instant>,
    /// What `down_since` counts from (`stop`, `shelve`, …).
    pub down_from: Option<&'static str>,
    /// How long the server did not serve, once it serves again in the
    /// target AZ (its replacement, for the snapshot strategy).
    pub downtime: Option<Downtime>,
    /// In-place strategies: the server as last seen (for the report).
    pub server: Option<Server>,
    /// Cold and live: hosts a migration of this server failed to in this
    /// run; they are not chosen again.
    pub failed_hosts: Vec<String>,
    /// This run holds the server's claim (see `apply::claims`).
    pub claimed: bool,
    /// This run stopped the source for its snapshot.
    pub stopped_source: bool,
    /// This run wrote `azmove_stopped` on the source (even if the stop then
    /// failed): its rollback removes it whatever the last poll shows.
    pub tagged_stopped: bool,
}

impl JobCtx {
    /// The server stopped serving now (unless it already had).
    pub fn down(&mut self, from: &'static str) {
        if self.down_since.is_none() {
            self.down_since = Some(Instant::now());
            self.down_from = Some(from);
        }
    }

    /// The server serves again: the downtime ends now.
    pub fn up(&mut self) {
        if let (Some(t), Some(from)) = (self.down_since.take(), self.down_from.take()) {
            self.downtime = Some(Downtime {
                duration: t.elapsed(),
                from,
            });
        }
    }
}

/// What a step reports, beyond its outcome.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub outcome: Outcome,
    pub message: Option<String>,
    /// The object the step created or found (snapshot, replacement).
    pub object_id: Option<String>,
    pub request_ids: Vec<String>,
}

impl StepResult {
    pub(super) fn done() -> StepResult {
        StepResult {
            outcome: Outcome::Done,
            message: None,
            object_id: None,
            request_ids: Vec::new(),
        }
    }

    pub(super) fn done_with(object_id: Option<String>, message: impl Into<String>) -> StepResult {
        StepResult {
            outcome: Outcome::Done,
            message: Some(message.into()),
            object_id,
            request_ids: Vec::new(),
        }
    }

    pub(super) fn interrupted() -> StepResult {
        StepResult {
            outcome: Outcome::Interrupted,
            message: None,
            object_id: None,
            request_ids: Vec::new(),
        }
    }

    pub(super) fn failed(reason: impl Into<String>, rollback: bool) -> StepResult {
        let reason = reason.into();
        StepResult {
            message: Some(reason.clone()),
            outcome: Outcome::Failed { reason, rollback },
            object_id: None,
            request_ids: Vec::new(),
        }
    }

    /// Someone else changed the server mid-move: not a failure of this run.
    /// With `rollback`, this run's own part is undone first.
    pub(super) fn changed(reason: impl Into<String>, rollback: bool) -> StepResult {
        let reason = reason.into();
        StepResult {
            message: Some(reason.clone()),
            outcome: Outcome::Yield {
                kind: Yielded::Changed,
                reason,
                rollback,
            },
            object_id: None,
            request_ids: Vec::new(),
        }
    }

    /// Someone else's business for another reason (busy, already moved).
    pub(super) fn yielded(kind: Yielded, reason: impl Into<String>) -> StepResult {
        let reason = reason.into();
        StepResult {
            message: Some(reason.clone()),
            outcome: Outcome::Yield {
                kind,
                reason,
                rollback: false,
            },
            object_id: None,
            request_ids: Vec::new(),
        }
    }

    pub(super) fn redo(from: Step, reason: impl Into<String>) -> StepResult {
        let reason = reason.into();
        StepResult {
            message: Some(reason.clone()),
            outcome: Outcome::Redo { from, reason },
            object_id: None,
            request_ids: Vec::new(),
        }
    }
}

/// Whether a failure of `step` undoes the move. Once the replacement has
/// been verified, it is kept: rolling back would throw away a good server.
fn rolls_back(step: Step, ctx: &JobCtx) -> bool {
    !ctx.verified && !matches!(step, Step::DeleteSnapshot | Step::HandleSource)
}

/// Reads are harmless: a list that still fails after the client's own
/// retries is tried again (an API restart can outlast them) before a step
/// gives up.
const READ_ATTEMPTS: u32 = 4;

/// A step failed for good. Without a rollback the replacement stays, and
/// the message says so.
fn failure(ctx: &JobCtx, step: Step, reason: String) -> StepResult {
    let rollback = rolls_back(step, ctx);
    match (&ctx.replacement_id, rollback) {
        (Some(id), false) => StepResult::failed(
            format!("{reason}; replacement {id} is kept: run again to finish the move"),
            false,
        ),
        _ => StepResult::failed(reason, rollback),
    }
}

/// A failed call: its message and request id go to the report.
fn call_failed(ctx: &mut JobCtx, step: Step, what: &str, e: &Error) -> StepResult {
    let mut r = failure(ctx, step, format!("{what}: {e}"));
    if let Some(id) = e.request_id() {
        ctx.request_ids.push(id.to_string());
        r.request_ids.push(id.to_string());
    }
    r
}

fn wait_failed(ctx: &JobCtx, step: Step, what: &str, e: WaitError) -> StepResult {
    match e {
        WaitError::Interrupted => StepResult::interrupted(),
        WaitError::Timeout(_) => failure(
            ctx,
            step,
            format!("{what}: {e}; raise `timeouts` in the plan if the cloud is just slow"),
        ),
    }
}

/// Run one step of a move.
pub async fn run_step(
    env: &RunEnv,
    mv: &PlannedMove,
    ctx: &mut JobCtx,
    step: Step,
    stop: StopSignal,
) -> StepResult {
    let Some(source) = mv.source.as_ref() else {
        return StepResult::failed("the entry resolved to no server", false);
    };
    if is_in_place(mv.strategy) {
        return in_place::run(env, mv, ctx, step, stop).await;
    }
    let mut s = Steps {
        env,
        mv,
        source_id: source.id.as_str(),
        ctx,
        stop,
    };
    match step {
        Step::StopSource => s.stop_source().await,
        Step::Snapshot => s.snapshot().await,
        Step::WaitImage => s.wait_image().await,
        Step::Boot => s.boot().await,
        Step::WaitActive => s.wait_active().await,
        Step::Verify => s.verify().await,
        Step::DeleteSnapshot => s.delete_snapshots(None).await,
        Step::HandleSource => s.handle_source().await,
        other => StepResult::failed(
            format!(
                "step `{}` is not a step of the snapshot strategy; plan again",
                other.as_str()
            ),
            false,
        ),
    }
}

/// Whether the strategy moves the server itself (its UUID stays).
pub fn is_in_place(strategy: Strategy) -> bool {
    matches!(strategy, Strategy::Shelve | Strategy::Cold | Strategy::Live)
}

/// Undo a failed move: delete its replacements and snapshots, restart the
/// source if azmove stopped it.
pub async fn rollback(
    env: &RunEnv,
    mv: &PlannedMove,
    ctx: &mut JobCtx,
    stop: StopSignal,
) -> StepResult {
    let Some(source) = mv.source.as_ref() else {
        return StepResult::done();
    };
    if is_in_place(mv.strategy) {
        return in_place::rollback(env, mv, ctx, stop).await;
    }
    let mut s = Steps {
        env,
        mv,
        source_id: source.id.as_str(),
        ctx,
        stop,
    };
    s.rollback().await
}

/// Make the servers' states at most `max_age` old (a shared list), trying
/// again a few times before giving up. `Err(None)`: interrupted;
/// `Err(Some(e))`: the last error.
pub(super) async fn read_servers(
    env: &RunEnv,
    stop: &mut StopSignal,
    max_age: Duration,
) -> Result<(), Option<String>> {
    let mut last = String::new();
    for attempt in 0..READ_ATTEMPTS {
        if attempt > 0 {
            // 2 s, 4 s, 8 s: long enough for an API that restarts to come back.
            let pause = Duration::from_secs(1u64 << attempt.min(6));
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.stopped() => return Err(None),
            }
        }
        let read = tokio::select! {
            r = env.waiter.servers_within(max_age) => r,
            _ = stop.stopped() => return Err(None),
        };
        match read {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(Some(last))
}

struct Steps<'a> {
    env: &'a RunEnv,
    mv: &'a PlannedMove,
    source_id: &'a str,
    ctx: &'a mut JobCtx,
    stop: StopSignal,
}

impl Steps<'_> {
    fn waiter(&self) -> &Waiter {
        &self.env.waiter
    }

    fn cloud(&self) -> &dyn Cloud {
        self.env.cloud.as_ref()
    }

    fn target(&self) -> &str {
        &self.mv.target_az
    }

    /// Servers tagged as replacements of this source for this target, that
    /// azmove has not deleted in this run; ACTIVE ones first, then BUILD.
    fn replacements(&self) -> Vec<Server> {
        let (src, target) = (self.source_id, self.target());
        let mut v = self.waiter().servers_where(|s| {
            s.metadata.get(tags::SOURCE).map(String::as_str) == Some(src)
                && s.metadata.get(tags::TARGET).map(String::as_str) == Some(target)
                && s.task_state.as_deref() != Some("deleting")
        });
        v.retain(|s| !self.ctx.discarded.contains(&s.id));
        v.sort_by_key(|s| (rank_server(s), s.created.clone(), s.id.clone()));
        v
    }

    /// Snapshots of this source for this target (from any plan).
    fn snapshots(&self) -> Vec<Image> {
        let (src, target) = (self.source_id, self.target());
        let mut v = self.waiter().images_where(|i| {
            i.properties.get(tags::SOURCE).map(String::as_str) == Some(src)
                && i.properties.get(tags::TARGET).map(String::as_str) == Some(target)
        });
        v.retain(|i| !self.ctx.discarded.contains(&i.id));
        v.sort_by_key(|i| {
            (
                rank_image(i),
                std::cmp::Reverse(i.created_at.clone()),
                i.id.clone(),
            )
        });
        v
    }

    /// Server states from a list call at most `fresh_within` old (shared
    /// with every other step; usually the last poll already is).
    async fn fresh_servers(&mut self, step: Step) -> Result<(), StepResult> {
        self.servers_within(step, self.env.fresh_within).await
    }

    async fn servers_within(&mut self, step: Step, max_age: Duration) -> Result<(), StepResult> {
        match read_servers(self.env, &mut self.stop, max_age).await {
            Ok(()) => Ok(()),
            Err(None) => Err(StepResult::interrupted()),
            Err(Some(last)) => Err(failure(
                self.ctx,
                step,
                format!("could not read the servers' state: {last}"),
            )),
        }
    }

    async fn fresh_images(&mut self, step: Step) -> Result<(), StepResult> {
        let mut last = String::new();
        for attempt in 0..READ_ATTEMPTS {
            if attempt > 0 {
                self.pause_before_reading_again(attempt).await?;
            }
            let read = tokio::select! {
                r = self.env.waiter.images_within(self.env.fresh_within) => r,
                _ = self.stop.stopped() => return Err(StepResult::interrupted()),
            };
            match read {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(failure(
            self.ctx,
            step,
            format!("could not read the snapshots' state: {last}"),
        ))
    }

    /// 2 s, 4 s, 8 s: long enough for an API that restarts to come back.
    async fn pause_before_reading_again(&mut self, attempt: u32) -> Result<(), StepResult> {
        let pause = Duration::from_secs(1u64 << attempt.min(6));
        tokio::select! {
            _ = tokio::time::sleep(pause) => Ok(()),
            _ = self.stop.stopped() => Err(StepResult::interrupted()),
        }
    }

    /// Make sure `existing.snapshot_id` (possibly of an older plan, which
    /// the shared image list does not cover) is known to the waiter.
    async fn know_existing_snapshot(&mut self) {
        if let Some(id) = self.mv.existing.snapshot_id.clone()
            && self.waiter().image(&id).is_none()
            && !self.ctx.discarded.contains(&id)
        {
            match self.cloud().image(&id).await {
                Ok(Some(i)) => self.waiter().note_image(i),
                Ok(None) => self.waiter().note_image_gone(&id),
                Err(e) => tracing::debug!("could not read snapshot {id}: {e}"),
            }
        }
    }

    /// Wait until the source has no task running; `Err` to return.
    async fn source_idle(&mut self, step: Step, timeout: Duration) -> Result<Server, StepResult> {
        let id = self.source_id.to_string();
        let got = self
            .env
            .waiter
            .wait_server(&id, WaitKind::Stop, timeout, &mut self.stop, |s| match s {
                None => Some(None),
                Some(s) if s.task_state.is_none() => Some(Some(s.clone())),
                Some(_) => None,
            })
            .await;
        match got {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(self.source_deleted()),
            Err(e) => Err(wait_failed(self.ctx, step, "the source stayed busy", e)),
        }
    }

    /// The source vanished mid-move: someone deleted it. Nothing of this
    /// move is undone then: its snapshot or replacement may be the only
    /// copy of that server left.
    fn source_deleted(&mut self) -> StepResult {
        let mut kept = Vec::new();
        if let Some(id) = &self.ctx.snapshot_id {
            kept.push(format!("snapshot {id}"));
        }
        if let Some(id) = &self.ctx.replacement_id {
            kept.push(format!("replacement {id}"));
        }
        self.ctx.source_state = Some("deleted by someone else".into());
        StepResult::changed(
            format!(
                "the source {} was deleted by someone else during the move{}",
                self.source_id,
                if kept.is_empty() {
                    String::new()
                } else {
                    format!("; kept what holds its data: {}", kept.join(", "))
                }
            ),
            false,
        )
    }

    /// Whether the source should be off now: azmove stopped it (in this run
    /// or one it took over), or it was SHUTOFF when planned and the
    /// snapshot was taken of it so.
    fn source_should_be_off(&self, src: &Server) -> bool {
        self.ctx.stopped_source
            || src.metadata.contains_key(tags::STOPPED_BY)
            || self
                .mv
                .source
                .as_ref()
                .is_some_and(|s| s.status == "SHUTOFF")
    }

    /// Someone started the source again during the move: what it writes
    /// from then on would be lost with a replacement made from the earlier
    /// snapshot. The move stops and undoes only its own part; the running
    /// source is left as it is.
    fn started_by_someone(&self) -> Option<StepResult> {
        let src = self.waiter().server(self.source_id)?;
        let running =
            src.status == "ACTIVE" || matches!(src.task_state.as_deref(), Some("powering-on"));
        (running && self.source_should_be_off(&src)).then(|| {
            StepResult::changed(
                format!(
                    "the source {} was started again by someone else during the move (it is {}); what it writes now would not be in the replacement, so the move stopped and the source is left running",
                    src.name, src.status
                ),
                true,
            )
        })
    }

    async fn stop_source(&mut self) -> StepResult {
        const STEP: Step = Step::StopSource;
        if let Err(r) = self.fresh_servers(STEP).await {
            return r;
        }
        if let Some(r) = self.replacements().first() {
            return StepResult::done_with(
                Some(r.id.clone()),
                "a replacement exists already; the source is left as it is",
            );
        }
        let timeout = self.mv.settings.timeout_stop;
        let src = match self.source_idle(STEP, timeout).await {
            Ok(s) => s,
            Err(r) => return r,
        };
        match src.status.as_str() {
            "SHUTOFF" => return StepResult::done_with(None, "already SHUTOFF"),
            "ACTIVE" => {}
            other => {
                return StepResult::failed(
                    format!(
                        "the source is {other}, so it cannot be stopped for a consistent snapshot; bring it to ACTIVE or SHUTOFF, or set `stop_before_snapshot: false`"
                    ),
                    true,
                );
            }
        }
        // Tag first: if azmove dies right after os-stop, the tag still says who stopped it.
        let tag = BTreeMap::from([(tags::STOPPED_BY.to_string(), self.env.marker())]);
        if let Err(e) = self.cloud().set_server_metadata(self.source_id, &tag).await {
            return call_failed(
                self.ctx,
                STEP,
                "could not tag the source before stopping it",
                &e,
            );
        }
        self.ctx.tagged_stopped = true;
        let mut accepted = true;
        if let Err(e) = self.cloud().stop_server(self.source_id).await {
            // Stopped meanwhile (409 "in vm_state stopped")? Then it is fine.
            if !e.is_conflict() {
                return call_failed(self.ctx, STEP, "could not stop the source", &e);
            }
            accepted = false;
        }
        // Nova set the task before it answered: any state read from now on
        // that shows the source ACTIVE and idle is someone else's start.
        let stop_sent = Instant::now();
        // It stops serving now; downtime lasts until the replacement is ACTIVE.
        self.ctx.down("stop");
        self.ctx.stopped_source = true;
        let id = self.source_id.to_string();
        // A stopping server is not a safe point (a new plan sees it busy):
        // this short wait is seen through even after a first Ctrl-C.
        let mut not_interrupted = StopSignal::never();
        let waited = self
            .env
            .waiter
            .wait_server(
                &id,
                WaitKind::Stop,
                timeout,
                &mut not_interrupted,
                |s| match s {
                    None => Some(Err(None)),
                    Some(s) if s.status == "SHUTOFF" && s.task_state.is_none() => Some(Ok(())),
                    Some(s) if s.status == "ERROR" => Some(Err(Some(format!(
                        "the source went into ERROR while stopping{}",
                        s.fault
                            .as_deref()
                            .map(|f| format!(": {f}"))
                            .unwrap_or_default()
                    )))),
                    // Started again by someone while it stopped: theirs to decide.
                    Some(s)
                        if accepted
                            && s.status == "ACTIVE"
                            && s.task_state.is_none()
                            && self.env.waiter.server_seen_since(&s.id, stop_sent) =>
                    {
                        Some(Err(Some(String::new())))
                    }
                    Some(_) => None,
                },
            )
            .await;
        match waited {
            Ok(Ok(())) => {
                self.ctx.source_state = Some("stopped by azmove".into());
                StepResult::done_with(None, "stopped")
            }
            Ok(Err(None)) => self.source_deleted(),
            Ok(Err(Some(m))) if m.is_empty() => StepResult::changed(
                "the source was started again by someone else while azmove stopped it; it is left running",
                true,
            ),
            Ok(Err(Some(m))) => StepResult::failed(m, true),
            Err(e) => wait_failed(self.ctx, STEP, "the source did not reach SHUTOFF", e),
        }
    }

    async fn snapshot(&mut self) -> StepResult {
        const STEP: Step = Step::Snapshot;
        let Some(boot) = self.mv.boot.as_ref() else {
            return StepResult::failed("the plan has no boot specification for this server", true);
        };
        if let Err(r) = self.fresh_servers(STEP).await {
            return r;
        }
        if let Some(r) = self.replacements().first() {
            return StepResult::done_with(
                Some(r.id.clone()),
                "a replacement exists already; no snapshot needed",
            );
        }
        if let Err(r) = self.fresh_images(STEP).await {
            return r;
        }
        self.know_existing_snapshot().await;
        // Killed snapshots are deleted; a live one is used.
        for image in self.snapshots() {
            if image.status == "killed" {
                if let Err(e) = self.cloud().delete_image(&image.id).await {
                    return call_failed(
                        self.ctx,
                        STEP,
                        &format!("could not delete the failed snapshot {}", image.id),
                        &e,
                    );
                }
                self.ctx.discarded.insert(image.id.clone());
                self.waiter().note_image_gone(&image.id);
            }
        }
        if let Some(image) = self.snapshots().into_iter().find(|i| i.status != "killed") {
            self.ctx.snapshot_id = Some(image.id.clone());
            return StepResult::done_with(
                Some(image.id.clone()),
                format!("using snapshot {} ({})", image.id, image.status),
            );
        }
        // A snapshot still being taken of this server shows as a task; let it end.
        let src = match self
            .source_idle(STEP, self.mv.settings.timeout_snapshot)
            .await
        {
            Ok(s) => s,
            Err(r) => return r,
        };
        if !matches!(
            src.status.as_str(),
            "ACTIVE" | "SHUTOFF" | "PAUSED" | "SUSPENDED"
        ) {
            return StepResult::failed(
                format!(
                    "the source is {}, and a snapshot needs it ACTIVE or SHUTOFF",
                    src.status
                ),
                true,
            );
        }
        let mut properties = boot.snapshot_properties.clone();
        if let Some(run) = &self.env.run_id {
            properties.insert(crate::apply::claims::rules::RUN.to_string(), run.clone());
        }
        match self
            .cloud()
            .create_image(self.source_id, &boot.snapshot_name, &properties)
            .await
        {
            Ok(id) => {
                // A source still running serves on; what it changes from
                // now on is not in the replacement, so the cut-over counts.
                if src.status == "ACTIVE" {
                    self.ctx
                        .down("snapshot (cut-over: the source kept running)");
                }
                self.waiter().note_image(Image {
                    id: id.clone(),
                    name: boot.snapshot_name.clone(),
                    status: "queued".into(),
                    properties: properties.clone(),
                    size: None,
                    created_at: String::new(),
                    updated_at: String::new(),
                });
                self.ctx.snapshot_id = Some(id.clone());
                StepResult::done_with(Some(id), "snapshot requested")
            }
            // Someone else is acting on the source (409, or the 500 of a
            // lost task_state race): let it settle, then look again.
            Err(e) if e.is_conflict() => {
                // Nova made the Glance image before it lost the race, and
                // leaves it `queued` for good: it is this run's, and useless.
                self.drop_orphan_snapshots().await;
                if let Err(r) = self
                    .source_idle(STEP, self.mv.settings.timeout_snapshot)
                    .await
                {
                    return r;
                }
                StepResult::redo(
                    Step::Snapshot,
                    format!("createImage was refused while someone else acted on the source: {e}"),
                )
            }
            Err(e) => call_failed(self.ctx, STEP, "createImage failed", &e),
        }
    }

    async fn wait_image(&mut self) -> StepResult {
        const STEP: Step = Step::WaitImage;
        if self.ctx.snapshot_id.is_none() {
            // Resumed here: find the snapshot (or a replacement made from it).
            if let Err(r) = self.fresh_images(STEP).await {
                return r;
            }
            self.know_existing_snapshot().await;
            if let Some(r) = self.replacements().first() {
                return StepResult::done_with(Some(r.id.clone()), "a replacement exists already");
            }
            self.ctx.snapshot_id = self
                .snapshots()
                .into_iter()
                .find(|i| i.status != "killed")
                .map(|i| i.id);
        }
        let Some(id) = self.ctx.snapshot_id.clone() else {
            return StepResult::redo(Step::Snapshot, "no snapshot of the source was found");
        };
        let disk = self
            .waiter()
            .server(self.source_id)
            .and_then(|s| s.flavor.disk_gb);
        let timeout = self.mv.settings.timeout_snapshot;
        let waited = self
            .env
            .waiter
            .wait_image(&id, disk, timeout, &mut self.stop, |i| match i {
                None => Some(None),
                Some(i) if i.status == "active" => Some(Some(true)),
                Some(i) if i.status == "killed" || i.status == "deleted" => Some(Some(false)),
                Some(_) => None,
            })
            .await;
        match waited {
            Ok(Some(true)) => StepResult::done_with(Some(id), "snapshot active"),
            Ok(Some(false)) => {
                if let Err(e) = self.cloud().delete_image(&id).await {
                    return call_failed(
                        self.ctx,
                        STEP,
                        &format!("could not delete the failed snapshot {id}"),
                        &e,
                    );
                }
                self.forget_snapshot(&id);
                StepResult::redo(
                    Step::Snapshot,
                    format!("snapshot {id} ended `killed` (its upload failed)"),
                )
            }
            Ok(None) => {
                self.forget_snapshot(&id);
                StepResult::redo(
                    Step::Snapshot,
                    format!(
                        "snapshot {id} disappeared (Nova deletes the image when the snapshot fails)"
                    ),
                )
            }
            Err(e) => wait_failed(
                self.ctx,
                STEP,
                &format!("snapshot {id} did not become active"),
                e,
            ),
        }
    }

    /// Delete the `queued` snapshots this run asked for whose `createImage`
    /// was refused (Nova creates the image before it checks the server's
    /// task, and does not remove it when that check fails).
    async fn drop_orphan_snapshots(&mut self) {
        let Some(run) = self.env.run_id.clone() else {
            return;
        };
        if self.fresh_images(Step::Snapshot).await.is_err() {
            return;
        }
        let orphans: Vec<String> = self
            .snapshots()
            .into_iter()
            .filter(|i| {
                i.status == "queued"
                    && i.properties.get(crate::apply::claims::rules::RUN) == Some(&run)
                    && Some(&i.id) != self.ctx.snapshot_id.as_ref()
            })
            .map(|i| i.id)
            .collect();
        for id in orphans {
            match self.cloud().delete_image(&id).await {
                Ok(()) => self.forget_snapshot(&id),
                Err(e) => tracing::warn!("could not delete the refused snapshot {id}: {e}"),
            }
        }
    }

    fn forget_snapshot(&mut self, id: &str) {
        self.ctx.discarded.insert(id.to_string());
        self.ctx.snapshot_id = None;
        self.waiter().note_image_gone(id);
    }

    async fn boot(&mut self) -> StepResult {
        const STEP: Step = Step::Boot;
        let Some(boot) = self.mv.boot.as_ref() else {
            return StepResult::failed("the plan has no boot specification for this server", true);
        };
        if let Err(r) = self.fresh_servers(STEP).await {
            return r;
        }
        if let Some(r) = self.started_by_someone() {
            return r;
        }
        for r in self.replacements() {
            if r.status == "ERROR" {
                if let Err(e) = self.cloud().delete_server(&r.id).await {
                    return call_failed(
                        self.ctx,
                        STEP,
                        &format!("could not delete the failed replacement {}", r.id),
                        &e,
                    );
                }
                self.ctx.discarded.insert(r.id.clone());
                self.waiter().note_server_gone(&r.id);
            }
        }
        if let Some(r) = self.replacements().into_iter().next() {
            self.ctx.replacement_id = Some(r.id.clone());
            return StepResult::done_with(
                Some(r.id.clone()),
                format!("using replacement {} ({})", r.id, r.status),
            );
        }
        if self.ctx.snapshot_id.is_none() {
            if let Err(r) = self.fresh_images(STEP).await {
                return r;
            }
            self.know_existing_snapshot().await;
            self.ctx.snapshot_id = self
                .snapshots()
                .into_iter()
                .find(|i| i.status == "active")
                .map(|i| i.id);
        }
        let Some(image_id) = self.ctx.snapshot_id.clone() else {
            return StepResult::redo(
                Step::Snapshot,
                "no active snapshot of the source to boot from",
            );
        };
        let mut metadata = boot.metadata.clone();
        if let Some(run) = &self.env.run_id {
            metadata.insert(crate::apply::claims::rules::RUN.to_string(), run.clone());
        }
        let request = BootRequest {
            name: boot.name.clone(),
            flavor_id: boot.flavor_id.clone(),
            image_id,
            availability_zone: self.mv.target_az.clone(),
            networks: boot.networks.clone(),
            security_groups: boot.security_groups.clone(),
            key_name: boot.key_name.clone(),
            metadata,
            user_data: boot.user_data.clone(),
        };
        match self.cloud().boot_server(&request).await {
            Ok(id) => {
                self.waiter().note_server(Server {
                    id: id.clone(),
                    name: boot.name.clone(),
                    status: "BUILD".into(),
                    metadata: request.metadata.clone(),
                    ..Server::default()
                });
                self.ctx.replacement_id = Some(id.clone());
                StepResult::done_with(Some(id), "replacement requested")
            }
            Err(e) => call_failed(self.ctx, STEP, "booting the replacement failed", &e),
        }
    }

    async fn wait_active(&mut self) -> StepResult {
        const STEP: Step = Step::WaitActive;
        if self.ctx.replacement_id.is_none() {
            if let Err(r) = self.fresh_servers(STEP).await {
                return r;
            }
            self.ctx.replacement_id = self.replacements().first().map(|r| r.id.clone());
        }
        let Some(id) = self.ctx.replacement_id.clone() else {
            return StepResult::redo(Step::Boot, "no replacement was found");
        };
        let timeout = self.mv.settings.timeout_boot;
        let waited = self
            .env
            .waiter
            .wait_server(&id, WaitKind::Boot, timeout, &mut self.stop, |s| match s {
                None => Some(Err(None)),
                Some(s) if s.status == "ACTIVE" && s.task_state.is_none() => Some(Ok(s.clone())),
                Some(s) if s.status == "ERROR" => Some(Err(Some(
                    s.fault.clone().unwrap_or_else(|| "no fault given".into()),
                ))),
                Some(_) => None,
            })
            .await;
        match waited {
            Ok(Ok(server)) => {
                self.ctx.replacement = Some(server);
                self.ctx.up();
                StepResult::done_with(Some(id), "replacement ACTIVE")
            }
            // Nova never deletes a server by itself: someone else did.
            Ok(Err(None)) if !self.ctx.discarded.contains(&id) => {
                self.ctx.replacement_id = None;
                self.ctx.discarded.insert(id.clone());
                StepResult::changed(
                    format!(
                        "the replacement {id} was deleted by someone else while it was building; the move stopped"
                    ),
                    true,
                )
            }
            Ok(Err(fault)) => {
                if let Err(e) = self.cloud().delete_server(&id).await {
                    return call_failed(
                        self.ctx,
                        STEP,
                        &format!("could not delete the failed replacement {id}"),
                        &e,
                    );
                }
                self.ctx.discarded.insert(id.clone());
                self.ctx.replacement_id = None;
                self.waiter().note_server_gone(&id);
                let why = match fault {
                    Some(f) => format!("replacement {id} ended in ERROR: {f}"),
                    None => format!("replacement {id} disappeared while building"),
                };
                StepResult::redo(Step::Boot, why)
            }
            Err(e) => wait_failed(
                self.ctx,
                STEP,
                &format!("replacement {id} did not become ACTIVE"),
                e,
            ),
        }
    }

    /// The replacement to verify, read at most `max_age` ago.
    async fn current_replacement(
        &mut self,
        step: Step,
        max_age: Duration,
    ) -> Result<Server, StepResult> {
        self.servers_within(step, max_age).await?;
        let found = match &self.ctx.replacement_id {
            Some(id) => self.waiter().server(id),
            None => self.replacements().into_iter().next(),
        };
        let _ = step;
        found.ok_or_else(|| {
            StepResult::changed(
                format!(
                    "the replacement {} was deleted by someone else during the move",
                    self.ctx.replacement_id.as_deref().unwrap_or("")
                ),
                true,
            )
        })
    }

    fn check(&self, r: &Server) -> Vec<String> {
        let source = self.waiter().server(self.source_id);
        let hosts = self.env.hosts_by_az.get(self.target()).map(Vec::as_slice);
        check_replacement(r, self.mv, source.as_ref(), hosts)
    }

    async fn verify(&mut self) -> StepResult {
        const STEP: Step = Step::Verify;
        let fresh = self.env.fresh_within;
        let r = match self.current_replacement(STEP, fresh).await {
            Ok(r) => r,
            Err(res) => return res,
        };
        if let Some(res) = self.started_by_someone() {
            return res;
        }
        let problems = self.check(&r);
        if !problems.is_empty() {
            return StepResult::failed(
                format!(
                    "replacement {} failed verification: {}",
                    r.id,
                    problems.join("; ")
                ),
                true,
            );
        }
        self.ctx.replacement_id = Some(r.id.clone());
        self.ctx.replacement = Some(r.clone());
        self.ctx.verified = true;
        // Marked for every later run: a verified replacement is never undone.
        let mark = BTreeMap::from([(tags::VERIFIED.to_string(), self.env.marker())]);
        if let Err(e) = self.cloud().set_server_metadata(&r.id, &mark).await {
            tracing::warn!("could not mark replacement {} as verified: {e}", r.id);
        }
        // Extra replacements (a create retried by a proxy) must not linger.
        for extra in self.replacements().into_iter().filter(|x| x.id != r.id) {
            match self.cloud().delete_server(&extra.id).await {
                Ok(()) => {
                    self.ctx.discarded.insert(extra.id.clone());
                    self.waiter().note_server_gone(&extra.id);
                }
                Err(e) => {
                    tracing::warn!("could not delete the extra replacement {}: {e}", extra.id)
                }
            }
        }
        let place = format!(
            "{}/{}",
            r.availability_zone.as_deref().unwrap_or("?"),
            r.host.as_deref().unwrap_or("(host not visible)")
        );
        StepResult::done_with(Some(r.id.clone()), format!("verified in {place}"))
    }

    /// Delete every snapshot of this move (`keep`: except the one in use,
    /// which is kept when `keep_snapshot` is set).
    async fn delete_snapshots(&mut self, keep: Option<String>) -> StepResult {
        const STEP: Step = Step::DeleteSnapshot;
        if let Err(r) = self.fresh_images(STEP).await {
            return r;
        }
        self.know_existing_snapshot().await;
        let mut ids: Vec<String> = self.snapshots().into_iter().map(|i| i.id).collect();
        if let Some(id) = &self.ctx.snapshot_id
            && !ids.contains(id)
            && !self.ctx.discarded.contains(id)
        {
            ids.push(id.clone());
        }
        ids.retain(|i| Some(i) != keep.as_ref());
        for id in &ids {
            if let Err(e) = self.cloud().delete_image(id).await {
                return call_failed(
                    self.ctx,
                    STEP,
                    &format!("could not delete snapshot {id}"),
                    &e,
                );
            }
            self.forget_snapshot(id);
        }
        if ids.is_empty() {
            StepResult::done_with(None, "no snapshot left to delete")
        } else {
            StepResult::done_with(None, format!("deleted {}", ids.join(", ")))
        }
    }

    async fn handle_source(&mut self) -> StepResult {
        const STEP: Step = Step::HandleSource;
        // Before deleting a source, the replacement is read right now.
        let max_age = match self.mv.settings.source_after {
            SourceAfter::Delete => Duration::ZERO,
            _ => self.env.fresh_within,
        };
        let r = match self.current_replacement(STEP, max_age).await {
            Ok(r) => r,
            Err(res) => return res,
        };
        // A source someone started again is theirs: never deleted, never stopped.
        if let Some(res) = self.started_by_someone() {
            return res;
        }
        // The rule that keeps servers safe: nothing happens to the source
        // unless its replacement verifies right now.
        let problems = self.check(&r);
        if !problems.is_empty() {
            return StepResult::failed(
                format!(
                    "the source was left untouched: replacement {} does not verify: {}",
                    r.id,
                    problems.join("; ")
                ),
                false,
            );
        }
        self.ctx.verified = true;
        self.ctx.replacement_id = Some(r.id.clone());
        self.ctx.replacement = Some(r.clone());
        let source = self.waiter().server(self.source_id);
        let Some(source) = source else {
            self.ctx.source_state = Some("gone".into());
            return StepResult::done_with(Some(r.id.clone()), "the source is already gone");
        };
        let moved_tag = BTreeMap::from([(tags::MOVED_TO.to_string(), r.id.clone())]);
        match self.mv.settings.source_after {
            SourceAfter::Delete => {
                if let Err(e) = self.cloud().delete_server(self.source_id).await {
                    return call_failed(self.ctx, STEP, "could not delete the source", &e);
                }
                // The deletion is load on the source's host until it ends:
                // the move keeps its slot until then.
                if let Err(r) = self.wait_gone(STEP).await {
                    return r;
                }
                self.ctx.source_state = Some("deleted".into());
                StepResult::done_with(Some(r.id.clone()), "source deleted")
            }
            SourceAfter::Stop => {
                if source.status != "SHUTOFF" {
                    if let Err(e) = self.cloud().stop_server(self.source_id).await
                        && !e.is_conflict()
                    {
                        return call_failed(self.ctx, STEP, "could not stop the source", &e);
                    }
                    let id = self.source_id.to_string();
                    let timeout = self.mv.settings.timeout_source;
                    let waited = self
                        .env
                        .waiter
                        .wait_server(&id, WaitKind::Stop, timeout, &mut self.stop, |s| match s {
                            None => Some(false),
                            Some(s) if s.status == "SHUTOFF" && s.task_state.is_none() => {
                                Some(true)
                            }
                            Some(_) => None,
                        })
                        .await;
                    match waited {
                        Ok(true) => {}
                        Ok(false) => {
                            self.ctx.source_state = Some("gone".into());
                            return StepResult::done_with(Some(r.id.clone()), "the source is gone");
                        }
                        Err(e) => {
                            return wait_failed(
                                self.ctx,
                                STEP,
                                "the source did not reach SHUTOFF",
                                e,
                            );
                        }
                    }
                }
                if let Err(e) = self
                    .cloud()
                    .set_server_metadata(self.source_id, &moved_tag)
                    .await
                {
                    return call_failed(self.ctx, STEP, "could not tag the source as moved", &e);
                }
                self.ctx.source_state = Some("stopped".into());
                StepResult::done_with(
                    Some(r.id.clone()),
                    format!("source stopped, tagged {}={}", tags::MOVED_TO, r.id),
                )
            }
            SourceAfter::Keep => {
                if let Err(e) = self
                    .cloud()
                    .set_server_metadata(self.source_id, &moved_tag)
                    .await
                {
                    return call_failed(self.ctx, STEP, "could not tag the source as moved", &e);
                }
                self.ctx.source_state = Some(format!("kept ({})", source.status));
                StepResult::done_with(
                    Some(r.id.clone()),
                    format!("source kept, tagged {}={}", tags::MOVED_TO, r.id),
                )
            }
        }
    }

    /// Wait until the source is gone (DELETED in the shared poll); one GET
    /// settles it if the cloud does not list deleted servers.
    async fn wait_gone(&mut self, step: Step) -> Result<(), StepResult> {
        let id = self.source_id.to_string();
        let timeout = self.mv.settings.timeout_source;
        let waited = self
            .env
            .waiter
            .wait_server(&id, WaitKind::Stop, timeout, &mut self.stop, |s| {
                s.is_none().then_some(())
            })
            .await;
        match waited {
            Ok(()) => Ok(()),
            Err(WaitError::Interrupted) => Err(StepResult::interrupted()),
            Err(WaitError::Timeout(_)) => match self.cloud().server(&id).await {
                Ok(None) => {
                    self.waiter().note_server_gone(&id);
                    Ok(())
                }
                Ok(Some(s)) if s.status == "DELETED" => {
                    self.waiter().note_server_gone(&id);
                    Ok(())
                }
                Ok(Some(s)) => Err(StepResult::failed(
                    format!(
                        "the source was asked to be deleted but is still {} after {}",
                        s.status,
                        humantime::format_duration(timeout)
                    ),
                    false,
                )),
                Err(e) => Err(call_failed(
                    self.ctx,
                    step,
                    "could not check that the source is deleted",
                    &e,
                )),
            },
        }
    }

    async fn rollback(&mut self) -> StepResult {
        let mut problems = Vec::new();
        if let Err(r) = self.fresh_servers(Step::Boot).await {
            problems.push(r.message.unwrap_or_default());
        }
        if let Err(r) = self.fresh_images(Step::Snapshot).await {
            problems.push(r.message.unwrap_or_default());
        }
        self.know_existing_snapshot().await;
        // A replacement another run verified is that run's finished work:
        // never undone here.
        let mine = self.env.marker();
        let mut replacements: Vec<String> = self
            .replacements()
            .into_iter()
            .filter(|s| s.metadata.get(tags::VERIFIED).is_none_or(|by| *by == mine))
            .map(|s| s.id)
            .collect();
        if let Some(id) = &self.ctx.replacement_id
            && !replacements.contains(id)
            && !self.ctx.discarded.contains(id)
        {
            replacements.push(id.clone());
        }
        let mut deleted = Vec::new();
        for id in replacements {
            match self.cloud().delete_server(&id).await {
                Ok(()) => {
                    self.ctx.discarded.insert(id.clone());
                    self.waiter().note_server_gone(&id);
                    deleted.push(format!("replacement {id}"));
                }
                Err(e) => {
                    if let Some(rid) = e.request_id() {
                        self.ctx.request_ids.push(rid.to_string());
                    }
                    problems.push(format!("could not delete replacement {id}: {e}"));
                }
            }
        }
        self.ctx.replacement_id = None;
        let mut snaps: Vec<String> = self.snapshots().into_iter().map(|i| i.id).collect();
        if let Some(id) = &self.ctx.snapshot_id
            && !snaps.contains(id)
            && !self.ctx.discarded.contains(id)
        {
            snaps.push(id.clone());
        }
        for id in snaps {
            match self.cloud().delete_image(&id).await {
                Ok(()) => {
                    self.forget_snapshot(&id);
                    deleted.push(format!("snapshot {id}"));
                }
                Err(e) => {
                    if let Some(rid) = e.request_id() {
                        self.ctx.request_ids.push(rid.to_string());
                    }
                    problems.push(format!("could not delete snapshot {id}: {e}"));
                }
            }
        }
        // Start the source again if azmove stopped it.
        let source = self.waiter().server(self.source_id);
        let stopped_by_us = self.ctx.tagged_stopped
            || source
                .as_ref()
                .is_some_and(|s| s.metadata.contains_key(tags::STOPPED_BY));
        match source {
            Some(src) if stopped_by_us && self.mv.settings.source_after != SourceAfter::Stop => {
                let off =
                    src.status == "SHUTOFF" || src.task_state.as_deref() == Some("powering-off");
                if off && let Err(e) = self.start_again(&src).await {
                    problems.push(e);
                }
                if problems.is_empty() {
                    match self
                        .cloud()
                        .delete_server_metadata(self.source_id, tags::STOPPED_BY)
                        .await
                    {
                        Ok(()) => {
                            self.ctx.tagged_stopped = false;
                            self.ctx.source_state = Some(if off {
                                "started again".into()
                            } else {
                                format!("left {} (not stopped by azmove)", src.status)
                            });
                        }
                        Err(e) => problems.push(format!(
                            "could not remove the {} tag: {e}",
                            tags::STOPPED_BY
                        )),
                    }
                }
            }
            Some(src) => self.ctx.source_state = Some(format!("left {}", src.status)),
            None => self.ctx.source_state = Some("gone".into()),
        }
        if problems.is_empty() {
            StepResult::done_with(
                None,
                if deleted.is_empty() {
                    "nothing to delete".into()
                } else {
                    format!("deleted {}", deleted.join(", "))
                },
            )
        } else {
            StepResult::failed(problems.join("; "), false)
        }
    }

    async fn start_again(&mut self, src: &Server) -> Result<(), String> {
        let id = src.id.clone();
        let timeout = self.mv.settings.timeout_source;
        if src.task_state.is_some() {
            let idle = self
                .env
                .waiter
                .wait_server(&id, WaitKind::Stop, timeout, &mut self.stop, |s| {
                    s.is_none_or(|s| s.task_state.is_none()).then_some(())
                })
                .await;
            if let Err(e) = idle {
                return Err(format!("the source stayed busy: {e}"));
            }
        }
        if let Err(e) = self.cloud().start_server(&id).await
            && !e.is_conflict()
        {
            if let Some(rid) = e.request_id() {
                self.ctx.request_ids.push(rid.to_string());
            }
            return Err(format!("could not start the source again: {e}"));
        }
        // Waiting here may be interrupted by a second Ctrl-C only; the
        // first one lets rollbacks finish.
        let mut never = StopSignal::never();
        let waited = self
            .env
            .waiter
            .wait_server(&id, WaitKind::Start, timeout, &mut never, |s| match s {
                None => Some(false),
                Some(s) if s.status == "ACTIVE" && s.task_state.is_none() => Some(true),
                Some(_) => None,
            })
            .await;
        match waited {
            Ok(true) => Ok(()),
            Ok(false) => Err("the source disappeared while starting".into()),
            Err(e) => Err(format!("the source did not come back ACTIVE: {e}")),
        }
    }
}

fn rank_server(s: &Server) -> u8 {
    match s.status.as_str() {
        "ACTIVE" => 0,
        "BUILD" => 1,
        "ERROR" => 3,
        _ => 2,
    }
}

fn rank_image(i: &Image) -> u8 {
    match i.status.as_str() {
        "active" => 0,
        s if IMAGE_IN_PROGRESS.contains(&s) => 1,
        _ => 2,
    }
}

/// Whether two names denote one compute host. The zone lists nova-compute
/// service hosts (often short names) while a server shows its hypervisor's
/// hostname (often the FQDN): `node-31` and `node-31.example.org` agree.
pub(crate) fn same_host(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long == short
        || long
            .strip_prefix(short)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// What is wrong with a replacement; empty when it is good.
///
/// Hosts are checked only when the caller can see them (admins): members
/// see neither the replacement's host nor the AZ's hosts, and the AZ is
/// then the evidence.
pub fn check_replacement(
    r: &Server,
    mv: &PlannedMove,
    source: Option<&Server>,
    target_hosts: Option<&[String]>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if r.status != "ACTIVE" {
        problems.push(format!("it is {}, not ACTIVE", r.status));
    }
    match r.availability_zone.as_deref() {
        Some(az) if az == mv.target_az => {}
        Some(az) => problems.push(format!(
            "it is in availability zone {az}, not {}",
            mv.target_az
        )),
        None => problems.push("its availability zone is not reported".to_string()),
    }
    if let (Some(host), Some(hosts)) = (r.host.as_deref(), target_hosts)
        && !hosts.iter().any(|h| same_host(h, host))
    {
        problems.push(format!("its host {host} is not a host of {}", mv.target_az));
    }
    if let Some(boot) = &mv.boot {
        let src_flavor = source.map(|s| &s.flavor);
        let flavor_ok = match (
            &r.flavor.original_name,
            src_flavor.and_then(|f| f.original_name.as_ref()),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => match &r.flavor.id {
                Some(id) => *id == boot.flavor_id,
                None => true,
            },
        };
        if !flavor_ok {
            let got = r
                .flavor
                .original_name
                .clone()
                .or_else(|| r.flavor.id.clone())
                .unwrap_or_default();
            let want = mv
                .source
                .as_ref()
                .map(|s| s.flavor.clone())
                .unwrap_or_else(|| boot.flavor_id.clone());
            problems.push(format!("its flavor is {got}, not {want}"));
        }
    }
    if let Some(spec) = &mv.source {
        let want: BTreeSet<&str> = spec.networks.keys().map(String::as_str).collect();
        let got: BTreeSet<&str> = r.addresses.keys().map(String::as_str).collect();
        if want != got {
            let list = |s: &BTreeSet<&str>| {
                if s.is_empty() {
                    "none".to_string()
                } else {
                    s.iter().copied().collect::<Vec<_>>().join(", ")
                }
            };
            problems.push(format!(
                "it is on networks {}, expected {}",
                list(&got),
                list(&want)
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::changeset::{Action, BootSpec, Existing, ServerSpec};
    use crate::plan::file::{Options, Strategy};
    use crate::plan::inventory::{Address, FlavorRef};

    fn planned() -> PlannedMove {
        PlannedMove {
            key: "src".into(),
            entry: "vm".into(),
            source: Some(ServerSpec {
                id: "src".into(),
                name: "vm".into(),
                flavor: "m1.small".into(),
                networks: BTreeMap::from([("private".to_string(), vec!["10.0.0.5".to_string()])]),
                ..Default::default()
            }),
            target_az: "nova2".into(),
            action: Action::Move,
            strategy: Strategy::Snapshot,
            strategy_reason: String::new(),
            steps: vec![],
            after: vec![],
            settings: Options::default().resolve(),
            boot: Some(BootSpec {
                flavor_id: "2".into(),
                ..Default::default()
            }),
            existing: Existing::default(),
            fingerprint: None,
            effects: Default::default(),
        }
    }

    fn replacement() -> Server {
        Server {
            id: "new".into(),
            status: "ACTIVE".into(),
            availability_zone: Some("nova2".into()),
            host: Some("node-31".into()),
            flavor: FlavorRef {
                original_name: Some("m1.small".into()),
                ..Default::default()
            },
            addresses: BTreeMap::from([(
                "private".to_string(),
                vec![Address {
                    addr: "10.0.0.9".into(),
                    kind: Some("fixed".into()),
                    mac: None,
                }],
            )]),
            ..Default::default()
        }
    }

    fn source() -> Server {
        Server {
            id: "src".into(),
            flavor: FlavorRef {
                original_name: Some("m1.small".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_good_replacement_passes() {
        let hosts = vec!["node-31".to_string(), "node-32".to_string()];
        assert!(
            check_replacement(&replacement(), &planned(), Some(&source()), Some(&hosts)).is_empty()
        );
        // Members see no hosts: the AZ is enough.
        let mut r = replacement();
        r.host = None;
        assert!(check_replacement(&r, &planned(), Some(&source()), None).is_empty());
    }

    #[test]
    fn every_problem_is_named() {
        let mut r = replacement();
        r.status = "ERROR".into();
        r.availability_zone = Some("nova".into());
        r.host = Some("node-1".into());
        r.flavor.original_name = Some("m1.large".into());
        r.addresses.clear();
        let hosts = vec!["node-31".to_string()];
        let p = check_replacement(&r, &planned(), Some(&source()), Some(&hosts));
        assert_eq!(p.len(), 5, "{p:?}");
        assert!(p[0].contains("ERROR"));
        assert!(p[1].contains("availability zone nova, not nova2"));
        assert!(p[2].contains("node-1 is not a host of nova2"));
        assert!(p[3].contains("m1.large"));
        assert!(p[4].contains("expected private"));
    }

    #[test]
    fn short_and_fully_qualified_host_names_agree() {
        assert!(same_host("node-31", "node-31.example.org"));
        assert!(same_host("node-31.example.org", "node-31"));
        assert!(!same_host("node-3", "node-31"));
        assert!(!same_host("node-31", "node-32.example.org"));
    }

    #[test]
    fn flavor_by_id_before_2_47() {
        let mut r = replacement();
        r.flavor = FlavorRef {
            id: Some("2".into()),
            ..Default::default()
        };
        let mut s = source();
        s.flavor = FlavorRef {
            id: Some("2".into()),
            ..Default::default()
        };
        assert!(check_replacement(&r, &planned(), Some(&s), None).is_empty());
        r.flavor.id = Some("3".into());
        assert_eq!(check_replacement(&r, &planned(), Some(&s), None).len(), 1);
    }
}
