//! The live strategy (admin): the server is unpinned (2.104), migrated
//! while it runs to a host of the target AZ that azmove chooses
//! (`os-migrateLive` with `host` and `block_migration: auto`), and pinned
//! to the target AZ again.
//!
//! A migration that Nova could not schedule leaves the server where it
//! was: it is tried again on another host (up to `retries`). A live
//! migration still running at its timeout is aborted (`DELETE
//! /servers/{id}/migrations/{migration_id}`, 2.24) and the server stays on
//! its source.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::in_place::{InPlace, InPlaceStrategy, Landing, StepOutcome, Timeouts, at_rest, place};
use crate::apply::step::StepResult;
use crate::apply::waiter::{WaitError, WaitKind};
use crate::plan::changeset::Step;

/// Migrate the running server to a chosen host of the target AZ.
pub struct Live;

impl InPlaceStrategy for Live {
    const NAME: &'static str = "live";

    const STEPS: &'static [Step] = &[
        Step::MarkMoving,
        Step::Unpin,
        Step::LiveMigrate,
        Step::Verify,
        Step::Repin,
        Step::Finish,
    ];

    fn own_step<'m>(m: &'m mut InPlace<'_>, step: Step) -> Option<BoxFuture<'m, StepOutcome>> {
        match step {
            Step::LiveMigrate => Some(Box::pin(m.live_migrate())),
            _ => None,
        }
    }
}

/// Migration statuses in which a live migration may be aborted (`queued`
/// and `preparing` from 2.65; Nova answers 400 for them before).
const ABORTABLE: [&str; 3] = ["running", "preparing", "queued"];

/// How often an abort answered 400 (the migration not yet abortable) is
/// tried again, a poll interval apart.
const ABORT_ATTEMPTS: u32 = 5;

