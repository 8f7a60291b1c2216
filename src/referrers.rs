//! cosign v3 signatures: Sigstore bundles attached to an image as OCI 1.1 referrers.
//!
//! cosign v3 stores a signature as an artifact manifest (artifact type and layer media type
//! `application/vnd.dev.sigstore.bundle.v0.3+json`) whose `subject` is the image. They are
//! listed through the OCI 1.1 referrers API, by the digest resolved once; registries without it
//! (Debian's distribution 2.8 among them) get the referrers tag schema instead: an image index
//! at tag `sha256-<hex>` listing the referrers, read when the API lists nothing (a registry
//! may keep both), where a failure other than "not found" is an error. Each bundle is verified by [`crate::sigstore`] against the
//! trusted root: a key-signed bundle by a key-store key, a keyless one by a key-store identity.
//! An image signature is a DSSE in-toto statement of predicate type
//! `https://sigstore.dev/cosign/sign/v1` naming the image digest as subject, or a message
//! signature over the digest; attestation bundles of other predicate types are not signatures.

use crate::cosign::{Checks, Policy, VerifiedSignature};
use crate::registry::{FailureKind, Registry, RegistryError};
use crate::sigstore::{self, Artifact, Expected, VerifiedSigner};
use oci_client::Reference;
use serde::Deserialize;

/// Artifact type and layer media type of a Sigstore bundle referrer.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The predicate type of cosign v3's image-signature statements.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// Referrers beyond this many are refused (a hostile registry bound).
pub const MAX_REFERRERS: usize = 64;

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(rename = "artifactType", default)]
    artifact_type: String,
    digest: String,
    #[serde(default)]
    size: i64,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(rename = "artifactType", default)]
    artifact_type: String,
    #[serde(default)]
    layers: Vec<Descriptor>,
    subject: Option<Descriptor>,
}

/// The Sigstore bundles attached to `digest` through the referrers tag schema, as `(referrer
/// manifest digest, bundle bytes)`. No tag means no bundles; every other failure is an error.
pub async fn fetch_bundles(
    registry: &Registry,
    image: &Reference,
    digest: &str,
) -> Result<Vec<(String, Vec<u8>)>, RegistryError> {
    let malformed = |what: String, detail: String| RegistryError {
        kind: FailureKind::Malformed,
        what,
        detail,
    };
    let Some(tag) =
        crate::cosign::attached_tag(digest, "").map(|t| t.trim_end_matches('.').to_owned())
    else {
        return Err(malformed(
            format!("manifest {}", image.whole()),
            format!("the registry reported an unusable digest `{digest}`"),
        ));
    };
    let subject = Reference::with_digest(
        image.registry().to_owned(),
        image.repository().to_owned(),
        digest.to_owned(),
    );
    let mut listed = registry
        .referrers(&subject, BUNDLE_MEDIA_TYPE, MAX_REFERRERS)
        .await?
        .unwrap_or_default();
    if listed.is_empty() {
        let index_ref = Reference::with_tag(
            image.registry().to_owned(),
            image.repository().to_owned(),
            tag,
        );
        let index = match registry.manifest(&index_ref).await {
            Ok((bytes, _)) => bytes,
            Err(e) if e.kind == FailureKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let what = format!("referrers index {}", index_ref.whole());
        let index: Index = serde_json::from_slice(&index)
            .map_err(|e| malformed(what.clone(), format!("not an image index: {e}")))?;
        if index.manifests.len() > MAX_REFERRERS {
            return Err(malformed(
                what,
                format!(
                    "{} referrers; the limit is {MAX_REFERRERS}",
                    index.manifests.len()
                ),
            ));
        }
        listed = index
            .manifests
            .into_iter()
            .map(|m| (m.digest, m.artifact_type))
            .collect();
    }
    let mut bundles = Vec::new();
    for (entry_digest, _) in listed
        .iter()
        .filter(|(_, artifact_type)| artifact_type == BUNDLE_MEDIA_TYPE)
    {
        let manifest_ref = Reference::with_digest(
            image.registry().to_owned(),
            image.repository().to_owned(),
            entry_digest.clone(),
        );
        let (bytes, _) = registry.manifest(&manifest_ref).await?;
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            malformed(
                format!("referrer manifest {}", manifest_ref.whole()),
                format!("not an image manifest: {e}"),
            )
        })?;
        // The index is only a listing; the manifest itself must name this image as subject.
        if manifest.artifact_type != BUNDLE_MEDIA_TYPE
            || manifest.subject.as_ref().map(|s| s.digest.as_str()) != Some(digest)
        {
            continue;
        }
        for layer in manifest
            .layers
            .iter()
            .filter(|l| l.media_type == BUNDLE_MEDIA_TYPE)
        {
            let bundle = registry
                .blob(&manifest_ref, &layer.digest, layer.size)
                .await?;
            bundles.push((entry_digest.clone(), bundle));
        }
    }
    Ok(bundles)
}

