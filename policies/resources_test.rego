package tollgate.resources_test

import data.tollgate.lib_test as fx
import data.tollgate.resources

res_input(env, res) := object.union(
	fx.good_input,
	{"manifest": {"deploy": {"environment": env, "resources": res}}},
)

paths(results) := {r.path | some r in results}

test_quota_pass if {
	inp := fx.good_input
	count(fx.by_rule(resources.deny, "resource-quota-exceeded")) == 0 with input as inp
}

test_quota_cpu_exceeded if {
	inp := res_input("production", {"cpu": "12"})
	res := fx.by_rule(resources.deny, "resource-quota-exceeded") with input as inp
	paths(res) == {["deploy", "resources", "cpu"]}
	some r in res
	r.severity == "error"
	r.waivable == true
	contains(r.msg, "12")
	contains(r.msg, "8")
	contains(r.msg, "production")
}

test_quota_cpu_millicores if {
	inp1 := res_input("production", {"cpu": "8000m"})
	count(resources.deny) == 0 with input as inp1
	inp2 := res_input("production", {"cpu": "8001m"})
	paths(resources.deny) == {["deploy", "resources", "cpu"]} with input as inp2
	inp3 := res_input("production", {"cpu": 1.5})
	count(resources.deny) == 0 with input as inp3
	inp4 := res_input("production", {"cpu": 8.5})
	count(resources.deny) == 1 with input as inp4
}

test_quota_memory if {
	inp1 := res_input("production", {"memory": "16Gi"})
	count(resources.deny) == 0 with input as inp1
	inp2 := res_input("production", {"memory": "18G"})
	paths(resources.deny) == {["deploy", "resources", "memory"]} with input as inp2
	inp3 := res_input("production", {"memory": "512Mi"})
	count(resources.deny) == 0 with input as inp3
	inp4 := res_input("production", {"memory": "1e9"})
	count(resources.deny) == 0 with input as inp4
	inp5 := res_input("production", {"memory": 20000000000})
	count(resources.deny) == 1 with input as inp5
}

test_quota_replicas if {
	inp1 := res_input("production", {"replicas": 20})
	count(resources.deny) == 0 with input as inp1
	inp2 := res_input("production", {"replicas": 21})
	paths(resources.deny) == {["deploy", "resources", "replicas"]} with input as inp2
}

test_quota_one_finding_per_resource if {
	inp := res_input("production", {"cpu": "9", "memory": "32Gi", "replicas": 50})
	res := fx.by_rule(resources.deny, "resource-quota-exceeded") with input as inp
	paths(res) == {["deploy", "resources", "cpu"], ["deploy", "resources", "memory"], ["deploy", "resources", "replicas"]}
}

test_quota_fallback_star if {
	inp1 := res_input("staging", {"cpu": "4", "memory": "8Gi", "replicas": 5})
	count(resources.deny) == 0 with input as inp1
	inp2 := res_input("staging", {"cpu": "5", "memory": "8Gi", "replicas": 6})
	res := resources.deny with input as inp2
	paths(res) == {["deploy", "resources", "cpu"], ["deploy", "resources", "replicas"]}
	every r in res {
		contains(r.msg, "staging")
	}
}

test_quota_without_environment_uses_star if {
	inp := {"manifest": {"deploy": {"resources": {"cpu": "5"}}}}
	count(resources.deny) == 1 with input as inp
}

test_quota_override_adds_environment if {
	inp := res_input("staging", {"cpu": "5", "memory": "32Gi"})
	res := resources.deny with input as inp with data.tollgate.config as {"quotas": {"staging": {"cpu": "16"}}}
	count(res) == 0
	inp2 := res_input("production", {"cpu": "12"})
	count(resources.deny) == 0 with input as inp2 with data.tollgate.config as {"quotas": {"production": {"cpu": "16"}}}
	count(resources.deny) == 1 with input as inp2 with data.tollgate.config as {"quotas": {"production": {"cpu": "10"}}}
}

test_quota_no_quota_for_environment if {
	inp := res_input("staging", {"cpu": "500"})
	count(resources.deny) == 0 with input as inp with data.tollgate.config as {"quotas": {"*": null}}
}

test_quota_invalid_quantity_fails_closed if {
	inp := res_input("production", {"cpu": "lots", "memory": "4GB"})
	res := resources.deny with input as inp
	paths(res) == {["deploy", "resources", "cpu"], ["deploy", "resources", "memory"]}
	every r in res {
		contains(r.msg, "not a valid Kubernetes quantity")
	}
}

test_quota_invalid_config_fails_closed if {
	inp := res_input("production", {"cpu": "1"})
	res := resources.deny with input as inp with data.tollgate.config as {"quotas": {"production": {"cpu": "many"}}}
	paths(res) == {["deploy", "resources", "cpu"]}
}

test_quota_edge_cases if {
	inp1 := {"manifest": {}}
	count(resources.deny) == 0 with input as inp1
	inp2 := {"manifest": {"deploy": {"environment": "production"}}}
	count(resources.deny) == 0 with input as inp2
	inp3 := {"manifest": {"deploy": {"environment": "production", "resources": {"gpu": "4"}}}}
	count(resources.deny) == 0 with input as inp3
}
