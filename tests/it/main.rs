//! azmove's integration tests, in one binary: each module was a test file
//! of its own, and linking axum, reqwest and tokio into ~30 binaries cost
//! more than running them. One process means shared process state: no test
//! changes the environment, the current directory or the global tracing
//! subscriber beyond `try_init`, and every simulator binds its own port.
//!
//! ```text
//! cargo test --test it                      # all of them (real-cloud ones ignored)
//! cargo test --test it sim_compute::        # one module
//! cargo test --test it real_cloud:: -- --include-ignored   # against tests/cloud/cloud up
//! ```

mod support;

mod apply_concurrent;
mod apply_crash;
mod apply_faults;
mod apply_interrupt;
mod apply_limits;
mod apply_saved;
mod apply_seed;
mod apply_strategies;
mod architecture;
mod claims_cli;
mod diff;
mod openstack_config;
mod openstack_http;
mod openstack_samples;
mod plan_converge;
mod plan_scale;
mod plan_schema;
mod plan_sim;
mod real_cloud;
mod schema;
mod sim_auth;
mod sim_compute;
mod sim_conflicts;
mod sim_faults;
mod sim_lifecycle;
mod sim_native_moves;
mod sim_network_image_volume;
mod sim_scale;
mod sim_scenarios;
mod sim_stats;
mod validate;
