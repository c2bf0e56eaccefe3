//! Migration records (`/os-migrations`).

use time::OffsetDateTime;

use crate::sim::model::VmState;

/// `migration_type` of a migration record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationKind {
    /// Cold migration (`migrate`): ends in VERIFY_RESIZE.
    Cold,
    Live,
}

impl MigrationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationKind::Cold => "migration",
            MigrationKind::Live => "live-migration",
        }
    }
}

/// One of Nova's migration records, and the host claims it holds.
#[derive(Debug, Clone)]
pub struct Migration {
    pub id: u64,
    pub uuid: String,
    pub server: usize,
    pub instance_uuid: String,
    pub kind: MigrationKind,
    /// accepted, pre-migrating, migrating, post-migrating, finished,
    /// confirming, confirmed, reverting, reverted, preparing, running,
    /// completed, cancelled, error.
    pub status: &'static str,
    pub source: usize,
    /// The destination, once chosen (or the one asked for).
    pub dest: Option<usize>,
    /// The host the caller asked for.
    pub requested: Option<usize>,
    /// Live migration forced to `requested` (2.30–2.67): no scheduler.
    pub forced: bool,
    /// Nova's flavor database id (old and new are the same for a migration).
    pub flavor_db_id: u64,
    pub user_id: String,
    pub project_id: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// vm_state to return to after confirm or revert (active or stopped).
    pub old_vm_state: VmState,
    /// The migration holds the flavor's resources on the source host.
    pub source_claimed: bool,
    /// The migration holds the flavor's resources on the destination host.
    pub dest_claimed: bool,
    pub memory_total: u64,
    pub disk_total: u64,
    /// When the copy started and when it ends (`None`: it never does).
    pub copy_started: Option<OffsetDateTime>,
    pub copy_ends: Option<OffsetDateTime>,
    /// An injected `live_migration_hang`: the copy never converges.
    pub hangs: bool,
}

impl Migration {
    /// Nova's list of statuses of a live migration in progress.
    pub fn in_progress(&self) -> bool {
        matches!(
            self.status,
            "queued" | "preparing" | "running" | "post-migrating"
        )
    }

    /// Bytes copied so far, out of `total`, at `now`.
    pub fn processed(&self, total: u64, now: OffsetDateTime) -> u64 {
        let Some(start) = self.copy_started else {
            return 0;
        };
        match self.status {
            "completed" | "finished" | "confirming" | "confirmed" | "post-migrating" => {
                return total;
            }
            _ => {}
        }
        let Some(end) = self.copy_ends else {
            // A copy that never converges: dirty pages keep ~5 % behind.
            return total - total / 20;
        };
        let span = (end - start).as_seconds_f64();
        if span <= 0.0 {
            return total;
        }
        let done = ((now - start).as_seconds_f64() / span).clamp(0.0, 1.0);
        (total as f64 * done) as u64
    }
}
