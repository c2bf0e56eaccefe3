//! `azmove plan`: load the plan file, connect, observe the cloud in bulk,
//! plan (pure), render to stdout. Logs go to stderr.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::cli::{CloudArgs, ColorChoice, GlobalArgs, OutputFormat, PlanArgs};
use crate::connect::{self, ConnectError, Connection, Target};
use crate::exit::Exit;
use crate::observe::{ObserveError, observe};
use crate::openstack::{Env, env_from_process};
use crate::plan::changeset::Changeset;
use crate::plan::file::PlanFile;
use crate::plan::inventory::Inventory;
use crate::plan::planner;
use crate::plan::validate::validate_bytes;
use crate::plan::yaml::{MAX_PLAN_BYTES, PlanErrors, read_source};
use crate::render;

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The diagnostics are rendered by the caller, with source snippets.
    #[error("{0}")]
    Load(PlanErrors),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Observe(#[from] ObserveError),
}

/// A plan made against the live cloud, with the connection it used (apply
/// goes on with the same connection).
pub struct Planned {
    pub plan: PlanFile,
    pub changeset: Changeset,
    /// What was observed (apply starts its polling from it).
    pub inventory: Inventory,
    pub connection: Connection,
}

/// Counts only: the inventory holds servers' user data, which may be secret.
impl std::fmt::Debug for Planned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planned")
            .field("plan_path", &self.changeset.plan_path)
            .field("summary", &self.changeset.summary)
            .field("servers_observed", &self.inventory.servers.len())
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

/// Read and validate a plan file; also returns the sha256 (hex) of its bytes.
pub fn load(path: &Path) -> Result<(PlanFile, String), PlanErrors> {
    let name = path.display().to_string();
    let bytes = read_source(path, MAX_PLAN_BYTES)?;
    let report = validate_bytes(&name, &bytes);
    match report.plan {
        Some(plan) if report.diagnostics.is_empty() => {
            Ok((plan, hex::encode(Sha256::digest(&bytes))))
        }
        _ => Err(PlanErrors {
            file: name,
            diagnostics: report.diagnostics,
        }),
    }
}

/// Everything `azmove plan` does before rendering: load, connect, observe,
/// plan. `sim_user` overrides `--sim-user`.
pub async fn make_plan(
    path: &Path,
    cloud: &CloudArgs,
    sim_user: Option<&str>,
    env: &Env,
    cwd: &Path,
) -> Result<Planned, PlanError> {
    let (plan, digest) = load(path).map_err(PlanError::Load)?;
    let target = Target {
        cloud,
        plan_cloud: plan.cloud.as_deref(),
        plan_region: plan.region.as_deref(),
        sim_user: sim_user.or(cloud.sim_user.as_deref()),
        env,
        cwd,
    };
    let connection = connect::connect(&target, connect::client_options(&plan.limits)).await?;
    let started = Instant::now();
    let inventory = observe(&connection.client, &plan).await?;
    let observed = started.elapsed();
    let mut changeset = planner::plan(&plan, &path.display().to_string(), &digest, &inventory);
    if cloud.os_cloud.is_some() {
        changeset.cloud = cloud.os_cloud.clone();
    }
    tracing::info!(
        servers = inventory.servers.len(),
        moves = changeset.moves.len(),
        requests = connection.client.requests_sent(),
        observe_ms = observed.as_millis() as u64,
        plan_ms = (started.elapsed() - observed).as_millis() as u64,
        "planned"
    );
    Ok(Planned {
        plan,
        changeset,
        inventory,
        connection,
    })
}

/// Whether to colour text written to stdout.
pub fn stdout_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal(),
    }
}

/// Print an error of `make_plan` on stderr, the way users should see it.
pub fn report_error(e: &PlanError, color: bool) {
    match e {
        PlanError::Load(errors) => eprint!("{}", errors.render(color)),
        other => eprintln!("azmove: {other}"),
    }
}

/// The exit status of a plan, by the rules in docs/exit-codes.md.
pub fn exit_status(cs: &Changeset, detailed: bool, allow_blocked: bool) -> Exit {
    if cs.summary.blocked > 0 && !allow_blocked {
        Exit::Blocked
    } else if detailed && cs.summary.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    }
}

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> Exit {
    crate::logging::init(global);
    let err_color = match global.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stderr().is_terminal(),
    };
    let env = env_from_process();
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("azmove: cannot start the async runtime: {e}");
            return Exit::Failure;
        }
    };
    let result = runtime.block_on(async {
        let planned = make_plan(&args.file, &args.cloud, None, &env, &cwd).await?;
        let Planned {
            changeset,
            connection,
            ..
        } = planned;
        connection.shutdown().await;
        Ok::<_, PlanError>(changeset)
    });
    let changeset = match result {
        Ok(cs) => cs,
        Err(e) => {
            report_error(&e, err_color);
            return Exit::Failure;
        }
    };

    if let Some(out) = &args.out {
        if let Err(e) = std::fs::write(out, render::json::render(&changeset)) {
            eprintln!("azmove: cannot write the plan to {}: {e}", out.display());
            return Exit::Failure;
        }
        eprintln!(
            "Saved the plan to {}; review it with `azmove show {}`, apply it with `azmove apply {}`.",
            out.display(),
            out.display(),
            out.display()
        );
    }
    let color = args.format == OutputFormat::Text && stdout_color(global.color);
    let text = render::render(&changeset, args.format, color);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("azmove: cannot write the plan to stdout: {e}");
        return Exit::Failure;
    }
    exit_status(&changeset, args.detailed_exitcode, args.allow_blocked)
}
