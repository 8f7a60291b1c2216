# Container image rules: pinning, provenance (registry, base), signatures and attestations.
package tollgate.images

import data.tollgate.lib

# METADATA
# title: Image not pinned by digest
# description: >-
#   An image reference without an @sha256: digest is mutable. In a protected
#   environment (config.protected_environments) this is an error; elsewhere a warning.
# custom:
#   id: image-not-pinned
#   severity: error
#   help: Reference the image by digest (name@sha256:...).
deny contains r if {
	lib.protected_environment
	some i, img in lib.images
	ref := lib.str(object.get(img, "ref", ""))
	ref != ""
	not lib.is_pinned(ref)
	r := lib.result(
		"image-not-pinned",
		sprintf(
			"image '%s' ref '%s' is not pinned by digest; environment '%s' requires an @sha256: digest",
			[lib.str(object.get(img, "name", "")), ref, lib.environment],
		),
		["images", i, "ref"],
	)
}

# METADATA
# title: Image not pinned by digest (unprotected environment)
# description: The same check outside protected environments, reported as a warning.
# custom:
#   id: image-not-pinned
#   severity: warning
#   help: Reference the image by digest (name@sha256:...).
warn contains r if {
	not lib.protected_environment
	some i, img in lib.images
	ref := lib.str(object.get(img, "ref", ""))
	ref != ""
	not lib.is_pinned(ref)
	r := lib.warning(
		"image-not-pinned",
		sprintf(
			"image '%s' ref '%s' is not pinned by digest (an @sha256: digest is required in protected environments %v)",
			[lib.str(object.get(img, "name", "")), ref, lib.arr(lib.config.protected_environments)],
		),
		["images", i, "ref"],
	)
}

# METADATA
# title: Image registry not approved
# description: The image reference must start with one of config.approved_registries (boundary-aware ref prefixes; "*" allows any).
# custom:
#   id: image-registry-not-approved
#   severity: error
#   help: Push the image to an approved registry or extend approved_registries.
deny contains r if {
	some i, img in lib.images
	ref := lib.str(object.get(img, "ref", ""))
	ref != ""
	not lib.ref_approved(ref, lib.config.approved_registries)
	r := lib.result(
		"image-registry-not-approved",
		sprintf(
			"image '%s' ref '%s' (%s) is not under an approved registry prefix %v",
			[lib.str(object.get(img, "name", "")), ref, lib.normalize_ref(ref), lib.arr(lib.config.approved_registries)],
		),
		["images", i, "ref"],
	)
}

# METADATA
# title: Base image not approved
# description: The image's base must start with one of config.approved_base_images (boundary-aware ref prefixes; "*" allows any).
# custom:
#   id: base-image-not-approved
#   severity: error
#   help: Rebuild on an approved base image or extend approved_base_images.
deny contains r if {
	some i, img in lib.images
	base := lib.str(object.get(img, "base", ""))
	base != ""
	not lib.ref_approved(base, lib.config.approved_base_images)
	r := lib.result(
		"base-image-not-approved",
		sprintf(
			"image '%s' base '%s' is not an approved base image %v",
			[lib.str(object.get(img, "name", "")), base, lib.arr(lib.config.approved_base_images)],
		),
		["images", i, "base"],
	)
}

# signature_required holds unless the manifest says `signed: false` (default true).
signature_required(img) if object.get(img, "signed", true) != false

_error_suffix(facts) := sprintf(" (%s)", [facts.error]) if {
	is_string(facts.error)
	facts.error != ""
} else := ""

_signature_reason(name) := "no verification result for this image" if {
	not lib.has_key(lib.obj(object.get(input, "images", {})), name)
} else := "no valid signature by an image-signer key was found"

