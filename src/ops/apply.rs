//! `azmove apply PLANFILE` plans against the live cloud, shows the plan and
//! asks before moving anything; `azmove apply SAVED_PLAN` executes exactly
//! what was reviewed with `plan -o`, refusing entries whose server changed
//! since. Both print a summary table and can write a JSON report.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::plan::{self as planning, Loaded, PlanError, Planned, plan_loaded, report_error};
use super::shell_word;
use crate::apply::claims::{ClaimBook, RunIdentity};
use crate::apply::journal::Journal;
use crate::apply::prepare::{from_fresh_plan, from_saved_plan};
use crate::apply::signals::{StopSignal, install};
use crate::apply::{
    ApplyOptions, ApplyReport, PollConfig, PollMode, ProgressMode, RunInput, execute,
};
use crate::connect::{self, CloudChoice, Connection, Target};
use crate::exit::Exit;
use crate::plan::changeset::Changeset;
use crate::plan::parse::{MAX_PLAN_BYTES, PlanErrors};
use crate::render::{self, Colors, OutputFormat};

/// Largest saved plan read (a plan of 10,000 servers is a few tens of MB).
const MAX_SAVED_PLAN_BYTES: u64 = 256 * 1024 * 1024;

/// What `azmove apply` was asked.
#[derive(Debug, Clone)]
pub struct ApplySettings {
    /// A plan file, or a plan saved with `plan -o`.
    pub file: PathBuf,
    pub cloud: CloudChoice,
    /// Do not ask for confirmation.
    pub yes: bool,
    pub allow_blocked: bool,
    /// Write the JSON report here.
    pub report: Option<PathBuf>,
    /// Format of the plan shown before confirmation.
    pub format: OutputFormat,
    pub journal_dir: PathBuf,
    pub poll: PollSettings,
    /// How long this run's claims hold if it dies.
    pub lease_ttl: Duration,
    pub progress: ProgressMode,
    /// Who runs this (`USER`), for the run record other people read.
    pub user: Option<String>,
    /// Whether stdin is a terminal someone can answer the question on.
    pub interactive: bool,
}

/// How servers are waited on (hidden flags, for benchmarks and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct PollSettings {
    /// One GET per server every interval instead of shared list polls.
    pub naive: Option<Duration>,
    /// Shortest and longest time between two polls, over the defaults.
    pub min: Option<Duration>,
    pub max: Option<Duration>,
}

impl PollSettings {
    /// The poll mode against a cloud whose time runs `time_scale` times
    /// as fast (a simulator's).
    fn mode(&self, time_scale: f64) -> PollMode {
        if let Some(interval) = self.naive {
            return PollMode::Naive { interval };
        }
        let mut cfg = PollConfig::default().scaled(time_scale);
        if let Some(min) = self.min {
            cfg.min_interval = min;
        }
        if let Some(max) = self.max {
            cfg.max_interval = max;
        }
        cfg.max_interval = cfg
            .max_interval
            .max(cfg.min_interval)
            .max(Duration::from_millis(1));
        PollMode::Shared(cfg)
    }
}

pub fn run(settings: &ApplySettings, colors: Colors) -> Exit {
    let Some(runtime) = super::runtime(Some(2)) else {
        return Exit::Failure;
    };
    runtime.block_on(run_async(settings, colors))
}

async fn run_async(args: &ApplySettings, colors: Colors) -> Exit {
    // Ctrl-C is handled from here on, before anything talks to the cloud:
    // the first one during planning (or at the question) ends the command
    // with exit 4 and nothing changed; during the moves it stops them
    // gracefully; a second one ends them at once (the report is still written).
    let stop = StopSignal::new();
    install(
        stop.clone(),
        format!(
            "Exiting now. Everything azmove made is tagged, so this is safe: run `{}` to continue.",
            resume_command(args)
        ),
    );
    match read_input(&args.file) {
        Ok(Input::Saved(cs)) => apply_saved(args, cs, stop).await,
        Ok(Input::File(loaded)) => apply_plan_file(args, colors, loaded, stop).await,
        Err(InputError::Unreadable(message)) => {
            super::error(format_args!("{message}"));
            Exit::Failure
        }
        Err(InputError::Plan(errors)) => {
            report_error(&PlanError::Load(errors), colors);
            Exit::Failure
        }
    }
}

/// `f`, unless a stop is asked for before or while it runs (`None`).
async fn unless_stopped<F: std::future::Future>(stop: &StopSignal, f: F) -> Option<F::Output> {
    if stop.is_stopped() {
        return None;
    }
    tokio::select! {
        out = f => Some(out),
        () = stop.stopped() => None,
    }
}

