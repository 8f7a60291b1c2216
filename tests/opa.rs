//! `tollgate test` and `tollgate eval` through the real binary: OPA's output shapes, exit codes
//! and flags. Human (`pretty`) output is snapshotted with durations masked.

use assert_cmd::Command;
use serde_json::{Value, json};

fn tollgate() -> Command {
    let mut cmd = Command::cargo_bin("tollgate").expect("binary");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    run_with_stdin(args, "")
}

fn run_with_stdin(args: &[&str], stdin: &str) -> Run {
    let out = tollgate()
        .args(args)
        .write_stdin(stdin)
        .output()
        .expect("runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn snapshot(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\(\d+(\.\d+)?(ns|µs|ms|s)\)", "(DURATION)");
    settings.bind(|| insta::assert_snapshot!(name, text));
}

const MIXED: &str = "fixtures/opa-test/mixed";

#[test]
fn test_pretty_lists_failures_and_summary() {
    let r = run(&["test", MIXED]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    snapshot("test_pretty", &r.stdout);
}

#[test]
fn test_verbose_lists_every_test() {
    let r = run(&["test", MIXED, "-v"]);
    assert_eq!(r.code, 2);
    snapshot("test_verbose", &r.stdout);
}

#[test]
fn test_json_has_opa_fields() {
    let r = run(&["test", MIXED, "-f", "json"]);
    assert_eq!(r.code, 2);
    let results = json_of(&r.stdout);
    let by_name = |name: &str| {
        results
            .as_array()
            .expect("array")
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    let pass = by_name("test_allows_small");
    assert_eq!(pass["package"], "data.mixed_test");
    assert_eq!(
        pass["location"],
        json!({"file": "fixtures/opa-test/mixed/policy_test.rego", "row": 5, "col": 1})
    );
    assert!(pass["duration"].is_u64());
    assert!(pass.get("fail").is_none() && pass.get("error").is_none());
    assert_eq!(by_name("test_fails_on_purpose")["fail"], true);
    assert_eq!(by_name("test_divides_by_zero")["fail"], true);
    assert_eq!(by_name("test_set")["fail"], true);
    assert_eq!(by_name("todo_test_later")["skip"], true);
    assert!(by_name("test_twice").get("fail").is_none());
    assert_eq!(by_name("test_twice#01")["fail"], true);
    let error = by_name("test_errors_on_purpose")["error"].clone();
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains("conflict")
    );
    assert_eq!(
        error["location"]["file"],
        "fixtures/opa-test/mixed/conflict.rego"
    );
    let cases = by_name("test_cases");
    assert_eq!(cases["fail"], true);
    assert_eq!(
        cases["sub_results"]["nine"],
        json!({"name": "nine", "fail": true})
    );
    assert_eq!(cases["sub_results"]["two"], json!({"name": "two"}));
    // print() output, base64 as in OPA.
    assert_eq!(by_name("test_prints")["output"], "Y2hlY2tpbmcgMQo=");
}

#[test]
fn test_run_filters_and_exit_codes() {
    let r = run(&["test", MIXED, "-r", "test_allows|test_denies"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "PASS: 2/2\n"));
    // A skipped test fails the run unless -z.
    assert_eq!(run(&["test", MIXED, "-r", "todo_"]).code, 2);
    assert_eq!(run(&["test", MIXED, "-r", "todo_", "-z"]).code, 0);
    assert_eq!(
        run(&["test", MIXED, "-r", "nothing", "--fail-on-empty"]).code,
        1
    );
    assert_eq!(run(&["test", MIXED, "-r", "nothing"]).code, 0);
    let bad = run(&["test", MIXED, "-r", "("]);
    assert_eq!(bad.code, 1);
}

#[test]
fn test_with_a_bundle() {
    let r = run(&[
        "test",
        "fixtures/opa-test/bundle-tests",
        "-b",
        "fixtures/opa-eval/bundle.tar.gz",
    ]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "PASS: 1/1\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn test_load_errors_exit_1() {
    let r = run(&["test", "fixtures/opa-test/broken"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("1 error occurred: fixtures/opa-test/broken/broken_test.rego:"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("rego_parse_error"), "{}", r.stderr);
    assert_eq!(run(&["test", "fixtures/no-such-dir"]).code, 1);
}

#[test]
fn test_coverage_and_threshold() {
    let ok = run(&["test", MIXED, "-r", "test_allows|test_denies", "--coverage"]);
    assert_eq!(ok.code, 0);
    let report = json_of(&ok.stdout);
    let file = &report["files"]["fixtures/opa-test/mixed/policy.rego"];
    assert!(file["covered_lines"].as_u64().expect("lines") > 0);
    assert!(file["covered"][0]["start"]["row"].is_u64());
    let under = run(&[
        "test",
        MIXED,
        "-r",
        "test_allows",
        "--coverage",
        "--threshold",
        "100",
    ]);
    assert_eq!(under.code, 2);
    assert!(
        under
            .stderr
            .starts_with("Code coverage threshold not met: got "),
        "{}",
        under.stderr
    );
    // Failures replace the report.
    let failing = run(&["test", MIXED, "--coverage"]);
    assert_eq!(failing.code, 2);
    assert!(failing.stdout.contains("test_fails_on_purpose: FAIL"));
}

#[test]
fn eval_prints_opa_json() {
    let r = run(&[
        "eval",
        "-b",
        "fixtures/opa-eval/bundle",
        "-I",
        "data.team.deny",
    ]);
    assert_eq!(r.code, 0);
    assert_eq!(
        json_of(&r.stdout),
        json!({"result": [{"expressions": [{"value": [], "text": "data.team.deny", "location": {"row": 1, "col": 1}}]}]})
    );
    let r = run_with_stdin(
        &[
            "eval",
            "-b",
            "fixtures/opa-eval/bundle",
            "-I",
            "x := data.team.deny[_]",
        ],
        r#"{"replicas": 5}"#,
    );
    assert_eq!(
        json_of(&r.stdout),
        json!({"result": [{"expressions": [{"value": true, "text": "x := data.team.deny[_]", "location": {"row": 1, "col": 1}}], "bindings": {"x": "too many replicas: 5"}}]})
    );
    // The same bundle compressed; only data.json/data.yaml are data in a bundle.
    let r = run_with_stdin(
        &[
            "eval",
            "-b",
            "fixtures/opa-eval/bundle.tar.gz",
            "-I",
            "-f",
            "raw",
            "data.team",
        ],
        r#"{"replicas": 5}"#,
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (
            0,
            "{\"deny\":[\"too many replicas: 5\"],\"limits\":{\"replicas\":3}}\n"
        )
    );
    let r = run(&["eval", "-b", "fixtures/opa-eval/badroots.tar.gz", "data"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("manifest roots do not permit"),
        "{}",
        r.stdout
    );
    // Undefined is {} and exit 0.
    let r = run(&["eval", "data.nothing"]);
    assert_eq!((r.code, json_of(&r.stdout)), (0, json!({})));
}

#[test]
fn eval_fail_flags() {
    let bundle = ["eval", "-b", "fixtures/opa-eval/bundle"];
    let with = |extra: &[&str], input: &str| {
        let args: Vec<&str> = bundle.iter().chain(extra).copied().collect();
        run_with_stdin(&args, input).code
    };
    assert_eq!(with(&["--fail", "data.nothing"], ""), 1);
    assert_eq!(with(&["--fail", "data.team.deny"], ""), 0);
    // An empty deny set is defined: --fail-defined trips, --fail-non-empty does not.
    assert_eq!(
        with(
            &["--fail-defined", "-I", "data.team.deny"],
            "{\"replicas\": 1}"
        ),
        1
    );
    assert_eq!(
        with(
            &["--fail-non-empty", "-I", "data.team.deny"],
            "{\"replicas\": 1}"
        ),
        0
    );
    assert_eq!(
        with(
            &["--fail-non-empty", "-I", "data.team.deny"],
            "{\"replicas\": 9}"
        ),
        1
    );
    // Mutually exclusive, as in OPA: a usage error.
    assert_eq!(with(&["--fail", "--fail-defined", "data.team.deny"], ""), 2);
}

#[test]
fn eval_errors_exit_2() {
    let r = run(&["eval", "undefined_function(1)"]);
    assert_eq!(r.code, 2);
    let errors = json_of(&r.stdout);
    assert!(errors["errors"][0]["message"].is_string(), "{errors}");
    let r = run(&[
        "eval",
        "-f",
        "pretty",
        "-d",
        "fixtures/opa-test/broken",
        "true",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .starts_with("1 error occurred: fixtures/opa-test/broken/broken_test.rego:"),
        "{}",
        r.stderr
    );
    // --fail does not turn an error into 1.
    assert_eq!(run(&["eval", "--fail", "undefined_function(1)"]).code, 2);
    // Bundle roots are enforced.
    let r = run(&["eval", "-b", "fixtures/opa-eval/badroots", "data"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("manifest roots do not permit package"),
        "{}",
        r.stdout
    );
}

#[test]
fn eval_formats() {
    let q = ["eval", "-d", "fixtures/opa-eval/config.yaml"];
    let with = |extra: &[&str]| {
        let args: Vec<&str> = q.iter().chain(extra).copied().collect();
        run(&args).stdout
    };
    assert_eq!(
        with(&["-f", "values", "data.limits"]),
        "[\n  {\n    \"cpu\": 2\n  }\n]\n"
    );
    assert_eq!(
        with(&["-f", "bindings", "x := data.limits.cpu"]),
        "{\n  \"x\": 2\n}\n"
    );
    assert_eq!(with(&["-f", "raw", "\"a\""]), "a\n");
    assert_eq!(with(&["-f", "raw", "data.limits"]), "{\"cpu\":2}\n");
    assert_eq!(with(&["-f", "pretty", "data.nothing"]), "undefined\n");
    assert_eq!(with(&["-f", "pretty", "data.limits.cpu"]), "2\n");
    snapshot(
        "eval_pretty_table",
        &with(&["-f", "pretty", "x := [1, 2][_]; y := x * 10"]),
    );
    // Data placed under a prefix.
    assert_eq!(
        with(&[
            "-d",
            "a.b:fixtures/opa-eval/config.yaml",
            "-f",
            "raw",
            "data.a.b.limits.cpu"
        ]),
        "2\n"
    );
    // The query from stdin.
    let r = run_with_stdin(&["eval", "--stdin", "-f", "raw"], "1 + 1\n");
    assert_eq!(r.stdout, "2\n");
}

#[test]
fn eval_v0_compatible() {
    let args = [
        "eval",
        "-d",
        "fixtures/opa-eval/v0.rego",
        "-I",
        "data.legacy.deny",
    ];
    assert_eq!(run_with_stdin(&args, "{}").code, 2);
    let mut v0 = args.to_vec();
    v0.insert(1, "--v0-compatible");
    let r = run_with_stdin(&v0, r#"{"kind": "Pod"}"#);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(
        json_of(&r.stdout)["result"][0]["expressions"][0]["value"],
        json!(["pods are legacy"])
    );
}

#[test]
fn eval_extension_builtins_match_opa() {
    // Reference values from OPA 1.20.2 (see fixtures/opa-diff).
    let r = run(&[
        "eval",
        "-f",
        "raw",
        "[crypto.sha256(\"\"), crypto.md5(\"abc\"), crypto.hmac.sha256(\"msg\", \"key\"), net.cidr_intersects(\"10.0.0.0/8\", \"10.1.0.0/16\")]",
    ]);
    assert_eq!(
        r.stdout,
        "[\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"900150983cd24fb0d6963f7d28e17f72\",\"2d93cbc1be167bcb1637a4a23cbff01a7878f0c50ee833954ea5221bb1b8c628\",true]\n"
    );
}

/// `fixtures/signed-bundle/bundle` was signed (ES256) by PyJWT + cryptography through
/// `scripts/interop/signed-bundles.sh --write-fixture`, not by tollgate.
#[test]
fn signed_bundles_are_verified_before_loading() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/signed-bundle");
    let key = fixture.join("ec-public.pem");
    let key = key.to_str().expect("utf-8 path");
    let copy = |name: &str, change: &dyn Fn(&std::path::Path)| {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join(name);
        for sub in ["", "signed"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        for file in [
            ".manifest",
            ".signatures.json",
            "signed/data.json",
            "signed/policy.rego",
            "signed/policy_test.rego",
        ] {
            std::fs::copy(fixture.join("bundle").join(file), root.join(file)).expect("copy");
        }
        change(&root);
        (dir, root.display().to_string())
    };
    let eval = |bundle: &str, key: &str| {
        run(&[
            "eval",
            "-f",
            "raw",
            "-b",
            bundle,
            "--bundle-key",
            key,
            "data.signed.admins[0]",
        ])
    };

    let (_keep, good) = copy("good", &|_| {});
    let ok = eval(&good, key);
    assert_eq!((ok.code, ok.stdout.trim()), (0, "ada"), "{}", ok.stderr);
    let tests = run(&["test", "--bundle-key", key, &good]);
    assert_eq!(tests.code, 0, "{}{}", tests.stdout, tests.stderr);

    let (_keep, tampered) = copy("tampered", &|root| {
        let data = root.join("signed/data.json");
        let text = std::fs::read_to_string(&data).expect("read");
        std::fs::write(&data, text.replace("grace", "eve")).expect("write");
    });
    let (_keep, extra) = copy("extra", &|root| {
        std::fs::write(root.join("signed/more.rego"), "package signed\n").expect("write");
    });
    let (_keep, unsigned) = copy("unsigned", &|root| {
        std::fs::remove_file(root.join(".signatures.json")).expect("rm");
    });
    let other = fixture.join("other-public.pem");
    let wrong_key = other.to_str().expect("utf-8 path");
    for (bundle, key, needle) in [
        (&tampered, key, "signed/data.json: digest mismatch"),
        (&extra, key, "signed/more.rego is not included"),
        (&unsigned, key, "bundle is not signed"),
        (&good, wrong_key, "signature verification failed"),
    ] {
        let out = eval(bundle, key);
        assert_eq!(out.code, 2, "{bundle}: {}", out.stdout);
        assert!(out.stderr.contains(needle), "{bundle}: {}", out.stderr);
        let tests = run(&["test", "--bundle-key", key, bundle]);
        assert_eq!(tests.code, 2, "{bundle}: {}", tests.stderr);
        assert!(tests.stderr.contains(needle), "{}", tests.stderr);
    }
}
