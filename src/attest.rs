//! Decision attestations: the gate's verdict as a signed in-toto statement.
//!
//! `check --attest FILE --attest-key KEY` writes a DSSE envelope whose payload is an in-toto v1
//! statement with a SLSA verification summary (VSA v1) predicate: which images (by digest) were
//! checked, by which policy library, with which result. A later deploy stage checks it with
//! `tollgate verify-decision FILE --key PUB [--digest sha256:...]` before it ships anything.

use crate::keystore::PublicKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value as Json, json};

/// The DSSE payload type of in-toto statements.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// SLSA verification summary attestation, v1.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
/// The verifier id written into every summary.
pub const VERIFIER_ID: &str = "https://github.com/tollgate-dev/tollgate";

/// One attested artefact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Image repository (without tag or digest), or the manifest path.
    pub name: String,
    /// Hex SHA-256.
    pub sha256: String,
}

/// What the statement says about the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The artefacts the decision is about.
    pub subjects: Vec<Subject>,
    /// `pass`, `deny` or `error`.
    pub verdict: String,
    /// RFC 3339 time of the run.
    pub time: String,
    /// The manifest as given, and its canonical digest.
    pub manifest: (String, String),
    /// SHA-256 of the loaded policy library.
    pub policy_sha256: String,
    /// Finding counts and rule ids, for the record.
    pub details: Json,
}

/// DSSE's pre-authentication encoding: what is actually signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The in-toto statement for a decision.
pub fn statement(decision: &Decision) -> Json {
    json!({
        "_type": STATEMENT_TYPE,
        "subject": decision.subjects.iter().map(|s| json!({"name": s.name, "digest": {"sha256": s.sha256}})).collect::<Vec<_>>(),
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "verifier": {"id": VERIFIER_ID, "version": {"tollgate": env!("CARGO_PKG_VERSION")}},
            "timeVerified": decision.time,
            "resourceUri": decision.manifest.0,
            "policy": {"uri": "tollgate:policies", "digest": {"sha256": decision.policy_sha256}},
            "inputAttestations": [],
            "verificationResult": if decision.verdict == "pass" { "PASSED" } else { "FAILED" },
            "verifiedLevels": [],
            "slsaVersion": "1.0",
            "tollgate": {
                "verdict": decision.verdict,
                "manifest": {"path": decision.manifest.0, "digest": {"sha256": decision.manifest.1}},
                "details": decision.details,
            },
        },
    })
}

/// Wraps a statement in a DSSE envelope signed by `sign` (which signs the PAE bytes).
pub fn envelope(statement: &Json, keyid: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> Json {
    let payload = statement.to_string().into_bytes();
    let signature = sign(&pae(PAYLOAD_TYPE, &payload));
    json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": STANDARD.encode(&payload),
        "signatures": [{"keyid": keyid, "sig": STANDARD.encode(signature)}],
    })
}

/// Why a decision attestation was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// Not a DSSE envelope of an in-toto statement.
    #[error("not a DSSE envelope of an in-toto statement: {0}")]
    Malformed(String),
    /// No signature verifies with any of the given keys.
    #[error("no signature verifies with the given key(s)")]
    BadSignature,
    /// Not a tollgate verification summary.
    #[error("the statement is not a verification summary by tollgate (predicateType {0})")]
    WrongPredicate(String),
    /// The gate did not pass.
    #[error("the gate did not pass: verdict {0}")]
    NotPassed(String),
    /// The required digest is not a subject.
    #[error("sha256:{0} is not a subject of the decision")]
    NotASubject(String),
}

