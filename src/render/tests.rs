//! Renderer behaviour on changesets planned from inventories built in code.
//! Whole-output snapshots live in tests/it/plan_sim.rs (tests/it/snapshots/).

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

/// A member's plan: web moves by shelve (auto), db by snapshot.
fn mixed() -> Changeset {
    let mut f = file(vec![entry("web", "nova2"), entry("db", "nova2")]);
    f.defaults.strategy = None;
    f.moves[1].strategy = Some(crate::plan::file::Strategy::Snapshot);
    let mut inv = inventory(vec![
        server("11111111-aaaa", "web", "nova"),
        server("22222222-bbbb", "db", "nova"),
    ]);
    inv.capabilities.is_admin = false;
    plan(&f, "plans/x.yaml", DIGEST, &inv)
}

#[test]
fn an_in_place_move_shows_what_it_keeps_its_downtime_and_a_diff_of_the_same_server() {
    let out = text::render(&mixed(), false);
    println!("{out}");
    assert!(
        out.contains("    strategy  shelve (auto (the default): shelve — server ACTIVE, compute 2.104 unshelves into an AZ; skipped: live/cold need the admin role)\n"),
        "{out}"
    );
    assert!(
        out.contains("    identity  keeps its UUID, IPs (same ports) and MAC addresses\n"),
        "{out}"
    );
    assert!(
        out.contains("    downtime  shelve → unshelve and boot in the target AZ\n"),
        "{out}"
    );
    // the id and the addresses are unchanged lines of the diff
    assert!(out.contains("        id: 11111111-aaaa\n"), "{out}");
    assert!(out.contains("          private: 10.0.0.5\n"), "{out}");
    assert!(out.contains("      + availability_zone: nova2\n"), "{out}");
    assert!(
        out.contains(
            "    identity  a new server: new UUID, new IPs (on new ports) and new MAC addresses; cloud-init runs its first-boot modules again\n"
        ),
        "{out}"
    );
    assert!(out.contains("Strategies: 1 shelve, 1 snapshot.\n"), "{out}");
}

#[test]
fn markdown_and_json_carry_the_effects_of_each_strategy() {
    let cs = mixed();
    let md = markdown::render(&cs);
    assert!(
        md.contains("| ~ | `web` | nova/node-1 | nova2 | shelve | mark moving → shelve"),
        "{md}"
    );
    assert!(
        md.contains("- **identity**: keeps its UUID, IPs (same ports) and MAC addresses\n- **downtime**: shelve → unshelve"),
        "{md}"
    );
    let v: serde_json::Value = serde_json::from_str(&json::render(&cs)).unwrap();
    assert_eq!(v["moves"][0]["strategy"], "shelve");
    assert_eq!(v["moves"][0]["effects"]["keeps_uuid"], true);
    assert_eq!(v["moves"][0]["effects"]["downtime"], "shelve_unshelve");
    assert_eq!(v["moves"][1]["effects"]["keeps_ips"], false);
    assert_eq!(v["moves"][1]["effects"]["downtime"], "snapshot_boot");
}

#[test]
fn a_plan_saved_before_effects_existed_reads_as_snapshot() {
    let cs = sample(SourceAfter::Keep);
    let mut v: serde_json::Value = serde_json::from_str(&json::render(&cs)).unwrap();
    for m in v["moves"].as_array_mut().unwrap() {
        m.as_object_mut().unwrap().remove("effects");
        m["settings"].as_object_mut().unwrap().remove("strategies");
    }
    let back = Changeset::from_json("old.json", &v.to_string()).unwrap();
    assert_eq!(back, cs);
}