/// Verifies fetched bundles for image `digest`. Returns the verified signatures and, for every
/// bundle that did not verify, why.
pub fn check_bundles(
    bundles: &[(String, Vec<u8>)],
    digest: &str,
    policy: Policy<'_>,
) -> (Vec<VerifiedSignature>, Vec<String>) {
    let mut verified = Vec::new();
    let mut reasons = Vec::new();
    let Some(image_sha256) = sha256_of(digest) else {
        reasons.push(format!(
            "Sigstore bundles sign sha256 digests; the image digest is `{digest}`"
        ));
        return (verified, reasons);
    };
    for (referrer, bundle) in bundles {
        let Some(root) = policy.trusted_root else {
            reasons.push(format!(
                "bundle {referrer}: a Sigstore bundle is attached, but no --trusted-root was \
                 given to check its certificate and transparency-log entry"
            ));
            continue;
        };
        let trial = try_trusted(bundle, root, image_sha256, policy, |v| {
            match v
                .statement
                .as_ref()
                .map(|s| s.get("predicateType").and_then(|p| p.as_str()))
            {
                Some(predicate) if predicate != Some(COSIGN_SIGN_PREDICATE) => Err(format!(
                    "an attestation (predicate type {}), not a signature",
                    predicate.unwrap_or("none")
                )),
                _ => Ok(()),
            }
        });
        let statement = trial
            .verified
            .as_ref()
            .map(|v| describe(&v.signer, v.statement.clone()));
        let checks = trial.checks(policy);
        let (signers, failures) = (trial.signers, trial.failures);
        match statement {
            Some(payload) => verified.push(VerifiedSignature {
                signers,
                payload,
                checks,
            }),
            None if failures.is_empty() => reasons.push(format!(
                "bundle {referrer}: no image-signer key or keyless identity is trusted"
            )),
            None => reasons.push(format!(
                "bundle {referrer}: not verified ({})",
                failures.join("; ")
            )),
        }
    }
    (verified, reasons)
}

/// What `tollgate verify` prints for a verified bundle: the statement, and who signed.
fn describe(signer: &VerifiedSigner, statement: Option<serde_json::Value>) -> serde_json::Value {
    let signer = match signer {
        VerifiedSigner::Identity { identity, issuer } => {
            serde_json::json!({"identity": identity, "issuer": issuer})
        }
        VerifiedSigner::Key { algorithm } => serde_json::json!({"key": algorithm}),
    };
    serde_json::json!({"bundle": {"signer": signer, "statement": statement}})
}

