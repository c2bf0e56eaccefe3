//! Output formats for plans and reports: text, markdown, JSON.
//!
//! Every renderer takes a [`Changeset`] and returns a `String`; none of them
//! writes anywhere, so the commands decide where output goes and tests can
//! snapshot it.

pub mod json;
pub mod markdown;
pub mod text;

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use crate::cli::OutputFormat;
use crate::plan::changeset::{Changeset, PlannedMove, ServerSpec, Step};
use crate::plan::file::SourceAfter;

/// Render a changeset in the chosen format. `color` only affects text (ANSI
/// colours; pass `true` only when stdout is a terminal).
pub fn render(changeset: &Changeset, format: OutputFormat, color: bool) -> String {
    match format {
        OutputFormat::Text => text::render(changeset, color),
        OutputFormat::Markdown => markdown::render(changeset),
        OutputFormat::Json => json::render(changeset),
    }
}

/// A server spec as a short YAML-like block, one fact per line, so that a
/// line diff of two of them reads as "what changes about this server".
pub fn spec_block(spec: &ServerSpec) -> String {
    let mut out = String::new();
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_string());
    let _ = writeln!(out, "id: {}", spec.id);
    let _ = writeln!(out, "name: {}", spec.name);
    let _ = writeln!(out, "status: {}", spec.status);
    let _ = writeln!(out, "availability_zone: {}", opt(&spec.availability_zone));
    if spec.host.is_some() {
        let _ = writeln!(out, "host: {}", opt(&spec.host));
    }
    let _ = writeln!(out, "flavor: {}", spec.flavor);
    let _ = writeln!(out, "image: {}", opt(&spec.image));
    if spec.networks.is_empty() {
        let _ = writeln!(out, "networks: (none)");
    } else {
        let _ = writeln!(out, "networks:");
        for (net, addrs) in &spec.networks {
            let _ = writeln!(out, "  {net}: {}", addrs.join(", "));
        }
    }
    let _ = writeln!(
        out,
        "security_groups: [{}]",
        spec.security_groups.join(", ")
    );
    let _ = writeln!(out, "key_name: {}", opt(&spec.key_name));
    if spec.metadata.is_empty() {
        let _ = writeln!(out, "metadata: {{}}");
    } else {
        let _ = writeln!(out, "metadata:");
        for (k, v) in &spec.metadata {
            let _ = writeln!(out, "  {k}: {v}");
        }
    }
    out
}

/// One line of a spec diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    /// `'-'` (only before), `'+'` (only after) or `' '` (both).
    pub sign: char,
    pub text: String,
}

/// Line diff of the source's spec and the replacement's predicted spec.
/// `None` when the move has no boot spec (blocked or unchanged).
pub fn spec_diff(m: &PlannedMove) -> Option<Vec<DiffLine>> {
    let before = spec_block(m.source.as_ref()?);
    let after = spec_block(&m.predicted_replacement()?);
    let diff = TextDiff::from_lines(&before, &after);
    Some(
        diff.iter_all_changes()
            .map(|c| DiffLine {
                sign: match c.tag() {
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                    ChangeTag::Equal => ' ',
                },
                text: c.value().trim_end_matches('\n').to_string(),
            })
            .collect(),
    )
}

/// The steps of a move as one line, `handle source` spelt out.
pub fn steps_line(m: &PlannedMove) -> String {
    m.steps
        .iter()
        .map(|s| match s {
            Step::HandleSource => format!(
                "{} ({})",
                s.as_str(),
                source_after_words(m.settings.source_after)
            ),
            other => other.as_str().to_string(),
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

pub(crate) fn source_after_words(a: SourceAfter) -> &'static str {
    match a {
        SourceAfter::Keep => "keep it, tag azmove_moved_to",
        SourceAfter::Stop => "stop it, tag azmove_moved_to",
        SourceAfter::Delete => "delete it",
    }
}

/// `AZ/host` (or just the AZ, or `?`) of the source.
pub fn location(spec: &ServerSpec) -> String {
    match (&spec.availability_zone, &spec.host) {
        (Some(az), Some(h)) => format!("{az}/{h}"),
        (Some(az), None) => az.clone(),
        (None, Some(h)) => format!("?/{h}"),
        (None, None) => "?".to_string(),
    }
}

/// What an earlier run left that this move continues from, in words.
pub fn existing_words(m: &PlannedMove) -> Option<String> {
    let e = &m.existing;
    let mut parts = Vec::new();
    if let (Some(id), Some(st)) = (&e.snapshot_id, &e.snapshot_status) {
        if st == "killed" {
            parts.push(format!(
                "failed snapshot {id} (killed; deleted before a new one)"
            ));
        } else {
            parts.push(format!("snapshot {id} ({st})"));
        }
    }
    if let (Some(id), Some(st)) = (&e.replacement_id, &e.replacement_status) {
        if st == "ERROR" {
            parts.push(format!(
                "failed replacement {id} (ERROR; deleted before booting again)"
            ));
        } else {
            parts.push(format!("replacement {id} ({st})"));
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The closing sentence of a plan.
pub fn summary_sentence(cs: &Changeset) -> String {
    let s = cs.summary;
    if s.to_move == 0 && s.blocked == 0 {
        format!(
            "No changes. The cloud already matches the plan ({} unchanged).",
            s.unchanged
        )
    } else {
        s.line()
    }
}

#[cfg(test)]
mod tests;
