//! The end of a run: per-server outcomes and timings, as a summary table on
//! stdout and as JSON for `--report FILE`.

use std::fmt::Write as _;
use std::time::Duration;

use comfy_table::Table;
use comfy_table::presets::NOTHING;

use serde::Serialize;

use super::step::StepError;
use crate::plan::changeset::Step;

/// Version of the report's JSON format.
pub const REPORT_FORMAT: u32 = 1;

/// How one server ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerOutcome {
    /// In the target AZ, verified; the source handled per `source_after`.
    Moved,
    /// Nothing to do (already in the target AZ, or moved earlier).
    Unchanged,
    /// Tried and failed; left as it was (see `message`).
    Failed,
    /// Not tried because something it comes `after` did not succeed.
    Skipped,
    /// Not tried because the plan blocks it.
    Blocked,
    /// Not tried: the server changed since the saved plan was made.
    Stale,
    /// The run was interrupted before this server finished; run again to resume.
    Interrupted,
    /// Another azmove run holds the server: this run did not touch it.
    Busy,
    /// Someone else acted on the server during the move: this run stopped
    /// and undid only its own part (see `message`).
    Changed,
}

impl ServerOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerOutcome::Moved => "moved",
            ServerOutcome::Unchanged => "unchanged",
            ServerOutcome::Failed => "failed",
            ServerOutcome::Skipped => "skipped",
            ServerOutcome::Blocked => "blocked",
            ServerOutcome::Stale => "stale",
            ServerOutcome::Interrupted => "interrupted",
            ServerOutcome::Busy => "busy",
            ServerOutcome::Changed => "changed",
        }
    }
}

/// One executed step and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepTiming {
    /// The step, or `rollback`.
    pub step: String,
    pub attempt: u32,
    /// Seconds since the run started.
    pub started_s: f64,
    pub elapsed_s: Option<f64>,
    pub outcome: Option<String>,
}

/// The fate of one server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerReport {
    /// The move's key (the source UUID, or `entry:<key>`).
    pub key: String,
    pub name: String,
    pub entry: String,
    pub outcome: ServerOutcome,
    pub source_id: Option<String>,
    pub from_az: Option<String>,
    pub from_host: Option<String>,
    pub target_az: String,
    pub replacement_id: Option<String>,
    pub replacement_az: Option<String>,
    pub replacement_host: Option<String>,
    pub snapshot_id: Option<String>,
    /// `keep`, `stop` or `delete`.
    pub source_after: String,
    /// What was found/left of the source at the end, in words.
    pub source_state: Option<String>,
    /// Why it failed, was skipped, blocked, stale or unchanged.
    pub message: Option<String>,
    /// OpenStack request ids of the calls that failed, for the cloud's operators.
    pub request_ids: Vec<String>,
    /// The calls that failed, with their HTTP status and request id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<StepError>,
    /// Steps still to do (interrupted, failed without rollback).
    pub remaining_steps: Vec<Step>,
    pub steps: Vec<StepTiming>,
    pub elapsed_s: Option<f64>,
    /// `snapshot`, `shelve`, `cold` or `live`.
    pub strategy: String,
    /// Seconds the server did not serve: from the stop (shelve, migrate)
    /// request until it was seen ACTIVE in the target AZ — its
    /// replacement, for the snapshot strategy. `null` when it was not
    /// running before the move, or the move did not end in this run.
    pub downtime_seconds: Option<f64>,
    /// What `downtime_seconds` is measured from.
    pub downtime_from: Option<String>,
    /// In-place strategies: where the server itself is at the end of the
    /// run (moved or not), and the AZ it is pinned to.
    pub server_az: Option<String>,
    pub server_host: Option<String>,
    pub server_pinned_az: Option<String>,
}

/// Counts per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub moved: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub skipped: usize,
    pub blocked: usize,
    pub stale: usize,
    pub interrupted: usize,
    pub busy: usize,
    pub changed: usize,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplyReport {
    pub format: u32,
    pub azmove_version: String,
    pub plan_path: String,
    pub plan_digest: String,
    pub cloud: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub elapsed_s: f64,
    pub interrupted: bool,
    pub counts: Counts,
    /// HTTP requests sent during the run (all retries included), when known.
    pub api_requests: Option<u64>,
    /// `changes-since` (shared list polls) or `naive` (one GET per server).
    pub polling: String,
    pub journal: Option<String>,
    /// The command that continues the run, when something is left to do.
    pub resume: Option<String>,
    pub servers: Vec<ServerReport>,
}

impl ApplyReport {
    pub fn counts_of(servers: &[ServerReport]) -> Counts {
        let mut c = Counts::default();
        for s in servers {
            match s.outcome {
                ServerOutcome::Moved => c.moved += 1,
                ServerOutcome::Unchanged => c.unchanged += 1,
                ServerOutcome::Failed => c.failed += 1,
                ServerOutcome::Skipped => c.skipped += 1,
                ServerOutcome::Blocked => c.blocked += 1,
                ServerOutcome::Stale => c.stale += 1,
                ServerOutcome::Interrupted => c.interrupted += 1,
                ServerOutcome::Busy => c.busy += 1,
                ServerOutcome::Changed => c.changed += 1,
            }
        }
        c
    }

