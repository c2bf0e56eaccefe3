//! The plan file (v1) as Rust types.
//!
//! These types are the single source of truth for the plan format: the JSON
//! Schema in `schemas/plan.schema.json` is generated from them, the loader in
//! `parse.rs` fills them, and the planner reads them. They carry no I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The plan format version this build understands.
pub const PLAN_VERSION: u32 = 1;

/// A plan file: which servers move to which availability zone, how, and how fast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// Format version of this file. Only `1` exists.
    pub version: u32,
    /// Name of the `clouds.yaml` entry to use (like `--os-cloud`). When absent,
    /// `--os-cloud`, then `OS_CLOUD`, then the plain `OS_*` variables are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
    /// Region to act in, when the cloud has several (like `OS_REGION_NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Settings that apply to every move unless the move overrides them.
    #[serde(default)]
    pub defaults: Options,
    /// How much work may run at once, so the cloud is not overwhelmed.
    #[serde(default)]
    pub limits: Limits,
    /// The moves: each names one server or selects many, and a target AZ.
    pub moves: Vec<MoveEntry>,
}

/// How a server is moved.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Stop, snapshot (`createImage`), boot a new server from the snapshot in
    /// the target AZ. The new server has a new UUID, new ports and new IPs.
    Snapshot,
    /// Shelve, then unshelve into the target AZ (compute 2.77). Keeps the UUID
    /// and ports.
    Shelve,
    /// Admin: cold-migrate to a host of the target AZ (compute 2.56/2.104).
    Cold,
    /// Admin: live-migrate to a host of the target AZ (compute 2.104).
    Live,
    /// The best strategy the cloud, the caller's rights and the server allow.
    Auto,
}

impl Strategy {
    /// All names, in the order `auto` prefers them.
    pub const ALL: [Strategy; 5] = [
        Strategy::Live,
        Strategy::Cold,
        Strategy::Shelve,
        Strategy::Snapshot,
        Strategy::Auto,
    ];

    /// The order `auto` tries strategies in when the plan gives none: the
    /// one that keeps most of the server and stops it least comes first.
    pub const AUTO_ORDER: [Strategy; 4] = [
        Strategy::Live,
        Strategy::Cold,
        Strategy::Shelve,
        Strategy::Snapshot,
    ];

    /// Whether this build can execute the strategy (every one it knows;
    /// kept so that a strategy added later can be named before it runs).
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Strategy::Snapshot
                | Strategy::Shelve
                | Strategy::Cold
                | Strategy::Live
                | Strategy::Auto
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Snapshot => "snapshot",
            Strategy::Shelve => "shelve",
            Strategy::Cold => "cold",
            Strategy::Live => "live",
            Strategy::Auto => "auto",
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to the source server once its replacement is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum SourceAfter {
    /// Leave the source as it is (stopped, if azmove stopped it).
    #[default]
    Keep,
    /// Make sure the source is stopped (SHUTOFF).
    Stop,
    /// Delete the source. Only ever done after the replacement is verified.
    Delete,
}

impl SourceAfter {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceAfter::Keep => "keep",
            SourceAfter::Stop => "stop",
            SourceAfter::Delete => "delete",
        }
    }
}

/// Per-step time limits, written as human durations (`90s`, `30m`, `1h 30m`).
/// Every field is optional so that a move can override just one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Time for the source to reach SHUTOFF after `os-stop`. Default `5m`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "humantime_serde::serialize",
        deserialize_with = "duration::optional"
    )]
    #[schemars(with = "Option<String>")]
    pub stop: Option<Duration>,
    /// Time for the snapshot image to become `active`. Default `30m`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "humantime_serde::serialize",
        deserialize_with = "duration::optional"
    )]
    #[schemars(with = "Option<String>")]
    pub snapshot: Option<Duration>,
    /// Time for the new server to become ACTIVE. Default `15m`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "humantime_serde::serialize",
        deserialize_with = "duration::optional"
    )]
    #[schemars(with = "Option<String>")]
    pub boot: Option<Duration>,
    /// Time for the source to be handled per `source_after`. Default `10m`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "humantime_serde::serialize",
        deserialize_with = "duration::optional"
    )]
    #[schemars(with = "Option<String>")]
    pub source: Option<Duration>,
}

