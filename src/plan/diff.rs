//! Comparison of two versions of a plan file, for change review: which moves
//! were added, removed or changed, and which plan-wide settings changed.
//! Offline and pure: the two plans come in, a [`PlanDiff`] comes out, and the
//! renderers below turn it into text, Markdown or JSON.
//!
//! Entries are matched by key: `id`, else `server`, else a description of
//! the selector (so a `select` entry without `id` whose conditions change
//! shows as removed + added, which is what it is).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use owo_colors::OwoColorize;
use serde::Serialize;
use serde_json::Value;

use crate::plan::file::{MoveEntry, PlanFile, Selector};

/// What happened to one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffKind {
    Added,
    Removed,
    Changed,
}

impl DiffKind {
    fn symbol(self) -> &'static str {
        match self {
            DiffKind::Added => "+",
            DiffKind::Removed => "-",
            DiffKind::Changed => "~",
        }
    }
}

/// One field that differs. Values are rendered compactly (`nova2`, `[db01, db02]`);
/// `None` means the field is not set on that side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// Extra explanation, e.g. which list items were added, or how many
    /// moves a changed default applies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl FieldChange {
    fn kind(&self) -> DiffKind {
        match (&self.old, &self.new) {
            (None, Some(_)) => DiffKind::Added,
            (Some(_), None) => DiffKind::Removed,
            _ => DiffKind::Changed,
        }
    }
}

/// One entry that was added, removed or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoveChange {
    /// The entry's key: `id`, else `server`, else `select {…}`.
    pub key: String,
    pub kind: DiffKind,
    /// Target AZ (the new one, or the old one for removed entries).
    pub to: String,
    /// For changed entries, the fields that differ; for added and removed
    /// entries, every field that is set.
    pub fields: Vec<FieldChange>,
}

/// The difference between two plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanDiff {
    /// Changes of `version`, `cloud`, `region`, `defaults.*` and `limits.*`.
    pub settings: Vec<FieldChange>,
    /// Changed and added entries in the new file's order, then removed ones
    /// in the old file's order.
    pub moves: Vec<MoveChange>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DiffSummary {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub settings: usize,
}

impl PlanDiff {
    pub fn is_empty(&self) -> bool {
        self.settings.is_empty() && self.moves.is_empty()
    }

    pub fn summary(&self) -> DiffSummary {
        let count = |k| self.moves.iter().filter(|m| m.kind == k).count();
        DiffSummary {
            added: count(DiffKind::Added),
            removed: count(DiffKind::Removed),
            changed: count(DiffKind::Changed),
            settings: self.settings.len(),
        }
    }
}

impl std::fmt::Display for DiffSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            f,
            "{} added, {} removed, {} changed; {}",
            plural(self.added, "move", "moves"),
            self.removed,
            self.changed,
            plural(self.settings, "setting changed", "settings changed"),
        )
    }
}

/// A selector as a short, stable description: `select {name=web-*, availability_zone=nova}`.
pub fn describe_selector(s: &Selector) -> String {
    let mut parts = Vec::new();
    if let Some(n) = &s.name {
        parts.push(format!("name={n}"));
    }
    if let Some(az) = &s.availability_zone {
        parts.push(format!("availability_zone={az}"));
    }
    if let Some(h) = &s.host {
        parts.push(format!("host={h}"));
    }
    for (k, v) in &s.metadata {
        parts.push(format!("metadata.{k}={v}"));
    }
    format!("select {{{}}}", parts.join(", "))
}

/// The key an entry is matched by across the two files.
pub fn entry_key(e: &MoveEntry) -> String {
    match (e.key(), &e.select) {
        (Some(k), _) => k.to_string(),
        (None, Some(s)) => describe_selector(s),
        (None, None) => "(entry without server)".to_string(),
    }
}

/// Entries by key, in file order; a key used twice gets ` #2`, ` #3`, … so
/// that nothing is lost even in a file `validate` would reject.
fn keyed(moves: &[MoveEntry]) -> Vec<(String, &MoveEntry)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    moves
        .iter()
        .map(|e| {
            let k = entry_key(e);
            let n = seen.entry(k.clone()).or_insert(0);
            *n += 1;
            let key = if *n == 1 { k } else { format!("{k} #{n}") };
            (key, e)
        })
        .collect()
}

/// Flatten a value into dotted paths; lists stay whole.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, v, out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

