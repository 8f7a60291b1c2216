# IAM rules: deployment roles must not match prohibited patterns.
package tollgate.iam

import data.tollgate.lib

# role_names are the strings a prohibited glob is matched against: the full
# entry (e.g. the ARN), the role name after "role/" (with its path), the last
# path segment, and the resource part after the last ":" (e.g. "root").
role_names(role) := {n |
	some n in [role, _after_role(role), _last(split(role, "/")), _last(split(role, ":"))]
	n != ""
}

_last(parts) := parts[count(parts) - 1]

_after_role(role) := concat("role/", array.slice(parts, 1, count(parts))) if {
	parts := split(role, "role/")
	count(parts) > 1
} else := ""

# METADATA
# title: Prohibited IAM role
# description: >-
#   An entry of deploy.iam_roles matches a glob of config.prohibited_iam_roles
#   (matched against the full ARN and against the role name).
# custom:
#   id: iam-role-prohibited
#   severity: error
#   help: Deploy with a least-privilege role that does not match prohibited_iam_roles.
deny contains r if {
	some i, role in lib.arr(object.get(lib.deploy, "iam_roles", []))
	is_string(role)
	matched := {p |
		some p in lib.arr(lib.config.prohibited_iam_roles)
		some n in role_names(role)
		lib.glob_match(p, n)
	}
	count(matched) > 0
	r := lib.result(
		"iam-role-prohibited",
		sprintf(
			"IAM role '%s' matches prohibited pattern(s) %v",
			[role, sort(matched)],
		),
		["deploy", "iam_roles", i],
	)
}
