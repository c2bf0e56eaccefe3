//! The `after` order over moves: topological levels through the graph in
//! `plan::graph`, and blocked prerequisites passed down the chain.

use super::draft::Draft;
use super::entry::EntryCtx;
use crate::plan::changeset::{Action, Blocker};
use crate::plan::graph::DependencyGraph;

/// Every move's entry comes after the entries in its `after`; a blocked
/// prerequisite blocks every move of the entries that come after it, in
/// topological order so the blocking travels down the chain.
pub(super) fn propagate_prerequisites(moves: &mut [Draft], entries: &[EntryCtx]) {
    let mut blocked = vec![false; entries.len()];
    for m in moves.iter() {
        if m.is_blocked() {
            for &i in &m.members {
                blocked[i] = true;
            }
        }
    }
    let mut by_entry: Vec<Vec<usize>> = vec![Vec::new(); entries.len()];
    for (i, m) in moves.iter().enumerate() {
        by_entry[m.entry_index].push(i);
    }
    for ei in entry_order(entries) {
        let bad: Vec<&str> = entries[ei]
            .after
            .iter()
            .filter(|a| blocked[**a])
            .map(|a| entries[*a].key.as_str())
            .collect();
        if bad.is_empty() {
            continue;
        }
        for &mi in &by_entry[ei] {
            let m = &mut moves[mi];
            if matches!(m.outcome, Some(Action::NoChange { .. })) {
                continue;
            }
            for b in &bad {
                m.block(Blocker::PrerequisiteBlocked {
                    entry: b.to_string(),
                });
            }
            blocked[ei] = true;
        }
    }
}

/// Entries in an order where every entry follows those in its `after`.
fn entry_order(entries: &[EntryCtx]) -> Vec<usize> {
    let (g, _) = DependencyGraph::build(entries.iter().map(|e| (e.index, e.after.iter().copied())));
    g.levels().into_iter().flatten().collect()
}

/// A node of the graph [`layered`] orders: a move, or the barrier between
/// an entry's moves and the moves that come after that entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Node {
    Move(usize),
    Entry(usize),
}

/// Topological order of the moves selected by `include` (indexes into
/// `moves`), by levels. Each entry gets one barrier node between its moves
/// and the moves that come after it, so the graph stays linear in size even
/// when large selections depend on each other.
fn layered(
    moves: &[Draft],
    entries: &[EntryCtx],
    include: impl Fn(&Draft) -> bool,
) -> Vec<Vec<usize>> {
    let mut members: Vec<Vec<Node>> = vec![Vec::new(); entries.len()];
    let chosen: Vec<usize> = (0..moves.len()).filter(|i| include(&moves[*i])).collect();
    for &i in &chosen {
        members[moves[i].entry_index].push(Node::Move(i));
    }
    let mut nodes: Vec<(Node, Vec<Node>)> = Vec::with_capacity(chosen.len() + entries.len());
    for &i in &chosen {
        let after = entries[moves[i].entry_index]
            .after
            .iter()
            .filter(|a| !members[**a].is_empty())
            .map(|a| Node::Entry(*a))
            .collect();
        nodes.push((Node::Move(i), after));
    }
    for (i, mem) in members.into_iter().enumerate() {
        if !mem.is_empty() {
            nodes.push((Node::Entry(i), mem));
        }
    }
    let (g, _) = DependencyGraph::build(nodes);
    g.levels()
        .into_iter()
        .map(|lvl| {
            lvl.iter()
                .filter_map(|n| match n {
                    Node::Move(i) => Some(*i),
                    Node::Entry(_) => None,
                })
                .collect::<Vec<usize>>()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

pub(super) fn topological(
    moves: &[Draft],
    entries: &[EntryCtx],
    include: impl Fn(&Draft) -> bool,
) -> Vec<usize> {
    let mut order: Vec<usize> = layered(moves, entries, include)
        .into_iter()
        .flatten()
        .collect();
    // Anything a cycle kept out (none: cyclic entries have no edges) goes last.
    let mut seen = vec![false; moves.len()];
    for &i in &order {
        seen[i] = true;
    }
    order.extend((0..moves.len()).filter(|i| !seen[*i]));
    order
}

pub(super) fn levels_of(moves: &[Draft], entries: &[EntryCtx]) -> Vec<Vec<usize>> {
    layered(moves, entries, Draft::is_move)
}
