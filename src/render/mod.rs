//! Output formats for plans and reports: text, markdown, JSON.
//!
//! Every renderer takes a [`Changeset`] and returns a `String`; none of them
//! writes anywhere, so the commands decide where output goes and tests can
//! snapshot it.

pub mod json;
pub mod markdown;
pub mod terminal;
pub mod text;

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use crate::plan::changeset::{Changeset, PlannedMove, ServerSpec, Step};
use crate::plan::file::{SourceAfter, Strategy};

pub use terminal::Colors;

/// Output format of plans, saved plans and plan diffs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// For a terminal: Terraform-like `+`/`~`/`-` lines.
    #[default]
    Text,
    /// For a pull-request comment: summary table and collapsible details.
    Markdown,
    /// Machine-readable, schema in schemas/changeset.schema.json.
    Json,
}

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

/// What the move keeps of the server, or changes, in words: the part of a
/// move clients of the server notice.
pub fn effects_words(m: &PlannedMove) -> String {
    let e = &m.effects;
    let parts = [
        (e.keeps_uuid, "UUID", "UUID"),
        (e.keeps_ips, "IPs (same ports)", "IPs (on new ports)"),
        (e.keeps_mac, "MAC addresses", "MAC addresses"),
    ];
    let kept: Vec<&str> = parts.iter().filter(|p| p.0).map(|p| p.1).collect();
    let changed: Vec<&str> = parts.iter().filter(|p| !p.0).map(|p| p.2).collect();
    let mut out = String::new();
    if !kept.is_empty() {
        let _ = write!(out, "keeps its {}", and_list(&kept));
    }
    if !changed.is_empty() {
        if !out.is_empty() {
            out.push_str("; ");
        }
        let changed: Vec<String> = changed.iter().map(|c| format!("new {c}")).collect();
        let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
        let _ = write!(out, "a new server: {}", and_list(&changed));
    }
    if e.reruns_first_boot {
        out.push_str("; cloud-init runs its first-boot modules again");
    }
    out
}

fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
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

/// "Strategies: 2 live, 1 cold, 1 snapshot." over the moves with work to
/// do, in the order `auto` prefers them; `None` when nothing moves.
pub fn strategy_counts(cs: &Changeset) -> Option<String> {
    let parts: Vec<String> = Strategy::ALL
        .iter()
        .filter_map(|s| {
            let n = cs
                .moves
                .iter()
                .filter(|m| m.is_move() && m.strategy == *s)
                .count();
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("Strategies: {}.", parts.join(", ")))
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
