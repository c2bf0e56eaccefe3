//! Server actions (`POST /servers/{id}/action`): power, shelve, cold and
//! live migration, resize confirmation, and the pinned availability zone.

use reqwest::Method;
use serde_json::{Value, json};

use super::server::parse_server;
use crate::openstack::client::Client;
use crate::openstack::error::Error;
use crate::openstack::microversion::features;
use crate::plan::inventory::{Microversion, Server};

/// `{"unshelve": {"availability_zone": …}}` from 2.77, `{"unshelve": null}`
/// without a zone. Before 2.77 no zone can be asked for.
pub fn unshelve_body(availability_zone: Option<&str>, mv: Microversion) -> Result<Value, Error> {
    match availability_zone {
        None => Ok(json!({"unshelve": null})),
        Some(_) if mv < features::UNSHELVE_AZ => Err(Error::MicroversionTooOld {
            feature: "unshelving into an availability zone",
            needed: features::UNSHELVE_AZ,
            have: mv,
        }),
        Some(az) => Ok(json!({"unshelve": {"availability_zone": az}})),
    }
}

/// `{"migrate": {"host": …}}` from 2.56, `{"migrate": null}` without a host.
pub fn migrate_body(host: Option<&str>, mv: Microversion) -> Result<Value, Error> {
    match host {
        None => Ok(json!({"migrate": null})),
        Some(_) if mv < features::MIGRATE_HOST => Err(Error::MicroversionTooOld {
            feature: "cold migration to a chosen host",
            needed: features::MIGRATE_HOST,
            have: mv,
        }),
        Some(h) => Ok(json!({"migrate": {"host": h}})),
    }
}

/// `os-migrateLive`: from 2.25 `block_migration: "auto"` (Nova decides
/// between shared and block storage); before, explicit `false` and the
/// `disk_over_commit` flag that 2.25 removed.
pub fn live_migrate_body(host: Option<&str>, mv: Microversion) -> Value {
    if mv >= features::LIVE_MIGRATE_AUTO {
        json!({"os-migrateLive": {"host": host, "block_migration": "auto"}})
    } else {
        json!({"os-migrateLive": {"host": host, "block_migration": false, "disk_over_commit": false}})
    }
}

/// `PUT /servers/{id}` changing only the pinned AZ (2.104); `None` unpins.
pub fn update_pinned_az_body(availability_zone: Option<&str>) -> Value {
    json!({"server": {"pinned_availability_zone": availability_zone}})
}

impl Client {
    async fn action(&self, id: &str, body: &Value) -> Result<(), Error> {
        let req = self
            .compute_request(Method::POST, &["servers", id, "action"])
            .json(body)?;
        self.send(&req).await.map(drop)
    }

    /// `os-stop`: power the server off.
    pub async fn stop_server(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"os-stop": null})).await
    }

    /// `os-start`: power the server on.
    pub async fn start_server(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"os-start": null})).await
    }

    /// `shelve`: snapshot and stop (Nova may offload it right away).
    pub async fn shelve(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"shelve": null})).await
    }

    /// `shelveOffload`: free the host of a shelved server.
    pub async fn shelve_offload(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"shelveOffload": null})).await
    }

    /// `unshelve`, into `availability_zone` when given (2.77).
    pub async fn unshelve(&self, id: &str, availability_zone: Option<&str>) -> Result<(), Error> {
        let body = unshelve_body(availability_zone, self.microversion())?;
        self.action(id, &body).await
    }

    /// `migrate` (cold), to `host` when given (2.56). Ends in VERIFY_RESIZE.
    pub async fn migrate(&self, id: &str, host: Option<&str>) -> Result<(), Error> {
        let body = migrate_body(host, self.microversion())?;
        self.action(id, &body).await
    }

    /// `os-migrateLive`, to `host` when given, block migration decided by Nova.
    pub async fn live_migrate(&self, id: &str, host: Option<&str>) -> Result<(), Error> {
        let body = live_migrate_body(host, self.microversion());
        self.action(id, &body).await
    }

    /// `confirmResize`: accept a finished cold migration.
    pub async fn confirm_resize(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"confirmResize": null})).await
    }

    /// `revertResize`: undo a cold migration waiting in VERIFY_RESIZE; the
    /// server goes back to its source host.
    pub async fn revert_resize(&self, id: &str) -> Result<(), Error> {
        self.action(id, &json!({"revertResize": null})).await
    }

    /// Pins the server to `availability_zone`, or unpins it with `None` (2.104).
    pub async fn update_pinned_az(
        &self,
        id: &str,
        availability_zone: Option<&str>,
    ) -> Result<Server, Error> {
        self.require(
            "changing a server's pinned availability zone",
            features::UPDATE_PINNED_AZ,
        )?;
        let req = self
            .compute_request(Method::PUT, &["servers", id])
            .json(&update_pinned_az_body(availability_zone))?;
        self.send_parse(&req, parse_server).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_gated_bodies_refuse_old_microversions() {
        assert!(unshelve_body(Some("nova2"), Microversion::new(2, 76)).is_err());
        assert_eq!(
            unshelve_body(None, Microversion::new(2, 76)).expect("ok"),
            json!({"unshelve": null})
        );
        assert!(migrate_body(Some("h"), Microversion::new(2, 55)).is_err());
        assert_eq!(
            migrate_body(None, Microversion::new(2, 1)).expect("ok"),
            json!({"migrate": null})
        );
    }
}
