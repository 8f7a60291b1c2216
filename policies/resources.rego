# Resource quotas: deploy.resources must stay within the environment's quota.
package tollgate.resources

import data.tollgate.lib

quotas := lib.obj(lib.config.quotas)

# quota_key is the config.quotas key that applies: the environment, else "*".
quota_key := lib.environment if {
	is_string(lib.environment)
	is_object(quotas[lib.environment])
} else := "*" if {
	is_object(quotas["*"])
}

quota := quotas[quota_key]

# limit_desc describes a limit and where it comes from, for messages.
limit_desc(limit) := sprintf("the quota of %v for environment '%s'", [limit, quota_key]) if {
	quota_key != "*"
} else := sprintf("the default ('*') quota of %v (no quota is set for environment '%v')", [limit, lib.environment])

resources := lib.obj(object.get(lib.deploy, "resources", {}))

checked := ["cpu", "memory", "replicas"]

# METADATA
# title: Resource quota exceeded
# description: >-
#   deploy.resources cpu, memory and replicas (Kubernetes quantities) must not
#   exceed config.quotas[environment] (fallback config.quotas["*"]).
# custom:
#   id: resource-quota-exceeded
#   severity: error
#   help: Lower deploy.resources to the quota or raise the quota in the policy data.
deny contains r if {
	some k in checked
	value := resources[k]
	limit := quota[k]
	v := lib.quantity(value)
	l := lib.quantity(limit)
	v > l
	r := lib.result(
		"resource-quota-exceeded",
		sprintf("%s %v exceeds %s", [k, value, limit_desc(limit)]),
		["deploy", "resources", k],
	)
}

# METADATA
# title: Resource quantity not understood
# description: A resource value that is not a valid Kubernetes quantity fails closed.
# custom:
#   id: resource-quota-exceeded
#   severity: error
#   help: Write the value as a Kubernetes quantity such as "500m", "2", "4Gi" or 3.
deny contains r if {
	some k in checked
	value := resources[k]
	_ = quota[k]
	not lib.quantity(value)
	r := lib.result(
		"resource-quota-exceeded",
		sprintf("%s value '%v' is not a valid Kubernetes quantity, so it cannot be checked against %s", [k, value, limit_desc(quota[k])]),
		["deploy", "resources", k],
	)
}

# METADATA
# title: Resource quota misconfigured
# description: A configured quota that is not a valid Kubernetes quantity fails closed.
# custom:
#   id: resource-quota-exceeded
#   severity: error
#   help: Fix config.quotas in the policy data so that every limit is a Kubernetes quantity.
deny contains r if {
	some k in checked
	_ = resources[k]
	limit := quota[k]
	not lib.quantity(limit)
	r := lib.result(
		"resource-quota-exceeded",
		sprintf("%s %v cannot be checked: %s, but '%v' is not a valid Kubernetes quantity", [k, resources[k], limit_desc(limit), limit]),
		["deploy", "resources", k],
	)
}
