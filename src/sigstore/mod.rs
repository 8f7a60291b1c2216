//! Offline verification of Sigstore bundles (cosign v3 / sigstore-go / sigstore-python format)
//! against a `trusted_root.json` file: keyless (Fulcio certificate, SCT, identity and OIDC
//! issuer) and key-signed bundles, message signatures and DSSE in-toto statements, Rekor v1
//! (SET, inclusion proof, checkpoint) and Rekor v2 entries with RFC 3161 timestamps.
//!
//! Owns the `tollgate verify-bundle` command's logic ([`run`]); `main` only prints the result.
//! Verification never reads the wall clock except to reject an integrated time in the future:
//! every validity window is checked at a signed time (integrated time or TSA time).

pub mod body;
pub mod bundle;
pub mod certs;
pub mod crypto;
pub mod error;
pub mod tlog;
pub mod trust;
pub mod tsa;

#[cfg(test)]
mod tests;

pub use bundle::Bundle;
pub use error::{Error, ErrorKind};
pub use trust::TrustedRoot;

use crate::keystore::PublicKey;
use body::SignerDer;
use bundle::{Content, Signer};
use error::err;
use jiff::Timestamp;
use serde_json::Value;
use std::path::Path;

/// How an identity or issuer is matched: exactly, or by a regular expression (cosign's
/// `--certificate-identity-regexp` / `--certificate-oidc-issuer-regexp`).
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Equal strings.
    Exact(String),
    /// The regular expression matches (callers anchor it if they need to).
    Regex(regex::Regex),
}

impl Matcher {
    /// The matcher an exact value or a regular expression asks for (the exact value when both
    /// are given); `None` when neither is.
    pub fn of(exact: Option<&str>, regexp: Option<&str>) -> Result<Option<Matcher>, regex::Error> {
        match (exact, regexp) {
            (Some(s), _) => Ok(Some(Matcher::Exact(s.to_owned()))),
            (None, Some(r)) => regex::Regex::new(r).map(|r| Some(Matcher::Regex(r))),
            (None, None) => Ok(None),
        }
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "`{s}`"),
            Matcher::Regex(r) => write!(f, "a match of /{}/", r.as_str()),
        }
    }
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum Expected {
    /// A Fulcio certificate for this identity (SAN) and OIDC issuer.
    Keyless {
        /// The SAN identity.
        identity: Matcher,
        /// The OIDC issuer extension.
        issuer: Matcher,
    },
    /// This public key.
    Key {
        /// The key.
        key: PublicKey,
        /// Its SubjectPublicKeyInfo DER (compared with what the log recorded).
        spki_der: Vec<u8>,
    },
}

/// The signed artifact: its bytes, or only its SHA-256 digest.
#[derive(Debug, Clone)]
pub enum Artifact {
    /// The artifact bytes.
    Bytes(Vec<u8>),
    /// The artifact's SHA-256.
    Digest([u8; 32]),
}

impl Artifact {
    /// The artifact's SHA-256.
    pub fn sha256(&self) -> [u8; 32] {
        match self {
            Artifact::Bytes(b) => crypto::sha256(b),
            Artifact::Digest(d) => *d,
        }
    }
}

/// Verification options.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Skip the transparency log (cosign's `--insecure-ignore-tlog`); keyless bundles then need
    /// an RFC 3161 timestamp, or their certificate is checked at `now`.
    pub skip_tlog: bool,
    /// The current time, used only to reject integrated times in the future.
    pub now: Timestamp,
}

/// Who signed, as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedSigner {
    /// A Fulcio certificate.
    Identity {
        /// The SAN identity.
        identity: String,
        /// The OIDC issuer.
        issuer: String,
    },
    /// The caller's key.
    Key {
        /// Its algorithm.
        algorithm: &'static str,
    },
}

/// A verified bundle.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signer.
    pub signer: VerifiedSigner,
    /// The earliest verified signing time (integrated time or TSA time), if any.
    pub signing_time: Option<Timestamp>,
    /// The verified in-toto statement of a DSSE bundle.
    pub statement: Option<Value>,
    /// Log indexes of the verified transparency-log entries.
    pub log_indexes: Vec<u64>,
}

/// Largest clock skew tolerated before an integrated time counts as "in the future".
const FUTURE_SKEW_SECS: i64 = 300;

/// Verifies a bundle (JSON bytes) for `artifact` against `root`.
pub fn verify(
    bundle_json: &[u8],
    root: &TrustedRoot,
    artifact: &Artifact,
    expected: &Expected,
    options: &Options,
) -> Result<Verified, Error> {
    let bundle = bundle::parse(bundle_json)?;
    verify_bundle(&bundle, root, artifact, expected, options)
}