/// Settings of a move. In `defaults` they apply to every move; a move entry
/// may set any of them again for itself. Absent everywhere means the built-in
/// default named on each field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// How servers are moved. Default `auto`: per server, the first of
    /// `strategies` that the cloud, the caller's role and the server allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// The strategies `auto` may choose from, in the order it tries them,
    /// e.g. `[shelve, snapshot]`. Default `[live, cold, shelve, snapshot]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategies: Option<Vec<Strategy>>,
    /// Stop the server before the snapshot so its disk is consistent. Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_before_snapshot: Option<bool>,
    /// What to do with the source once the replacement is verified. Default `keep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_after: Option<SourceAfter>,
    /// Keep the snapshot image after a successful move. Default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_snapshot: Option<bool>,
    /// Name of the new server. `{name}`, `{id}`, `{short_id}`, `{from}` and
    /// `{to}` are replaced. Default `{name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Name of the snapshot image, same placeholders. Default `{name}-azmove-{short_id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_name: Option<String>,
    /// How often a failed snapshot or boot is retried before giving up. Default `2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Per-step time limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
}

/// Limits on how much runs at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Servers in flight at once, over the whole plan. Default `4`.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Servers in flight at once per AZ (counted both for the AZ they leave and
    /// the AZ they go to). AZs not listed are limited only by `concurrency`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_az: BTreeMap<String, u32>,
    /// API requests per second, over every call azmove makes. Default `10`.
    #[serde(default = "default_rps")]
    pub requests_per_second: f64,
}

fn default_concurrency() -> u32 {
    4
}
fn default_rps() -> f64 {
    10.0
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            concurrency: default_concurrency(),
            per_az: BTreeMap::new(),
            requests_per_second: default_rps(),
        }
    }
}

/// Selects many servers at once. Every given condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// Server name glob, e.g. `web-*` or `db-[0-9][0-9]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The AZ the server is in now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// The compute host the server runs on now (needs admin rights to see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Metadata key/values the server must carry, all of them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// One move: a server (or a selection of servers) and the AZ it goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveEntry {
    /// Stable key of this entry, used by `after`. Defaults to `server`.
    /// Required for `select` entries that others refer to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// One server, by name or UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Many servers, by conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<Selector>,
    /// Target availability zone.
    pub to: String,
    /// Entries (by key) that must have finished successfully before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// Overrides `defaults.strategy` for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Overrides `defaults.strategies` (the order `auto` tries) for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategies: Option<Vec<Strategy>>,
    /// Overrides `defaults.stop_before_snapshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_before_snapshot: Option<bool>,
    /// Overrides `defaults.source_after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_after: Option<SourceAfter>,
    /// Overrides `defaults.keep_snapshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_snapshot: Option<bool>,
    /// Overrides `defaults.server_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Overrides `defaults.snapshot_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_name: Option<String>,
    /// Overrides `defaults.retries`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Overrides individual `defaults.timeouts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
}

impl MoveEntry {
    /// The key other entries use in `after`: the explicit `id`, else the
    /// server name or UUID. `None` only for a `select` entry without `id`.
    pub fn key(&self) -> Option<&str> {
        self.id.as_deref().or(self.server.as_deref())
    }

    /// This entry's own settings, as an `Options` to lay over the defaults.
    pub fn overrides(&self) -> Options {
        Options {
            strategy: self.strategy,
            strategies: self.strategies.clone(),
            stop_before_snapshot: self.stop_before_snapshot,
            source_after: self.source_after,
            keep_snapshot: self.keep_snapshot,
            server_name: self.server_name.clone(),
            snapshot_name: self.snapshot_name.clone(),
            retries: self.retries,
            timeouts: self.timeouts.clone(),
        }
    }
}

/// Settings of one move with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Effective {
    pub strategy: Strategy,
    /// The order `auto` tries strategies in.
    #[serde(default = "auto_order")]
    pub strategies: Vec<Strategy>,
    pub stop_before_snapshot: bool,
    pub source_after: SourceAfter,
    pub keep_snapshot: bool,
    pub server_name: String,
    pub snapshot_name: String,
    pub retries: u32,
    #[serde(
        serialize_with = "humantime_serde::serialize",
        deserialize_with = "duration::required"
    )]
    #[schemars(with = "String")]
    pub timeout_stop: Duration,
    #[serde(
        serialize_with = "humantime_serde::serialize",
        deserialize_with = "duration::required"
    )]
    #[schemars(with = "String")]
    pub timeout_snapshot: Duration,
    #[serde(
        serialize_with = "humantime_serde::serialize",
        deserialize_with = "duration::required"
    )]
    #[schemars(with = "String")]
    pub timeout_boot: Duration,
    #[serde(
        serialize_with = "humantime_serde::serialize",
        deserialize_with = "duration::required"
    )]
    #[schemars(with = "String")]
    pub timeout_source: Duration,
}

