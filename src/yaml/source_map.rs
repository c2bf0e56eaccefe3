//! Where every value of a parsed document came from, kept after parsing so
//! that later checks can point at what they reject.

use std::fmt;

use super::diagnostic::{Diagnostic, Position};
use super::path::{PathSeg, path_text};
use super::source::Source;
use super::tree::Node;

/// Where every value of a parsed document came from, so that checks run
/// after parsing can point at the line and column of what they reject.
///
/// Paths follow the typed value: `moves[3].after[0]` is
/// `[Key("moves"), Index(3), Key("after"), Index(0)]`.
#[derive(Clone)]
pub struct SourceMap {
    pub(super) src: Source,
    pub(super) root: Node,
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
        self.root.find(path, &self.src.text)
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

    /// What kind of value is at `path`, in the words of a message
    /// ("a mapping", "a list", "a number", …).
    pub fn describe(&self, path: &[PathSeg]) -> Option<&'static str> {
        self.node(path).map(Node::describe)
    }

    /// Whether the value at `path` is a mapping.
    pub fn is_mapping(&self, path: &[PathSeg]) -> bool {
        self.node(path).is_some_and(Node::is_mapping)
    }

    /// Whether the value at `path` is a list.
    pub fn is_list(&self, path: &[PathSeg]) -> bool {
        self.node(path).is_some_and(Node::is_list)
    }

    /// The value at `path` when it is written as a whole number.
    pub fn integer(&self, path: &[PathSeg]) -> Option<i128> {
        self.node(path)?.integer()
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
