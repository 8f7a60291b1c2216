//! Whether a Rekor entry body (hashedrekord, dsse, intoto; v0.0.1/0.0.2 and Rekor v2's 0.0.2
//! protobuf-JSON) records exactly this bundle's signature, signer and content.

use super::bundle::{Content, TlogEntry};
use super::crypto::sha256;
use super::error::{Error, ErrorKind, err};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// The signer as the log must record it: a certificate or a public key, DER.
#[derive(Debug, Clone, Copy)]
pub enum SignerDer<'a> {
    /// The leaf certificate, DER.
    Certificate(&'a [u8]),
    /// The key, SubjectPublicKeyInfo DER.
    Key(&'a [u8]),
}

fn mismatch(entry: &TlogEntry, what: &str) -> Error {
    err(
        ErrorKind::TransparencyLog,
        format!(
            "transparency log entry {} ({} {}) does not match the bundle: {what}",
            entry.log_index, entry.kind, entry.version
        ),
    )
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn b64_at(v: &Value, path: &[&str]) -> Option<Vec<u8>> {
    str_at(v, path).and_then(|s| STANDARD.decode(s).ok())
}

/// A PEM block's DER contents (certificate or public key), base64-wrapped as Rekor v1 stores it.
fn pem_b64_der(text: &str) -> Option<Vec<u8>> {
    let pem = STANDARD.decode(text).ok()?;
    let pem = std::str::from_utf8(&pem).ok()?;
    pem_der(pem)
}

/// The DER inside the first PEM block. Lenient about line length: Rekor stores PEM written by
/// many clients, and RFC 7468's strict 64-column rule is not what identifies a certificate.
pub fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let mut lines = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN "));
    lines.next()?;
    let mut text = String::new();
    for line in lines {
        if line.starts_with("-----END ") {
            return STANDARD.decode(text).ok();
        }
        text.push_str(line);
    }
    None
}

fn signer_matches_pem(signer: SignerDer<'_>, pem_b64: Option<&str>) -> bool {
    let Some(der) = pem_b64.and_then(pem_b64_der) else {
        return false;
    };
    match signer {
        SignerDer::Certificate(c) => der == c,
        SignerDer::Key(k) => der == k,
    }
}

fn signer_matches_v2(signer: SignerDer<'_>, verifier: Option<&Value>) -> bool {
    let Some(verifier) = verifier else {
        return false;
    };
    match signer {
        SignerDer::Certificate(c) => {
            b64_at(verifier, &["x509Certificate", "rawBytes"]).is_some_and(|d| d == c)
        }
        SignerDer::Key(k) => b64_at(verifier, &["publicKey", "rawBytes"]).is_some_and(|d| d == k),
    }
}

/// Checks that the entry body records this bundle. `artifact_digest` is the SHA-256 of the
/// artifact (message signatures).
pub fn check(
    entry: &TlogEntry,
    content: &Content,
    signer: SignerDer<'_>,
    artifact_digest: &[u8; 32],
) -> Result<(), Error> {
    let body: Value = serde_json::from_slice(&entry.body)
        .map_err(|e| mismatch(entry, &format!("body is not JSON ({e})")))?;
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind != entry.kind || api != entry.version {
        return Err(mismatch(
            entry,
            &format!(
                "body says {kind} {api}, kindVersion says {} {}",
                entry.kind, entry.version
            ),
        ));
    }
    let spec = body
        .get("spec")
        .ok_or_else(|| mismatch(entry, "body has no spec"))?;
    match (kind, api, content) {
        ("hashedrekord", "0.0.1", Content::Message { signature, .. }) => {
            if str_at(spec, &["data", "hash", "algorithm"]) != Some("sha256")
                || str_at(spec, &["data", "hash", "value"])
                    != Some(hex::encode(artifact_digest).as_str())
            {
                return Err(mismatch(
                    entry,
                    "the logged artifact digest is not the artifact's",
                ));
            }
            if b64_at(spec, &["signature", "content"]).as_deref() != Some(signature.as_slice()) {
                return Err(mismatch(entry, "the logged signature is not the bundle's"));
            }
            if !signer_matches_pem(signer, str_at(spec, &["signature", "publicKey", "content"])) {
                return Err(mismatch(
                    entry,
                    "the logged certificate or key is not the bundle's signer",
                ));
            }
            Ok(())
        }
        ("hashedrekord", "0.0.2", _) => {
            let spec = spec
                .get("hashedRekordV002")
                .ok_or_else(|| mismatch(entry, "body has no hashedRekordV002"))?;
            let (digest, signature) = match content {
                Content::Message { signature, .. } => (artifact_digest.to_vec(), signature),
                // Rekor v2 logs a DSSE envelope as a hashedrekord of its PAE.
                Content::Dsse(env) => (sha256(&env.pae()).to_vec(), &env.signature),
            };
            if str_at(spec, &["data", "algorithm"]) != Some("SHA2_256")
                || b64_at(spec, &["data", "digest"]) != Some(digest)
            {
                return Err(mismatch(
                    entry,
                    "the logged digest is not the digest of the signed content",
                ));
            }
            if b64_at(spec, &["signature", "content"]).as_deref() != Some(signature.as_slice()) {
                return Err(mismatch(entry, "the logged signature is not the bundle's"));
            }
            if !signer_matches_v2(signer, spec.pointer("/signature/verifier")) {
                return Err(mismatch(
                    entry,
                    "the logged certificate or key is not the bundle's signer",
                ));
            }
            Ok(())
        }
        ("dsse", "0.0.1", Content::Dsse(env)) => {
            if str_at(spec, &["payloadHash", "value"])
                != Some(hex::encode(sha256(&env.payload)).as_str())
            {
                return Err(mismatch(
                    entry,
                    "the logged payload hash is not the envelope payload's",
                ));
            }
            let found = single_signature(spec, |s| {
                b64_at(s, &["signature"]).as_deref() == Some(env.signature.as_slice())
                    && signer_matches_pem(signer, str_at(s, &["verifier"]))
            });
            if !found {
                return Err(mismatch(
                    entry,
                    "the logged signature or verifier is not the envelope's",
                ));
            }
            Ok(())
        }
        ("dsse", "0.0.2", Content::Dsse(env)) => {
            let spec = spec
                .get("dsseV002")
                .ok_or_else(|| mismatch(entry, "body has no dsseV002"))?;
            if b64_at(spec, &["payloadHash", "digest"]) != Some(sha256(&env.payload).to_vec()) {
                return Err(mismatch(
                    entry,
                    "the logged payload hash is not the envelope payload's",
                ));
            }
            let found = single_signature(spec, |s| {
                b64_at(s, &["content"]).as_deref() == Some(env.signature.as_slice())
                    && signer_matches_v2(signer, s.get("verifier"))
            });
            if !found {
                return Err(mismatch(
                    entry,
                    "the logged signature or verifier is not the envelope's",
                ));
            }
            Ok(())
        }
        ("intoto", "0.0.2", Content::Dsse(env)) => {
            let content = spec
                .get("content")
                .ok_or_else(|| mismatch(entry, "body has no content"))?;
            if str_at(content, &["payloadHash", "value"])
                != Some(hex::encode(sha256(&env.payload)).as_str())
            {
                return Err(mismatch(
                    entry,
                    "the logged payload hash is not the envelope payload's",
                ));
            }
            // intoto 0.0.2 stores the envelope's base64 fields base64-encoded once more.
            let twice =
                |v: &Value, k: &str| b64_at(v, &[k]).and_then(|once| STANDARD.decode(once).ok());
            let envelope = content
                .get("envelope")
                .ok_or_else(|| mismatch(entry, "body has no envelope"))?;
            // Rekor's canonical intoto body drops the payload (its hash above stands for it);
            // a body that does carry one must carry this one.
            let payload_differs = envelope.get("payload").is_some()
                && twice(envelope, "payload").as_deref() != Some(env.payload.as_slice());
            if payload_differs
                || str_at(envelope, &["payloadType"]) != Some(env.payload_type.as_str())
            {
                return Err(mismatch(entry, "the logged envelope is not the bundle's"));
            }
            let found = single_signature(envelope, |s| {
                twice(s, "sig").as_deref() == Some(env.signature.as_slice())
                    && signer_matches_pem(signer, str_at(s, &["publicKey"]))
            });
            if !found {
                return Err(mismatch(
                    entry,
                    "the logged signature or key is not the envelope's",
                ));
            }
            Ok(())
        }
        _ => Err(mismatch(
            entry,
            "this entry kind cannot record this kind of bundle content",
        )),
    }
}

/// The entry records exactly one signature, and it satisfies `matches`.
fn single_signature(spec: &Value, matches: impl Fn(&Value) -> bool) -> bool {
    match spec.get("signatures").and_then(Value::as_array) {
        Some(signatures) => signatures.len() == 1 && matches(&signatures[0]),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sigstore::bundle::Envelope;

    /// An intoto v0.0.2 entry as Rekor canonicalizes it: no payload; signature and key are
    /// base64 of base64 text. `edit` changes the body before it is checked.
    fn intoto(env: &Envelope, pem: &str, edit: impl FnOnce(&mut Value)) -> TlogEntry {
        let twice = |b: &[u8]| STANDARD.encode(STANDARD.encode(b));
        let mut body = serde_json::json!({
            "apiVersion": "0.0.2",
            "kind": "intoto",
            "spec": {"content": {
                "envelope": {
                    "payloadType": env.payload_type,
                    "signatures": [{"publicKey": STANDARD.encode(pem), "sig": twice(&env.signature)}]
                },
                "hash": {"algorithm": "sha256", "value": "00"},
                "payloadHash": {"algorithm": "sha256", "value": hex::encode(sha256(&env.payload))}
            }}
        });
        edit(&mut body);
        let body = serde_json::to_vec(&body).unwrap();
        TlogEntry {
            log_index: 1,
            log_id: vec![0; 32],
            kind: "intoto".into(),
            version: "0.0.2".into(),
            integrated_time: 0,
            set: None,
            proof: None,
            body_b64: STANDARD.encode(&body),
            body,
        }
    }

    #[test]
    fn intoto_entries_without_the_payload_record_the_envelope() {
        let pem = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        let cert = [1u8, 2, 3];
        let env = Envelope {
            payload: br#"{"_type":"https://in-toto.io/Statement/v1"}"#.to_vec(),
            payload_type: "application/vnd.in-toto+json".into(),
            signature: vec![9; 8],
        };
        let content = Content::Dsse(env.clone());
        let signer = SignerDer::Certificate(&cert);
        let check = |entry: &TlogEntry| check(entry, &content, signer, &[0; 32]);
        check(&intoto(&env, pem, |_| {})).unwrap();
        // A body that does carry the payload must carry this one.
        let with_payload = |p: &[u8]| {
            let p = STANDARD.encode(STANDARD.encode(p));
            move |b: &mut Value| b["spec"]["content"]["envelope"]["payload"] = p.into()
        };
        check(&intoto(&env, pem, with_payload(&env.payload))).unwrap();
        let rejected = [
            intoto(&env, pem, with_payload(b"{}")),
            intoto(&env, pem, |b| {
                b["spec"]["content"]["payloadHash"]["value"] = hex::encode([0u8; 32]).into()
            }),
            intoto(&env, pem, |b| {
                b["spec"]["content"]["envelope"]["signatures"][0]["sig"] =
                    STANDARD.encode(STANDARD.encode([8u8; 8])).into()
            }),
            intoto(
                &env,
                "-----BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n",
                |_| {},
            ),
        ];
        for entry in &rejected {
            let e = check(entry).unwrap_err();
            assert!(e.to_string().contains("log entry"), "{e}");
        }
    }
}
