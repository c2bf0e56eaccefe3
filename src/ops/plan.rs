//! `azmove plan`: read the plan file once, connect, observe the cloud in
//! bulk, plan (pure), render to stdout. Logs go to stderr. `apply` of a plan
//! file goes through [`make_plan`] too.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::claims::{claims_markdown, claims_on_plan, claims_text};
use crate::apply::claims::local::ThisMachine;
use crate::connect::{self, CloudChoice, ConnectError, Connection, Target};
use crate::exit::Exit;
use crate::observe::{ObserveError, observe};
use crate::plan::changeset::Changeset;
use crate::plan::file::PlanFile;
use crate::plan::inventory::Inventory;
use crate::plan::parse::{MAX_PLAN_BYTES, PlanErrors};
use crate::plan::planner;
use crate::plan::validate::validate_bytes;
use crate::render::{self, Colors, OutputFormat};
use crate::yaml::read_source;

/// What `azmove plan` was asked.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    pub file: PathBuf,
    pub cloud: CloudChoice,
    pub format: OutputFormat,
    /// Save the plan (as JSON) here.
    pub out: Option<PathBuf>,
    /// Exit 2 when there are changes.
    pub detailed_exitcode: bool,
    /// Do not exit 3 for blocked entries.
    pub allow_blocked: bool,
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The diagnostics are rendered by [`report_error`], with source snippets.
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

/// A valid plan file, as read from disk.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub plan: PlanFile,
    /// The file's name as given, for messages and the changeset.
    pub name: String,
    /// sha256 (hex) of the file's bytes.
    pub digest: String,
}

/// Read and validate a plan file.
pub fn load(path: &Path) -> Result<Loaded, PlanErrors> {
    let bytes = read_source(path, MAX_PLAN_BYTES)?;
    parse(path.display().to_string(), &bytes)
}

/// Validate the bytes of the plan file called `name` (already read).
pub fn parse(name: String, bytes: &[u8]) -> Result<Loaded, PlanErrors> {
    let report = validate_bytes(&name, bytes);
    match report.plan {
        Some(plan) if report.diagnostics.is_empty() => Ok(Loaded {
            plan,
            name,
            digest: hex::encode(Sha256::digest(bytes)),
        }),
        _ => Err(PlanErrors {
            file: name,
            diagnostics: report.diagnostics,
        }),
    }
}

/// Everything `azmove plan` does before rendering: load, connect, observe,
/// plan.
pub async fn make_plan(path: &Path, cloud: &CloudChoice) -> Result<Planned, PlanError> {
    plan_loaded(load(path).map_err(PlanError::Load)?, cloud).await
}

/// Connect, observe and plan a plan file already read. `--os-cloud` names
/// the cloud the plan is made for, over the plan's own `cloud:`: the
/// planner is given the plan with that cloud.
pub async fn plan_loaded(loaded: Loaded, cloud: &CloudChoice) -> Result<Planned, PlanError> {
    let Loaded {
        mut plan,
        name,
        digest,
    } = loaded;
    let target = Target {
        cloud,
        plan_cloud: plan.cloud.as_deref(),
        plan_region: plan.region.as_deref(),
    };
    let connection = connect::connect(&target, connect::client_options(&plan.limits)).await?;
    // The plan is made for the cloud it was connected to.
    if cloud.os_cloud.is_some() {
        plan.cloud.clone_from(&cloud.os_cloud);
    }
    let started = Instant::now();
    let inventory = observe(&connection.client, &plan).await?;
    let observed = started.elapsed();
    let changeset = planner::plan(&plan, &name, &digest, &inventory);
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

/// Print an error of [`make_plan`] on stderr, the way users should see it.
pub fn report_error(e: &PlanError, colors: Colors) {
    match e {
        PlanError::Load(errors) => super::plan_errors(errors, colors),
        other => super::error(format_args!("{other}")),
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

pub fn run(settings: &PlanSettings, colors: Colors) -> Exit {
    let Some(runtime) = super::runtime(Some(2)) else {
        return Exit::Failure;
    };
    let result = runtime.block_on(async {
        let Planned {
            changeset,
            connection,
            ..
        } = make_plan(&settings.file, &settings.cloud).await?;
        let claims = claims_on_plan(&connection.client, &changeset, &ThisMachine::detect()).await;
        connection.shutdown().await;
        Ok::<_, PlanError>((changeset, claims))
    });
    let (changeset, claims) = match result {
        Ok(cs) => cs,
        Err(e) => {
            report_error(&e, colors);
            return Exit::Failure;
        }
    };

    if let Some(out) = &settings.out {
        if let Err(e) = std::fs::write(out, render::json::render(&changeset)) {
            super::error(format_args!(
                "cannot write the plan to {}: {e}",
                out.display()
            ));
            return Exit::Failure;
        }
        eprintln!(
            "Saved the plan to {}; review it with `azmove show {}`, apply it with `azmove apply {}`.",
            out.display(),
            out.display(),
            out.display()
        );
    }
    let color = settings.format == OutputFormat::Text && colors.stdout;
    let mut text = render::render(&changeset, settings.format, color);
    match (&claims, settings.format) {
        (Ok(notes), _) if notes.is_empty() => {}
        (Ok(notes), OutputFormat::Text) => text.push_str(&claims_text(notes, color)),
        (Ok(notes), OutputFormat::Markdown) => text.push_str(&claims_markdown(notes)),
        // The JSON output is the saved plan, whose schema has no place for
        // claims (they change by the second, a saved plan is reviewed for
        // days): people reading it still learn of them, on stderr.
        (Ok(notes), OutputFormat::Json) => {
            use std::io::Write;
            let _ = write!(colors.stderr(), "{}", claims_text(notes, colors.stderr));
        }
        (Err(e), _) => super::error(format_args!(
            "could not read the claims of azmove runs on the plan's servers (the plan itself is complete): {e}"
        )),
    }
    if let Err(e) = super::print(&text, colors) {
        super::error(format_args!("cannot write the plan to stdout: {e}"));
        return Exit::Failure;
    }
    exit_status(
        &changeset,
        settings.detailed_exitcode,
        settings.allow_blocked,
    )
}
