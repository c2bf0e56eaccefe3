//! The first stage of reading: text becomes a tree of nodes that remember
//! where they came from. The budgets against hostile inputs apply here, and
//! duplicate keys are found here, before any type is known.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Visitor};

use super::diagnostic::{Diagnostic, Position};
use super::path::{PathSeg, Seg, seg_path};
use super::source::{Source, position_of, sanitize};
use super::syntax::syntax_diag;
use super::{MAX_ALIAS_REPLAY, MAX_DEPTH};

/// A YAML node with its position.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) pos: Position,
    pub(super) kind: Kind,
}

#[derive(Debug, Clone)]
pub(super) enum Kind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub(super) fn new(pos: Position, kind: Kind) -> Self {
        Node { pos, kind }
    }

    /// The text of a scalar as written in the file (without quotes for
    /// quoted strings). `None` for lists and mappings.
    pub(super) fn scalar_text<'a>(&'a self, src: &'a str) -> Option<&'a str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            Kind::Seq(_) | Kind::Map(_) => None,
            _ => src.get(self.pos.offset..self.pos.offset + self.pos.len),
        }
    }

    /// The span to underline: a scalar itself; for a mapping its first key,
    /// for a list its first character.
    pub(super) fn label_pos(&self) -> Position {
        match &self.kind {
            Kind::Map(entries) => entries.first().map(|(k, _)| k.pos).unwrap_or(self.pos),
            Kind::Seq(_) => Position { len: 1, ..self.pos },
            _ => self.pos,
        }
    }

    pub(super) fn get(&self, key: &str, src: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar_text(src) == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub(super) fn entry(&self, key: &str, src: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar_text(src) == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The node at `path` below this one.
    pub(super) fn find(&self, path: &[PathSeg], src: &str) -> Option<&Node> {
        let mut cur = self;
        for seg in path {
            cur = match (seg, &cur.kind) {
                (PathSeg::Key(k), Kind::Map(_)) => cur.get(k, src)?,
                (PathSeg::Index(i), Kind::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    pub(super) fn is_mapping(&self) -> bool {
        matches!(self.kind, Kind::Map(_))
    }

    pub(super) fn is_list(&self) -> bool {
        matches!(self.kind, Kind::Seq(_))
    }

    pub(super) fn integer(&self) -> Option<i128> {
        match self.kind {
            Kind::Int(v) => Some(v),
            _ => None,
        }
    }

    pub(super) fn describe(&self) -> &'static str {
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
        Ok(Node::new(position_of(&s.referenced), s.value))
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
pub(super) fn parse_tree(src: &Source) -> Result<Node, Box<Diagnostic>> {
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
                ..src.fix_offset(root.pos)
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

fn fix_offsets(src: &Source, node: &mut Node) {
    node.pos = src.fix_offset(node.pos);
    match &mut node.kind {
        Kind::Seq(items) => items.iter_mut().for_each(|n| fix_offsets(src, n)),
        Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            fix_offsets(src, k);
            fix_offsets(src, v);
        }),
        _ => {}
    }
}

/// Find duplicate and non-text keys (reported, later copies removed), all
/// the way down.
pub(super) fn check_keys(
    src: &Source,
    node: &mut Node,
    path: &mut Vec<Seg>,
    out: &mut Vec<Diagnostic>,
) {
    match &mut node.kind {
        Kind::Seq(items) => {
            for (i, n) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
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
                        .with_path(seg_path(path))
                        .with_help("write `name: value` with a plain name before the colon"),
                    );
                    continue;
                };
                if let Some(first) = seen.get(&text) {
                    out.push(
                        src.diag("yaml::duplicate-key", Some(k.pos), format!("duplicate key `{}`", sanitize(&text, 60)))
                            .with_label("defined again here")
                            .with_note(*first, "first defined here")
                            .with_path(seg_path(&[path.as_slice(), &[Seg::Key(text.clone())]].concat()))
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
                path.push(Seg::Key(key));
                check_keys(src, v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}
