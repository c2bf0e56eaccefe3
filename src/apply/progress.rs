//! What the user sees while apply runs.
//!
//! On a terminal: an overall bar and one line per server in flight with its
//! step and how long the step has taken (indicatif). Elsewhere (CI, a pipe,
//! a log file): one timestamped log line per event through `tracing`, so the
//! output can be read back later and filtered or parsed (`--log-format json`).
//!
//! The bars are drawn in the [`MultiProgress`] the caller passes in: the one
//! the log writer suspends (see `crate::logging`), so that log lines land
//! above the bars instead of through them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::logging::PROGRESS_TARGET;
use crate::plan::changeset::Step;

/// How progress is shown.
#[derive(Debug, Clone)]
pub enum ProgressMode {
    /// Live bars on a terminal, in these bars.
    Bars(MultiProgress),
    /// Log lines (through `tracing`).
    Log,
    /// Nothing (library use, tests).
    Quiet,
}

/// The progress display of one run. Cheap to call from any task.
pub struct Progress {
    mode: ProgressMode,
    bars: Option<(MultiProgress, ProgressBar)>,
    lines: Mutex<BTreeMap<String, ProgressBar>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("mode", &self.mode)
            .finish()
    }
}

impl Progress {
    /// `total`: servers this run works on.
    pub fn new(mode: ProgressMode, total: usize) -> Progress {
        let bars = match &mode {
            ProgressMode::Bars(mp) => Some(mp.clone()),
            ProgressMode::Log | ProgressMode::Quiet => None,
        }
        .map(|mp| {
            let overall = mp.add(ProgressBar::new(total as u64));
            overall.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise:.dim} [{bar:30.cyan/blue}] {pos}/{len} servers  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            overall.enable_steady_tick(Duration::from_millis(250));
            (mp, overall)
        });
        Progress {
            mode,
            bars,
            lines: Mutex::new(BTreeMap::new()),
        }
    }

    /// A step starts (also the first one of a server, and retries).
    pub fn step(&self, key: &str, name: &str, step: Step, attempt: u32) {
        let retry = if attempt > 0 {
            format!(" (retry {attempt})")
        } else {
            String::new()
        };
        match (&self.mode, &self.bars) {
            (ProgressMode::Bars(_), Some((mp, _))) => {
                let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
                let line = lines.entry(key.to_string()).or_insert_with(|| {
                    let pb = mp.add(ProgressBar::new_spinner());
                    pb.set_style(
                        ProgressStyle::with_template(
                            "  {spinner:.green} {prefix:24!} {msg} {elapsed:.dim}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    pb.set_prefix(name.to_string());
                    pb.enable_steady_tick(Duration::from_millis(250));
                    pb
                });
                line.reset_elapsed();
                line.set_message(format!("{}{retry}", step.as_str()));
            }
            (ProgressMode::Log, _) => {
                tracing::info!(target: PROGRESS_TARGET, server = %key, "{name}: {}{retry}", step.as_str());
            }
            _ => {}
        }
    }

    /// A failed server is being put back as it was.
    /// A move failed and is being undone. `in_place`: the server itself
    /// was moving (shelve, cold, live), so it is put to rest where it is;
    /// otherwise the source is restarted and the leftovers deleted.
    pub fn rollback(&self, key: &str, name: &str, reason: &str, in_place: bool) {
        let (short, long) = if in_place {
            (
                "undoing (settle, pin where it is, untag)",
                "bringing the server to rest where it is, pinning it there, removing the tags",
            )
        } else {
            (
                "undoing (restart source, delete leftovers)",
                "restarting the source if azmove stopped it, deleting leftovers",
            )
        };
        match (&self.mode, &self.bars) {
            (ProgressMode::Bars(_), Some(_)) => {
                let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(line) = lines.get(key) {
                    line.reset_elapsed();
                    line.set_message(short);
                }
            }
            (ProgressMode::Log, _) => {
                tracing::warn!(target: PROGRESS_TARGET, server = %key, "{name}: failed ({reason}); undoing: {long}");
            }
            _ => {}
        }
    }

    /// A server reached its end: `outcome` is moved/failed/skipped/interrupted.
    pub fn finished(&self, key: &str, name: &str, outcome: &str, detail: &str) {
        match (&self.mode, &self.bars) {
            (ProgressMode::Bars(_), Some((mp, overall))) => {
                let line = self
                    .lines
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(key);
                if let Some(line) = line {
                    line.finish_and_clear();
                    mp.remove(&line);
                }
                overall.inc(1);
                if outcome != "moved" {
                    let _ = mp.println(format!("  {name}: {outcome}{}", sep(detail)));
                }
            }
            (ProgressMode::Log, _) => {
                if outcome == "moved" || outcome == "interrupted" {
                    tracing::info!(target: PROGRESS_TARGET, server = %key, "{name}: {outcome}{}", sep(detail));
                } else {
                    tracing::warn!(target: PROGRESS_TARGET, server = %key, "{name}: {outcome}{}", sep(detail));
                }
            }
            _ => {}
        }
    }

    /// A message about the whole run (e.g. "stopping after Ctrl-C").
    pub fn note(&self, message: &str) {
        match (&self.mode, &self.bars) {
            (ProgressMode::Bars(_), Some((_, overall))) => overall.set_message(message.to_string()),
            (ProgressMode::Log, _) => tracing::info!(target: PROGRESS_TARGET, "{message}"),
            _ => {}
        }
    }

    /// Remove the bars before the summary is printed.
    pub fn finish(&self) {
        if let Some((mp, overall)) = &self.bars {
            for (_, line) in
                std::mem::take(&mut *self.lines.lock().unwrap_or_else(|p| p.into_inner()))
            {
                line.finish_and_clear();
            }
            overall.finish_and_clear();
            mp.remove(overall);
            let _ = mp.clear();
        }
    }
}

fn sep(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}
