//! The layering rules of docs/architecture.md, checked on the source tree so
//! that they stay true without anyone remembering them: clap only in the
//! command line, no file I/O in the pure planner, no `process::exit` below
//! `main`, no import cycle between files other than a module and its own
//! children, and no source file grown back into a monolith.
//!
//! The reading is textual (comments stripped, `crate::`/`super::` paths
//! resolved to the file that defines the module), which is all these rules
//! need and keeps the test free of a Rust parser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path (`["apply", "strategy"]`) and its file, text without comments.
struct Module {
    file: PathBuf,
    is_mod_rs: bool,
    code: String,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Drops `//` comments (line and doc) so that a path named in prose is not
/// taken for an import. Strings holding `//` lose their tail too, which
/// only ever removes text, never invents a path.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The code of a file before its inline `#[cfg(test)] mod tests` (tests may
/// use anything), and whether the whole file is test-only.
fn non_test_part(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    }
}

fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs"
        || name == "props.rs"
        || name.ends_with("_tests.rs")
        || name.ends_with("_props.rs")
}

fn modules() -> BTreeMap<Vec<String>, Module> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut out = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&root).expect("under src");
        if rel.starts_with("bin") || is_test_file(rel) {
            continue;
        }
        let mut path: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let is_mod_rs = path.last().is_some_and(|l| l == "mod");
        if is_mod_rs || path == ["lib"] || path == ["main"] {
            path.pop();
        }
        let text = std::fs::read_to_string(&file).expect("source is UTF-8");
        let code = without_comments(non_test_part(&text));
        out.insert(
            path,
            Module {
                file,
                is_mod_rs,
                code,
            },
        );
    }
    out
}

/// The longest module path that exists, for a path that may end in items.
fn resolve(modules: &BTreeMap<Vec<String>, Module>, segs: &[String]) -> Vec<String> {
    let mut path = segs.to_vec();
    while !path.is_empty() && !modules.contains_key(&path) {
        path.pop();
    }
    path
}

fn idents(text: &str) -> Vec<String> {
    text.split("::")
        .map(|s| {
            s.trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .take_while(|s| !s.is_empty())
        .collect()
}

/// Every module a file names through `crate::…` or `super::…`, including
/// grouped imports (`use crate::{a::b, c}`).
fn imports(
    modules: &BTreeMap<Vec<String>, Module>,
    me: &[String],
    module: &Module,
) -> BTreeSet<Vec<String>> {
    let code = &module.code;
    let mut found = BTreeSet::new();
    let mut add = |segs: Vec<String>| {
        let target = resolve(modules, &segs);
        if target != me {
            found.insert(target);
        }
    };
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find("};").unwrap_or(group.len());
            for part in group[..end].split(',') {
                let segs = idents(part.split('{').next().unwrap_or(""));
                if !segs.is_empty() {
                    add(segs);
                }
            }
        } else {
            add(idents(rest));
        }
    }
    // `super` is the parent of a file, or of the folder for a mod.rs.
    let parent: Vec<String> = if module.is_mod_rs || me.is_empty() {
        me.iter()
            .take(me.len().saturating_sub(1))
            .cloned()
            .collect()
    } else {
        me[..me.len() - 1].to_vec()
    };
    for (at, _) in code.match_indices("super::") {
        if code[..at].ends_with("::") {
            continue; // super::super:: is read from the first one
        }
        let mut base = parent.clone();
        let mut rest = &code[at + "super::".len()..];
        while let Some(more) = rest.strip_prefix("super::") {
            base.pop();
            rest = more;
        }
        let mut segs = base;
        segs.extend(idents(rest));
        add(segs);
    }
    found
}

fn related(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct State<'a> {
        graph: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        next: usize,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        found: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in &s.graph[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[w].min(s.low[v]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.index[w].min(s.low[v]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        next: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

fn module_graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules = modules();
    modules
        .iter()
        .map(|(path, module)| {
            let edges = imports(&modules, path, module)
                .into_iter()
                .filter(|target| !related(path, target))
                .collect();
            (path.clone(), edges)
        })
        .collect()
}

#[test]
fn no_import_cycle_between_files_other_than_a_module_and_its_children() {
    let found: Vec<String> = cycles(&module_graph())
        .into_iter()
        .map(|c| {
            c.iter()
                .map(|m| m.join("::"))
                .collect::<Vec<_>>()
                .join(" ↔ ")
        })
        .collect();
    assert!(found.is_empty(), "import cycles: {found:#?}");
}

#[test]
fn the_cycle_check_finds_a_cycle_when_there_is_one() {
    // The check above passing means nothing if it cannot see a cycle.
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let graph = BTreeMap::from([
        (m("apply"), BTreeSet::from([m("ops")])),
        (m("ops"), BTreeSet::from([m("plan")])),
        (m("plan"), BTreeSet::from([m("apply")])),
        (m("sim"), BTreeSet::new()),
    ]);
    assert_eq!(cycles(&graph).len(), 1);
    // And the real tree's graph is not empty: it sees the imports.
    let real = module_graph();
    assert!(real[&m("ops::apply")].contains(&m("apply")));
}

fn files_naming(needle: &str, allowed: impl Fn(&Path) -> bool) -> Vec<String> {
    modules()
        .values()
        .filter(|m| m.code.contains(needle) && !allowed(&m.file))
        .map(|m| m.file.display().to_string())
        .collect()
}

#[test]
fn only_the_command_line_uses_clap() {
    let cli = src().join("cli");
    let offenders = files_naming("clap", |f| f.starts_with(&cli));
    assert!(offenders.is_empty(), "clap outside src/cli: {offenders:?}");
    // The needle does find clap where it is.
    assert!(!files_naming("clap", |f| !f.starts_with(&cli)).is_empty());
}

#[test]
fn the_planner_does_no_io() {
    let plan = src().join("plan");
    let offenders: Vec<String> = ["std::fs", "tokio::fs", "File::open", "std::env", "reqwest"]
        .iter()
        .flat_map(|needle| files_naming(needle, |f| !f.starts_with(&plan)))
        .collect();
    assert!(offenders.is_empty(), "I/O in src/plan: {offenders:?}");
    // The needles do find the file reading where it is (src/yaml/read.rs).
    let yaml = src().join("yaml");
    assert!(!files_naming("std::fs", |f| !f.starts_with(&yaml)).is_empty());
}

#[test]
fn only_main_ends_the_process() {
    let offenders = files_naming("process::exit", |_| false);
    assert!(offenders.is_empty(), "process::exit in: {offenders:?}");
}

#[test]
fn no_source_file_is_a_monolith() {
    // ~800 lines of non-test code, as the style guide asks.
    let big: Vec<String> = modules()
        .values()
        .filter(|m| {
            let text = std::fs::read_to_string(&m.file).expect("readable");
            non_test_part(&text).lines().count() > 820
        })
        .map(|m| m.file.display().to_string())
        .collect();
    assert!(big.is_empty(), "files over ~800 non-test lines: {big:?}");
}
