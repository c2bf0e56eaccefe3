//! A server as Nova keeps it, and its states.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::sim::model::FlavorRec;

/// Nova's vm_state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    Building,
    Active,
    Stopped,
    Paused,
    Suspended,
    Shelved,
    ShelvedOffloaded,
    /// A cold migration waiting for confirmResize or revertResize.
    Resized,
    Error,
    Deleted,
}

impl VmState {
    pub fn as_str(self) -> &'static str {
        match self {
            VmState::Building => "building",
            VmState::Active => "active",
            VmState::Stopped => "stopped",
            VmState::Paused => "paused",
            VmState::Suspended => "suspended",
            VmState::Shelved => "shelved",
            VmState::ShelvedOffloaded => "shelved_offloaded",
            VmState::Resized => "resized",
            VmState::Error => "error",
            VmState::Deleted => "deleted",
        }
    }

    /// The API status for this vm_state when no task changes it (see
    /// [`Server::status`] for the ones that do).
    pub fn status(self) -> &'static str {
        match self {
            VmState::Building => "BUILD",
            VmState::Active => "ACTIVE",
            VmState::Stopped => "SHUTOFF",
            VmState::Paused => "PAUSED",
            VmState::Suspended => "SUSPENDED",
            VmState::Shelved => "SHELVED",
            VmState::ShelvedOffloaded => "SHELVED_OFFLOADED",
            VmState::Resized => "VERIFY_RESIZE",
            VmState::Error => "ERROR",
            VmState::Deleted => "DELETED",
        }
    }

    pub fn from_status(status: &str) -> Option<VmState> {
        Some(match status.to_ascii_uppercase().as_str() {
            "BUILD" => VmState::Building,
            "ACTIVE" => VmState::Active,
            "SHUTOFF" => VmState::Stopped,
            "PAUSED" => VmState::Paused,
            "SUSPENDED" => VmState::Suspended,
            "SHELVED" => VmState::Shelved,
            "SHELVED_OFFLOADED" => VmState::ShelvedOffloaded,
            "ERROR" => VmState::Error,
            "DELETED" => VmState::Deleted,
            _ => return None,
        })
    }

    /// Nova's power_state (1 running, 3 paused, 4 shutdown, 7 suspended, 0 none).
    pub fn power_state(self) -> u8 {
        match self {
            VmState::Active => 1,
            VmState::Paused => 3,
            VmState::Stopped | VmState::Shelved => 4,
            VmState::Suspended => 7,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub code: u16,
    pub message: String,
    pub created: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct ServerVolume {
    pub volume_id: String,
    pub device: String,
    pub attachment_id: String,
    pub bdm_uuid: String,
    pub delete_on_termination: bool,
}

/// What a server asked for at boot, kept until its ports exist.
#[derive(Debug, Clone)]
pub enum NetRequest {
    Network(usize, Option<String>),
    Port(String),
}

#[derive(Debug, Clone)]
pub struct Server {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    /// The AZ asked for at boot (or set by unshelve/PUT); `pinned_availability_zone`.
    pub requested_az: Option<String>,
    pub host: Option<usize>,
    pub flavor: FlavorRec,
    pub image_id: Option<String>,
    pub image_properties: BTreeMap<String, String>,
    pub vm_state: VmState,
    pub task_state: Option<&'static str>,
    pub power_state: u8,
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
    pub launched_at: Option<OffsetDateTime>,
    pub terminated_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    pub metadata: BTreeMap<String, String>,
    pub key_name: Option<String>,
    pub user_data: Option<String>,
    pub config_drive: bool,
    pub security_groups: Vec<String>,
    pub fault: Option<Fault>,
    pub locked: bool,
    pub locked_reason: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub hostname: String,
    pub instance_name: String,
    pub reservation_id: String,
    pub scheduler_hints: BTreeMap<String, serde_json::Value>,
    pub server_group: Option<usize>,
    pub volumes: Vec<ServerVolume>,
    pub net_requests: Vec<NetRequest>,
    pub access_ipv4: String,
    pub access_ipv6: String,
    pub disk_config: &'static str,
    /// Bumped whenever pending events of this server must be ignored.
    pub generation: u64,
    /// Snapshot (or shelve image) being uploaded.
    pub pending_image: Option<usize>,
    /// The pending snapshot will end `killed`.
    pub pending_image_fails: bool,
    /// The shelve image, deleted on unshelve.
    pub shelve_image: Option<usize>,
    /// The migration moving it, from the request until it is over
    /// (confirmed, reverted, completed, cancelled or failed).
    pub migration: Option<usize>,
    /// The host an admin asked `unshelve` for (2.91).
    pub unshelve_host: Option<usize>,
    /// When an API action last set `task_state` (not a step of the task):
    /// requests arriving within `races.task_state_window` of it race it.
    pub task_set_at: Option<OffsetDateTime>,
}

impl Server {
    /// Nova's `status_from_state`: the vm_state's status, except for the
    /// task states that have their own (resize and live migration).
    pub fn status(&self) -> &'static str {
        if self.deleted_at.is_some() {
            return "DELETED";
        }
        match (self.vm_state, self.task_state) {
            (VmState::Active | VmState::Paused, Some("migrating")) => "MIGRATING",
            (
                VmState::Active | VmState::Stopped,
                Some("resize_prep" | "resize_migrating" | "resize_migrated" | "resize_finish"),
            ) => "RESIZE",
            (VmState::Resized, Some("resize_reverting")) => "REVERT_RESIZE",
            (state, _) => state.status(),
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// Nova's hostname sanitisation, enough for display names.
pub fn hostname_of(name: &str) -> String {
    let mut h: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c.to_ascii_lowercase()
            } else if c == '_' || c == ' ' {
                '-'
            } else {
                '\0'
            }
        })
        .filter(|c| *c != '\0')
        .collect();
    h = h.trim_matches(|c| c == '-' || c == '.').to_owned();
    h.truncate(63);
    if h.is_empty() { "server".to_owned() } else { h }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_sanitised() {
        assert_eq!(hostname_of("admin_vm01"), "admin-vm01");
        assert_eq!(hostname_of("Web Server!"), "web-server");
        assert_eq!(hostname_of("___"), "server");
    }
}
