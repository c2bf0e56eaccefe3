//! Server groups: the affinity rules a replacement must join.

use serde::{Deserialize, Serialize};

/// A server group (affinity rules the replacement must join).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerGroup {
    pub id: String,
    pub name: String,
    /// `affinity`, `anti-affinity`, `soft-…` (from `policy`, 2.64, or the
    /// first of `policies` before).
    pub policy: Option<String>,
    /// Server ids.
    pub members: Vec<String>,
}

#[derive(Deserialize)]
struct ServerGroupsWire {
    server_groups: Vec<ServerGroupWire>,
}

#[derive(Deserialize)]
struct ServerGroupWire {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    members: Vec<String>,
}

/// Parses `GET /os-server-groups`.
pub fn parse_server_groups(body: &[u8]) -> Result<Vec<ServerGroup>, serde_json::Error> {
    let wire: ServerGroupsWire = serde_json::from_slice(body)?;
    Ok(wire
        .server_groups
        .into_iter()
        .map(|g| ServerGroup {
            id: g.id,
            name: g.name,
            policy: g.policy.or_else(|| g.policies.into_iter().next()),
            members: g.members,
        })
        .collect())
}
