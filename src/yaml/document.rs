//! A document between the two stages of reading: its positioned tree is
//! built and its keys checked, but it has no type yet. A reader with rules
//! of its own (a plan's `version` decides how the rest is read) looks at the
//! document here, before [`Document::convert`] gives it its type.

use serde::de::DeserializeOwned;

use super::YamlOptions;
use super::convert::convert;
use super::diagnostic::Diagnostic;
use super::path::{PathSeg, Seg};
use super::source::decode;
use super::source_map::SourceMap;
use super::tree::{Kind, Node, check_keys, parse_tree};

/// A parsed, untyped document and the problems found in it so far.
#[derive(Debug)]
pub struct Document {
    map: SourceMap,
    diagnostics: Vec<Diagnostic>,
}

/// The outcome of [`Document::convert`]: the value with broken parts left
/// out (absent when nothing usable remained), where each value is, and
/// every problem found.
#[derive(Debug)]
pub struct Converted<T> {
    pub value: Option<T>,
    pub map: Option<SourceMap>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A part of the document that conversion had to leave out, as shown to
/// the caller of [`Document::convert`].
pub struct Removed<'a> {
    node: &'a Node,
    text: &'a str,
}

impl Removed<'_> {
    /// The scalar text at `path` below the removed node (`&[]` for the node
    /// itself), as written.
    pub fn text(&self, path: &[PathSeg]) -> Option<&str> {
        self.node.find(path, self.text)?.scalar_text(self.text)
    }
}

impl Document {
    /// Check size and encoding, build the tree and find duplicate keys. A
    /// document that cannot be read at all fails with its one diagnostic.
    pub fn read(name: &str, bytes: &[u8], opts: &YamlOptions) -> Result<Document, Box<Diagnostic>> {
        let src = decode(name, bytes, opts)?;
        let mut root = parse_tree(&src)?;
        let mut diagnostics = Vec::new();
        check_keys(&src, &mut root, &mut Vec::new(), &mut diagnostics);
        Ok(Document {
            map: SourceMap { src, root },
            diagnostics,
        })
    }

    /// Positions and text of the untyped values.
    pub fn map(&self) -> &SourceMap {
        &self.map
    }

    /// Record a problem found by the caller's own checks.
    pub fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Give up on the document: every problem found so far.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    /// Add `key: value` as the first entry of the top-level mapping, so that
    /// a document missing a required setting is still read (and its other
    /// problems reported) as if it had the default. The new entry points at
    /// the start of the document.
    pub fn insert_first(&mut self, key: &str, value: i128) {
        let root = &mut self.map.root;
        let pos = root.pos;
        if let Kind::Map(entries) = &mut root.kind {
            entries.insert(
                0,
                (
                    Node::new(pos, Kind::Str(key.into())),
                    Node::new(pos, Kind::Int(value)),
                ),
            );
        }
    }

    /// Give the document its type, collecting every problem. `on_remove`
    /// hears about each part left out (its path and content), so callers can
    /// tell which parts of the file did not make it into the value.
    pub fn convert<T: DeserializeOwned>(
        self,
        mut on_remove: impl FnMut(&[PathSeg], Removed<'_>),
    ) -> Converted<T> {
        let Document {
            map: SourceMap { src, mut root },
            mut diagnostics,
        } = self;
        let text = std::sync::Arc::clone(&src.text);
        let value = convert::<T>(
            &src,
            &mut root,
            &mut diagnostics,
            &mut |path: &[Seg], node| {
                let path: Vec<PathSeg> = path.iter().map(Seg::borrowed).collect();
                on_remove(&path, Removed { node, text: &text });
            },
        );
        Converted {
            map: value.as_ref().map(|_| SourceMap { src, root }),
            value,
            diagnostics,
        }
    }
}
