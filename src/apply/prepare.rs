//! Turning a changeset into a run: from a plan just made (its inventory is
//! fresh), or from a plan saved with `plan -o` (the cloud is read again and
//! every entry whose server changed since is refused as stale).

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;

use super::executor::RunInput;
use crate::openstack::{Client, Error, ImageQuery, ServerQuery};
use crate::plan::changeset::{Changeset, stale_reasons, user_data_digest};
use crate::plan::inventory::{AvailabilityZone, Inventory, tags};

/// The cloud could not be read again before applying a saved plan.
#[derive(Debug, thiserror::Error)]
#[error("could not read {what} again before applying the saved plan: {source}")]
pub struct RefreshError {
    what: &'static str,
    #[source]
    source: Error,
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
/// snapshots again (a few list calls), and marks stale every move whose
/// server changed since the plan was saved — status, task, AZ, host, its
/// `updated` time, or its user data. The other moves go ahead exactly as
/// reviewed.
pub async fn from_saved_plan(
    client: &Client,
    mut changeset: Changeset,
) -> Result<RunInput, RefreshError> {
    let targets: BTreeSet<String> = changeset
        .moves
        .iter()
        .map(|m| m.target_az.clone())
        .collect();
    let (servers, availability_zones, images) = tokio::try_join!(
        async {
            client
                .list_servers(&ServerQuery::default())
                .await
                .map_err(|source| RefreshError {
                    what: "the server list",
                    source,
                })
        },
        zones(client),
        async {
            let lists = try_join_all(targets.iter().map(|az| async move {
                client
                    .list_images(&ImageQuery::with_property(tags::TARGET, az.as_str()))
                    .await
            }))
            .await
            .map_err(|source| RefreshError {
                what: "azmove's snapshots",
                source,
            })?;
            let mut seen = BTreeSet::new();
            Ok(lists
                .into_iter()
                .flatten()
                .filter(|i| seen.insert(i.id.clone()))
                .collect::<Vec<_>>())
        },
    )?;
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

async fn zones(client: &Client) -> Result<Vec<AvailabilityZone>, RefreshError> {
    if client.capabilities().is_admin {
        match client.list_availability_zones(true).await {
            Ok(z) => return Ok(z),
            Err(e) if matches!(e.status(), Some(401 | 403)) => {}
            Err(source) => {
                return Err(RefreshError {
                    what: "the availability zones",
                    source,
                });
            }
        }
    }
    client
        .list_availability_zones(false)
        .await
        .map_err(|source| RefreshError {
            what: "the availability zones",
            source,
        })
}
