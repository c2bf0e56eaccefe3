use serde::Deserialize;

use super::*;

#[test]
fn secret_files_do_not_show_values() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Auth {
        port: u16,
    }
    let err = from_yaml_slice::<Auth>("clouds.yaml", b"port: hunter2\n", &YamlOptions::secret())
        .unwrap_err();
    let text = format!("{err} {err:?} {}", err.render(false));
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("clouds.yaml:1:7"), "{text}");
}

#[test]
fn generic_documents_use_the_same_machinery() {
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        name: String,
        #[serde(default)]
        tags: Vec<String>,
    }
    let d: Doc = from_yaml_str("d.yaml", "name: x\ntags: [a]\n").unwrap();
    assert_eq!(
        d,
        Doc {
            name: "x".into(),
            tags: vec!["a".into()]
        }
    );
    let e = from_yaml_str::<Doc>("d.yaml", "name: x\ntagz: [a]\n").unwrap_err();
    assert!(e.to_string().contains("d.yaml:2:1"), "{e}");
    assert!(e.to_string().contains("`tags`"), "{e}");
}
