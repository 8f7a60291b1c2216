//! Metadata for the builtin rule ids: one table that SARIF, Markdown and JUnit share.
//!
//! `policies/lib.rego` decides a finding's severity, help and waivability; this table only
//! describes each rule for reports (short and full descriptions, help in text and Markdown, tags,
//! and GitHub's `security-severity`). A test keeps the ids in step with the Rego catalogue.

use crate::finding::Severity;

/// How a builtin rule is described in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    /// The stable rule id (`image-not-pinned`).
    pub id: &'static str,
    /// A one-sentence description (SARIF `shortDescription`, ≤ 1024 characters).
    pub short: &'static str,
    /// What the rule checks, in full (SARIF `fullDescription`, ≤ 1024 characters).
    pub full: &'static str,
    /// How to fix a finding, as plain text.
    pub help: &'static str,
    /// The default severity in the Rego catalogue.
    pub severity: Severity,
    /// Tags (SARIF `properties.tags`): `security` marks a security rule for GitHub.
    pub tags: &'static [&'static str],
}

impl RuleInfo {
    /// Whether GitHub should treat the rule as a security rule.
    pub fn is_security(&self) -> bool {
        self.tags.contains(&"security")
    }
}

const SUPPLY: &[&str] = &["security", "supply-chain", "tollgate"];
const ACCESS: &[&str] = &["security", "access-control", "tollgate"];
const EVIDENCE: &[&str] = &["evidence", "quality", "tollgate"];
const SCANS: &[&str] = &["security", "evidence", "tollgate"];
const COMPLIANCE: &[&str] = &["security", "compliance", "tollgate"];
const RELIABILITY: &[&str] = &["reliability", "tollgate"];

