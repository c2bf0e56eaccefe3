//! Every YAML document azmove reads goes through this module: plan files,
//! simulator scenarios, `clouds.yaml`. Budgets, error positions and message
//! wording are therefore the same everywhere, and no other module depends on
//! the YAML library.
//!
//! Reading happens in two stages. The text first becomes a tree of nodes that
//! remember where they came from (line, column, byte span); this is where the
//! budgets against alias bombs, deep nesting and huge inputs apply, and where
//! duplicate keys are found. The tree is then turned into the typed value by
//! serde. When that fails, the offending key or list item is dropped and the
//! conversion runs again, so one run reports every mistake in the file rather
//! than only the first. The tree is kept as a [`SourceMap`], which lets later
//! checks (see `validate.rs`) point at the exact value they complain about.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use miette::{LabeledSpan, NamedSource, SourceCode};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::plan::file::{PLAN_VERSION, PlanFile};

/// Largest plan file accepted. Plans are written by hand or generated for a
/// few thousand servers; anything bigger is a mistake or an attack.
pub const MAX_PLAN_BYTES: usize = 10 * 1024 * 1024;

/// Deepest nesting of lists and mappings accepted. A plan needs five levels.
pub const MAX_DEPTH: usize = 64;

/// Upper bound on nodes produced by replaying aliases (`*name`). Real files
/// reuse a few settings; a "billion laughs" document reuses them exponentially.
pub const MAX_ALIAS_REPLAY: usize = 100_000;

/// After this many problems in one file the rest would be noise.
pub const MAX_DIAGNOSTICS: usize = 100;

/// How a YAML document is read.
#[derive(Debug, Clone)]
pub struct YamlOptions {
    /// Refuse inputs larger than this many bytes.
    pub max_bytes: usize,
    /// Quote the offending source lines and values in diagnostics. Turn this
    /// off for files that hold secrets (`clouds.yaml`, `secure.yaml`): errors
    /// then name only the file, line, column and key.
    pub show_source: bool,
}

impl Default for YamlOptions {
    fn default() -> Self {
        YamlOptions {
            max_bytes: MAX_PLAN_BYTES,
            show_source: true,
        }
    }
}

impl YamlOptions {
    /// Options for documents that may contain passwords or tokens.
    pub fn secret() -> Self {
        YamlOptions {
            show_source: false,
            ..YamlOptions::default()
        }
    }
}

// ---------------------------------------------------------------------------
// Diagnostics
// ---------------------------------------------------------------------------

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
    source: Option<NamedSource<Arc<str>>>,
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
pub struct PlanErrors {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// The same type for YAML documents that are not plans.
pub type YamlErrors = PlanErrors;

impl PlanErrors {
    fn new(file: &str, diagnostics: Vec<Diagnostic>) -> Self {
        PlanErrors {
            file: file.to_string(),
            diagnostics,
        }
    }

    fn one(d: Diagnostic) -> Self {
        PlanErrors {
            file: d.file.clone(),
            diagnostics: vec![d],
        }
    }

    /// Every diagnostic as a graphical report, one after the other.
    pub fn render(&self, color: bool) -> String {
        self.diagnostics.iter().map(|d| d.render(color)).collect()
    }
}

impl fmt::Display for PlanErrors {
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

impl std::error::Error for PlanErrors {}

impl miette::Diagnostic for PlanErrors {
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

/// Everything diagnostics of one document share: its name and text, and
/// whether the text may be shown.
#[derive(Clone)]
struct Source {
    name: String,
    text: Arc<str>,
    show: bool,
    named: OnceLock<NamedSource<Arc<str>>>,
}

impl Source {
    fn new(name: &str, text: Arc<str>, show: bool) -> Self {
        Source {
            name: name.to_string(),
            text,
            show,
            named: OnceLock::new(),
        }
    }

    fn diag(
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

    fn clamp(&self, mut p: Position) -> Position {
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

    /// Byte offset of a 1-based (line, character column).
    fn offset_of(&self, line: usize, column: usize) -> usize {
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
    fn show_value(&self, v: &str) -> String {
        if self.show {
            format!("`{}`", sanitize(v, 60))
        } else {
            "a value".to_string()
        }
    }
}

/// Keep control characters out of terminal output and long values short.
fn sanitize(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).flat_map(char::escape_debug).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

// ---------------------------------------------------------------------------
// The node tree
// ---------------------------------------------------------------------------

/// Marker for "byte offset not known yet"; fixed up from line/column.
const UNKNOWN_OFFSET: usize = usize::MAX;

/// A YAML node with its position.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pos: Position,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    fn new(pos: Position, kind: Kind) -> Self {
        Node { pos, kind }
    }

    /// The text of a scalar as written in the file (without quotes for
    /// quoted strings). `None` for lists and mappings.
    fn scalar_text<'a>(&'a self, src: &'a str) -> Option<&'a str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            Kind::Seq(_) | Kind::Map(_) => None,
            _ => src.get(self.pos.offset..self.pos.offset + self.pos.len),
        }
    }

    /// The span to underline: a scalar itself; for a mapping its first key,
    /// for a list its first character.
    fn label_pos(&self) -> Position {
        match &self.kind {
            Kind::Map(entries) => entries.first().map(|(k, _)| k.pos).unwrap_or(self.pos),
            Kind::Seq(_) => Position { len: 1, ..self.pos },
            _ => self.pos,
        }
    }

