//! Unit tests of the Sigstore primitives on real conformance data (fixtures/sigstore-conformance)
//! and hostile input.

use super::bundle::{self, Content, pae};
use super::error::ErrorKind;
use super::trust::{TrustedRoot, Validity};
use super::{Artifact, Expected, Matcher, Options, artifact_arg, crypto, tlog, verify};
use jiff::Timestamp;
use std::path::PathBuf;

fn fixture(rel: &str) -> Vec<u8> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "fixtures/sigstore-conformance",
        rel,
    ]
    .iter()
    .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn production_root() -> TrustedRoot {
    TrustedRoot::parse(&fixture("production_trusted_root.json")).expect("production root parses")
}

fn happy_v03() -> bundle::Bundle {
    bundle::parse(&fixture(
        "bundle-verify/happy-path-v0.3/bundle.sigstore.json",
    ))
    .expect("parses")
}

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn keyless() -> Expected {
    Expected::Keyless {
        identity: Matcher::Exact(IDENTITY.into()),
        issuer: Matcher::Exact(ISSUER.into()),
    }
}

fn options() -> Options {
    Options {
        skip_tlog: false,
        now: Timestamp::now(),
    }
}

#[test]
fn merkle_inclusion_proof_of_a_real_entry() {
    let b = happy_v03();
    let entry = &b.tlog_entries[0];
    let proof = entry.proof.as_ref().expect("proof");
    let root = tlog::root_from_proof(
        tlog::leaf_hash(&entry.body),
        proof.log_index,
        proof.tree_size,
        &proof.hashes,
    )
    .expect("path has the right shape");
    assert_eq!(root.as_slice(), proof.root_hash.as_slice());
    assert!(tlog::verify_inclusion(entry, proof).is_ok());

    // One flipped bit anywhere in the path changes the root.
    let mut bad = proof.clone();
    bad.hashes[3][0] ^= 1;
    let e = tlog::verify_inclusion(entry, &bad).expect_err("flipped bit");
    assert!(e.message.contains("inclusion proof does not lead"), "{e}");
    // A neighbouring index or a shorter path does not verify either.
    assert_ne!(
        tlog::root_from_proof(
            tlog::leaf_hash(&entry.body),
            proof.log_index + 1,
            proof.tree_size,
            &proof.hashes
        ),
        Some(root)
    );
    assert_eq!(
        tlog::root_from_proof(
            tlog::leaf_hash(&entry.body),
            proof.log_index,
            proof.tree_size,
            &proof.hashes[1..]
        ),
        None
    );
    assert_eq!(
        tlog::root_from_proof([0; 32], 5, 5, &[]),
        None,
        "index outside the tree"
    );
}

#[test]
fn merkle_small_trees() {
    // A one-leaf tree's root is the leaf hash; in a two-leaf tree the path is the sibling.
    let a = tlog::leaf_hash(b"a");
    let b = tlog::leaf_hash(b"b");
    assert_eq!(tlog::root_from_proof(a, 0, 1, &[]), Some(a));
    let mut h = sha2::Sha256::default();
    sha2::Digest::update(&mut h, [1u8]);
    sha2::Digest::update(&mut h, a);
    sha2::Digest::update(&mut h, b);
    let root: [u8; 32] = sha2::Digest::finalize(h).into();
    assert_eq!(tlog::root_from_proof(a, 0, 2, &[b.to_vec()]), Some(root));
    assert_eq!(tlog::root_from_proof(b, 1, 2, &[a.to_vec()]), Some(root));
}

#[test]
fn set_canonical_json_and_signature() {
    let b = happy_v03();
    let entry = &b.tlog_entries[0];
    let payload = String::from_utf8(tlog::set_payload(entry)).expect("utf-8");
    assert!(payload.starts_with("{\"body\":\""), "{payload}");
    assert!(
        payload.ends_with(
            "\"integratedTime\":1710869186,\"logID\":\"c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d\",\"logIndex\":79571823}"
        ),
        "{payload}"
    );
    let root = production_root();
    let log = root.tlog_at(&entry.log_id, None).expect("log");
    let key = crypto::parse_key(&log.key).expect("key");
    let set = entry.set.as_ref().expect("set");
    assert!(tlog::verify_set(entry, set, &key).is_ok());
    let mut tampered = entry.clone();
    tampered.integrated_time += 1;
    let e = tlog::verify_set(&tampered, set, &key).expect_err("time changed");
    assert_eq!(e.kind, ErrorKind::TransparencyLog);
}

#[test]
fn pae_matches_the_dsse_spec() {
    // The DSSE specification's own example.
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    let b = bundle::parse(&fixture(
        "bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json",
    ))
    .expect("parses");
    let Content::Dsse(env) = &b.content else {
        panic!("DSSE bundle expected");
    };
    assert!(
        env.pae()
            .starts_with(b"DSSEv1 28 application/vnd.in-toto+json ")
    );
}