impl InPlace<'_> {
    pub(in crate::apply::strategy) async fn live_migrate(&mut self) -> StepOutcome {
        let mut s = self.read().await?;
        for _ in 0..3 {
            if s.task_state.as_deref() == Some("migrating") {
                // Resumed while a live migration runs: see it through.
                return self.wait_live(None, Instant::now()).await;
            }
            if at_rest(&s) && self.in_target(&s) {
                self.ctx.up();
                return Ok(StepResult::done_with(
                    None,
                    format!("already {}", place(&s)),
                ));
            }
            if s.task_state.is_some() {
                s = self.idle(Timeouts::short(self.mv)).await?;
                continue;
            }
            if s.status != "ACTIVE" {
                return Err(self.fail(
                    format!(
                        "a live migration needs an ACTIVE server; it is {}",
                        s.status
                    ),
                    true,
                ));
            }
            self.ensure_unpinned(&s).await?;
            let host = self.destination(&s).await?;
            match self.cloud().live_migrate(self.id, &host).await {
                Ok(()) => {
                    self.note_task(&s, "migrating");
                    return self.wait_live(Some(host), Instant::now()).await;
                }
                Err(e) => {
                    s = self
                        .after_refusal(&e, &format!("os-migrateLive to {host} was refused"))
                        .await?
                }
            }
        }
        Err(self.fail(
            format!("the server kept changing state: {}", place(&s)),
            true,
        ))
    }

    /// Wait for the live migration to end; abort it at the timeout.
    /// Downtime is what the polls saw: a live move switches over in well
    /// under a poll interval, so it is 0 unless the server was seen in a
    /// state other than ACTIVE or MIGRATING.
    pub(in crate::apply::strategy) async fn wait_live(
        &mut self,
        host: Option<String>,
        accepted: Instant,
    ) -> StepOutcome {
        let down: Arc<Mutex<Option<Instant>>> = Arc::default();
        let seen_down = down.clone();
        let got = self
            .wait(
                WaitKind::LiveMigrate,
                Timeouts::migration(self.mv),
                accepted,
                move |s, fresh| {
                    if let Some(s) = s
                        && !matches!(s.status.as_str(), "ACTIVE" | "MIGRATING")
                        && let Ok(mut d) = seen_down.lock()
                    {
                        d.get_or_insert_with(Instant::now);
                    }
                    match s {
                        None => Some(Landing::Failed("the server no longer exists".into())),
                        Some(s) if s.status == "ERROR" => Some(Landing::Failed(format!(
                            "the server went into ERROR while migrating{}",
                            s.fault
                                .as_deref()
                                .map(|f| format!(": {f}"))
                                .unwrap_or_default()
                        ))),
                        Some(s) if s.status == "ACTIVE" && s.task_state.is_none() && fresh => {
                            Some(Landing::There(s.clone()))
                        }
                        Some(_) => None,
                    }
                },
            )
            .await;
        let went_down = down.lock().ok().and_then(|d| *d);
        match got {
            Ok(Landing::There(s)) if self.in_target(&s) => {
                self.ctx.downtime = Some(crate::apply::step::Downtime {
                    duration: went_down.map_or(Duration::ZERO, |t| t.elapsed()),
                    from: "live switch-over",
                });
                Ok(StepResult::done_with(None, place(&s)))
            }
            Ok(Landing::There(s)) | Ok(Landing::Stayed(s)) => {
                let to = host.clone().unwrap_or_else(|| "the chosen host".into());
                self.migration_missed(host).await;
                Ok(StepResult::redo(
                    Step::LiveMigrate,
                    format!(
                        "the live migration to {to} failed: Nova left the server {} (see `openstack server migration list --server {}`)",
                        place(&s),
                        self.id
                    ),
                ))
            }
            Ok(Landing::Failed(why)) => Err(self.fail(why, true)),
            Err(WaitError::Interrupted) => Ok(StepResult::interrupted()),
            Err(e @ WaitError::Timeout(_)) => Err(self.abort_live(host, e).await),
        }
    }

    /// The live migration ran past its timeout: abort it and wait for the
    /// server to settle on its source. Always ends the step as failed;
    /// the rollback then pins the server where it is.
    pub(in crate::apply::strategy) async fn abort_live(
        &mut self,
        host: Option<String>,
        timed_out: WaitError,
    ) -> StepResult {
        let to = host.unwrap_or_else(|| "its destination".into());
        let why = format!(
            "the live migration to {to} did not finish: {timed_out} (`timeouts.snapshot` in the plan)"
        );
        let mut aborted = None;
        let mut last = String::new();
        for attempt in 0..ABORT_ATTEMPTS {
            if attempt > 0 {
                let pause = self
                    .env
                    .fresh_within
                    .clamp(Duration::from_millis(100), Duration::from_secs(5));
                tokio::time::sleep(pause).await;
            }
            let migrations = match self.cloud().server_migrations(self.id).await {
                Ok(m) => m,
                Err(e) => {
                    last = format!("could not list its migrations: {e}");
                    if let Some(id) = e.request_id() {
                        self.ctx.request_ids.push(id.to_string());
                    }
                    continue;
                }
            };
            let Some(m) = migrations
                .iter()
                .filter(|m| ABORTABLE.contains(&m.status.as_str()))
                .max_by_key(|m| m.id)
            else {
                last = "no migration in progress was listed".into();
                if self
                    .waiter()
                    .server(self.id)
                    .is_some_and(|s| s.task_state.is_none())
                {
                    break;
                }
                continue;
            };
            match self.cloud().abort_migration(self.id, m.id).await {
                Ok(()) => {
                    aborted = Some(m.id);
                    break;
                }
                Err(e) => {
                    last = format!("aborting migration {} failed: {e}", m.id);
                    if let Some(id) = e.request_id() {
                        self.ctx.request_ids.push(id.to_string());
                    }
                    if !matches!(e.status(), Some(400 | 409)) {
                        break;
                    }
                }
            }
        }
        self.env.host_book.release(&self.mv.key).await;
        let Some(mid) = aborted else {
            return self.fail(format!("{why}; {last}"), true);
        };
        let settled = self.until_no_task(Timeouts::undo(self.mv), true).await;
        match settled {
            Ok(Some(s)) => self.fail(
                format!("{why}; aborted migration {mid}: {}", place(&s)),
                true,
            ),
            Ok(None) => self.fail(
                format!("{why}; aborted migration {mid}; the server is gone"),
                false,
            ),
            Err(e) => self.fail(
                format!("{why}; aborted migration {mid}, but the server did not settle: {e}"),
                true,
            ),
        }
    }
}
