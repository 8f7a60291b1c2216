//! The decision attestation (`check --attest FILE --attest-key KEY`): the verdict as a signed
//! in-toto Statement v1 with a SLSA Verification Summary (VSA v1) predicate about the image
//! digests, in a DSSE envelope as cosign writes attestations. A later stage checks it with
//! `tollgate attestation verify FILE --key PUB [--digest sha256:...]`.

use crate::finding::{Report, Verdict};
use crate::keystore::PublicKey;
use crate::signing::PrivateKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value as Json, json};

/// The DSSE payload type of in-toto statements.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto Statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type: SLSA Verification Summary Attestation v1.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
/// `verifier.id` of the predicate.
pub const VERIFIER_ID: &str = "https://github.com/tollgate-dev/tollgate";

const MAX_ENVELOPE_BYTES: u64 = 4 * 1024 * 1024;

/// What the statement says about the run besides the report.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    /// The report.
    pub report: &'a Report,
    /// The manifest path as given.
    pub manifest: &'a str,
    /// `sha256:<hex>` of the canonical manifest, when it loaded.
    pub manifest_digest: Option<&'a str>,
    /// `sha256:<hex>` of the policy library, when it loaded.
    pub policy_digest: Option<&'a str>,
    /// The run's time.
    pub now: jiff::Timestamp,
}

/// DSSE's pre-authentication encoding: `DSSEv1 <len type> <type> <len body> <body>`.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn sha256_hex(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:")
}

/// The in-toto statement of a decision. Subjects are the images with a resolved digest (named by
/// their reference without tag or digest); without any, the manifest itself (its canonical
/// digest) is the subject.
pub fn statement(d: &Decision<'_>) -> Json {
    let mut subjects: Vec<Json> = d
        .report
        .summary
        .iter()
        .flat_map(|s| &s.images)
        .filter_map(|i| {
            let hex = sha256_hex(i.digest.as_deref()?)?;
            let name = i.reference.split('@').next().unwrap_or(&i.reference);
            let name = match name.rsplit_once(':') {
                Some((repo, tag)) if !tag.contains('/') => repo,
                _ => name,
            };
            Some(json!({"name": name, "digest": {"sha256": hex}}))
        })
        .collect();
    if subjects.is_empty()
        && let Some(hex) = d.manifest_digest.and_then(sha256_hex)
    {
        subjects.push(json!({"name": d.manifest, "digest": {"sha256": hex}}));
    }
    let verdict = d.report.verdict();
    let counts = d.report.counts();
    let waived = d
        .report
        .findings
        .iter()
        .filter(|f| f.waived.is_some())
        .count();
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "verifier": {"id": VERIFIER_ID, "version": {"tollgate": env!("CARGO_PKG_VERSION")}},
            "timeVerified": d.now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "resourceUri": d.manifest,
            "policy": {
                "uri": "tollgate:policies",
                "digest": d.policy_digest.and_then(sha256_hex).map(|h| json!({"sha256": h})),
            },
            "inputAttestations": [],
            "verificationResult": if verdict == Verdict::Pass { "PASSED" } else { "FAILED" },
            "verifiedLevels": [],
            "tollgate": {
                "verdict": verdict.as_str(),
                "exit_code": verdict.exit_code(),
                "manifest_digest": d.manifest_digest,
                "counts": counts,
                "waived": waived,
                "rules": d.report.findings.iter().filter(|f| d.report.is_blocking(f)).map(|f| f.rule.clone()).collect::<Vec<_>>(),
            },
        },
    })
}

/// Signs a statement into a DSSE envelope (cosign's shape; `keyid` is tollgate's key id).
pub fn envelope(statement: &Json, key: &PrivateKey) -> Json {
    let body = statement.to_string();
    let sig = key.sign(&pae(PAYLOAD_TYPE, body.as_bytes()));
    json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": B64.encode(body.as_bytes()),
        "signatures": [{"keyid": key.key_id(), "sig": B64.encode(sig)}],
    })
}

/// What a verified attestation says.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// `PASSED` or `FAILED`.
    pub result: String,
    /// The subjects as `name@sha256:<hex>`.
    pub subjects: Vec<String>,
    /// When the gate decided.
    pub time: String,
    /// The statement.
    pub statement: Json,
}

