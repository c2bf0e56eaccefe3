//! Offline checks of a parsed plan file: everything that can be known to be
//! wrong without asking the cloud. Every problem is collected (not just the
//! first) and each points at the line and column of the offending value.
//!
//! Syntax and type errors come from `parse.rs`; this module adds the checks of
//! meaning: references and cycles in `after`, duplicate entries, entries that
//! name both or neither of `server`/`select`, selectors, globs, the order of
//! strategies `auto` chooses from, limits, durations and name templates.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::plan::file::{Limits, MoveEntry, Options, PlanFile, Strategy};
use crate::plan::graph::{DependencyGraph, GraphProblem};
use crate::plan::parse::parse_plan_lenient;
use crate::yaml::{Diagnostic, PathSeg, Position, SourceMap, did_you_mean, path_text};

use PathSeg::{Index as I, Key as K};

/// Placeholders a name template may use.
pub const TEMPLATE_PLACEHOLDERS: [&str; 5] = ["name", "id", "short_id", "from", "to"];

/// The outcome of validating one file.
#[derive(Debug)]
pub struct Report {
    pub file: String,
    /// The plan as far as it could be read (absent when the file is not a plan at all).
    pub plan: Option<PlanFile>,
    /// Every problem, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.plan.is_some() && self.diagnostics.is_empty()
    }
}

/// Check the contents of a plan file called `name`.
pub fn validate_bytes(name: &str, bytes: &[u8]) -> Report {
    let parsed = parse_plan_lenient(name, bytes);
    let mut diagnostics = parsed.diagnostics;
    if let (Some(plan), Some(map)) = (&parsed.plan, &parsed.map) {
        diagnostics.extend(check(plan, map, &parsed.dropped_keys));
    }
    // File order reads best; whole-file problems first.
    diagnostics.sort_by_key(|d| d.position.map(|p| (p.line, p.column)).unwrap_or((0, 0)));
    Report {
        file: name.to_string(),
        plan: parsed.plan,
        diagnostics,
    }
}

/// The checks of meaning on a plan whose syntax and types are right.
/// `dropped` are keys of entries left out because of type errors; references
/// to them are not reported again.
pub fn check(plan: &PlanFile, map: &SourceMap, dropped: &BTreeSet<String>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    check_options(map, &[K("defaults")], &plan.defaults, &mut out);
    check_limits(map, &plan.limits, &mut out);
    for (i, entry) in plan.moves.iter().enumerate() {
        check_entry(map, i, entry, &mut out);
    }
    let keys = check_duplicates(map, &plan.moves, &mut out);
    check_after(map, &plan.moves, &keys, dropped, &mut out);
    out
}

