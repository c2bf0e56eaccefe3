//! `azmove plan`: load the plan file, connect, observe the cloud in bulk,
//! plan (pure), render to stdout. Logs go to stderr.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::apply::Cloud;
use crate::apply::claims::local::ThisMachine;
use crate::apply::claims::rules::{self, Claim, Liveness, LocalProcesses, RunRecord};
use crate::apply::claims::{DEFAULT_LEASE, describe_record, read_liveness};
use crate::cli::{CloudArgs, ColorChoice, GlobalArgs, OutputFormat, PlanArgs};
use crate::connect::{self, ConnectError, Connection, Target};
use crate::exit::Exit;
use crate::observe::{ObserveError, observe};
use crate::openstack::{Env, Error, env_from_process};
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
        let claims = claims_on_plan(&connection.client, &changeset, &ThisMachine::detect()).await;
        connection.shutdown().await;
        Ok::<_, PlanError>((changeset, claims))
    });
    let (changeset, claims) = match result {
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
    let mut text = render::render(&changeset, args.format, color);
    match (&claims, args.format) {
        (Ok(notes), _) if notes.is_empty() => {}
        (Ok(notes), OutputFormat::Text) => text.push_str(&claims_text(notes, color)),
        (Ok(notes), OutputFormat::Markdown) => text.push_str(&claims_markdown(notes)),
        // The JSON output is the saved plan, whose schema has no place for
        // claims (they change by the second, a saved plan is reviewed for
        // days): people reading it still learn of them, on stderr.
        (Ok(notes), OutputFormat::Json) => eprint!("{}", claims_text(notes, err_color)),
        (Err(e), _) => eprintln!(
            "azmove: could not read the claims of azmove runs on the plan's servers (the plan itself is complete): {e}"
        ),
    }
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

/// A claim of an azmove run on one of the plan's servers, as `plan` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNote {
    /// The server's name and id as the plan observed them.
    pub server_name: String,
    pub server_id: String,
    pub run: String,
    /// When the claim was made (Glance's `created_at`, the cloud's clock).
    pub since: String,
    pub liveness: Liveness,
    /// "alice on build-7, plan plans/drain.yaml", when the run record says.
    pub who: String,
}

/// The claims on the servers of `cs` (every move that found its server:
/// those it would move, and those it reports unchanged or blocked, a
/// server busy with another run's move among them).
///
/// Glance filters on a property's value, never on its presence, so claims
/// could only be found server by server; every claim record also carries
/// `azmove_record=claim` so that one list finds them all, whatever the size
/// of the plan. Then one list of run records says who runs them, and one
/// liveness read per run found tells alive from dead — with the code the
/// claim protocol itself uses, so that plan never disagrees with apply.
pub async fn claims_on_plan(
    cloud: &dyn Cloud,
    cs: &Changeset,
    local: &(dyn LocalProcesses + Sync),
) -> Result<Vec<ClaimNote>, Error> {
    let mut servers: HashMap<&str, (usize, &str)> = HashMap::new();
    for (i, s) in cs
        .moves
        .iter()
        .filter_map(|m| m.source.as_ref())
        .enumerate()
    {
        servers.entry(s.id.as_str()).or_insert((i, s.name.as_str()));
    }
    if servers.is_empty() {
        return Ok(Vec::new());
    }
    let (images, _) = cloud.hidden_records(rules::RECORD, "claim").await?;
    // One line per server and run, however many records a run has on it
    // (a run may write one per attempt), dated by its first.
    let mut by_server_run: BTreeMap<(usize, String), Claim> = BTreeMap::new();
    for c in images.iter().filter_map(Claim::from_image) {
        let Some((order, _)) = servers.get(c.server_id.as_str()) else {
            continue;
        };
        let key = (*order, c.run.clone());
        match by_server_run.get(&key) {
            Some(earlier) if earlier.created_at <= c.created_at => {}
            _ => {
                by_server_run.insert(key, c);
            }
        }
    }
    if by_server_run.is_empty() {
        return Ok(Vec::new());
    }
    let (images, _) = cloud.hidden_records(rules::RECORD, "run").await?;
    let mut who: HashMap<String, String> = HashMap::new();
    for r in images.iter().filter_map(RunRecord::from_image) {
        let words = describe_record(&r);
        if !words.is_empty() {
            who.entry(r.run).or_insert(words);
        }
    }
    let mut liveness: HashMap<String, Liveness> = HashMap::new();
    for (_, run) in by_server_run.keys() {
        if !liveness.contains_key(run) {
            let l = read_liveness(cloud, run, DEFAULT_LEASE, local).await?;
            liveness.insert(run.clone(), l);
        }
    }
    let mut notes: Vec<ClaimNote> = by_server_run
        .into_iter()
        .map(|((_, run), c)| {
            let name = servers
                .get(c.server_id.as_str())
                .map(|(_, n)| n.to_string())
                .unwrap_or_default();
            ClaimNote {
                server_name: name,
                server_id: c.server_id,
                liveness: liveness[&run].clone(),
                who: who.get(&run).cloned().unwrap_or_default(),
                since: c.created_at,
                run,
            }
        })
        .collect();
    // Plan order, then the oldest claim first (the one apply defers to).
    notes.sort_by(|a, b| {
        let order = |n: &ClaimNote| servers.get(n.server_id.as_str()).map(|(i, _)| *i);
        (order(a), &a.since, &a.run).cmp(&(order(b), &b.since, &b.run))
    });
    Ok(notes)
}

