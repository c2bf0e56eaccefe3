//! Renderer behaviour on changesets planned from inventories built in code.
//! Whole-output snapshots live in tests/plan_snapshots.rs.

use super::*;
use crate::plan::file::SourceAfter;
use crate::plan::fixtures::*;
use crate::plan::planner::plan;

fn sample(source_after: SourceAfter) -> Changeset {
    let mut e = entry("vm01", "nova2");
    e.source_after = Some(source_after);
    let inv = inventory(vec![
        server("11111111-aaaa", "vm01", "nova"),
        server("22222222-bbbb", "vm02", "nova2"),
    ]);
    plan(
        &file(vec![e, entry("vm02", "nova2"), entry("ghost", "nova2")]),
        "plans/x.yaml",
        DIGEST,
        &inv,
    )
}

#[test]
fn text_shows_symbols_steps_diff_blockers_and_summary() {
    let out = text::render(&sample(SourceAfter::Keep), false);
    println!("{out}");
    assert!(
        out.contains("~ vm01 (11111111-aaaa)  nova/node-1 → nova2"),
        "{out}"
    );
    assert!(
        out.contains("+ vm01  new server in nova2 from snapshot vm01-azmove-11111111"),
        "{out}"
    );
    assert!(out.contains("- availability_zone: nova\n"), "{out}");
    assert!(out.contains("+ availability_zone: nova2\n"), "{out}");
    assert!(out.contains("+   azmove_source: 11111111-aaaa"), "{out}");
    assert!(
        out.contains("handle source (keep it, tag azmove_moved_to)"),
        "{out}"
    );
    assert!(
        out.contains("= vm02 (22222222-bbbb): already in nova2"),
        "{out}"
    );
    assert!(
        out.contains("! entry `ghost` → nova2: cannot move"),
        "{out}"
    );
    assert!(
        out.contains("* no server named or with id `ghost`"),
        "{out}"
    );
    assert!(
        out.ends_with("Plan: 1 to move, 1 unchanged, 1 blocked.\n"),
        "{out}"
    );
    assert!(!out.contains('\u{1b}'), "no colour unless asked");
    assert!(
        !out.contains("  - vm01"),
        "the source is kept: no deletion line"
    );
}

#[test]
fn deleting_the_source_is_shown_with_a_minus() {
    let out = text::render(&sample(SourceAfter::Delete), false);
    assert!(
        out.contains("  - vm01 (11111111-aaaa)  deleted once the replacement is verified"),
        "{out}"
    );
}

#[test]
fn colour_only_when_asked() {
    assert!(text::render(&sample(SourceAfter::Keep), true).contains('\u{1b}'));
}

#[test]
fn nothing_to_do_says_no_changes() {
    let inv = inventory(vec![server("s", "vm02", "nova2")]);
    let cs = plan(&file(vec![entry("vm02", "nova2")]), "p.yaml", DIGEST, &inv);
    let out = text::render(&cs, false);
    assert!(out.contains("No changes."), "{out}");
    assert!(markdown::render(&cs).contains("**No changes."));
}

#[test]
fn markdown_has_a_table_and_details() {
    let out = markdown::render(&sample(SourceAfter::Keep));
    println!("{out}");
    assert!(
        out.contains("| ~ | `vm01` | nova/node-1 | nova2 | snapshot | stop source → snapshot"),
        "{out}"
    );
    assert!(
        out.contains("| ! | `ghost` | – | nova2 | snapshot | **blocked**: no server named"),
        "{out}"
    );
    assert!(
        out.contains("<details><summary>~ <code>vm01</code> (11111111-aaaa) → nova2</summary>"),
        "{out}"
    );
    assert!(
        out.contains("```diff\n-id: 11111111-aaaa\n+id: (known after apply)\n name: vm01\n"),
        "{out}"
    );
    assert_eq!(
        out.matches("<details>").count(),
        out.matches("</details>").count()
    );
}

#[test]
fn markdown_cells_cannot_break_the_table() {
    assert_eq!(markdown::cell("a|b\nc"), "a\\|b c");
}

#[test]
fn json_round_trips() {
    let cs = sample(SourceAfter::Keep);
    let back = Changeset::from_json("x", &json::render(&cs)).unwrap();
    assert_eq!(back, cs);
}