fn at<'a>(prefix: &[PathSeg<'a>], rest: &[PathSeg<'a>]) -> Vec<PathSeg<'a>> {
    let mut p = prefix.to_vec();
    p.extend_from_slice(rest);
    p
}

/// Settings that `defaults` and each entry share.
fn check_options(map: &SourceMap, prefix: &[PathSeg], opts: &Options, out: &mut Vec<Diagnostic>) {
    if let Some(list) = &opts.strategies {
        check_strategies(map, &at(prefix, &[K("strategies")]), list, out);
    }
    for (key, template) in [
        ("server_name", &opts.server_name),
        ("snapshot_name", &opts.snapshot_name),
    ] {
        if let Some(t) = template {
            check_template(map, &at(prefix, &[K(key)]), key, t, out);
        }
    }
    if let Some(t) = &opts.timeouts {
        for (key, d) in [
            ("stop", t.stop),
            ("snapshot", t.snapshot),
            ("boot", t.boot),
            ("source", t.source),
        ] {
            if d == Some(Duration::ZERO) {
                out.push(
                    map.diagnostic("plan::zero-timeout", &at(prefix, &[K("timeouts"), K(key)]), format!("timeout `{key}` is zero, so the step would fail at once"))
                        .with_label("zero")
                        .with_help("write a duration such as `5m` or `90s`, or remove the line to use the default"),
                );
            }
        }
    }
}

/// `strategies`, the order `auto` tries: a non-empty list of known
/// strategies, each once, without `auto` itself.
fn check_strategies(
    map: &SourceMap,
    path: &[PathSeg],
    list: &[Strategy],
    out: &mut Vec<Diagnostic>,
) {
    let names = "`live`, `cold`, `shelve`, `snapshot`";
    if list.is_empty() {
        out.push(
            map.diagnostic(
                "plan::bad-strategies",
                path,
                "`strategies` is empty, so `auto` could choose nothing",
            )
            .with_label("empty")
            .with_help(format!(
                "list the strategies `auto` may use, in the order to try them, e.g. `[shelve, snapshot]` ({names}); or remove the line for the default order"
            )),
        );
        return;
    }
    let mut seen: Vec<(Strategy, usize)> = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let item = at(path, &[I(i)]);
        if *s == Strategy::Auto {
            out.push(
                map.diagnostic(
                    "plan::bad-strategies",
                    &item,
                    "`auto` cannot be one of the strategies `auto` chooses from",
                )
                .with_label("`auto` inside `strategies`")
                .with_help(format!("name concrete strategies here: {names}")),
            );
        } else if let Some((_, first)) = seen.iter().find(|(x, _)| x == s) {
            let d = map
                .diagnostic(
                    "plan::bad-strategies",
                    &item,
                    format!("strategy `{s}` is listed twice in `strategies`"),
                )
                .with_label("listed again here")
                .with_help("`auto` tries each strategy once; remove one of them");
            out.push(match map.position(&at(path, &[I(*first)])) {
                Some(p) => d.with_note(p, "first listed here"),
                None => d,
            });
        } else {
            seen.push((*s, i));
        }
    }
}

/// Check a name template: braces only around known placeholders.
fn check_template(
    map: &SourceMap,
    path: &[PathSeg],
    key: &str,
    template: &str,
    out: &mut Vec<Diagnostic>,
) {
    let placeholders = TEMPLATE_PLACEHOLDERS
        .iter()
        .map(|p| format!("{{{p}}}"))
        .collect::<Vec<_>>()
        .join(", ");
    if template.trim().is_empty() {
        out.push(
            map.diagnostic("plan::bad-template", path, format!("`{key}` is empty"))
                .with_label("empty")
                .with_help(format!(
                    "write a name such as `{{name}}`; placeholders: {placeholders}"
                )),
        );
        return;
    }
    if let Err(problem) = template_problem(template) {
        let help = match &problem {
            TemplateProblem::Unknown(p) => match did_you_mean(p, TEMPLATE_PLACEHOLDERS) {
                Some(s) => format!("did you mean `{{{s}}}`? placeholders: {placeholders}"),
                None => format!("the placeholders are {placeholders}"),
            },
            _ => format!("braces may only surround a placeholder: {placeholders}"),
        };
        out.push(
            map.diagnostic("plan::bad-template", path, format!("`{key}`: {problem}"))
                .with_label("invalid template")
                .with_help(help),
        );
    }
}

#[derive(Debug, PartialEq, Eq)]
enum TemplateProblem {
    Unknown(String),
    Unclosed,
    StrayClose,
}

impl std::fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateProblem::Unknown(p) => write!(f, "unknown placeholder `{{{p}}}`"),
            TemplateProblem::Unclosed => f.write_str("a `{` is not closed by `}`"),
            TemplateProblem::StrayClose => f.write_str("a `}` has no `{` before it"),
        }
    }
}

