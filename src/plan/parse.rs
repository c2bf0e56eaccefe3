//! Reading a plan file's bytes into a [`PlanFile`]: the YAML reader of
//! [`crate::yaml`] plus the rules only plans have (the document is a mapping,
//! its `version` decides whether the rest can be read, and entries left out
//! are remembered so that references to them are not reported twice).
//! Checks of meaning (references, cycles, …) are in `validate.rs`. No I/O:
//! callers read the file with [`crate::yaml::read_source`].

use std::collections::BTreeSet;

use crate::plan::file::{PLAN_VERSION, PlanFile};
use crate::yaml::{Diagnostic, Document, PathSeg, SourceMap, YamlErrors, YamlOptions};

use PathSeg::{Index as I, Key as K};

/// Largest plan file accepted. Plans are written by hand or generated for a
/// few thousand servers; anything bigger is a mistake or an attack.
pub const MAX_PLAN_BYTES: usize = crate::yaml::MAX_BYTES;

/// Why a plan file was rejected: one or more diagnostics, each with its own
/// position.
pub type PlanErrors = YamlErrors;

/// Everything known after reading a plan file, including when it has errors:
/// the value (with broken parts left out), where each value is, every
/// problem found so far, and the keys of entries that had to be left out
/// (so that references to them are not reported a second time).
#[derive(Debug)]
pub struct ParsedPlan {
    pub plan: Option<PlanFile>,
    pub map: Option<SourceMap>,
    pub diagnostics: Vec<Diagnostic>,
    pub dropped_keys: BTreeSet<String>,
}

impl ParsedPlan {
    fn failed(diagnostics: Vec<Diagnostic>) -> Self {
        ParsedPlan {
            plan: None,
            map: None,
            diagnostics,
            dropped_keys: BTreeSet::new(),
        }
    }
}

/// Parse a plan file, collecting every syntax and type problem.
pub fn parse_plan_lenient(name: &str, bytes: &[u8]) -> ParsedPlan {
    let opts = YamlOptions {
        max_bytes: MAX_PLAN_BYTES,
        show_source: true,
    };
    let mut doc = match Document::read(name, bytes, &opts) {
        Ok(doc) => doc,
        Err(d) if d.code == "yaml::empty" => {
            return ParsedPlan::failed(vec![d.with_help(
                "a plan needs at least `version: 1` and a `moves:` list; see docs/plan-file.md",
            )]);
        }
        Err(d) => return ParsedPlan::failed(vec![*d]),
    };
    if let Err(d) = check_plan_shape(&mut doc) {
        let mut diagnostics = doc.into_diagnostics();
        diagnostics.push(*d);
        return ParsedPlan::failed(diagnostics);
    }
    let mut dropped = BTreeSet::new();
    let converted = doc.convert::<PlanFile>(|path, node| {
        // A whole move entry left out: remember its key.
        if let [K("moves"), I(_)] = path {
            for k in ["id", "server"] {
                if let Some(t) = node.text(&[K(k)]) {
                    dropped.insert(t.to_string());
                }
            }
        }
        // An `id` or `server` left out of an entry: its references are unreliable too.
        if let [K("moves"), I(_), K("id" | "server")] = path
            && let Some(t) = node.text(&[])
        {
            dropped.insert(t.to_string());
        }
    });
    ParsedPlan {
        plan: converted.value,
        map: converted.map,
        diagnostics: converted.diagnostics,
        dropped_keys: dropped,
    }
}

/// The plan-level checks that decide whether the rest can be read at all:
/// the document is a mapping and its `version` is one this build reads.
fn check_plan_shape(doc: &mut Document) -> Result<(), Box<Diagnostic>> {
    let map = doc.map();
    if !map.is_mapping(&[]) {
        let help = if map.is_list(&[]) {
            "a plan starts with `version: 1`, then lists the moves under `moves:`"
        } else {
            "a plan is a mapping: `version: 1`, optional settings, and a `moves:` list"
        };
        let found = map.describe(&[]).unwrap_or("nothing");
        return Err(map
            .diagnostic_at(
                "plan::not-a-mapping",
                map.position(&[]),
                format!("a plan file must be a mapping, found {found}"),
            )
            .with_label("expected `key: value` lines")
            .with_help(help)
            .into());
    }
    let version = [K("version")];
    if map.position(&version).is_none() {
        let d = map
            .diagnostic_at(
                "plan::missing-version",
                map.position(&[]),
                "the plan has no `version`",
            )
            .with_label("`version` missing")
            .with_help(format!(
                "add `version: {PLAN_VERSION}` at the top of the file"
            ));
        doc.push(d);
        // Read the rest as the current version, to report its problems too.
        doc.insert_first("version", PLAN_VERSION.into());
        return Ok(());
    }
    match map.integer(&version) {
        Some(v) if v != i128::from(PLAN_VERSION) => {
            let help = if v > i128::from(PLAN_VERSION) {
                format!(
                    "this file was written for a newer azmove; upgrade azmove, or rewrite the file for `version: {PLAN_VERSION}`"
                )
            } else {
                format!("write `version: {PLAN_VERSION}`")
            };
            Err(map
                .diagnostic_at("plan::unsupported-version", map.position(&version), format!("plan format version {v} is not supported; this azmove reads version {PLAN_VERSION}"))
                .with_label("unsupported version")
                .with_path("version")
                .with_help(help)
                .into())
        }
        _ => Ok(()),
    }
}

/// Parse a plan file: syntax and types only (no reference or cycle checks).
/// On success also returns where each value came from.
pub fn parse_plan(
    name: &str,
    input: impl AsRef<[u8]>,
) -> Result<(PlanFile, SourceMap), PlanErrors> {
    let parsed = parse_plan_lenient(name, input.as_ref());
    match (parsed.plan, parsed.map) {
        (Some(plan), Some(map)) if parsed.diagnostics.is_empty() => Ok((plan, map)),
        _ => Err(PlanErrors::new(name, parsed.diagnostics)),
    }
}

#[cfg(test)]
mod tests;