/// Verifies an envelope and returns its statement when the gate passed for `digest` (if given).
pub fn verify(
    envelope: &Json,
    keys: &[PublicKey],
    digest: Option<&str>,
) -> Result<Json, RejectReason> {
    let malformed = |m: &str| RejectReason::Malformed(m.to_owned());
    if envelope["payloadType"] != PAYLOAD_TYPE {
        return Err(malformed("payloadType is not application/vnd.in-toto+json"));
    }
    let payload = envelope["payload"]
        .as_str()
        .and_then(|p| STANDARD.decode(p).ok())
        .ok_or_else(|| malformed("payload is not base64"))?;
    let signed = pae(PAYLOAD_TYPE, &payload);
    let signatures = envelope["signatures"]
        .as_array()
        .ok_or_else(|| malformed("no signatures"))?;
    let verified = signatures.iter().any(|s| {
        s["sig"]
            .as_str()
            .and_then(|sig| STANDARD.decode(sig).ok())
            .is_some_and(|sig| keys.iter().any(|k| k.verify(&signed, &sig)))
    });
    if !verified {
        return Err(RejectReason::BadSignature);
    }
    let statement: Json =
        serde_json::from_slice(&payload).map_err(|e| malformed(&format!("payload: {e}")))?;
    if statement["_type"] != STATEMENT_TYPE {
        return Err(malformed("_type is not an in-toto v1 statement"));
    }
    let predicate_type = statement["predicateType"].as_str().unwrap_or_default();
    if predicate_type != PREDICATE_TYPE || statement["predicate"]["verifier"]["id"] != VERIFIER_ID {
        return Err(RejectReason::WrongPredicate(predicate_type.to_owned()));
    }
    if statement["predicate"]["verificationResult"] != "PASSED" {
        let verdict = statement["predicate"]["tollgate"]["verdict"]
            .as_str()
            .unwrap_or("unknown");
        return Err(RejectReason::NotPassed(verdict.to_owned()));
    }
    if let Some(digest) = digest {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let listed = statement["subject"]
            .as_array()
            .is_some_and(|subjects| subjects.iter().any(|s| s["digest"]["sha256"] == hex));
        if !listed {
            return Err(RejectReason::NotASubject(hex.to_owned()));
        }
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::{Signature, SigningKey, signature::Signer};

    fn decision(verdict: &str) -> Decision {
        Decision {
            subjects: vec![Subject {
                name: "registry.example.com/payments/api".into(),
                sha256: "a".repeat(64),
            }],
            verdict: verdict.into(),
            time: "2026-12-04T20:00:00Z".into(),
            manifest: ("tollgate.yaml".into(), "b".repeat(64)),
            policy_sha256: "c".repeat(64),
            details: json!({"errors": 0}),
        }
    }

    fn signed(verdict: &str, key: &SigningKey) -> Json {
        envelope(&statement(&decision(verdict)), "k", |m| {
            let sig: Signature = key.sign(m);
            sig.to_der().as_bytes().to_vec()
        })
    }

    fn keypair() -> (SigningKey, PublicKey) {
        let key = SigningKey::from_slice(&[7u8; 32]).expect("key");
        let public = PublicKey::P256(*key.verifying_key());
        (key, public)
    }

    #[test]
    fn pae_matches_the_dsse_spec() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn a_passing_decision_verifies_for_its_digest() {
        let (key, public) = keypair();
        let env = signed("pass", &key);
        assert!(
            verify(
                &env,
                std::slice::from_ref(&public),
                Some(&format!("sha256:{}", "a".repeat(64)))
            )
            .is_ok()
        );
        assert_eq!(
            verify(&env, &[public], Some("sha256:ffff")),
            Err(RejectReason::NotASubject("ffff".into()))
        );
    }

    #[test]
    fn denials_tampering_and_other_keys_are_rejected() {
        let (key, public) = keypair();
        assert_eq!(
            verify(&signed("deny", &key), std::slice::from_ref(&public), None),
            Err(RejectReason::NotPassed("deny".into()))
        );
        let other = SigningKey::from_slice(&[9u8; 32]).expect("key");
        assert_eq!(
            verify(&signed("pass", &other), std::slice::from_ref(&public), None),
            Err(RejectReason::BadSignature)
        );
        let mut env = signed("deny", &key);
        let forged = statement(&decision("pass")).to_string();
        env["payload"] = Json::from(STANDARD.encode(forged));
        assert_eq!(
            verify(&env, &[public], None),
            Err(RejectReason::BadSignature)
        );
    }
}
