//! Legacy cosign signatures (`sha256-<hex>.sig` tag, simple-signing payload), verified here.
//!
//! The image reference is resolved to a digest exactly once; everything after that is fetched
//! by that digest, so a tag that moves mid-run cannot let another image through. Each layer of
//! the `.sig` manifest is checked on its own: the `dev.cosignproject.cosign/signature`
//! annotation must be a valid signature over the layer bytes by a trusted `image-signer` key,
//! and only then is the payload read: `critical.type` must be cosign's, and
//! `critical.image.docker-manifest-digest` must be the resolved digest (a signature copied from
//! another image is rejected). Signers are distinct key names, never layers. Every outcome is
//! one [`Outcome`] variant, and the reasons layers were rejected are kept.

use crate::keystore::{KeyStore, PublicKey};
use crate::manifest::Image;
use crate::registry::{FailureKind, Registry, RegistryError, RegistryOptions, parse_reference};
use crate::verify::{ImageFacts, ImageVerifier};
use base64::Engine as _;
use oci_client::Reference;
use serde::Deserialize;

/// Media type of a simple-signing layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation that holds the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The layer annotation with a keyless signature's Fulcio certificate (PEM).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The layer annotation with the certificate's chain (PEM).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// The layer annotation with the Rekor entry and its signed entry timestamp (JSON).
pub const REKOR_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// `critical.type` of a cosign image signature.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

/// Layers beyond this many in one `.sig` manifest are refused (a hostile registry bound).
pub const MAX_SIGNATURE_LAYERS: usize = 64;

/// One `.sig` layer as fetched.
#[derive(Debug, Clone)]
pub struct SignatureLayer {
    /// The layer's media type.
    pub media_type: String,
    /// The layer content: the signed payload.
    pub payload: Vec<u8>,
    /// The signature annotation (base64), if present.
    pub signature: Option<String>,
    /// Keyless signatures: the `dev.sigstore.cosign/certificate`, `/chain` and `/bundle` (Rekor
    /// SET) annotations.
    pub keyless: Option<KeylessMaterial>,
}

/// The layer annotations of a keyless cosign `.sig` signature.
#[derive(Debug, Clone, Default)]
pub struct KeylessMaterial {
    /// The Fulcio leaf certificate, PEM.
    pub certificate: String,
    /// Its chain, PEM (cosign includes the root).
    pub chain: Option<String>,
    /// The Rekor bundle: `{SignedEntryTimestamp, Payload: {body, integratedTime, logIndex, logID}}`.
    pub rekor_bundle: Option<String>,
}

/// The keyless annotations of a `.sig` or `.att` layer, when it has a certificate.
pub(crate) fn keyless_material(
    annotations: &std::collections::BTreeMap<String, String>,
) -> Option<KeylessMaterial> {
    Some(KeylessMaterial {
        certificate: annotations.get(CERTIFICATE_ANNOTATION)?.clone(),
        chain: annotations.get(CHAIN_ANNOTATION).cloned(),
        rekor_bundle: annotations.get(REKOR_BUNDLE_ANNOTATION).cloned(),
    })
}

/// How a signature or attestation was verified, so that `verify` and `verify-attestation` state
/// the checks that were really made (as cosign lists them), no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checks {
    /// Through a Fulcio certificate chained to the trusted root (else a trusted key).
    pub keyless: bool,
    /// Its transparency-log entry was verified (SET or inclusion proof).
    pub tlog: bool,
}

impl Checks {
    /// A key-signed `.sig` or `.att` layer: the key only (its Rekor annotation is not read).
    pub const KEY_LAYER: Checks = Checks {
        keyless: false,
        tlog: false,
    };

    /// cosign's "checks performed" lines for a set of verified items.
    pub fn lines(all: impl IntoIterator<Item = Checks>) -> Vec<&'static str> {
        let all: Vec<Checks> = all.into_iter().collect();
        let mut lines = vec!["The cosign claims were validated"];
        if all.iter().any(|c| c.tlog) {
            lines.push("Existence of the claims in the transparency log was verified offline");
        }
        if all.iter().any(|c| c.keyless) {
            lines.push(
                "The code-signing certificate was verified using trusted certificate authority certificates",
            );
        }
        if all.iter().any(|c| !c.keyless) {
            lines.push("The signatures were verified against the specified public key");
        }
        if all.iter().any(|c| !c.tlog) {
            lines.push(
                "The transparency log was not checked (key-signed .sig/.att layers, or --insecure-ignore-tlog)",
            );
        }
        lines
    }
}

