//! What cold and live migrations share: choosing the destination host,
//! giving it back when the migration did not land, and the unpin they
//! need first.

use super::InPlace;
use crate::apply::step::StepResult;
use crate::plan::inventory::Server;

/// What a migration wait saw.
pub(in crate::apply::strategy) enum Landing {
    /// On a host of the target AZ (VERIFY_RESIZE for cold, ACTIVE for live).
    There(Server),
    /// At rest where it was: Nova could not schedule or run the migration.
    Stayed(Server),
    Failed(String),
}

pub(in crate::apply::strategy) fn resizing(s: &Server) -> bool {
    s.task_state
        .as_deref()
        .is_some_and(|t| t.starts_with("resize_"))
}

impl InPlace<'_> {
    /// Choose a destination host in the target AZ for this server.
    pub(in crate::apply::strategy) async fn destination(
        &mut self,
        s: &Server,
    ) -> Result<String, StepResult> {
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
    pub(in crate::apply::strategy) async fn migration_missed(&mut self, host: Option<String>) {
        if let Some(h) = host {
            self.ctx.failed_hosts.push(h);
        }
        self.env.host_book.release(&self.mv.key).await;
    }

    /// The server's pin must be off before it can be scheduled in another
    /// AZ; the Unpin step did that, but a pin set meanwhile is taken off too.
    pub(in crate::apply::strategy) async fn ensure_unpinned(
        &mut self,
        s: &Server,
    ) -> Result<(), StepResult> {
        if s.pinned_availability_zone.is_some() {
            self.set_pin(s, None).await?;
        }
        Ok(())
    }

    /// A migration request to a host was refused: the host is free again;
    /// a 409 means the server changed under us, so it is read again for
    /// another try, anything else fails the step.
    pub(in crate::apply::strategy) async fn after_refusal(
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
}
