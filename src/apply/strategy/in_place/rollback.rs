//! Undoing a failed in-place move where it stands. The server must end at
//! rest, pinned to the AZ it is actually in, powered as before the move,
//! and without azmove's tags; the report says where it is.
//!
//! - a task still running (a migration, a shelve) is let end first; a live
//!   migration still running is aborted;
//! - VERIFY_RESIZE: `revertResize`, back to the source host;
//! - SHELVED: `unshelve` where it is;
//! - SHELVED_OFFLOADED (the unshelve into the target failed): `unshelve`
//!   into the AZ it came from, so that a server that was serving serves
//!   again, where it was. If that fails too, it stays SHELVED_OFFLOADED
//!   and the tags stay, so that a re-run tries the target again;
//! - then pin where it is, and stop (or start) it as it was.
//!
//! Whenever the server cannot be brought to rest, the tags stay: a re-run
//! continues the move from where the server is.

use std::time::Duration;

use tokio::time::Instant;

use super::super::Job;
use super::{InPlace, StepOutcome, Timeouts, at_rest, place};
use crate::apply::step::{StepError, StepResult};
use crate::apply::waiter::WaitKind;
use crate::openstack::Error;
use crate::plan::inventory::Server;

/// Undo a failed in-place move (see the module's doc).
pub(in crate::apply::strategy) async fn rollback(job: Job<'_>) -> StepResult {
    let Some(source) = job.mv.source.as_ref() else {
        return StepResult::done();
    };
    let mut m = InPlace {
        env: job.env,
        mv: job.mv,
        id: source.id.as_str(),
        ctx: job.ctx,
        // A rollback puts a server back: the first Ctrl-C does not cut it
        // short (the executor gives it the token of a stop at once).
        stop: job.stop,
        step: None,
    };
    let result = m.undo().await.unwrap_or_else(|r| r);
    if let Some(s) = m.env.waiter.server(m.id) {
        m.ctx.source_state = Some(format!("left {}", place(&s)));
        m.ctx.server = Some(s);
    }
    result
}

