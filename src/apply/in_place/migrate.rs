//! The cold and live strategies (admin): the server is unpinned (2.104),
//! migrated to a host of the target AZ that azmove chooses (`migrate`
//! with `host`, 2.56, then `confirmResize`; or `os-migrateLive` with
//! `host` and `block_migration: auto`), and pinned to the target AZ again.
//!
//! A migration that Nova could not schedule leaves the server where it
//! was: it is tried again on another host (up to `retries`). A live
//! migration still running at its timeout is aborted (`DELETE
//! /servers/{id}/migrations/{migration_id}`, 2.24) and the server stays on
//! its source.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{InPlace, StepOutcome, Timeouts, at_rest, place};
use crate::apply::steps::StepResult;
use crate::apply::waiter::{WaitError, WaitKind};
use crate::plan::changeset::Step;
use crate::plan::inventory::Server;

/// Migration statuses in which a live migration may be aborted (`queued`
/// and `preparing` from 2.65; Nova answers 400 for them before).
const ABORTABLE: [&str; 3] = ["running", "preparing", "queued"];

/// How often an abort answered 400 (the migration not yet abortable) is
/// tried again, a poll interval apart.
const ABORT_ATTEMPTS: u32 = 5;

/// What a migration wait saw.
enum Landing {
    /// On a host of the target AZ (VERIFY_RESIZE for cold, ACTIVE for live).
    There(Server),
    /// At rest where it was: Nova could not schedule or run the migration.
    Stayed(Server),
    Failed(String),
}

fn resizing(s: &Server) -> bool {
    s.task_state
        .as_deref()
        .is_some_and(|t| t.starts_with("resize_"))
}

impl InPlace<'_> {
    /// Choose a destination host in the target AZ for this server.
    async fn destination(&mut self, s: &Server) -> Result<String, StepResult> {
        let az = self.target().to_string();
        let Some(hosts) = self.env.zone_hosts.get(&az) else {
            return Err(self.fail(
                format!(
                    "the compute hosts of {az} are not visible (os-availability-zone/detail needs the admin role), so no destination can be chosen; the {} strategy needs an admin",
                    self.strategy()
                ),
                true,
            ));
        };
        let mut exclude = self.ctx.failed_hosts.clone();
        exclude.extend(s.host.clone());
        let picked = self
            .env
            .host_book
            .pick(
                self.cloud(),
                &az,
                hosts,
                s.flavor.ram_mb,
                &exclude,
                &self.mv.key,
            )
            .await;
        match picked {
            Ok(h) => Ok(h),
            Err(why) if self.ctx.failed_hosts.is_empty() => Err(self.fail(why, true)),
            Err(why) => Err(self.fail(
                format!(
                    "the migration failed on {} (Nova left the server where it was), and {why}",
                    self.ctx.failed_hosts.join(", ")
                ),
                true,
            )),
        }
    }

    /// A migration did not take the server to `host`: never choose that
    /// host again for it, and let go of what was claimed there.
    async fn migration_missed(&mut self, host: Option<String>) {
        if let Some(h) = host {
            self.ctx.failed_hosts.push(h);
        }
        self.env.host_book.release(&self.mv.key).await;
    }

    /// The server's pin must be off before it can be scheduled in another
    /// AZ; the Unpin step did that, but a pin set meanwhile is taken off too.
    async fn ensure_unpinned(&mut self, s: &Server) -> Result<(), StepResult> {
        if s.pinned_availability_zone.is_some() {
            self.set_pin(s, None).await?;
        }
        Ok(())
    }

    pub(super) async fn cold_migrate(&mut self) -> StepOutcome {
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

    /// A migration request to a host was refused: the host is free again;
    /// a 409 means the server changed under us, so it is read again for
    /// another try, anything else fails the step.
    async fn after_refusal(
        &mut self,
        e: &crate::openstack::Error,
        what: &str,
    ) -> Result<Server, StepResult> {
        self.env.host_book.release(&self.mv.key).await;
        if e.is_conflict() {
            self.reread().await
        } else {
            Err(self.call_fail(what, e, true))
        }
    }

    /// VERIFY_RESIZE reached: on a host of the target AZ, or undone.
    fn migrated(&mut self, s: Server) -> StepOutcome {
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
    async fn wait_cold(&mut self, host: Option<String>) -> StepOutcome {
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

    pub(super) async fn confirm(&mut self) -> StepOutcome {
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

    async fn wait_confirmed(&mut self) -> StepOutcome {
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

    pub(super) async fn live_migrate(&mut self) -> StepOutcome {
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
    async fn wait_live(&mut self, host: Option<String>, accepted: Instant) -> StepOutcome {
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
                self.ctx.downtime = Some(crate::apply::report::Downtime {
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
    async fn abort_live(&mut self, host: Option<String>, timed_out: WaitError) -> StepResult {
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
