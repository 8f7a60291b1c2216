package tollgate.images_test

import data.tollgate.images
import data.tollgate.lib_test as fx

tagged := "registry.example.com/payments/api:1.4.2"

# image_input replaces the manifest image list and input.images wholesale.
image_input(manifest_images, facts) := object.union(
	object.remove(fx.good_input, ["images"]),
	{"manifest": {"images": manifest_images}, "images": facts},
)

good_image := fx.good_input.manifest.images[0]

good_facts := fx.good_input.images.api

# --- image-not-pinned -------------------------------------------------------

test_not_pinned_pass_with_digest if {
	good := fx.good_input
	count(fx.by_rule(images.deny | images.warn, "image-not-pinned")) == 0 with input as good
}

test_not_pinned_fail_in_production if {
	inp := image_input([object.union(good_image, {"ref": tagged})], {})
	res := fx.by_rule(images.deny, "image-not-pinned") with input as inp
	count(res) == 1
	some r in res
	r.path == ["images", 0, "ref"]
	r.severity == "error"
	r.waivable == false
	contains(r.msg, tagged)
	contains(r.msg, "production")
	count(fx.by_rule(images.warn, "image-not-pinned")) == 0 with input as inp
}

test_not_pinned_warns_outside_protected_environments if {
	inp := object.union(image_input([object.union(good_image, {"ref": tagged})], {}), {"manifest": {"deploy": {"environment": "staging"}}})
	count(fx.by_rule(images.deny, "image-not-pinned")) == 0 with input as inp
	res := fx.by_rule(images.warn, "image-not-pinned") with input as inp
	count(res) == 1
	some r in res
	r.severity == "warning"
	r.path == ["images", 0, "ref"]
}

test_not_pinned_warns_without_deploy if {
	inp := {"manifest": {"images": [{"name": "api", "ref": "nginx"}]}}
	count(fx.by_rule(images.deny, "image-not-pinned")) == 0 with input as inp
	count(fx.by_rule(images.warn, "image-not-pinned")) == 1 with input as inp
}

test_not_pinned_config_override_protected_environments if {
	inp := object.union(image_input([object.union(good_image, {"ref": tagged})], {}), {"manifest": {"deploy": {"environment": "staging"}}})
	res := fx.by_rule(images.deny, "image-not-pinned") with input as inp with data.tollgate.config as {"protected_environments": ["staging"]}
	count(res) == 1
	count(fx.by_rule(images.warn, "image-not-pinned")) == 0 with input as inp with data.tollgate.config as {"protected_environments": ["staging"]}
}

test_not_pinned_sha512_is_not_a_pin if {
	inp := image_input([object.union(good_image, {"ref": "nginx@sha512:abcd"})], {})
	count(fx.by_rule(images.deny, "image-not-pinned")) == 1 with input as inp
}

# --- image-registry-not-approved --------------------------------------------

test_registry_default_allows_anything if {
	inp := image_input([object.union(good_image, {"ref": "evil.example.net/x@sha256:00"})], {})
	count(fx.by_rule(images.deny, "image-registry-not-approved")) == 0 with input as inp
}

test_registry_pass_with_prefix if {
	good := fx.good_input
	count(fx.by_rule(images.deny, "image-registry-not-approved")) == 0 with input as good
		with data.tollgate.config as {"approved_registries": ["registry.example.com/payments"]}
}

test_registry_fail_outside_prefix if {
	inp := image_input([object.union(good_image, {"ref": "registry.example.com/payments-evil/api:1"})], {})
	res := fx.by_rule(images.deny, "image-registry-not-approved") with input as inp
		with data.tollgate.config as {"approved_registries": ["registry.example.com/payments"]}
	count(res) == 1
	some r in res
	r.path == ["images", 0, "ref"]
	r.waivable == false
	contains(r.msg, "registry.example.com/payments-evil/api:1")
	contains(r.msg, "registry.example.com/payments")
}

