//! What a strategy keeps of the server and the downtime it costs, as shown
//! to the reviewer of a plan.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ServerSpec;
use crate::plan::file::Strategy;
use crate::plan::inventory::tags;

/// What a strategy keeps of the server (or changes), and the downtime it
/// costs, so a reviewer sees what the clients of the server will notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Effects {
    /// The moved server has the UUID it had (in-place strategies); a
    /// snapshot move makes a new server with a new UUID.
    pub keeps_uuid: bool,
    /// The server keeps its Neutron ports, so its fixed IPs and the floating
    /// IPs bound to them stay; a snapshot move gets new ports and new IPs.
    pub keeps_ips: bool,
    /// The ports keep their MAC addresses (same ports).
    pub keeps_mac: bool,
    /// cloud-init sees a new instance and runs its first-boot modules again
    /// (snapshot only: the replacement is a new server).
    pub reruns_first_boot: bool,
    pub downtime: Downtime,
}

/// How long a moved server does not serve, as a class; apply measures the
/// real figure per server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Downtime {
    /// Live migration: the server keeps running; only the switch to the new
    /// host pauses it (usually well under a second).
    None,
    /// From the shelve until the server is unshelved and booted in the
    /// target AZ.
    ShelveUnshelve,
    /// The cold migration: the server is stopped, its disk copied to the
    /// new host, and it is started there.
    ColdMigration,
    /// From the stop of the source (or the cut-over, when it is not
    /// stopped) until the replacement booted from the snapshot is ACTIVE.
    SnapshotBoot,
    /// None: the server is SHUTOFF and ends SHUTOFF (shelve, cold), so it
    /// serves nothing during the move.
    NotRunning,
}

impl Effects {
    /// The effects of moving a server with `strategy` (`auto` is resolved
    /// before a move is planned; it is given the snapshot's, the most
    /// conservative).
    pub fn of(strategy: Strategy) -> Effects {
        let in_place = |downtime| Effects {
            keeps_uuid: true,
            keeps_ips: true,
            keeps_mac: true,
            reruns_first_boot: false,
            downtime,
        };
        match strategy {
            Strategy::Live => in_place(Downtime::None),
            Strategy::Cold => in_place(Downtime::ColdMigration),
            Strategy::Shelve => in_place(Downtime::ShelveUnshelve),
            Strategy::Snapshot | Strategy::Auto => Effects {
                keeps_uuid: false,
                keeps_ips: false,
                keeps_mac: false,
                reruns_first_boot: true,
                downtime: Downtime::SnapshotBoot,
            },
        }
    }
}

impl Effects {
    /// The effects of moving `source` with `strategy`: a stopped server
    /// moved in place stays stopped, so it loses no service.
    pub fn of_move(strategy: Strategy, source: Option<&ServerSpec>) -> Effects {
        let mut e = Effects::of(strategy);
        let stopped = source
            .is_some_and(|s| s.status == "SHUTOFF" || s.metadata.contains_key(tags::WAS_SHUTOFF));
        if e.keeps_uuid && stopped {
            e.downtime = Downtime::NotRunning;
        }
        e
    }
}

impl Default for Effects {
    /// The snapshot's: a saved plan without `effects` was made when
    /// snapshot was the only strategy.
    fn default() -> Self {
        Effects::of(Strategy::Snapshot)
    }
}

impl Downtime {
    /// The class in words, for renderings.
    pub fn words(self) -> &'static str {
        match self {
            Downtime::None => "none (live migration; a pause at the switch)",
            Downtime::ShelveUnshelve => "shelve → unshelve and boot in the target AZ",
            Downtime::ColdMigration => "cold migration (stopped while the disk is copied)",
            Downtime::SnapshotBoot => "snapshot upload + boot of the replacement",
            Downtime::NotRunning => "none (the server is SHUTOFF and stays SHUTOFF)",
        }
    }
}
