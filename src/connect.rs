//! The one place that turns "which cloud" (the command line's choice, the
//! plan's `cloud:`/`region:`, and the snapshot of the environment taken once
//! by the command line) into a connected [`Client`].
//!
//! With `--sim SCENARIO` it starts the built-in simulated cloud on
//! `127.0.0.1:<free port>` inside this process and logs in as the
//! scenario's first admin user (or the user named by `--sim-user`); the
//! simulator lives as long as the returned [`Connection`]. Everything after
//! connecting runs the same code over real HTTP either way.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use crate::openstack::{
    self, Client, ClientOptions, CloudConfig, CloudSelection, ConfigError, Env,
};
use crate::plan::file::Limits;
use crate::sim::{self, Scenario, ScenarioError, SimError, SimHandle};

/// Why no connection could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot load the simulator scenario: {0}")]
    Scenario(#[from] ScenarioError),
    #[error("cannot start the simulated cloud of {}: {source}", scenario.display())]
    Sim {
        scenario: PathBuf,
        #[source]
        source: SimError,
    },
    #[error("the scenario {} has no user `{user}`; its users are: {}", scenario.display(), known.join(", "))]
    SimUser {
        scenario: PathBuf,
        user: String,
        known: Vec<String>,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot connect to {origin}: {source}")]
    Client {
        origin: String,
        #[source]
        source: openstack::Error,
    },
}

/// The cloud the command line asked for (`--os-cloud`, `--sim`,
/// `--sim-user`), with what it is resolved against.
#[derive(Debug, Clone, Default)]
pub struct CloudChoice {
    /// The clouds.yaml entry; overrides the plan's `cloud:` and OS_CLOUD.
    pub os_cloud: Option<String>,
    /// The scenario of the built-in simulated cloud to run instead.
    pub sim: Option<PathBuf>,
    /// Log in to the simulator as this user instead of its first admin.
    pub sim_user: Option<String>,
    /// The environment snapshot (the only view of the environment azmove has).
    pub env: Env,
    /// The working directory, first place `clouds.yaml` is looked for.
    pub cwd: PathBuf,
}

/// What to connect to: the command line's choice and the plan's.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub cloud: &'a CloudChoice,
    /// The plan's `cloud:` and `region:`.
    pub plan_cloud: Option<&'a str>,
    pub plan_region: Option<&'a str>,
}

/// A connected client, and the simulator behind it when `--sim` was given.
#[derive(Debug)]
pub struct Connection {
    pub client: Client,
    sim: Option<SimHandle>,
}

impl Connection {
    /// The simulated cloud, when connected to one.
    pub fn sim(&self) -> Option<&SimHandle> {
        self.sim.as_ref()
    }

    /// Stop the simulator (if any) cleanly.
    pub async fn shutdown(self) {
        if let Some(sim) = self.sim {
            sim.shutdown().await;
        }
    }
}

/// The client paces requests this much below `requests_per_second`: they
/// leave exactly one period apart, so network and scheduling jitter (tens of
/// milliseconds on a busy machine) would otherwise let the cloud's own
/// one-second window count one request too many.
pub const RATE_GUARD: f64 = 0.95;

/// Client settings that follow the plan's limits.
pub fn client_options(limits: &Limits) -> ClientOptions {
    let rps = limits.requests_per_second;
    ClientOptions {
        requests_per_second: (rps.is_finite() && rps > 0.0).then_some(rps * RATE_GUARD),
        ..ClientOptions::default()
    }
}

/// Resolve the cloud and connect (or start the simulator and connect to it).
pub async fn connect(
    target: &Target<'_>,
    options: ClientOptions,
) -> Result<Connection, ConnectError> {
    let (config, sim) = match &target.cloud.sim {
        Some(scenario_path) => {
            let (config, handle) =
                start_sim(scenario_path, target.cloud.sim_user.as_deref()).await?;
            (config, Some(handle))
        }
        None => {
            let selection = CloudSelection {
                os_cloud: target.cloud.os_cloud.clone(),
                plan_cloud: target.plan_cloud.map(str::to_string),
                plan_region: target.plan_region.map(str::to_string),
                search_dirs: CloudSelection::standard_search_dirs(
                    &target.cloud.cwd,
                    &target.cloud.env,
                ),
            };
            (openstack::resolve(&selection, &target.cloud.env)?, None)
        }
    };
    let origin = config.origin.clone();
    let client = Client::connect(config, options)
        .await
        .map_err(|source| ConnectError::Client { origin, source })?;
    Ok(Connection { client, sim })
}

async fn start_sim(
    path: &Path,
    user: Option<&str>,
) -> Result<(CloudConfig, SimHandle), ConnectError> {
    let scenario = Scenario::load(path)?;
    let bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let handle = sim::start(scenario, bind)
        .await
        .map_err(|source| ConnectError::Sim {
            scenario: path.to_path_buf(),
            source,
        })?;
    let Some(creds) = handle.credentials(user) else {
        return Err(ConnectError::SimUser {
            scenario: path.to_path_buf(),
            user: user.unwrap_or("(an admin)").to_string(),
            known: handle.users(),
        });
    };
    tracing::info!(
        auth_url = creds.auth_url.as_str(),
        user = creds.username.as_str(),
        admin = creds.is_admin,
        "started the simulated cloud of {}",
        path.display()
    );
    let mut config = CloudConfig::password(
        creds.auth_url.clone(),
        creds.username.clone(),
        creds.password.expose_secret().to_string(),
        creds.project.clone(),
        creds.domain.clone(),
    )
    .with_region(creds.region.clone());
    config.origin = format!(
        "the simulated cloud of {} (user {})",
        path.display(),
        creds.username
    );
    Ok((config, handle))
}