test_registry_docker_hub_short_names if {
	inp := image_input([object.union(good_image, {"ref": "nginx:1.25"})], {})
	count(fx.by_rule(images.deny, "image-registry-not-approved")) == 0 with input as inp
		with data.tollgate.config as {"approved_registries": ["docker.io/library/"]}
	count(fx.by_rule(images.deny, "image-registry-not-approved")) == 1 with input as inp
		with data.tollgate.config as {"approved_registries": ["gcr.io", "registry.example.com"]}
}

test_registry_second_image_path if {
	inp := image_input([good_image, {"name": "side", "ref": "quay.io/x/y@sha256:00", "signed": false}], {"api": good_facts})
	res := fx.by_rule(images.deny, "image-registry-not-approved") with input as inp
		with data.tollgate.config as {"approved_registries": ["registry.example.com"]}
	{r.path | some r in res} == {["images", 1, "ref"]}
}

# --- base-image-not-approved ------------------------------------------------

test_base_default_allows_anything if {
	good := fx.good_input
	count(fx.by_rule(images.deny, "base-image-not-approved")) == 0 with input as good
}

test_base_pass_with_prefix if {
	good := fx.good_input
	count(fx.by_rule(images.deny, "base-image-not-approved")) == 0 with input as good
		with data.tollgate.config as {"approved_base_images": ["gcr.io/distroless/"]}
}

test_base_fail_outside_prefix if {
	inp := image_input([object.union(good_image, {"base": "ubuntu:22.04"})], {"api": good_facts})
	res := fx.by_rule(images.deny, "base-image-not-approved") with input as inp
		with data.tollgate.config as {"approved_base_images": ["gcr.io/distroless/"]}
	count(res) == 1
	some r in res
	r.path == ["images", 0, "base"]
	r.waivable == false
	contains(r.msg, "ubuntu:22.04")
}

test_base_absent_is_not_checked if {
	inp := image_input([object.remove(good_image, ["base"])], {"api": good_facts})
	count(fx.by_rule(images.deny, "base-image-not-approved")) == 0 with input as inp
		with data.tollgate.config as {"approved_base_images": ["gcr.io/distroless/"]}
}

# --- image-signature-missing ------------------------------------------------

test_signature_pass if {
	good := fx.good_input
	count(fx.by_rule(images.deny, "image-signature-missing")) == 0 with input as good
}

test_signature_fail_unsigned_with_error if {
	inp := image_input([good_image], {"api": object.union(good_facts, {"signed": false, "error": "no signatures found"})})
	res := fx.by_rule(images.deny, "image-signature-missing") with input as inp
	count(res) == 1
	some r in res
	r.path == ["images", 0, "signed"]
	r.waivable == false
	contains(r.msg, "no signatures found")
}

test_signature_fail_closed_without_facts if {
	img := object.remove(good_image, ["signed"])
	inp := object.union(object.remove(fx.good_input, ["images"]), {"manifest": {"images": [img]}})
	res := fx.by_rule(images.deny, "image-signature-missing") with input as inp
	count(res) == 1
	some r in res
	r.path == ["images", 0]
	contains(r.msg, "no verification result")
}

test_signature_fail_when_signed_is_not_true if {
	inp := image_input([good_image], {"api": object.union(good_facts, {"signed": "yes"})})
	count(fx.by_rule(images.deny, "image-signature-missing")) == 1 with input as inp
}

test_signature_not_required_when_signed_false if {
	inp := image_input([object.union(good_image, {"signed": false})], {"api": object.union(good_facts, {"signed": false})})
	count(fx.by_rule(images.deny, "image-signature-missing")) == 0 with input as inp
}

# --- image-attestation-missing ----------------------------------------------

test_attestation_pass if {
	good := fx.good_input
	count(fx.by_rule(images.deny, "image-attestation-missing")) == 0 with input as good
}

test_attestation_fail_missing_predicate_type if {
	img := object.union(good_image, {"attestations": ["https://slsa.dev/provenance/v1", "https://spdx.dev/Document"]})
	inp := image_input([img], {"api": good_facts})
	res := fx.by_rule(images.deny, "image-attestation-missing") with input as inp
	count(res) == 1
	some r in res
	r.path == ["images", 0, "attestations", 1]
	r.waivable == false
	contains(r.msg, "https://spdx.dev/Document")
}

