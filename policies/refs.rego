# Source-ref rules: protected environments deploy only from protected refs.
package tollgate.refs

import data.tollgate.lib

_ref_name := n if {
	n := object.get(lib.obj(object.get(input, "context", {})), "ref", null)
	is_string(n)
} else := "an unknown ref"

# METADATA
# title: Protected ref required
# description: >-
#   A deploy to an environment listed in config.protected_environments must run
#   from a ref the platform protects (input.context.protected_ref is true).
# custom:
#   id: protected-ref-required
#   severity: error
#   help: Deploy protected environments only from a protected branch or tag.
deny contains r if {
	lib.protected_environment
	object.get(lib.obj(object.get(input, "context", {})), "protected_ref", false) != true
	r := lib.result(
		"protected-ref-required",
		sprintf(
			"environment '%s' is protected but this run is from %s, which is not a protected ref",
			[lib.environment, _ref_name],
		),
		["deploy", "environment"],
	)
}