# METADATA
# title: Image signature missing
# description: >-
#   Unless the manifest sets signed: false, input.images[name].signed must be true
#   (fail closed: an image without verification facts fails too).
# custom:
#   id: image-signature-missing
#   severity: error
#   help: Sign the image digest with a keystore image-signer key.
deny contains r if {
	some i, img in lib.images
	signature_required(img)
	name := object.get(img, "name", "")
	facts := lib.image_facts(name)
	object.get(facts, "signed", false) != true
	r := lib.result(
		"image-signature-missing",
		sprintf(
			"image '%s' (%s) has no valid signature: %s%s",
			[lib.str(name), lib.str(object.get(img, "ref", "")), _signature_reason(name), _error_suffix(facts)],
		),
		lib.key_path(["images", i], img, "signed"),
	)
}

_attestation_types(facts) := {t |
	some a in lib.arr(object.get(facts, "attestations", []))
	t := object.get(lib.obj(a), "predicate_type", null)
}

# _rejected_suffix lists the attached attestations of this predicate type (or of an unknown
# one) that were rejected (input.images[name].attestation_problems), so the user sees why.
_rejected_suffix(facts, ptype) := sprintf("; attached but rejected: %s", [concat("; ", msgs)]) if {
	msgs := [m |
		some p in lib.arr(object.get(facts, "attestation_problems", []))
		t := object.get(lib.obj(p), "predicate_type", null)
		_same_or_unknown(t, ptype)
		m := lib.str(object.get(lib.obj(p), "message", ""))
	]
	count(msgs) > 0
} else := ""

_same_or_unknown(t, ptype) if t == ptype

_same_or_unknown(t, _) if not is_string(t)

# METADATA
# title: Image attestation missing
# description: Every predicate type listed in images[i].attestations needs a verified attestation in input.images[name].attestations.
# custom:
#   id: image-attestation-missing
#   severity: error
#   help: Attach a signed attestation of the required predicate type (cosign attest --type).
deny contains r if {
	some i, img in lib.images
	some j, ptype in lib.arr(object.get(img, "attestations", []))
	name := object.get(img, "name", "")
	facts := lib.image_facts(name)
	not ptype in _attestation_types(facts)
	r := lib.result(
		"image-attestation-missing",
		sprintf(
			"image '%s' has no verified attestation with predicate type '%v'%s%s",
			[lib.str(name), ptype, _error_suffix(facts), _rejected_suffix(facts, ptype)],
		),
		["images", i, "attestations", j],
	)
}

slsa_prefix := "https://slsa.dev/provenance/"

# builder_id reads the SLSA builder id: v1 predicate.runDetails.builder.id, v0.2 predicate.builder.id.
builder_id(predicate) := id if {
	id := object.get(lib.obj(predicate), ["runDetails", "builder", "id"], null)
	is_string(id)
} else := id if {
	id := object.get(lib.obj(predicate), ["builder", "id"], null)
	is_string(id)
} else := null

# _attestation_path points at the manifest entry requiring this predicate type, else at the image.
_attestation_path(i, img, ptype) := ["images", i, "attestations", j] if {
	j := min({k | some k, t in lib.arr(object.get(img, "attestations", [])); t == ptype})
} else := ["images", i]

# METADATA
# title: SLSA provenance from an unapproved builder
# description: When config.slsa_builders is non-empty, every SLSA provenance attestation must name one of those builder ids.
# custom:
#   id: image-attestation-missing
#   severity: error
#   help: Build the image on an approved builder (config.slsa_builders).
deny contains r if {
	builders := lib.arr(lib.config.slsa_builders)
	count(builders) > 0
	some i, img in lib.images
	name := object.get(img, "name", "")
	some att in lib.arr(object.get(lib.image_facts(name), "attestations", []))
	ptype := lib.str(object.get(lib.obj(att), "predicate_type", ""))
	startswith(ptype, slsa_prefix)
	id := builder_id(object.get(att, "predicate", {}))
	not id in builders
	r := lib.result(
		"image-attestation-missing",
		sprintf(
			"image '%s' SLSA provenance '%s' was produced by builder '%v', which is not in slsa_builders %v",
			[lib.str(name), ptype, id, builders],
		),
		_attestation_path(i, img, ptype),
	)
}
