//! The terminal rendering: Terraform-like symbols, one block per server.
//!
//! `~` a server that moves (the same logical server, in a new AZ), `+` the
//! replacement apply creates, `-` a source apply deletes, `!` blocked, `=`
//! unchanged. Moves come first in the order apply runs them, then what is
//! blocked (with what to do about it), then what is already done.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use owo_colors::OwoColorize;

use super::{
    effects_words, existing_words, location, spec_diff, steps_line, strategy_counts,
    summary_sentence,
};
use crate::plan::changeset::{Action, Changeset, PlannedMove};

/// Colours only when asked (stdout is a terminal and the user did not opt out).
struct Paint {
    color: bool,
}

impl Paint {
    fn green(&self, s: &str) -> String {
        if self.color {
            s.green().to_string()
        } else {
            s.to_string()
        }
    }
    fn red(&self, s: &str) -> String {
        if self.color {
            s.red().to_string()
        } else {
            s.to_string()
        }
    }
    fn yellow(&self, s: &str) -> String {
        if self.color {
            s.yellow().to_string()
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        if self.color {
            s.bold().to_string()
        } else {
            s.to_string()
        }
    }
    fn dim(&self, s: &str) -> String {
        if self.color {
            s.dimmed().to_string()
        } else {
            s.to_string()
        }
    }
}

/// Render the plan for a terminal.
pub fn render(cs: &Changeset, color: bool) -> String {
    let p = Paint { color };
    let mut out = String::new();
    let rights = if cs.capabilities.is_admin {
        "admin"
    } else {
        "project member"
    };
    let _ = writeln!(
        out,
        "azmove plan for {} (digest {})",
        p.bold(&cs.plan_path),
        cs.short_digest()
    );
    let _ = writeln!(
        out,
        "Cloud: compute API {}, {rights}{}{}",
        cs.capabilities.compute_microversion,
        cs.cloud
            .as_deref()
            .map(|c| format!(", cloud {c}"))
            .unwrap_or_default(),
        cs.region
            .as_deref()
            .map(|r| format!(", region {r}"))
            .unwrap_or_default(),
    );
    let _ = writeln!(out);

    let names: BTreeMap<&str, &str> = cs
        .moves
        .iter()
        .map(|m| (m.key.as_str(), m.display_name()))
        .collect();
    let moving: Vec<&PlannedMove> = cs.moves.iter().filter(|m| m.is_move()).collect();
    let blocked: Vec<&PlannedMove> = cs.moves.iter().filter(|m| m.is_blocked()).collect();
    let unchanged: Vec<&PlannedMove> = cs
        .moves
        .iter()
        .filter(|m| matches!(m.action, Action::NoChange { .. }))
        .collect();

    if !moving.is_empty() {
        let _ = writeln!(
            out,
            "Symbols: {} moves to another AZ  {} created  {} deleted",
            p.yellow("~"),
            p.green("+"),
            p.red("-")
        );
        let _ = writeln!(out);
    }
    for m in &moving {
        move_block(&mut out, m, &names, &p);
    }
    if !blocked.is_empty() {
        let _ = writeln!(out, "{}", p.bold("Blocked (apply skips these):"));
        let _ = writeln!(out);
        for m in &blocked {
            blocked_block(&mut out, m, &p);
        }
    }
    if !unchanged.is_empty() {
        let _ = writeln!(out, "{}", p.bold("Unchanged:"));
        for m in &unchanged {
            let reason = match &m.action {
                Action::NoChange { reason } => reason.as_str(),
                _ => "",
            };
            let _ = writeln!(out, "  {} {}: {}", p.dim("="), ident(m), reason);
        }
        let _ = writeln!(out);
    }
    if let Some(counts) = strategy_counts(cs) {
        let _ = writeln!(out, "{counts}");
    }
    let _ = writeln!(out, "{}", p.bold(&summary_sentence(cs)));
    out
}

/// `name (uuid)` for a found server, the entry key otherwise.
fn ident(m: &PlannedMove) -> String {
    match &m.source {
        Some(s) => format!("{} ({})", s.name, s.id),
        None if m.key.starts_with("entry:") => format!("entry `{}`", m.entry),
        // A source that no longer exists, known by the id its replacement names.
        None => format!("{} ({})", m.entry, m.key),
    }
}

fn move_block(out: &mut String, m: &PlannedMove, names: &BTreeMap<&str, &str>, p: &Paint) {
    let Some(src) = &m.source else { return };
    let _ = writeln!(
        out,
        "{} {} ({})  {} → {}",
        p.yellow("~"),
        p.bold(&src.name),
        src.id,
        location(src),
        p.bold(&m.target_az)
    );
    let _ = writeln!(out, "    strategy  {} ({})", m.strategy, m.strategy_reason);
    let _ = writeln!(out, "    identity  {}", effects_words(m));
    let _ = writeln!(out, "    downtime  {}", m.effects.downtime.words());
    let _ = writeln!(out, "    steps     {}", steps_line(m));
    if !m.after.is_empty() {
        let shown: Vec<&str> = m
            .after
            .iter()
            .take(5)
            .map(|k| names.get(k.as_str()).copied().unwrap_or(k))
            .collect();
        let more = m.after.len().saturating_sub(shown.len());
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let _ = writeln!(out, "    after     {}{tail}", shown.join(", "));
    }
    if let Some(words) = existing_words(m) {
        let _ = writeln!(out, "    continues {words}");
    }
    if let Some(boot) = &m.boot
        && m.creates_replacement()
    {
        let _ = writeln!(
            out,
            "  {} {}  new server in {} from snapshot {}",
            p.green("+"),
            boot.name,
            m.target_az,
            boot.snapshot_name
        );
    }
    if m.deletes_source() {
        let _ = writeln!(
            out,
            "  {} {} ({})  deleted once the replacement is verified",
            p.red("-"),
            src.name,
            src.id
        );
    }
    if let Some(lines) = spec_diff(m) {
        let _ = writeln!(out, "    spec:");
        for l in lines {
            let line = format!("{} {}", l.sign, l.text);
            let line = match l.sign {
                '-' => p.red(&line),
                '+' => p.green(&line),
                _ => line,
            };
            let _ = writeln!(out, "      {line}");
        }
    }
    let _ = writeln!(out);
}

fn blocked_block(out: &mut String, m: &PlannedMove, p: &Paint) {
    let from = m
        .source
        .as_ref()
        .map(|s| format!("  {}", super::location(s)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} {}{from} → {}: cannot move",
        p.red("!"),
        p.bold(&ident(m)),
        m.target_az
    );
    if let Action::Blocked { reasons } = &m.action {
        for r in reasons {
            let _ = writeln!(out, "    * {r}");
        }
    }
    let _ = writeln!(out);
}