/// Ctrl-C before any move started: nothing was changed, exit 4.
async fn interrupted_before_applying(args: &ApplySettings, connection: Option<Connection>) -> Exit {
    if let Some(c) = connection {
        c.shutdown().await;
    }
    eprintln!(
        "Apply interrupted before anything was changed. To continue, run: {}",
        resume_command(args)
    );
    Exit::Interrupted
}

/// What `apply` was given, read once.
enum Input {
    /// A plan saved with `plan -o`.
    Saved(Changeset),
    /// A plan file, to be planned first.
    File(Loaded),
}

enum InputError {
    /// The file cannot be read, or is a saved plan that cannot be used.
    Unreadable(String),
    /// A plan file with problems.
    Plan(PlanErrors),
}

/// Read the file once: a saved plan (a JSON object with `format`), or else
/// a plan file.
fn read_input(path: &Path) -> Result<Input, InputError> {
    let cannot =
        |e: std::io::Error| InputError::Unreadable(format!("cannot read {}: {e}", path.display()));
    let meta = std::fs::metadata(path).map_err(cannot)?;
    // Far bigger than any plan file: let the plan loader say why.
    let too_big = || {
        planning::load(path)
            .map(Input::File)
            .map_err(InputError::Plan)
    };
    if meta.len() > MAX_SAVED_PLAN_BYTES {
        return too_big();
    }
    let bytes = std::fs::read(path).map_err(cannot)?;
    let name = path.display().to_string();
    if is_saved_plan(&bytes) {
        let text = String::from_utf8_lossy(&bytes);
        return Changeset::from_json(&name, &text)
            .map(Input::Saved)
            .map_err(|e| InputError::Unreadable(e.to_string()));
    }
    if bytes.len() > MAX_PLAN_BYTES {
        return too_big();
    }
    planning::parse(name, &bytes)
        .map(Input::File)
        .map_err(InputError::Plan)
}

/// Whether `bytes` are a JSON object with a `format` key (whatever its
/// value: a saved plan of another format is refused as one).
fn is_saved_plan(bytes: &[u8]) -> bool {
    /// Whether the key is there at all.
    #[derive(Default)]
    struct Present(bool);
    impl<'de> Deserialize<'de> for Present {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            serde::de::IgnoredAny::deserialize(d).map(|_| Present(true))
        }
    }
    #[derive(Deserialize)]
    struct Head {
        #[serde(default)]
        format: Present,
    }
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && serde_json::from_slice::<Head>(bytes).is_ok_and(|h| h.format.0)
}

async fn apply_plan_file(
    args: &ApplySettings,
    colors: Colors,
    loaded: Loaded,
    stop: StopSignal,
) -> Exit {
    let planned = match unless_stopped(&stop, plan_loaded(loaded, &args.cloud)).await {
        None => return interrupted_before_applying(args, None).await,
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            report_error(&e, colors);
            return Exit::Failure;
        }
    };
    let Planned {
        changeset,
        inventory,
        connection,
        ..
    } = planned;
    let _ = super::print(
        &render::render(&changeset, args.format, colors.stdout),
        colors,
    );
    let busy = match gate_others(&stop, &connection, &changeset, args).await {
        Ok(b) => b,
        Err(exit) => return exit.finish(args, connection).await,
    };
    if !changeset.summary.has_changes() && busy.is_empty() {
        println!("\nNo changes: nothing to apply.");
        connection.shutdown().await;
        return Exit::Success;
    }
    if !args.yes {
        match confirm(changeset.summary.to_move, args.interactive, &stop).await {
            Confirmation::Yes => {}
            Confirmation::Interrupted => {
                return interrupted_before_applying(args, Some(connection)).await;
            }
            Confirmation::No => {
                eprintln!("Apply cancelled: nothing was changed.");
                connection.shutdown().await;
                return Exit::Failure;
            }
            Confirmation::NotATerminal => {
                eprintln!(
                    "azmove: not applying: confirmation is needed and stdin is not a terminal. Review the plan above and run again with --yes (or --auto-approve), or save it with `azmove plan {} -o plan.json` and run `azmove apply plan.json`.",
                    args.file.display()
                );
                connection.shutdown().await;
                return Exit::Failure;
            }
        }
    }
    let mut input = from_fresh_plan(changeset, &inventory);
    input.busy = busy;
    run_and_report(args, connection, input, stop).await
}