fn fields_of<T: Serialize>(prefix: &str, v: &T) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Ok(v) = serde_json::to_value(v) {
        flatten(prefix, &v, &mut out);
    }
    out
}

/// Compact rendering of a value: text bare, lists as `[a, b]`.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// Order fields the way a reader scans an entry: target first, then what
/// it selects, then ordering, then the rest.
fn field_rank(f: &str) -> (u8, &str) {
    let rank = match f {
        "to" => 0,
        "id" => 1,
        "server" => 2,
        _ if f.starts_with("select.") => 3,
        "after" => 4,
        "strategy" | "strategies" => 5,
        _ => 6,
    };
    (rank, f)
}

/// Items added to and removed from a list, in order (`similar` does the matching).
fn list_note(old: &Value, new: &Value) -> Option<String> {
    let (Value::Array(a), Value::Array(b)) = (old, new) else {
        return None;
    };
    let a: Vec<String> = a.iter().map(show).collect();
    let b: Vec<String> = b.iter().map(show).collect();
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &a, &b) {
        for change in op.iter_changes(&a, &b) {
            match change.tag() {
                similar::ChangeTag::Insert => added.push(change.value().clone()),
                similar::ChangeTag::Delete => removed.push(change.value().clone()),
                similar::ChangeTag::Equal => {}
            }
        }
    }
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed {}", removed.join(", ")));
    }
    if parts.is_empty() {
        Some("same items, new order".to_string())
    } else {
        Some(parts.join("; "))
    }
}