    /// Everything that was to be done was done.
    pub fn is_success(&self) -> bool {
        !self.interrupted
            && self.counts.failed == 0
            && self.counts.skipped == 0
            && self.counts.stale == 0
            && self.counts.interrupted == 0
            && self.counts.busy == 0
            && self.counts.changed == 0
    }

    /// Nothing failed, but some servers were someone else's business (held
    /// by another run, or changed mid-move): exit 5, not 1.
    pub fn only_gave_way(&self) -> bool {
        let c = &self.counts;
        !self.interrupted
            && c.failed == 0
            && c.stale == 0
            && c.interrupted == 0
            && c.busy + c.changed > 0
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The one-line summary, e.g. "Apply complete after 2m 3s: 3 moved, 1 unchanged, 0 failed, 0 skipped."
    pub fn summary_line(&self) -> String {
        let c = &self.counts;
        let head = if self.interrupted {
            "Apply interrupted"
        } else if self.is_success() {
            "Apply complete"
        } else {
            "Apply finished with problems"
        };
        let mut line = format!(
            "{head} after {}: {} moved, {} unchanged, {} failed, {} skipped",
            human(Duration::from_secs_f64(self.elapsed_s.max(0.0))),
            c.moved,
            c.unchanged,
            c.failed,
            c.skipped
        );
        for (n, what) in [
            (c.blocked, "blocked"),
            (c.stale, "stale"),
            (c.busy, "busy (another run)"),
            (c.changed, "changed by someone else"),
            (c.interrupted, "not finished"),
        ] {
            if n > 0 {
                let _ = write!(line, ", {n} {what}");
            }
        }
        line.push('.');
        line
    }

    /// The summary table printed at the end of `azmove apply`.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.summary_line());
        let rows: Vec<[String; 6]> = self
            .servers
            .iter()
            .map(|s| {
                let ids = match (&s.source_id, &s.replacement_id) {
                    (Some(a), Some(b)) if a != b => format!("{a} → {b}"),
                    (Some(a), _) => a.clone(),
                    (None, _) => "-".into(),
                };
                let in_place = s.strategy != "snapshot";
                let place = match s.outcome {
                    ServerOutcome::Moved if in_place => format!(
                        "{}/{}",
                        s.server_az.as_deref().unwrap_or(&s.target_az),
                        s.server_host.as_deref().unwrap_or("(host hidden)")
                    ),
                    ServerOutcome::Moved => format!(
                        "{}/{}",
                        s.replacement_az.as_deref().unwrap_or(&s.target_az),
                        s.replacement_host.as_deref().unwrap_or("(host hidden)")
                    ),
                    _ => format!(
                        "{}/{} → {}",
                        s.from_az.as_deref().unwrap_or("?"),
                        s.from_host.as_deref().unwrap_or("?"),
                        s.target_az
                    ),
                };
                let detail = match (s.outcome, &s.source_state) {
                    (ServerOutcome::Moved, _) => step_times(&s.steps),
                    (ServerOutcome::Failed, Some(state)) => {
                        format!(
                            "{} ({}: {state})",
                            s.message.clone().unwrap_or_default(),
                            if in_place { "server" } else { "source" }
                        )
                    }
                    _ => s.message.clone().unwrap_or_default(),
                };
                [
                    s.name.clone(),
                    s.outcome.as_str().to_string(),
                    ids,
                    place,
                    downtime_text(s),
                    detail,
                ]
            })
            .collect();
        if !rows.is_empty() {
            let header = [
                "SERVER",
                "OUTCOME",
                "ID (OLD → NEW)",
                "AZ/HOST",
                "DOWNTIME",
                "STEPS / DETAIL",
            ];
            let mut table = Table::new();
            table.load_style(NOTHING).set_header(header);
            for r in &rows {
                table.add_row(r.iter());
            }
            out.push('\n');
            for line in table.lines() {
                let _ = writeln!(out, " {}", line.trim_end());
            }
        }
        if let Some(j) = &self.journal {
            let _ = write!(out, "\nJournal: {j}");
        }
        if let Some(r) = &self.resume {
            let _ = write!(out, "\nTo continue, run: {r}");
        }
        out.push('\n');
        out
    }
}

/// The DOWNTIME column: the seconds, marked when they are not a stop
/// (`cut-over`: the source kept running; `live`: the switch-over), `-`
/// when nothing was measured.
fn downtime_text(s: &ServerReport) -> String {
    let Some(secs) = s.downtime_seconds else {
        return "-".into();
    };
    let d = human(Duration::from_secs_f64(secs.max(0.0)));
    match s.downtime_from.as_deref() {
        Some(f) if f.starts_with("snapshot") => format!("{d} (cut-over)"),
        Some(f) if f.starts_with("live") => format!("{d} (live)"),
        _ => d,
    }
}

