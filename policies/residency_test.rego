package tollgate.residency_test

import data.tollgate.lib_test as fx
import data.tollgate.residency

deploy_input(classes, regions) := fx.manifest_patched({"deploy": {"data_classes": classes, "regions": regions}})

test_residency_pass if {
	inp := fx.good_input
	count(fx.by_rule(residency.deny, "data-residency-violation")) == 0 with input as inp
}

test_residency_fail_region_outside if {
	inp := deploy_input(["pii"], ["eu-west-1", "us-east-1"])
	res := fx.by_rule(residency.deny, "data-residency-violation") with input as inp
	count(res) == 1
	some r in res
	r.path == ["deploy", "regions", 1]
	r.severity == "error"
	r.waivable == true
	contains(r.msg, "pii")
	contains(r.msg, "us-east-1")
	contains(r.msg, "eu-*")
}

test_residency_one_finding_per_class_and_region if {
	inp := deploy_input(["pii", "phi", "public"], ["eu-west-1", "ap-south-1"])
	res := fx.by_rule(residency.deny, "data-residency-violation") with input as inp
	count(res) == 3
	{r.path | some r in res} == {["deploy", "regions", 0], ["deploy", "regions", 1]}
}

test_residency_unknown_class_is_unrestricted if {
	inp := deploy_input(["public"], ["ap-south-1"])
	count(residency.deny) == 0 with input as inp
}

test_residency_override if {
	inp := deploy_input(["pii"], ["eu-west-1", "us-east-1"])
	count(residency.deny) == 0 with input as inp with data.tollgate.config as {"residency": {"pii": ["eu-*", "us-east-1"]}}
	inp2 := deploy_input(["public"], ["ap-south-1"])
	count(residency.deny) == 1 with input as inp2 with data.tollgate.config as {"residency": {"public": ["eu-*"]}}
}

test_residency_empty_allow_list_denies_every_region if {
	inp := deploy_input(["secret"], ["eu-west-1"])
	count(residency.deny) == 1 with input as inp with data.tollgate.config as {"residency": {"secret": []}}
}

test_residency_edge_cases if {
	inp1 := {"manifest": {"deploy": {"data_classes": ["pii"]}}}
	count(residency.deny) == 0 with input as inp1
	inp2 := {"manifest": {"deploy": {"regions": ["us-east-1"]}}}
	count(residency.deny) == 0 with input as inp2
	inp3 := {"manifest": {}}
	count(residency.deny) == 0 with input as inp3
}
