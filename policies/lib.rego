# Shared helpers and configuration for the tollgate builtin policy library.
#
# Everything here is engine-neutral Rego v1: it runs identically on regorus 0.14.1
# (the engine embedded in tollgate) and on OPA 1.x. Builtins with diverging
# semantics between the two engines (units.parse*, glob.match with [] delimiters,
# to_number on ".5", sprintf %q) are avoided on purpose.
package tollgate.lib

# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

# The shipped configuration. Users override it with `--data` at
# data.tollgate.config; the merge is object.union: objects merge key by key
# (recursively, so `quotas: {staging: {...}}` adds an environment), while any
# other value (lists, strings, numbers) replaces the default wholesale.
defaults := {
	"approved_registries": ["*"],
	"approved_base_images": ["*"],
	"prohibited_iam_roles": ["root", "*Admin*", "*admin*", "AdministratorAccess"],
	"quotas": {
		"production": {"cpu": "8", "memory": "16Gi", "replicas": 20},
		"*": {"cpu": "4", "memory": "8Gi", "replicas": 5},
	},
	"residency": {"pii": ["eu-*"], "phi": ["us-*"]},
	"protected_environments": ["production"],
	"slsa_builders": [],
}

default user_config := {}

user_config := data.tollgate.config if is_object(data.tollgate.config)

config := object.union(defaults, user_config)

# ---------------------------------------------------------------------------
# Rule catalogue: the single source of severity, help and waivability.
# ---------------------------------------------------------------------------

rules := {
	"image-not-pinned": {
		"severity": "error",
		"waivable": false,
		"help": "Reference the image by digest (name@sha256:...), e.g. with the digest printed by your registry push.",
	},
	"image-registry-not-approved": {
		"severity": "error",
		"waivable": false,
		"help": "Push the image to an approved registry or add the registry prefix to approved_registries in the policy data.",
	},
	"base-image-not-approved": {
		"severity": "error",
		"waivable": false,
		"help": "Rebuild the image on an approved base image or add the base to approved_base_images in the policy data.",
	},
	"image-signature-missing": {
		"severity": "error",
		"waivable": false,
		"help": "Sign the image digest with a key that holds the image-signer role in the keystore (e.g. cosign sign --key).",
	},
	"image-attestation-missing": {
		"severity": "error",
		"waivable": false,
		"help": "Attach a signed attestation of the required predicate type from an approved builder (e.g. cosign attest --type).",
	},
	"iam-role-prohibited": {
		"severity": "error",
		"waivable": true,
		"help": "Deploy with a least-privilege role that does not match prohibited_iam_roles.",
	},
	"resource-quota-exceeded": {
		"severity": "error",
		"waivable": true,
		"help": "Lower deploy.resources to the environment's quota or raise the quota in the policy data.",
	},
	"test-report-missing": {
		"severity": "error",
		"waivable": true,
		"help": "Run the test suite before the gate and write its JUnit XML report to the path given in the manifest.",
	},
	"test-failed": {
		"severity": "error",
		"waivable": true,
		"help": "Fix the failing tests (or add tests) until the pass rate and test count meet the requirement.",
	},
	"scan-report-missing": {
		"severity": "error",
		"waivable": true,
		"help": "Run the scanner before the gate and write its SARIF report to the path given in the manifest.",
	},
	"scan-threshold-exceeded": {
		"severity": "error",
		"waivable": true,
		"help": "Fix or suppress the reported findings, or relax max_severity / max_findings in the manifest.",
	},
	"signoff-missing": {
		"severity": "error",
		"waivable": true,
		"help": "Collect signed sign-offs from distinct keystore keys holding the role (tollgate signoff).",
	},
	"data-residency-violation": {
		"severity": "error",
		"waivable": true,
		"help": "Deploy this data class only to regions allowed by the residency policy, or remove the region.",
	},
	"protected-ref-required": {
		"severity": "error",
		"waivable": true,
		"help": "Deploy protected environments only from a protected branch or tag (e.g. merge to main first).",
	},
	"signoff-invalid": {
		"severity": "warning",
		"waivable": false,
		"help": "Sign off again with `tollgate signoff` using a key-store key that holds signoff:<role>, after the last manifest change.",
	},
	# Produced by tollgate itself (waivers are applied after policy evaluation); listed here so
	# the catalogue stays the single source of severity, help and waivability.
	"waiver-invalid": {
		"severity": "warning",
		"waivable": false,
		"help": "Fix the waiver: sign it with `tollgate waiver sign` using a key whose scopes cover the rule, keep it unexpired and within the maximum lifetime, or remove it.",
	},
}

