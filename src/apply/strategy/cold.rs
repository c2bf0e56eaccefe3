//! The cold strategy (admin): the server is unpinned (2.104), migrated to
//! a host of the target AZ that azmove chooses (`migrate` with `host`,
//! 2.56, then `confirmResize`), and pinned to the target AZ again.
//!
//! A migration that Nova could not schedule leaves the server where it
//! was: it is tried again on another host (up to `retries`).

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::in_place::{
    InPlace, InPlaceStrategy, Landing, StepOutcome, Timeouts, at_rest, place, resizing,
};
use crate::apply::step::StepResult;
use crate::apply::waiter::WaitKind;
use crate::plan::changeset::Step;
use crate::plan::inventory::Server;

/// Migrate the stopped (or running) server to a chosen host of the target AZ,
/// then confirm.
pub struct Cold;

impl InPlaceStrategy for Cold {
    const NAME: &'static str = "cold";

    const STEPS: &'static [Step] = &[
        Step::MarkMoving,
        Step::Unpin,
        Step::ColdMigrate,
        Step::ConfirmMigration,
        Step::Verify,
        Step::Repin,
        Step::Finish,
    ];

    fn own_step<'m>(m: &'m mut InPlace<'_>, step: Step) -> Option<BoxFuture<'m, StepOutcome>> {
        match step {
            Step::ColdMigrate => Some(Box::pin(m.cold_migrate())),
            Step::ConfirmMigration => Some(Box::pin(m.confirm())),
            _ => None,
        }
    }
}

impl InPlace<'_> {
    pub(in crate::apply::strategy) async fn cold_migrate(&mut self) -> StepOutcome {
        let mut s = self.read().await?;
        for _ in 0..3 {
            if s.status == "VERIFY_RESIZE" && s.task_state.is_none() {
                return self.migrated(s);
            }
            if resizing(&s) {
                return self.wait_cold(None).await;
            }
            if at_rest(&s) && self.in_target(&s) {
                return Ok(StepResult::done_with(
                    None,
                    format!("already {}", place(&s)),
                ));
            }
            if s.task_state.is_some() {
                s = self.idle(Timeouts::short(self.mv)).await?;
                continue;
            }
            if !at_rest(&s) {
                return Err(self.fail(
                    format!("a {} server cannot be cold-migrated", s.status),
                    true,
                ));
            }
            self.ensure_unpinned(&s).await?;
            let host = self.destination(&s).await?;
            match self.cloud().migrate(self.id, &host).await {
                Ok(()) => {
                    if s.status == "ACTIVE" {
                        self.ctx.down("migrate");
                    }
                    self.note_task(&s, "resize_prep");
                    return self.wait_cold(Some(host)).await;
                }
                Err(e) => {
                    s = self
                        .after_refusal(&e, &format!("migrate to {host} was refused"))
                        .await?
                }
            }
        }
        Err(self.fail(
            format!("the server kept changing state: {}", place(&s)),
            true,
        ))
    }

    /// VERIFY_RESIZE reached: on a host of the target AZ, or undone.
    pub(in crate::apply::strategy) fn migrated(&mut self, s: Server) -> StepOutcome {
        if !self.in_target(&s) {
            return Err(self.fail(
                format!(
                    "the migration ended outside {}: {}",
                    self.target(),
                    place(&s)
                ),
                true,
            ));
        }
        // The server runs on the destination from VERIFY_RESIZE on; the
        // confirm only lets the source host go.
        self.ctx.up();
        Ok(StepResult::done_with(None, place(&s)))
    }

    /// Wait for the cold migration to reach VERIFY_RESIZE.
    pub(in crate::apply::strategy) async fn wait_cold(
        &mut self,
        host: Option<String>,
    ) -> StepOutcome {
        let accepted = Instant::now();
        let got = self
            .wait(
                WaitKind::Migrate,
                Timeouts::migration(self.mv),
                accepted,
                |s, fresh| match s {
                    None => Some(Landing::Failed("the server no longer exists".into())),
                    Some(s) if s.status == "VERIFY_RESIZE" && s.task_state.is_none() => {
                        Some(Landing::There(s.clone()))
                    }
                    Some(s) if s.status == "ERROR" => Some(Landing::Failed(format!(
                        "the server went into ERROR while migrating{}",
                        s.fault
                            .as_deref()
                            .map(|f| format!(": {f}"))
                            .unwrap_or_default()
                    ))),
                    Some(s) if fresh && at_rest(s) => Some(Landing::Stayed(s.clone())),
                    Some(_) => None,
                },
            )
            .await;
        match got {
            Ok(Landing::There(s)) => self.migrated(s),
            Ok(Landing::Stayed(s)) => {
                let to = host.clone().unwrap_or_else(|| "the chosen host".into());
                self.migration_missed(host).await;
                Ok(StepResult::redo(
                    Step::ColdMigrate,
                    format!(
                        "the migration to {to} failed: Nova left the server {} (see `openstack server migration list --server {}`)",
                        place(&s),
                        self.id
                    ),
                ))
            }
            Ok(Landing::Failed(why)) => Err(self.fail(why, true)),
            Err(e) => Err(self.wait_fail("the migration did not reach VERIFY_RESIZE", e, true)),
        }
    }

    pub(in crate::apply::strategy) async fn confirm(&mut self) -> StepOutcome {
        let mut s = self.read().await?;
        for _ in 0..3 {
            if at_rest(&s) && s.status != "VERIFY_RESIZE" {
                return if self.in_target(&s) {
                    Ok(StepResult::done_with(
                        None,
                        format!("already confirmed: {}", place(&s)),
                    ))
                } else {
                    Ok(StepResult::redo(
                        Step::ColdMigrate,
                        format!("the migration was undone: {}", place(&s)),
                    ))
                };
            }
            if resizing(&s) {
                // Resumed while the migration was still copying.
                self.wait_cold(None).await?;
                s = self.reread().await?;
                continue;
            }
            if s.status != "VERIFY_RESIZE" || s.task_state.is_some() {
                s = self.idle(Timeouts::short(self.mv)).await?;
                continue;
            }
            match self.cloud().confirm_resize(self.id).await {
                Ok(()) => return self.wait_confirmed().await,
                // 400 "has not been resized": a confirm is already running.
                Err(e) if e.is_conflict() || e.status() == Some(400) => {
                    return self.wait_confirmed().await;
                }
                Err(e) => return Err(self.call_fail("confirmResize was refused", &e, true)),
            }
        }
        Err(self.fail(
            format!("the server kept changing state: {}", place(&s)),
            true,
        ))
    }

    pub(in crate::apply::strategy) async fn wait_confirmed(&mut self) -> StepOutcome {
        let accepted = Instant::now();
        let got = self
            .wait(
                WaitKind::Settle,
                Timeouts::short(self.mv),
                accepted,
                |s, _| match s {
                    None => Some(Err("the server no longer exists".to_string())),
                    Some(s) if at_rest(s) && s.status != "VERIFY_RESIZE" => Some(Ok(s.clone())),
                    Some(s) if s.status == "ERROR" => Some(Err(format!(
                        "the server went into ERROR while confirming{}",
                        s.fault
                            .as_deref()
                            .map(|f| format!(": {f}"))
                            .unwrap_or_default()
                    ))),
                    Some(_) => None,
                },
            )
            .await;
        match got {
            Ok(Ok(s)) => Ok(StepResult::done_with(
                None,
                format!("confirmed: {}", place(&s)),
            )),
            Ok(Err(why)) => Err(self.fail(why, true)),
            Err(e) => Err(self.wait_fail("the confirmation did not end", e, true)),
        }
    }
}
