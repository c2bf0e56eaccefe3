//! The OpenStack HTTP client: configuration (clouds.yaml, OS_*), Keystone v3
//! auth, service catalog, microversions, and the calls azmove makes.
//!
//! A thin client, not an SDK: it knows exactly the calls azmove needs and
//! returns the planner's model types (`crate::plan::inventory`). Wire types
//! matching OpenStack's JSON stay private to the service modules; the
//! `parse_*` functions are public so that tests can run the real upstream
//! samples through them. Every request goes through one transport
//! (`transport`): rate limit, retries, timeouts, error extraction.

pub mod auth;
pub mod catalog;
pub mod client;
pub mod compute;
pub mod config;
pub mod error;
pub mod image;
pub mod microversion;
pub mod network;
pub mod paging;
pub mod transport;
pub mod volume;

pub use client::Client;
pub use compute::{
    CreateServer, Hypervisor, NetworkAttachment, Networks, ServerGroup, ServerInterface,
    ServerMigration, ServerQuery, ServerVolume,
};
pub use config::{
    AppCredentialRef, AuthMethod, CloudConfig, CloudSelection, ConfigError, DomainRef, Env,
    Interface, ProjectRef, Scope, TlsConfig, UserRef, env_from_process, resolve,
};
pub use error::{ApiError, Error, Service};
pub use image::ImageQuery;
pub use microversion::{AZMOVE_MAX_MICROVERSION, VersionRange};
pub use network::{FloatingIp, Network, PortInfo, PortQuery, SecurityGroup};
pub use paging::Page;
pub use transport::{ClientOptions, RateLimit};
pub use volume::{Volume, VolumeAttachment};
