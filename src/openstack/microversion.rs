//! Compute API microversions: what the cloud offers (version discovery),
//! what azmove asks for, and the versions its features depend on.

use serde::Deserialize;

use crate::plan::inventory::Microversion;

/// The newest compute microversion azmove knows the behaviour of. Asking
/// for more could change response shapes under its feet.
pub const AZMOVE_MAX_MICROVERSION: Microversion = Microversion::new(2, 104);

/// The oldest compute API azmove works with: v2.1, the microversioned API.
pub const MIN_COMPUTE_MICROVERSION: Microversion = Microversion::new(2, 1);

/// Microversions that change what azmove sends or reads.
pub mod features {
    use crate::plan::inventory::Microversion;

    /// `os-migrateLive` takes `block_migration: "auto"` and drops `disk_over_commit`.
    pub const LIVE_MIGRATE_AUTO: Microversion = Microversion::new(2, 25);
    /// `GET /servers/{id}/migrations` lists in-progress migrations.
    pub const LIST_SERVER_MIGRATIONS: Microversion = Microversion::new(2, 23);
    /// `DELETE /servers/{id}/migrations/{id}` aborts a live migration.
    pub const ABORT_MIGRATION: Microversion = Microversion::new(2, 24);
    /// `networks` is required on create and accepts `"auto"` / `"none"`.
    pub const NETWORKS_AUTO_NONE: Microversion = Microversion::new(2, 37);
    /// `createImage` answers `{"image_id"}` instead of a `Location` header.
    pub const CREATE_IMAGE_BODY: Microversion = Microversion::new(2, 45);
    /// `migrate` accepts a target `host`.
    pub const MIGRATE_HOST: Microversion = Microversion::new(2, 56);
    /// The last microversion whose `os-hypervisors/detail` reports usage
    /// (`free_ram_mb`, `vcpus_used`, …); 2.88 removed those fields.
    pub const HYPERVISOR_USAGE: Microversion = Microversion::new(2, 87);
    /// `changes-before` filter on server lists.
    pub const CHANGES_BEFORE: Microversion = Microversion::new(2, 66);
    /// `unshelve` accepts `availability_zone`.
    pub const UNSHELVE_AZ: Microversion = Microversion::new(2, 77);
    /// `PUT /servers/{id}` can change `pinned_availability_zone`.
    pub const UPDATE_PINNED_AZ: Microversion = Microversion::new(2, 104);
}

/// The range of microversions a compute endpoint supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    pub min: Microversion,
    pub max: Microversion,
}

#[derive(Deserialize)]
struct VersionDoc {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    min_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Discovery {
    One { version: VersionDoc },
    Many { versions: Vec<VersionDoc> },
}

/// Reads Nova's version document: `{"version": {...}}` from a versioned
/// root, or `{"versions": [...]}` from the unversioned root (where v2.1 is
/// the entry that matters). A v2.0-only API reports empty versions, which
/// reads as max 2.0.
pub fn parse_compute_versions(body: &[u8]) -> Option<VersionRange> {
    let doc = match serde_json::from_slice::<Discovery>(body).ok()? {
        Discovery::One { version } => version,
        Discovery::Many { versions } => {
            let mut versions = versions;
            let pick = versions
                .iter()
                .position(|v| v.id == "v2.1")
                .or_else(|| {
                    versions
                        .iter()
                        .position(|v| v.status.as_deref() == Some("CURRENT"))
                })
                .or_else(|| (!versions.is_empty()).then_some(0))?;
            versions.swap_remove(pick)
        }
    };
    let legacy = Microversion::new(2, 0);
    let max = doc
        .version
        .as_deref()
        .and_then(Microversion::parse)
        .unwrap_or(legacy);
    let min = doc
        .min_version
        .as_deref()
        .and_then(Microversion::parse)
        .unwrap_or(max.min(legacy));
    Some(VersionRange { min, max })
}

/// The microversion to use with a cloud: the highest both sides know.
/// `None` when the cloud has no microversioned API at all.
pub fn negotiate(cloud: VersionRange) -> Option<Microversion> {
    if cloud.max < MIN_COMPUTE_MICROVERSION {
        return None;
    }
    let chosen = cloud.max.min(AZMOVE_MAX_MICROVERSION);
    (chosen >= cloud.min).then_some(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_takes_the_lower_maximum() {
        let mv = |a, b| Microversion::new(a, b);
        assert_eq!(
            negotiate(VersionRange {
                min: mv(2, 1),
                max: mv(2, 110)
            }),
            Some(mv(2, 104))
        );
        assert_eq!(
            negotiate(VersionRange {
                min: mv(2, 1),
                max: mv(2, 79)
            }),
            Some(mv(2, 79))
        );
        assert_eq!(
            negotiate(VersionRange {
                min: mv(2, 0),
                max: mv(2, 0)
            }),
            None
        );
        // A cloud that dropped everything azmove knows.
        assert_eq!(
            negotiate(VersionRange {
                min: mv(2, 105),
                max: mv(2, 110)
            }),
            None
        );
    }

    #[test]
    fn microversions_order_numerically() {
        assert!(Microversion::new(2, 104) > Microversion::new(2, 96));
        assert!(Microversion::new(2, 9) < Microversion::new(2, 10));
    }
}