/// A signature that verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedSignature {
    /// The key-store names of the keys that verified it (one, unless a key is listed twice).
    pub signers: Vec<String>,
    /// The decoded simple-signing payload.
    pub payload: serde_json::Value,
    /// What was checked.
    pub checks: Checks,
}

/// The result of verifying one image.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// At least one signature verified.
    Verified {
        /// The resolved digest.
        digest: String,
        /// Every verified layer.
        signatures: Vec<VerifiedSignature>,
        /// Distinct signer names, in key-store order.
        signers: Vec<String>,
    },
    /// The image has no cosign signature at all.
    NoSignatures {
        /// The resolved digest.
        digest: String,
    },
    /// Signatures exist but none verified.
    NoMatching {
        /// The resolved digest.
        digest: String,
        /// Why each layer was rejected.
        reasons: Vec<String>,
    },
    /// The image (repository, tag or digest) does not exist.
    NotFound(RegistryError),
    /// The image could not be resolved, or the signatures could not be fetched.
    Failed(RegistryError),
}

/// What to verify against.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// `(name, key)` of the trusted image-signer keys.
    pub keys: &'a [(String, PublicKey)],
    /// Annotations the payload's `optional` must carry (`-a key=value`).
    pub annotations: &'a [(String, String)],
    /// `(name, identity)` of the trusted keyless signers (Sigstore bundles only).
    pub identities: &'a [(String, crate::sigstore::Expected)],
    /// The Sigstore trusted root that Sigstore bundles are checked against (`--trusted-root`).
    pub trusted_root: Option<&'a crate::sigstore::TrustedRoot>,
    /// Skip the transparency log for Sigstore bundles (`--insecure-ignore-tlog`).
    pub ignore_tlog: bool,
}

impl<'a> Policy<'a> {
    /// A policy of keys only (legacy `.sig` signatures).
    pub fn keys(keys: &'a [(String, PublicKey)], annotations: &'a [(String, String)]) -> Self {
        Policy {
            keys,
            annotations,
            identities: &[],
            trusted_root: None,
            ignore_tlog: false,
        }
    }
}

/// The `.sig` tag for a digest: `sha256:<hex>` → `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> Option<String> {
    attached_tag(digest, "sig")
}

/// cosign's tag for something attached to a digest: `sha256:<hex>` → `sha256-<hex>.<suffix>`
/// (`sig` for signatures, `att` for attestations).
pub fn attached_tag(digest: &str, suffix: &str) -> Option<String> {
    let (algorithm, hex) = digest.split_once(':')?;
    if algorithm.is_empty() || hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(format!("{algorithm}-{hex}.{suffix}"))
}

#[derive(Deserialize)]
struct ManifestLayers {
    #[serde(default)]
    layers: Vec<LayerDescriptor>,
}

/// One layer descriptor of an attached (`.sig` / `.att`) manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct LayerDescriptor {
    /// The layer's media type.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// The blob digest.
    pub digest: String,
    /// The size the manifest declares (the blob fetch refuses more than the limit).
    pub size: i64,
    /// The layer annotations.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// The manifest cosign attaches to `digest` under `sha256-<hex>.<suffix>` in the image's
