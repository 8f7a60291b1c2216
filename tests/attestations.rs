//! cosign `.att` attestations from a real registry, through the real binary: the attestations
//! are DSSE envelopes signed by securesystemslib and pushed in cosign's layout by
//! tests/support/cosign_attest.py; images and signatures come from the shared rig
//! (tests/support/rig.rs). Each case asserts the exit code and the message or the facts.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "support/rig.rs"]
mod rig;

use rig::*;
use serde_json::{Value, json};

const V02: &str = "https://slsa.dev/provenance/v0.2";
const V1: &str = "https://slsa.dev/provenance/v1";
const GOOD_BUILDER: &str = "https://github.com/actions/runner";
const BAD_BUILDER: &str = "https://evil.example/builder";

#[test]
fn cosign_attestations_from_a_real_registry() {
    if prerequisites().is_none() || attestation_prerequisites().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let rig = Rig::start(&dir);
    let (trusted_key, trusted_pub) = rig.keygen("trusted");
    let (other_key, _) = rig.keygen("other");
    let trusted = trusted_pub.to_str().unwrap().to_owned();
    let key = |k: &std::path::Path| k.to_str().unwrap().to_owned();

    // Every image is signed by the trusted key, so only the attestations differ.
    let image = |repo: &str, content: &str| {
        let tag = format!("{repo}:v1");
        let digest = rig.push(&tag, content);
        rig.sign(&tag, &[(&trusted_key, &digest, &[])]);
        digest
    };
    let d_v02 = image("rig/v02", "provenance v0.2");
    let d_v1 = image("rig/v1", "provenance v1");
    let d_none = image("rig/none", "no attestation");
    let d_untrusted = image("rig/untrusted", "attested by another key");
    let d_mismatch = image("rig/mismatch", "attestation about another digest");
    let d_builder = image("rig/builder", "built elsewhere");
    let d_malformed = image("rig/malformed", "malformed envelope");
    let d_gone = image("rig/gone", "attestation blob deleted");
    let spec = |k: &std::path::Path, predicate: &str, extra: &str| {
        format!("key={},predicate={predicate}{extra}", key(k))
    };
    rig.attest(
        "rig/v02",
        &d_v02,
        &[spec(
            &trusted_key,
            "slsa02",
            &format!(",builder={GOOD_BUILDER}"),
        )],
    );
    rig.attest("rig/v1", &d_v1, &[spec(&trusted_key, "slsa1", "")]);
    rig.attest(
        "rig/untrusted",
        &d_untrusted,
        &[spec(&other_key, "slsa1", "")],
    );
    rig.attest(
        "rig/mismatch",
        &d_mismatch,
        &[spec(&trusted_key, "slsa1", &format!(",subject={d_none}"))],
    );
    rig.attest(
        "rig/builder",
        &d_builder,
        &[spec(
            &trusted_key,
            "slsa1",
            &format!(",builder={BAD_BUILDER}"),
        )],
    );
    rig.attest(
        "rig/malformed",
        &d_malformed,
        &["raw={not json,predicate=slsa1".to_owned()],
    );
    let d_huge = image("rig/huge", "attestation declared too large");
    rig.attest(
        "rig/huge",
        &d_huge,
        &[spec(&trusted_key, "slsa1", ",size=17000000")],
    );
    let d_big = image("rig/big", "attestation layer declared too large");
    rig.attest(
        "rig/big",
        &d_big,
        &[spec(&trusted_key, "slsa1", ",size=5000000")],
    );
    rig.attest(
        "rig/gone",
        &d_gone,
        &[spec(&trusted_key, "slsa1", ",delete=1")],
    );

    // One manifest per case: image `api`, with the predicate types it must carry.
    let manifest = |name: &str, repo: &str, required: &[&str]| {
        let path = dir.join(format!("{name}.yaml"));
        let list = if required.is_empty() {
            String::new()
        } else {
            format!("    attestations: [{}]\n", required.join(", "))
        };
        std::fs::write(
            &path,
            format!(
                "apiVersion: tollgate.dev/v1\nkind: Manifest\nmetadata: {{name: app, owner: team}}\nimages:\n  - name: api\n    ref: {}\n{list}",
                rig.image(&format!("{repo}:v1"))
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    };
    let builders = dir.join("builders.yaml");
    std::fs::write(
        &builders,
        format!("tollgate:\n  config:\n    slsa_builders: [\"{GOOD_BUILDER}\"]\n"),
    )
    .unwrap();
    let builders = builders.to_str().unwrap().to_owned();
    let check = |m: &str, extra: &[&str]| check_json(&dir, m, &[trusted.as_str()], extra, &[]);
    let facts = |m: &str, extra: &[&str]| -> Value {
        let mut args = vec!["--print-input"];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = check(m, &args);
        assert_eq!(code, 0, "{stderr}");
        let input: Value = serde_json::from_str(&stdout).unwrap();
        input["images"]["api"].clone()
    };
    let att_requests = |from: usize| {
        rig.registry.requests()[from..]
            .iter()
            .filter(|r| r.contains(".att") || r.contains("/blobs/"))
            .cloned()
            .collect::<Vec<_>>()
    };

    // Present, SLSA provenance v0.2 (Statement v0.1): passes; the predicate reaches the input.
    let m = manifest("v02", "rig/v02", &[V02]);
    let (code, stdout, stderr) = check(&m, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("image-attestation-missing"), "{stdout}");
    let f = facts(&m, &[]);
    assert_eq!(f["digest"], d_v02.as_str());
    assert_eq!(f["attestations"][0]["predicate_type"], V02, "{f}");
    assert_eq!(f["attestations"][0]["signer"], "trusted", "{f}");
    assert_eq!(
        f["attestations"][0]["predicate"]["builder"]["id"],
        GOOD_BUILDER
    );
    assert!(f.get("attestation_problems").is_none(), "{f}");

    // Present, SLSA provenance v1 (Statement v1): passes, also with the builder allow-list.
    let m = manifest("v1", "rig/v1", &[V1]);
    let before = rig.registry.requests().len();
    let before_all = rig.registry.access().len();
    let (code, stdout, stderr) = check(&m, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The attestation costs two requests: the `.att` manifest by digest tag and its one layer.
    let extra = att_requests(before);
    assert_eq!(extra.len(), 3, "{extra:?}"); // plus the `.sig` layer blob
    assert_eq!(extra.iter().filter(|r| r.contains(".att")).count(), 1);
    // In all, from the registry's access log: tag, `.sig` manifest and blob, `.att` manifest
    // and blob.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let all = rig.registry.access()[before_all..].to_vec();
    assert_eq!(all.len(), 5, "{all:?}");
    let (code, stdout, stderr) = check(&m, &["-d", &builders]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let f = facts(&m, &[]);
    assert_eq!(f["attestations"][0]["predicate_type"], V1, "{f}");
    assert_eq!(
        f["attestations"][0]["predicate"]["runDetails"]["builder"]["id"],
        GOOD_BUILDER
    );
    // A v0.2 requirement is not met by a v1 attestation.
    let (code, stdout, _) = check(&manifest("v1-wants-v02", "rig/v1", &[V02]), &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "image 'api' has no verified attestation with predicate type '{V02}'"
        )),
        "{stdout}"
    );

    // Absent: no `.att` at all is no attestation (not an error), and the rule denies.
    let m = manifest("none", "rig/none", &[V1]);
    let before = rig.registry.requests().len();
    let before_all = rig.registry.access().len();
    let (code, stdout, stderr) = check(&m, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    // Tag, `.sig` manifest and blob, and the `.att` manifest's 404.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let all = rig.registry.access()[before_all..].to_vec();
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(stdout.contains("image-attestation-missing"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "image 'api' has no verified attestation with predicate type '{V1}'\""
        )),
        "{stdout}"
    );
    let att: Vec<_> = att_requests(before)
        .into_iter()
        .filter(|r| r.contains(".att"))
        .collect();
    assert_eq!(att.len(), 1, "one `.att` lookup: {att:?}");
    assert!(att[0].ends_with(" 404"), "{att:?}");
    let f = facts(&m, &[]);
    assert_eq!(f["attestations"], json!([]));
    assert!(f.get("attestation_problems").is_none(), "{f}");
    // Nothing asks for attestations: no `.att` request at all.
    let before = rig.registry.requests().len();
    let (code, stdout, _) = check(&manifest("none-unasked", "rig/none", &[]), &[]);
    assert_eq!(code, 0, "{stdout}");
    let att = att_requests(before);
    assert!(!att.iter().any(|r| r.contains(".att")), "{att:?}");

    // Signed by an untrusted key: not a fact; the problem is reported; the rule denies.
    let rejected = |name: &str, repo: &str, problem: &str, why: &str| {
        let m = manifest(name, repo, &[V1]);
        let (code, stdout, stderr) = check(&m, &[]);
        assert_eq!(code, 1, "{name}: {stdout}{stderr}");

        assert!(stdout.contains("image-attestation-missing"), "{stdout}");
        assert!(
            stdout.contains("attached but rejected: sha256-"),
            "{stdout}"
        );
        assert!(stdout.contains(why), "{name}: {stdout}");
        // The human report (stderr, wrapped with `│` gutters) shows the same reason.
        let flat = |t: &str| {
            t.replace('│', " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(
            flat(&stderr).contains("attached but rejected"),
            "{name}: {stderr}"
        );
        assert!(flat(&stderr).contains(&flat(why)), "{name}: {stderr}");
        let f = facts(&m, &[]);
        assert_eq!(f["attestations"], json!([]), "{f}");
        assert_eq!(f["attestation_problems"][0]["problem"], problem, "{f}");
        assert_eq!(f["attestation_problems"][0]["predicate_type"], V1, "{f}");
        assert!(
            f["attestation_problems"][0]["message"]
                .as_str()
                .unwrap()
                .contains(why),
            "{f}"
        );
    };
    rejected(
        "untrusted",
        "rig/untrusted",
        "bad-signature",
        "the DSSE signature is not valid for any trusted image-signer key (trusted)",
    );
    // Subject naming another digest.
    rejected(
        "mismatch",
        "rig/mismatch",
        "subject-mismatch",
        &format!("the statement's subject names {d_none}, not this image's digest `{d_mismatch}`"),
    );
    // A malformed envelope: reported, not a crash.
    rejected(
        "malformed",
        "rig/malformed",
        "malformed",
        "the envelope is not JSON",
    );

    // Builder not in slsa_builders: denied, even though the manifest lists no attestation
    // (the allow-list makes tollgate fetch every image's attestations).
    let m = manifest("builder", "rig/builder", &[]);
    let (code, stdout, _) = check(&m, &[]);
    assert_eq!(code, 0, "no allow-list, nothing required: {stdout}");
    let (code, stdout, stderr) = check(&m, &["-d", &builders]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "SLSA provenance '{V1}' was produced by builder '{BAD_BUILDER}', which is not in slsa_builders"
        )),
        "{stdout}"
    );
    let f = facts(&m, &["-d", &builders]);
    assert_eq!(
        f["attestations"][0]["predicate"]["runDetails"]["builder"]["id"],
        BAD_BUILDER
    );

    // `verify-attestation`, the drop-in for `cosign verify-attestation --key`: one verified
    // envelope per stdout line, cosign's exit codes.
    let verify_att = |repo: &str, kind: &str| {
        let image = rig.image(repo);
        tollgate(
            &dir,
            &[
                "verify-attestation",
                image.as_str(),
                "--key",
                trusted.as_str(),
                "--type",
                kind,
                "--allow-http-registry",
            ],
        )
    };
    let (code, stdout, stderr) = verify_att("rig/v1:v1", "slsaprovenance1");
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("Digest: {d_v1}")), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let envelope: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    use base64::Engine as _;
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(statement["predicateType"], V1);
    let (code, _, stderr) = verify_att("rig/v02:v1", V02);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = verify_att("rig/v1:v1", "slsaprovenance");
    assert_eq!(code, 12, "{stdout}{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(&format!(
            "an attestation of type `{V1}` verified, but `{V02}` was asked for"
        )),
        "{stderr}"
    );
    let (code, _, stderr) = verify_att("rig/untrusted:v1", V1);
    assert_eq!(code, 12, "{stderr}");
    assert!(stderr.contains("not valid for any trusted"), "{stderr}");
    let (code, _, stderr) = verify_att("rig/none:v1", V1);
    assert_eq!(code, 10, "{stderr}");
    assert!(stderr.contains("no attestations found"), "{stderr}");
    let (code, _, stderr) = verify_att("rig/absent:v1", V1);
    assert_eq!(code, 11, "{stderr}");
    let (code, _, stderr) = verify_att("rig/gone:v1", V1);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("cannot verify the attestations"),
        "{stderr}"
    );

    // A registry failure while fetching attestations is "could not decide" (2), never "no
    // attestation" (1).
    let (code, stdout, stderr) = check(&manifest("gone", "rig/gone", &[V1]), &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("image::unverifiable"), "{stdout}");
    assert!(stdout.contains("while fetching attestations"), "{stdout}");

    // Layers declared larger than the limits are refused before they are downloaded: exit 2.
    for (repo, why) in [
        (
            "rig/big",
            "the manifest declares 5000000 bytes; the limit is 4194304 bytes",
        ),
        (
            "rig/huge",
            "its DSSE layers declare 17000000 bytes together; the limit is 16777216 bytes",
        ),
    ] {
        let before = rig.registry.requests().len();
        let (code, stdout, stderr) = check(&manifest("huge", repo, &[V1]), &[]);
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert!(stdout.contains("while fetching attestations"), "{stdout}");
        assert!(stdout.contains(why), "{stdout}");
        let fetched = att_requests(before);
        assert_eq!(
            fetched.iter().filter(|r| r.contains("/blobs/")).count(),
            1,
            "only the `.sig` blob: {fetched:?}"
        );
    }
}