impl InPlace<'_> {
    async fn undo(&mut self) -> StepOutcome {
        let mut done = Vec::new();
        let s = match self.read_within(Duration::ZERO).await {
            Ok(s) => s,
            Err(_) if self.waiter().server_gone(self.id) => {
                return Ok(StepResult::done_with(None, "the server no longer exists"));
            }
            Err(r) => return Err(r),
        };
        let s = self.settle(s, &mut done).await?;
        let s = self.back_to_rest(s, &mut done).await?;
        if !at_rest(&s) {
            return Err(StepResult::failed(
                format!(
                    "the server could not be brought back to rest: {}; its tags stay, so that running again continues the move",
                    place(&s)
                ),
                false,
            ));
        }
        match self.pin_calls(&s).await {
            Ok(Some(az)) if s.pinned_availability_zone.as_deref() != Some(az.as_str()) => {
                done.push(format!("pinned to {az}"));
            }
            Ok(_) => {}
            // Before 2.104 pins cannot change: the move never unpinned it.
            Err((_, Error::MicroversionTooOld { .. })) => {}
            Err((what, e)) => {
                return Err(self.undo_call_fail(
                    &format!("{what}; its tags stay, so that running again continues the move"),
                    &e,
                ));
            }
        }
        let s = self.waiter().server(self.id).unwrap_or(s);
        let was_shutoff = self.was_shutoff(&s);
        if was_shutoff && s.status == "ACTIVE" {
            self.power(&s, false).await?;
            done.push("stopped again".into());
        } else if !was_shutoff && s.status == "SHUTOFF" {
            self.power(&s, true).await?;
            done.push("started again".into());
        }
        let now = self.waiter().server(self.id).unwrap_or(s);
        self.remove_tags(&now).await?;
        done.push("tags removed".into());
        Ok(StepResult::done_with(None, done.join(", ")))
    }

    fn undo_call_fail(&mut self, what: &str, e: &Error) -> StepResult {
        let error = StepError::call(self.id, None, what, e);
        let mut r = StepResult::failed(error.message.clone(), false);
        self.ctx.note_call_error(&mut r, error);
        r
    }

    /// Let a task in flight end; abort a live migration still running.
    async fn settle(&mut self, s: Server, done: &mut Vec<String>) -> Result<Server, StepResult> {
        if s.task_state.is_none() {
            return Ok(s);
        }
        if s.task_state.as_deref() == Some("migrating")
            && let Ok(list) = self.cloud().server_migrations(self.id).await
            && let Some(mig) = list
                .iter()
                .filter(|m| m.status == "running")
                .max_by_key(|m| m.id)
        {
            match self.cloud().abort_migration(self.id, mig.id).await {
                Ok(()) => done.push(format!("aborted migration {}", mig.id)),
                Err(e) => tracing::warn!("could not abort migration {}: {e}", mig.id),
            }
        }
        let got = self.until_no_task(Timeouts::undo(self.mv), false).await;
        match got {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(StepResult::done_with(None, "the server no longer exists")),
            Err(e) => Err(StepResult::failed(
                format!(
                    "the server is still busy ({e}); its tags stay, so that running again continues the move"
                ),
                false,
            )),
        }
    }

    /// Undo a half-done move: revert a migration waiting to be confirmed,
    /// unshelve a shelved server (into the AZ it came from).
    async fn back_to_rest(
        &mut self,
        s: Server,
        done: &mut Vec<String>,
    ) -> Result<Server, StepResult> {
        match s.status.as_str() {
            "VERIFY_RESIZE" => {
                if let Err(e) = self.cloud().revert_resize(self.id).await {
                    return Err(self.undo_call_fail("revertResize was refused", &e));
                }
                self.note_task(&s, "resize_reverting");
                let back = self.wait_rest("the migration was not reverted").await?;
                done.push(format!("migration reverted: {}", place(&back)));
                Ok(back)
            }
            "SHELVED" => {
                if let Err(e) = self.cloud().unshelve(self.id, None).await {
                    return Err(self.undo_call_fail("unshelve was refused", &e));
                }
                self.note_task(&s, "unshelving");
                let back = self.wait_rest("the server was not unshelved").await?;
                done.push("unshelved".into());
                Ok(back)
            }
            "SHELVED_OFFLOADED" => self.unshelve_back(s, done).await,
            _ => Ok(s),
        }
    }

    /// Unshelve a server whose unshelve into the target failed back into
    /// the AZ it came from.
    async fn unshelve_back(
        &mut self,
        s: Server,
        done: &mut Vec<String>,
    ) -> Result<Server, StepResult> {
        let from = self
            .mv
            .source
            .as_ref()
            .and_then(|src| src.availability_zone.clone())
            .filter(|az| az != self.target());
        let Some(from) = from else {
            return Err(StepResult::failed(
                format!(
                    "the server stays SHELVED_OFFLOADED: the AZ it came from is not known; its tags stay, so that running again tries {} again (or unshelve it by hand)",
                    self.target()
                ),
                false,
            ));
        };
        if let Err(e) = self.cloud().unshelve(self.id, Some(&from)).await {
            return Err(self.undo_call_fail(
                &format!(
                    "the server stays SHELVED_OFFLOADED: unshelve back into {from} was refused"
                ),
                &e,
            ));
        }
        self.note_task(&s, "unshelving");
        let back = self
            .wait_rest(&format!("the server was not unshelved back into {from}"))
            .await?;
        if back.status != "ACTIVE" {
            return Err(StepResult::failed(
                format!(
                    "the server stays SHELVED_OFFLOADED: unshelve back into {from} failed too{}; its tags stay, so that running again tries {} again",
                    back.fault
                        .as_deref()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default(),
                    self.target()
                ),
                false,
            ));
        }
        done.push(format!("unshelved back into {from}"));
        Ok(back)
    }

    /// Wait for the server to have no task again, at rest or not.
    async fn wait_rest(&mut self, what: &str) -> Result<Server, StepResult> {
        let accepted = Instant::now();
        let got = self
            .wait(
                WaitKind::Settle,
                Timeouts::undo(self.mv),
                accepted,
                |s, fresh| match s {
                    None => Some(None),
                    Some(s) if at_rest(s) && s.status != "VERIFY_RESIZE" => Some(Some(s.clone())),
                    Some(s) if fresh && s.task_state.is_none() => Some(Some(s.clone())),
                    Some(_) => None,
                },
            )
            .await;
        match got {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(StepResult::done_with(None, "the server no longer exists")),
            Err(e) => Err(StepResult::failed(
                format!("{what}: {e}; its tags stay, so that running again continues the move"),
                false,
            )),
        }
    }
}