/// repository, fetched by tag in that repository: its reference (blobs are fetched from it) and
/// its layer descriptors, at most [`MAX_SIGNATURE_LAYERS`]. `Ok(None)` when nothing is attached
/// (the tag does not exist); every other failure is an error.
pub async fn attached_layers(
    registry: &Registry,
    image: &Reference,
    digest: &str,
    suffix: &str,
) -> Result<Option<(Reference, Vec<LayerDescriptor>)>, RegistryError> {
    let Some(tag) = attached_tag(digest, suffix) else {
        return Err(RegistryError {
            kind: FailureKind::Malformed,
            what: format!("manifest {}", image.whole()),
            detail: format!("the registry reported an unusable digest `{digest}`"),
        });
    };
    let attached = Reference::with_tag(
        image.registry().to_owned(),
        image.repository().to_owned(),
        tag,
    );
    let manifest = match registry.manifest(&attached).await {
        Ok((bytes, _)) => bytes,
        Err(e) if e.kind == FailureKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let kind = if suffix == "att" {
        "attestation"
    } else {
        "signature"
    };
    let parsed: ManifestLayers = serde_json::from_slice(&manifest).map_err(|e| RegistryError {
        kind: FailureKind::Malformed,
        what: format!("{kind} manifest {}", attached.whole()),
        detail: format!("not an image manifest: {e}"),
    })?;
    if parsed.layers.len() > MAX_SIGNATURE_LAYERS {
        return Err(RegistryError {
            kind: FailureKind::Malformed,
            what: format!("{kind} manifest {}", attached.whole()),
            detail: format!(
                "{} layers; the limit is {MAX_SIGNATURE_LAYERS}",
                parsed.layers.len()
            ),
        });
    }
    Ok(Some((attached, parsed.layers)))
}

/// Checks fetched layers against the policy. Returns the verified signatures and, for every
/// layer that did not verify, why.
pub fn check_layers(
    layers: &[SignatureLayer],
    digest: &str,
    policy: Policy<'_>,
) -> (Vec<VerifiedSignature>, Vec<String>) {
    let mut verified = Vec::new();
    let mut reasons = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let n = i + 1;
        if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
            reasons.push(format!(
                "layer {n}: media type `{}` is not a cosign simple-signing payload",
                layer.media_type
            ));
            continue;
        }
        let Some(encoded) = layer.signature.as_deref().filter(|s| !s.is_empty()) else {
            reasons.push(format!("layer {n}: no `{SIGNATURE_ANNOTATION}` annotation"));
            continue;
        };
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            reasons.push(format!("layer {n}: the signature annotation is not base64"));
            continue;
        };
        if let Some(material) = &layer.keyless {
            let content = crate::sigstore::bundle::Content::Message {
                digest: None,
                signature,
            };
            let artifact = crate::sigstore::Artifact::Bytes(layer.payload.clone());
            match keyless_signers(material, content, &artifact, policy) {
                Ok(signers) => {
                    let checked = serde_json::from_slice(&layer.payload)
                        .map_err(|e| format!("the signed payload is not JSON ({e})"))
                        .and_then(|payload: serde_json::Value| {
                            check_payload(&payload, digest, policy.annotations).map(|()| payload)
                        });
                    match checked {
                        Ok(payload) => verified.push(VerifiedSignature {
                            signers,
                            payload,
                            checks: Checks {
                                keyless: true,
                                tlog: !policy.ignore_tlog,
                            },
                        }),
                        Err(reason) => reasons.push(format!(
                            "layer {n} (keyless, {}): {reason}",
                            signers.join(", ")
                        )),
                    }
                }
                Err(reason) => reasons.push(format!("layer {n} (keyless): {reason}")),
            }
            continue;
        }
        let signers: Vec<&str> = policy
            .keys
            .iter()
            .filter(|(_, key)| key.verify(&layer.payload, &signature))
            .map(|(name, _)| name.as_str())
            .collect();
        if signers.is_empty() {
            reasons.push(format!(
                "layer {n}: the signature is not valid for any trusted key ({})",
                policy
                    .keys
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        }
        // Only a payload whose signature verified is read.
        let payload: serde_json::Value = match serde_json::from_slice(&layer.payload) {
            Ok(p) => p,
            Err(e) => {
                reasons.push(format!("layer {n}: the signed payload is not JSON ({e})"));
                continue;
            }
        };
        if let Err(reason) = check_payload(&payload, digest, policy.annotations) {
            reasons.push(format!(
                "layer {n} (signed by {}): {reason}",
                signers.join(", ")
            ));
            continue;
        }
        verified.push(VerifiedSignature {
            signers: signers.iter().map(|s| (*s).to_owned()).collect(),
            payload,
            checks: Checks::KEY_LAYER,
        });
    }
    (verified, reasons)
}

