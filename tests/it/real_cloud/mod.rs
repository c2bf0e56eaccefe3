//! The tests against a real OpenStack control plane (`tests/cloud/cloud up`).
//! Every test here is `#[ignore]`d, so `cargo test` lists them as ignored;
//! tests/cloud/ci.sh runs exactly this module with `--include-ignored` and
//! `AZMOVE_REAL_CLOUD_REQUIRED=1`, so that a missing cloud fails them.

mod concurrent;
mod conformance;
mod end_to_end;
mod strategies;

mod e2e;
mod os_http;