#[test]
fn validity_windows_are_closed() {
    let t = |s: &str| s.parse::<Timestamp>().expect("time");
    let v = Validity {
        start: Some(t("2025-01-01T00:00:00Z")),
        end: Some(t("2025-06-12T12:02:20Z")),
    };
    assert!(v.contains(t("2025-01-01T00:00:00Z")), "start is inclusive");
    assert!(v.contains(t("2025-06-12T12:02:20Z")), "end is inclusive");
    assert!(!v.contains(t("2025-06-12T12:02:21Z")));
    assert!(!v.contains(t("2024-12-31T23:59:59Z")));
    let open = Validity {
        start: Some(t("2025-01-01T00:00:00Z")),
        end: None,
    };
    assert!(open.contains(t("2099-01-01T00:00:00Z")));
}

#[test]
fn log_key_without_start_is_malformed() {
    let root = TrustedRoot::parse(&fixture(
        "bundle-verify/trust-root-tlog-missing-validity-start_fail/trusted_root.json",
    ))
    .expect("root parses");
    let b = bundle::parse(&fixture(
        "bundle-verify/trust-root-tlog-missing-validity-start_fail/bundle.sigstore.json",
    ))
    .expect("bundle parses");
    let e = root
        .tlog_at(&b.tlog_entries[0].log_id, None)
        .expect_err("no start");
    assert_eq!(e.kind, ErrorKind::MalformedTrustRoot);
}

