# Tests for tollgate.lib, plus the shared fixtures used by the other *_test packages.
package tollgate.lib_test

import data.tollgate.evidence
import data.tollgate.iam
import data.tollgate.images
import data.tollgate.lib
import data.tollgate.refs
import data.tollgate.residency
import data.tollgate.resources
import data.tollgate.signoffs

digest := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

# good_input passes every builtin rule under the shipped defaults.
good_input := {
	"schema": 1,
	"now": "2026-12-04T20:44:08Z",
	"manifest_file": "tollgate.yaml",
	"manifest": {
		"apiVersion": "tollgate.dev/v1",
		"kind": "Manifest",
		"metadata": {"name": "payments-api", "owner": "team-payments"},
		"requirements": {
			"tests": [{"name": "unit", "report": "reports/unit.xml", "min_pass_rate": 100, "min_tests": 1}],
			"scans": [{"name": "trivy", "report": "reports/trivy.sarif", "max_severity": "medium", "max_findings": 5}],
			"signoffs": [{"role": "security", "min": 1}],
		},
		"images": [{
			"name": "api",
			"ref": concat("@", ["registry.example.com/payments/api", digest]),
			"base": concat("@", ["gcr.io/distroless/static-debian12", digest]),
			"signed": true,
			"attestations": ["https://slsa.dev/provenance/v1"],
		}],
		"deploy": {
			"environment": "production",
			"regions": ["eu-west-1"],
			"data_classes": ["pii"],
			"iam_roles": ["arn:aws:iam::123456789012:role/payments-deployer"],
			"resources": {"cpu": "2", "memory": "4Gi", "replicas": 3},
		},
	},
	"context": {
		"platform": "github", "repository": "acme/payments", "ref": "refs/heads/main",
		"ref_name": "main", "ref_type": "branch", "sha": "0123abcd", "actor": "octocat",
		"event": "push", "pull_request": null, "run_url": null, "protected_ref": true, "ci": true,
	},
	"evidence": {
		"tests": {"unit": {
			"found": true, "report": "reports/unit.xml", "total": 40, "passed": 40,
			"failed": 0, "errors": 0, "skipped": 0, "failures": [],
		}},
		"scans": {"trivy": {
			"found": true, "report": "reports/trivy.sarif", "total": 2,
			"counts": {"critical": 0, "high": 0, "medium": 2, "low": 0, "none": 0},
			"findings": [],
		}},
	},
	"images": {"api": {
		"ref": concat("@", ["registry.example.com/payments/api", digest]),
		"digest": digest,
		"verified": true,
		"signed": true,
		"signers": ["release"],
		"attestations": [{
			"predicate_type": "https://slsa.dev/provenance/v1",
			"signer": "release",
			"predicate": {"runDetails": {"builder": {"id": "https://github.com/actions/runner"}}},
		}],
	}},
	"signoffs": {"security": [{"signer": "alice", "time": "2026-12-01T10:00:00Z"}]},
	"waivers": [],
}

# patched deep-merges a patch over good_input (arrays in the patch replace).
patched(patch) := object.union(good_input, patch)

# manifest_patched deep-merges a patch over good_input.manifest.
manifest_patched(patch) := object.union(good_input, {"manifest": patch})

# by_rule filters a result set to one rule id.
by_rule(results, id) := {r | some r in results; r.rule == id}

all_results := ((((((images.deny | images.warn) | iam.deny) | resources.deny) | evidence.deny) | signoffs.deny) | residency.deny) | refs.deny

result_keys := {"msg", "rule", "path", "severity", "help", "waivable"}

# --- fixtures ---------------------------------------------------------------

test_good_input_passes_everything if {
	good := good_input
	count(all_results) == 0 with input as good

	# positive control: the fixture really reaches the rules
	bad := object.union(good, {"context": {"protected_ref": false}})
	count(all_results) == 1 with input as bad
}

test_empty_input_does_not_error if {
	count(all_results) == 0 with input as {}
}

test_minimal_manifest_does_not_error if {
	count(all_results) == 0 with input as {"schema": 1, "manifest": {"apiVersion": "tollgate.dev/v1", "kind": "Manifest", "metadata": {"name": "x", "owner": "y"}}}
}

