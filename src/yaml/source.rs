//! The text of one document: its name, whether it may be quoted, and the
//! first checks on the raw bytes (size, encoding).

use std::sync::{Arc, OnceLock};

use miette::NamedSource;

use super::YamlOptions;
use super::diagnostic::{Diagnostic, Position};

/// Marker for "byte offset not known yet"; fixed up from line/column.
pub(super) const UNKNOWN_OFFSET: usize = usize::MAX;

/// The parser's idea of a place, as a [`Position`]; the byte offset may be
/// [`UNKNOWN_OFFSET`] until [`Source::fix_offset`] fixes it up.
pub(super) fn position_of(loc: &serde_saphyr::Location) -> Position {
    let span = loc.span();
    Position {
        line: loc.line() as usize,
        column: loc.column() as usize,
        offset: span
            .byte_offset()
            .and_then(|o| usize::try_from(o).ok())
            .unwrap_or(UNKNOWN_OFFSET),
        len: span
            .byte_len()
            .and_then(|l| usize::try_from(l).ok())
            .unwrap_or(0),
    }
}

/// Everything diagnostics of one document share: its name and text, and
/// whether the text may be shown.
#[derive(Clone)]
pub(super) struct Source {
    pub(super) name: String,
    pub(super) text: Arc<str>,
    pub(super) show: bool,
    named: OnceLock<NamedSource<Arc<str>>>,
}

impl Source {
    pub(super) fn new(name: &str, text: Arc<str>, show: bool) -> Self {
        Source {
            name: name.to_string(),
            text,
            show,
            named: OnceLock::new(),
        }
    }

    pub(super) fn diag(
        &self,
        code: &'static str,
        pos: Option<Position>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let source = if self.show && pos.is_some() {
            Some(
                self.named
                    .get_or_init(|| {
                        NamedSource::new(&self.name, Arc::clone(&self.text)).with_language("yaml")
                    })
                    .clone(),
            )
        } else {
            None
        };
        Diagnostic {
            code,
            file: self.name.clone(),
            position: pos.map(|p| self.clamp(p)),
            path: String::new(),
            message: message.into(),
            label: String::new(),
            help: None,
            notes: Vec::new(),
            source,
        }
    }

    pub(super) fn clamp(&self, mut p: Position) -> Position {
        let n = self.text.len();
        p.offset = p.offset.min(n);
        p.len = p.len.min(n - p.offset);
        while !self.text.is_char_boundary(p.offset) {
            p.offset -= 1;
        }
        while !self.text.is_char_boundary(p.offset + p.len) {
            p.len += 1;
        }
        p
    }

    /// `p` with its byte offset worked out from line and column when the
    /// parser did not give it.
    pub(super) fn fix_offset(&self, mut p: Position) -> Position {
        if p.offset == UNKNOWN_OFFSET {
            p.offset = self.offset_of(p.line, p.column);
        }
        p
    }

    /// Byte offset of a 1-based (line, character column).
    pub(super) fn offset_of(&self, line: usize, column: usize) -> usize {
        let mut offset = 0;
        for (i, l) in self.text.split_inclusive('\n').enumerate() {
            if i + 1 == line {
                return offset
                    + l.char_indices()
                        .nth(column.saturating_sub(1))
                        .map(|(b, _)| b)
                        .unwrap_or(l.len());
            }
            offset += l.len();
        }
        self.text.len()
    }

    /// A value as it may appear in a message: quoted, or hidden for secret files.
    pub(super) fn show_value(&self, v: &str) -> String {
        if self.show {
            format!("`{}`", sanitize(v, 60))
        } else {
            "a value".to_string()
        }
    }
}

/// Keep control characters out of terminal output and long values short.
pub(super) fn sanitize(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).flat_map(char::escape_debug).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// Check size and encoding, and make the text.
pub(super) fn decode(
    name: &str,
    bytes: &[u8],
    opts: &YamlOptions,
) -> Result<Source, Box<Diagnostic>> {
    if bytes.len() > opts.max_bytes {
        return Err(Box::new(too_big(name, bytes.len() as u64, opts.max_bytes)));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Source::new(name, Arc::from(text), opts.show_source)),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let lossy = String::from_utf8_lossy(bytes);
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = good
                .iter()
                .rposition(|b| *b == b'\n')
                .map(|i| i + 1)
                .unwrap_or(0);
            let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
            let src = Source::new(name, Arc::from(lossy.as_ref()), opts.show_source);
            let offset = src.offset_of(line, column);
            let pos = src.clamp(Position {
                line,
                column,
                offset,
                len: 1,
            });
            Err(src
                .diag(
                    "yaml::not-utf8",
                    Some(pos),
                    format!(
                        "the file is not UTF-8 text (invalid byte at line {line}, column {column})"
                    ),
                )
                .with_label("not UTF-8")
                .with_help("save the file as UTF-8 text")
                .into())
        }
    }
}

pub(super) fn too_big(name: &str, size: u64, max: usize) -> Diagnostic {
    let mib = |n: f64| n / (1024.0 * 1024.0);
    Diagnostic::whole_file(
        "yaml::too-big",
        name,
        format!(
            "the file is {:.1} MiB; azmove reads files of up to {:.0} MiB",
            mib(size as f64),
            mib(max as f64)
        ),
    )
    .with_help(
        "split the moves over several plan files, or cover many servers with one `select:` entry",
    )
}