#[test]
fn checkpoint_parsing() {
    let note = "log.example\n7\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\nextra\n\n\u{2014} log.example AAAAAQID\n\u{2014} witness.example BBBBBBBB\n";
    let cp = tlog::parse_checkpoint(note).expect("parses");
    assert_eq!(cp.origin, "log.example");
    assert_eq!(cp.size, 7);
    assert_eq!(cp.signatures.len(), 2);
    assert_eq!(
        cp.text,
        "log.example\n7\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\nextra\n"
    );
    for bad in [
        "",
        "log.example\n7\n",
        "log.example\nseven\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n\n\u{2014} a AAAAAQID\n",
        "log.example\n7\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n\n",
        "log.example\n7\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n\n- a AAAAAQID\n",
    ] {
        assert!(tlog::parse_checkpoint(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn happy_path_verifies_and_reports_the_signer() {
    let v = verify(
        &fixture("bundle-verify/happy-path-v0.3/bundle.sigstore.json"),
        &production_root(),
        &Artifact::Bytes(fixture("bundle-verify/a.txt")),
        &keyless(),
        &options(),
    )
    .expect("verifies");
    assert_eq!(
        v.signer,
        super::VerifiedSigner::Identity {
            identity: IDENTITY.into(),
            issuer: ISSUER.into()
        }
    );
    assert_eq!(
        v.signing_time,
        Some(Timestamp::from_second(1710869186).expect("t"))
    );
    assert_eq!(v.log_indexes, vec![79571823]);
}

#[test]
fn dsse_bundle_returns_the_statement() {
    let v = verify(
        &fixture("bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json"),
        &production_root(),
        &Artifact::Bytes(fixture("bundle-verify/a.txt")),
        &keyless(),
        &options(),
    )
    .expect("verifies");
    let st = v.statement.expect("statement");
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    // Another artifact is not a subject.
    let e = verify(
        &fixture("bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json"),
        &production_root(),
        &Artifact::Bytes(b"something else".to_vec()),
        &keyless(),
        &options(),
    )
    .expect_err("not a subject");
    assert_eq!(e.kind, ErrorKind::ArtifactMismatch);
}

#[test]
fn skipping_the_tlog_still_checks_signature_and_identity() {
    let opts = Options {
        skip_tlog: true,
        now: Timestamp::from_second(1710869200).expect("t"),
    };
    let ok = verify(
        &fixture("bundle-verify/happy-path-v0.3/bundle.sigstore.json"),
        &production_root(),
        &Artifact::Bytes(fixture("bundle-verify/a.txt")),
        &keyless(),
        &opts,
    );
    assert!(ok.is_ok(), "{ok:?}");
    let e = verify(
        &fixture("bundle-verify/signature-mismatch_fail/bundle.sigstore.json"),
        &production_root(),
        &Artifact::Bytes(fixture("bundle-verify/a.txt")),
        &keyless(),
        &opts,
    )
    .expect_err("bad signature");
    assert_eq!(e.kind, ErrorKind::Signature);
}

#[test]
fn artifact_argument_rule() {
    let digest = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
    assert!(matches!(artifact_arg(digest), Ok(Artifact::Digest(_))));
    // Wrong length or not hex: a path (which does not exist here).
    assert!(artifact_arg("sha256:abc").is_err());
    let e = artifact_arg("sha256:zz0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01b")
        .expect_err("not hex");
    assert_eq!(e.kind, ErrorKind::Usage);
    // An existing file named like a digest is a file.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(digest);
    std::fs::write(&path, b"x").expect("write");
    assert!(matches!(
        artifact_arg(path.to_str().expect("utf-8")),
        Ok(Artifact::Bytes(b)) if b == b"x"
    ));
}

#[test]
fn hostile_bundles_are_rejected_cleanly() {
    let good = fixture("bundle-verify/happy-path-v0.3/bundle.sigstore.json");
    // Truncated at every 97th byte: never a panic, always a malformed-bundle error.
    for cut in (0..good.len()).step_by(97) {
        let e = bundle::parse(&good[..cut]).expect_err("truncated");
        assert_eq!(e.kind, ErrorKind::MalformedBundle, "cut at {cut}: {e}");
    }
    // Deeply nested JSON hits serde_json's recursion limit, not the stack.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        bundle::parse(deep.as_bytes()).expect_err("deep").kind,
        ErrorKind::MalformedBundle
    );
    let deep_root = format!(
        "{{\"mediaType\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(TrustedRoot::parse(deep_root.as_bytes()).is_err());
    // A thousand log entries: refused before any signature work.
    let mut many: serde_json::Value = serde_json::from_slice(&good).expect("json");
    let entry = many["verificationMaterial"]["tlogEntries"][0].clone();
    many["verificationMaterial"]["tlogEntries"] = serde_json::Value::Array(vec![entry; 1000]);
    let e = bundle::parse(&serde_json::to_vec(&many).expect("json")).expect_err("many");
    assert!(e.message.contains("at most 16"), "{e}");
    // Larger than the limit: refused before parsing.
    let huge = vec![b' '; bundle::MAX_BUNDLE_BYTES + 1];
    let e = bundle::parse(&huge).expect_err("huge");
    assert!(e.message.contains("limit"), "{e}");
    // Garbage where DER is expected: certificate, timestamp.
    let text = String::from_utf8(good).expect("utf-8");
    let garbage = text.replacen("\"rawBytes\": \"MIII", "\"rawBytes\": \"AAAA", 1);
    let e = verify(
        garbage.as_bytes(),
        &production_root(),
        &Artifact::Bytes(fixture("bundle-verify/a.txt")),
        &keyless(),
        &options(),
    )
    .expect_err("garbage certificate");
    assert_eq!(e.kind, ErrorKind::Certificate, "{e}");
    let ts = super::tsa::verify(
        0,
        &[0x30, 0x82, 0xff, 0xff, 0x01],
        b"sig",
        &production_root(),
    )
    .expect_err("garbage token");
    assert_eq!(ts.kind, ErrorKind::Timestamp);
}

#[test]
fn integrated_time_without_set_is_not_a_signed_time() {
    let mut json: serde_json::Value = serde_json::from_slice(&fixture(
        "bundle-verify/happy-path-v0.3/bundle.sigstore.json",
    ))
    .expect("json");
    let entry = &mut json["verificationMaterial"]["tlogEntries"][0];
    entry
        .as_object_mut()
        .expect("object")
        .remove("inclusionPromise");
    let e = verify(
        &serde_json::to_vec(&json).expect("json"),
        &production_root(),
        &Artifact::Bytes(fixture("bundle-verify/a.txt")),
        &keyless(),
        &options(),
    )
    .expect_err("unsigned integrated time");
    assert_eq!(e.kind, ErrorKind::Time, "{e}");
    assert!(e.message.contains("no verified signing time"), "{e}");
}

#[test]
fn only_code_signing_end_entity_certificates_sign() {
    let root = production_root();
    let leaf = happy_v03();
    let bundle::Signer::Certificate { leaf, .. } = &leaf.signer else {
        panic!("keyless bundle expected");
    };
    let leaf = super::certs::parse(leaf, "leaf").expect("leaf");
    assert!(super::certs::check_leaf_usage(&leaf).is_ok());
    // The Fulcio intermediate has codeSigning too, but is a CA.
    let intermediate = root
        .certificate_authorities
        .iter()
        .find(|a| a.chain.len() > 1)
        .expect("a CA with an intermediate");
    let ca = super::certs::parse(&intermediate.chain[0], "intermediate").expect("parses");
    let e = super::certs::check_leaf_usage(&ca).expect_err("CA");
    assert!(e.message.contains("CA certificate"), "{e}");
    // A timestamping certificate is not for code signing.
    let tsa = super::certs::parse(&root.timestamp_authorities[0].chain[0], "tsa").expect("parses");
    let e = super::certs::check_leaf_usage(&tsa).expect_err("TSA leaf");
    assert!(e.message.contains("code signing"), "{e}");
}

#[test]
fn integrated_time_in_the_future_is_rejected() {
    // Seen from a clock before the entry's integrated time (2024-03-19), the entry is from the
    // future: rejected even though every signature verifies.
    let e = verify(
        &fixture("bundle-verify/happy-path-v0.3/bundle.sigstore.json"),
        &production_root(),
        &Artifact::Bytes(fixture("bundle-verify/a.txt")),
        &keyless(),
        &Options {
            skip_tlog: false,
            now: "2024-01-01T00:00:00Z".parse().expect("time"),
        },
    )
    .expect_err("future");
    assert_eq!(e.kind, ErrorKind::Time);
    assert!(e.message.contains("in the future"), "{e}");
}
