//! The journal: one JSON object per line for every step of a run, written
//! under `.azmove/` (or `--journal-dir`) in a file of its own per run.
//!
//! It is an audit trail, not the source of truth: a resumed run reads the
//! cloud, never the journal. Each line is written with one `write` call and
//! no buffering, so a crash (even `kill -9`) leaves every line before it
//! intact. It holds ids, names, steps, outcomes and request ids — never a
//! token, password or request body.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::step::StepError;

/// The journal could not be created.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "could not create the journal directory {}: {source}. Pass a writable directory with --journal-dir",
        dir.display()
    )]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "could not create the journal file {}: {source}. Pass a writable directory with --journal-dir",
        path.display()
    )]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What happened, as one journal line.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        azmove_version: String,
        plan_path: String,
        plan_digest: String,
        cloud: Option<String>,
        /// Servers this run works on.
        servers: usize,
        /// `plan` (a plan file, planned now) or `saved` (a plan from `plan -o`).
        source: String,
        polling: String,
    },
    /// A saved plan's entry was refused because its server changed since.
    Stale {
        server: String,
        name: String,
        changed: Vec<String>,
    },
    StepStarted {
        server: String,
        name: String,
        step: String,
        attempt: u32,
    },
    StepFinished {
        server: String,
        name: String,
        step: String,
        attempt: u32,
        /// `done`, `redo`, `failed`, `interrupted`.
        outcome: String,
        elapsed_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        request_ids: Vec<String>,
        /// The failed call that ended the step, as the cloud reported it.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<StepError>,
        /// Ids of what the step created or found (snapshot, replacement).
        #[serde(skip_serializing_if = "Option::is_none")]
        object_id: Option<String>,
    },
    ServerFinished {
        server: String,
        name: String,
        /// `moved`, `failed`, `skipped`, `interrupted`.
        outcome: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        replacement: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Seconds the server did not serve (see the report's `downtime_seconds`).
        #[serde(skip_serializing_if = "Option::is_none")]
        downtime_s: Option<f64>,
    },
    Interrupted {
        remaining: usize,
    },
    RunFinished {
        moved: usize,
        unchanged: usize,
        failed: usize,
        skipped: usize,
        interrupted: usize,
        elapsed_ms: u64,
        api_requests: Option<u64>,
    },
}

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    run: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

/// An open journal (or a disabled one, which records nothing).
#[derive(Debug)]
pub struct Journal {
    file: Option<Mutex<File>>,
    path: Option<PathBuf>,
    run: String,
}

impl Journal {
    /// Create `dir` if needed and a new file `apply-<UTC timestamp>-<pid>.jsonl`
    /// in it, readable by the owner only (the journal names servers and ids).
    pub fn create(dir: &Path) -> Result<Journal, JournalError> {
        create_dir(dir).map_err(|source| JournalError::Dir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let now = OffsetDateTime::now_utc();
        let run = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            std::process::id()
        );
        // Two machines can share a second and a pid (containers start at
        // pid 1): a few random letters keep run ids, which claims rest on,
        // apart.
        let run = format!("{run}-{:04x}", rand::random::<u16>());
        let path = dir.join(format!("apply-{run}.jsonl"));
        let mut options = OpenOptions::new();
        options.create_new(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(|source| JournalError::File {
            path: path.clone(),
            source,
        })?;
        Ok(Journal {
            file: Some(Mutex::new(file)),
            path: Some(path),
            run,
        })
    }

    /// A journal that writes nothing (library callers that do not want one).
    pub fn disabled() -> Journal {
        Journal {
            file: None,
            path: None,
            run: String::new(),
        }
    }

    /// This run's id (empty for a disabled journal).
    pub fn run(&self) -> &str {
        &self.run
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Append one event. A failing write is logged once per call and
    /// otherwise ignored: the journal must never stop a move half-way.
    pub fn record(&self, event: Event) {
        let Some(file) = &self.file else {
            return;
        };
        let line = Line {
            ts: now_rfc3339(),
            run: &self.run,
            event: &event,
        };
        let Ok(mut text) = serde_json::to_string(&line) else {
            return;
        };
        text.push('\n');
        let written = match file.lock() {
            Ok(mut f) => f.write_all(text.as_bytes()),
            Err(poisoned) => poisoned.into_inner().write_all(text.as_bytes()),
        };
        if let Err(e) = written {
            tracing::warn!(
                "could not write to the journal {}: {e}",
                self.path
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
        }
    }
}

fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

pub(crate) fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_with_timestamp_and_the_file_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::create(&dir.path().join("nested/.azmove")).expect("journal");
        j.record(Event::StepStarted {
            server: "uuid-1".into(),
            name: "vm1".into(),
            step: "snapshot".into(),
            attempt: 0,
        });
        j.record(Event::Interrupted { remaining: 3 });
        let path = j.path().expect("path").to_path_buf();
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "step_started");
        assert_eq!(lines[0]["server"], "uuid-1");
        assert!(lines[0]["ts"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(lines[1]["remaining"], 3);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
