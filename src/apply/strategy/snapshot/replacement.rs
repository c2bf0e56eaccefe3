//! The replacement of a snapshot move: booted from the snapshot in the
//! target AZ, waited on until ACTIVE, and verified.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Steps, call_failed, wait_failed};
use crate::apply::cloud::BootRequest;
use crate::apply::hosts::same_host;
use crate::apply::step::StepResult;
use crate::apply::waiter::WaitKind;
use crate::plan::changeset::PlannedMove;
use crate::plan::changeset::Step;
use crate::plan::inventory::{Server, tags};
use std::collections::BTreeSet;

impl Steps<'_> {
    pub(super) async fn boot(&mut self) -> StepResult {
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
                        self.source_id,
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
            Err(e) => call_failed(
                self.ctx,
                self.source_id,
                STEP,
                "booting the replacement failed",
                &e,
            ),
        }
    }

    pub(super) async fn wait_active(&mut self) -> StepResult {
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
            .wait_server(&id, WaitKind::Boot, timeout, &self.stop, |s| match s {
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
                        self.source_id,
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
    pub(super) async fn current_replacement(
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

    pub(super) fn check(&self, r: &Server) -> Vec<String> {
        let source = self.waiter().server(self.source_id);
        let hosts = self.env.hosts_by_az.get(self.target()).map(Vec::as_slice);
        check_replacement(r, self.mv, source.as_ref(), hosts)
    }

    pub(super) async fn verify(&mut self) -> StepResult {
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
