//! What is wrong in a document and where: the values every YAML reader
//! returns, and how they render (miette's graphical report, or one line).

use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceCode};
use serde::Serialize;

/// Where something is in a file. `line` and `column` are 1-based and count
/// characters; `offset` and `len` are bytes, for highlighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub len: usize,
}

/// A secondary place a diagnostic points at ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub position: Position,
    pub label: String,
}

/// One problem in one file, with the place it is at and what to write instead.
///
/// Renders as a miette report (file:line:column, the source line, a caret and
/// the help text); [`fmt::Display`] gives the one-line form.
#[derive(Clone)]
pub struct Diagnostic {
    /// Stable identifier of the kind of problem, e.g. `yaml::unknown-key`.
    pub code: &'static str,
    /// The file name as given by the user.
    pub file: String,
    /// Where the problem is; `None` for whole-file problems (unreadable, too big).
    pub position: Option<Position>,
    /// The key path of the offending value, e.g. `moves[2].after[0]`; empty
    /// when the problem is not about one value.
    pub path: String,
    pub message: String,
    /// Short text shown under the caret.
    pub label: String,
    /// What to do about it, e.g. "did you mean `source_after`?".
    pub help: Option<String>,
    pub notes: Vec<Note>,
    /// The text quoted under the message; `None` for secret files.
    pub(super) source: Option<NamedSource<Arc<str>>>,
}

impl Diagnostic {
    /// A diagnostic about a whole file (no position, no source).
    pub fn whole_file(code: &'static str, file: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            file: file.to_string(),
            position: None,
            path: String::new(),
            message: message.into(),
            label: String::new(),
            help: None,
            notes: Vec::new(),
            source: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn with_note(mut self, position: Position, label: impl Into<String>) -> Self {
        self.notes.push(Note {
            position,
            label: label.into(),
        });
        self
    }

    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// `file:line:column` (or just `file`).
    pub fn location(&self) -> String {
        match &self.position {
            Some(p) => format!("{}:{}:{}", self.file, p.line, p.column),
            None => self.file.clone(),
        }
    }

    /// The graphical report: header, source line with caret, help.
    pub fn render(&self, color: bool) -> String {
        render_report(self, color)
    }
}

impl fmt::Debug for Diagnostic {
    // The source text stays out: it may be large, and for secret files it is
    // not kept at all.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Diagnostic")
            .field("code", &self.code)
            .field("location", &self.location())
            .field("path", &self.path)
            .field("message", &self.message)
            .field("help", &self.help)
            .finish()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let primary = self.position.map(|p| {
            let label = (!self.label.is_empty()).then(|| self.label.clone());
            LabeledSpan::new_primary_with_span(label, (p.offset, p.len))
        });
        let notes = self.notes.iter().map(|n| {
            LabeledSpan::new_with_span(Some(n.label.clone()), (n.position.offset, n.position.len))
        });
        Some(Box::new(primary.into_iter().chain(notes)))
    }
}

/// Why a YAML document (a plan file or another) was rejected: one or more
/// diagnostics, each with its own position.
#[derive(Debug, Clone)]
pub struct YamlErrors {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl YamlErrors {
    pub fn new(file: &str, diagnostics: Vec<Diagnostic>) -> Self {
        YamlErrors {
            file: file.to_string(),
            diagnostics,
        }
    }

    /// The errors of a document with a single problem.
    pub fn one(d: Diagnostic) -> Self {
        YamlErrors {
            file: d.file.clone(),
            diagnostics: vec![d],
        }
    }

    /// Every diagnostic as a graphical report, one after the other.
    pub fn render(&self, color: bool) -> String {
        self.diagnostics.iter().map(|d| d.render(color)).collect()
    }
}

impl fmt::Display for YamlErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for YamlErrors {}

impl miette::Diagnostic for YamlErrors {
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.diagnostics
                .iter()
                .map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}

fn render_report(d: &Diagnostic, color: bool) -> String {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_context_lines(1)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, &Graphical(d)).is_err() || d.source.is_none() {
        // Without source (or if rendering failed) miette cannot show the
        // position, so say it in the first line.
        out.clear();
        out.push_str(&format!("  × {}: {}\n", d.location(), d.message));
        if let Some(help) = &d.help {
            out.push_str(&format!("  help: {help}\n"));
        }
    }
    out.push('\n');
    out
}

/// A diagnostic as miette shows it: the header is the bare message, since
/// the frame below it already names file, line and column, and the help
/// has a line of its own.
struct Graphical<'a>(&'a Diagnostic);

impl fmt::Debug for Graphical<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Graphical<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Graphical<'_> {}

impl miette::Diagnostic for Graphical<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.code()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::help(self.0)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.0.labels()
    }
}
