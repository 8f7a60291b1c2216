//! cosign attestations (`sha256-<hex>.att` tag, DSSE envelopes of in-toto statements), verified
//! here and turned into [`AttestationFact`]s for the policies.
//!
//! The `.att` manifest is fetched by the digest the image reference already resolved to (the tag
//! is never resolved a second time), in the image's repository, like the `.sig` manifest
//! ([`crate::cosign::attached_layers`]). Each layer of type `application/vnd.dsse.envelope.v1+json`
//! is one envelope, checked on its own: a signature over DSSE's pre-authentication encoding by a
//! trusted `image-signer` key (cosign writes an empty `keyid`, so every key is tried) or, for a
//! keyless layer (cosign v2 `attest` with a Fulcio certificate), by a trusted keyless identity:
//! the layer's certificate, chain and Rekor `intoto` entry are rebuilt as a Sigstore bundle and
//! checked against `--trusted-root` as [`crate::cosign`] does for keyless `.sig` layers; payload
//! type `application/vnd.in-toto+json`, an in-toto Statement v0.1 or v1 with a subject whose
//! digest is the image's, and the predicate type taken from the signed statement (the layer's
//! `predicateType` annotation is unsigned and only a hint). Envelopes that fail are never facts;
//! each becomes an [`AttestationProblem`] saying why, so the user and the policies can see it.

use crate::cosign::{
    Checks, KeylessMaterial, LayerDescriptor, Policy, attached_layers, keyless_material,
};
use crate::registry::{FailureKind, Registry, RegistryError};
use crate::verify::{AttestationFact, AttestationProblem};
use base64::Engine as _;
use oci_client::Reference;
use serde_json::Value as Json;

/// Media type of a cosign attestation layer.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// `_type` of an in-toto Statement v0.1 (cosign before v2.x writes these).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The unsigned layer annotation cosign writes with the predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
/// All attestation layers of one image together may declare at most this many bytes (each one is
/// also bounded by [`crate::registry::MAX_BLOB_BYTES`]).
pub const MAX_ATTESTATION_BYTES: i64 = 16 * 1024 * 1024;

/// One `.att` layer as fetched.
#[derive(Debug, Clone)]
pub struct AttestationLayer {
    /// The layer's media type.
    pub media_type: String,
    /// The unsigned `predicateType` annotation, if any.
    pub predicate_type_hint: Option<String>,
    /// The layer content: the DSSE envelope (empty for layers of another media type).
    pub envelope: Vec<u8>,
    /// Keyless attestations: the certificate, chain and Rekor bundle annotations.
    pub keyless: Option<KeylessMaterial>,
}

/// An attestation whose envelope verified and whose statement is about the image.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAttestation {
    /// Key-store names of the keys (or keyless identities) with a valid signature on the
    /// envelope, in key-store order.
    pub signers: Vec<String>,
    /// The statement's `predicateType`.
    pub predicate_type: String,
    /// The statement's `predicate` (`null` when it has none).
    pub predicate: Json,
    /// The envelope as stored (cosign's `verify-attestation` prints it).
    pub envelope: Json,
    /// What was checked.
    pub checks: Checks,
}

impl VerifiedAttestation {
    /// The fact for the policies (the first signer; every key that verified is as trusted).
    pub fn fact(&self) -> AttestationFact {
        AttestationFact {
            predicate_type: self.predicate_type.clone(),
            signer: self.signers.first().cloned().unwrap_or_default(),
            predicate: self.predicate.clone(),
        }
    }
}

/// What the `.att` of one digest holds, verified.
#[derive(Debug, Clone, Default)]
pub struct Attestations {
    /// Envelopes that verified.
    pub verified: Vec<VerifiedAttestation>,
    /// Envelopes (or layers) that did not, with why.
    pub problems: Vec<AttestationProblem>,
    /// The `.att` tag existed.
    pub attached: bool,
}

fn b64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    // DSSE allows standard or URL-safe base64; cosign writes standard.
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
        .ok()
}