/// Every builtin rule, in the order of the README's rule catalogue.
pub const BUILTIN_RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "image-not-pinned",
        short: "A shipped image is not referenced by digest.",
        full: "images[i].ref has no @sha256: digest, so what is deployed can change after the gate \
               passed. An error when deploy.environment is a protected environment, otherwise a warning.",
        help: "Reference the image by digest (name@sha256:...), e.g. with the digest printed by your \
               registry push.",
        severity: Severity::Error,
        tags: SUPPLY,
    },
    RuleInfo {
        id: "image-registry-not-approved",
        short: "A shipped image comes from a registry that is not approved.",
        full: "images[i].ref does not start with any approved_registries prefix (compared after \
               Docker-style normalisation, at a path boundary).",
        help: "Push the image to an approved registry or add the registry prefix to \
               approved_registries in the policy data.",
        severity: Severity::Error,
        tags: SUPPLY,
    },
    RuleInfo {
        id: "base-image-not-approved",
        short: "An image is built on a base image that is not approved.",
        full: "images[i].base does not start with any approved_base_images prefix.",
        help: "Rebuild the image on an approved base image or add the base to approved_base_images \
               in the policy data.",
        severity: Severity::Error,
        tags: SUPPLY,
    },
    RuleInfo {
        id: "image-signature-missing",
        short: "A shipped image has no valid signature from an image-signer key.",
        full: "images[i].signed is true (the default) and verification found no valid signature by \
               a keystore key holding the image-signer role; an image nobody verified is unsigned.",
        help: "Sign the image digest with a key that holds the image-signer role in the keystore \
               (e.g. cosign sign --key).",
        severity: Severity::Error,
        tags: SUPPLY,
    },
    RuleInfo {
        id: "image-attestation-missing",
        short: "A required signed attestation is missing, or was built by an unapproved builder.",
        full: "A predicate type listed in images[i].attestations has no valid signed attestation, \
               or (when slsa_builders is set) the SLSA provenance names a builder that is not listed.",
        help: "Attach a signed attestation of the required predicate type from an approved builder \
               (e.g. cosign attest --type).",
        severity: Severity::Error,
        tags: SUPPLY,
    },
    RuleInfo {
        id: "iam-role-prohibited",
        short: "The deployment asks for a prohibited IAM role.",
        full: "An entry of deploy.iam_roles matches a prohibited_iam_roles glob (matched against the \
               full ARN, the role name with its path, the last path segment and the part after the \
               last colon).",
        help: "Deploy with a least-privilege role that does not match prohibited_iam_roles.",
        severity: Severity::Error,
        tags: ACCESS,
    },
    RuleInfo {
        id: "resource-quota-exceeded",
        short: "Requested resources exceed the environment's quota.",
        full: "deploy.resources cpu, memory or replicas (Kubernetes quantities) exceed \
               quotas[environment], or quotas[\"*\"] when the environment has no entry.",
        help: "Lower deploy.resources to the environment's quota or raise the quota in the policy \
               data.",
        severity: Severity::Error,
        tags: RELIABILITY,
    },
    RuleInfo {
        id: "test-report-missing",
        short: "A required test report was not found or could not be read.",
        full: "The JUnit XML report named by requirements.tests[i].report is missing, unreadable or \
               malformed.",
        help: "Run the test suite before the gate and write its JUnit XML report to the path given in \
               the manifest.",
        severity: Severity::Error,
        tags: EVIDENCE,
    },
    RuleInfo {
        id: "test-failed",
        short: "A required test suite failed or ran too few tests.",
        full: "The test report's pass rate (passed / executed) is below min_pass_rate (default 100), \
               or fewer than min_tests tests were executed (default 1).",
        help: "Fix the failing tests (or add tests) until the pass rate and test count meet the \
               requirement.",
        severity: Severity::Error,
        tags: EVIDENCE,
    },
    RuleInfo {
        id: "scan-report-missing",
        short: "A required security scan report was not found or could not be read.",
        full: "The SARIF report named by requirements.scans[i].report is missing, unreadable or \
               malformed.",
        help: "Run the scanner before the gate and write its SARIF report to the path given in the \
               manifest.",
        severity: Severity::Error,
        tags: SCANS,
    },
    RuleInfo {
        id: "scan-threshold-exceeded",
        short: "A security scan found more, or more severe, findings than allowed.",
        full: "The scan report has findings above max_severity (none < low < medium < high < \
               critical), or more findings in total than max_findings.",
        help: "Fix or suppress the reported findings, or relax max_severity / max_findings in the \
               manifest.",
        severity: Severity::Error,
        tags: SCANS,
    },
    RuleInfo {
        id: "signoff-missing",
        short: "A required sign-off is missing.",
        full: "requirements.signoffs[i] needs min distinct signers holding the role in the keystore, \
               and fewer valid sign-offs were found.",
        help: "Collect signed sign-offs from distinct keystore keys holding the role (tollgate \
               signoff).",
        severity: Severity::Error,
        tags: ACCESS,
    },
    RuleInfo {
        id: "data-residency-violation",
        short: "A data class would be deployed to a region it may not live in.",
        full: "A deploy.data_classes entry with a residency policy is deployed to a deploy.regions \
               entry that matches none of its allowed region globs.",
        help: "Deploy this data class only to regions allowed by the residency policy, or remove the \
               region.",
        severity: Severity::Error,
        tags: COMPLIANCE,
    },
    RuleInfo {
        id: "protected-ref-required",
        short: "A protected environment is deployed from an unprotected ref.",
        full: "deploy.environment is one of protected_environments and the pipeline context does \
               not say the ref is protected.",
        help: "Deploy protected environments only from a protected branch or tag (e.g. merge to \
               main first).",
        severity: Severity::Error,
        tags: ACCESS,
    },
    RuleInfo {
        id: "signoff-invalid",
        short: "A sign-off does not count.",
        full: "A file in the sign-off folder has a bad signature, is signed by a key the key store \
               does not hold or that lacks signoff:<role>, approves a different (older) manifest, or \
               is malformed. It is ignored; this warning says why.",
        help: "Sign off again with `tollgate signoff` using a key-store key that holds signoff:<role>, after the last manifest change.",
        severity: Severity::Warning,
        tags: ACCESS,
    },
    RuleInfo {
        id: "waiver-invalid",
        short: "A waiver does not apply.",
        full: "A waiver in the waivers file is unsigned or its signature is broken, its key may not \
               waive the rule, it has expired or outlives the maximum lifetime, it matches no finding, \
               or the finding it matches is not waivable. Produced by tollgate, not by a policy.",
        help: "Fix the waiver: sign it with `tollgate waiver sign` using a key whose scopes cover the rule, keep it unexpired and within the maximum lifetime, or remove it.",
        severity: Severity::Warning,
        tags: ACCESS,
    },
];

/// The metadata of a builtin rule id, or `None` for a user rule.
pub fn builtin_rule(id: &str) -> Option<&'static RuleInfo> {
    BUILTIN_RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_rego_catalogue() {
        let rego = include_str!("../policies/lib.rego");
        let start = rego.find("rules := {").expect("rules table");
        let end = rego[start..].find("\n}\n").expect("end of table") + start;
        let ids: Vec<&str> = rego[start..end]
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"')?.split('"').next())
            .filter(|l| l.contains('-'))
            .collect();
        let ours: Vec<&str> = BUILTIN_RULES.iter().map(|r| r.id).collect();
        let mut a = ids.clone();
        let mut b = ours.clone();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        for rule in BUILTIN_RULES {
            assert!(
                rego.contains(rule.help),
                "help for {} matches lib.rego",
                rule.id
            );
            assert!(rule.short.len() <= 1024 && rule.full.len() <= 1024);
        }
        assert!(builtin_rule("image-not-pinned").is_some());
        assert!(builtin_rule("team.deny").is_none());
    }
}
