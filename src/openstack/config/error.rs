//! Why no usable cloud configuration could be found.

use std::path::PathBuf;

/// Why no usable cloud configuration could be found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },

    #[error("{} is not valid YAML{}; fix the syntax and try again", path.display(), location_text(*line, *column))]
    Parse {
        path: PathBuf,
        line: Option<u64>,
        column: Option<u64>,
    },

    #[error("{}: {detail}", path.display())]
    Shape { path: PathBuf, detail: String },

    #[error("cloud '{name}' (chosen by {chosen_by}) is not defined in {}{}",
        files_text(files),
        if available.is_empty() { String::new() } else { format!("; defined clouds: {}", available.join(", ")) })]
    UnknownCloud {
        name: String,
        chosen_by: String,
        files: Vec<PathBuf>,
        available: Vec<String>,
    },

    #[error("no cloud selected: {}", no_cloud_text(available, searched))]
    NoCloud {
        available: Vec<String>,
        searched: Vec<PathBuf>,
    },

    #[error("{what} is not set for {origin}; {hint}")]
    Missing {
        origin: String,
        what: String,
        hint: String,
    },

    #[error("{origin}: {detail}")]
    Invalid { origin: String, detail: String },
}

fn location_text(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
        (Some(l), None) => format!(" (line {l})"),
        _ => String::new(),
    }
}

pub(super) fn files_text(files: &[PathBuf]) -> String {
    if files.is_empty() {
        "any clouds.yaml (none was found)".to_owned()
    } else {
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

fn no_cloud_text(available: &[String], searched: &[PathBuf]) -> String {
    if available.is_empty() {
        format!(
            "no clouds.yaml was found (searched {}) and OS_AUTH_URL is not set. \
             Write a clouds.yaml (see docs/configuration.md) or source an openrc file",
            searched
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!(
            "clouds.yaml defines {} ({}); choose one with --os-cloud, `cloud:` in the plan, or OS_CLOUD",
            if available.len() == 1 {
                "one cloud"
            } else {
                "several clouds"
            },
            available.join(", ")
        )
    }
}