fn auto_order() -> Vec<Strategy> {
    Strategy::AUTO_ORDER.to_vec()
}

pub const DEFAULT_SERVER_NAME: &str = "{name}";
pub const DEFAULT_SNAPSHOT_NAME: &str = "{name}-azmove-{short_id}";

impl Options {
    /// `self` with every field that `over` sets replaced by `over`'s value.
    pub fn overlay(&self, over: &Options) -> Options {
        let t = match (&self.timeouts, &over.timeouts) {
            (Some(a), Some(b)) => Some(Timeouts {
                stop: b.stop.or(a.stop),
                snapshot: b.snapshot.or(a.snapshot),
                boot: b.boot.or(a.boot),
                source: b.source.or(a.source),
            }),
            (a, b) => b.clone().or_else(|| a.clone()),
        };
        Options {
            strategy: over.strategy.or(self.strategy),
            strategies: over.strategies.clone().or_else(|| self.strategies.clone()),
            stop_before_snapshot: over.stop_before_snapshot.or(self.stop_before_snapshot),
            source_after: over.source_after.or(self.source_after),
            keep_snapshot: over.keep_snapshot.or(self.keep_snapshot),
            server_name: over
                .server_name
                .clone()
                .or_else(|| self.server_name.clone()),
            snapshot_name: over
                .snapshot_name
                .clone()
                .or_else(|| self.snapshot_name.clone()),
            retries: over.retries.or(self.retries),
            timeouts: t,
        }
    }

    /// Fill every unset field with the built-in default.
    pub fn resolve(&self) -> Effective {
        let t = self.timeouts.clone().unwrap_or_default();
        Effective {
            strategy: self.strategy.unwrap_or(Strategy::Auto),
            strategies: self.strategies.clone().unwrap_or_else(auto_order),
            stop_before_snapshot: self.stop_before_snapshot.unwrap_or(true),
            source_after: self.source_after.unwrap_or_default(),
            keep_snapshot: self.keep_snapshot.unwrap_or(false),
            server_name: self
                .server_name
                .clone()
                .unwrap_or_else(|| DEFAULT_SERVER_NAME.into()),
            snapshot_name: self
                .snapshot_name
                .clone()
                .unwrap_or_else(|| DEFAULT_SNAPSHOT_NAME.into()),
            retries: self.retries.unwrap_or(2),
            timeout_stop: t.stop.unwrap_or(Duration::from_secs(5 * 60)),
            timeout_snapshot: t.snapshot.unwrap_or(Duration::from_secs(30 * 60)),
            timeout_boot: t.boot.unwrap_or(Duration::from_secs(15 * 60)),
            timeout_source: t.source.unwrap_or(Duration::from_secs(10 * 60)),
        }
    }
}

impl PlanFile {
    /// The settings of entry `i` with defaults and overrides applied.
    pub fn effective(&self, entry: &MoveEntry) -> Effective {
        self.defaults.overlay(&entry.overrides()).resolve()
    }
}

/// Reading durations: `humantime_serde` writes them, but reading goes through
/// [`parse_duration`] so that a wrong unit is named in the message.
mod duration {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| super::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }

    pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// Parse a human duration such as `90s`, `30m` or `1h 30m`.
///
/// The message names the accepted units, since a wrong unit is the usual mistake.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    use humantime::DurationError as E;
    humantime::parse_duration(s.trim()).map_err(|e| {
        let why = match e {
            E::UnknownUnit { unit, .. } => format!("unknown unit `{unit}`"),
            E::NumberExpected(_) => "a number is missing".to_string(),
            E::InvalidCharacter(_) => "it contains a character that is not part of a duration".to_string(),
            E::NumberOverflow => "the number is too large".to_string(),
            E::Empty => "it is empty".to_string(),
        };
        format!("invalid duration `{s}`: {why}; write a number and a unit, e.g. `90s`, `30m`, `1h 30m` (units: ms, s, m, h, d)")
    })
}