fn compare(old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Vec<FieldChange> {
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort_by(|a, b| field_rank(a).cmp(&field_rank(b)));
    names.dedup();
    names
        .into_iter()
        .filter_map(|f| {
            let (o, n) = (old.get(f), new.get(f));
            if o == n {
                return None;
            }
            Some(FieldChange {
                field: f.clone(),
                old: o.map(show),
                new: n.map(show),
                note: match (o, n) {
                    (Some(o), Some(n)) => list_note(o, n),
                    _ => None,
                },
            })
        })
        .collect()
}

/// Compare two plans.
pub fn diff_plans(old: &PlanFile, new: &PlanFile) -> PlanDiff {
    // Plan-wide settings: everything but the moves.
    let settings_of = |p: &PlanFile| {
        let mut m = BTreeMap::new();
        m.insert("version".to_string(), Value::from(p.version));
        if let Some(c) = &p.cloud {
            m.insert("cloud".into(), Value::from(c.clone()));
        }
        if let Some(r) = &p.region {
            m.insert("region".into(), Value::from(r.clone()));
        }
        m.extend(fields_of("defaults", &p.defaults));
        m.extend(fields_of("limits", &p.limits));
        m
    };
    let mut settings = compare(&settings_of(old), &settings_of(new));
    // A changed default matters as much as the moves it reaches.
    let new_entries: Vec<BTreeMap<String, Value>> =
        new.moves.iter().map(|e| fields_of("", e)).collect();
    for c in &mut settings {
        if let Some(field) = c.field.strip_prefix("defaults.") {
            let reached = new_entries
                .iter()
                .filter(|e| !e.contains_key(field))
                .count();
            let note = format!("applies to {reached} of {} moves", new_entries.len());
            c.note = Some(match c.note.take() {
                Some(n) => format!("{n}; {note}"),
                None => note,
            });
        }
    }

    let old_keyed = keyed(&old.moves);
    let new_keyed = keyed(&new.moves);
    let old_index: HashMap<&str, &MoveEntry> =
        old_keyed.iter().map(|(k, e)| (k.as_str(), *e)).collect();
    let new_index: HashMap<&str, &MoveEntry> =
        new_keyed.iter().map(|(k, e)| (k.as_str(), *e)).collect();
    let empty = BTreeMap::new();

    let mut moves = Vec::new();
    for (key, e) in &new_keyed {
        let after = fields_of("", e);
        match old_index.get(key.as_str()) {
            Some(before) => {
                let fields = compare(&fields_of("", before), &after);
                if !fields.is_empty() {
                    moves.push(MoveChange {
                        key: key.clone(),
                        kind: DiffKind::Changed,
                        to: e.to.clone(),
                        fields,
                    });
                }
            }
            None => moves.push(MoveChange {
                key: key.clone(),
                kind: DiffKind::Added,
                to: e.to.clone(),
                fields: compare(&empty, &after),
            }),
        }
    }
    for (key, e) in &old_keyed {
        if !new_index.contains_key(key.as_str()) {
            moves.push(MoveChange {
                key: key.clone(),
                kind: DiffKind::Removed,
                to: e.to.clone(),
                fields: compare(&fields_of("", e), &empty),
            });
        }
    }
    PlanDiff { settings, moves }
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

fn paint(s: &str, kind: DiffKind, color: bool) -> String {
    if !color {
        return s.to_string();
    }
    match kind {
        DiffKind::Added => s.green().to_string(),
        DiffKind::Removed => s.red().to_string(),
        DiffKind::Changed => s.yellow().to_string(),
    }
}

fn field_line(c: &FieldChange) -> String {
    let mut s = match (&c.old, &c.new) {
        (Some(o), Some(n)) => format!("{}: {o} → {n}", c.field),
        (None, Some(n)) => format!("{}: {n}", c.field),
        (Some(o), None) => format!("{}: {o}", c.field),
        (None, None) => c.field.clone(),
    };
    if let Some(note) = &c.note {
        s.push_str(&format!("  ({note})"));
    }
    s
}

/// Terminal output: `+`/`-`/`~` lines, coloured when `color`.
pub fn render_text(d: &PlanDiff, old_name: &str, new_name: &str, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Comparing {old_name} → {new_name}");
    if d.is_empty() {
        out.push_str("\nNo differences.\n");
        return out;
    }
    if !d.settings.is_empty() {
        out.push_str("\nSettings:\n");
        for c in &d.settings {
            let k = c.kind();
            let _ = writeln!(out, "  {} {}", paint(k.symbol(), k, color), field_line(c));
        }
    }
    if !d.moves.is_empty() {
        out.push_str("\nMoves:\n");
        for m in &d.moves {
            let head = match m.kind {
                DiffKind::Changed => m.key.clone(),
                _ => format!("{} → {}", m.key, m.to),
            };
            let _ = writeln!(
                out,
                "  {} {}",
                paint(m.kind.symbol(), m.kind, color),
                paint(&head, m.kind, color && m.kind != DiffKind::Changed)
            );
            if m.kind == DiffKind::Changed {
                for c in &m.fields {
                    let k = c.kind();
                    let _ = writeln!(
                        out,
                        "      {} {}",
                        paint(k.symbol(), k, color),
                        field_line(c)
                    );
                }
            } else {
                let extra: Vec<String> = m
                    .fields
                    .iter()
                    .filter(|c| !matches!(c.field.as_str(), "to" | "server" | "id"))
                    .map(field_line)
                    .collect();
                if !extra.is_empty() {
                    let _ = writeln!(out, "      {}", extra.join(", "));
                }
            }
        }
    }
    let _ = writeln!(out, "\n{}.", d.summary());
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'").replace('\n', " ")
}

fn md_code(s: &str) -> String {
    format!("`{}`", md_escape(s))
}

fn md_change(c: &FieldChange) -> String {
    let mut s = match (&c.old, &c.new) {
        (Some(o), Some(n)) => format!("{}: {} → {}", md_code(&c.field), md_code(o), md_code(n)),
        (None, Some(n)) => format!("{}: {} (added)", md_code(&c.field), md_code(n)),
        (Some(o), None) => format!("{}: {} (removed)", md_code(&c.field), md_code(o)),
        (None, None) => md_code(&c.field),
    };
    if let Some(n) = &c.note {
        s.push_str(&format!(" — {}", md_escape(n)));
    }
    s
}

/// Markdown for a pull-request comment.
pub fn render_markdown(d: &PlanDiff, old_name: &str, new_name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Plan changes: {} → {}\n",
        md_code(old_name),
        md_code(new_name)
    );
    if d.is_empty() {
        out.push_str("No differences.\n");
        return out;
    }
    let _ = writeln!(out, "**{}**\n", d.summary());
    if !d.moves.is_empty() {
        out.push_str("| | entry | to | details |\n|---|---|---|---|\n");
        for m in &d.moves {
            let details = match m.kind {
                DiffKind::Changed => m
                    .fields
                    .iter()
                    .map(md_change)
                    .collect::<Vec<_>>()
                    .join("<br>"),
                _ => m
                    .fields
                    .iter()
                    .filter(|c| !matches!(c.field.as_str(), "to" | "server" | "id"))
                    .map(md_change)
                    .collect::<Vec<_>>()
                    .join("<br>"),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                m.kind.symbol(),
                md_code(&m.key),
                md_code(&m.to),
                details
            );
        }
        out.push('\n');
    }
    if !d.settings.is_empty() {
        out.push_str("| | setting | old | new | note |\n|---|---|---|---|---|\n");
        for c in &d.settings {
            let cell = |v: &Option<String>| v.as_deref().map(md_code).unwrap_or_else(|| "—".into());
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                c.kind().symbol(),
                md_code(&c.field),
                cell(&c.old),
                cell(&c.new),
                c.note.as_deref().map(md_escape).unwrap_or_default()
            );
        }
    }
    out
}