/// Why an envelope is not a fact: `(problem, predicate type if known, why)`.
type Rejection = (&'static str, Option<String>, String);

/// Checks one envelope; keyless layers (with `keyless` material) against the policy's trusted
/// root and identities, others against its keys.
fn check_envelope(
    bytes: &[u8],
    digest: &str,
    keyless: Option<&KeylessMaterial>,
    policy: Policy<'_>,
) -> Result<VerifiedAttestation, Rejection> {
    let malformed = |why: String| ("malformed", None, why);
    let envelope: Json = serde_json::from_slice(bytes)
        .map_err(|e| malformed(format!("the envelope is not JSON ({e})")))?;
    let payload_type = envelope
        .get("payloadType")
        .and_then(Json::as_str)
        .ok_or_else(|| malformed("the envelope has no `payloadType`".into()))?;
    let payload = envelope
        .get("payload")
        .and_then(Json::as_str)
        .and_then(b64)
        .ok_or_else(|| malformed("the envelope's `payload` is missing or not base64".into()))?;
    let signatures: Vec<Vec<u8>> = envelope
        .get("signatures")
        .and_then(Json::as_array)
        .map(|sigs| {
            sigs.iter()
                .filter_map(|s| s.get("sig").and_then(Json::as_str).and_then(b64))
                .collect()
        })
        .unwrap_or_default();
    if signatures.is_empty() {
        return Err(malformed(
            "the envelope has no base64 signature in `signatures[].sig`".into(),
        ));
    }
    let (signers, checks) = match keyless {
        Some(material) => (
            keyless_signers(material, payload_type, &payload, signatures, digest, policy)?,
            Checks {
                keyless: true,
                tlog: !policy.ignore_tlog,
            },
        ),
        None => (
            key_signers(payload_type, &payload, &signatures, policy)?,
            Checks::KEY_LAYER,
        ),
    };
    let signed_by = signers.join(", ");
    if payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(malformed(format!(
            "(signed by {signed_by}) payload type `{payload_type}` is not `{IN_TOTO_PAYLOAD_TYPE}`"
        )));
    }
    let statement: Json = serde_json::from_slice(&payload).map_err(|e| {
        malformed(format!(
            "(signed by {signed_by}) the payload is not a JSON in-toto statement ({e})"
        ))
    })?;
    let kind = statement.get("_type").and_then(Json::as_str).unwrap_or("");
    if kind != STATEMENT_V01 && kind != STATEMENT_V1 {
        return Err(malformed(format!(
            "(signed by {signed_by}) statement `_type` is `{kind}`, not `{STATEMENT_V01}` or `{STATEMENT_V1}`"
        )));
    }
    let predicate_type = statement
        .get("predicateType")
        .and_then(Json::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            malformed(format!(
                "(signed by {signed_by}) the statement has no `predicateType`"
            ))
        })?
        .to_owned();
    let (algorithm, hex) = digest.split_once(':').unwrap_or(("", digest));
    let subjects = statement
        .get("subject")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let about_image = subjects.iter().any(|s| {
        s.get("digest")
            .and_then(|d| d.get(algorithm))
            .and_then(Json::as_str)
            .is_some_and(|d| d.eq_ignore_ascii_case(hex))
    });
    if !about_image {
        let named: Vec<String> = subjects
            .iter()
            .filter_map(|s| s.get("digest").and_then(Json::as_object))
            .flat_map(|d| {
                d.iter()
                    .map(|(a, v)| format!("{a}:{}", v.as_str().unwrap_or("?")))
                    .collect::<Vec<_>>()
            })
            .collect();
        return Err((
            "subject-mismatch",
            Some(predicate_type),
            format!(
                "(signed by {signed_by}) the statement's subject names {}, not this image's digest `{digest}` (an attestation copied from another image)",
                if named.is_empty() {
                    "no digest".to_owned()
                } else {
                    named.join(", ")
                }
            ),
        ));
    }
    Ok(VerifiedAttestation {
        signers,
        predicate_type,
        predicate: statement.get("predicate").cloned().unwrap_or(Json::Null),
        envelope,
        checks,
    })
}

