//! The embedded simulated cloud: a fake OpenStack (Keystone, Nova, Glance,
//! Neutron, Cinder) speaking the real HTTP APIs on loopback, so azmove's
//! real client — or the `openstack` CLI — runs against it unchanged.
//!
//! It builds every answer from its own model ([`model`]); it shares no
//! types with the client in `crate::openstack`, so a wrong field name on
//! one side cannot hide behind the same struct on the other. The upstream
//! API samples and the real cloud are the referees. See docs/simulator.md.
//!
//! ```no_run
//! # async fn demo() -> Result<(), azmove::sim::SimError> {
//! let scenario = azmove::sim::Scenario::load("plans/seed-cloud.yaml")?;
//! let sim = azmove::sim::start(scenario, "127.0.0.1:0".parse().unwrap()).await?;
//! let creds = sim.credentials(None).expect("the scenario has an admin");
//! println!("{} as {}", sim.auth_url(), creds.username);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod clock;
pub mod errors;
pub mod faults;
pub mod lifecycle;
pub mod model;
pub mod moves;
pub mod scenario;
pub mod stats;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use errors::SimError;
pub use scenario::{Scenario, ScenarioError};
pub use stats::Stats;

use lifecycle::Env;
use model::Model;

/// The running cloud shared by all request handlers.
#[derive(Debug)]
pub struct Sim {
    pub env: Env,
    model: Mutex<Model>,
    /// Delay added to every answer (`timings.api_latency`).
    pub api_latency: Duration,
    /// Keystone's URL, for `WWW-Authenticate`.
    pub identity_url: String,
    /// Highest compute microversion accepted.
    pub max_microversion: (u16, u16),
}

impl Sim {
    /// Build the cloud of a scenario, to be served at `base_url`.
    pub fn new(scenario: &Scenario, base_url: &str) -> Result<Sim, SimError> {
        let invalid = |message: String| SimError::Model {
            scenario: scenario.display_name(),
            message,
        };
        let clock = clock::Clock::new(scenario.time_scale);
        let faults = faults::Faults::new(&scenario.faults, scenario.seed).map_err(invalid)?;
        let model = Model::from_scenario(scenario, base_url, clock.now()).map_err(invalid)?;
        Ok(Sim {
            env: Env {
                clock,
                stats: Mutex::new(stats::Collector::default()),
                faults: Mutex::new(faults),
            },
            api_latency: scenario.timings.api_latency,
            identity_url: model.cfg.identity_url(),
            max_microversion: model.cfg.max_microversion,
            model: Mutex::new(model),
        })
    }

    /// The model, brought up to date with the clock.
    pub fn lock(&self) -> MutexGuard<'_, Model> {
        let mut m = self.model.lock().unwrap_or_else(|e| e.into_inner());
        m.advance(self.env.clock.now(), &self.env);
        m
    }

    pub fn stats(&self) -> Stats {
        // Bring operations up to date before reading the counters.
        drop(self.lock());
        self.env.stats().snapshot()
    }
}

/// Credentials of one scenario user, ready for an OpenStack client.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub auth_url: String,
    pub region: String,
    pub username: String,
    pub password: SecretString,
    pub project: String,
    /// User and project domain name (always `Default`).
    pub domain: String,
    pub is_admin: bool,
}

/// A simulator serving on loopback; stops when shut down or dropped.
#[derive(Debug)]
pub struct SimHandle {
    sim: Arc<Sim>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Start serving `scenario` on `bind` (use `127.0.0.1:0` for a free port).
pub async fn start(scenario: Scenario, bind: SocketAddr) -> Result<SimHandle, SimError> {
    if !bind.ip().is_loopback() {
        return Err(SimError::NotLoopback { addr: bind });
    }
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| SimError::Bind { addr: bind, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr: bind, source })?;
    let base_url = format!("http://{addr}");
    let sim = Arc::new(Sim::new(&scenario, &base_url)?);
    let app = api::router(sim.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!("simulator stopped with an error: {e}");
        }
    });
    Ok(SimHandle {
        sim,
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: every service lives under it.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Keystone v3, for `OS_AUTH_URL`.
    pub fn auth_url(&self) -> String {
        format!("{}/identity/v3", self.base_url())
    }

    /// The region of every endpoint in the catalog.
    pub fn region(&self) -> String {
        self.sim.lock().cfg.region.clone()
    }

    /// Credentials of `user`, or of the first admin user when `None`.
    pub fn credentials(&self, user: Option<&str>) -> Option<Credentials> {
        let m = self.sim.lock();
        let idx = match user {
            Some(name) => m.users.iter().position(|u| u.name == name)?,
            None => m
                .first_admin_user()
                .or(if m.users.is_empty() { None } else { Some(0) })?,
        };
        let u = &m.users[idx];
        Some(Credentials {
            auth_url: self.auth_url(),
            region: m.cfg.region.clone(),
            username: u.name.clone(),
            password: u.password.clone(),
            project: m.projects[u.project].name.clone(),
            domain: "Default".to_owned(),
            is_admin: u.roles.iter().any(|r| r == "admin"),
        })
    }

    /// Names of the scenario's users, admins first.
    pub fn users(&self) -> Vec<String> {
        let m = self.sim.lock();
        let mut users: Vec<_> = m
            .users
            .iter()
            .map(|u| (!u.roles.iter().any(|r| r == "admin"), u.name.clone()))
            .collect();
        users.sort_by_key(|(not_admin, _)| *not_admin);
        users.into_iter().map(|(_, n)| n).collect()
    }

    /// Counters so far (same as `GET /_sim/stats`).
    pub fn stats(&self) -> Stats {
        self.sim.stats()
    }

    /// Move the simulator's clock forward, as if `by` had passed.
    pub fn advance_clock(&self, by: Duration) {
        self.sim.env.clock.advance(by);
    }

    /// Direct access to the simulated cloud (for tests that inspect it).
    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }

    /// Stop serving and wait until the server has stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            // Graceful shutdown waits for idle keep-alive connections of
            // clients that are still alive; do not wait for those forever.
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
