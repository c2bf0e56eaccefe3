//! Observation: reads the cloud in bulk (paginated list calls) into a
//! [`crate::plan::inventory::Inventory`] for the pure planner.
//!
//! The number of requests does not depend on how many servers the plan
//! names beyond the server list's pages. For a project with N servers:
//!
//! | call | requests |
//! |---|---|
//! | `GET /servers/detail?limit=1000` | ⌈N/1000⌉ (+1 when N is a multiple of 1000) |
//! | `GET /os-availability-zone[/detail]` | 1 (2 when the detail is refused) |
//! | `GET /flavors/detail` | 1 per 1000 flavors |
//! | `GET /v2/images?azmove_target=<az>` | 1 per target AZ of the plan (per 1000 snapshots) |
//! | `GET /v2.0/networks` | 1 per 1000 networks |
//! | `GET /limits` | 1 |
//! | `GET /v2.0/ports?device_id=…` | 0 normally; 1 per 100 servers whose network names are ambiguous |
//!
//! Choices, and why:
//! - **Only the project's own servers** (never `all_tenants`), even for an
//!   admin: the snapshot strategy boots the replacement in the caller's
//!   project, and `GET /limits` is the caller's quota. Moving another
//!   project's servers means scoping to that project.
//! - **No per-server port calls.** A boot request needs network ids; the
//!   server list already names each server's networks (`addresses` is keyed
//!   by network name), and one network list maps names to ids. Ports are read
//!   (in batches of 100 device ids) only for servers of the plan on a network
//!   whose name is not unique or not visible, which a tidy cloud never has.
//! - **Snapshots by their tag.** Glance filters custom properties by exact
//!   value only, so azmove's snapshots are found with one query per target
//!   AZ (`azmove_target=<az>`) rather than one per server.
//! - **Volumes from the server list.** `os-extended-volumes:volumes_attached`
//!   and an empty `image` say all the planner needs; Cinder is not asked.
//! - Independent calls run concurrently; the client's rate limit still
//!   paces them.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;

use crate::openstack::{Client, Error, ImageQuery, PortQuery, ServerQuery};
use crate::plan::file::PlanFile;
use crate::plan::inventory::{AvailabilityZone, Image, Inventory, Network, Quota, Server, tags};
use crate::plan::planner::{needs_ports, planned_sources};

/// Why the cloud could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("could not read {what} from the cloud: {source}")]
    Api {
        what: &'static str,
        #[source]
        source: Error,
    },
}

fn api(what: &'static str) -> impl FnOnce(Error) -> ObserveError {
    move |source| ObserveError::Api { what, source }
}

/// What can change under a plan between planning and applying it: the
/// servers, the zones and azmove's snapshots. A saved plan is checked
/// against these, read again the same way planning read them.
#[derive(Debug)]
pub struct Moving {
    pub servers: Vec<Server>,
    pub availability_zones: Vec<AvailabilityZone>,
    pub images: Vec<Image>,
}

/// Read again what may have changed since a plan whose moves go to
/// `targets` was made.
pub async fn observe_moving(
    client: &Client,
    targets: &BTreeSet<&str>,
) -> Result<Moving, ObserveError> {
    let (servers, availability_zones, images) = tokio::try_join!(
        servers(client),
        availability_zones(client, client.capabilities().is_admin),
        snapshots(client, targets),
    )?;
    Ok(Moving {
        servers,
        availability_zones,
        images,
    })
}