/// The key-store names of the keys whose signature over the envelope's PAE is valid.
fn key_signers(
    payload_type: &str,
    payload: &[u8],
    signatures: &[Vec<u8>],
    policy: Policy<'_>,
) -> Result<Vec<String>, Rejection> {
    let signed = crate::attest::pae(payload_type, payload);
    let signers: Vec<String> = policy
        .keys
        .iter()
        .filter(|(_, key)| signatures.iter().any(|sig| key.verify(&signed, sig)))
        .map(|(name, _)| name.clone())
        .collect();
    // Only a payload whose signature verified is read (its claims are untrusted until then);
    // the predicate type of a rejected envelope is therefore left to the layer hint.
    if signers.is_empty() {
        let names: Vec<&str> = policy.keys.iter().map(|(n, _)| n.as_str()).collect();
        return Err((
            "bad-signature",
            None,
            format!(
                "the DSSE signature is not valid for any trusted image-signer key ({})",
                names.join(", ")
            ),
        ));
    }
    Ok(signers)
}

/// The keyless identities that signed a keyless envelope (one signature, as cosign writes),
/// verified as a Sigstore bundle: certificate chain and identity, SCT, the Rekor `intoto` entry
/// and its SET. The bundle is checked for the subject the statement claims, so that an
/// attestation copied from another image is reported as such below, once its signer is known.
fn keyless_signers(
    material: &KeylessMaterial,
    payload_type: &str,
    payload: &[u8],
    mut signatures: Vec<Vec<u8>>,
    digest: &str,
    policy: Policy<'_>,
) -> Result<Vec<String>, Rejection> {
    use crate::sigstore::bundle::{Content, Envelope};
    if signatures.len() != 1 {
        return Err((
            "malformed",
            None,
            format!(
                "a keyless envelope carries {} signatures; cosign writes exactly one",
                signatures.len()
            ),
        ));
    }
    let image_hex = digest.strip_prefix("sha256:").unwrap_or_default();
    let claimed = serde_json::from_slice::<Json>(payload)
        .ok()
        .and_then(|statement| {
            let subjects = statement.get("subject")?.as_array()?.clone();
            let hexes: Vec<String> = subjects
                .iter()
                .filter_map(|s| s.pointer("/digest/sha256")?.as_str().map(str::to_owned))
                .collect();
            hexes
                .iter()
                .find(|h| h.eq_ignore_ascii_case(image_hex))
                .or(hexes.first())
                .cloned()
        })
        .unwrap_or_else(|| image_hex.to_owned());
    let artifact = hex::decode(&claimed)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(crate::sigstore::Artifact::Digest)
        .ok_or_else(|| {
            (
                "malformed",
                None,
                format!("a keyless attestation must name a sha256 subject; `{claimed}` is not one"),
            )
        })?;
    let content = Content::Dsse(Envelope {
        payload: payload.to_vec(),
        payload_type: payload_type.to_owned(),
        signature: signatures.remove(0),
    });
    crate::cosign::keyless_signers(material, content, &artifact, policy)
        .map_err(|why| ("bad-signature", None, format!("keyless: {why}")))
}

/// Checks fetched `.att` layers for `digest` against the policy's keys and keyless identities.
/// `tag` names the `.att` manifest in messages.
pub fn check_layers(
    layers: &[AttestationLayer],
    digest: &str,
    policy: Policy<'_>,
    tag: &str,
) -> (Vec<VerifiedAttestation>, Vec<AttestationProblem>) {
    let mut verified = Vec::new();
    let mut problems = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let n = i + 1;
        if layer.media_type != DSSE_MEDIA_TYPE {
            problems.push(AttestationProblem {
                predicate_type: layer.predicate_type_hint.clone(),
                problem: "malformed",
                message: format!(
                    "{tag} layer {n}: media type `{}` is not a DSSE envelope (`{DSSE_MEDIA_TYPE}`)",
                    layer.media_type
                ),
            });
            continue;
        }
        match check_envelope(&layer.envelope, digest, layer.keyless.as_ref(), policy) {
            Ok(v) => verified.push(v),
            Err((problem, predicate_type, why)) => problems.push(AttestationProblem {
                predicate_type: predicate_type.or_else(|| layer.predicate_type_hint.clone()),
                problem,
                message: format!("{tag} layer {n}: {why}"),
            }),
        }
    }
    (verified, problems)
}