/// The key-store names whose keyless identity signed a keyless `.sig` or `.att` layer. The layer
/// is rebuilt as a Sigstore bundle v0.1 (`content`: the message signature over the payload, or
/// the DSSE envelope; the certificate and its chain without the root; the Rekor entry with its
/// SET) and verified against the trusted root for `artifact`.
pub(crate) fn keyless_signers(
    material: &KeylessMaterial,
    content: crate::sigstore::bundle::Content,
    artifact: &crate::sigstore::Artifact,
    policy: Policy<'_>,
) -> Result<Vec<String>, String> {
    use crate::sigstore::bundle::{Bundle, Signer, Version};
    let Some(root) = policy.trusted_root else {
        return Err(
            "a keyless signature (Fulcio certificate); pass --trusted-root to verify it".into(),
        );
    };
    if policy.identities.is_empty() {
        return Err("a keyless signature, but no keyless identity is trusted (key store `keyless:` entries with the image-signer role, or --certificate-identity/--certificate-oidc-issuer)".into());
    }
    let pems = |text: &str| -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
            let end = rest[start..]
                .find("-----END CERTIFICATE-----")
                .ok_or("a PEM certificate is not terminated")?
                + start
                + "-----END CERTIFICATE-----".len();
            let (_, der) = der::pem::decode_vec(&rest.as_bytes()[start..end])
                .map_err(|e| format!("a PEM certificate does not decode: {e}"))?;
            out.push(der);
            rest = &rest[end..];
        }
        Ok(out)
    };
    let leaf = pems(&material.certificate)?
        .into_iter()
        .next()
        .ok_or("the certificate annotation holds no certificate")?;
    let mut rest = Vec::new();
    for der in pems(material.chain.as_deref().unwrap_or(""))? {
        // cosign's chain ends with the root, which only the trusted root may supply.
        let self_signed = crate::sigstore::certs::parse(&der, "a chain certificate")
            .map(|c| crate::sigstore::certs::self_signed(&c))
            .map_err(|e| e.to_string())?;
        if !self_signed {
            rest.push(der);
        }
    }
    let mut tlog_entries = Vec::new();
    if let Some(text) = &material.rekor_bundle {
        tlog_entries.push(rekor_entry(text)?);
    } else if !policy.ignore_tlog {
        return Err(format!(
            "no `{REKOR_BUNDLE_ANNOTATION}` annotation: the signature has no transparency-log entry"
        ));
    }
    let bundle = Bundle {
        version: Version::V0_1,
        signer: Signer::Certificate { leaf, rest },
        content,
        tlog_entries,
        timestamps: Vec::new(),
    };
    let options = crate::sigstore::Options {
        skip_tlog: policy.ignore_tlog,
        now: jiff::Timestamp::now(),
    };
    let mut signers = Vec::new();
    let mut failures = Vec::new();
    for (name, expected) in policy.identities {
        match crate::sigstore::verify_bundle(&bundle, root, artifact, expected, &options) {
            Ok(_) => signers.push(name.clone()),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    if signers.is_empty() {
        return Err(failures.join("; "));
    }
    Ok(signers)
}

/// cosign's `dev.sigstore.cosign/bundle` annotation as a transparency-log entry.
fn rekor_entry(text: &str) -> Result<crate::sigstore::bundle::TlogEntry, String> {
    #[derive(Deserialize)]
    struct RekorBundle {
        #[serde(rename = "SignedEntryTimestamp")]
        set: String,
        #[serde(rename = "Payload")]
        payload: RekorPayload,
    }
    #[derive(Deserialize)]
    struct RekorPayload {
        body: String,
        #[serde(rename = "integratedTime")]
        integrated_time: i64,
        #[serde(rename = "logIndex")]
        log_index: u64,
        #[serde(rename = "logID")]
        log_id: String,
    }
    let bad = |what: &str| format!("the `{REKOR_BUNDLE_ANNOTATION}` annotation {what}");
    let parsed: RekorBundle = serde_json::from_str(text)
        .map_err(|e| bad(&format!("is not cosign's Rekor bundle: {e}")))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = b64
        .decode(parsed.payload.body.trim())
        .map_err(|_| bad("has a body that is not base64"))?;
    let kind: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| bad("has a body that is not JSON"))?;
    Ok(crate::sigstore::bundle::TlogEntry {
        log_index: parsed.payload.log_index,
        log_id: hex::decode(&parsed.payload.log_id)
            .map_err(|_| bad("has a logID that is not hex"))?,
        kind: kind["kind"].as_str().unwrap_or_default().to_owned(),
        version: kind["apiVersion"].as_str().unwrap_or_default().to_owned(),
        integrated_time: parsed.payload.integrated_time,
        set: Some(
            b64.decode(parsed.set.trim())
                .map_err(|_| bad("has a SignedEntryTimestamp that is not base64"))?,
        ),
        proof: None,
        body,
        body_b64: parsed.payload.body,
    })
}