/// Verifies an already parsed bundle; see [`verify`].
pub fn verify_bundle(
    bundle: &Bundle,
    root: &TrustedRoot,
    artifact: &Artifact,
    expected: &Expected,
    options: &Options,
) -> Result<Verified, Error> {
    let digest = artifact.sha256();

    // 1. The signer material fits what the caller expects.
    let (leaf, key, signer_der) = match (&bundle.signer, expected) {
        (Signer::Certificate { leaf, rest }, Expected::Keyless { .. }) => {
            let cert = certs::parse(leaf, "the bundle's signing certificate")?;
            for (i, der) in rest.iter().enumerate() {
                let c = certs::parse(der, &format!("bundle chain certificate {}", i + 1))?;
                if certs::self_signed(&c) {
                    return Err(err(
                        ErrorKind::Certificate,
                        "the bundle's certificate chain includes a root CA; a bundle must not \
                         carry the trust anchor (take roots only from the trusted root)",
                    ));
                }
            }
            let key = certs::public_key(&cert)?;
            (Some(cert), key, SignerDer::Certificate(leaf))
        }
        (Signer::PublicKey { .. }, Expected::Key { key, spki_der }) => {
            (None, key.clone(), SignerDer::Key(spki_der))
        }
        (Signer::Certificate { .. }, Expected::Key { .. }) => {
            return Err(err(
                ErrorKind::Usage,
                "the bundle is signed with a Fulcio certificate, but a key was given; pass \
                 --certificate-identity and --certificate-oidc-issuer instead of --key",
            ));
        }
        (Signer::PublicKey { .. }, Expected::Keyless { .. }) => {
            return Err(err(
                ErrorKind::Usage,
                "the bundle is signed with a key, not a certificate; pass the public key with --key",
            ));
        }
    };

    // 2. The signature over the content, and the content against the artifact.
    let mut statement = None;
    match &bundle.content {
        Content::Message {
            digest: claimed,
            signature,
        } => {
            if let Some(claimed) = claimed
                && claimed.as_slice() != digest.as_slice()
            {
                return Err(err(
                    ErrorKind::ArtifactMismatch,
                    format!(
                        "the bundle's message digest {} is not the artifact's sha256:{}",
                        hex::encode(claimed),
                        hex::encode(digest)
                    ),
                ));
            }
            let ok = match artifact {
                Artifact::Bytes(bytes) => {
                    crypto::verify_message(&key, crypto::default_hash(&key), bytes, signature)
                }
                Artifact::Digest(d) => {
                    crypto::verify_digest(&key, crypto::Hash::Sha256, d, signature)
                }
            };
            if !ok {
                return Err(err(
                    ErrorKind::Signature,
                    format!(
                        "the bundle's signature does not verify for artifact sha256:{} under the {} key",
                        hex::encode(digest),
                        if leaf.is_some() {
                            "certificate's"
                        } else {
                            "given"
                        }
                    ),
                ));
            }
        }
        Content::Dsse(env) => {
            if !crypto::verify_message(&key, crypto::default_hash(&key), &env.pae(), &env.signature)
            {
                return Err(err(
                    ErrorKind::Signature,
                    "the DSSE envelope signature does not verify over its PAE",
                ));
            }
            statement = Some(check_statement(env, &digest)?);
        }
    }

    // 3. Transparency log entries.
    let mut times: Vec<Timestamp> = Vec::new();
    let mut v2_logs = Vec::new();
    let mut log_indexes = Vec::new();
    if !options.skip_tlog {
        if bundle.tlog_entries.is_empty() {
            return Err(err(
                ErrorKind::TransparencyLog,
                "the bundle has no transparency log entry (use --insecure-ignore-tlog only for \
                 bundles that were never logged)",
            ));
        }
        for entry in &bundle.tlog_entries {
            let index = entry.log_index;
            let rekor_v2 = matches!(
                (entry.kind.as_str(), entry.version.as_str()),
                ("hashedrekord", "0.0.2") | ("dsse", "0.0.2")
            );
            let at = (!rekor_v2 && entry.integrated_time > 0)
                .then(|| Timestamp::from_second(entry.integrated_time).ok())
                .flatten();
            let log = root.tlog_at(&entry.log_id, at)?;
            let log_key = crypto::parse_key(&log.key).map_err(|e| {
                err(
                    ErrorKind::MalformedTrustRoot,
                    format!("trusted root key of log {}: {e}", log.base_url),
                )
            })?;
            body::check(entry, &bundle.content, signer_der, &digest)?;
            if let Some(set) = &entry.set {
                tlog::verify_set(entry, set, &log_key)?;
            } else if bundle.version == bundle::Version::V0_1 {
                return Err(err(
                    ErrorKind::TransparencyLog,
                    format!("log entry {index} of a v0.1 bundle has no inclusion promise (SET)"),
                ));
            }
            match &entry.proof {
                Some(proof) => {
                    tlog::verify_inclusion(entry, proof)?;
                    if proof.checkpoint.is_some() || bundle.version > bundle::Version::V0_1 {
                        tlog::verify_checkpoint(proof, log, &log_key)?;
                    }
                }
                None if bundle.version > bundle::Version::V0_1 || rekor_v2 => {
                    return Err(err(
                        ErrorKind::TransparencyLog,
                        format!(
                            "log entry {index} has no inclusion proof (required since bundle v0.2)"
                        ),
                    ));
                }
                None => {}
            }
            if rekor_v2 {
                v2_logs.push(log);
            } else if let Some(t) = at
                && entry.set.is_some()
            {
                // Only the SET signs the integrated time; without it the time is a claim, and
                // the bundle needs an RFC 3161 timestamp instead.
                if t.as_second() > options.now.as_second() + FUTURE_SKEW_SECS {
                    return Err(err(
                        ErrorKind::Time,
                        format!("log entry {index} has an integrated time {t} in the future"),
                    ));
                }
                times.push(t);
            }
            log_indexes.push(index);
        }
    }

    // 4. RFC 3161 timestamps: every one present must verify.
    for (i, der) in bundle.timestamps.iter().enumerate() {
        times.push(tsa::verify(i, der, bundle.signature(), root)?);
    }
    for log in v2_logs {
        for &t in &times {
            if !log.validity.contains(t) {
                return Err(err(
                    ErrorKind::Time,
                    format!("transparency log key {} was not valid at {t}", log.base_url),
                ));
            }
        }
    }
    if times.is_empty() && leaf.is_some() {
        if options.skip_tlog {
            times.push(options.now);
        } else {
            return Err(err(
                ErrorKind::Time,
                "no verified signing time: a Rekor v2 entry has no integrated time, so the bundle \
                 needs an RFC 3161 timestamp from a timestamp authority of the trusted root",
            ));
        }
    }
    times.sort();

    // 5. Keyless: chain, SCT, identity at every signed time.
    let signer = match (&leaf, expected) {
        (Some(cert), Expected::Keyless { identity, issuer }) => {
            let (_, issuer_cert) = certs::verify_chain(
                cert,
                &root.certificate_authorities,
                &times,
                "the signing certificate",
            )?;
            certs::check_leaf_usage(cert)?;
            certs::verify_embedded_scts(cert, &issuer_cert, root)?;
            let san = certs::san_identity(cert).ok_or_else(|| {
                err(
                    ErrorKind::Identity,
                    "the signing certificate has no SAN identity",
                )
            })?;
            let oidc = certs::oidc_issuer(cert).ok_or_else(|| {
                err(
                    ErrorKind::Identity,
                    "the signing certificate has no Fulcio OIDC issuer extension",
                )
            })?;
            if !identity.matches(&san) {
                return Err(err(
                    ErrorKind::Identity,
                    format!("certificate identity `{san}` is not {identity}"),
                ));
            }
            if !issuer.matches(&oidc) {
                return Err(err(
                    ErrorKind::Identity,
                    format!("certificate OIDC issuer `{oidc}` is not {issuer}"),
                ));
            }
            VerifiedSigner::Identity {
                identity: san,
                issuer: oidc,
            }
        }
        _ => VerifiedSigner::Key {
            algorithm: key.algorithm(),
        },
    };
    Ok(Verified {
        signer,
        signing_time: times.first().copied(),
        statement,
        log_indexes,
    })
}

