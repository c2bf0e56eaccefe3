//! The source's part of a snapshot move: stopped for a consistent
//! snapshot, and deleted, stopped or kept once its replacement verifies.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::{Steps, call_failed, wait_failed};
use crate::apply::step::StepResult;
use crate::apply::waiter::{WaitError, WaitKind};
use crate::plan::changeset::Step;
use crate::plan::file::SourceAfter;
use crate::plan::inventory::tags;

impl Steps<'_> {
    pub(super) async fn stop_source(&mut self) -> StepResult {
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
                self.source_id,
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
                return call_failed(
                    self.ctx,
                    self.source_id,
                    STEP,
                    "could not stop the source",
                    &e,
                );
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
        let not_interrupted = self.env.stop_now.clone();
        let waited = self
            .env
            .waiter
            .wait_server(
                &id,
                WaitKind::Stop,
                timeout,
                &not_interrupted,
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

    pub(super) async fn handle_source(&mut self) -> StepResult {
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
                    return call_failed(
                        self.ctx,
                        self.source_id,
                        STEP,
                        "could not delete the source",
                        &e,
                    );
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
                        return call_failed(
                            self.ctx,
                            self.source_id,
                            STEP,
                            "could not stop the source",
                            &e,
                        );
                    }
                    let id = self.source_id.to_string();
                    let timeout = self.mv.settings.timeout_source;
                    let waited = self
                        .env
                        .waiter
                        .wait_server(&id, WaitKind::Stop, timeout, &self.stop, |s| match s {
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
                    return call_failed(
                        self.ctx,
                        self.source_id,
                        STEP,
                        "could not tag the source as moved",
                        &e,
                    );
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
                    return call_failed(
                        self.ctx,
                        self.source_id,
                        STEP,
                        "could not tag the source as moved",
                        &e,
                    );
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
    pub(super) async fn wait_gone(&mut self, step: Step) -> Result<(), StepResult> {
        let id = self.source_id.to_string();
        let timeout = self.mv.settings.timeout_source;
        let waited = self
            .env
            .waiter
            .wait_server(&id, WaitKind::Stop, timeout, &self.stop, |s| {
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
                    self.source_id,
                    step,
                    "could not check that the source is deleted",
                    &e,
                )),
            },
        }
    }
}
