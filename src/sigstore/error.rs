//! The classified error of Sigstore bundle verification: which step failed and why.

use std::fmt;

/// The step of verification that rejected a bundle, so callers (the registry path, Rego facts)
/// can tell a malformed bundle from a forged one without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The bundle is not valid JSON, has an unknown media type or misses a required field.
    MalformedBundle,
    /// The trusted root is unreadable, or an entry of it that verification needs is malformed.
    MalformedTrustRoot,
    /// The caller's inputs do not fit the bundle (a key for a keyless bundle, no key, ...).
    Usage,
    /// The signing certificate does not chain to a trusted Fulcio CA at the signing time.
    Certificate,
    /// The certificate's identity or OIDC issuer is not the expected one.
    Identity,
    /// No valid signed certificate timestamp (SCT) from a trusted CT log.
    Sct,
    /// The artifact signature (or DSSE signature) does not verify.
    Signature,
    /// The artifact, digest or DSSE subject does not match the bundle.
    ArtifactMismatch,
    /// A transparency-log entry failed (SET, inclusion proof, checkpoint, body, log key).
    TransparencyLog,
    /// An RFC 3161 timestamp failed (token, TSA chain, imprint, validity).
    Timestamp,
    /// A signing time is outside a validity window, or no signed time exists.
    Time,
}

/// Why a bundle was rejected: the failed step and a message naming what failed and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The failed step.
    pub kind: ErrorKind,
    /// A one-line, human-readable reason.
    pub message: String,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand constructors used throughout the module.
pub(crate) fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::MalformedBundle, message)
}

pub(crate) fn err(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message)
}
