use super::blocker::closest;
use super::*;
use crate::plan::inventory::Server;

fn server() -> Server {
    Server {
        id: "s1".into(),
        name: "vm".into(),
        status: "ACTIVE".into(),
        availability_zone: Some("nova".into()),
        host: Some("node-1".into()),
        updated: "2026-01-01T00:00:00Z".into(),
        ..Default::default()
    }
}

fn saved(s: &Server) -> PlannedMove {
    PlannedMove {
        key: s.id.clone(),
        entry: "vm".into(),
        source: None,
        target_az: "nova2".into(),
        action: Action::Move,
        strategy: Strategy::Snapshot,
        strategy_reason: String::new(),
        steps: vec![],
        after: vec![],
        settings: crate::plan::file::Options::default().resolve(),
        boot: None,
        existing: Existing::default(),
        fingerprint: Some(Fingerprint::of(s)),
        effects: Effects::default(),
    }
}

#[test]
fn unchanged_server_is_not_stale() {
    let s = server();
    assert!(stale_reasons(&saved(&s), &s).is_empty());
}

#[test]
fn each_changed_field_is_named() {
    let s = server();
    let m = saved(&s);
    let mut now = s.clone();
    now.status = "SHUTOFF".into();
    now.task_state = Some("powering-off".into());
    now.availability_zone = Some("nova3".into());
    now.host = Some("node-9".into());
    now.updated = "2026-01-02T00:00:00Z".into();
    let r = stale_reasons(&m, &now);
    assert_eq!(
        r,
        vec![
            "status changed from ACTIVE to SHUTOFF",
            "task state changed from none to powering-off",
            "availability zone changed from nova to nova3",
            "host changed from node-1 to node-9",
        ]
    );
}

#[test]
fn a_touched_server_is_stale_even_if_its_state_is_the_same() {
    let s = server();
    let m = saved(&s);
    let mut now = s.clone();
    now.updated = "2026-01-02T00:00:00Z".into();
    let r = stale_reasons(&m, &now);
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("modified"), "{r:?}");
}

#[test]
fn user_data_is_neither_serialised_nor_debug_printed() {
    let b = BootSpec {
        user_data: Some("I2Nsb3VkLWNvbmZpZwpwYXNzd29yZDogaHVudGVyMg==".into()),
        user_data_sha256: Some(user_data_digest("x")),
        ..Default::default()
    };
    let json = serde_json::to_string(&b).unwrap();
    assert!(!json.contains("I2Nsb3Vk"), "{json}");
    assert!(!format!("{b:?}").contains("I2Nsb3Vk"));
    let back: BootSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back.user_data, None);
    assert_eq!(back.user_data_sha256, b.user_data_sha256);
}

#[test]
fn wrong_format_is_refused_with_advice() {
    let e = Changeset::from_json("p.json", r#"{"format": 99}"#).unwrap_err();
    assert!(e.to_string().contains("format 99"), "{e}");
    let e = Changeset::from_json("p.json", "not json").unwrap_err();
    assert!(e.to_string().contains("azmove plan"), "{e}");
}

#[test]
fn only_a_clear_typo_gets_a_suggestion() {
    let known = vec!["nova".to_string(), "nova2".to_string()];
    assert_eq!(closest("nvoa2", &known), Some("nova2"));
    assert_eq!(closest("nova3", &known), None);
    assert_eq!(closest("zone-b", &known), None);
}

#[test]
fn az_typo_gets_a_suggestion() {
    let b = Blocker::TargetAzMissing {
        az: "nvoa2".into(),
        known: vec!["nova".into(), "nova2".into()],
    };
    assert!(b.to_string().contains("did you mean `nova2`"), "{b}");
}