fn template_problem(t: &str) -> Result<(), TemplateProblem> {
    let mut rest = t;
    while let Some(i) = rest.find(['{', '}']) {
        if rest[i..].starts_with('}') {
            return Err(TemplateProblem::StrayClose);
        }
        let after = &rest[i + 1..];
        let end = after.find(['{', '}']).ok_or(TemplateProblem::Unclosed)?;
        if !after[end..].starts_with('}') {
            return Err(TemplateProblem::Unclosed);
        }
        let name = &after[..end];
        if !TEMPLATE_PLACEHOLDERS.contains(&name) {
            return Err(TemplateProblem::Unknown(name.to_string()));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

fn check_limits(map: &SourceMap, limits: &Limits, out: &mut Vec<Diagnostic>) {
    if limits.concurrency == 0 {
        out.push(
            map.diagnostic(
                "plan::bad-limit",
                &[K("limits"), K("concurrency")],
                "`limits.concurrency` is 0, so nothing could ever move",
            )
            .with_label("zero")
            .with_help("write a number of servers to move at once, e.g. `concurrency: 4`"),
        );
    }
    let rps = limits.requests_per_second;
    if !rps.is_finite() || rps <= 0.0 {
        out.push(
            map.diagnostic(
                "plan::bad-limit",
                &[K("limits"), K("requests_per_second")],
                format!("`limits.requests_per_second` must be a positive number, found `{rps}`"),
            )
            .with_label("not a positive number")
            .with_help(
                "write the API requests per second azmove may make, e.g. `requests_per_second: 10`",
            ),
        );
    }
    for (az, n) in &limits.per_az {
        if *n == 0 {
            out.push(
                map.diagnostic(
                    "plan::bad-limit",
                    &[K("limits"), K("per_az"), K(az)],
                    format!(
                        "`limits.per_az` for `{az}` is 0, so no server could leave or enter it"
                    ),
                )
                .with_label("zero")
                .with_help(format!(
                    "write a number of servers at once, e.g. `{az}: 2`, or remove the line"
                )),
            );
        }
    }
}

fn check_entry(map: &SourceMap, i: usize, e: &MoveEntry, out: &mut Vec<Diagnostic>) {
    let entry = [K("moves"), I(i)];
    match (&e.server, &e.select) {
        (Some(_), Some(_)) => {
            let d = map
                .diagnostic_at("plan::server-and-select", map.key_position(&at(&entry, &[K("select")])), "this entry has both `server` and `select`")
                .with_path(path_text(&entry))
                .with_label("`select` here")
                .with_help("an entry names one server or selects many; split it into two entries");
            out.push(match map.key_position(&at(&entry, &[K("server")])) {
                Some(p) => d.with_note(p, "and `server` here"),
                None => d,
            });
        }
        (None, None) => out.push(
            map.diagnostic("plan::no-server", &entry, "this entry has neither `server` nor `select`")
                .with_label("which server?")
                .with_help("write `server: NAME_OR_UUID`, or `select:` with conditions such as `name: \"web-*\"`"),
        ),
        _ => {}
    }
    for (key, value) in [("id", &e.id), ("server", &e.server)] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            out.push(
                map.diagnostic(
                    "plan::empty-value",
                    &at(&entry, &[K(key)]),
                    format!("`{key}` is empty"),
                )
                .with_label("empty")
                .with_help(format!(
                    "write a {} here, or remove the line",
                    if key == "id" {
                        "name for this entry"
                    } else {
                        "server name or UUID"
                    }
                )),
            );
        }
    }
    if e.to.trim().is_empty() {
        out.push(
            map.diagnostic(
                "plan::empty-value",
                &at(&entry, &[K("to")]),
                "`to` is empty",
            )
            .with_label("empty")
            .with_help("write the availability zone to move to, e.g. `to: nova2`"),
        );
    }
    if let Some(sel) = &e.select {
        let sel_path = at(&entry, &[K("select")]);
        let empty = sel.name.is_none()
            && sel.availability_zone.is_none()
            && sel.host.is_none()
            && sel.metadata.is_empty();
        if empty {
            out.push(
                map.diagnostic(
                    "plan::empty-selector",
                    &sel_path,
                    "`select` has no conditions, so it would match every server",
                )
                .with_label("empty selector")
                .with_help(
                    "add at least one condition: `name`, `availability_zone`, `host` or `metadata`",
                ),
            );
        }
        if let Some(name) = &sel.name
            && let Err(err) = globset::Glob::new(name)
        {
            out.push(
                map.diagnostic("plan::bad-glob", &at(&sel_path, &[K("name")]), format!("`select.name` is not a valid glob: {}", glob_reason(&err)))
                    .with_label("invalid glob")
                    .with_help("use `*` for any text, `?` for one character, `[0-9]` for a range and `{a,b}` for alternatives"),
            );
        }
    }
    check_options(map, &entry, &e.overrides(), out);
}

fn glob_reason(err: &globset::Error) -> String {
    // globset's message repeats the pattern; its kind alone says what is wrong.
    err.kind().to_string()
}

/// Report servers listed twice and keys used twice; return each key's first entry.
fn check_duplicates<'p>(
    map: &SourceMap,
    moves: &'p [MoveEntry],
    out: &mut Vec<Diagnostic>,
) -> HashMap<&'p str, usize> {
    let mut servers: HashMap<&str, usize> = HashMap::new();
    let mut keys: HashMap<&str, usize> = HashMap::new();
    for (i, e) in moves.iter().enumerate() {
        let mut reported = false;
        if let Some(s) = e.server.as_deref() {
            if let Some(&first) = servers.get(s) {
                reported = true;
                let d = map
                    .diagnostic("plan::duplicate-server", &[K("moves"), I(i), K("server")], format!("server `{s}` is listed twice"))
                    .with_label("listed again here")
                    .with_help("a server can move only once per plan; remove one of the entries or merge their settings");
                out.push(match map.position(&[K("moves"), I(first), K("server")]) {
                    Some(p) => d.with_note(p, "first listed here"),
                    None => d,
                });
            } else {
                servers.insert(s, i);
            }
        }
        if let Some(k) = e.key() {
            if let Some(&first) = keys.get(k) {
                if !reported {
                    let field = |e: &MoveEntry| if e.id.is_some() { "id" } else { "server" };
                    let d = map
                        .diagnostic("plan::duplicate-key", &[K("moves"), I(i), K(field(e))], format!("two entries have the key `{k}`"))
                        .with_label("used again here")
                        .with_help("`after` refers to entries by key (`id`, else `server`); give each entry its own `id`");
                    out.push(
                        match map.position(&[K("moves"), I(first), K(field(&moves[first]))]) {
                            Some(p) => d.with_note(p, "first used here"),
                            None => d,
                        },
                    );
                }
            } else {
                keys.insert(k, i);
            }
        }
    }
    keys
}

