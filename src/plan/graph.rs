//! Ordering of moves: the `after` relation as a DAG (petgraph).
//!
//! Used by `validate` (unknown references, cycles) and by the planner
//! (topological levels: entries in one level are independent of each other).

use std::collections::BTreeMap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// A dependency graph over named nodes; an edge `a → b` means "b after a".
#[derive(Debug, Clone)]
pub struct DependencyGraph {
    graph: DiGraph<String, ()>,
    index: BTreeMap<String, NodeIndex>,
}

/// Something is wrong with the `after` relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphProblem {
    /// `node` says `after: [missing]`, and nothing has that key.
    UnknownReference { node: String, missing: String },
    /// The nodes of a cycle, in order, the first repeated at the end.
    Cycle(Vec<String>),
}

impl DependencyGraph {
    /// Build the graph from nodes (in file order) and their `after` lists.
    /// Unknown references are reported and left out of the graph.
    pub fn build<'a, I>(nodes: I) -> (Self, Vec<GraphProblem>)
    where
        I: IntoIterator<Item = (&'a str, &'a [String])>,
    {
        let nodes: Vec<(&str, &[String])> = nodes.into_iter().collect();
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        for (name, _) in &nodes {
            index
                .entry(name.to_string())
                .or_insert_with(|| graph.add_node(name.to_string()));
        }
        let mut problems = Vec::new();
        for (name, after) in &nodes {
            let to = index[*name];
            for dep in after.iter() {
                match index.get(dep.as_str()) {
                    Some(&from) => {
                        if !graph.contains_edge(from, to) {
                            graph.add_edge(from, to, ());
                        }
                    }
                    None => problems.push(GraphProblem::UnknownReference {
                        node: name.to_string(),
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
    pub fn cycles(&self) -> Vec<Vec<String>> {
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

    /// Nodes grouped in topological levels: level 0 depends on nothing, level
    /// k only on earlier levels. Nodes on a cycle are left out. Within a level
    /// nodes keep their insertion order, so the result is deterministic.
    pub fn levels(&self) -> Vec<Vec<String>> {
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
    pub fn prerequisites(&self, name: &str) -> Vec<String> {
        let Some(&i) = self.index.get(name) else {
            return Vec::new();
        };
        let mut v: Vec<String> = self
            .graph
            .neighbors_directed(i, petgraph::Direction::Incoming)
            .map(|p| self.graph[p].clone())
            .collect();
        v.sort();
        v
    }

    /// Everything that comes after `name`, directly or not.
    pub fn dependents(&self, name: &str) -> Vec<String> {
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

    fn build(spec: &[(&str, &[&str])]) -> (DependencyGraph, Vec<GraphProblem>) {
        let owned: Vec<(String, Vec<String>)> = spec
            .iter()
            .map(|(n, a)| (n.to_string(), a.iter().map(|s| s.to_string()).collect()))
            .collect();
        DependencyGraph::build(owned.iter().map(|(n, a)| (n.as_str(), a.as_slice())))
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
