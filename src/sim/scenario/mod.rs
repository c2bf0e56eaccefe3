//! Scenario files: the YAML description of a simulated cloud (its AZs,
//! hosts, flavors, images, networks, projects, users, servers, timings and
//! the faults to inject). Every key is documented in docs/simulator.md;
//! unknown keys are rejected so that a typo never silently changes a test.

mod faults;
mod resources;
mod timings;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use faults::{
    CallRange, EventFault, FaultSpec, HttpFault, LatencyFault, MigrationFault, OneOrMany,
    TokenExpiryFault,
};
pub use resources::{
    AppCredSpec, AzSpec, FlavorSpec, FloatingIpSpec, HostSpec, ImageSpec, KeypairSpec, NetworkSpec,
    ProjectSpec, QuotaSpec, SecurityGroupSpec, ServerGroupSpec, ServerSpec, SubnetSpec, UserSpec,
    VolumeSpec,
};
use timings::de_duration;
pub use timings::{Races, Timings};

/// Why a scenario file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("scenario file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("scenario {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A whole simulated cloud, as written in a scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seeds every random decision (ids, probabilistic faults).
    #[serde(default)]
    pub seed: u64,
    /// How much faster than real time long operations complete.
    #[serde(default = "default_time_scale")]
    pub time_scale: f64,
    /// Highest compute microversion the fake Nova accepts ("2.104").
    #[serde(default = "default_max_microversion")]
    pub max_microversion: String,
    /// Keystone region of every catalog endpoint.
    #[serde(default = "default_region")]
    pub region: String,
    /// Lifetime of Keystone tokens (wall-clock, not scaled).
    #[serde(default = "default_token_ttl", deserialize_with = "de_duration")]
    pub token_ttl: Duration,
    /// Server page size cap, as Nova's `[api] max_limit`.
    #[serde(default = "default_max_limit")]
    pub max_limit: usize,
    #[serde(default)]
    pub timings: Timings,
    /// How requests that overlap in time conflict (see [`Races`]).
    #[serde(default)]
    pub races: Races,
    #[serde(default)]
    pub availability_zones: Vec<AzSpec>,
    #[serde(default)]
    pub flavors: Vec<FlavorSpec>,
    #[serde(default)]
    pub images: Vec<ImageSpec>,
    #[serde(default)]
    pub networks: Vec<NetworkSpec>,
    #[serde(default)]
    pub security_groups: Vec<SecurityGroupSpec>,
    #[serde(default)]
    pub keypairs: Vec<KeypairSpec>,
    #[serde(default)]
    pub projects: Vec<ProjectSpec>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub server_groups: Vec<ServerGroupSpec>,
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
    #[serde(default)]
    pub servers: Vec<ServerSpec>,
    #[serde(default)]
    pub floating_ips: Vec<FloatingIpSpec>,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Where the scenario was read from (for error messages); not a YAML key.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl Default for Scenario {
    /// An empty cloud with every setting at its documented default.
    fn default() -> Self {
        Scenario {
            seed: 0,
            time_scale: default_time_scale(),
            max_microversion: default_max_microversion(),
            region: default_region(),
            token_ttl: default_token_ttl(),
            max_limit: default_max_limit(),
            timings: Timings::default(),
            races: Races::default(),
            availability_zones: Vec::new(),
            flavors: Vec::new(),
            images: Vec::new(),
            networks: Vec::new(),
            security_groups: Vec::new(),
            keypairs: Vec::new(),
            projects: Vec::new(),
            users: Vec::new(),
            server_groups: Vec::new(),
            volumes: Vec::new(),
            servers: Vec::new(),
            floating_ips: Vec::new(),
            faults: Vec::new(),
            source: None,
        }
    }
}

fn default_time_scale() -> f64 {
    1.0
}

fn default_max_microversion() -> String {
    "2.104".to_owned()
}

fn default_region() -> String {
    "RegionOne".to_owned()
}

fn default_token_ttl() -> Duration {
    Duration::from_secs(3600)
}

fn default_max_limit() -> usize {
    1000
}

