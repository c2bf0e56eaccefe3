//! Turning a changeset into a run: from a plan just made (its inventory is
//! fresh), or from a plan saved with `plan -o` (the cloud is read again and
//! every entry whose server changed since is refused as stale).

use std::collections::{BTreeMap, BTreeSet};

use super::executor::RunInput;
use crate::observe::{Moving, ObserveError, observe_moving};
use crate::openstack::{Client, Error};
use crate::plan::changeset::{Changeset, stale_reasons, user_data_digest};
use crate::plan::inventory::Inventory;

/// The cloud could not be read again before applying a saved plan.
#[derive(Debug, thiserror::Error)]
#[error("could not read {what} again before applying the saved plan: {source}")]
pub struct RefreshError {
    what: &'static str,
    #[source]
    source: Error,
}

impl From<ObserveError> for RefreshError {
    fn from(e: ObserveError) -> Self {
        let ObserveError::Api { what, source } = e;
        RefreshError { what, source }
    }
}

/// A run of a plan made just now from `inventory`.
pub fn from_fresh_plan(changeset: Changeset, inventory: &Inventory) -> RunInput {
    RunInput {
        changeset,
        servers: inventory.servers.clone(),
        images: inventory.images.clone(),
        availability_zones: inventory.availability_zones.clone(),
        stale: BTreeMap::new(),
        busy: BTreeMap::new(),
        origin: "plan".into(),
    }
}

/// A run of a saved plan: reads the servers, the zones and azmove's
/// snapshots again (a few list calls, the way planning reads them), and
/// marks stale every move whose server changed since the plan was saved —
/// status, task, AZ, host, its `updated` time, or its user data. The other
/// moves go ahead exactly as reviewed.
pub async fn from_saved_plan(
    client: &Client,
    mut changeset: Changeset,
) -> Result<RunInput, RefreshError> {
    let targets: BTreeSet<&str> = changeset
        .moves
        .iter()
        .map(|m| m.target_az.as_str())
        .collect();
    let Moving {
        servers,
        availability_zones,
        images,
    } = observe_moving(client, &targets).await?;
    let by_id: BTreeMap<&str, &crate::plan::inventory::Server> =
        servers.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut stale = BTreeMap::new();
    for m in changeset.moves.iter_mut().filter(|m| m.is_move()) {
        let Some(fp) = &m.fingerprint else { continue };
        let Some(now) = by_id.get(fp.id.as_str()) else {
            stale.insert(
                m.key.clone(),
                vec![format!("server {} no longer exists", fp.id)],
            );
            continue;
        };
        let mut reasons = stale_reasons(m, now);
        // User data is not saved in plan files (it may hold secrets): it is
        // read again and must be what was reviewed.
        if let Some(boot) = m.boot.as_mut()
            && let Some(want) = &boot.user_data_sha256
        {
            match &now.user_data {
                Some(ud) if user_data_digest(ud) == *want => boot.user_data = Some(ud.clone()),
                Some(_) => reasons.push("its user data changed".into()),
                None => reasons
                    .push("its user data can no longer be read (admin rights are needed)".into()),
            }
        }
        if !reasons.is_empty() {
            stale.insert(m.key.clone(), reasons);
        }
    }
    Ok(RunInput {
        changeset,
        servers,
        images,
        availability_zones,
        stale,
        busy: BTreeMap::new(),
        origin: "saved".into(),
    })
}
