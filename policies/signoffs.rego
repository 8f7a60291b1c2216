# Sign-offs: each required role needs `min` distinct valid signers.
package tollgate.signoffs

import data.tollgate.lib

signers(role) := {s |
	some entry in lib.arr(object.get(lib.obj(object.get(input, "signoffs", {})), role, []))
	s := object.get(lib.obj(entry), "signer", null)
	is_string(s)
}

# METADATA
# title: Sign-off missing
# description: >-
#   For every requirements.signoffs entry, input.signoffs[role] must hold at least
#   `min` (default 1) distinct signers.
# custom:
#   id: signoff-missing
#   severity: error
#   help: Collect signed sign-offs from distinct keystore keys holding the role.
deny contains r if {
	some i, raw in lib.arr(object.get(lib.requirements, "signoffs", []))
	req := lib.obj(raw)
	role := object.get(req, "role", null)
	is_string(role)
	minimum := object.get(req, "min", 1)
	have := signers(role)
	count(have) < minimum
	r := lib.result(
		"signoff-missing",
		sprintf(
			"role '%s' needs %v distinct sign-off(s) but has %v%s",
			[role, minimum, count(have), _who(have)],
		),
		lib.key_path(["requirements", "signoffs", i], req, "role"),
	)
}

_who(have) := sprintf(" (%s)", [concat(", ", sort(have))]) if {
	count(have) > 0
} else := ""

# METADATA
# title: Sign-off invalid
# description: >-
#   A sign-off in the sign-off folder does not count: bad signature, a key the key store does
#   not hold, a key without signoff:<role>, a different (older) manifest, or a malformed file.
#   tollgate verifies sign-offs and lists the rejected ones in input.signoff_problems.
# custom:
#   id: signoff-invalid
#   severity: warning
#   help: Sign off again with a key-store key that holds signoff:<role>.
warn contains r if {
	some p in lib.arr(object.get(input, "signoff_problems", []))
	problem := lib.obj(p)
	r := lib.warning(
		"signoff-invalid",
		sprintf(
			"sign-off %s ignored (%s): %s",
			[lib.str(object.get(problem, "file", "")), lib.str(object.get(problem, "problem", "")), lib.str(object.get(problem, "message", ""))],
		),
		null,
	)
}
