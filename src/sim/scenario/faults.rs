//! The faults a scenario injects, and which events they hit.

use std::time::Duration;

use serde::Deserialize;

use super::timings::{de_duration, de_opt_duration};

/// A fault to inject. Which events a fault hits is chosen by `nth`
/// (1-based, among the events the fault applies to), `calls` (a range of
/// those numbers) and `probability`; with none of them, every event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum FaultSpec {
    /// A snapshot's upload fails: the image ends `killed`.
    SnapshotKilled(EventFault),
    /// A boot ends in ERROR with "No valid host was found".
    BootError(EventFault),
    /// A cold or live migration fails its scheduling or pre-checks: the
    /// migration ends `error`, the server stays where it was.
    MigrationError(MigrationFault),
    /// An unshelve fails to spawn: the server stays SHELVED_OFFLOADED.
    UnshelveError(EventFault),
    /// A live migration's memory copy never converges: it stays `running`
    /// until aborted or forced to complete.
    LiveMigrationHang(EventFault),
    /// The API answers with this HTTP status instead of doing the call.
    HttpError(HttpFault),
    /// The API answers late.
    Latency(LatencyFault),
    /// Tokens stop working after `after`.
    TokenExpiry(TokenExpiryFault),
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EventFault {
    #[serde(default)]
    pub nth: Option<OneOrMany>,
    #[serde(default)]
    pub calls: Option<CallRange>,
    #[serde(default)]
    pub probability: Option<f64>,
    /// Only events in this AZ (target AZ for boots, server's AZ for snapshots).
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Only servers whose name matches this regular expression.
    #[serde(default)]
    pub server: Option<String>,
}

/// A fault on migrations, optionally only cold or only live ones.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MigrationFault {
    #[serde(default)]
    pub nth: Option<OneOrMany>,
    #[serde(default)]
    pub calls: Option<CallRange>,
    #[serde(default)]
    pub probability: Option<f64>,
    /// Only migrations to this AZ (the destination's).
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Only servers whose name matches this regular expression.
    #[serde(default)]
    pub server: Option<String>,
    /// `cold` or `live`; both when omitted.
    #[serde(default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpFault {
    pub status: u16,
    /// Adds a `Retry-After` header (whole seconds) to the answer.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub retry_after: Option<Duration>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub nth: Option<OneOrMany>,
    #[serde(default)]
    pub calls: Option<CallRange>,
    #[serde(default)]
    pub probability: Option<f64>,
    /// identity, compute, image, network or volume.
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    /// Regular expression matched against the path after the service prefix
    /// and version (e.g. `^/servers/[^/]+/action$`).
    #[serde(default)]
    pub path: Option<String>,
    /// Server action name (createImage, os-stop, …); implies POST …/action.
    #[serde(default)]
    pub action: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyFault {
    #[serde(deserialize_with = "de_duration")]
    pub delay: Duration,
    #[serde(default)]
    pub nth: Option<OneOrMany>,
    #[serde(default)]
    pub calls: Option<CallRange>,
    #[serde(default)]
    pub probability: Option<f64>,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenExpiryFault {
    /// Tokens are rejected with 401 this long after they were issued.
    #[serde(deserialize_with = "de_duration")]
    pub after: Duration,
    /// What `expires_at` claims (default: the real expiry). Set it longer
    /// than `after` to simulate tokens revoked before their advertised end.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub advertised: Option<Duration>,
}

/// `nth: 3` or `nth: [3, 5]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(u64),
    Many(Vec<u64>),
}

impl OneOrMany {
    pub fn contains(&self, n: u64) -> bool {
        match self {
            OneOrMany::One(x) => *x == n,
            OneOrMany::Many(xs) => xs.contains(&n),
        }
    }
}

/// Inclusive range of event numbers: `calls: {from: 100, to: 120}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRange {
    pub from: u64,
    pub to: u64,
}