impl Scenario {
    /// Read and check a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut scenario =
            Scenario::from_yaml_named(&path.display().to_string(), &text).map_err(|e| match e {
                ScenarioError::Parse { message, .. } => ScenarioError::Parse {
                    path: path.to_owned(),
                    message,
                },
                ScenarioError::Invalid { message, .. } => ScenarioError::Invalid {
                    path: path.to_owned(),
                    message,
                },
                other => other,
            })?;
        scenario.source = Some(path.to_owned());
        Ok(scenario)
    }

    /// Parse a scenario from YAML text (checked like [`Scenario::load`]).
    pub fn from_yaml(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_yaml_named("<scenario>", text)
    }

    fn from_yaml_named(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let scenario = parse_yaml(name, text).map_err(|message| ScenarioError::Parse {
            path: PathBuf::from("<scenario>"),
            message,
        })?;
        scenario.check().map_err(|message| ScenarioError::Invalid {
            path: PathBuf::from("<scenario>"),
            message,
        })?;
        Ok(scenario)
    }

    /// Name used in messages about this scenario.
    pub fn display_name(&self) -> String {
        self.source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<scenario>".to_owned())
    }

    /// Checks that need the whole file; references between objects are
    /// checked when the model is built.
    fn check(&self) -> Result<(), String> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(format!(
                "time_scale must be a positive number, not {}",
                self.time_scale
            ));
        }
        crate::sim::clock::parse_microversion(&self.max_microversion).ok_or_else(|| {
            format!(
                "max_microversion {:?} is not of the form 2.N",
                self.max_microversion
            )
        })?;
        if self.max_limit == 0 {
            return Err("max_limit must be at least 1".to_owned());
        }
        for (key, v) in [
            (
                "snapshot_throughput_mb_s",
                self.timings.snapshot_throughput_mb_s,
            ),
            (
                "migrate_throughput_mb_s",
                self.timings.migrate_throughput_mb_s,
            ),
            (
                "live_migration_throughput_mb_s",
                self.timings.live_migration_throughput_mb_s,
            ),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("timings.{key} must be a positive number"));
            }
        }
        for (i, s) in self.servers.iter().enumerate() {
            match &s.generate {
                Some(g) => {
                    let other_keys = s.name.is_some()
                        || s.id.is_some()
                        || s.count.is_some()
                        || s.flavor.is_some()
                        || s.image.is_some()
                        || s.availability_zone.is_some()
                        || s.host.is_some()
                        || s.project.is_some();
                    if other_keys {
                        return Err(format!(
                            "servers[{i}]: put every key of a generated fleet inside `generate`"
                        ));
                    }
                    if g.count.is_none() {
                        return Err(format!("servers[{i}].generate: `count` is required"));
                    }
                    if g.name.is_none() {
                        return Err(format!(
                            "servers[{i}].generate: `name` (a template such as \"vm-{{i:05}}\") is required"
                        ));
                    }
                    if g.generate.is_some() || g.id.is_some() {
                        return Err(format!(
                            "servers[{i}].generate: `generate` and `id` cannot be used inside `generate`"
                        ));
                    }
                }
                None => {
                    if s.count.is_some() || s.start.is_some() {
                        return Err(format!(
                            "servers[{i}]: `count` and `start` belong inside a `generate` block"
                        ));
                    }
                    if s.name.is_none() {
                        return Err(format!("servers[{i}]: `name` is required"));
                    }
                }
            }
        }
        for (i, f) in self.faults.iter().enumerate() {
            let probability = match f {
                FaultSpec::SnapshotKilled(e)
                | FaultSpec::BootError(e)
                | FaultSpec::UnshelveError(e)
                | FaultSpec::LiveMigrationHang(e) => e.probability,
                FaultSpec::MigrationError(m) => m.probability,
                FaultSpec::HttpError(h) => h.probability,
                FaultSpec::Latency(l) => l.probability,
                FaultSpec::TokenExpiry(_) => None,
            };
            if let Some(p) = probability
                && !(0.0..=1.0).contains(&p)
            {
                return Err(format!(
                    "faults[{i}]: probability must be between 0 and 1, not {p}"
                ));
            }
            if let FaultSpec::MigrationError(m) = f
                && let Some(kind) = &m.kind
                && kind != "cold"
                && kind != "live"
            {
                return Err(format!(
                    "faults[{i}]: migration_error kind must be `cold` or `live`, not {kind:?}"
                ));
            }
            if let FaultSpec::HttpError(h) = f
                && !(400..=599).contains(&h.status)
            {
                return Err(format!(
                    "faults[{i}]: status must be an HTTP error status (400-599), not {}",
                    h.status
                ));
            }
        }
        Ok(())
    }
}

