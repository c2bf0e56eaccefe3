//! A server's in-progress migrations (2.23), and aborting a live one (2.24).

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::openstack::client::Client;
use crate::openstack::error::Error;
use crate::openstack::microversion::features;

/// An in-progress migration of a server (`/servers/{id}/migrations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMigration {
    pub id: u64,
    pub uuid: Option<String>,
    pub status: String,
    pub source_compute: Option<String>,
    pub dest_compute: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Deserialize)]
struct MigrationsWire {
    migrations: Vec<MigrationWire>,
}

#[derive(Deserialize)]
struct MigrationWire {
    id: u64,
    #[serde(default)]
    uuid: Option<String>,
    status: String,
    #[serde(default)]
    source_compute: Option<String>,
    #[serde(default)]
    dest_compute: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

/// Parses `GET /servers/{id}/migrations`.
pub fn parse_server_migrations(body: &[u8]) -> Result<Vec<ServerMigration>, serde_json::Error> {
    let wire: MigrationsWire = serde_json::from_slice(body)?;
    Ok(wire
        .migrations
        .into_iter()
        .map(|m| ServerMigration {
            id: m.id,
            uuid: m.uuid,
            status: m.status,
            source_compute: m.source_compute,
            dest_compute: m.dest_compute,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
        .collect())
}

impl Client {
    /// In-progress migrations of a server (2.23).
    pub async fn list_server_migrations(&self, id: &str) -> Result<Vec<ServerMigration>, Error> {
        self.require(
            "listing a server's migrations",
            features::LIST_SERVER_MIGRATIONS,
        )?;
        let req = self.compute_request(Method::GET, &["servers", id, "migrations"]);
        self.send_parse(&req, parse_server_migrations).await
    }

    /// Aborts a running live migration (2.24).
    pub async fn abort_migration(&self, id: &str, migration_id: u64) -> Result<(), Error> {
        self.require("aborting a live migration", features::ABORT_MIGRATION)?;
        let mid = migration_id.to_string();
        let req = self.compute_request(Method::DELETE, &["servers", id, "migrations", &mid]);
        self.send(&req).await.map(drop)
    }
}
