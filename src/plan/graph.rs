//! Ordering of moves: the `after` relation as a DAG (petgraph). All graph
//! code of the plan is here.
//!
//! Nodes are typed: `validate` builds the graph over entry keys (`&str`),
//! the planner over entry indexes and over its own move and barrier nodes.
//! Used by `validate` (unknown references, cycles) and by the planner
//! (cycles through each entry, topological levels: entries in one level are
//! independent of each other).

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// A dependency graph over nodes of type `N`; an edge `a → b` means "b after a".
#[derive(Debug, Clone)]
pub struct DependencyGraph<N> {
    graph: DiGraph<N, ()>,
    index: BTreeMap<N, NodeIndex>,
}

/// Something is wrong with the `after` relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphProblem<N> {
    /// `node` says `after: [missing]`, and nothing has that key.
    UnknownReference { node: N, missing: N },
    /// The nodes of a cycle, in order, the first repeated at the end.
    Cycle(Vec<N>),
}

impl<N: Clone + Ord> DependencyGraph<N> {
    /// Build the graph from nodes (in insertion order) and what each comes
    /// after. Unknown references are reported and left out of the graph.
    pub fn build<I, A>(nodes: I) -> (Self, Vec<GraphProblem<N>>)
    where
        I: IntoIterator<Item = (N, A)>,
        A: IntoIterator<Item = N>,
    {
        let nodes: Vec<(N, Vec<N>)> = nodes
            .into_iter()
            .map(|(n, after)| (n, after.into_iter().collect()))
            .collect();
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        for (name, _) in &nodes {
            index
                .entry(name.clone())
                .or_insert_with(|| graph.add_node(name.clone()));
        }
        let mut problems = Vec::new();
        for (name, after) in &nodes {
            let to = index[name];
            for dep in after {
                match index.get(dep) {
                    Some(&from) => {
                        graph.update_edge(from, to, ());
                    }
                    None => problems.push(GraphProblem::UnknownReference {
                        node: name.clone(),
                        missing: dep.clone(),
                    }),
                }
            }
        }
        let g = DependencyGraph { graph, index };
        problems.extend(g.cycles().into_iter().map(GraphProblem::Cycle));
        (g, problems)
    }

    /// Every cycle (one per strongly connected component), each as a path
    /// that starts and ends at the same node, so it can be printed as-is.
    pub fn cycles(&self) -> Vec<Vec<N>> {
        let mut out = Vec::new();
        // A node that comes after itself is a cycle of its own.
        for n in self.graph.node_indices() {
            if self.graph.contains_edge(n, n) {
                out.push(vec![self.graph[n].clone(), self.graph[n].clone()]);
            }
        }
        for scc in tarjan_scc(&self.graph) {
            if scc.len() < 2 {
                continue;
            }
            // Walk inside the component from its smallest node, never along a
            // self-loop, until a node repeats; that closes a cycle.
            let start = *scc
                .iter()
                .min_by_key(|n| &self.graph[**n])
                .expect("non-empty scc");
            let mut path = vec![start];
            let mut cur = start;
            loop {
                let next = self
                    .graph
                    .neighbors(cur)
                    .filter(|n| *n != cur && scc.contains(n))
                    .min_by_key(|n| &self.graph[*n])
                    .expect("a node of a cycle has another successor in it");
                let seen = path.contains(&next);
                path.push(next);
                if seen {
                    break;
                }
                cur = next;
            }
            // Trim a lead-in so the path is a proper cycle.
            let last = *path.last().expect("non-empty");
            let first = path.iter().position(|n| *n == last).expect("present");
            out.push(
                path[first..]
                    .iter()
                    .map(|n| self.graph[*n].clone())
                    .collect(),
            );
        }
        out.sort();
        out
    }

    /// For every node on a cycle, the shortest cycle through it, from the
    /// node back to itself. Every member of a strongly connected component
    /// is on a cycle, so each gets a path it can recognise; among paths of
    /// one length the one through earlier-inserted nodes wins.
    pub fn shortest_cycles(&self) -> BTreeMap<N, Vec<N>> {
        let g = &self.graph;
        let mut out = BTreeMap::new();
        for scc in tarjan_scc(g) {
            let cyclic = scc.len() > 1 || scc.first().is_some_and(|n| g.contains_edge(*n, *n));
            if !cyclic {
                continue;
            }
            let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
            for &start in &scc {
                // Breadth-first from `start` inside the component until it comes back.
                let mut prev: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
                let mut queue = VecDeque::from([start]);
                let mut closing = None;
                while let Some(n) = queue.pop_front() {
                    let mut succ: Vec<NodeIndex> =
                        g.neighbors(n).filter(|s| members.contains(s)).collect();
                    succ.sort();
                    for s in succ {
                        if s == start {
                            closing = Some(n);
                            break;
                        }
                        if let std::collections::btree_map::Entry::Vacant(v) = prev.entry(s) {
                            v.insert(n);
                            queue.push_back(s);
                        }
                    }
                    if closing.is_some() {
                        break;
                    }
                }
                let Some(mut cur) = closing else { continue };
                let mut back = vec![cur];
                while cur != start {
                    match prev.get(&cur) {
                        Some(&p) => {
                            cur = p;
                            back.push(cur);
                        }
                        None => break,
                    }
                }
                back.reverse();
                let mut path: Vec<N> = back.iter().map(|n| g[*n].clone()).collect();
                path.push(g[start].clone());
                out.insert(g[start].clone(), path);
            }
        }
        out
    }