/// The only place YAML is parsed for the simulator: the same loader as
/// plan files, so scenario errors come with line, column and a snippet.
fn parse_yaml(name: &str, text: &str) -> Result<Scenario, String> {
    crate::yaml::from_yaml_str::<Scenario>(name, text).map_err(|e| e.to_string())
}

/// Expand a fleet name template: `{i}` → 7, `{i:05}` → 00007.
pub fn expand_name(template: &str, i: u32) -> String {
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(open) = rest.find("{i") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        if let Some(close) = after.find('}') {
            let spec = &after[..close];
            if spec.is_empty() {
                out.push_str(&i.to_string());
                rest = &after[close + 1..];
                continue;
            }
            if let Some(width) = spec
                .strip_prefix(":0")
                .and_then(|w| w.parse::<usize>().ok())
            {
                out.push_str(&format!("{i:0width$}"));
                rest = &after[close + 1..];
                continue;
            }
            if let Some(width) = spec.strip_prefix(':').and_then(|w| w.parse::<usize>().ok()) {
                out.push_str(&format!("{i:width$}"));
                rest = &after[close + 1..];
                continue;
            }
        }
        out.push_str("{i");
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_templates_expand() {
        assert_eq!(expand_name("vm-{i:05}", 7), "vm-00007");
        assert_eq!(expand_name("vm-{i}", 12), "vm-12");
        assert_eq!(expand_name("a{i}b{i:03}", 4), "a4b004");
        assert_eq!(expand_name("plain", 4), "plain");
        assert_eq!(expand_name("odd-{i:x}", 4), "odd-{i:x}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Scenario::from_yaml("seed: 1\nflavours: []\n").unwrap_err();
        assert!(err.to_string().contains("flavours"), "{err}");
        let err = Scenario::from_yaml("servers:\n  - name: a\n    colour: red\n").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn races_default_to_a_short_window_and_are_strict() {
        let s = Scenario::from_yaml("seed: 1\n").unwrap();
        assert_eq!(s.races.task_state_window, Duration::from_millis(100));
        let s = Scenario::from_yaml("races: {task_state_window: 250ms}\n").unwrap();
        assert_eq!(s.races.task_state_window, Duration::from_millis(250));
        let s = Scenario::from_yaml("races: {task_state_window: 0}\n").unwrap();
        assert!(s.races.task_state_window.is_zero());
        let err = Scenario::from_yaml("races: {task_state_windw: 1s}\n").unwrap_err();
        assert!(err.to_string().contains("task_state_windw"), "{err}");
        let err = Scenario::from_yaml("races: {task_state_window: soon}\n").unwrap_err();
        assert!(err.to_string().contains("soon"), "{err}");
    }

    #[test]
    fn faults_parse_in_every_form() {
        let s = Scenario::from_yaml(
            "faults:\n  - snapshot_killed: {nth: 3}\n  - boot_error: {availability_zone: nova2, probability: 0.1}\n  - http_error: {status: 503, calls: {from: 100, to: 120}}\n  - http_error: {status: 429, retry_after: 2s, probability: 0.05}\n  - latency: {delay: 200ms}\n  - token_expiry: {after: 60s}\n",
        )
        .unwrap();
        assert_eq!(s.faults.len(), 6);
        match &s.faults[3] {
            FaultSpec::HttpError(h) => assert_eq!(h.retry_after, Some(Duration::from_secs(2))),
            other => panic!("unexpected {other:?}"),
        }
        let err = Scenario::from_yaml("faults:\n  - boot_error: {probability: 2}\n").unwrap_err();
        assert!(err.to_string().contains("probability"), "{err}");
    }

    #[test]
    fn generate_blocks_are_checked() {
        let err = Scenario::from_yaml("servers:\n  - generate: {name: \"vm-{i}\"}\n").unwrap_err();
        assert!(err.to_string().contains("count"), "{err}");
        let ok = Scenario::from_yaml(
            "servers:\n  - generate: {count: 3, name: \"vm-{i}\", flavor: m1.tiny}\n",
        )
        .unwrap();
        assert_eq!(
            ok.servers[0].generate.as_ref().and_then(|g| g.count),
            Some(3)
        );
    }
}