async fn apply_saved(args: &ApplySettings, changeset: Changeset, stop: StopSignal) -> Exit {
    let target = Target {
        cloud: &args.cloud,
        plan_cloud: changeset.cloud.as_deref(),
        plan_region: changeset.region.as_deref(),
    };
    let connection = match unless_stopped(
        &stop,
        connect::connect(&target, connect::client_options(&changeset.limits)),
    )
    .await
    {
        None => return interrupted_before_applying(args, None).await,
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            super::error(format_args!("{e}"));
            return Exit::Failure;
        }
    };
    let busy = match gate_others(&stop, &connection, &changeset, args).await {
        Ok(b) => b,
        Err(exit) => return exit.finish(args, connection).await,
    };
    println!(
        "Applying the saved plan {} (made from {}, {}).",
        args.file.display(),
        changeset.plan_path,
        changeset.summary.line()
    );
    let input = match unless_stopped(&stop, from_saved_plan(&connection.client, changeset)).await {
        None => return interrupted_before_applying(args, Some(connection)).await,
        Some(Ok(mut i)) => {
            i.busy = busy;
            i
        }
        Some(Err(e)) => {
            super::error(format_args!("{e}"));
            connection.shutdown().await;
            return Exit::Failure;
        }
    };
    for (key, changed) in &input.stale {
        let name = input
            .changeset
            .get(key)
            .map(|m| m.display_name().to_string())
            .unwrap_or_default();
        eprintln!(
            "azmove: not moving {name} ({key}): it changed since the plan was saved: {}. Run `azmove plan` again and review it.",
            changed.join("; ")
        );
    }
    run_and_report(args, connection, input, stop).await
}

/// Moves whose server another live azmove run holds right now (move key →
/// why). They are reported `busy`, never blocked: the plan may show them
/// busy with a task, but that task is the other run's, which is no reason
/// to stop this one.
async fn held_elsewhere(
    connection: &Connection,
    cs: &Changeset,
    args: &ApplySettings,
) -> Result<std::collections::BTreeMap<String, String>, Exit> {
    let ids: std::collections::BTreeSet<String> = cs
        .moves
        .iter()
        .filter(|m| !matches!(m.action, crate::plan::changeset::Action::NoChange { .. }))
        .filter_map(|m| m.source.as_ref().map(|s| s.id.clone()))
        .collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let held = crate::apply::claims::held_by_others(&connection.client, None, &ids, args.lease_ttl)
        .await
        .map_err(|e| {
            eprintln!(
                "azmove: not applying: could not read the claims of other azmove runs, so nothing was changed: {e}"
            );
            Exit::Failure
        })?;
    if !held.is_empty() {
        eprintln!(
            "azmove: {} server{} of this plan {} in progress by another azmove run: {} left alone and reported busy.",
            held.len(),
            if held.len() == 1 { "" } else { "s" },
            if held.len() == 1 { "is" } else { "are" },
            if held.len() == 1 { "it is" } else { "they are" },
        );
    }
    Ok(cs
        .moves
        .iter()
        .filter_map(|m| {
            let id = &m.source.as_ref()?.id;
            Some((m.key.clone(), held.get(id)?.clone()))
        })
        .collect())
}

/// Why apply stops before its run starts.
enum Stopped {
    Interrupted,
    Exit(Exit),
}

impl Stopped {
    async fn finish(self, args: &ApplySettings, connection: Connection) -> Exit {
        match self {
            Stopped::Interrupted => interrupted_before_applying(args, Some(connection)).await,
            Stopped::Exit(exit) => {
                connection.shutdown().await;
                exit
            }
        }
    }
}

/// The servers other live runs hold (reported `busy`), then the refusal of
/// blocked entries: what both ways into apply check before anything runs.
async fn gate_others(
    stop: &StopSignal,
    connection: &Connection,
    changeset: &Changeset,
    args: &ApplySettings,
) -> Result<std::collections::BTreeMap<String, String>, Stopped> {
    let busy = match unless_stopped(stop, held_elsewhere(connection, changeset, args)).await {
        None => return Err(Stopped::Interrupted),
        Some(Ok(b)) => b,
        Some(Err(exit)) => return Err(Stopped::Exit(exit)),
    };
    match refuse_blocked(changeset, args, &busy) {
        Some(exit) => Err(Stopped::Exit(exit)),
        None => Ok(busy),
    }
}

/// Blocked entries stop the apply unless `--allow-blocked`; those only
/// blocked because another run holds their server (`busy`) do not.
fn refuse_blocked(
    cs: &Changeset,
    args: &ApplySettings,
    busy: &std::collections::BTreeMap<String, String>,
) -> Option<Exit> {
    let blocked = cs
        .moves
        .iter()
        .filter(|m| matches!(m.action, crate::plan::changeset::Action::Blocked { .. }))
        .filter(|m| !busy.contains_key(&m.key))
        .count();
    if blocked > 0 && !args.allow_blocked {
        eprintln!(
            "azmove: not applying: {} entr{} blocked (see the plan). Fix them, or pass --allow-blocked to move the others.",
            blocked,
            if blocked == 1 { "y is" } else { "ies are" }
        );
        return Some(Exit::Blocked);
    }
    None
}

