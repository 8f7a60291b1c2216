//! The input document (schema 1): the one contract between gathered facts and the policies.
//!
//! Built once per run from the manifest, context, evidence and verification facts; printed by
//! `--print-input` and documented in the README ("The input document").

use crate::context::Context;
use crate::evidence::Evidence;
use crate::manifest::LoadedManifest;
use crate::verify::ImageFacts;
use serde::Serialize;
use std::collections::BTreeMap;

/// The version of the input document's shape; bumped on any incompatible change.
pub const INPUT_SCHEMA: u32 = 1;

/// A valid sign-off for a role (filled in by sign-off verification).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignoffFact {
    /// Key-store name of the signer.
    pub signer: String,
    /// RFC 3339 time of signing.
    pub time: String,
}

/// `input`, as policies see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputDocument {
    /// [`INPUT_SCHEMA`].
    pub schema: u32,
    /// RFC 3339 time of the run (UTC).
    pub now: String,
    /// The manifest exactly as written.
    pub manifest: serde_json::Value,
    /// The manifest path as given.
    pub manifest_file: String,
    /// The normalised pipeline context.
    pub context: Context,
    /// Test and scan evidence.
    pub evidence: Evidence,
    /// Verification facts per manifest image name.
    pub images: BTreeMap<String, ImageFacts>,
    /// Valid sign-offs per role.
    pub signoffs: BTreeMap<String, Vec<SignoffFact>>,
    /// Sign-offs that do not count (bad signature, unknown key, wrong role, other manifest,
    /// malformed), with why; reported by the `signoff-invalid` rule.
    pub signoff_problems: Vec<crate::governance::SignoffProblem>,
    /// Waivers that apply. Waivers are applied after policy evaluation, so policies see `[]`;
    /// the list is filled in for the audit trail and `--print-input` shows the loaded ones.
    pub waivers: Vec<serde_json::Value>,
}

impl InputDocument {
    /// Assembles the document.
    pub fn new(
        manifest: &LoadedManifest,
        context: Context,
        evidence: Evidence,
        images: BTreeMap<String, ImageFacts>,
        now: jiff::Timestamp,
    ) -> InputDocument {
        InputDocument {
            schema: INPUT_SCHEMA,
            now: now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            manifest: manifest.json.clone(),
            manifest_file: manifest.display.clone(),
            context,
            evidence,
            images,
            signoffs: BTreeMap::new(),
            signoff_problems: Vec::new(),
            waivers: Vec::new(),
        }
    }
}
