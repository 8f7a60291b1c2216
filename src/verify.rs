//! The image-verification seam: what `check` knows about each image it ships.
//!
//! `check` asks an [`ImageVerifier`] for the facts of every manifest image and puts them, unjudged,
//! into `input.images`; the policies decide. Until a key store is configured, [`NotConfigured`]
//! reports every image as unverified with the reason, so `image-signature-missing` denies: an image
//! nobody checked is never treated as signed.

use crate::manifest::Image;
use serde::Serialize;

/// What verification established about one image (`input.images.<name>`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageFacts {
    /// The reference as written in the manifest.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The digest the reference resolved to; `None` until resolved in the registry.
    pub digest: Option<String>,
    /// Verification ran to a conclusion (whatever it was).
    pub verified: bool,
    /// A valid signature by an image-signer key was found.
    pub signed: bool,
    /// Distinct key-store names with a valid signature.
    pub signers: Vec<String>,
    /// Valid, signed attestations.
    pub attestations: Vec<AttestationFact>,
    /// Attestations that were found but do not count (bad signature, untrusted key, another
    /// image's subject, malformed), with why; never an attestation. Absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attestation_problems: Vec<AttestationProblem>,
    /// Why verification did not run or did not succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ImageFacts {
    /// Facts for an image that could not be verified, with the reason.
    pub fn unverified(image: &Image, reason: impl Into<String>) -> ImageFacts {
        ImageFacts {
            reference: image.reference.clone(),
            digest: None,
            verified: false,
            signed: false,
            signers: Vec::new(),
            attestations: Vec::new(),
            attestation_problems: Vec::new(),
            error: Some(reason.into()),
        }
    }
}

/// One valid attestation on an image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttestationFact {
    /// The in-toto predicate type.
    pub predicate_type: String,
    /// The key-store name that signed it.
    pub signer: String,
    /// The decoded predicate.
    pub predicate: serde_json::Value,
}

/// An attestation that was attached to the image but is not a fact: why it does not count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttestationProblem {
    /// The predicate type it claims: the signed statement's when it could be read, else the
    /// unsigned `predicateType` layer annotation (a hint only), else `None`.
    pub predicate_type: Option<String>,
    /// `malformed` | `bad-signature` (no trusted key verifies it) | `subject-mismatch` (the
    /// statement is about another digest).
    pub problem: &'static str,
    /// What is wrong and where (`sha256-<hex>.att layer N: …`).
    pub message: String,
}

/// Establishes the facts about an image. Implementations never decide pass or fail.
pub trait ImageVerifier {
    /// Verifies one manifest image.
    fn verify(&self, image: &Image) -> ImageFacts;
}

/// The verifier used when no key store or key is configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotConfigured;

impl ImageVerifier for NotConfigured {
    fn verify(&self, image: &Image) -> ImageFacts {
        if !image.signed {
            return ImageFacts::unverified(
                image,
                "not verified: the manifest sets `signed: false`",
            );
        }
        ImageFacts::unverified(
            image,
            "not verified: no key store is configured, so no signature can be trusted",
        )
    }
}