fn step_times(steps: &[StepTiming]) -> String {
    steps
        .iter()
        .filter_map(|s| {
            let t = s.elapsed_s?;
            let retry = if s.attempt > 0 {
                format!(" (retry {})", s.attempt)
            } else {
                String::new()
            };
            Some(format!(
                "{}{retry} {}",
                s.step,
                human(Duration::from_secs_f64(t.max(0.0)))
            ))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A short human duration: `850ms`, `4.2s`, `3m 12s`, `1h 4m`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else if ms < 3_600_000 {
        format!("{}m {}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h {}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, outcome: ServerOutcome) -> ServerReport {
        ServerReport {
            key: format!("id-{name}"),
            name: name.into(),
            entry: name.into(),
            outcome,
            source_id: Some(format!("id-{name}")),
            from_az: Some("nova".into()),
            from_host: Some("node-1".into()),
            target_az: "nova2".into(),
            replacement_id: (outcome == ServerOutcome::Moved).then(|| format!("new-{name}")),
            replacement_az: (outcome == ServerOutcome::Moved).then(|| "nova2".into()),
            replacement_host: (outcome == ServerOutcome::Moved).then(|| "node-31".into()),
            snapshot_id: None,
            source_after: "keep".into(),
            source_state: None,
            message: (outcome == ServerOutcome::Failed)
                .then(|| "boot ended in ERROR: No valid host".into()),
            request_ids: vec![],
            errors: vec![],
            remaining_steps: vec![],
            steps: vec![StepTiming {
                step: "snapshot".into(),
                attempt: 0,
                started_s: 0.0,
                elapsed_s: Some(4.31),
                outcome: Some("done".into()),
            }],
            elapsed_s: Some(5.0),
            strategy: "snapshot".into(),
            downtime_seconds: (outcome == ServerOutcome::Moved).then_some(12.25),
            downtime_from: (outcome == ServerOutcome::Moved).then(|| "stop".into()),
            server_az: None,
            server_host: None,
            server_pinned_az: None,
        }
    }

    fn report(servers: Vec<ServerReport>) -> ApplyReport {
        ApplyReport {
            format: REPORT_FORMAT,
            azmove_version: "0".into(),
            plan_path: "p.yaml".into(),
            plan_digest: "d".into(),
            cloud: None,
            started_at: "t0".into(),
            finished_at: "t1".into(),
            elapsed_s: 75.0,
            interrupted: false,
            counts: ApplyReport::counts_of(&servers),
            api_requests: None,
            polling: "changes-since".into(),
            journal: None,
            resume: None,
            servers,
        }
    }

    #[test]
    fn success_needs_no_failed_skipped_or_stale_server() {
        assert!(
            report(vec![
                server("a", ServerOutcome::Moved),
                server("b", ServerOutcome::Unchanged)
            ])
            .is_success()
        );
        assert!(!report(vec![server("a", ServerOutcome::Failed)]).is_success());
        assert!(!report(vec![server("a", ServerOutcome::Skipped)]).is_success());
        assert!(!report(vec![server("a", ServerOutcome::Stale)]).is_success());
    }

    #[test]
    fn table_shows_ids_place_and_step_times() {
        let text = report(vec![
            server("web1", ServerOutcome::Moved),
            server("db1", ServerOutcome::Failed),
        ])
        .render_text();
        assert!(
            text.starts_with("Apply finished with problems after 1m 15s: 1 moved, 0 unchanged, 1 failed, 0 skipped."),
            "{text}"
        );
        assert!(text.contains("id-web1 → new-web1"), "{text}");
        assert!(text.contains("nova2/node-31"), "{text}");
        assert!(text.contains("snapshot 4.3s"), "{text}");
        assert!(text.contains("No valid host"), "{text}");
        assert!(text.contains("DOWNTIME"), "{text}");
        assert!(text.contains("12.2s"), "{text}");
    }

    #[test]
    fn in_place_rows_show_where_the_server_is_and_its_downtime() {
        let mut moved = server("web1", ServerOutcome::Moved);
        moved.strategy = "live".into();
        moved.replacement_id = None;
        moved.server_az = Some("nova2".into());
        moved.server_host = Some("node-32".into());
        moved.downtime_seconds = Some(0.0);
        moved.downtime_from = Some("live switch-over".into());
        let mut failed = server("db1", ServerOutcome::Failed);
        failed.strategy = "cold".into();
        failed.source_state = Some("left ACTIVE in nova on node-27, pinned to nova".into());
        let text = report(vec![moved, failed]).render_text();
        assert!(text.contains("nova2/node-32"), "{text}");
        assert!(text.contains("0ms (live)"), "{text}");
        assert!(!text.contains("→ new-web1"), "{text}");
        assert!(
            text.contains("(server: left ACTIVE in nova on node-27, pinned to nova)"),
            "{text}"
        );
        let json = report(vec![server("a", ServerOutcome::Moved)]).to_json();
        assert!(json.contains("\"downtime_seconds\": 12.25"), "{json}");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(850)), "850ms");
        assert_eq!(human(Duration::from_secs(192)), "3m 12s");
        assert_eq!(human(Duration::from_secs(3840)), "1h 4m");
    }
}