/// Bundle attestations (cosign v3 `attest`): verified DSSE statements of another predicate type
/// than cosign's signature, about image `digest`, attached as referrers. Bundles that no trusted
/// key or identity verifies are problems, labelled with the predicate type their (unverified)
/// statement claims; signature bundles are left to [`check_bundles`].
pub fn check_bundle_attestations(
    bundles: &[(String, Vec<u8>)],
    digest: &str,
    policy: Policy<'_>,
) -> crate::attestation::Attestations {
    use crate::attestation::{Attestations, VerifiedAttestation};
    use crate::verify::AttestationProblem;
    let mut found = Attestations {
        attached: !bundles.is_empty(),
        ..Attestations::default()
    };
    let Some(image_sha256) = sha256_of(digest) else {
        return found;
    };
    for (referrer, bundle) in bundles {
        // The predicate type the statement claims, before anything is verified: only a label.
        let claimed = sigstore::bundle::parse(bundle)
            .ok()
            .and_then(|b| match b.content {
                sigstore::bundle::Content::Dsse(envelope) => {
                    serde_json::from_slice::<serde_json::Value>(&envelope.payload)
                        .ok()?
                        .get("predicateType")?
                        .as_str()
                        .map(str::to_owned)
                }
                sigstore::bundle::Content::Message { .. } => None,
            });
        if claimed
            .as_deref()
            .is_none_or(|p| p == COSIGN_SIGN_PREDICATE)
        {
            continue;
        }
        let Some(root) = policy.trusted_root else {
            continue;
        };
        let trial = try_trusted(bundle, root, image_sha256, policy, |_| Ok(()));
        let checks = trial.checks(policy);
        let statement = trial.verified.and_then(|v| v.statement);
        let (signers, failures) = (trial.signers, trial.failures);
        match statement {
            Some(statement) => found.verified.push(VerifiedAttestation {
                signers,
                predicate_type: statement["predicateType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                predicate: statement
                    .get("predicate")
                    .cloned()
                    .unwrap_or(serde_json::Value::Null),
                envelope: statement,
                checks,
            }),
            None => found.problems.push(AttestationProblem {
                predicate_type: claimed,
                problem: "bad-signature",
                message: format!(
                    "bundle referrer {referrer}: not verified ({})",
                    failures.join("; ")
                ),
            }),
        }
    }
    found
}

/// One bundle tried with every trusted key and keyless identity.
struct Trial {
    /// The names that verified it (and that `accept` took).
    signers: Vec<String>,
    /// The result of the last of them.
    verified: Option<sigstore::Verified>,
    /// Why each other name did not.
    failures: Vec<String>,
}

impl Trial {
    /// What verifying the bundle checked.
    fn checks(&self, policy: Policy<'_>) -> Checks {
        Checks {
            keyless: self
                .verified
                .as_ref()
                .is_some_and(|v| matches!(v.signer, VerifiedSigner::Identity { .. })),
            tlog: !policy.ignore_tlog,
        }
    }
}

/// Verifies `bundle` for the image with each trusted key and keyless identity; a verification
/// counts only when `accept` takes it (its error is the reason it does not).
fn try_trusted(
    bundle: &[u8],
    root: &sigstore::TrustedRoot,
    image_sha256: [u8; 32],
    policy: Policy<'_>,
    accept: impl Fn(&sigstore::Verified) -> Result<(), String>,
) -> Trial {
    let mut trial = Trial {
        signers: Vec::new(),
        verified: None,
        failures: Vec::new(),
    };
    let parsed = match sigstore::bundle::parse(bundle) {
        Ok(parsed) => parsed,
        Err(e) => {
            trial.failures.push(e.to_string());
            return trial;
        }
    };
    let options = options(policy);
    for (name, expected) in candidates(policy) {
        let verified = sigstore::verify_bundle(
            &parsed,
            root,
            &Artifact::Digest(image_sha256),
            &expected,
            &options,
        )
        .map_err(|e| e.to_string())
        .and_then(|v| accept(&v).map(|()| v));
        match verified {
            Ok(v) => {
                trial.signers.push(name);
                trial.verified = Some(v);
            }
            Err(e) => trial.failures.push(format!("{name}: {e}")),
        }
    }
    trial
}

/// A `sha256:<hex>` digest as bytes.
fn sha256_of(digest: &str) -> Option<[u8; 32]> {
    digest
        .strip_prefix("sha256:")
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
}

/// Who may have signed a bundle: the key-store keys, then the keyless identities.
fn candidates(policy: Policy<'_>) -> Vec<(String, Expected)> {
    let mut out: Vec<(String, Expected)> = policy
        .keys
        .iter()
        .filter_map(|(name, key)| {
            let spki_der = crate::signing::spki_der(key).ok()?;
            Some((
                name.clone(),
                Expected::Key {
                    key: key.clone(),
                    spki_der,
                },
            ))
        })
        .collect();
    out.extend(policy.identities.iter().cloned());
    out
}

fn options(policy: Policy<'_>) -> sigstore::Options {
    sigstore::Options {
        skip_tlog: policy.ignore_tlog,
        now: jiff::Timestamp::now(),
    }
}
