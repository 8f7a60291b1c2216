# Data residency: each data class may be deployed only to its allowed regions.
package tollgate.residency

import data.tollgate.lib

# METADATA
# title: Data residency violation
# description: >-
#   For every deploy.data_classes entry with a config.residency entry, each
#   deploy.regions entry must match one of the class's region globs
#   (one finding per class and region).
# custom:
#   id: data-residency-violation
#   severity: error
#   help: Deploy this data class only to regions allowed by the residency policy.
deny contains r if {
	some class in lib.arr(object.get(lib.deploy, "data_classes", []))
	is_string(class)
	allowed := lib.arr(object.get(lib.obj(lib.config.residency), class, null))
	lib.has_key(lib.obj(lib.config.residency), class)
	some j, region in lib.arr(object.get(lib.deploy, "regions", []))
	is_string(region)
	not lib.any_glob(allowed, region)
	r := lib.result(
		"data-residency-violation",
		sprintf(
			"data class '%s' may only be deployed to regions matching %v, but region '%s' is listed",
			[class, allowed, region],
		),
		["deploy", "regions", j],
	)
}
