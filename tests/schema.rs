//! `tollgate schema` prints a JSON Schema that accepts every shipped example manifest and rejects
//! the scenarios that are invalid by structure.

use assert_cmd::Command;
use std::path::Path;

fn schema_from_binary() -> serde_json::Value {
    let out = Command::cargo_bin("tollgate")
        .expect("binary")
        .arg("schema")
        .output()
        .expect("runs");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("schema is JSON")
}

fn yaml_file(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("readable");
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn schema_accepts_examples_and_rejects_structural_errors() {
    let schema = schema_from_binary();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    let example = yaml_file(&root.join("fixtures/example/tollgate.yaml"));
    let errors: Vec<String> = validator
        .iter_errors(&example)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "fixtures/example/tollgate.yaml: {errors:?}"
    );

    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("fixtures/scenarios")).expect("scenarios") {
        let dir = entry.expect("entry").path();
        let manifest = dir.join("tollgate.yaml");
        if !manifest.exists() {
            continue;
        }
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).expect("case"))
                .expect("json");
        let structural = case["errors"].as_array().into_iter().flatten().any(|c| {
            matches!(
                c.as_str(),
                Some("manifest::unknown-key" | "manifest::wrong-type" | "manifest::bad-quantity")
            )
        });
        let valid = validator.is_valid(&yaml_file(&manifest));
        assert_eq!(
            valid,
            !structural,
            "{}: schema validity",
            manifest.display()
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} scenario manifests checked");
}
