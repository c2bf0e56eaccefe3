//! Log output of every command, set up in one place.
//!
//! Logs go to stderr so stdout stays clean for plans and JSON. `-v`, `-vv`,
//! `-vvv` raise the level; `RUST_LOG` overrides it; `--log-format json`
//! prints one JSON object per line for log collectors. With no flag only
//! warnings, errors and `apply`'s progress lines (target
//! [`PROGRESS_TARGET`]) are shown.
//!
//! While progress bars are drawn on a terminal, log lines are printed above
//! them, not through them: every line goes through `tracing-indicatif`'s
//! writer, which suspends the bars of the [`MultiProgress`] that [`init`]
//! returns for as long as it writes (one write per line, so a line is never
//! torn). `apply` draws its bars in that same [`MultiProgress`].

use indicatif::MultiProgress;
use tracing_indicatif::writer::{IndicatifWriter, Stderr};
use tracing_subscriber::EnvFilter;

/// Target of the log lines that report apply progress (one per step).
pub const PROGRESS_TARGET: &str = "azmove::progress";

/// Format of log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// How much is logged and how, resolved from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogSettings {
    /// Number of `-v`.
    pub verbose: u8,
    pub format: LogFormat,
    /// Colour the text format (stderr's colour decision).
    pub ansi: bool,
}

/// Install the global log subscriber, and return the progress bars its
/// lines are written around. Safe to call more than once (tests, library
/// use): only the first call installs a subscriber.
pub fn init(settings: &LogSettings) -> MultiProgress {
    let default = match settings.verbose {
        0 => format!("warn,{PROGRESS_TARGET}=info"),
        1 => "info".to_string(),
        2 => "debug".to_string(),
        _ => "trace".to_string(),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let bars = MultiProgress::new();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(IndicatifWriter::<Stderr>::new(bars.clone()))
        .with_target(settings.verbose > 0);
    let _ = match settings.format {
        LogFormat::Text => builder.with_ansi(settings.ansi).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    bars
}
