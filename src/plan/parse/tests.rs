use super::*;
use crate::plan::file::Strategy;

fn errs(text: &str) -> Vec<Diagnostic> {
    parse_plan_lenient("t.yaml", text.as_bytes()).diagnostics
}

#[test]
fn reads_a_small_plan() {
    let (plan, map) = parse_plan(
        "t.yaml",
        "version: 1\nmoves:\n  - server: admin_vm01\n    to: nova2\n    strategy: snapshot\n",
    )
    .unwrap();
    assert_eq!(plan.moves.len(), 1);
    assert_eq!(plan.moves[0].strategy, Some(Strategy::Snapshot));
    let p = map
        .position(&[PathSeg::Key("moves"), PathSeg::Index(0), PathSeg::Key("to")])
        .unwrap();
    assert_eq!((p.line, p.column), (4, 9));
    assert_eq!(map.text(&[PathSeg::Key("version")]), Some("1"));
}

#[test]
fn plain_scalars_in_text_fields_keep_their_spelling() {
    let (plan, _) = parse_plan(
        "t.yaml",
        "version: 1\nmoves:\n  - server: 0123\n    to: no\n    after: [y, 1.10]\n  - {server: y, to: a}\n  - {server: '1.10', to: a}\n",
    )
    .unwrap();
    assert_eq!(plan.moves[0].server.as_deref(), Some("0123"));
    assert_eq!(plan.moves[0].to, "no");
    assert_eq!(plan.moves[0].after, vec!["y", "1.10"]);
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let d = errs("version: 1\nmoves:\n  - server: a\n    to: b\n    sourceafter: keep\n");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, "yaml::unknown-key");
    let p = d[0].position.unwrap();
    assert_eq!((p.line, p.column), (5, 5));
    assert!(
        d[0].help.as_deref().unwrap().contains("`source_after`"),
        "{:?}",
        d[0].help
    );
}

#[test]
fn every_type_error_is_reported() {
    let d = errs(
        "version: 1\nlimits:\n  concurrency: many\nmoves:\n  - server: a\n    to: b\n    strategy: shelf\n  - server: c\n    to: d\n    timeouts: {stop: 5 parsecs}\n",
    );
    let lines: Vec<usize> = d.iter().map(|d| d.position.unwrap().line).collect();
    assert_eq!(lines, vec![3, 7, 10], "{d:#?}");
    assert!(d[1].help.as_deref().unwrap().contains("`shelve`"));
    assert!(d[2].message.contains("parsecs"), "{}", d[2].message);
}

#[test]
fn removed_required_key_is_not_reported_twice() {
    let d = errs("version: 1\nmoves:\n  - server: a\n    to: [x]\n");
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].path, "moves[0].to");
}

#[test]
fn missing_to_drops_the_entry_and_remembers_its_key() {
    let p = parse_plan_lenient(
        "t.yaml",
        b"version: 1\nmoves:\n  - server: a\n  - server: b\n    to: x\n",
    );
    assert_eq!(p.diagnostics.len(), 1);
    assert!(p.diagnostics[0].message.contains("`to`"));
    assert_eq!(p.plan.unwrap().moves.len(), 1);
    assert!(p.dropped_keys.contains("a"));
}

#[test]
fn duplicate_keys_point_at_both_places() {
    let d = errs("version: 1\nmoves:\n  - server: a\n    to: b\n    to: c\n");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, "yaml::duplicate-key");
    assert_eq!(d[0].position.unwrap().line, 5);
    assert_eq!(d[0].notes[0].position.line, 4);
}

#[test]
fn version_is_checked_first() {
    let d = errs("version: 2\nmoves: []\n");
    assert_eq!(d[0].code, "plan::unsupported-version");
    let d = errs("moves: []\n");
    assert_eq!(d[0].code, "plan::missing-version");
}

#[test]
fn empty_and_null_documents() {
    assert_eq!(errs("")[0].code, "yaml::empty");
    assert_eq!(errs("# only a comment\n\n")[0].code, "yaml::empty");
    assert_eq!(errs("~\n")[0].code, "yaml::empty");
    assert_eq!(errs("- a\n")[0].code, "plan::not-a-mapping");
}

#[test]
fn json_is_accepted() {
    let (plan, _) = parse_plan(
        "t.json",
        r#"{"version": 1, "moves": [{"server": "a", "to": "b"}]}"#,
    )
    .unwrap();
    assert_eq!(plan.moves[0].to, "b");
}

#[test]
fn hostile_inputs_give_clear_errors() {
    assert_eq!(
        errs("version: 1\nmoves:\n\t- server: a\n")[0].code,
        "yaml::tab"
    );
    let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(errs(&deep)[0].code, "yaml::too-deep");
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for c in "bcdefghi".chars() {
        bomb.push_str(&format!(
            "{c}: &{c} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
        prev = c;
    }
    assert_eq!(errs(&bomb)[0].code, "yaml::alias-bomb");
    let d = parse_plan_lenient("t.yaml", b"version: 1\nmoves: \xff\n").diagnostics;
    assert_eq!(d[0].code, "yaml::not-utf8");
    assert_eq!(d[0].position.unwrap().line, 2);
    assert_eq!(
        errs("version: 1\nmoves: []\n---\nx: 1\n")[0].code,
        "yaml::multiple-documents"
    );
}

#[test]
fn rendered_report_shows_file_line_column_and_caret() {
    let d = errs("version: 1\nmoves:\n  - server: a\n    to: b\n    sourceafter: keep\n");
    let out = d[0].render(false);
    assert!(out.contains("t.yaml:5:5"), "{out}");
    assert!(out.contains("sourceafter: keep"), "{out}");
    assert!(out.contains("did you mean"), "{out}");
}
