//! A third-party cosign signer and verifier for tollgate's registry tests, on the `sigstore` crate.
//!
//! tollgate's own code never writes the signatures its tests verify; this tool lets the tests
//! check the legacy `.sig` format against a second implementation in both directions:
//!
//!   sigstore-sign sign KEY PASSWORD_FILE IMAGE [KEY=VALUE...]   push a signature (sigstore's push_signature)
//!   sigstore-sign verify PUBLIC_KEY IMAGE                     trusted_signature_layers + the key
//!
//! KEY is a cosign encrypted private key (`ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY`). IMAGE is
//! `host:port/repo:tag` on a plain-HTTP registry (the tests' loopback registry). `verify` prints
//! the number of verified layers and exits 0, or exits 1 when the key matches no layer; any other
//! failure exits 2. It lives in its own workspace so the sigstore crate stays out of tollgate's
//! dependency tree.

use sigstore::cosign::constraint::{AnnotationMarker, PrivateKeySigner};
use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraint};
use sigstore::cosign::{Constraint, CosignCapabilities, SignatureLayer};
use sigstore::crypto::SigningScheme;
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};
use std::collections::HashMap;
use std::process::ExitCode;

type Error = Box<dyn std::error::Error>;

fn client() -> Result<sigstore::cosign::Client, Error> {
    // The tests' registry is plain HTTP on 127.0.0.1.
    let config = ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    };
    Ok(sigstore::cosign::ClientBuilder::default()
        .with_oci_client_config(config)
        .build()?)
}

async fn sign(
    key: &str,
    password_file: &str,
    image: &str,
    annotations: &[String],
) -> Result<(), Error> {
    let image: OciReference = image.parse()?;
    let mut client = client()?;
    let (signature_image, digest) = client.triangulate(&image, &Auth::Anonymous).await?;
    let mut layer = SignatureLayer::new_unsigned(&image, &digest)?;
    let values: HashMap<String, String> = annotations
        .iter()
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if !values.is_empty() {
        AnnotationMarker {
            annotations: values,
        }
        .add_constraint(&mut layer)?;
    }
    let password = std::fs::read_to_string(password_file)?;
    let signer = PrivateKeySigner::new_with_raw(
        zeroize::Zeroizing::new(std::fs::read(key)?),
        zeroize::Zeroizing::new(password.trim_end_matches('\n').as_bytes().to_vec()),
        &SigningScheme::ECDSA_P256_SHA256_ASN1,
    )?;
    signer.add_constraint(&mut layer)?;
    client
        .push_signature(None, &Auth::Anonymous, &signature_image, vec![layer])
        .await?;
    println!("signed {digest}");
    Ok(())
}

async fn verify(public_key: &str, image: &str) -> Result<bool, Error> {
    let image: OciReference = image.parse()?;
    let mut client = client()?;
    let layers = client
        .trusted_signature_layers(&Auth::Anonymous, &image)
        .await?;
    let verifier = PublicKeyVerifier::try_from(&std::fs::read(public_key)?)?;
    let verified = layers
        .iter()
        .filter(|layer| verifier.verify(layer).unwrap_or(false))
        .count();
    println!("{verified} of {} layers verified", layers.len());
    Ok(verified > 0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["sign", key, password, image, rest @ ..] => {
            let rest: Vec<String> = rest.iter().map(|s| (*s).to_owned()).collect();
            sign(key, password, image, &rest).await.map(|()| true)
        }
        ["verify", public_key, image] => verify(public_key, image).await,
        _ => {
            eprintln!(
                "usage: sigstore-sign sign KEY PASSWORD_FILE IMAGE [K=V...] | verify PUBLIC_KEY IMAGE"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sigstore-sign: {e}");
            ExitCode::from(2)
        }
    }
}