    /// Nodes grouped in topological levels: level 0 depends on nothing, level
    /// k only on earlier levels. Nodes on a cycle are left out. Within a level
    /// nodes keep their insertion order, so the result is deterministic.
    pub fn levels(&self) -> Vec<Vec<N>> {
        let n = self.graph.node_count();
        let mut indeg: Vec<usize> = (0..n)
            .map(|i| {
                self.graph
                    .neighbors_directed(NodeIndex::new(i), petgraph::Direction::Incoming)
                    .count()
            })
            .collect();
        let mut current: Vec<NodeIndex> = (0..n)
            .map(NodeIndex::new)
            .filter(|i| indeg[i.index()] == 0)
            .collect();
        let mut levels = Vec::new();
        while !current.is_empty() {
            current.sort();
            let mut next = Vec::new();
            for &node in &current {
                for succ in self.graph.neighbors(node) {
                    indeg[succ.index()] -= 1;
                    if indeg[succ.index()] == 0 {
                        next.push(succ);
                    }
                }
            }
            levels.push(current.iter().map(|i| self.graph[*i].clone()).collect());
            current = next;
        }
        levels
    }

    /// The direct prerequisites of `name` (what it comes `after`).
    pub fn prerequisites<Q: Ord + ?Sized>(&self, name: &Q) -> Vec<N>
    where
        N: Borrow<Q>,
    {
        let Some(&i) = self.index.get(name) else {
            return Vec::new();
        };
        let mut v: Vec<N> = self
            .graph
            .neighbors_directed(i, petgraph::Direction::Incoming)
            .map(|p| self.graph[p].clone())
            .collect();
        v.sort();
        v
    }

    /// Everything that comes after `name`, directly or not.
    pub fn dependents<Q: Ord + ?Sized>(&self, name: &Q) -> Vec<N>
    where
        N: Borrow<Q>,
    {
        let Some(&i) = self.index.get(name) else {
            return Vec::new();
        };
        let mut seen = vec![false; self.graph.node_count()];
        let mut stack = vec![i];
        let mut out = Vec::new();
        while let Some(n) = stack.pop() {
            for s in self.graph.neighbors(n) {
                if !seen[s.index()] {
                    seen[s.index()] = true;
                    out.push(self.graph[s].clone());
                    stack.push(s);
                }
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(spec: &[(&str, &[&str])]) -> (DependencyGraph<String>, Vec<GraphProblem<String>>) {
        DependencyGraph::build(
            spec.iter()
                .map(|(n, a)| (n.to_string(), a.iter().map(|s| s.to_string()))),
        )
    }

    #[test]
    fn levels_follow_after_edges() {
        let (g, p) = build(&[
            ("app", &["db"]),
            ("db", &[]),
            ("web", &["app"]),
            ("misc", &[]),
        ]);
        assert!(p.is_empty());
        assert_eq!(
            g.levels(),
            vec![vec!["db", "misc"], vec!["app"], vec!["web"]]
        );
        assert_eq!(g.dependents("db"), vec!["app", "web"]);
        assert_eq!(g.prerequisites("web"), vec!["app"]);
    }

    #[test]
    fn cycle_is_reported_as_a_closed_path() {
        let (_, p) = build(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]);
        assert_eq!(
            p,
            vec![GraphProblem::Cycle(vec![
                "a".into(),
                "b".into(),
                "c".into(),
                "a".into()
            ])]
        );
    }

    #[test]
    fn self_loop_does_not_hide_a_longer_cycle() {
        let (_, p) = build(&[("a", &["a", "d"]), ("b", &["a"]), ("d", &["b"])]);
        assert!(p.contains(&GraphProblem::Cycle(vec!["a".into(), "a".into()])));
        assert!(p.contains(&GraphProblem::Cycle(vec![
            "a".into(),
            "b".into(),
            "d".into(),
            "a".into()
        ])));
    }

    #[test]
    fn self_reference_is_a_cycle_and_unknown_reference_is_named() {
        let (_, p) = build(&[("a", &["a", "zz"])]);
        assert!(p.contains(&GraphProblem::Cycle(vec!["a".into(), "a".into()])));
        assert!(p.contains(&GraphProblem::UnknownReference {
            node: "a".into(),
            missing: "zz".into()
        }));
    }
}
