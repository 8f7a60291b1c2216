//! `tollgate verify-attestation`: the binary side of a drop-in for `cosign verify-attestation`
//! (keys and keyless identities). The verification is the library's ([`tollgate::attestation`]); this module prints
//! cosign's output (one verified DSSE envelope per stdout line, the checks on stderr) and returns
//! cosign's exit codes, as `tollgate verify` does.

use std::io::Write;
use std::process::ExitCode;
use tollgate::attestation::{Outcome, predicate_type_for};
use tollgate::cli::VerifyAttestationArgs;
use tollgate::context::Environment;
use tollgate::cosign::Checks;

/// Runs the command: 0 verified, 10 no attestations, 11 image not found, 12 no matching
/// attestation, 1 other. The first failing image decides the code.
pub fn verify_attestation(args: &VerifyAttestationArgs) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let env = Environment::from_process_for(&cwd, None);
    let mut err = std::io::stderr();
    let verifier = match tollgate::app::trusted_verifier(&args.trust, &env) {
        Ok(v) => v,
        Err(e) => return super::setup_failed(&mut err, e),
    };
    let wanted = predicate_type_for(&args.predicate_type);
    let mut out = std::io::stdout();
    let mut code = 0u8;
    for reference in &args.images {
        let failure = match verifier.verify_attestations(reference, wanted) {
            Outcome::Verified {
                digest,
                attestations,
            } => {
                let mut signers: Vec<&str> = attestations
                    .iter()
                    .flat_map(|a| a.signers.iter().map(String::as_str))
                    .collect();
                signers.dedup();
                let mut checks = Checks::lines(attestations.iter().map(|a| a.checks));
                let subject = format!(
                    "The statement's subject is the image digest and its predicate type is {wanted}"
                );
                checks.insert(1, &subject);
                let _ = writeln!(
                    err,
                    "\nVerification for {reference} --\nThe following checks were performed on each of these signatures:\n  - {}\nDigest: {digest}\nSigners: {}",
                    checks.join("\n  - "),
                    signers.join(", ")
                );
                for a in &attestations {
                    let _ = writeln!(out, "{}", a.envelope);
                }
                None
            }
            Outcome::NoAttestations { digest } => Some((
                10,
                format!("Error: no attestations found for {reference} ({digest})"),
            )),
            Outcome::NoMatching { digest, reasons } => Some((
                12,
                format!(
                    "Error: no matching attestations of type {wanted} for {reference} ({digest}):\n  - {}",
                    reasons.join("\n  - ")
                ),
            )),
            Outcome::NotFound(e) => Some((11, format!("Error: image {reference} not found: {e}"))),
            Outcome::Failed(e) => Some((
                1,
                format!(
                    "Error: cannot verify the attestations of {reference} ({}): {e}",
                    e.kind.as_str()
                ),
            )),
        };
        super::record_failure(&mut err, &mut code, failure);
    }
    ExitCode::from(code)
}
