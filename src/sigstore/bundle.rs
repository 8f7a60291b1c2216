//! The Sigstore bundle JSON (protobuf-specs `Bundle`, v0.1 to v0.3) parsed into checked types:
//! base64 decoded, integers range-checked, exactly one signer and one content.

use super::error::{Error, malformed};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;

/// Largest bundle accepted: real bundles are a few tens of KiB; this bounds hostile input.
pub const MAX_BUNDLE_BYTES: usize = 16 * 1024 * 1024;

/// Most transparency-log entries or timestamps accepted in one bundle.
pub const MAX_ENTRIES: usize = 16;

/// The bundle format version from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// `version=0.1`: inclusion promise required, proof optional.
    V0_1,
    /// `version=0.2`: inclusion proof required.
    V0_2,
    /// `version=0.3` (both spellings): single leaf certificate.
    V0_3,
}

/// Who signed, as the bundle says.
#[derive(Debug, Clone)]
pub enum Signer {
    /// A Fulcio leaf certificate (DER) and any further certificates the bundle carried.
    Certificate {
        /// The leaf, DER.
        leaf: Vec<u8>,
        /// Certificates after the leaf in a v0.1/v0.2 chain, DER.
        rest: Vec<Vec<u8>>,
    },
    /// A key the verifier must supply (the bundle only has a hint).
    PublicKey {
        /// The bundle's hint, if any.
        hint: Option<String>,
    },
}

/// What was signed.
#[derive(Debug, Clone)]
pub enum Content {
    /// A signature over the artifact bytes.
    Message {
        /// The bundle's (unauthenticated) SHA-256 digest of the artifact, when present.
        digest: Option<Vec<u8>>,
        /// The signature bytes.
        signature: Vec<u8>,
    },
    /// A DSSE envelope.
    Dsse(Envelope),
}

/// A DSSE envelope with exactly one signature.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The payload type, e.g. `application/vnd.in-toto+json`.
    pub payload_type: String,
    /// The one signature.
    pub signature: Vec<u8>,
}

impl Envelope {
    /// The DSSE pre-authentication encoding that is signed.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// DSSE v1 PAE: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.
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

/// One transparency-log entry.
#[derive(Debug, Clone)]
pub struct TlogEntry {
    /// Position in the log.
    pub log_index: u64,
    /// SHA-256 of the log's key (the trusted root's `logId.keyId`).
    pub log_id: Vec<u8>,
    /// `hashedrekord`, `dsse`, `intoto`.
    pub kind: String,
    /// `0.0.1`, `0.0.2`.
    pub version: String,
    /// Unix seconds the log integrated the entry (0 when absent: Rekor v2).
    pub integrated_time: i64,
    /// The signed entry timestamp, when present.
    pub set: Option<Vec<u8>>,
    /// The inclusion proof, when present.
    pub proof: Option<InclusionProof>,
    /// The canonicalized entry body.
    pub body: Vec<u8>,
    /// The body's base64 text exactly as in the bundle (the SET signs it).
    pub body_b64: String,
}

/// An RFC 6962 inclusion proof with its checkpoint.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    /// Leaf index in the tree.
    pub log_index: u64,
    /// Root hash.
    pub root_hash: Vec<u8>,
    /// Tree size.
    pub tree_size: u64,
    /// Audit path.
    pub hashes: Vec<Vec<u8>>,
    /// The signed-note checkpoint text, when present.
    pub checkpoint: Option<String>,
}

/// A parsed bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Format version.
    pub version: Version,
    /// The signer material.
    pub signer: Signer,
    /// The signed content.
    pub content: Content,
    /// Transparency-log entries.
    pub tlog_entries: Vec<TlogEntry>,
    /// RFC 3161 timestamp responses/tokens, DER.
    pub timestamps: Vec<Vec<u8>>,
}