/// Machine-readable form.
pub fn render_json(d: &PlanDiff, old_name: &str, new_name: &str) -> Value {
    serde_json::json!({
        "old": old_name,
        "new": new_name,
        "summary": d.summary(),
        "settings": d.settings,
        "moves": d.moves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::parse::parse_plan;

    fn plan(text: &str) -> PlanFile {
        parse_plan("t.yaml", text).unwrap().0
    }

    #[test]
    fn identical_plans_have_no_differences() {
        let p = plan("version: 1\nmoves:\n  - {server: a, to: b}\n");
        let d = diff_plans(&p, &p);
        assert!(d.is_empty());
        assert!(render_text(&d, "a", "b", false).contains("No differences."));
    }

    #[test]
    fn added_removed_changed_and_settings() {
        let old = plan(
            "version: 1\nlimits: {concurrency: 4}\nmoves:\n  - {server: db01, to: nova2}\n  - {server: app01, to: nova2, after: [db01]}\n  - {server: old, to: nova2}\n  - {select: {name: 'web-*'}, to: nova2}\n",
        );
        let new = plan(
            "version: 1\nregion: R2\nlimits: {concurrency: 8}\ndefaults: {source_after: delete}\nmoves:\n  - {server: db01, to: nova3}\n  - {server: app01, to: nova2, after: [db01, db02], source_after: keep}\n  - {server: db02, to: nova2}\n  - {select: {name: 'web-*'}, to: nova2}\n",
        );
        let d = diff_plans(&old, &new);
        let s = d.summary();
        assert_eq!((s.added, s.removed, s.changed), (1, 1, 2));
        let fields: Vec<&str> = d.settings.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["defaults.source_after", "limits.concurrency", "region"]
        );
        assert_eq!(
            d.settings[0].note.as_deref(),
            Some("applies to 3 of 4 moves")
        );
        let app = d.moves.iter().find(|m| m.key == "app01").unwrap();
        assert_eq!(app.fields[0].field, "after");
        assert_eq!(app.fields[0].note.as_deref(), Some("added db02"));
        assert_eq!(app.fields[1].kind(), DiffKind::Added);
        let text = render_text(&d, "old.yaml", "new.yaml", false);
        assert!(
            text.contains("  ~ db01\n      ~ to: nova2 → nova3\n"),
            "{text}"
        );
        assert!(text.contains("  + db02 → nova2\n"), "{text}");
        assert!(text.contains("  - old → nova2\n"), "{text}");
        assert!(
            text.contains("1 move added, 1 removed, 2 changed; 3 settings changed."),
            "{text}"
        );
        let md = render_markdown(&d, "old.yaml", "new.yaml");
        assert!(
            md.contains("| ~ | `db01` | `nova3` | `to`: `nova2` → `nova3` |"),
            "{md}"
        );
        let json = render_json(&d, "o", "n");
        assert_eq!(json["summary"]["added"], 1);
        assert_eq!(json["moves"][0]["kind"], "changed");
    }

    #[test]
    fn unkeyed_select_entries_are_keyed_by_their_conditions() {
        let old = plan(
            "version: 1\nmoves:\n  - {select: {name: 'web-*', availability_zone: nova}, to: b}\n",
        );
        let new = plan(
            "version: 1\nmoves:\n  - {select: {name: 'web-*', availability_zone: nova}, to: c}\n",
        );
        let d = diff_plans(&old, &new);
        assert_eq!(
            d.moves[0].key,
            "select {name=web-*, availability_zone=nova}"
        );
        assert_eq!(d.moves[0].kind, DiffKind::Changed);
    }

    #[test]
    fn duplicate_keys_are_numbered() {
        let p = plan("version: 1\nmoves:\n  - {server: a, to: b}\n  - {server: a, to: c}\n");
        let k: Vec<String> = keyed(&p.moves).into_iter().map(|(k, _)| k).collect();
        assert_eq!(k, vec!["a", "a #2"]);
    }
}