/// Parses the DSSE payload as an in-toto statement and checks that the artifact is a subject.
fn check_statement(env: &bundle::Envelope, digest: &[u8; 32]) -> Result<Value, Error> {
    if env.payload_type != "application/vnd.in-toto+json" {
        return Err(err(
            ErrorKind::ArtifactMismatch,
            format!(
                "DSSE payload type `{}` is not application/vnd.in-toto+json",
                env.payload_type
            ),
        ));
    }
    let statement: Value = serde_json::from_slice(&env.payload).map_err(|e| {
        err(
            ErrorKind::MalformedBundle,
            format!("the in-toto statement is not JSON ({e})"),
        )
    })?;
    let want = hex::encode(digest);
    let found = statement
        .get("subject")
        .and_then(Value::as_array)
        .is_some_and(|subjects| {
            subjects.iter().any(|s| {
                s.pointer("/digest/sha256")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.eq_ignore_ascii_case(&want))
            })
        });
    if !found {
        return Err(err(
            ErrorKind::ArtifactMismatch,
            format!("artifact sha256:{want} is not a subject of the in-toto statement"),
        ));
    }
    Ok(statement)
}

/// Arguments of `tollgate verify-bundle`, independent of the CLI parser.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The bundle file.
    pub bundle: &'a Path,
    /// The trusted root file.
    pub trusted_root: Option<&'a Path>,
    /// A PEM public key file (key-signed bundles).
    pub key: Option<&'a Path>,
    /// Expected identity, exact.
    pub identity: Option<&'a str>,
    /// Expected identity, regexp.
    pub identity_regexp: Option<&'a str>,
    /// Expected OIDC issuer, exact.
    pub issuer: Option<&'a str>,
    /// Expected OIDC issuer, regexp.
    pub issuer_regexp: Option<&'a str>,
    /// Skip the transparency log.
    pub skip_tlog: bool,
    /// `FILE_OR_DIGEST`.
    pub artifact: &'a str,
}

