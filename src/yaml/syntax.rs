//! Parser errors in azmove's words: each kind of rejected input (tabs,
//! alias bombs, deep nesting, several documents, …) gets its own code, label
//! and advice.

use super::diagnostic::{Diagnostic, Position};
use super::source::{Source, position_of, sanitize};
use super::{MAX_ALIAS_REPLAY, MAX_DEPTH};
/// Translate a parser error into our wording.
pub(super) fn syntax_diag(src: &Source, err: &serde_saphyr::Error) -> Diagnostic {
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
            let p = position_of(&l);
            let p = Position {
                len: p.len.max(1),
                ..p
            };
            src.clamp(src.fix_offset(p))
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