/// Fetches the `.att` manifest of `digest` in `image`'s repository (by digest, never by the
/// image's tag) and its DSSE layers, and verifies them. A missing `.att` is no attestations; a
/// registry failure is an error (the caller must not read it as "no attestation").
pub async fn fetch_attestations(
    registry: &Registry,
    image: &Reference,
    digest: &str,
    policy: Policy<'_>,
) -> Result<Attestations, RegistryError> {
    let Some((att_ref, descriptors)) = attached_layers(registry, image, digest, "att").await?
    else {
        return Ok(Attestations::default());
    };
    let declared: i64 = descriptors
        .iter()
        .filter(|l| l.media_type == DSSE_MEDIA_TYPE)
        .map(|l| l.size.max(0))
        .fold(0i64, i64::saturating_add);
    if declared > MAX_ATTESTATION_BYTES {
        return Err(RegistryError {
            kind: FailureKind::Malformed,
            what: format!("attestation manifest {}", att_ref.whole()),
            detail: format!(
                "its DSSE layers declare {declared} bytes together; the limit is {MAX_ATTESTATION_BYTES} bytes"
            ),
        });
    }
    let mut layers = Vec::with_capacity(descriptors.len());
    for descriptor in &descriptors {
        layers.push(fetch_layer(registry, &att_ref, descriptor).await?);
    }
    let tag = att_ref.tag().unwrap_or("").to_owned();
    let (verified, problems) = check_layers(&layers, digest, policy, &tag);
    Ok(Attestations {
        verified,
        problems,
        attached: true,
    })
}

/// Every attestation of `digest`: the `.att` layers and, with a trusted root (which bundles
/// need), the cosign v3 attestation bundles attached as referrers. A registry failure on either
/// is an error (the caller must not read it as "no attestation").
pub async fn fetch_all(
    registry: &Registry,
    image: &Reference,
    digest: &str,
    policy: Policy<'_>,
) -> Result<Attestations, RegistryError> {
    let bundles = match policy.trusted_root {
        Some(_) => crate::referrers::fetch_bundles(registry, image, digest).await?,
        None => Vec::new(),
    };
    fetch_with_bundles(registry, image, digest, policy, &bundles).await
}

/// [`fetch_all`] with the referrer bundles already fetched (`check` has them from verifying
/// the signatures, and does not fetch them twice).
pub async fn fetch_with_bundles(
    registry: &Registry,
    image: &Reference,
    digest: &str,
    policy: Policy<'_>,
    bundles: &[(String, Vec<u8>)],
) -> Result<Attestations, RegistryError> {
    let mut found = fetch_attestations(registry, image, digest, policy).await?;
    let more = crate::referrers::check_bundle_attestations(bundles, digest, policy);
    // Signature bundles are among the referrers too; only attestations count as attached.
    found.attached |= !more.verified.is_empty() || !more.problems.is_empty();
    found.verified.extend(more.verified);
    found.problems.extend(more.problems);
    Ok(found)
}

/// cosign's `--type` aliases, resolved to predicate-type URIs; anything else is taken as a URI.
pub fn predicate_type_for(name: &str) -> &str {
    match name {
        "custom" => "https://cosign.sigstore.dev/attestation/v1",
        "slsaprovenance" | "slsaprovenance02" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1" => "https://slsa.dev/provenance/v1",
        "spdx" | "spdxjson" => "https://spdx.dev/Document",
        "cyclonedx" => "https://cyclonedx.org/bom",
        "link" => "https://in-toto.io/Link/v1",
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "openvex" => "https://openvex.dev/ns",
        other => other,
    }
}

