//! The snapshot of a snapshot move: taken (or one already there used),
//! waited on until `active`, and deleted once the replacement runs.

use super::{Steps, call_failed, wait_failed};
use crate::apply::step::StepResult;
use crate::plan::changeset::Step;
use crate::plan::inventory::Image;

impl Steps<'_> {
    pub(super) async fn snapshot(&mut self) -> StepResult {
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
                        self.source_id,
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
            Err(e) => call_failed(self.ctx, self.source_id, STEP, "createImage failed", &e),
        }
    }

    pub(super) async fn wait_image(&mut self) -> StepResult {
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
            .wait_image(&id, disk, timeout, &self.stop, |i| match i {
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
                        self.source_id,
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
    pub(super) async fn drop_orphan_snapshots(&mut self) {
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

    pub(super) fn forget_snapshot(&mut self, id: &str) {
        self.ctx.discarded.insert(id.to_string());
        self.ctx.snapshot_id = None;
        self.waiter().note_image_gone(id);
    }

    /// Delete every snapshot of this move (`keep`: except the one in use,
    /// which is kept when `keep_snapshot` is set).
    pub(super) async fn delete_snapshots(&mut self, keep: Option<String>) -> StepResult {
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
                    self.source_id,
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
}
