//! Nova: servers, their actions, availability zones, flavors, limits.
//!
//! Wire types mirror Nova's JSON and stay private; the calls return the
//! planner's model (`crate::plan::inventory`) or the small types of these
//! modules. Where a body depends on the microversion the function says which.

mod actions;
mod attachments;
mod create;
mod flavors;
mod groups;
mod migrations;
mod server;
mod snapshot;
mod zones;

pub use actions::{live_migrate_body, migrate_body, unshelve_body, update_pinned_az_body};
pub(crate) use attachments::FixedIpWire;
pub use attachments::{ServerInterface, ServerVolume, parse_interfaces, parse_volume_attachments};
pub use create::{
    CreateServer, NetworkAttachment, Networks, create_server_body, parse_created_server,
};
pub use flavors::{parse_flavor_list, parse_limits};
pub use groups::{ServerGroup, parse_server_groups};
pub use migrations::{ServerMigration, parse_server_migrations};
pub use server::{ServerQuery, parse_server, parse_server_list};
pub use snapshot::{create_image_body, created_image_id};
pub use zones::{Hypervisor, parse_availability_zones};

/// Nova writes `""` where it means "none".
fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.is_empty())
}