/// What a claim means for the next apply, in one sentence after the server.
fn claim_words(n: &ClaimNote, code: impl Fn(&str) -> String) -> String {
    let who = |sep: &str| {
        if n.who.is_empty() {
            String::new()
        } else {
            format!("{sep}{}", n.who)
        }
    };
    let since = if n.since.is_empty() {
        String::new()
    } else {
        format!(" — since {}", n.since)
    };
    match &n.liveness {
        Liveness::Alive { beat_age } => format!(
            "claimed by run {} — alive, heartbeat {} ago{}{since}",
            n.run,
            humantime::format_duration(std::time::Duration::from_secs(beat_age.as_secs())),
            if n.who.is_empty() {
                String::new()
            } else {
                format!(" ({})", n.who)
            },
        ),
        Liveness::Dead { why } => format!(
            "claimed by run {} — dead ({why}{}){since}; the next apply takes it over, or run {}",
            n.run,
            who("; "),
            code(&format!("azmove unlock {}", n.run)),
        ),
    }
}

/// The Claims section of the text output (empty when there are none).
pub fn claims_text(notes: &[ClaimNote], color: bool) -> String {
    use owo_colors::OwoColorize;
    if notes.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let head =
        "Claims (a server claimed by a live azmove run is left alone by apply, reported busy):";
    let _ = writeln!(out);
    if color {
        let _ = writeln!(out, "{}", head.bold());
    } else {
        let _ = writeln!(out, "{head}");
    }
    for n in notes {
        let words = claim_words(n, |c| format!("`{c}`"));
        let words = match (&n.liveness, color) {
            (Liveness::Alive { .. }, true) => words.yellow().to_string(),
            (Liveness::Dead { .. }, true) => words.dimmed().to_string(),
            _ => words,
        };
        let _ = writeln!(out, "  {} ({}): {words}", n.server_name, n.server_id);
    }
    out
}

/// The Claims section of the Markdown output (empty when there are none).
pub fn claims_markdown(notes: &[ClaimNote]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let _ = writeln!(out, "#### Claims");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "A server claimed by a live azmove run is left alone by apply (reported busy)."
    );
    let _ = writeln!(out);
    for n in notes {
        let _ = writeln!(
            out,
            "- {} ({}): {}",
            md_code(&n.server_name),
            n.server_id,
            claim_words(n, md_code)
        );
    }
    let _ = writeln!(out);
    out
}

/// Inline code that survives backticks in the text.
fn md_code(s: &str) -> String {
    let fence = if s.contains('`') { "``" } else { "`" };
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}
