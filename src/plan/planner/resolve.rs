//! Matching plan entries to servers: a `server:` reference by id or name,
//! a `select:` by name pattern, zone, host and metadata; and a reference to a
//! source that is gone because an earlier run moved it.

use globset::{Glob, GlobMatcher};

use super::entry::EntryCtx;
use super::index::{Index, made_by_azmove, server_rank};
use crate::plan::changeset::Blocker;
use crate::plan::inventory::{Inventory, Server, tags};

pub(super) enum Resolution<'a> {
    Servers(Vec<&'a Server>),
    /// A named source no longer exists, and its replacement says it moved.
    Done {
        source_id: String,
        reason: String,
    },
    Blocked(Vec<Blocker>),
}

pub(super) fn resolve<'a>(e: &EntryCtx, idx: &Index<'a>, inv: &'a Inventory) -> Resolution<'a> {
    if let Some(reference) = &e.entry.server {
        if let Some(s) = idx.by_id.get(reference.as_str()) {
            return Resolution::Servers(vec![s]);
        }
        match idx
            .sources_by_name
            .get(reference.as_str())
            .map(Vec::as_slice)
        {
            Some([one]) => return Resolution::Servers(vec![one]),
            Some(many) if many.len() > 1 => {
                let mut ids: Vec<String> = many.iter().map(|s| s.id.clone()).collect();
                ids.sort();
                return Resolution::Blocked(vec![Blocker::Ambiguous {
                    name: reference.clone(),
                    ids,
                }]);
            }
            _ => {}
        }
        return gone_source(reference, &e.entry.to, idx);
    }
    let Some(sel) = &e.entry.select else {
        return Resolution::Servers(Vec::new());
    };
    if !e.entry_blockers.is_empty() {
        return Resolution::Servers(Vec::new());
    }
    let glob: Option<GlobMatcher> = match &sel.name {
        Some(p) => match Glob::new(p) {
            Ok(g) => Some(g.compile_matcher()),
            Err(_) => return Resolution::Servers(Vec::new()),
        },
        None => None,
    };
    let mut found: Vec<&Server> = inv
        .servers
        .iter()
        .filter(|s| !made_by_azmove(s))
        .filter(|s| glob.as_ref().is_none_or(|g| g.is_match(&s.name)))
        .filter(|s| sel.availability_zone.is_none() || s.availability_zone == sel.availability_zone)
        .filter(|s| sel.host.is_none() || s.host == sel.host)
        .filter(|s| {
            sel.metadata
                .iter()
                .all(|(k, v)| s.metadata.get(k) == Some(v))
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    Resolution::Servers(found)
}

/// A `server:` reference that matches no server: done if a replacement for
/// that name or id is ACTIVE (the source was deleted after the move).
fn gone_source<'a>(reference: &str, target: &str, idx: &Index<'a>) -> Resolution<'a> {
    let mut candidates: Vec<&Server> = idx
        .replacements
        .get(reference)
        .into_iter()
        .chain(idx.replacements_by_name.get(reference))
        .flatten()
        .filter(|s| s.metadata.get(tags::TARGET).map(String::as_str) == Some(target))
        .copied()
        .collect();
    candidates.sort_by(|a, b| {
        server_rank(a)
            .cmp(&server_rank(b))
            .then_with(|| a.id.cmp(&b.id))
    });
    candidates.dedup_by(|a, b| a.id == b.id);
    match candidates.first() {
        Some(r) if r.status == "ACTIVE" => Resolution::Done {
            source_id: r
                .metadata
                .get(tags::SOURCE)
                .cloned()
                .unwrap_or_else(|| reference.to_string()),
            reason: format!(
                "moved (replacement {} in {target}; the source was deleted)",
                r.id
            ),
        },
        Some(r) => Resolution::Blocked(vec![Blocker::Other {
            message: format!(
                "the source `{reference}` no longer exists and its replacement {} is {}; check it with `openstack server show {}` — start or delete it, then plan again",
                r.id, r.status, r.id
            ),
        }]),
        None => Resolution::Blocked(vec![Blocker::NotFound {
            reference: reference.to_string(),
        }]),
    }
}