test_attestation_fail_closed_without_facts if {
	inp := object.remove(fx.good_input, ["images"])
	res := fx.by_rule(images.deny, "image-attestation-missing") with input as inp
	{r.path | some r in res} == {["images", 0, "attestations", 0]}
}

test_attestation_none_required if {
	inp := image_input([object.remove(good_image, ["attestations"])], {"api": object.union(good_facts, {"attestations": []})})
	count(fx.by_rule(images.deny, "image-attestation-missing")) == 0 with input as inp
}

test_attestation_rejected_ones_are_named_but_do_not_count if {
	img := object.union(good_image, {"attestations": ["https://slsa.dev/provenance/v1"]})
	problems := [
		{"predicate_type": "https://slsa.dev/provenance/v1", "problem": "bad-signature", "message": "layer 1: untrusted"},
		{"predicate_type": null, "problem": "malformed", "message": "layer 2: not JSON"},
		{"predicate_type": "https://spdx.dev/Document", "problem": "subject-mismatch", "message": "layer 3: other image"},
	]
	facts := object.union(good_facts, {"attestations": [], "attestation_problems": problems})
	inp := image_input([img], {"api": facts})
	res := fx.by_rule(images.deny, "image-attestation-missing") with input as inp
	count(res) == 1
	some r in res
	contains(r.msg, "; attached but rejected: layer 1: untrusted; layer 2: not JSON")
	not contains(r.msg, "other image")
}

test_attestation_missing_without_problems_has_no_rejected_suffix if {
	img := object.union(good_image, {"attestations": ["https://spdx.dev/Document"]})
	inp := image_input([img], {"api": good_facts})
	res := fx.by_rule(images.deny, "image-attestation-missing") with input as inp
	some r in res
	not contains(r.msg, "rejected")
}

test_slsa_builder_approved if {
	good := fx.good_input
	count(fx.by_rule(images.deny, "image-attestation-missing")) == 0 with input as good
		with data.tollgate.config as {"slsa_builders": ["https://github.com/actions/runner"]}
}

test_slsa_builder_not_approved if {
	good := fx.good_input
	res := fx.by_rule(images.deny, "image-attestation-missing") with input as good
		with data.tollgate.config as {"slsa_builders": ["https://builder.example.com"]}
	count(res) == 1
	some r in res
	r.path == ["images", 0, "attestations", 0]
	contains(r.msg, "https://github.com/actions/runner")
	contains(r.msg, "https://builder.example.com")
}

test_slsa_builder_v02_and_missing_id if {
	atts := [
		{"predicate_type": "https://slsa.dev/provenance/v0.2", "predicate": {"builder": {"id": "https://ok"}}},
		{"predicate_type": "https://slsa.dev/provenance/v0.2", "predicate": {"builder": {"id": "https://bad"}}},
		{"predicate_type": "https://slsa.dev/provenance/v1", "predicate": {}},
		{"predicate_type": "https://spdx.dev/Document", "predicate": {}},
	]
	inp := image_input([object.remove(good_image, ["attestations"])], {"api": object.union(good_facts, {"attestations": atts})})
	res := fx.by_rule(images.deny, "image-attestation-missing") with input as inp
		with data.tollgate.config as {"slsa_builders": ["https://ok"]}
	count(res) == 2
	every r in res {
		r.path == ["images", 0]
	}
}

# --- edge cases -------------------------------------------------------------

test_no_images_section if {
	inp := {"manifest": {"deploy": {"environment": "production"}}}
	count(images.deny) == 0 with input as inp
	count(images.warn) == 0 with input as inp
}

test_image_without_ref if {
	inp := {"manifest": {"images": [{"name": "x", "signed": false}]}}
	count(images.deny) == 0 with input as inp
	count(images.warn) == 0 with input as inp
}