enum Confirmation {
    Yes,
    No,
    NotATerminal,
    /// Ctrl-C while asking.
    Interrupted,
}

async fn confirm(count: usize, interactive: bool, stop: &StopSignal) -> Confirmation {
    if !interactive {
        return Confirmation::NotATerminal;
    }
    eprint!(
        "\nDo you want to move {count} server{}? azmove will do what is shown above.\n  Only 'yes' will be accepted: ",
        if count == 1 { "" } else { "s" }
    );
    let _ = std::io::stderr().flush();
    // Read the answer on a thread of its own, so that Ctrl-C (which the
    // handler installed above catches) ends the question at once; the
    // thread dies with the process.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let yes = std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == "yes";
        let _ = tx.send(yes);
    });
    match unless_stopped(stop, rx).await {
        None => Confirmation::Interrupted,
        Some(Ok(true)) => Confirmation::Yes,
        Some(_) => Confirmation::No,
    }
}

async fn run_and_report(
    args: &ApplySettings,
    connection: Connection,
    input: RunInput,
    stop: StopSignal,
) -> Exit {
    if stop.is_stopped() {
        return interrupted_before_applying(args, Some(connection)).await;
    }
    let journal = match Journal::create(&args.journal_dir) {
        Ok(j) => Arc::new(j),
        Err(e) => {
            super::error(format_args!("{e}"));
            connection.shutdown().await;
            return Exit::Failure;
        }
    };
    let resume = resume_command(args);
    let time_scale = connection
        .sim()
        .map(|s| s.sim().env.clock.time_scale())
        .unwrap_or(1.0);
    let poll = args.poll.mode(time_scale);
    let cloud: Arc<dyn crate::apply::Cloud> = Arc::new(connection.client.clone());
    let identity = RunIdentity {
        run: journal.run().to_string(),
        plan: input.changeset.plan_path.clone(),
        user: args.user.clone(),
        host: hostname(),
    };
    let own_project = connection.client.project_id().map(str::to_string);
    let lease = args.lease_ttl.max(Duration::from_secs(4));
    // The run record below is the first thing this run writes to the cloud.
    if stop.is_stopped() {
        return interrupted_before_applying(args, Some(connection)).await;
    }
    let claims = match ClaimBook::open(cloud.clone(), identity, lease, own_project).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "azmove: not applying: could not register this run with the cloud, so nothing was changed: {e}. \
                 azmove claims every server before moving it with a small hidden Glance image record, so the caller must be allowed to create images."
            );
            connection.shutdown().await;
            return Exit::Failure;
        }
    };
    let options = ApplyOptions {
        poll,
        progress: args.progress.clone(),
        journal,
        stop,
        resume_command: Some(resume),
        claims: Some(claims),
    };
    let report = execute(cloud, input, options).await;
    connection.shutdown().await;
    finish(args, &report)
}

/// The command that continues this run.
fn resume_command(args: &ApplySettings) -> String {
    let mut cmd = format!(
        "azmove apply {}",
        shell_word(&args.file.display().to_string())
    );
    if let Some(c) = &args.cloud.os_cloud {
        cmd.push_str(&format!(" --os-cloud {}", shell_word(c)));
    }
    if let Some(s) = &args.cloud.sim {
        cmd.push_str(&format!(" --sim {}", shell_word(&s.display().to_string())));
    }
    if args.allow_blocked {
        cmd.push_str(" --allow-blocked");
    }
    cmd
}

fn finish(args: &ApplySettings, report: &ApplyReport) -> Exit {
    println!();
    print!("{}", report.render_text());
    let _ = std::io::stdout().flush();
    if let Some(path) = &args.report
        && let Err(e) = std::fs::write(path, report.to_json() + "\n")
    {
        eprintln!(
            "azmove: could not write the report to {}: {e}",
            path.display()
        );
        return Exit::Failure;
    }
    if report.interrupted {
        Exit::Interrupted
    } else if report.is_success() {
        Exit::Success
    } else if report.only_gave_way() {
        Exit::GaveWay
    } else {
        Exit::Failure
    }
}

/// This machine's name, for the run record other people read.
fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("plans/seed.yaml"), "plans/seed.yaml");
        assert_eq!(shell_word("my plan.yaml"), "'my plan.yaml'");
        assert_eq!(
            shlex::split(&shell_word("it's")),
            Some(vec!["it's".to_string()])
        );
    }
}