# result builds a finding object with the catalogue's severity, help and waivable flag.
result(id, msg, path) := {
	"msg": msg,
	"rule": id,
	"path": path,
	"severity": rules[id].severity,
	"help": rules[id].help,
	"waivable": rules[id].waivable,
}

# warning is result downgraded to severity "warning" (for warn rules).
warning(id, msg, path) := object.union(result(id, msg, path), {"severity": "warning"})

# ---------------------------------------------------------------------------
# Safe accessors: a missing or mistyped optional field never raises an error.
# ---------------------------------------------------------------------------

arr(x) := x if {
	is_array(x)
} else := []

obj(x) := x if {
	is_object(x)
} else := {}

str(x) := x if {
	is_string(x)
} else := ""

num(x) := x if {
	is_number(x)
} else := 0

# has_key holds when x is an object with key k (whatever the value, even null/false).
has_key(x, k) if {
	is_object(x)
	k in object.keys(x)
}

# key_path is base + [k] when node has k, else base (the most specific existing node).
key_path(base, node, k) := array.concat(base, [k]) if {
	has_key(node, k)
} else := base

manifest := obj(object.get(input, "manifest", {}))

# images is manifest.images with every entry coerced to an object (order kept).
images := [obj(x) | some x in arr(object.get(manifest, "images", []))]

requirements := obj(object.get(manifest, "requirements", {}))

deploy := obj(object.get(manifest, "deploy", {}))

environment := object.get(deploy, "environment", null)

# protected_environment holds when deploy.environment is listed in protected_environments.
protected_environment if {
	is_string(environment)
	environment in arr(config.protected_environments)
}

# facts about one image from input.images (the Rust side), {} when absent.
image_facts(name) := obj(object.get(obj(object.get(input, "images", {})), name, {}))

# ---------------------------------------------------------------------------
# Glob matching. No delimiters: `*` matches any run of characters including
# `/`, `:` and `.`; `?` matches one character. Case-sensitive.
# ---------------------------------------------------------------------------

glob_match(pattern, value) if {
	is_string(pattern)
	is_string(value)
	glob.match(pattern, null, value)
}

any_glob(patterns, value) if {
	some p in arr(patterns)
	glob_match(p, value)
}

# ---------------------------------------------------------------------------
# Image references
# ---------------------------------------------------------------------------

_is_host(h) if contains(h, ".")

_is_host(h) if contains(h, ":")

_is_host(h) if h == "localhost"

_canonical_host(h) := "docker.io" if {
	h in {"docker.io", "index.docker.io", "registry-1.docker.io"}
} else := h

_docker_path(host, path) := concat("/", ["library", path]) if {
	host == "docker.io"
	not contains(path, "/")
	path != "library" # the prefix "docker.io/library" names the official-images namespace
} else := path

# normalize_ref expands a Docker-style short reference to registry/repository form:
#   nginx            -> docker.io/library/nginx
#   nginx:1.25       -> docker.io/library/nginx:1.25
#   acme/app@sha256: -> docker.io/acme/app@sha256:
#   index.docker.io/nginx -> docker.io/library/nginx
# Fully qualified references are returned unchanged.
normalize_ref(ref) := concat("/", ["docker.io", "library", ref]) if {
	not contains(ref, "/")
}

normalize_ref(ref) := concat("/", [host, _docker_path(host, rest)]) if {
	contains(ref, "/")
	first := split(ref, "/")[0]
	_is_host(first)
	host := _canonical_host(first)
	rest := trim_prefix(ref, concat("", [first, "/"]))
}