    fn get(&self, key: &str, src: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar_text(src) == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn entry(&self, key: &str, src: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar_text(src) == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    fn describe(&self) -> &'static str {
        match self.kind {
            Kind::Null => "nothing",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::Float(_) => "a number",
            Kind::Str(_) => "a text value",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: serde_saphyr::Spanned<Kind> = serde_saphyr::Spanned::deserialize(d)?;
        let loc = s.referenced;
        let span = loc.span();
        let pos = Position {
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
        };
        Ok(Node::new(pos, s.value))
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KindVisitor;
        impl<'de> Visitor<'de> for KindVisitor {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Kind, E> {
                Ok(Kind::Null)
            }
            fn visit_none<E>(self) -> Result<Kind, E> {
                Ok(Kind::Null)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
                Kind::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
                Ok(Kind::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
                Ok(Kind::Int(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
                Ok(Kind::Int(v.into()))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Kind, E> {
                Ok(Kind::Int(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
                i128::try_from(v)
                    .map(Kind::Int)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
                Ok(Kind::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
                Ok(Kind::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Kind, E> {
                Ok(Kind::Str(v))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Kind, A::Error> {
                let mut v = Vec::with_capacity(a.size_hint().unwrap_or(0).min(1024));
                while let Some(n) = a.next_element()? {
                    v.push(n);
                }
                Ok(Kind::Seq(v))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Kind, A::Error> {
                let mut v = Vec::with_capacity(a.size_hint().unwrap_or(0).min(1024));
                while let Some(entry) = a.next_entry()? {
                    v.push(entry);
                }
                Ok(Kind::Map(v))
            }
        }
        d.deserialize_any(KindVisitor)
    }
}

fn saphyr_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_nodes: 4_000_000,
            max_events: 8_000_000,
            max_aliases: 10_000,
            max_anchors: 10_000,
            max_documents: 1,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_ALIAS_REPLAY,
        },
        // Duplicates are reported by `check_keys`, with both places.
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        // Only `true`/`false` are booleans: `no` and `y` stay text (server
        // names, AZ names), as in YAML 1.2.
        strict_booleans: true,
        // `.inf` reaches the typed value and is rejected there with a clear message.
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::PassThrough,
        with_snippet: false,
    }
}

/// Turn text into a node tree, or say why it is not YAML we accept.
fn parse_tree(src: &Source) -> Result<Node, Box<Diagnostic>> {
    let mut root: Node = serde_saphyr::from_str_with_options(&src.text, saphyr_options())
        .map_err(|e| Box::new(syntax_diag(src, &e)))?;
    if matches!(root.kind, Kind::Null) {
        let blank = src
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        let msg = if blank {
            "the file is empty"
        } else {
            "the document is empty (`null`)"
        };
        let pos = (!blank).then(|| {
            src.clamp(Position {
                len: 1,
                ..fix_offset(src, root.pos)
            })
        });
        return Err(Box::new(
            src.diag("yaml::empty", pos, msg)
                .with_label("nothing here")
                .with_help("write the document's content; an empty file holds no settings"),
        ));
    }
    fix_offsets(src, &mut root);
    Ok(root)
}

fn fix_offset(src: &Source, mut p: Position) -> Position {
    if p.offset == UNKNOWN_OFFSET {
        p.offset = src.offset_of(p.line, p.column);
    }
    p
}

fn fix_offsets(src: &Source, node: &mut Node) {
    node.pos = fix_offset(src, node.pos);
    match &mut node.kind {
        Kind::Seq(items) => items.iter_mut().for_each(|n| fix_offsets(src, n)),
        Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            fix_offsets(src, k);
            fix_offsets(src, v);
        }),
        _ => {}
    }
}

/// Translate a parser error into our wording.
fn syntax_diag(src: &Source, err: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::budget::BudgetBreach as B;
    use serde_saphyr::{Error as E, MessageFormatter};
    let mut inner = err.without_snippet();
    if let E::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let pos = inner
        .location()
        .or_else(|| err.location())
        .filter(|l| l.line() > 0)
        .map(|l| {
            let span = l.span();
            let p = Position {
                line: l.line() as usize,
                column: l.column() as usize,
                offset: span
                    .byte_offset()
                    .and_then(|o| usize::try_from(o).ok())
                    .unwrap_or(UNKNOWN_OFFSET),
                len: span
                    .byte_len()
                    .and_then(|l| usize::try_from(l).ok())
                    .unwrap_or(0)
                    .max(1),
            };
            src.clamp(fix_offset(src, p))
        });
    let alias_bomb = || {
        src.diag(
            "yaml::alias-bomb",
            pos,
            format!(
                "aliases (`*name`) expand to too much data (limit {MAX_ALIAS_REPLAY} nodes); this looks like an alias bomb"
            ),
        )
        .with_label("expansion stopped here")
        .with_help("write the values out, or reuse fewer anchors; a plan never needs deep alias chains")
    };
    let too_deep = || {
        src.diag(
            "yaml::too-deep",
            pos,
            format!("lists and mappings are nested more than {MAX_DEPTH} levels deep"),
        )
        .with_label("too deep")
        .with_help(
            "a plan needs only a few levels of nesting; look for runaway `[`/`{` or indentation",
        )
    };
    match inner {
        E::Budget { breach, .. } => match breach {
            B::Depth { .. } => too_deep(),
            B::Aliases { .. } | B::Anchors { .. } => alias_bomb(),
            B::Nodes { .. } | B::Events { .. } | B::ScalarBytes { .. } => {
                if src.text.contains('*') {
                    alias_bomb()
                } else {
                    src.diag(
                        "yaml::too-large",
                        pos,
                        "the document has too many values to read",
                    )
                    .with_label("stopped here")
                    .with_help("split it into several files")
                }
            }
            B::Documents { .. } => multiple_documents(src, pos),
            other => src
                .diag(
                    "yaml::limit",
                    pos,
                    format!("the document exceeds a safety limit ({other:?})"),
                )
                .with_label("stopped here"),
        },
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => alias_bomb(),
        E::MultipleDocuments { .. } => multiple_documents(src, pos),
        E::UnknownAnchor { .. } => src
            .diag(
                "yaml::unknown-anchor",
                pos,
                "this alias refers to an anchor that is not defined before it",
            )
            .with_label("unknown alias")
            .with_help("define the anchor first (`key: &name value`), then refer to it as `*name`"),
        E::InvalidUtf8Input => src.diag("yaml::not-utf8", pos, "the file is not valid UTF-8 text"),
        _ => {
            let msg = serde_saphyr::UserMessageFormatter.format_message(inner);
            let msg = sanitize(&msg, 200);
            if msg.contains("tab") {
                src.diag("yaml::tab", pos, "a tab character is used for indentation")
                    .with_label("tab")
                    .with_help("YAML indentation must be spaces; replace the tabs with spaces")
            } else if msg.contains("recursion limit") || msg.contains("nesting limit") {
                too_deep()
            } else {
                src.diag("yaml::syntax", pos, format!("invalid YAML: {msg}"))
                    .with_label("here")
                    .with_help("check the indentation, the `:` after each key and the quoting near this position")
            }
        }
    }
}

fn multiple_documents(src: &Source, pos: Option<Position>) -> Diagnostic {
    src.diag("yaml::multiple-documents", pos, "the file holds more than one YAML document (`---`)")
        .with_label("second document starts here")
        .with_help("put one document in each file; remove this `---` line and what follows, or move it to its own file")
}

/// Find duplicate and non-text keys (reported, later copies removed), all
/// the way down.
fn check_keys(src: &Source, node: &mut Node, path: &mut Vec<String>, out: &mut Vec<Diagnostic>) {
    match &mut node.kind {
        Kind::Seq(items) => {
            for (i, n) in items.iter_mut().enumerate() {
                path.push(format!("[{i}]"));
                check_keys(src, n, path, out);
                path.pop();
            }
        }
        Kind::Map(entries) => {
            let mut seen: HashMap<String, Position> = HashMap::new();
            let mut keep = Vec::with_capacity(entries.len());
            for (k, v) in std::mem::take(entries) {
                let Some(text) = k.scalar_text(&src.text).map(str::to_string) else {
                    out.push(
                        src.diag(
                            "yaml::complex-key",
                            Some(k.label_pos()),
                            "a key must be plain text, not a list or mapping",
                        )
                        .with_label("this key")
                        .with_path(join_path(path))
                        .with_help("write `name: value` with a plain name before the colon"),
                    );
                    continue;
                };
                if let Some(first) = seen.get(&text) {
                    out.push(
                        src.diag("yaml::duplicate-key", Some(k.pos), format!("duplicate key `{}`", sanitize(&text, 60)))
                            .with_label("defined again here")
                            .with_note(*first, "first defined here")
                            .with_path(join_path_key(path, &text))
                            .with_help("a key may appear once per mapping; remove one of them (the first one is used)"),
                    );
                    continue;
                }
                seen.insert(text.clone(), k.pos);
                keep.push((k, v));
            }
            *entries = keep;
            for (k, v) in entries.iter_mut() {
                let key = k.scalar_text(&src.text).unwrap_or_default().to_string();
                path.push(key);
                check_keys(src, v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn join_path(segs: &[String]) -> String {
    let mut out = String::new();
    for s in segs {
        if !s.starts_with('[') && !out.is_empty() {
            out.push('.');
        }
        out.push_str(s);
    }
    out
}

fn join_path_key(segs: &[String], key: &str) -> String {
    let mut p = segs.to_vec();
    p.push(key.to_string());
    join_path(&p)
}

// ---------------------------------------------------------------------------
// Typed conversion (serde over the node tree)
// ---------------------------------------------------------------------------

/// One step of a path: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn seg_path(segs: &[Seg]) -> String {
    let mut out = String::new();
    for s in segs {
        match s {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The path to the node being converted, as a chain of borrowed links so
/// that the happy path allocates nothing; it is materialised only on error.
struct Trail<'a> {
    parent: Option<&'a Trail<'a>>,
    step: Step<'a>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Root,
    Key(&'a Node),
    Index(usize),
}

impl Trail<'_> {
    fn segs(&self, src: &str) -> Vec<Seg> {
        let mut out = Vec::new();
        let mut cur = Some(self);
        while let Some(t) = cur {
            match t.step {
                Step::Root => {}
                Step::Key(k) => {
                    out.push(Seg::Key(k.scalar_text(src).unwrap_or_default().to_string()))
                }
                Step::Index(i) => out.push(Seg::Index(i)),
            }
            cur = t.parent;
        }
        out.reverse();
        out
    }
}

/// A serde error raised while converting, with where it happened.
#[derive(Debug)]
struct ConvError {
    kind: ConvKind,
    at: Option<ErrAt>,
}

#[derive(Debug)]
struct ErrAt {
    path: Vec<Seg>,
    pos: Position,
    found: &'static str,
}

#[derive(Debug)]
enum ConvKind {
    Custom(String),
    InvalidType {
        unexpected: String,
        expected: String,
    },
    InvalidValue {
        unexpected: String,
        expected: String,
    },
    InvalidLength {
        len: usize,
        expected: String,
    },
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    MissingField(&'static str),
    DuplicateField(&'static str),
}

impl fmt::Display for ConvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.kind)
    }
}

impl std::error::Error for ConvError {}

fn unexpected_text(u: de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match u {
        U::Bool(b) => format!("`{b}`"),
        U::Unsigned(n) => format!("the number `{n}`"),
        U::Signed(n) => format!("the number `{n}`"),
        U::Float(n) => format!("the number `{n}`"),
        U::Str(s) => format!("the text `{}`", sanitize(s, 60)),
        U::Unit => "nothing".to_string(),
        U::Seq => "a list".to_string(),
        U::Map => "a mapping".to_string(),
        other => other.to_string(),
    }
}

impl de::Error for ConvError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ConvError {
            kind: ConvKind::Custom(msg.to_string()),
            at: None,
        }
    }
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        ConvError {
            kind: ConvKind::InvalidType {
                unexpected: unexpected_text(unexp),
                expected: exp.to_string(),
            },
            at: None,
        }
    }
    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        ConvError {
            kind: ConvKind::InvalidValue {
                unexpected: unexpected_text(unexp),
                expected: exp.to_string(),
            },
            at: None,
        }
    }
    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        ConvError {
            kind: ConvKind::InvalidLength {
                len,
                expected: exp.to_string(),
            },
            at: None,
        }
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        ConvError {
            kind: ConvKind::UnknownVariant {
                variant: variant.to_string(),
                expected,
            },
            at: None,
        }
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        ConvError {
            kind: ConvKind::UnknownField {
                field: field.to_string(),
                expected,
            },
            at: None,
        }
    }
    fn missing_field(field: &'static str) -> Self {
        ConvError {
            kind: ConvKind::MissingField(field),
            at: None,
        }
    }
    fn duplicate_field(field: &'static str) -> Self {
        ConvError {
            kind: ConvKind::DuplicateField(field),
            at: None,
        }
    }
}

/// A serde `Deserializer` over one node.
#[derive(Clone, Copy)]
struct NodeDe<'a> {
    node: &'a Node,
    src: &'a str,
    trail: &'a Trail<'a>,
}

impl<'a> NodeDe<'a> {
    /// Attach this node's place to an error that has none yet.
    fn locate(&self, mut e: ConvError) -> ConvError {
        if e.at.is_none() {
            e.at = Some(ErrAt {
                path: self.trail.segs(self.src),
                pos: self.node.label_pos(),
                found: self.node.describe(),
            });
        }
        e
    }

    fn text(&self) -> Option<&'a str> {
        self.node.scalar_text(self.src)
    }
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = ConvError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        match &self.node.kind {
            Kind::Null => visitor.visit_unit(),
            Kind::Bool(b) => visitor.visit_bool(*b),
            Kind::Int(i) => {
                if let Ok(u) = u64::try_from(*i) {
                    visitor.visit_u64(u)
                } else if let Ok(s) = i64::try_from(*i) {
                    visitor.visit_i64(s)
                } else {
                    visitor.visit_i128(*i)
                }
            }
            Kind::Float(f) => visitor.visit_f64(*f),
            Kind::Str(s) => visitor.visit_str(s),
            Kind::Seq(items) => visitor.visit_seq(SeqAcc {
                items,
                index: 0,
                de: self,
            }),
            Kind::Map(entries) => visitor.visit_map(MapAcc {
                entries,
                index: 0,
                de: self,
            }),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        // A plain `0123`, `1.10` or `true` in a text field is the text as written.
        match (&self.node.kind, self.text()) {
            (Kind::Null, _) => self.deserialize_any(visitor),
            (_, Some(t)) => visitor.visit_str(t),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        match self.node.kind {
            Kind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ConvError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConvError> {
        match &self.node.kind {
            Kind::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumAcc {
                key: &entries[0].0,
                value: &entries[0].1,
                de: self,
            }),
            Kind::Seq(_) | Kind::Map(_) | Kind::Null => self.deserialize_any(visitor),
            _ => match self.text() {
                Some(t) => visitor.visit_enum(IntoDeserializer::<ConvError>::into_deserializer(t)),
                None => self.deserialize_any(visitor),
            },
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct
    }
}

struct SeqAcc<'a> {
    items: &'a [Node],
    index: usize,
    de: NodeDe<'a>,
}

impl<'de, 'a> de::SeqAccess<'de> for SeqAcc<'a> {
    type Error = ConvError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ConvError> {
        let Some(node) = self.items.get(self.index) else {
            return Ok(None);
        };
        let trail = Trail {
            parent: Some(self.de.trail),
            step: Step::Index(self.index),
        };
        self.index += 1;
        let child = NodeDe {
            node,
            src: self.de.src,
            trail: &trail,
        };
        seed.deserialize(child)
            .map(Some)
            .map_err(|e| child.locate(e))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.index)
    }
}

struct MapAcc<'a> {
    entries: &'a [(Node, Node)],
    index: usize,
    de: NodeDe<'a>,
}

impl<'de, 'a> de::MapAccess<'de> for MapAcc<'a> {
    type Error = ConvError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ConvError> {
        let Some((key, _)) = self.entries.get(self.index) else {
            return Ok(None);
        };
        let trail = Trail {
            parent: Some(self.de.trail),
            step: Step::Key(key),
        };
        let child = NodeDe {
            node: key,
            src: self.de.src,
            trail: &trail,
        };
        seed.deserialize(child)
            .map(Some)
            .map_err(|e| child.locate(e))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, ConvError> {
        let (key, value) = self.entries.get(self.index).ok_or_else(|| {
            self.de
                .locate(de::Error::custom("a value was read before its key"))
        })?;
        self.index += 1;
        let trail = Trail {
            parent: Some(self.de.trail),
            step: Step::Key(key),
        };
        let child = NodeDe {
            node: value,
            src: self.de.src,
            trail: &trail,
        };
        seed.deserialize(child).map_err(|e| child.locate(e))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len() - self.index)
    }
}

/// `{variant: value}` for enums that carry data.
struct EnumAcc<'a> {
    key: &'a Node,
    value: &'a Node,
    de: NodeDe<'a>,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAcc<'a> {
    type Error = ConvError;
    type Variant = NodeDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), ConvError> {
        let key_de = NodeDe {
            node: self.key,
            ..self.de
        };
        let v = seed.deserialize(key_de).map_err(|e| key_de.locate(e))?;
        Ok((
            v,
            NodeDe {
                node: self.value,
                ..self.de
            },
        ))
    }
}

impl<'de, 'a> de::VariantAccess<'de> for NodeDe<'a> {
    type Error = ConvError;

    fn unit_variant(self) -> Result<(), ConvError> {
        match self.node.kind {
            Kind::Null => Ok(()),
            _ => Err(self.locate(de::Error::invalid_type(
                de::Unexpected::Map,
                &"a name without a value",
            ))),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, ConvError> {
        seed.deserialize(self).map_err(|e| self.locate(e))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ConvError> {
        de::Deserializer::deserialize_seq(self, visitor).map_err(|e| self.locate(e))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConvError> {
        de::Deserializer::deserialize_map(self, visitor).map_err(|e| self.locate(e))
    }
}

/// Remove the node at `path` from its parent; returns it.
fn remove_at(root: &mut Node, path: &[Seg], src: &str) -> Option<Node> {
    let (last, parent_path) = path.split_last()?;
    let mut cur = root;
    for seg in parent_path {
        cur = match (seg, &mut cur.kind) {
            (Seg::Key(k), Kind::Map(entries)) => {
                &mut entries
                    .iter_mut()
                    .find(|(key, _)| key.scalar_text(src) == Some(k.as_str()))?
                    .1
            }
            (Seg::Index(i), Kind::Seq(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    match (last, &mut cur.kind) {
        (Seg::Key(k), Kind::Map(entries)) => {
            let i = entries
                .iter()
                .position(|(key, _)| key.scalar_text(src) == Some(k.as_str()))?;
            Some(entries.remove(i).1)
        }
        (Seg::Index(i), Kind::Seq(items)) if *i < items.len() => Some(items.remove(*i)),
        _ => None,
    }
}

/// Convert the tree into `T`, collecting every problem: after each failure
/// the offending key or item is removed and conversion runs again.
/// `on_remove` hears about every removed node, so callers can tell which
/// parts of the file did not make it into the value.
fn convert<T: DeserializeOwned>(
    src: &Source,
    root: &mut Node,
    out: &mut Vec<Diagnostic>,
    on_remove: &mut dyn FnMut(&[Seg], &Node),
) -> Option<T> {
    let mut removed: Vec<Vec<Seg>> = Vec::new();
    loop {
        let trail = Trail {
            parent: None,
            step: Step::Root,
        };
        let de = NodeDe {
            node: root,
            src: &src.text,
            trail: &trail,
        };
        let err = match T::deserialize(de) {
            Ok(v) => return Some(v),
            Err(e) => de.locate(e),
        };
        let Some(at) = &err.at else {
            return None;
        };
        // A required key we removed ourselves is reported already.
        let echo = matches!(err.kind, ConvKind::MissingField(f)
            if removed.iter().any(|r| r.len() == at.path.len() + 1
                && r.starts_with(&at.path)
                && r.last() == Some(&Seg::Key(f.to_string()))));
        if !echo {
            out.push(conv_diag(src, &err));
        }
        if out.len() >= MAX_DIAGNOSTICS {
            out.push(src.diag(
                "yaml::too-many-errors",
                None,
                format!("stopped after {MAX_DIAGNOSTICS} problems; fix these and run again"),
            ));
            return None;
        }
        let target = at.path.clone();
        let node = remove_at(root, &target, &src.text)?;
        on_remove(&target, &node);
        removed.push(target);
    }
}

/// How serde names a type, in the words of a plan file.
fn expected_text(raw: &str) -> String {
    match raw {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a string" | "a borrowed string" | "a char" => "a text value".into(),
        "a boolean" => "`true` or `false`".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping (`key: value` lines)".into(),
        s if s.starts_with("struct ") => "a mapping (`key: value` lines)".into(),
        s if s.starts_with("enum ") => "one of the allowed names".into(),
        other => other.to_string(),
    }
}

fn example_for(expected: &str) -> Option<&'static str> {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => {
            Some("write a plain number such as `4`, without quotes")
        }
        "f32" | "f64" => Some("write a plain number such as `10` or `2.5`, without quotes"),
        "a boolean" => Some("write `true` or `false`, without quotes"),
        "a sequence" => Some("write a list: `[a, b]`, or one `- item` per line"),
        "a string" => Some("write the value as text; quote it if it contains `:` or `#`"),
        s if s.starts_with("struct ") || s == "a map" => {
            Some("write `key: value` lines, indented under this key")
        }
        _ => None,
    }
}

/// The nearest matches for a misspelt name.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn list_names(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn conv_diag(src: &Source, err: &ConvError) -> Diagnostic {
    let Some(at) = &err.at else {
        return src.diag("yaml::invalid", None, format!("{err}"));
    };
    let path = seg_path(&at.path);
    let field = if path.is_empty() {
        "the document".to_string()
    } else {
        format!("`{path}`")
    };
    let parent = seg_path(at.path.split_last().map(|(_, p)| p).unwrap_or(&[]));
    let within = if parent.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{parent}`")
    };
    let d = |code, msg: String| src.diag(code, Some(at.pos), msg).with_path(path.clone());
    match &err.kind {
        ConvKind::UnknownField {
            field: key,
            expected,
        } => {
            let d = d(
                "yaml::unknown-key",
                format!("unknown key `{}` {within}", sanitize(key, 60)),
            )
            .with_label("unknown key");
            match did_you_mean(key, expected.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`? write `{s}:` instead")),
                None => d.with_help(format!(
                    "the keys allowed here are {}",
                    list_names(expected)
                )),
            }
        }
        ConvKind::MissingField(f) => {
            let help = match *f {
                "version" => "add `version: 1` at the top of the file".to_string(),
                "moves" => "add a `moves:` list with one entry per server (or selection) to move"
                    .to_string(),
                "to" => "add `to: AZ`, the availability zone the server moves to".to_string(),
                other => format!("add `{other}: …` here"),
            };
            let where_ = if path.is_empty() {
                "the file".to_string()
            } else {
                format!("`{path}`")
            };
            d("yaml::missing-key", format!("{where_} has no `{f}`"))
                .with_label(format!("`{f}` missing"))
                .with_help(help)
        }
        ConvKind::UnknownVariant { variant, expected } => {
            let d = d(
                "yaml::unknown-value",
                format!("{field} cannot be {}", src.show_value(variant)),
            )
            .with_label("not an allowed value");
            match did_you_mean(variant, expected.iter().copied()) {
                Some(s) => d.with_help(format!(
                    "did you mean `{s}`? allowed: {}",
                    list_names(expected)
                )),
                None => d.with_help(format!("write one of {}", list_names(expected))),
            }
        }
        ConvKind::InvalidType {
            unexpected,
            expected,
        }
        | ConvKind::InvalidValue {
            unexpected,
            expected,
        } => {
            let found = if src.show {
                unexpected.clone()
            } else {
                at.found.to_string()
            };
            let msg = format!("{field} must be {}, found {found}", expected_text(expected));
            let d = d("yaml::wrong-type", msg)
                .with_label(format!("expected {}", expected_text(expected)));
            match example_for(expected) {
                Some(h) => d.with_help(h),
                None => d,
            }
        }
        ConvKind::InvalidLength { len, expected } => d(
            "yaml::wrong-length",
            format!(
                "{field} has {len} items, expected {}",
                expected_text(expected)
            ),
        )
        .with_label("wrong number of items"),
        ConvKind::DuplicateField(f) => d("yaml::duplicate-key", format!("`{f}` is given twice"))
            .with_label("again here")
            .with_help("remove one of them"),
        ConvKind::Custom(msg) => {
            // Messages of the form "what is wrong; write … instead" split into message and help.
            let msg = if src.show {
                msg.clone()
            } else {
                "invalid value".to_string()
            };
            let (m, h) = match msg.split_once("; write") {
                Some((m, h)) => (m.to_string(), Some(format!("write{h}"))),
                None => (msg, None),
            };
            let d = d("yaml::invalid-value", format!("{field}: {m}")).with_label("invalid");
            match h {
                Some(h) => d.with_help(h),
                None => d,
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Source map
// ---------------------------------------------------------------------------

/// One step of a path into a document, for [`SourceMap`] lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSeg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Where every value of a parsed document came from, so that checks run
/// after parsing can point at the line and column of what they reject.
///
/// Paths follow the typed value: `moves[3].after[0]` is
/// `[Key("moves"), Index(3), Key("after"), Index(0)]`.
#[derive(Clone)]
pub struct SourceMap {
    src: Source,
    root: Node,
}

impl fmt::Debug for SourceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceMap")
            .field("file", &self.src.name)
            .finish()
    }
}

impl SourceMap {
    /// The file name diagnostics use.
    pub fn file(&self) -> &str {
        &self.src.name
    }

    fn node(&self, path: &[PathSeg]) -> Option<&Node> {
        let mut cur = &self.root;
        for seg in path {
            cur = match (seg, &cur.kind) {
                (PathSeg::Key(k), Kind::Map(_)) => cur.get(k, &self.src.text)?,
                (PathSeg::Index(i), Kind::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Position of the value at `path`.
    pub fn position(&self, path: &[PathSeg]) -> Option<Position> {
        self.node(path).map(Node::label_pos)
    }

    /// Position of the key at the end of `path` (the `after` in `after: [x]`).
    pub fn key_position(&self, path: &[PathSeg]) -> Option<Position> {
        let (PathSeg::Key(k), parent) = path.split_last()? else {
            return self.position(path);
        };
        self.node(parent)?
            .entry(k, &self.src.text)
            .map(|(key, _)| key.pos)
    }

    /// Position of `path`, or of its nearest ancestor that exists (an
    /// absent optional key points at the mapping that lacks it).
    pub fn nearest_position(&self, path: &[PathSeg]) -> Option<Position> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.position(&path[..n]))
    }

    /// The scalar text at `path` as written (numbers and booleans included).
    pub fn text(&self, path: &[PathSeg]) -> Option<&str> {
        self.node(path)?.scalar_text(&self.src.text)
    }

    /// A diagnostic about the value at `path` (or the nearest ancestor).
    pub fn diagnostic(
        &self,
        code: &'static str,
        path: &[PathSeg],
        message: impl Into<String>,
    ) -> Diagnostic {
        self.src
            .diag(code, self.nearest_position(path), message)
            .with_path(path_text(path))
    }

    /// A diagnostic at an explicit position of this file.
    pub fn diagnostic_at(
        &self,
        code: &'static str,
        pos: Option<Position>,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.src.diag(code, pos, message)
    }

    /// `value` quoted for a message, or hidden when the file is secret.
    pub fn show_value(&self, value: &str) -> String {
        self.src.show_value(value)
    }
}

/// `moves[3].after[0]` for a path.
pub fn path_text(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------

/// Check size and encoding, and make the text.
fn decode(name: &str, bytes: &[u8], opts: &YamlOptions) -> Result<Source, Box<Diagnostic>> {
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

fn too_big(name: &str, size: u64, max: usize) -> Diagnostic {
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

/// Read a file, refusing it early when it is larger than `max` bytes (the
/// read itself is capped too, so a pipe or device cannot make it grow).
pub fn read_source(path: &Path, max: usize) -> Result<Vec<u8>, PlanErrors> {
    let name = path.display().to_string();
    let unreadable = |e: std::io::Error| {
        PlanErrors::one(
            Diagnostic::whole_file(
                "yaml::unreadable",
                &name,
                format!("cannot read the file: {e}"),
            )
            .with_help("check the path and the file's permissions"),
        )
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    if let Ok(meta) = file.metadata() {
        if meta.is_dir() {
            return Err(PlanErrors::one(
                Diagnostic::whole_file(
                    "yaml::unreadable",
                    &name,
                    "this is a directory, not a file",
                )
                .with_help("name a YAML file"),
            ));
        }
        if meta.len() > max as u64 {
            return Err(PlanErrors::one(too_big(&name, meta.len(), max)));
        }
    }
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() > max {
        return Err(PlanErrors::one(too_big(&name, bytes.len() as u64, max)));
    }
    Ok(bytes)
}

/// Parse any YAML document into `T`, with the budgets and diagnostics of
/// plan files, and keep its [`SourceMap`].
pub fn from_yaml_slice<T: DeserializeOwned>(
    name: &str,
    bytes: &[u8],
    opts: &YamlOptions,
) -> Result<(T, SourceMap), YamlErrors> {
    let src = decode(name, bytes, opts).map_err(|d| PlanErrors::one(*d))?;
    let mut root = parse_tree(&src).map_err(|d| PlanErrors::one(*d))?;
    let mut diags = Vec::new();
    check_keys(&src, &mut root, &mut Vec::new(), &mut diags);
    let value = convert::<T>(&src, &mut root, &mut diags, &mut |_, _| {});
    match value {
        Some(v) if diags.is_empty() => Ok((v, SourceMap { src, root })),
        _ => Err(PlanErrors::new(name, diags)),
    }
}

/// Parse any YAML document (a scenario, `clouds.yaml`, …) into `T`.
/// `name` is what diagnostics call the document, usually its path.
pub fn from_yaml_str<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, YamlErrors> {
    from_yaml_slice(name, text.as_bytes(), &YamlOptions::default()).map(|(v, _)| v)
}

/// Read and parse a YAML file into `T`.
pub fn read_yaml_file<T: DeserializeOwned>(
    path: &Path,
    opts: &YamlOptions,
) -> Result<(T, SourceMap), YamlErrors> {
    let bytes = read_source(path, opts.max_bytes)?;
    from_yaml_slice(&path.display().to_string(), &bytes, opts)
}

/// Write a value as YAML (the inverse of [`from_yaml_str`]).
pub fn to_yaml_string<T: Serialize>(value: &T) -> Result<String, String> {
    serde_saphyr::to_string(value).map_err(|e| e.to_string())
}

/// Everything known after reading a plan file, including when it has errors:
/// the value (with broken parts left out), where each value is, every
/// problem found so far, and the keys of entries that had to be left out
/// (so that references to them are not reported a second time).
#[derive(Debug)]
pub struct ParsedPlan {
    pub plan: Option<PlanFile>,
    pub map: Option<SourceMap>,
    pub diagnostics: Vec<Diagnostic>,
    pub dropped_keys: BTreeSet<String>,
}

impl ParsedPlan {
    fn failed(d: Diagnostic) -> Self {
        ParsedPlan {
            plan: None,
            map: None,
            diagnostics: vec![d],
            dropped_keys: BTreeSet::new(),
        }
    }
}

/// Parse a plan file, collecting every syntax and type problem. Checks of
/// meaning (references, cycles, …) are in `validate.rs`.
pub fn parse_plan_lenient(name: &str, bytes: &[u8]) -> ParsedPlan {
    let src = match decode(name, bytes, &YamlOptions::default()) {
        Ok(s) => s,
        Err(d) => return ParsedPlan::failed(*d),
    };
    let mut root = match parse_tree(&src) {
        Ok(r) => r,
        Err(d) if d.code == "yaml::empty" => {
            return ParsedPlan::failed(d.with_help(
                "a plan needs at least `version: 1` and a `moves:` list; see docs/plan-file.md",
            ));
        }
        Err(d) => return ParsedPlan::failed(*d),
    };
    let mut diags = Vec::new();
    check_keys(&src, &mut root, &mut Vec::new(), &mut diags);
    if let Err(d) = check_plan_shape(&src, &mut root, &mut diags) {
        diags.push(*d);
        return ParsedPlan {
            plan: None,
            map: None,
            diagnostics: diags,
            dropped_keys: BTreeSet::new(),
        };
    }
    let mut dropped = BTreeSet::new();
    let text = Arc::clone(&src.text);
    let plan = convert::<PlanFile>(&src, &mut root, &mut diags, &mut |path, node| {
        // A whole move entry left out: remember its key.
        if let [Seg::Key(m), Seg::Index(_)] = path
            && m == "moves"
        {
            for k in ["id", "server"] {
                if let Some(t) = node.get(k, &text).and_then(|n| n.scalar_text(&text)) {
                    dropped.insert(t.to_string());
                }
            }
        }
        // An `id` or `server` left out of an entry: its references are unreliable too.
        if let [Seg::Key(m), Seg::Index(_), Seg::Key(k)] = path
            && m == "moves"
            && (k == "id" || k == "server")
            && let Some(t) = node.scalar_text(&text)
        {
            dropped.insert(t.to_string());
        }
    });
    ParsedPlan {
        map: plan.as_ref().map(|_| SourceMap { src, root }),
        plan,
        diagnostics: diags,
        dropped_keys: dropped,
    }
}

/// The plan-level checks that decide whether the rest can be read at all:
/// the document is a mapping and its `version` is one this build reads.
fn check_plan_shape(
    src: &Source,
    root: &mut Node,
    diags: &mut Vec<Diagnostic>,
) -> Result<(), Box<Diagnostic>> {
    let Kind::Map(entries) = &mut root.kind else {
        let help = match root.kind {
            Kind::Seq(_) => "a plan starts with `version: 1`, then lists the moves under `moves:`",
            _ => "a plan is a mapping: `version: 1`, optional settings, and a `moves:` list",
        };
        return Err(src
            .diag(
                "plan::not-a-mapping",
                Some(root.label_pos()),
                format!("a plan file must be a mapping, found {}", root.describe()),
            )
            .with_label("expected `key: value` lines")
            .with_help(help)
            .into());
    };
    let version = entries
        .iter()
        .find(|(k, _)| k.scalar_text(&src.text) == Some("version"))
        .map(|(_, v)| v);
    match version {
        None => {
            let first = entries.first().map(|(k, _)| k.pos).unwrap_or(root.pos);
            diags.push(
                src.diag(
                    "plan::missing-version",
                    Some(first),
                    "the plan has no `version`",
                )
                .with_label("`version` missing")
                .with_help(format!(
                    "add `version: {PLAN_VERSION}` at the top of the file"
                )),
            );
            // Read the rest as the current version, to report its problems too.
            let pos = root.pos;
            let key = Node::new(pos, Kind::Str("version".into()));
            let val = Node::new(pos, Kind::Int(PLAN_VERSION.into()));
            if let Kind::Map(entries) = &mut root.kind {
                entries.insert(0, (key, val));
            }
        }
        Some(Node {
            kind: Kind::Int(v),
            pos,
        }) if *v != i128::from(PLAN_VERSION) => {
            let help = if *v > i128::from(PLAN_VERSION) {
                format!(
                    "this file was written for a newer azmove; upgrade azmove, or rewrite the file for `version: {PLAN_VERSION}`"
                )
            } else {
                format!("write `version: {PLAN_VERSION}`")
            };
            return Err(src
                .diag("plan::unsupported-version", Some(*pos), format!("plan format version {v} is not supported; this azmove reads version {PLAN_VERSION}"))
                .with_label("unsupported version")
                .with_path("version")
                .with_help(help)
                .into());
        }
        Some(_) => {}
    }
    Ok(())
}

/// Parse a plan file: syntax and types only (no reference or cycle checks).
/// On success also returns where each value came from.
pub fn parse_plan(
    name: &str,
    input: impl AsRef<[u8]>,
) -> Result<(PlanFile, SourceMap), PlanErrors> {
    let parsed = parse_plan_lenient(name, input.as_ref());
    match (parsed.plan, parsed.map) {
        (Some(plan), Some(map)) if parsed.diagnostics.is_empty() => Ok((plan, map)),
        _ => Err(PlanErrors::new(name, parsed.diagnostics)),
    }
}

/// Read, parse and validate a plan file: what `plan` and `apply` use. Any
/// problem `azmove validate` would report makes this fail.
pub fn load_plan(path: &Path) -> Result<PlanFile, PlanErrors> {
    let name = path.display().to_string();
    let bytes = read_source(path, MAX_PLAN_BYTES)?;
    let report = crate::plan::validate::validate_bytes(&name, &bytes);
    match report.plan {
        Some(plan) if report.diagnostics.is_empty() => Ok(plan),
        _ => Err(PlanErrors::new(&name, report.diagnostics)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::file::Strategy;

    fn errs(text: &str) -> Vec<Diagnostic> {
        parse_plan_lenient("t.yaml", text.as_bytes()).diagnostics
    }

    #[test]
    fn reads_a_small_plan() {
        let (plan, map) = parse_plan(
            "t.yaml",
            "version: 1\nmoves:\n  - server: admin_vm01\n    to: nova2\n    strategy: snapshot\n",
        )
        .unwrap();
        assert_eq!(plan.moves.len(), 1);
        assert_eq!(plan.moves[0].strategy, Some(Strategy::Snapshot));
        let p = map
            .position(&[PathSeg::Key("moves"), PathSeg::Index(0), PathSeg::Key("to")])
            .unwrap();
        assert_eq!((p.line, p.column), (4, 9));
        assert_eq!(map.text(&[PathSeg::Key("version")]), Some("1"));
    }

    #[test]
    fn plain_scalars_in_text_fields_keep_their_spelling() {
        let (plan, _) = parse_plan(
            "t.yaml",
            "version: 1\nmoves:\n  - server: 0123\n    to: no\n    after: [y, 1.10]\n  - {server: y, to: a}\n  - {server: '1.10', to: a}\n",
        )
        .unwrap();
        assert_eq!(plan.moves[0].server.as_deref(), Some("0123"));
        assert_eq!(plan.moves[0].to, "no");
        assert_eq!(plan.moves[0].after, vec!["y", "1.10"]);
    }

    #[test]
    fn unknown_key_suggests_the_right_one() {
        let d = errs("version: 1\nmoves:\n  - server: a\n    to: b\n    sourceafter: keep\n");
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, "yaml::unknown-key");
        let p = d[0].position.unwrap();
        assert_eq!((p.line, p.column), (5, 5));
        assert!(
            d[0].help.as_deref().unwrap().contains("`source_after`"),
            "{:?}",
            d[0].help
        );
    }

    #[test]
    fn every_type_error_is_reported() {
        let d = errs(
            "version: 1\nlimits:\n  concurrency: many\nmoves:\n  - server: a\n    to: b\n    strategy: shelf\n  - server: c\n    to: d\n    timeouts: {stop: 5 parsecs}\n",
        );
        let lines: Vec<usize> = d.iter().map(|d| d.position.unwrap().line).collect();
        assert_eq!(lines, vec![3, 7, 10], "{d:#?}");
        assert!(d[1].help.as_deref().unwrap().contains("`shelve`"));
        assert!(d[2].message.contains("parsecs"), "{}", d[2].message);
    }

    #[test]
    fn removed_required_key_is_not_reported_twice() {
        let d = errs("version: 1\nmoves:\n  - server: a\n    to: [x]\n");
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].path, "moves[0].to");
    }

    #[test]
    fn missing_to_drops_the_entry_and_remembers_its_key() {
        let p = parse_plan_lenient(
            "t.yaml",
            b"version: 1\nmoves:\n  - server: a\n  - server: b\n    to: x\n",
        );
        assert_eq!(p.diagnostics.len(), 1);
        assert!(p.diagnostics[0].message.contains("`to`"));
        assert_eq!(p.plan.unwrap().moves.len(), 1);
        assert!(p.dropped_keys.contains("a"));
    }

    #[test]
    fn duplicate_keys_point_at_both_places() {
        let d = errs("version: 1\nmoves:\n  - server: a\n    to: b\n    to: c\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "yaml::duplicate-key");
        assert_eq!(d[0].position.unwrap().line, 5);
        assert_eq!(d[0].notes[0].position.line, 4);
    }

    #[test]
    fn version_is_checked_first() {
        let d = errs("version: 2\nmoves: []\n");
        assert_eq!(d[0].code, "plan::unsupported-version");
        let d = errs("moves: []\n");
        assert_eq!(d[0].code, "plan::missing-version");
    }

    #[test]
    fn empty_and_null_documents() {
        assert_eq!(errs("")[0].code, "yaml::empty");
        assert_eq!(errs("# only a comment\n\n")[0].code, "yaml::empty");
        assert_eq!(errs("~\n")[0].code, "yaml::empty");
        assert_eq!(errs("- a\n")[0].code, "plan::not-a-mapping");
    }

    #[test]
    fn json_is_accepted() {
        let (plan, _) = parse_plan(
            "t.json",
            r#"{"version": 1, "moves": [{"server": "a", "to": "b"}]}"#,
        )
        .unwrap();
        assert_eq!(plan.moves[0].to, "b");
    }

    #[test]
    fn hostile_inputs_give_clear_errors() {
        assert_eq!(
            errs("version: 1\nmoves:\n\t- server: a\n")[0].code,
            "yaml::tab"
        );
        let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(errs(&deep)[0].code, "yaml::too-deep");
        let mut bomb = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let mut prev = 'a';
        for c in "bcdefghi".chars() {
            bomb.push_str(&format!(
                "{c}: &{c} [{}]\n",
                vec![format!("*{prev}"); 9].join(",")
            ));
            prev = c;
        }
        assert_eq!(errs(&bomb)[0].code, "yaml::alias-bomb");
        let d = parse_plan_lenient("t.yaml", b"version: 1\nmoves: \xff\n").diagnostics;
        assert_eq!(d[0].code, "yaml::not-utf8");
        assert_eq!(d[0].position.unwrap().line, 2);
        assert_eq!(
            errs("version: 1\nmoves: []\n---\nx: 1\n")[0].code,
            "yaml::multiple-documents"
        );
    }

    #[test]
    fn secret_files_do_not_show_values() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Auth {
            port: u16,
        }
        let err =
            from_yaml_slice::<Auth>("clouds.yaml", b"port: hunter2\n", &YamlOptions::secret())
                .unwrap_err();
        let text = format!("{err} {err:?} {}", err.render(false));
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("clouds.yaml:1:7"), "{text}");
    }

    #[test]
    fn generic_documents_use_the_same_machinery() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            name: String,
            #[serde(default)]
            tags: Vec<String>,
        }
        let d: Doc = from_yaml_str("d.yaml", "name: x\ntags: [a]\n").unwrap();
        assert_eq!(
            d,
            Doc {
                name: "x".into(),
                tags: vec!["a".into()]
            }
        );
        let e = from_yaml_str::<Doc>("d.yaml", "name: x\ntagz: [a]\n").unwrap_err();
        assert!(e.to_string().contains("d.yaml:2:1"), "{e}");
        assert!(e.to_string().contains("`tags`"), "{e}");
    }

    #[test]
    fn rendered_report_shows_file_line_column_and_caret() {
        let d = errs("version: 1\nmoves:\n  - server: a\n    to: b\n    sourceafter: keep\n");
        let out = d[0].render(false);
        assert!(out.contains("t.yaml:5:5"), "{out}");
        assert!(out.contains("sourceafter: keep"), "{out}");
        assert!(out.contains("did you mean"), "{out}");
    }
}