/// The result of `verify-attestation` for one image.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// At least one attestation of the wanted type verified.
    Verified {
        /// The resolved digest.
        digest: String,
        /// The verified attestations of the wanted type.
        attestations: Vec<VerifiedAttestation>,
    },
    /// The image has no `.att` at all.
    NoAttestations {
        /// The resolved digest.
        digest: String,
    },
    /// Attestations exist but none of the wanted type verified.
    NoMatching {
        /// The resolved digest.
        digest: String,
        /// Why each one does not count.
        reasons: Vec<String>,
    },
    /// The image (repository, tag or digest) does not exist.
    NotFound(RegistryError),
    /// The image could not be resolved, or the attestations could not be fetched.
    Failed(RegistryError),
}

/// Resolves `reference` to a digest once, then fetches and verifies its attestations by that
/// digest ([`fetch_all`]), keeping those of `predicate_type`.
pub async fn verify_image(
    registry: &Registry,
    reference: &str,
    policy: Policy<'_>,
    predicate_type: &str,
) -> Outcome {
    let parsed = match crate::registry::parse_reference(reference) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(e),
    };
    let digest = match registry.manifest(&parsed).await {
        Ok((_, digest)) => digest,
        Err(e) if e.kind == FailureKind::NotFound => return Outcome::NotFound(e),
        Err(e) => return Outcome::Failed(e),
    };
    let found = match fetch_all(registry, &parsed, &digest, policy).await {
        Ok(found) => found,
        Err(e) => return Outcome::Failed(e),
    };
    if !found.attached {
        return Outcome::NoAttestations { digest };
    }
    let (wanted, other): (Vec<_>, Vec<_>) = found
        .verified
        .into_iter()
        .partition(|a| a.predicate_type == predicate_type);
    if wanted.is_empty() {
        let mut reasons: Vec<String> = found.problems.into_iter().map(|p| p.message).collect();
        reasons.extend(other.iter().map(|a| {
            format!(
                "an attestation of type `{}` verified, but `{predicate_type}` was asked for",
                a.predicate_type
            )
        }));
        return Outcome::NoMatching { digest, reasons };
    }
    Outcome::Verified {
        digest,
        attestations: wanted,
    }
}

