//! tollgate: a stateless CI/CD gate.
//!
//! Data flows one way: [`cli`] arguments → [`manifest`] + [`context`] + [`evidence`] →
//! verification facts ([`verify`]) → one [`input`] document → [`policy`] evaluation →
//! [`finding`]s → [`report`]ers → exit code. Only `main` prints or exits.

pub mod app;
pub mod attest;
pub mod attestation;
pub mod audit;
pub mod cli;
pub mod cli_opa;
pub mod context;
pub mod cosign;
pub mod diagnostic;
pub mod evidence;
pub mod finding;
pub mod governance;
pub mod init;
pub mod input;
pub mod keystore;
pub mod manifest;
pub mod policy;
pub mod referrers;
pub mod registry;
pub mod rego;
pub mod report;
pub mod rules;
pub mod signing;
pub mod sigstore;
pub mod verify;