/// Read everything the planner needs for `plan`, in bulk.
pub async fn observe(client: &Client, plan: &PlanFile) -> Result<Inventory, ObserveError> {
    let capabilities = client.capabilities().clone();
    let targets: BTreeSet<&str> = plan.moves.iter().map(|m| m.to.as_str()).collect();

    let (servers, availability_zones, flavors, networks, quota, images) = tokio::try_join!(
        servers(client),
        availability_zones(client, capabilities.is_admin),
        async { client.list_flavors().await.map_err(api("the flavor list")) },
        async {
            let nets = client
                .list_networks()
                .await
                .map_err(api("the network list"))?;
            Ok(nets
                .into_iter()
                .map(|n| Network {
                    id: n.id,
                    name: n.name,
                })
                .collect::<Vec<_>>())
        },
        quota(client),
        snapshots(client, &targets),
    )?;

    let mut inventory = Inventory {
        servers,
        availability_zones,
        flavors,
        images,
        quota,
        capabilities,
        networks,
    };
    attach_ports(client, plan, &mut inventory).await?;
    tracing::info!(
        servers = inventory.servers.len(),
        snapshots = inventory.images.len(),
        requests = client.requests_sent(),
        "observed the cloud"
    );
    Ok(inventory)
}

/// The project's own servers.
async fn servers(client: &Client) -> Result<Vec<Server>, ObserveError> {
    client
        .list_servers(&ServerQuery::default())
        .await
        .map_err(api("the server list"))
}

/// With hosts for an admin (to check that the target AZ has an enabled,
/// running compute host); members, or admins whose policy refuses the
/// detail, get the zones alone.
async fn availability_zones(
    client: &Client,
    is_admin: bool,
) -> Result<Vec<AvailabilityZone>, ObserveError> {
    if is_admin {
        match client.list_availability_zones(true).await {
            Ok(zones) => return Ok(zones),
            Err(e) if matches!(e.status(), Some(401 | 403)) => {
                tracing::info!(
                    "the availability zone detail is refused ({e}); hosts will not be checked"
                );
            }
            Err(e) => return Err(api("the availability zones")(e)),
        }
    }
    client
        .list_availability_zones(false)
        .await
        .map_err(api("the availability zones"))
}

/// The project's quota; planning goes on without the quota check when the
/// cloud refuses to tell it.
async fn quota(client: &Client) -> Result<Option<Quota>, ObserveError> {
    match client.limits().await {
        Ok(q) => Ok(Some(q)),
        Err(e) if matches!(e.status(), Some(403 | 404)) => {
            tracing::warn!(
                "the cloud did not give the project's quota ({e}); the plan does not check it"
            );
            Ok(None)
        }
        Err(e) => Err(api("the project's quota")(e)),
    }
}

/// azmove's snapshots for every target AZ of the plan.
async fn snapshots(client: &Client, targets: &BTreeSet<&str>) -> Result<Vec<Image>, ObserveError> {
    let lists = try_join_all(targets.iter().map(|az| async move {
        client
            .list_images(&ImageQuery::with_property(tags::TARGET, *az))
            .await
    }))
    .await
    .map_err(api("azmove's snapshots (Glance images)"))?;
    let mut seen = BTreeSet::new();
    Ok(lists
        .into_iter()
        .flatten()
        .filter(|i| i.properties.contains_key(tags::SOURCE) && seen.insert(i.id.clone()))
        .collect())
}

/// Ports of the plan's servers whose networks cannot be told by name.
async fn attach_ports(
    client: &Client,
    plan: &PlanFile,
    inventory: &mut Inventory,
) -> Result<(), ObserveError> {
    let device_ids: Vec<String> = planned_sources(plan, inventory)
        .into_iter()
        .filter(|s| needs_ports(s, &inventory.networks))
        .map(|s| s.id.clone())
        .collect();
    if device_ids.is_empty() {
        return Ok(());
    }
    tracing::info!(
        servers = device_ids.len(),
        "reading ports: some network names are not unique"
    );
    let ports = client
        .list_ports(&PortQuery {
            device_ids,
            network_id: None,
        })
        .await
        .map_err(api("the ports of the servers to move"))?;
    let mut by_device: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for p in ports {
        if let Some(d) = p.device_id {
            by_device.entry(d).or_default().push(p.port);
        }
    }
    for s in inventory.servers.iter_mut() {
        if let Some(ports) = by_device.remove(&s.id) {
            s.ports = ports;
        }
    }
    Ok(())
}
