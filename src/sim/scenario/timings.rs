//! How long the cloud takes for each operation, how requests race, and
//! how durations are written.

use std::time::Duration;

use serde::de::value::Error as ValueError;
use serde::de::{Error as _, IntoDeserializer};
use serde::{Deserialize, Deserializer};

/// How long the cloud takes for each operation, in cloud time (divided by
/// `time_scale` to get wall time).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timings {
    #[serde(default, deserialize_with = "de_duration")]
    pub api_latency: Duration,
    #[serde(default = "d_boot", deserialize_with = "de_duration")]
    pub boot: Duration,
    #[serde(default = "d_stop", deserialize_with = "de_duration")]
    pub stop: Duration,
    #[serde(default = "d_stop", deserialize_with = "de_duration")]
    pub start: Duration,
    #[serde(default = "d_delete", deserialize_with = "de_duration")]
    pub delete: Duration,
    /// Fixed part of a snapshot (quiesce, image_pending_upload), before the upload.
    #[serde(default = "d_snapshot_overhead", deserialize_with = "de_duration")]
    pub snapshot_overhead: Duration,
    /// Upload speed of snapshots: a flavor with a 10 GB disk takes 10240/throughput s.
    #[serde(default = "d_throughput")]
    pub snapshot_throughput_mb_s: f64,
    #[serde(default = "d_stop", deserialize_with = "de_duration")]
    pub shelve_offload: Duration,
    #[serde(default = "d_boot", deserialize_with = "de_duration")]
    pub unshelve: Duration,
    /// Seconds a deleted server stays visible as DELETED to `changes-since`.
    #[serde(default = "d_tombstone", deserialize_with = "de_duration")]
    pub deleted_visible: Duration,
    /// Fixed part of a cold migration: scheduling (half) and finishing on
    /// the destination (half), around the disk copy.
    #[serde(default = "d_migrate_overhead", deserialize_with = "de_duration")]
    pub migrate_overhead: Duration,
    /// Disk copy speed of cold migrations (root and ephemeral disks).
    #[serde(default = "d_migrate_throughput")]
    pub migrate_throughput_mb_s: f64,
    #[serde(default = "d_delete", deserialize_with = "de_duration")]
    pub confirm_resize: Duration,
    #[serde(default = "d_stop", deserialize_with = "de_duration")]
    pub revert_resize: Duration,
    /// Fixed part of a live migration: pre-checks and scheduling (half),
    /// preparing the destination and switching over (a quarter each);
    /// an abort takes a quarter too.
    #[serde(default = "d_stop", deserialize_with = "de_duration")]
    pub live_migration_overhead: Duration,
    /// Memory copy speed of live migrations (the flavor's RAM).
    #[serde(default = "d_live_throughput")]
    pub live_migration_throughput_mb_s: f64,
}

fn d_boot() -> Duration {
    Duration::from_secs(5)
}

fn d_stop() -> Duration {
    Duration::from_secs(2)
}

fn d_delete() -> Duration {
    Duration::from_secs(1)
}

fn d_snapshot_overhead() -> Duration {
    Duration::from_secs(2)
}

fn d_throughput() -> f64 {
    100.0
}

fn d_tombstone() -> Duration {
    Duration::from_secs(3600)
}

fn d_migrate_overhead() -> Duration {
    Duration::from_secs(4)
}

fn d_migrate_throughput() -> f64 {
    200.0
}

fn d_live_throughput() -> f64 {
    1000.0
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            api_latency: Duration::ZERO,
            boot: d_boot(),
            stop: d_stop(),
            start: d_stop(),
            delete: d_delete(),
            snapshot_overhead: d_snapshot_overhead(),
            snapshot_throughput_mb_s: d_throughput(),
            shelve_offload: d_stop(),
            unshelve: d_boot(),
            deleted_visible: d_tombstone(),
            migrate_overhead: d_migrate_overhead(),
            migrate_throughput_mb_s: d_migrate_throughput(),
            confirm_resize: d_delete(),
            revert_resize: d_stop(),
            live_migration_overhead: d_stop(),
            live_migration_throughput_mb_s: d_live_throughput(),
        }
    }
}

/// Races between requests that overlap in time. The simulator handles one
/// request at a time, so without this two clients could never hit Nova's
/// compare-and-swap on task_state the way they do on a real cloud.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Races {
    /// Cloud time (divided by `time_scale`) Nova's API takes between reading
    /// a server and saving its new task_state. An action arriving that soon
    /// after another action set the server's task_state has read it as
    /// `None` and loses the compare-and-swap (`UnexpectedTaskStateError`)
    /// instead of getting the usual 409; the winner's answer is held back
    /// as long, so one client's requests in sequence never race each other.
    /// 0 turns races off.
    #[serde(default = "d_task_state_window", deserialize_with = "de_duration")]
    pub task_state_window: Duration,
}

fn d_task_state_window() -> Duration {
    Duration::from_millis(100)
}

impl Default for Races {
    fn default() -> Self {
        Races {
            task_state_window: d_task_state_window(),
        }
    }
}

/// A duration as scenarios write it: a number of seconds, or text such as
/// `60s`, `200ms` or `1h 30m` (read by `humantime_serde`).
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a duration such as \"60s\", \"200ms\" or a number of seconds"
)]
enum Written {
    Seconds(f64),
    Text(String),
}

pub(super) fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match Written::deserialize(d)? {
        Written::Seconds(s) => Duration::try_from_secs_f64(s)
            .map_err(|_| D::Error::custom(format!("invalid duration {s} (seconds)"))),
        Written::Text(t) => humantime_serde::deserialize(t.trim().into_deserializer())
            .map_err(|e: ValueError| D::Error::custom(e)),
    }
}

pub(super) fn de_opt_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}
