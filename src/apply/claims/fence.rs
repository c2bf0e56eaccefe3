//! The fence: every call that changes something goes through
//! [`FencedCloud`], which refuses it once the run's lease has lapsed. From
//! then on another run may take the servers over, and two runs must never
//! act on one server; reads still pass, so the run can report where
//! everything stands.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::Lease;
use crate::apply::cloud::{BootRequest, Cloud, DatedImages, ServerList};
use crate::openstack::{Error, Hypervisor, ServerMigration};
use crate::plan::inventory::{Image, Server};

/// A [`Cloud`] whose changes stop when the lease lapses.
pub struct FencedCloud {
    inner: Arc<dyn Cloud>,
    lease: Arc<Lease>,
}

impl FencedCloud {
    pub fn new(inner: Arc<dyn Cloud>, lease: Arc<Lease>) -> FencedCloud {
        FencedCloud { inner, lease }
    }

    fn check(&self) -> Result<(), Error> {
        if self.lease.is_valid() {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "this run could not renew its claims for {} (its heartbeat to Glance failed), so another run may have taken its servers over: it changes nothing more. Run again to continue",
                humantime::format_duration(self.lease.ttl().mul_f64(0.75))
            )))
        }
    }
}

macro_rules! fenced {
    ($self:ident, $call:expr) => {{
        let checked = $self.check();
        Box::pin(async move {
            checked?;
            $call.await
        })
    }};
}

impl Cloud for FencedCloud {
    fn servers_changed_since<'a>(
        &'a self,
        changes_since: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ServerList, Error>> {
        self.inner.servers_changed_since(changes_since)
    }
    fn server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Server>, Error>> {
        self.inner.server(id)
    }
    fn images_with_property<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Image>, Error>> {
        self.inner.images_with_property(key, value)
    }
    fn image<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Image>, Error>> {
        self.inner.image(id)
    }
    fn stop_server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.stop_server(id))
    }
    fn start_server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.start_server(id))
    }
    fn create_image<'a>(
        &'a self,
        server_id: &'a str,
        name: &'a str,
        properties: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<String, Error>> {
        fenced!(self, self.inner.create_image(server_id, name, properties))
    }
    fn delete_image<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.delete_image(id))
    }
    fn boot_server<'a>(&'a self, request: &'a BootRequest) -> BoxFuture<'a, Result<String, Error>> {
        fenced!(self, self.inner.boot_server(request))
    }
    fn delete_server<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.delete_server(id))
    }
    fn set_server_metadata<'a>(
        &'a self,
        id: &'a str,
        metadata: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.set_server_metadata(id, metadata))
    }
    fn delete_server_metadata<'a>(
        &'a self,
        id: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.delete_server_metadata(id, key))
    }
    fn requests_sent(&self) -> Option<u64> {
        self.inner.requests_sent()
    }
    fn shelve<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.shelve(id))
    }
    fn shelve_offload<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.shelve_offload(id))
    }
    fn unshelve<'a>(
        &'a self,
        id: &'a str,
        availability_zone: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.unshelve(id, availability_zone))
    }
    fn migrate<'a>(&'a self, id: &'a str, host: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.migrate(id, host))
    }
    fn live_migrate<'a>(&'a self, id: &'a str, host: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.live_migrate(id, host))
    }
    fn confirm_resize<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.confirm_resize(id))
    }
    fn revert_resize<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.revert_resize(id))
    }
    fn set_pinned_az<'a>(
        &'a self,
        id: &'a str,
        availability_zone: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Server, Error>> {
        fenced!(self, self.inner.set_pinned_az(id, availability_zone))
    }
    fn server_migrations<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServerMigration>, Error>> {
        self.inner.server_migrations(id)
    }
    fn abort_migration<'a>(
        &'a self,
        id: &'a str,
        migration_id: u64,
    ) -> BoxFuture<'a, Result<(), Error>> {
        fenced!(self, self.inner.abort_migration(id, migration_id))
    }
    fn hypervisors(&self) -> BoxFuture<'_, Result<Vec<Hypervisor>, Error>> {
        self.inner.hypervisors()
    }
    fn hidden_records<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<DatedImages, Error>> {
        self.inner.hidden_records(key, value)
    }
    fn create_hidden_record<'a>(
        &'a self,
        name: &'a str,
        properties: &'a BTreeMap<String, String>,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Image, Error>> {
        fenced!(
            self,
            self.inner.create_hidden_record(name, properties, owner)
        )
    }
    fn set_image_properties<'a>(
        &'a self,
        id: &'a str,
        properties: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Image, Error>> {
        self.inner.set_image_properties(id, properties)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use std::time::SystemTime;
    use tokio::time::Instant;

    /// A cloud that refuses nothing and counts stops.
    struct Counting(std::sync::atomic::AtomicU32);

    impl Cloud for Counting {
        fn servers_changed_since<'a>(
            &'a self,
            _: Option<&'a str>,
        ) -> BoxFuture<'a, Result<ServerList, Error>> {
            Box::pin(async { Ok(ServerList::default()) })
        }
        fn server<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<Server>, Error>> {
            Box::pin(async { Ok(None) })
        }
        fn images_with_property<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Vec<Image>, Error>> {
            Box::pin(async { Ok(vec![]) })
        }
        fn image<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<Image>, Error>> {
            Box::pin(async { Ok(None) })
        }
        fn stop_server<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), Error>> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
        fn start_server<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), Error>> {
            Box::pin(async { Ok(()) })
        }
        fn create_image<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: &'a BTreeMap<String, String>,
        ) -> BoxFuture<'a, Result<String, Error>> {
            Box::pin(async { Ok(String::new()) })
        }
        fn delete_image<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), Error>> {
            Box::pin(async { Ok(()) })
        }
        fn boot_server<'a>(&'a self, _: &'a BootRequest) -> BoxFuture<'a, Result<String, Error>> {
            Box::pin(async { Ok(String::new()) })
        }
        fn delete_server<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), Error>> {
            Box::pin(async { Ok(()) })
        }
        fn set_server_metadata<'a>(
            &'a self,
            _: &'a str,
            _: &'a BTreeMap<String, String>,
        ) -> BoxFuture<'a, Result<(), Error>> {
            Box::pin(async { Ok(()) })
        }
        fn delete_server_metadata<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
        ) -> BoxFuture<'a, Result<(), Error>> {
            Box::pin(async { Ok(()) })
        }
        fn requests_sent(&self) -> Option<u64> {
            None
        }
    }

    #[tokio::test(start_paused = true)]
    async fn changes_stop_once_the_lease_lapses_and_reads_go_on() {
        let inner = Arc::new(Counting(Default::default()));
        let lease = Arc::new(Lease::new(Duration::from_secs(8)));
        let cloud = FencedCloud::new(inner.clone(), lease.clone());
        assert!(cloud.stop_server("a").await.is_ok());
        // 3/4 of the lease without a renewal (virtual time).
        tokio::time::advance(Duration::from_secs(7)).await;
        let err = cloud.stop_server("a").await.expect_err("fenced");
        assert!(err.to_string().contains("changes nothing more"), "{err}");
        assert_eq!(inner.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(cloud.server("a").await.is_ok());
        // Lapsed is for good, even if a renewal came in later.
        lease.renewed(Instant::now(), SystemTime::now());
        assert!(cloud.stop_server("a").await.is_err());
    }
}
