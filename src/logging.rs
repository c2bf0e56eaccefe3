//! Log output of every command, set up in one place.
//!
//! Logs go to stderr so stdout stays clean for plans and JSON. `-v`, `-vv`,
//! `-vvv` raise the level; `RUST_LOG` overrides it; `--log-format json`
//! prints one JSON object per line for log collectors. With no flag only
//! warnings, errors and `apply`'s progress lines (target
//! [`PROGRESS_TARGET`]) are shown.
//!
//! While progress bars are drawn on a terminal, log lines are printed
//! above them (not through them), see [`set_progress_bars`].

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use indicatif::MultiProgress;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::{ColorChoice, GlobalArgs, LogFormat};

/// Target of the log lines that report apply progress (one per step).
pub const PROGRESS_TARGET: &str = "azmove::progress";

static BARS: OnceLock<Mutex<Option<MultiProgress>>> = OnceLock::new();

fn bars() -> &'static Mutex<Option<MultiProgress>> {
    BARS.get_or_init(|| Mutex::new(None))
}

/// Route log lines around these progress bars (`None`: straight to stderr).
pub fn set_progress_bars(bars_now: Option<MultiProgress>) {
    match bars().lock() {
        Ok(mut b) => *b = bars_now,
        Err(p) => *p.into_inner() = bars_now,
    }
}

/// Install the global log subscriber. Safe to call more than once (tests,
/// library use): only the first call takes effect.
pub fn init(global: &GlobalArgs) {
    let default = match global.verbose {
        0 => format!("warn,{PROGRESS_TARGET}=info"),
        1 => "info".to_string(),
        2 => "debug".to_string(),
        _ => "trace".to_string(),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = match global.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            use std::io::IsTerminal;
            std::io::stderr().is_terminal()
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrAroundBars)
        .with_target(global.verbose > 0);
    let _ = match global.log_format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// Writes each log line to stderr, suspending the progress bars meanwhile.
#[derive(Clone, Copy)]
struct StderrAroundBars;

impl<'a> MakeWriter<'a> for StderrAroundBars {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { buf: Vec::new() }
    }
}

/// Collects one event and writes it when dropped, in one piece.
struct LineWriter {
    buf: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let write = |buf: &[u8]| {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(buf);
            let _ = err.flush();
        };
        let bars = bars().lock().ok().and_then(|b| b.clone());
        match bars {
            Some(mp) => mp.suspend(|| write(&self.buf)),
            None => write(&self.buf),
        }
    }
}
