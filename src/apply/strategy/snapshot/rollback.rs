//! Undoing a failed snapshot move: its replacements and snapshots are
//! deleted, and the source is started again if azmove stopped it.

use super::Steps;
use crate::apply::step::StepResult;
use crate::apply::waiter::WaitKind;
use crate::plan::changeset::Step;
use crate::plan::file::SourceAfter;
use crate::plan::inventory::{Server, tags};

impl Steps<'_> {
    pub(super) async fn rollback(&mut self) -> StepResult {
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

    pub(super) async fn start_again(&mut self, src: &Server) -> Result<(), String> {
        let id = src.id.clone();
        let timeout = self.mv.settings.timeout_source;
        if src.task_state.is_some() {
            let idle = self
                .env
                .waiter
                .wait_server(&id, WaitKind::Stop, timeout, &self.stop, |s| {
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
        let never = self.env.stop_now.clone();
        let waited = self
            .env
            .waiter
            .wait_server(&id, WaitKind::Start, timeout, &never, |s| match s {
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