async fn fetch_layer(
    registry: &Registry,
    att_ref: &Reference,
    descriptor: &LayerDescriptor,
) -> Result<AttestationLayer, RegistryError> {
    let envelope = if descriptor.media_type == DSSE_MEDIA_TYPE {
        registry
            .blob(att_ref, &descriptor.digest, descriptor.size)
            .await?
    } else {
        Vec::new()
    };
    Ok(AttestationLayer {
        media_type: descriptor.media_type.clone(),
        predicate_type_hint: descriptor
            .annotations
            .get(PREDICATE_TYPE_ANNOTATION)
            .cloned(),
        envelope,
        keyless: keyless_material(&descriptor.annotations),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::keystore::PublicKey;
    use p256::ecdsa::signature::Signer as _;

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn key(seed: u8) -> (p256::ecdsa::SigningKey, PublicKey) {
        let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        let pk = PublicKey::P256(*sk.verifying_key());
        (sk, pk)
    }

    fn statement(kind: &str, hex: &str) -> Json {
        serde_json::json!({
            "_type": kind,
            "subject": [{"name": "r/app", "digest": {"sha256": hex}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"runDetails": {"builder": {"id": "https://builder.example"}}}
        })
    }

    fn envelope(sk: &p256::ecdsa::SigningKey, payload_type: &str, statement: &Json) -> Vec<u8> {
        let body = serde_json::to_vec(statement).unwrap();
        let sig: p256::ecdsa::Signature = sk.sign(&crate::attest::pae(payload_type, &body));
        let b = |x: &[u8]| base64::engine::general_purpose::STANDARD.encode(x);
        serde_json::to_vec(&serde_json::json!({
            "payloadType": payload_type,
            "payload": b(&body),
            "signatures": [{"keyid": "", "sig": b(&sig.to_der().to_bytes())}]
        }))
        .unwrap()
    }

    fn layer(envelope: Vec<u8>) -> AttestationLayer {
        AttestationLayer {
            media_type: DSSE_MEDIA_TYPE.into(),
            predicate_type_hint: Some("hint".into()),
            envelope,
            keyless: None,
        }
    }

    #[test]
    fn statements_v01_and_v1_about_the_image_verify() {
        let (sk, pk) = key(1);
        let keys = vec![("release".to_owned(), pk)];
        let hex = DIGEST.split_once(':').unwrap().1;
        for kind in [STATEMENT_V01, STATEMENT_V1] {
            let (ok, problems) = check_layers(
                &[layer(envelope(
                    &sk,
                    IN_TOTO_PAYLOAD_TYPE,
                    &statement(kind, hex),
                ))],
                DIGEST,
                Policy::keys(&keys, &[]),
                "t.att",
            );
            assert!(problems.is_empty(), "{problems:?}");
            let fact = ok[0].fact();
            assert_eq!(fact.signer, "release");
            assert_eq!(fact.predicate_type, "https://slsa.dev/provenance/v1");
            assert_eq!(
                fact.predicate["runDetails"]["builder"]["id"],
                "https://builder.example"
            );
        }
    }

    #[test]
    fn untrusted_key_other_subject_and_wrong_types_are_problems() {
        let (sk, pk) = key(1);
        let (other, _) = key(2);
        let keys = vec![("release".to_owned(), pk)];
        let hex = DIGEST.split_once(':').unwrap().1;
        let zeros = "0".repeat(64);
        let cases: Vec<(Vec<u8>, &str, &str)> = vec![
            (
                envelope(&other, IN_TOTO_PAYLOAD_TYPE, &statement(STATEMENT_V1, hex)),
                "bad-signature",
                "not valid for any trusted image-signer key (release)",
            ),
            (
                envelope(&sk, IN_TOTO_PAYLOAD_TYPE, &statement(STATEMENT_V1, &zeros)),
                "subject-mismatch",
                "copied from another image",
            ),
            (
                envelope(&sk, "text/plain", &statement(STATEMENT_V1, hex)),
                "malformed",
                "is not `application/vnd.in-toto+json`",
            ),
            (
                envelope(&sk, IN_TOTO_PAYLOAD_TYPE, &statement("x", hex)),
                "malformed",
                "statement `_type` is `x`",
            ),
            (b"{not json".to_vec(), "malformed", "not JSON"),
        ];
        for (bytes, problem, text) in cases {
            let (ok, problems) =
                check_layers(&[layer(bytes)], DIGEST, Policy::keys(&keys, &[]), "t.att");
            assert!(ok.is_empty());
            assert_eq!(problems[0].problem, problem, "{problems:?}");
            assert!(problems[0].message.contains(text), "{problems:?}");
            assert!(problems[0].message.starts_with("t.att layer 1: "));
        }
    }

    #[test]
    fn a_tampered_payload_does_not_verify_and_its_claims_are_not_read() {
        let (sk, pk) = key(1);
        let keys = vec![("release".to_owned(), pk)];
        let hex = DIGEST.split_once(':').unwrap().1;
        let mut env: Json = serde_json::from_slice(&envelope(
            &sk,
            IN_TOTO_PAYLOAD_TYPE,
            &statement(STATEMENT_V1, hex),
        ))
        .unwrap();
        let mut forged = statement(STATEMENT_V1, hex);
        forged["predicate"]["runDetails"]["builder"]["id"] = "https://evil.example".into();
        env["payload"] = base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(&forged).unwrap())
            .into();
        let (ok, problems) = check_layers(
            &[layer(serde_json::to_vec(&env).unwrap())],
            DIGEST,
            Policy::keys(&keys, &[]),
            "t.att",
        );
        assert!(ok.is_empty());
        assert_eq!(problems[0].problem, "bad-signature");
        assert_eq!(problems[0].predicate_type.as_deref(), Some("hint"));
    }
}