/// Unknown references and cycles in `after`.
fn check_after(
    map: &SourceMap,
    moves: &[MoveEntry],
    keys: &HashMap<&str, usize>,
    dropped: &BTreeSet<String>,
    out: &mut Vec<Diagnostic>,
) {
    for (i, e) in moves.iter().enumerate() {
        for (j, r) in e.after.iter().enumerate() {
            if keys.contains_key(r.as_str()) || dropped.contains(r) {
                continue;
            }
            let path = [K("moves"), I(i), K("after"), I(j)];
            let d = map
                .diagnostic(
                    "plan::unknown-after",
                    &path,
                    format!("`after` names `{r}`, but no entry has that key"),
                )
                .with_label("unknown entry");
            out.push(match unkeyed_select_named(moves, r) {
                Some(k) => {
                    let help = format!(
                        "the `select` entry moves[{k}] matches `{r}` but has no `id`; add `id: {}` to it and write that id in `after`",
                        suggest_id(r)
                    );
                    let d = d.with_help(help);
                    match map.position(&[K("moves"), I(k), K("select")]) {
                        Some(p) => d.with_note(p, "this selection has no `id`"),
                        None => d,
                    }
                }
                None => match did_you_mean(r, keys.keys().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help("`after` lists entries by their `id`, or by `server` for entries without an `id`"),
                },
            });
        }
    }
    // Cycles: only entries with keys can be referred to, so only they can be on one.
    let nodes = moves
        .iter()
        .filter_map(|e| e.key().map(|k| (k, e.after.iter().map(String::as_str))));
    let (_, problems) = DependencyGraph::build(nodes);
    for p in problems {
        let GraphProblem::Cycle(cycle) = p else {
            continue;
        };
        out.push(cycle_diag(map, moves, keys, &cycle));
    }
}

/// The index of a `select` entry without `id` whose name pattern is `r` or matches it.
fn unkeyed_select_named(moves: &[MoveEntry], r: &str) -> Option<usize> {
    moves.iter().position(|e| {
        e.key().is_none()
            && e.select
                .as_ref()
                .and_then(|s| s.name.as_deref())
                .is_some_and(|n| {
                    n == r
                        || globset::Glob::new(n)
                            .map(|g| g.compile_matcher().is_match(r))
                            .unwrap_or(false)
                })
    })
}