fn check_payload(
    payload: &serde_json::Value,
    digest: &str,
    annotations: &[(String, String)],
) -> Result<(), String> {
    let critical = payload
        .get("critical")
        .ok_or("the payload has no `critical`")?;
    let kind = critical.get("type").and_then(|t| t.as_str()).unwrap_or("");
    if kind != COSIGN_SIGNATURE_TYPE {
        return Err(format!(
            "`critical.type` is `{kind}`, not `{COSIGN_SIGNATURE_TYPE}`"
        ));
    }
    let named = critical
        .get("image")
        .and_then(|i| i.get("docker-manifest-digest"))
        .and_then(|d| d.as_str())
        .unwrap_or("");
    if named != digest {
        return Err(format!(
            "the payload signs `{named}`, not this image's digest `{digest}` (a signature copied from another image)"
        ));
    }
    for (key, value) in annotations {
        let found = payload.get("optional").and_then(|o| o.get(key));
        let matches = match found {
            Some(serde_json::Value::String(s)) => s == value,
            Some(other) if !other.is_null() => {
                serde_json::to_string(other).is_ok_and(|t| t == *value)
            }
            _ => false,
        };
        if !matches {
            return Err(format!(
                "annotation `{key}={value}` is not in the signed payload (found {})",
                found.map_or("nothing".to_owned(), |v| v.to_string())
            ));
        }
    }
    Ok(())
}

/// Resolves `reference` to a digest once, fetches its `.sig` manifest and layers by that
/// digest, and verifies them.
pub async fn verify_image(registry: &Registry, reference: &str, policy: Policy<'_>) -> Outcome {
    verify_image_keeping_bundles(registry, reference, policy, &mut Vec::new()).await
}

/// [`verify_image`], leaving the Sigstore bundles it fetched in `bundles` (none without a
/// trusted root), so that `check` reads the attestation bundles among them without fetching
/// the referrers again.
async fn verify_image_keeping_bundles(
    registry: &Registry,
    reference: &str,
    policy: Policy<'_>,
    bundles: &mut Vec<(String, Vec<u8>)>,
) -> Outcome {
    let parsed = match parse_reference(reference) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(e),
    };
    let digest = match registry.manifest(&parsed).await {
        Ok((_, digest)) => digest,
        Err(e) if e.kind == FailureKind::NotFound => return Outcome::NotFound(e),
        Err(e) => return Outcome::Failed(e),
    };
    // cosign v3 bundles (OCI referrers) and legacy `.sig` layers are both signatures. Bundles
    // can only verify against a trusted root, so without one they are not fetched (the legacy
    // path keeps its request count; "no signatures" then says how to check bundles).
    if policy.trusted_root.is_some() {
        match crate::referrers::fetch_bundles(registry, &parsed, &digest).await {
            Ok(fetched) => *bundles = fetched,
            Err(e) => return Outcome::Failed(e),
        }
    }
    let (mut signatures, mut reasons) = crate::referrers::check_bundles(bundles, &digest, policy);
    let (sig_ref, layers) = match attached_layers(registry, &parsed, &digest, "sig").await {
        Ok(Some(found)) => found,
        Ok(None) => (parsed.clone(), Vec::new()),
        Err(e) => return Outcome::Failed(e),
    };
    let mut fetched = Vec::new();
    for layer in &layers {
        if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
            fetched.push(SignatureLayer {
                media_type: layer.media_type.clone(),
                payload: Vec::new(),
                signature: None,
                keyless: None,
            });
            continue;
        }
        let payload = match registry.blob(&sig_ref, &layer.digest, layer.size).await {
            Ok(p) => p,
            Err(e) => return Outcome::Failed(e),
        };
        fetched.push(SignatureLayer {
            media_type: layer.media_type.clone(),
            payload,
            signature: layer.annotations.get(SIGNATURE_ANNOTATION).cloned(),
            keyless: keyless_material(&layer.annotations),
        });
    }
    if bundles.is_empty()
        && !fetched
            .iter()
            .any(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
    {
        return Outcome::NoSignatures { digest };
    }
    let (layer_signatures, layer_reasons) = check_layers(&fetched, &digest, policy);
    signatures.extend(layer_signatures);
    reasons.extend(layer_reasons);
    if signatures.is_empty() {
        return Outcome::NoMatching { digest, reasons };
    }
    let signers = policy
        .keys
        .iter()
        .map(|(name, _)| name)
        .chain(policy.identities.iter().map(|(name, _)| name))
        .filter(|name| signatures.iter().any(|s| s.signers.contains(name)))
        .cloned()
        .collect();
    Outcome::Verified {
        digest,
        signatures,
        signers,
    }
}