test_null_sections_do_not_error if {
	count(all_results) == 0 with input as {"manifest": {"images": null, "deploy": null, "requirements": null}, "images": null, "evidence": null, "signoffs": null, "context": null}
}

test_null_subsections_do_not_error if {
	res := all_results with input as {"manifest": {
		"requirements": {"tests": null, "scans": null, "signoffs": null},
		"deploy": {"regions": null, "data_classes": null, "iam_roles": null, "resources": null},
	}}
	count(res) == 0
}

test_every_result_has_the_contract_shape if {
	res := all_results with input as {
		"manifest": {
			"requirements": {"tests": [{"name": "t"}], "scans": [{"name": "s"}], "signoffs": [{"role": "r"}]},
			"images": [{"name": "i", "ref": "x:1", "attestations": ["a"]}],
			"deploy": {
				"environment": "production", "regions": ["us-east-1"], "data_classes": ["pii"],
				"iam_roles": ["root"], "resources": {"cpu": "100"},
			},
		},
		"images": {"i": {"signed": false, "attestations": [{"predicate_type": "https://slsa.dev/provenance/v1", "predicate": {}}]}},
	} with data.tollgate.config as {"approved_registries": ["gcr.io"], "slsa_builders": ["b"]}
	ids := {r.rule | some r in res}
	ids == {
		"image-not-pinned", "image-registry-not-approved", "image-signature-missing",
		"image-attestation-missing", "iam-role-prohibited", "resource-quota-exceeded",
		"test-report-missing", "scan-report-missing", "signoff-missing",
		"data-residency-violation", "protected-ref-required",
	}
	every r in res {
		{k | some k, _ in r} == result_keys
		is_string(r.msg)
		is_array(r.path)
		r.severity in {"error", "warning"}
		is_boolean(r.waivable)
		r.waivable == lib.rules[r.rule].waivable
		r.help == lib.rules[r.rule].help
	}
}

test_catalogue_has_every_rule_id if {
	object.keys(lib.rules) == {
		"image-not-pinned", "image-registry-not-approved", "base-image-not-approved",
		"image-signature-missing", "image-attestation-missing", "iam-role-prohibited",
		"resource-quota-exceeded", "test-report-missing", "test-failed", "scan-report-missing",
		"scan-threshold-exceeded", "signoff-missing", "data-residency-violation", "protected-ref-required",
		"signoff-invalid", "waiver-invalid",
	}
	not_waivable := {id | some id, r in lib.rules; r.waivable == false}
	not_waivable == {
		"image-signature-missing", "image-attestation-missing", "image-registry-not-approved",
		"base-image-not-approved", "image-not-pinned", "signoff-invalid", "waiver-invalid",
	}
}

# --- configuration ----------------------------------------------------------

test_config_defaults if {
	lib.config == lib.defaults
	lib.config.approved_registries == ["*"]
	lib.config.quotas.production == {"cpu": "8", "memory": "16Gi", "replicas": 20}
	lib.config.slsa_builders == []
}

test_config_override_key_by_key if {
	c := lib.config with data.tollgate.config as {
		"quotas": {"staging": {"cpu": "1"}, "production": {"cpu": "16"}},
		"approved_registries": ["registry.example.com"],
	}
	c.quotas.staging == {"cpu": "1"}
	c.quotas.production == {"cpu": "16", "memory": "16Gi", "replicas": 20}
	c.quotas["*"].cpu == "4"
	c.approved_registries == ["registry.example.com"]
	c.residency == lib.defaults.residency
}

test_config_non_object_user_data_is_ignored if {
	c := lib.config with data.tollgate.config as "oops"
	c == lib.defaults
}

# --- quantities -------------------------------------------------------------

test_quantity_cpu if {
	lib.quantity("2") == 2
	lib.quantity("500m") == 0.5
	lib.quantity("8000m") == 8
	lib.quantity(1.5) == 1.5
	lib.quantity("1.5") == 1.5
	lib.quantity(".5") == 0.5
	lib.quantity("+3") == 3
	lib.quantity(" 2 ") == 2
}

test_quantity_memory if {
	lib.quantity("4Gi") == 4294967296
	lib.quantity("512Mi") == 536870912
	lib.quantity("1.5Gi") == 1610612736
	lib.quantity("1G") == 1000000000
	lib.quantity("1k") == 1000
	lib.quantity("1Ki") == 1024
	lib.quantity("1e9") == 1000000000
	lib.quantity("2.5E3") == 2500
	lib.quantity("2E") == 2000000000000000000
	lib.quantity(1000000000) == 1000000000
}

