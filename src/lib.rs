//! azmove moves OpenStack servers between availability zones, declaratively.
//!
//! The crate is laid out by concept: [`plan`] is the pure core (plan file,
//! validation, planner), [`openstack`] the HTTP client, [`observe`] the edge
//! that reads the cloud in bulk, [`apply`] the engine, [`sim`] the embedded
//! simulated cloud, [`render`] the output formats, [`ops`] what each command
//! does, and [`cli`] the command line (the only place that sees clap or
//! reads the environment).

pub mod apply;
pub mod bench;
pub mod cli;
pub mod connect;
pub mod exit;
pub mod logging;
pub mod observe;
pub mod openstack;
pub mod ops;
pub mod plan;
pub mod render;
pub mod sim;
pub mod yaml;
