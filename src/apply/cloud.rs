//! The calls the apply engine makes, as one trait.
//!
//! [`crate::openstack::Client`] implements it over HTTP (the real cloud and
//! the simulator take the same path). The trait exists so the engine states
//! exactly which calls it needs, and so waiting can be tested on virtual
//! time with a counting fake.

use std::collections::BTreeMap;
use std::time::SystemTime;

use futures::future::BoxFuture;

use crate::openstack::{
    CreateServer, Error, Hypervisor, ImageQuery, NetworkAttachment, Networks, ServerMigration,
    ServerQuery,
};
use crate::plan::inventory::{Image, Server};

/// What `POST /servers` is sent for a replacement.
#[derive(Clone, PartialEq, Eq)]
pub struct BootRequest {
    pub name: String,
    pub flavor_id: String,
    pub image_id: String,
    pub availability_zone: String,
    pub networks: Vec<String>,
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// base64; may hold secrets, so it is left out of `Debug`.
    pub user_data: Option<String>,
}

impl std::fmt::Debug for BootRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootRequest")
            .field("name", &self.name)
            .field("flavor_id", &self.flavor_id)
            .field("image_id", &self.image_id)
            .field("availability_zone", &self.availability_zone)
            .field("networks", &self.networks)
            .field("security_groups", &self.security_groups)
            .field("key_name", &self.key_name)
            .field("metadata", &self.metadata)
            .field("user_data", &self.user_data.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Images with the cloud's clock (`Date`) of the answer that listed them.
pub type DatedImages = (Vec<Image>, Option<SystemTime>);

/// A page-complete answer of a server list, with the cloud's clock.
#[derive(Debug, Clone, Default)]
pub struct ServerList {
    pub servers: Vec<Server>,
    /// The `Date` of the (last) response: the cloud's "now", used for the
    /// next `changes-since` so that the local clock never matters.
    pub cloud_time: Option<SystemTime>,
}

/// The cloud as the apply engine uses it.
pub trait Cloud: Send + Sync + 'static {
    /// `GET /servers/detail`, every page; with `changes_since` (ISO 8601)
    /// only servers changed since then, deleted ones included.
    fn servers_changed_since<'a>(
        &'a self,
        changes_since: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ServerList, Error>>;
    /// `GET /servers/{id}`; `None` when it does not exist.
    fn server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Server>, Error>>;
    /// Glance images whose property `key` equals `value`, every page.
    fn images_with_property<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Image>, Error>>;
    /// `GET /v2/images/{id}`; `None` when it does not exist.
    fn image<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Image>, Error>>;
    /// `os-stop`.
    fn stop_server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    /// `os-start`.
    fn start_server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    /// `createImage` with image properties; returns the new image's id.
    fn create_image<'a>(
        &'a self,
        server_id: &'a str,
        name: &'a str,
        properties: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<String, Error>>;
    /// `DELETE /v2/images/{id}`; a missing image is not an error.
    fn delete_image<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    /// `POST /servers`; returns the new server's id.
    fn boot_server<'a>(&'a self, request: &'a BootRequest) -> BoxFuture<'a, Result<String, Error>>;
    /// `DELETE /servers/{id}`; a missing server is not an error.
    fn delete_server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    /// `POST /servers/{id}/metadata`: set these keys, keep the others.
    fn set_server_metadata<'a>(
        &'a self,
        id: &'a str,
        metadata: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<(), Error>>;
    /// `DELETE /servers/{id}/metadata/{key}`; a missing key is not an error.
    fn delete_server_metadata<'a>(
        &'a self,
        id: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>>;
    /// HTTP requests sent so far, when the implementation counts them.
    fn requests_sent(&self) -> Option<u64>;

    // The calls of the in-place strategies (shelve, cold, live). They have
    // default bodies that refuse, so that a fake needs only what it tests.

    /// `shelve`.
    fn shelve<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        unsupported("shelve", id)
    }
    /// `shelveOffload`.
    fn shelve_offload<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        unsupported("shelveOffload", id)
    }
    /// `unshelve`, into `availability_zone` when given (2.77).
    fn unshelve<'a>(
        &'a self,
        id: &'a str,
        availability_zone: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let _ = availability_zone;
        unsupported("unshelve", id)
    }
    /// `migrate` (cold) to `host` (2.56).
    fn migrate<'a>(&'a self, id: &'a str, host: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        let _ = host;
        unsupported("migrate", id)
    }
    /// `os-migrateLive` to `host`, `block_migration: auto`.
    fn live_migrate<'a>(&'a self, id: &'a str, host: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        let _ = host;
        unsupported("os-migrateLive", id)
    }
    /// `confirmResize`.
    fn confirm_resize<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        unsupported("confirmResize", id)
    }
    /// `revertResize`.
    fn revert_resize<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        unsupported("revertResize", id)
    }
    /// `PUT /servers/{id}` with `pinned_availability_zone` (2.104); `None`
    /// unpins. Returns the server as the answer shows it.
    fn set_pinned_az<'a>(
        &'a self,
        id: &'a str,
        availability_zone: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Server, Error>> {
        let _ = availability_zone;
        Box::pin(async move {
            Err(Error::Config(format!(
                "changing the pinned availability zone of {id} is not possible through this connection"
            )))
        })
    }
    /// In-progress migrations of a server (2.23).
    fn server_migrations<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServerMigration>, Error>> {
        Box::pin(async move {
            Err(Error::Config(format!(
                "listing the migrations of {id} is not possible through this connection"
            )))
        })
    }
    /// `DELETE /servers/{id}/migrations/{migration_id}` (2.24).
    fn abort_migration<'a>(
        &'a self,
        id: &'a str,
        migration_id: u64,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let _ = migration_id;
        unsupported("abort live migration", id)
    }
    /// Compute nodes with state and usage (`os-hypervisors/detail`, admin).
    fn hypervisors(&self) -> BoxFuture<'_, Result<Vec<Hypervisor>, Error>> {
        Box::pin(async {
            Err(Error::Config(
                "listing hypervisors is not possible through this connection".into(),
            ))
        })
    }

    // The records of the claim protocol (`apply::claims`): hidden Glance
    // images that are never uploaded.

    /// Hidden images whose property `key` is `value`, every page, with the
    /// cloud's clock (`Date`) of the answer.
    fn hidden_records<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<DatedImages, Error>> {
        let _ = (key, value);
        Box::pin(async {
            Err(Error::Config(
                "claim records are not possible through this connection".into(),
            ))
        })
    }
    /// Creates a hidden record with these properties, in `owner`'s project
    /// when given (admins).
    fn create_hidden_record<'a>(
        &'a self,
        name: &'a str,
        properties: &'a BTreeMap<String, String>,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Image, Error>> {
        let _ = (name, properties, owner);
        Box::pin(async {
            Err(Error::Config(
                "claim records are not possible through this connection".into(),
            ))
        })
    }
    /// Sets custom properties of an image (moves its `updated_at`).
    fn set_image_properties<'a>(
        &'a self,
        id: &'a str,
        properties: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Image, Error>> {
        let _ = (id, properties);
        Box::pin(async {
            Err(Error::Config(
                "claim records are not possible through this connection".into(),
            ))
        })
    }
}