normalize_ref(ref) := concat("/", ["docker.io", ref]) if {
	contains(ref, "/")
	first := split(ref, "/")[0]
	not _is_host(first)
}

# A prefix that is a bare registry host (no "/", looks like a host) names the
# whole registry; anything else is normalised like a reference.
_prefix_is_host(p) if {
	not contains(p, "/")
	_is_host(p)
}

# ref_has_prefix is boundary-aware prefix matching on normalised references.
# "*" matches everything. A trailing "/" in the prefix is ignored. A repository
# prefix P matches P itself, P/..., P:tag and P@digest, but never P-other/...;
# a registry-host prefix H matches only H itself and H/....
ref_has_prefix(_, "*") := true

ref_has_prefix(ref, prefix) if {
	is_string(ref)
	is_string(prefix)
	prefix != "*"
	p0 := trim_right(prefix, "/")
	p0 != ""
	_prefix_is_host(p0)
	p := _canonical_host(p0)
	r := normalize_ref(ref)
	_boundary(r, p, ["/"])
}

ref_has_prefix(ref, prefix) if {
	is_string(ref)
	is_string(prefix)
	prefix != "*"
	p0 := trim_right(prefix, "/")
	p0 != ""
	not _prefix_is_host(p0)
	p := normalize_ref(p0)
	r := normalize_ref(ref)
	_boundary(r, p, ["/", ":", "@"])
}

_boundary(r, p, _) if r == p

_boundary(r, p, seps) if {
	some sep in seps
	startswith(r, concat("", [p, sep]))
}

# ref_approved holds when ref matches any prefix of the list.
ref_approved(ref, prefixes) if {
	some prefix in arr(prefixes)
	ref_has_prefix(ref, prefix)
}

# is_pinned holds when the reference carries a sha256 digest.
is_pinned(ref) if contains(ref, "@sha256:")

# ---------------------------------------------------------------------------
# Kubernetes quantities, parsed in pure Rego (units.parse differs between
# engines: OPA rejects "1e9", regorus accepts it and returns undefined for
# unknown suffixes). Accepts numbers and strings such as "2", "500m", "1.5",
# "4Gi", "512Mi", "1G", "1e9", "2.5E3". Undefined when not a valid quantity.
# ---------------------------------------------------------------------------

_quantity_multipliers := {
	"Ki": 1024,
	"Mi": 1048576,
	"Gi": 1073741824,
	"Ti": 1099511627776,
	"Pi": 1125899906842624,
	"Ei": 1152921504606846976,
	"k": 1000,
	"M": 1000000,
	"G": 1000000000,
	"T": 1000000000000,
	"P": 1000000000000000,
	"E": 1000000000000000000,
}

_decimal_re := `^\+?([0-9]+(\.[0-9]+)?|\.[0-9]+)$`

_exponent_re := `^\+?([0-9]+(\.[0-9]+)?|\.[0-9]+)[eE][+-]?[0-9]+$`

# _num converts a validated decimal string; a leading "." or "+" is normalised
# first because OPA keeps ".5" as an invalid JSON number.
_num(s) := to_number(concat("", ["0", t])) if {
	t := trim_prefix(s, "+")
	startswith(t, ".")
} else := to_number(trim_prefix(s, "+"))

_quantity_candidates(s) := ((plain | milli) | suffixed) | exponent if {
	plain := {v | regex.match(_decimal_re, s); v := _num(s)}
	milli := {v |
		endswith(s, "m")
		n := trim_suffix(s, "m")
		regex.match(_decimal_re, n)
		v := _num(n) / 1000
	}
	suffixed := {v |
		some suffix, mult in _quantity_multipliers
		endswith(s, suffix)
		n := trim_suffix(s, suffix)
		regex.match(_decimal_re, n)
		v := _num(n) * mult
	}
	exponent := {v | regex.match(_exponent_re, s); v := to_number(trim_prefix(s, "+"))}
}

quantity(q) := q if is_number(q)

quantity(q) := v if {
	is_string(q)
	vals := _quantity_candidates(trim_space(q))
	count(vals) == 1
	some v in vals
}