test_quantity_invalid_is_undefined if {
	not lib.quantity("abc")
	not lib.quantity("")
	not lib.quantity("4GB")
	not lib.quantity("1e3Mi")
	not lib.quantity("-1")
	not lib.quantity("1 Gi")
	not lib.quantity(null)
	not lib.quantity(true)
	not lib.quantity(["1"])
}

# --- image references -------------------------------------------------------

test_normalize_ref if {
	lib.normalize_ref("nginx") == "docker.io/library/nginx"
	lib.normalize_ref("nginx:1.25") == "docker.io/library/nginx:1.25"
	lib.normalize_ref("nginx@sha256:ab") == "docker.io/library/nginx@sha256:ab"
	lib.normalize_ref("acme/app:1") == "docker.io/acme/app:1"
	lib.normalize_ref("docker.io/nginx") == "docker.io/library/nginx"
	lib.normalize_ref("index.docker.io/library/nginx") == "docker.io/library/nginx"
	lib.normalize_ref("localhost/app") == "localhost/app"
	lib.normalize_ref("localhost:5000/app:1") == "localhost:5000/app:1"
	lib.normalize_ref("registry.example.com/payments/api:1") == "registry.example.com/payments/api:1"
}

test_ref_prefix_boundaries if {
	p := "registry.example.com/payments"
	lib.ref_has_prefix("registry.example.com/payments/api:1", p)
	lib.ref_has_prefix("registry.example.com/payments:1", p)
	lib.ref_has_prefix(concat("@", ["registry.example.com/payments", digest]), p)
	lib.ref_has_prefix("registry.example.com/payments", p)
	not lib.ref_has_prefix("registry.example.com/payments-evil/api", p)
	not lib.ref_has_prefix("registry.example.com/paymentsx:1", p)
	not lib.ref_has_prefix("evil.com/registry.example.com/payments/api", p)
}

test_ref_prefix_trailing_slash if {
	lib.ref_has_prefix("registry.example.com/payments/api:1", "registry.example.com/payments/")
	not lib.ref_has_prefix("registry.example.com/payments-evil/api", "registry.example.com/payments/")
}

test_ref_prefix_registry_host if {
	lib.ref_has_prefix("gcr.io/distroless/static", "gcr.io")
	lib.ref_has_prefix("nginx:1.25", "docker.io")
	lib.ref_has_prefix("nginx:1.25", "docker.io/library/")
	lib.ref_has_prefix("nginx:1.25", "nginx")
	not lib.ref_has_prefix("gcr.io.evil.com/x", "gcr.io")
	not lib.ref_has_prefix("registry.example.com:5000/x", "registry.example.com")
	lib.ref_has_prefix("localhost:5000/x", "localhost:5000")
}

test_ref_prefix_star if {
	lib.ref_has_prefix("anything/at:all", "*")
	lib.ref_approved("x", ["nope", "*"])
	not lib.ref_approved("x", [])
}

test_is_pinned if {
	lib.is_pinned(concat("@", ["nginx", digest]))
	not lib.is_pinned("nginx:1.25")
	not lib.is_pinned("nginx@sha512:abc")
}

# --- globs ------------------------------------------------------------------

test_glob_no_delimiters if {
	lib.glob_match("*Admin*", "arn:aws:iam::1:role/ops/OrgAdmin")
	lib.glob_match("eu-*", "eu-west-1")
	lib.glob_match("eu-*", "eu-central.1")
	lib.glob_match("eu-?est-1", "eu-west-1")
	not lib.glob_match("eu-*", "us-east-1")
	not lib.glob_match("root", "arn:aws:iam::1:root")
	not lib.glob_match("*admin*", "OrgAdmin")
	not lib.glob_match(1, "x")
}

test_key_path if {
	lib.key_path(["images", 0], {"signed": false}, "signed") == ["images", 0, "signed"]
	lib.key_path(["images", 0], {"ref": "x"}, "signed") == ["images", 0]
	lib.key_path(["images", 0], "x", "signed") == ["images", 0]
}
