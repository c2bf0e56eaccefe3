//! Typed conversion with every problem reported: after each failure the
//! offending key or item is removed and conversion runs again. The messages
//! speak the words of a YAML file, not of Rust types.

use serde::de::DeserializeOwned;

use super::MAX_DIAGNOSTICS;
use super::de::{ConvError, ConvKind, NodeDe, Step, Trail};
use super::diagnostic::Diagnostic;
use super::path::{Seg, seg_path};
use super::source::{Source, sanitize};
use super::suggest::did_you_mean;
use super::tree::{Kind, Node};

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
pub(super) fn convert<T: DeserializeOwned>(
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