/// The answer of a call a [`Cloud`] implementation does not offer.
fn unsupported<'a>(what: &'static str, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        Err(Error::Config(format!(
            "`{what}` of {id} is not possible through this connection"
        )))
    })
}

impl Cloud for crate::openstack::Client {
    fn servers_changed_since<'a>(
        &'a self,
        changes_since: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ServerList, Error>> {
        Box::pin(async move {
            let query = ServerQuery {
                changes_since: changes_since.map(str::to_string),
                ..Default::default()
            };
            let (servers, cloud_time) = self.list_servers_dated(&query).await?;
            Ok(ServerList {
                servers,
                cloud_time,
            })
        })
    }

    fn server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Server>, Error>> {
        Box::pin(self.get_server(id))
    }

    fn images_with_property<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Image>, Error>> {
        Box::pin(async move {
            self.list_images(&ImageQuery::with_property(key, value))
                .await
        })
    }

    fn image<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Image>, Error>> {
        Box::pin(self.get_image(id))
    }

    fn stop_server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::stop_server(self, id))
    }

    fn start_server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::start_server(self, id))
    }

    fn create_image<'a>(
        &'a self,
        server_id: &'a str,
        name: &'a str,
        properties: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(crate::openstack::Client::create_image(
            self, server_id, name, properties,
        ))
    }

    fn delete_image<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::delete_image(self, id))
    }

    fn boot_server<'a>(&'a self, request: &'a BootRequest) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(async move {
            let networks = if request.networks.is_empty() {
                Networks::None
            } else {
                Networks::List(
                    request
                        .networks
                        .iter()
                        .map(|n| NetworkAttachment::Network {
                            uuid: n.clone(),
                            fixed_ip: None,
                        })
                        .collect(),
                )
            };
            let create = CreateServer {
                name: request.name.clone(),
                image_ref: Some(request.image_id.clone()),
                flavor_ref: request.flavor_id.clone(),
                availability_zone: Some(request.availability_zone.clone()),
                networks,
                security_groups: request.security_groups.clone(),
                key_name: request.key_name.clone(),
                metadata: request.metadata.clone(),
                user_data: request.user_data.clone(),
                ..Default::default()
            };
            self.create_server(&create).await
        })
    }

    fn delete_server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::delete_server(self, id))
    }

    fn set_server_metadata<'a>(
        &'a self,
        id: &'a str,
        metadata: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::set_server_metadata(
            self, id, metadata,
        ))
    }

    fn delete_server_metadata<'a>(
        &'a self,
        id: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::delete_server_metadata(
            self, id, key,
        ))
    }

    fn requests_sent(&self) -> Option<u64> {
        Some(crate::openstack::Client::requests_sent(self))
    }

    fn shelve<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::shelve(self, id))
    }

    fn shelve_offload<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::shelve_offload(self, id))
    }

    fn unshelve<'a>(
        &'a self,
        id: &'a str,
        availability_zone: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::unshelve(
            self,
            id,
            availability_zone,
        ))
    }

    fn migrate<'a>(&'a self, id: &'a str, host: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::migrate(self, id, Some(host)))
    }

    fn live_migrate<'a>(&'a self, id: &'a str, host: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::live_migrate(self, id, Some(host)))
    }

    fn confirm_resize<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::confirm_resize(self, id))
    }

    fn revert_resize<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::revert_resize(self, id))
    }

    fn set_pinned_az<'a>(
        &'a self,
        id: &'a str,
        availability_zone: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Server, Error>> {
        Box::pin(crate::openstack::Client::update_pinned_az(
            self,
            id,
            availability_zone,
        ))
    }

    fn server_migrations<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServerMigration>, Error>> {
        Box::pin(crate::openstack::Client::list_server_migrations(self, id))
    }

    fn abort_migration<'a>(
        &'a self,
        id: &'a str,
        migration_id: u64,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::openstack::Client::abort_migration(
            self,
            id,
            migration_id,
        ))
    }

    fn hypervisors(&self) -> BoxFuture<'_, Result<Vec<Hypervisor>, Error>> {
        Box::pin(crate::openstack::Client::list_hypervisors(self))
    }

    fn hidden_records<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<DatedImages, Error>> {
        Box::pin(async move {
            let mut query = ImageQuery::with_property(key, value);
            query.hidden = true;
            self.list_images_dated(&query).await
        })
    }

    fn create_hidden_record<'a>(
        &'a self,
        name: &'a str,
        properties: &'a BTreeMap<String, String>,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Image, Error>> {
        Box::pin(crate::openstack::Client::create_hidden_record(
            self, name, properties, owner,
        ))
    }

    fn set_image_properties<'a>(
        &'a self,
        id: &'a str,
        properties: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Image, Error>> {
        Box::pin(crate::openstack::Client::set_image_properties(
            self, id, properties,
        ))
    }
}