/// The verifier `check` uses when a key store or `--key` is configured: a registry client and a
/// current-thread runtime of its own, so `check` stays synchronous.
pub struct CosignVerifier {
    runtime: tokio::runtime::Runtime,
    registry: Registry,
    keys: Vec<(String, PublicKey)>,
    identities: Vec<(String, crate::sigstore::Expected)>,
    trusted_root: Option<crate::sigstore::TrustedRoot>,
    ignore_tlog: bool,
    /// Fetch `.att` attestations for every image, not only those whose manifest entry lists
    /// `attestations` (set when the policies judge attestations, e.g. `slsa_builders`).
    attestations_for_all: bool,
}

impl std::fmt::Debug for CosignVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CosignVerifier")
            .field(
                "keys",
                &self.keys.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl CosignVerifier {
    /// A verifier trusting the store's image-signer keys.
    pub fn new(
        store: &KeyStore,
        options: RegistryOptions,
        env: &crate::context::Environment,
    ) -> std::io::Result<CosignVerifier> {
        // Two workers: registry verification is network-bound, and `check` calls in from one
        // thread per image.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let keys = store
            .image_signer_keys()
            .into_iter()
            .map(|(n, k)| (n.to_owned(), k.clone()))
            .collect();
        let identities = store
            .image_signer_identities()
            .into_iter()
            .filter_map(|(n, k)| Some((n.to_owned(), keyless_expectation(k).ok()?)))
            .collect();
        Ok(CosignVerifier {
            runtime,
            registry: Registry::new(options, env),
            keys,
            identities,
            trusted_root: None,
            ignore_tlog: false,
            attestations_for_all: false,
        })
    }

    /// Checks Sigstore bundles against `root` (`--trusted-root`), optionally without the
    /// transparency log (`--insecure-ignore-tlog`); without a root, bundles cannot verify.
    pub fn with_trusted_root(
        mut self,
        root: Option<crate::sigstore::TrustedRoot>,
        ignore_tlog: bool,
    ) -> CosignVerifier {
        self.trusted_root = root;
        self.ignore_tlog = ignore_tlog;
        self
    }

    /// Also trusts this keyless identity (`tollgate verify --certificate-*`).
    pub fn with_identity(
        mut self,
        name: &str,
        expected: crate::sigstore::Expected,
    ) -> CosignVerifier {
        self.identities.push((name.to_owned(), expected));
        self
    }

    /// Also fetches attestations for images whose manifest entry lists none (by default only
    /// images that list `attestations` cost the extra `.att` requests).
    pub fn with_attestations_for_all(mut self, all: bool) -> CosignVerifier {
        self.attestations_for_all = all;
        self
    }

    /// Verifies one reference (blocking).
    pub fn verify_reference(&self, reference: &str, annotations: &[(String, String)]) -> Outcome {
        self.runtime.block_on(verify_image(
            &self.registry,
            reference,
            self.policy(annotations),
        ))
    }

    /// What this verifier trusts, with the annotations a payload must carry.
    fn policy<'a>(&'a self, annotations: &'a [(String, String)]) -> Policy<'a> {
        Policy {
            keys: &self.keys,
            annotations,
            identities: &self.identities,
            trusted_root: self.trusted_root.as_ref(),
            ignore_tlog: self.ignore_tlog,
        }
    }

    /// `verify-attestation`: resolves `reference` once and verifies its `.att` attestations of
    /// `predicate_type` (blocking).
    pub fn verify_attestations(
        &self,
        reference: &str,
        predicate_type: &str,
    ) -> crate::attestation::Outcome {
        self.runtime.block_on(crate::attestation::verify_image(
            &self.registry,
            reference,
            self.policy(&[]),
            predicate_type,
        ))
    }

    /// What "no signatures" leaves unchecked: without a trusted root, cosign v3 bundles (OCI
    /// referrers) are not looked for.
    pub fn no_signature_hint(&self) -> &'static str {
        if self.trusted_root.is_none() {
            " (legacy .sig; cosign v3 bundles attached as OCI referrers are checked only with --trusted-root)"
        } else {
            ""
        }
    }

    /// Registry operations started so far.
    pub fn operations(&self) -> usize {
        self.registry.operations()
    }
}