fn suggest_id(r: &str) -> String {
    let s: String = r
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let s = s.trim_matches(['-', '_']);
    if s.is_empty() {
        "web".into()
    } else {
        s.to_string()
    }
}

/// `cycle` is `[a, b, …, a]` where each runs after the one before it.
fn cycle_diag(
    map: &SourceMap,
    moves: &[MoveEntry],
    keys: &HashMap<&str, usize>,
    cycle: &[&str],
) -> Diagnostic {
    // The reference that closes each edge: in entry `b`, the `after` item naming `a`.
    let edge_pos = |a: &str, b: &str| -> Option<(Vec<PathSeg<'static>>, Position)> {
        let &bi = keys.get(b)?;
        let j = moves[bi].after.iter().position(|x| x == a)?;
        let path = vec![K("moves"), I(bi), K("after"), I(j)];
        map.position(&path).map(|p| (path, p))
    };
    let pretty = cycle.join(" → ");
    let waits = |a: &str, b: &str| {
        if a == b {
            "an entry waits for itself".to_string()
        } else {
            format!("`{b}` waits for `{a}`")
        }
    };
    // One label per edge of the cycle; the first edge found is the primary one.
    let mut labelled = cycle
        .windows(2)
        .filter_map(|w| edge_pos(w[0], w[1]).map(|(path, pos)| (path, pos, waits(w[0], w[1]))));
    let mut d = match labelled.next() {
        Some((path, pos, label)) => map
            .diagnostic_at(
                "plan::after-cycle",
                Some(pos),
                format!("`after` forms a cycle: {pretty}"),
            )
            .with_path(path_text(&path))
            .with_label(label),
        None => map.diagnostic_at(
            "plan::after-cycle",
            None,
            format!("`after` forms a cycle: {pretty}"),
        ),
    }
    .with_help("entries on a cycle could never start; remove one of these `after` references");
    for (_, pos, label) in labelled {
        d = d.with_note(pos, label);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diags(text: &str) -> Vec<Diagnostic> {
        validate_bytes("t.yaml", text.as_bytes()).diagnostics
    }

    fn codes(text: &str) -> Vec<&'static str> {
        diags(text).iter().map(|d| d.code).collect()
    }

    #[test]
    fn a_good_plan_has_no_diagnostics() {
        let r = validate_bytes(
            "t.yaml",
            b"version: 1\ndefaults: {server_name: '{name}-new', snapshot_name: '{name}-{short_id}-{from}-{to}'}\nmoves:\n  - {id: db, select: {name: 'db-*'}, to: b}\n  - {server: app, to: b, after: [db]}\n",
        );
        assert!(r.is_ok(), "{:#?}", r.diagnostics);
    }

    #[test]
    fn templates() {
        assert_eq!(template_problem("{name}-{id}-x"), Ok(()));
        assert_eq!(
            template_problem("{nmae}"),
            Err(TemplateProblem::Unknown("nmae".into()))
        );
        assert_eq!(template_problem("{name"), Err(TemplateProblem::Unclosed));
        assert_eq!(template_problem("{na{me}"), Err(TemplateProblem::Unclosed));
        assert_eq!(template_problem("name}"), Err(TemplateProblem::StrayClose));
        let d = diags("version: 1\ndefaults:\n  server_name: '{nmae}-new'\nmoves: []\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].position.unwrap().line, 3);
        assert!(d[0].help.as_deref().unwrap().contains("{name}"));
    }

    #[test]
    fn cycle_is_printed_with_arrows_and_located() {
        let d = diags(
            "version: 1\nmoves:\n  - {server: a, to: z, after: [c]}\n  - {server: b, to: z, after: [a]}\n  - {server: c, to: z, after: [b]}\n",
        );
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(d[0].message.contains("a → b → c → a"), "{}", d[0].message);
        assert_eq!(d[0].position.unwrap().line, 4);
        assert_eq!(d[0].notes.len(), 2);
    }

    #[test]
    fn an_entry_waiting_for_itself_is_a_cycle() {
        let d = diags("version: 1\nmoves:\n  - {server: a, to: z, after: [a]}\n");
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(d[0].message.contains("a → a"), "{}", d[0].message);
        assert_eq!(d[0].label, "an entry waits for itself");
        assert_eq!(d[0].path, "moves[0].after[0]");
    }

    #[test]
    fn unknown_references_and_unkeyed_selects() {
        let d = diags(
            "version: 1\nmoves:\n  - {select: {name: 'web-*'}, to: z}\n  - {server: db01, to: z}\n  - {server: app, to: z, after: ['web-*', db1]}\n",
        );
        assert_eq!(d.len(), 2, "{d:#?}");
        assert!(
            d[0].help.as_deref().unwrap().contains("has no `id`"),
            "{:?}",
            d[0].help
        );
        assert!(
            d[1].help.as_deref().unwrap().contains("`db01`"),
            "{:?}",
            d[1].help
        );
        assert_eq!(d[1].path, "moves[2].after[1]");
    }

    #[test]
    fn dropped_entries_are_not_reported_as_unknown() {
        let d = diags(
            "version: 1\nmoves:\n  - {server: db, to: z, retries: lots}\n  - {server: app, to: z, after: [db]}\n",
        );
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].code, "yaml::wrong-type");
    }

    #[test]
    fn entry_shape_problems() {
        assert_eq!(
            codes("version: 1\nmoves:\n  - {server: a, select: {name: x}, to: z}\n"),
            vec!["plan::server-and-select"]
        );
        assert_eq!(
            codes("version: 1\nmoves:\n  - {to: z}\n"),
            vec!["plan::no-server"]
        );
        assert_eq!(
            codes("version: 1\nmoves:\n  - {select: {}, to: z}\n"),
            vec!["plan::empty-selector"]
        );
        assert_eq!(
            codes("version: 1\nmoves:\n  - {select: {name: 'web-[0-9'}, to: z}\n"),
            vec!["plan::bad-glob"]
        );
        assert_eq!(
            codes("version: 1\nmoves:\n  - {server: '', to: ' '}\n"),
            vec!["plan::empty-value", "plan::empty-value"]
        );
    }

    #[test]
    fn duplicates() {
        let d = diags("version: 1\nmoves:\n  - {server: a, to: z}\n  - {server: a, to: y}\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "plan::duplicate-server");
        assert_eq!(d[0].notes[0].position.line, 3);
        assert_eq!(
            codes(
                "version: 1\nmoves:\n  - {id: x, server: a, to: z}\n  - {id: x, server: b, to: z}\n"
            ),
            vec!["plan::duplicate-key"]
        );
    }

    #[test]
    fn limits_strategies_and_timeouts() {
        let c = codes(
            "version: 1\nlimits: {concurrency: 0, requests_per_second: .nan, per_az: {nova: 0}}\ndefaults: {strategy: shelve, strategies: [], timeouts: {stop: 0s}}\nmoves:\n  - {server: a, to: z, strategy: live, strategies: [shelve, auto, snapshot, shelve]}\n",
        );
        assert_eq!(
            c,
            vec![
                "plan::bad-limit",
                "plan::bad-limit",
                "plan::bad-limit",
                "plan::bad-strategies",
                "plan::zero-timeout",
                "plan::bad-strategies",
                "plan::bad-strategies"
            ]
        );
        // every strategy, and a proper order, is accepted
        assert!(
            codes(
                "version: 1\ndefaults: {strategy: auto, strategies: [shelve, snapshot]}\nmoves:\n  - {server: a, to: z, strategy: cold}\n  - {server: b, to: z, strategy: snapshot}\n  - {server: c, to: z, strategy: shelve}\n  - {server: d, to: z, strategy: live, strategies: [live, cold, shelve, snapshot]}\n"
            )
            .is_empty()
        );
        assert_eq!(
            codes("version: 1\nlimits: {requests_per_second: -1}\nmoves: []\n"),
            vec!["plan::bad-limit"]
        );
        assert_eq!(
            codes("version: 1\nlimits: {concurrency: -1}\nmoves: []\n"),
            vec!["yaml::wrong-type"]
        );
    }
}
