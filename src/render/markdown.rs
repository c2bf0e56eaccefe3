//! The pull-request rendering: a summary table, then one collapsible
//! `<details>` block per server with its steps and spec diff, so a reviewer
//! sees the whole plan at a glance and opens only what interests them.

use std::fmt::Write as _;

use super::{
    effects_words, existing_words, location, spec_diff, steps_line, strategy_counts,
    summary_sentence,
};
use crate::plan::changeset::{Action, Changeset, PlannedMove};

/// Render the plan as GitHub-flavoured Markdown.
pub fn render(cs: &Changeset) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### azmove plan: `{}`", cs.plan_path);
    let _ = writeln!(out);
    let _ = writeln!(out, "**{}**", summary_sentence(cs));
    let _ = writeln!(out);
    if let Some(counts) = strategy_counts(cs) {
        let _ = writeln!(out, "{counts}");
        let _ = writeln!(out);
    }
    let rights = if cs.capabilities.is_admin {
        "admin"
    } else {
        "project member"
    };
    let _ = writeln!(
        out,
        "Plan digest `{}` · compute API {} · {rights}",
        cs.short_digest(),
        cs.capabilities.compute_microversion
    );
    let _ = writeln!(out);
    if cs.moves.is_empty() {
        return out;
    }
    let _ = writeln!(out, "| | server | from | to | strategy | what happens |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for m in &cs.moves {
        let (sym, what) = match &m.action {
            Action::Move => ("~", steps_line(m)),
            Action::NoChange { reason } => ("=", reason.clone()),
            Action::Blocked { reasons } => (
                "!",
                format!(
                    "**blocked**: {}",
                    reasons
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
        };
        let from = m
            .source
            .as_ref()
            .map(location)
            .unwrap_or_else(|| "–".to_string());
        let _ = writeln!(
            out,
            "| {sym} | `{}` | {} | {} | {} | {} |",
            cell(m.display_name()),
            cell(&from),
            cell(&m.target_az),
            m.strategy,
            cell(&what)
        );
    }
    let _ = writeln!(out);
    for m in cs
        .moves
        .iter()
        .filter(|m| !matches!(m.action, Action::NoChange { .. }))
    {
        details(&mut out, m, cs);
    }
    out
}

/// A table cell: no pipes or line breaks.
pub(crate) fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn details(out: &mut String, m: &PlannedMove, cs: &Changeset) {
    let id = m
        .source
        .as_ref()
        .map(|s| format!(" ({})", s.id))
        .unwrap_or_default();
    let sym = if m.is_move() { "~" } else { "!" };
    let _ = writeln!(
        out,
        "<details><summary>{sym} <code>{}</code>{id} → {}</summary>",
        html(m.display_name()),
        html(&m.target_az)
    );
    let _ = writeln!(out);
    match &m.action {
        Action::Blocked { reasons } => {
            for r in reasons {
                let _ = writeln!(out, "- {r}");
            }
        }
        _ => {
            let _ = writeln!(
                out,
                "- **strategy**: {} ({})",
                m.strategy, m.strategy_reason
            );
            let _ = writeln!(out, "- **identity**: {}", effects_words(m));
            let _ = writeln!(out, "- **downtime**: {}", m.effects.downtime.words());
            let _ = writeln!(out, "- **steps**: {}", steps_line(m));
            if !m.after.is_empty() {
                let names: Vec<String> = m
                    .after
                    .iter()
                    .map(|k| {
                        format!(
                            "`{}`",
                            cs.get(k).map(PlannedMove::display_name).unwrap_or(k)
                        )
                    })
                    .collect();
                let _ = writeln!(out, "- **after**: {}", names.join(", "));
            }
            if let Some(words) = existing_words(m) {
                let _ = writeln!(out, "- **continues**: {words}");
            }
            if let Some(boot) = &m.boot
                && m.creates_replacement()
            {
                let _ = writeln!(
                    out,
                    "- **creates**: `{}` in {} from snapshot `{}`",
                    boot.name, m.target_az, boot.snapshot_name
                );
            }
            if m.deletes_source() {
                let _ = writeln!(
                    out,
                    "- **deletes** the source once the replacement is verified"
                );
            }
            if let Some(lines) = spec_diff(m) {
                let _ = writeln!(out);
                let _ = writeln!(out, "```diff");
                for l in lines {
                    let _ = writeln!(out, "{}{}", l.sign, l.text);
                }
                let _ = writeln!(out, "```");
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "</details>");
    let _ = writeln!(out);
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
