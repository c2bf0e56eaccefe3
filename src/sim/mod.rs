//! The embedded simulated cloud: a fake OpenStack speaking the real HTTP APIs.