/// Reads and verifies an attestation file: a DSSE envelope signed by `key` whose payload is a
/// tollgate VSA; with `digest`, one subject must have it.
pub fn verify_file(
    path: &std::path::Path,
    key: &PublicKey,
    digest: Option<&str>,
) -> Result<Verified, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > MAX_ENVELOPE_BYTES {
        return Err(format!("{}: {size} bytes is too large", path.display()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    verify(&text, key, digest)
}

/// [`verify_file`] on text.
pub fn verify(text: &str, key: &PublicKey, digest: Option<&str>) -> Result<Verified, String> {
    let envelope: Json =
        serde_json::from_str(text).map_err(|e| format!("not a DSSE envelope (JSON): {e}"))?;
    let payload_type = envelope["payloadType"].as_str().unwrap_or_default();
    if payload_type != PAYLOAD_TYPE {
        return Err(format!(
            "payloadType is `{payload_type}`, expected `{PAYLOAD_TYPE}`"
        ));
    }
    let body = envelope["payload"]
        .as_str()
        .and_then(|p| B64.decode(p).ok())
        .ok_or("the payload is not base64")?;
    let message = pae(payload_type, &body);
    let signed = envelope["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| B64.decode(s["sig"].as_str()?).ok())
        .any(|sig| key.verify(&message, &sig));
    if !signed {
        return Err("no signature in the envelope verifies with the key".into());
    }
    let statement: Json =
        serde_json::from_slice(&body).map_err(|e| format!("the payload is not JSON: {e}"))?;
    if statement["_type"] != STATEMENT_TYPE || statement["predicateType"] != PREDICATE_TYPE {
        return Err(format!(
            "not a {PREDICATE_TYPE} statement (in-toto {STATEMENT_TYPE})"
        ));
    }
    if statement["predicate"]["verifier"]["id"] != VERIFIER_ID {
        return Err("the verifier is not tollgate".into());
    }
    let subjects: Vec<String> = statement["subject"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some(format!(
                "{}@sha256:{}",
                s["name"].as_str()?,
                s["digest"]["sha256"].as_str()?
            ))
        })
        .collect();
    if let Some(want) = digest {
        let want = want.strip_prefix("sha256:").unwrap_or(want);
        if !subjects
            .iter()
            .any(|s| s.ends_with(&format!("@sha256:{want}")))
        {
            return Err(format!(
                "no subject has digest sha256:{want} (subjects: {})",
                subjects.join(", ")
            ));
        }
    }
    Ok(Verified {
        result: statement["predicate"]["verificationResult"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        subjects,
        time: statement["predicate"]["timeVerified"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        statement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FailOn, ImageSummary, SummaryFacts};

    fn report() -> Report {
        Report::of_findings(
            "tollgate.yaml".into(),
            crate::diagnostic::shared_source("tollgate.yaml", ""),
            Vec::new(),
            FailOn::Error,
        )
        .with_summary(SummaryFacts {
            images: vec![ImageSummary {
                name: "api".into(),
                reference: "localhost:5000/acme/api:1.2".into(),
                digest: Some(format!("sha256:{}", "ab".repeat(32))),
                signed: true,
                signers: vec!["release".into()],
            }],
            ..SummaryFacts::default()
        })
    }

    #[test]
    fn pae_is_dsse_v1() {
        assert_eq!(pae("t", b"body"), b"DSSEv1 1 t 4 body".to_vec());
    }

    #[test]
    fn a_signed_statement_verifies_and_names_the_image_digest() {
        let key = PrivateKey::generate_p256();
        let report = report();
        let d = Decision {
            report: &report,
            manifest: "tollgate.yaml",
            manifest_digest: Some("sha256:00"),
            policy_digest: Some("sha256:11"),
            now: jiff::Timestamp::UNIX_EPOCH,
        };
        let env = envelope(&statement(&d), &key).to_string();
        let v = verify(&env, &key.public_key(), Some(&"ab".repeat(32))).expect("verifies");
        assert_eq!(v.result, "PASSED");
        assert_eq!(
            v.subjects,
            vec![format!(
                "localhost:5000/acme/api@sha256:{}",
                "ab".repeat(32)
            )]
        );
        assert!(verify(&env, &key.public_key(), Some("sha256:ff")).is_err());
        let other = PrivateKey::generate_p256();
        assert!(verify(&env, &other.public_key(), None).is_err());
        let forged = statement(&d).to_string().replace("PASSED", "FAILED");
        let forged_env = json!({"payloadType": PAYLOAD_TYPE, "payload": B64.encode(forged),
            "signatures": serde_json::from_str::<Json>(&env).expect("json")["signatures"].clone()});
        assert!(verify(&forged_env.to_string(), &key.public_key(), None).is_err());
    }
}
