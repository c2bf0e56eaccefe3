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

mod image;
mod replacement;
mod rollback;
mod source;
#[cfg(test)]
mod tests;

use std::time::Duration;

use futures::future::BoxFuture;

use super::{Job, Strategy};
use crate::apply::cloud::Cloud;
use crate::apply::step::{
    JobCtx, ReadError, RunEnv, StepError, StepResult, read_images, read_servers,
};
use crate::apply::waiter::{WaitError, WaitKind, Waiter};
use crate::openstack::Error;
use crate::plan::changeset::{PlannedMove, Step};
use crate::plan::inventory::{Image, Server, tags};
use tokio_util::sync::CancellationToken;

pub use replacement::check_replacement;

/// A replacement booted from a snapshot of the source in the target AZ;
/// the source is then deleted, stopped or kept (`source_after`).
pub struct Snapshot;

impl Strategy for Snapshot {
    fn name(&self) -> &'static str {
        "snapshot"
    }

    fn moves_in_place(&self) -> bool {
        false
    }

    fn steps(&self) -> &'static [Step] {
        &[
            Step::StopSource,
            Step::Snapshot,
            Step::WaitImage,
            Step::Boot,
            Step::WaitActive,
            Step::Verify,
            Step::DeleteSnapshot,
            Step::HandleSource,
        ]
    }

    fn run<'a>(&'a self, job: Job<'a>, step: Step) -> BoxFuture<'a, StepResult> {
        Box::pin(async move {
            let Some(mut s) = Steps::new(job) else {
                return StepResult::failed("the entry resolved to no server", false);
            };
            match step {
                Step::StopSource => s.stop_source().await,
                Step::Snapshot => s.snapshot().await,
                Step::WaitImage => s.wait_image().await,
                Step::Boot => s.boot().await,
                Step::WaitActive => s.wait_active().await,
                Step::DeleteSnapshot => s.delete_snapshots(None).await,
                Step::HandleSource => s.handle_source().await,
                other => super::not_a_step(other, "snapshot"),
            }
        })
    }

    fn verify<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, StepResult> {
        Box::pin(async move {
            match Steps::new(job) {
                Some(mut s) => s.verify().await,
                None => StepResult::failed("the entry resolved to no server", false),
            }
        })
    }

    fn rollback<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, StepResult> {
        Box::pin(async move {
            match Steps::new(job) {
                Some(mut s) => s.rollback().await,
                None => StepResult::done(),
            }
        })
    }
}

/// Glance statuses of an image still being written.
const IMAGE_IN_PROGRESS: [&str; 5] = [
    "queued",
    "saving",
    "uploading",
    "importing",
    "pending_delete",
];

/// Whether a failure of `step` undoes the move. Once the replacement has
/// been verified, it is kept: rolling back would throw away a good server.
fn rolls_back(step: Step, ctx: &JobCtx) -> bool {
    !ctx.verified && !matches!(step, Step::DeleteSnapshot | Step::HandleSource)
}

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
fn call_failed(ctx: &mut JobCtx, server: &str, step: Step, what: &str, e: &Error) -> StepResult {
    let error = StepError::call(server, Some(step), what, e);
    let mut r = failure(ctx, step, error.message.clone());
    ctx.note_call_error(&mut r, error);
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

struct Steps<'a> {
    env: &'a RunEnv,
    mv: &'a PlannedMove,
    source_id: &'a str,
    ctx: &'a mut JobCtx,
    stop: CancellationToken,
}

impl<'a> Steps<'a> {
    fn new(job: Job<'a>) -> Option<Steps<'a>> {
        let source = job.mv.source.as_ref()?;
        Some(Steps {
            env: job.env,
            mv: job.mv,
            source_id: source.id.as_str(),
            ctx: job.ctx,
            stop: job.stop,
        })
    }
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
        let read = read_servers(self.env, &self.stop, max_age).await;
        self.read_failed(step, "servers", read)
    }

    async fn fresh_images(&mut self, step: Step) -> Result<(), StepResult> {
        let read = read_images(self.env, &self.stop, self.env.fresh_within).await;
        self.read_failed(step, "snapshots", read)
    }

    fn read_failed(
        &self,
        step: Step,
        what: &str,
        read: Result<(), ReadError>,
    ) -> Result<(), StepResult> {
        match read {
            Ok(()) => Ok(()),
            Err(ReadError::Interrupted) => Err(StepResult::interrupted()),
            Err(ReadError::Failed(last)) => Err(failure(
                self.ctx,
                step,
                format!("could not read the {what}' state: {last}"),
            )),
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
            .wait_server(&id, WaitKind::Stop, timeout, &self.stop, |s| match s {
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
