//! `tollgate init`: a starter manifest that validates as written and explains each section.

use std::path::Path;

/// The starter manifest. Kept valid by a test that loads it with the real loader.
pub const STARTER_MANIFEST: &str = r#"# tollgate manifest v1: what this pipeline must prove before it ships.
# Reference: https://github.com/tollgate-dev/tollgate#manifest-v1-tollgateyaml
# Editors: `tollgate schema > tollgate.schema.json` gives completion and validation.
apiVersion: tollgate.dev/v1
kind: Manifest
metadata:
  name: my-service          # the service or pipeline
  owner: my-team            # who answers for it
requirements:
  tests:                    # JUnit XML reports, relative to this file
    - name: unit
      report: reports/junit.xml
  scans:                    # SARIF 2.1.0 reports; findings above max_severity fail
    - name: scanner
      report: reports/scan.sarif
      max_severity: medium
# images:                   # images this pipeline ships; signatures are checked against the key store
#   - name: app
#     ref: registry.example.com/my-team/my-service@sha256:<digest>
deploy:
  environment: staging
  regions: [eu-west-1]
  data_classes: []
  iam_roles: []
  resources: {cpu: "1", memory: 1Gi, replicas: 2}
"#;

/// Why `init` did not write the file.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The file exists and `--force` was not given.
    #[error("{0} already exists; pass --force to overwrite it")]
    Exists(String),
    /// Writing failed.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Writes the starter manifest to `path`, refusing to overwrite unless `force`.
pub fn write_starter(path: &Path, force: bool) -> Result<(), InitError> {
    let display = path.display().to_string();
    if path.exists() && !force {
        return Err(InitError::Exists(display));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| InitError::Write {
            path: display.clone(),
            reason: e.to_string(),
        })?;
    }
    std::fs::write(path, STARTER_MANIFEST).map_err(|e| InitError::Write {
        path: display,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_manifest_is_valid() {
        let loaded = crate::manifest::parse(
            Path::new("tollgate.yaml"),
            "tollgate.yaml",
            STARTER_MANIFEST,
        )
        .expect("the starter manifest validates");
        assert_eq!(loaded.manifest.requirements.tests.len(), 1);
    }

    #[test]
    fn init_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tollgate.yaml");
        write_starter(&path, false).expect("first write");
        assert!(matches!(
            write_starter(&path, false),
            Err(InitError::Exists(_))
        ));
        write_starter(&path, true).expect("forced write");
    }
}