fn usage(m: impl Into<String>) -> Error {
    err(ErrorKind::Usage, m)
}

fn read(path: &Path, what: &str, limit: usize) -> Result<Vec<u8>, Error> {
    let meta = std::fs::metadata(path)
        .map_err(|e| usage(format!("cannot read {what} {}: {e}", path.display())))?;
    if meta.len() > limit as u64 {
        return Err(usage(format!(
            "{what} {} is larger than the {limit}-byte limit",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| usage(format!("cannot read {what} {}: {e}", path.display())))
}

fn matcher(exact: Option<&str>, regexp: Option<&str>, flag: &str) -> Result<Matcher, Error> {
    if exact.is_some() && regexp.is_some() {
        return Err(usage(format!("pass --{flag} or --{flag}-regexp, not both")));
    }
    Matcher::of(exact, regexp)
        .map_err(|e| usage(format!("--{flag}-regexp is not a valid regular expression: {e}")))?
        .ok_or_else(|| {
            usage(format!(
                "keyless verification needs --{flag} (or --{flag}-regexp); key-signed bundles need --key"
            ))
        })
}

/// Largest artifact read into memory.
const MAX_ARTIFACT_BYTES: usize = 1 << 30;

/// Reads the inputs of `verify-bundle` and verifies, at the current time.
pub fn run(req: &Request<'_>) -> Result<Verified, Error> {
    let root_path = req.trusted_root.ok_or_else(|| {
        usage("verification is offline: pass the Sigstore trusted root with --trusted-root FILE")
    })?;
    let root = TrustedRoot::parse(&read(root_path, "trusted root", trust::MAX_ROOT_BYTES)?)?;
    let expected = match req.key {
        Some(path) => {
            if req.identity.is_some() || req.issuer.is_some() {
                return Err(usage(
                    "pass either --key or --certificate-identity/--certificate-oidc-issuer",
                ));
            }
            let pem = read(path, "public key", 1 << 20)?;
            let pem = String::from_utf8(pem)
                .map_err(|_| usage(format!("key {} is not PEM text", path.display())))?;
            let key = PublicKey::from_pem(&pem)
                .map_err(|e| usage(format!("key {}: {e}", path.display())))?;
            let (_, spki_der) = der::pem::decode_vec(pem.trim().as_bytes())
                .map_err(|e| usage(format!("key {}: {e}", path.display())))?;
            Expected::Key { key, spki_der }
        }
        None => Expected::Keyless {
            identity: matcher(req.identity, req.identity_regexp, "certificate-identity")?,
            issuer: matcher(req.issuer, req.issuer_regexp, "certificate-oidc-issuer")?,
        },
    };
    let artifact = artifact_arg(req.artifact)?;
    let bundle = read(req.bundle, "bundle", bundle::MAX_BUNDLE_BYTES)?;
    verify(
        &bundle,
        &root,
        &artifact,
        &expected,
        &Options {
            skip_tlog: req.skip_tlog,
            now: Timestamp::now(),
        },
    )
}

/// `FILE_OR_DIGEST`: a digest only when it is `sha256:` + 64 hex digits and no such file exists.
pub fn artifact_arg(arg: &str) -> Result<Artifact, Error> {
    if let Some(hex_part) = arg.strip_prefix("sha256:")
        && hex_part.len() == 64
        && !Path::new(arg).exists()
    {
        let bytes = hex::decode(hex_part)
            .map_err(|_| usage(format!("`{arg}` is not a sha256 digest (64 hex digits)")))?;
        let mut d = [0u8; 32];
        d.copy_from_slice(&bytes);
        return Ok(Artifact::Digest(d));
    }
    read(Path::new(arg), "artifact", MAX_ARTIFACT_BYTES).map(Artifact::Bytes)
}