/// The Sigstore expectation of a key store's `keyless:` entry (regular expressions compiled).
pub fn keyless_expectation(
    keyless: &crate::keystore::Keyless,
) -> Result<crate::sigstore::Expected, String> {
    use crate::sigstore::Matcher;
    let matcher = |exact: &Option<String>, regexp: &Option<String>, what: &str| {
        Matcher::of(exact.as_deref(), regexp.as_deref())
            .map_err(|e| format!("{what} regexp: {e}"))?
            .ok_or_else(|| format!("no {what} given"))
    };
    Ok(crate::sigstore::Expected::Keyless {
        identity: matcher(&keyless.identity, &keyless.identity_regexp, "identity")?,
        issuer: matcher(&keyless.issuer, &keyless.issuer_regexp, "issuer")?,
    })
}

impl ImageVerifier for CosignVerifier {
    fn verify(&self, image: &Image) -> ImageFacts {
        let mut facts = ImageFacts::unverified(image, "");
        let wanted = self.attestations_for_all || !image.attestations.is_empty();
        let policy = self.policy(&[]);
        // One pass: the signatures, then (when wanted) the attestations of the digest they
        // resolved, reusing the referrer bundles the signature check fetched.
        let (outcome, attestations) = self.runtime.block_on(async {
            let mut bundles = Vec::new();
            let outcome = verify_image_keeping_bundles(
                &self.registry,
                &image.reference,
                policy,
                &mut bundles,
            )
            .await;
            let digest = match &outcome {
                Outcome::Verified { digest, .. }
                | Outcome::NoSignatures { digest }
                | Outcome::NoMatching { digest, .. } => Some(digest.clone()),
                Outcome::NotFound(_) | Outcome::Failed(_) => None,
            };
            let attestations = match (wanted, digest, parse_reference(&image.reference)) {
                (true, Some(digest), Ok(parsed)) => Some(
                    crate::attestation::fetch_with_bundles(
                        &self.registry,
                        &parsed,
                        &digest,
                        policy,
                        &bundles,
                    )
                    .await,
                ),
                _ => None,
            };
            (outcome, attestations)
        });
        match outcome {
            Outcome::Verified {
                digest, signers, ..
            } => {
                facts.digest = Some(digest);
                facts.verified = true;
                facts.signed = true;
                facts.signers = signers;
                facts.error = None;
            }
            Outcome::NoSignatures { digest } => {
                facts.digest = Some(digest);
                facts.verified = true;
                facts.error = Some(format!(
                    "no cosign signature is attached to the image{}",
                    self.no_signature_hint()
                ));
            }
            Outcome::NoMatching { digest, reasons } => {
                facts.digest = Some(digest);
                facts.verified = true;
                facts.error = Some(format!("no signature verified: {}", reasons.join("; ")));
            }
            Outcome::NotFound(e) | Outcome::Failed(e) => {
                facts.error = Some(format!("registry {}: {e}", e.kind.as_str()));
            }
        }
        if let Some(found) = attestations {
            match found {
                Ok(found) => {
                    facts.attestations = found.verified.iter().map(|a| a.fact()).collect();
                    facts.attestation_problems = found.problems;
                }
                // Could not look: "could not decide", never "no attestation".
                Err(e) => {
                    facts.verified = false;
                    facts.error = Some(format!(
                        "registry {} while fetching attestations: {e}",
                        e.kind.as_str()
                    ));
                }
            }
        }
        facts
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use p256::ecdsa::signature::Signer;

    const DIGEST: &str = "sha256:d88c9361b17a0488c4711d559f933249eea28c764f50dd700ca3cc7a78bbe00e";

    fn key(seed: u8) -> (p256::ecdsa::SigningKey, PublicKey) {
        let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        let pk = PublicKey::P256(*sk.verifying_key());
        (sk, pk)
    }

    fn payload(digest: &str, optional: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "critical": {"identity": {"docker-reference": "r/app"},
                         "image": {"docker-manifest-digest": digest},
                         "type": COSIGN_SIGNATURE_TYPE},
            "optional": optional}))
        .unwrap()
    }

    fn layer(sk: &p256::ecdsa::SigningKey, payload: Vec<u8>) -> SignatureLayer {
        let sig: p256::ecdsa::Signature = sk.sign(&payload);
        SignatureLayer {
            media_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
            signature: Some(base64::engine::general_purpose::STANDARD.encode(sig.to_der())),
            payload,
            keyless: None,
        }
    }

    #[test]
    fn signature_tag_is_cosigns() {
        assert_eq!(
            signature_tag("sha256:abc").as_deref(),
            Some("sha256-abc.sig")
        );
        assert_eq!(signature_tag("nonsense"), None);
    }

    #[test]
    fn right_key_verifies_and_wrong_key_does_not() {
        let (sk, pk) = key(1);
        let (_, other) = key(2);
        let layers = [layer(&sk, payload(DIGEST, serde_json::Value::Null))];
        let keys = vec![("release".to_owned(), pk)];
        let (ok, reasons) = check_layers(&layers, DIGEST, Policy::keys(&keys, &[]));
        assert_eq!(ok.len(), 1, "{reasons:?}");
        assert_eq!(ok[0].signers, ["release"]);
        let wrong = vec![("other".to_owned(), other)];
        let (ok, reasons) = check_layers(&layers, DIGEST, Policy::keys(&wrong, &[]));
        assert!(ok.is_empty());
        assert!(
            reasons[0].contains("not valid for any trusted key"),
            "{reasons:?}"
        );
    }

    #[test]
    fn payload_for_another_digest_and_wrong_type_are_rejected() {
        let (sk, pk) = key(1);
        let keys = vec![("release".to_owned(), pk)];
        let other = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        let (ok, reasons) = check_layers(
            &[layer(&sk, payload(other, serde_json::Value::Null))],
            DIGEST,
            Policy::keys(&keys, &[]),
        );
        assert!(ok.is_empty());
        assert!(
            reasons[0].contains("copied from another image"),
            "{reasons:?}"
        );
        let bad_type = serde_json::to_vec(&serde_json::json!({"critical": {"type": "x", "image": {"docker-manifest-digest": DIGEST}}})).unwrap();
        let (ok, reasons) = check_layers(&[layer(&sk, bad_type)], DIGEST, Policy::keys(&keys, &[]));
        assert!(ok.is_empty());
        assert!(reasons[0].contains("critical.type"), "{reasons:?}");
    }

    #[test]
    fn annotations_are_matched_against_optional() {
        let (sk, pk) = key(1);
        let keys = vec![("release".to_owned(), pk)];
        let layers = [layer(
            &sk,
            payload(DIGEST, serde_json::json!({"env": "prod"})),
        )];
        let want = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        let (ok, _) = check_layers(&layers, DIGEST, Policy::keys(&keys, &want("env", "prod")));
        assert_eq!(ok.len(), 1);
        let (ok, reasons) = check_layers(&layers, DIGEST, Policy::keys(&keys, &want("env", "dev")));
        assert!(ok.is_empty());
        assert!(reasons[0].contains("env=dev"), "{reasons:?}");
    }

    #[test]
    fn tampered_payload_and_missing_annotation_are_reasons() {
        let (sk, pk) = key(1);
        let keys = vec![("release".to_owned(), pk)];
        let mut tampered = layer(&sk, payload(DIGEST, serde_json::Value::Null));
        tampered.payload.push(b' ');
        let mut unsigned = layer(&sk, payload(DIGEST, serde_json::Value::Null));
        unsigned.signature = None;
        let (ok, reasons) = check_layers(&[tampered, unsigned], DIGEST, Policy::keys(&keys, &[]));
        assert!(ok.is_empty());
        assert_eq!(reasons.len(), 2, "{reasons:?}");
    }
}