impl Bundle {
    /// The bytes the artifact signature covers the TSA imprint of: the message signature or the
    /// DSSE signature.
    pub fn signature(&self) -> &[u8] {
        match &self.content {
            Content::Message { signature, .. } => signature,
            Content::Dsse(env) => &env.signature,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: Option<String>,
    verification_material: Option<RawMaterial>,
    message_signature: Option<RawMessageSignature>,
    dsse_envelope: Option<RawEnvelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    certificate: Option<RawBytes>,
    x509_certificate_chain: Option<RawChain>,
    public_key: Option<RawHint>,
    #[serde(default)]
    tlog_entries: Vec<RawTlogEntry>,
    timestamp_verification_data: Option<RawTsData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: Option<String>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
struct RawHint {
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTsData {
    #[serde(default)]
    rfc3161_timestamps: Vec<RawTs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTs {
    signed_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlogEntry {
    log_index: Option<Value>,
    log_id: Option<RawLogId>,
    kind_version: Option<RawKindVersion>,
    integrated_time: Option<Value>,
    inclusion_promise: Option<RawPromise>,
    inclusion_proof: Option<RawProof>,
    canonicalized_body: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: Option<String>,
}

#[derive(Deserialize)]
struct RawKindVersion {
    kind: Option<String>,
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    signed_entry_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    log_index: Option<Value>,
    root_hash: Option<String>,
    tree_size: Option<Value>,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
struct RawCheckpoint {
    envelope: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessageSignature {
    message_digest: Option<RawDigest>,
    signature: Option<String>,
}

#[derive(Deserialize)]
struct RawDigest {
    algorithm: Option<String>,
    digest: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: Option<String>,
    payload_type: Option<String>,
    #[serde(default)]
    signatures: Vec<RawDsseSig>,
}

#[derive(Deserialize)]
struct RawDsseSig {
    sig: Option<String>,
}

/// Decodes standard base64, naming the field on failure.
pub(crate) fn b64(field: &str, text: &str) -> Result<Vec<u8>, Error> {
    // Some writers wrap base64 at 76 columns (MIME); whitespace carries no data.
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|e| malformed(format!("bundle field `{field}` is not valid base64 ({e})")))
}

fn required<'a, T>(field: &str, value: &'a Option<T>) -> Result<&'a T, Error> {
    value
        .as_ref()
        .ok_or_else(|| malformed(format!("bundle is missing `{field}`")))
}

/// A protobuf-JSON int64: a string of digits or a JSON number. Negative values are rejected.
pub(crate) fn uint(field: &str, value: Option<&Value>) -> Result<u64, Error> {
    let parsed = match value {
        None => return Ok(0),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        Some(_) => None,
    };
    match parsed {
        Some(v) if v >= 0 => Ok(v as u64),
        Some(v) => Err(malformed(format!(
            "bundle field `{field}` is negative ({v})"
        ))),
        None => Err(malformed(format!(
            "bundle field `{field}` is not an integer"
        ))),
    }
}

fn version_of(media_type: &str) -> Result<Version, Error> {
    match media_type {
        "application/vnd.dev.sigstore.bundle+json;version=0.1" => Ok(Version::V0_1),
        "application/vnd.dev.sigstore.bundle+json;version=0.2" => Ok(Version::V0_2),
        "application/vnd.dev.sigstore.bundle+json;version=0.3"
        | "application/vnd.dev.sigstore.bundle.v0.3+json" => Ok(Version::V0_3),
        other => Err(malformed(format!(
            "unsupported bundle media type `{other}`; supported: Sigstore bundle v0.1, v0.2, v0.3"
        ))),
    }
}

/// Parses a bundle from JSON bytes.
pub fn parse(json: &[u8]) -> Result<Bundle, Error> {
    if json.len() > MAX_BUNDLE_BYTES {
        return Err(malformed(format!(
            "bundle is {} bytes, more than the {MAX_BUNDLE_BYTES}-byte limit",
            json.len()
        )));
    }
    // serde_json refuses nesting deeper than 128 levels, which bounds hostile input.
    let raw: RawBundle = serde_json::from_slice(json)
        .map_err(|e| malformed(format!("bundle is not valid bundle JSON: {e}")))?;
    let version = version_of(required("mediaType", &raw.media_type)?)?;
    let material = required("verificationMaterial", &raw.verification_material)?;

    let signer = match (
        &material.certificate,
        &material.x509_certificate_chain,
        &material.public_key,
    ) {
        (Some(cert), None, None) => Signer::Certificate {
            leaf: b64(
                "verificationMaterial.certificate.rawBytes",
                required("verificationMaterial.certificate.rawBytes", &cert.raw_bytes)?,
            )?,
            rest: Vec::new(),
        },
        (None, Some(chain), None) => {
            let mut certs = Vec::new();
            for (i, c) in chain.certificates.iter().enumerate() {
                let field = format!("verificationMaterial.x509CertificateChain.certificates[{i}]");
                certs.push(b64(&field, required(&field, &c.raw_bytes)?)?);
            }
            if certs.is_empty() {
                return Err(malformed(
                    "bundle's x509CertificateChain has no certificates",
                ));
            }
            let leaf = certs.remove(0);
            Signer::Certificate { leaf, rest: certs }
        }
        (None, None, Some(key)) => Signer::PublicKey {
            hint: key.hint.clone(),
        },
        (None, None, None) => {
            return Err(malformed(
                "bundle's verificationMaterial has no certificate, chain or public key",
            ));
        }
        _ => {
            return Err(malformed(
                "bundle's verificationMaterial has more than one of certificate, chain, public key",
            ));
        }
    };

    let content = match (&raw.message_signature, &raw.dsse_envelope) {
        (Some(ms), None) => {
            let signature = b64(
                "messageSignature.signature",
                required("messageSignature.signature", &ms.signature)?,
            )?;
            let digest = match &ms.message_digest {
                None => None,
                Some(d) => {
                    let alg = d.algorithm.as_deref().unwrap_or("");
                    if alg != "SHA2_256" {
                        return Err(malformed(format!(
                            "unsupported messageDigest algorithm `{alg}`; supported: SHA2_256"
                        )));
                    }
                    Some(b64(
                        "messageSignature.messageDigest.digest",
                        required("messageSignature.messageDigest.digest", &d.digest)?,
                    )?)
                }
            };
            Content::Message { digest, signature }
        }
        (None, Some(env)) => {
            if env.signatures.len() != 1 {
                return Err(malformed(format!(
                    "DSSE envelope has {} signatures; exactly one is supported",
                    env.signatures.len()
                )));
            }
            Content::Dsse(Envelope {
                payload: b64(
                    "dsseEnvelope.payload",
                    required("dsseEnvelope.payload", &env.payload)?,
                )?,
                payload_type: required("dsseEnvelope.payloadType", &env.payload_type)?.clone(),
                signature: b64(
                    "dsseEnvelope.signatures[0].sig",
                    required("dsseEnvelope.signatures[0].sig", &env.signatures[0].sig)?,
                )?,
            })
        }
        (None, None) => {
            return Err(malformed(
                "bundle has neither messageSignature nor dsseEnvelope",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(malformed(
                "bundle has both messageSignature and dsseEnvelope",
            ));
        }
    };

    // Real bundles carry one entry and at most a few timestamps; each costs signature checks.
    if material.tlog_entries.len() > MAX_ENTRIES {
        return Err(malformed(format!(
            "bundle has {} transparency log entries; at most {MAX_ENTRIES} are accepted",
            material.tlog_entries.len()
        )));
    }
    let mut tlog_entries = Vec::new();
    for (i, e) in material.tlog_entries.iter().enumerate() {
        tlog_entries.push(parse_entry(i, e)?);
    }
    let mut timestamps = Vec::new();
    if let Some(data) = &material.timestamp_verification_data {
        if data.rfc3161_timestamps.len() > MAX_ENTRIES {
            return Err(malformed(format!(
                "bundle has {} RFC 3161 timestamps; at most {MAX_ENTRIES} are accepted",
                data.rfc3161_timestamps.len()
            )));
        }
        for (i, ts) in data.rfc3161_timestamps.iter().enumerate() {
            let field = format!("timestampVerificationData.rfc3161Timestamps[{i}].signedTimestamp");
            timestamps.push(b64(&field, required(&field, &ts.signed_timestamp)?)?);
        }
    }
    Ok(Bundle {
        version,
        signer,
        content,
        tlog_entries,
        timestamps,
    })
}

fn parse_entry(i: usize, e: &RawTlogEntry) -> Result<TlogEntry, Error> {
    let at = |f: &str| format!("tlogEntries[{i}].{f}");
    let kv = required(&at("kindVersion"), &e.kind_version)?;
    let body_b64 = required(&at("canonicalizedBody"), &e.canonicalized_body)?.clone();
    let proof = match &e.inclusion_proof {
        None => None,
        Some(p) => {
            let mut hashes = Vec::new();
            for (j, h) in p.hashes.iter().enumerate() {
                hashes.push(b64(&at(&format!("inclusionProof.hashes[{j}]")), h)?);
            }
            Some(InclusionProof {
                log_index: uint(&at("inclusionProof.logIndex"), p.log_index.as_ref())?,
                root_hash: b64(
                    &at("inclusionProof.rootHash"),
                    required(&at("inclusionProof.rootHash"), &p.root_hash)?,
                )?,
                tree_size: uint(&at("inclusionProof.treeSize"), p.tree_size.as_ref())?,
                hashes,
                checkpoint: p.checkpoint.as_ref().and_then(|c| c.envelope.clone()),
            })
        }
    };
    let integrated = uint(&at("integratedTime"), e.integrated_time.as_ref())?;
    Ok(TlogEntry {
        log_index: uint(&at("logIndex"), e.log_index.as_ref())?,
        log_id: b64(
            &at("logId.keyId"),
            required(
                &at("logId.keyId"),
                &e.log_id.as_ref().and_then(|l| l.key_id.clone()),
            )?,
        )?,
        kind: required(&at("kindVersion.kind"), &kv.kind)?.clone(),
        version: required(&at("kindVersion.version"), &kv.version)?.clone(),
        integrated_time: i64::try_from(integrated)
            .map_err(|_| malformed(format!("{} is out of range", at("integratedTime"))))?,
        set: match e
            .inclusion_promise
            .as_ref()
            .and_then(|p| p.signed_entry_timestamp.as_ref())
        {
            Some(s) => Some(b64(&at("inclusionPromise.signedEntryTimestamp"), s)?),
            None => None,
        },
        proof,
        body: b64(&at("canonicalizedBody"), &body_b64)?,
        body_b64,
    })
}
