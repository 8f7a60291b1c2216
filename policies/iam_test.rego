package tollgate.iam_test

import data.tollgate.iam
import data.tollgate.lib_test as fx

roles_input(roles) := object.union(fx.good_input, {"manifest": {"deploy": {"iam_roles": roles}}})

test_role_pass if {
	inp := fx.good_input
	count(fx.by_rule(iam.deny, "iam-role-prohibited")) == 0 with input as inp
}

test_role_fail_admin_in_arn if {
	inp := roles_input(["arn:aws:iam::123456789012:role/payments-deployer", "arn:aws:iam::123456789012:role/OrgAdmin"])
	res := fx.by_rule(iam.deny, "iam-role-prohibited") with input as inp
	count(res) == 1
	some r in res
	r.path == ["deploy", "iam_roles", 1]
	r.severity == "error"
	r.waivable == true
	contains(r.msg, "arn:aws:iam::123456789012:role/OrgAdmin")
	contains(r.msg, "*Admin*")
}

test_role_fail_exact_role_name if {
	inp := roles_input(["arn:aws:iam::123456789012:role/AdministratorAccess", "arn:aws:iam::123456789012:root", "root"])
	res := fx.by_rule(iam.deny, "iam-role-prohibited") with input as inp
	{r.path | some r in res} == {["deploy", "iam_roles", 0], ["deploy", "iam_roles", 1], ["deploy", "iam_roles", 2]}
}

test_role_name_is_matched_after_role_prefix if {
	inp := roles_input(["arn:aws:iam::123456789012:role/ops/breakglass", "arn:aws:iam::123456789012:role/dev/breakglass"])
	res := fx.by_rule(iam.deny, "iam-role-prohibited") with input as inp with data.tollgate.config as {"prohibited_iam_roles": ["ops/*"]}
	{r.path | some r in res} == {["deploy", "iam_roles", 0]}
}

test_role_last_segment_is_matched if {
	inp := roles_input(["arn:aws:iam::123456789012:role/team/breakglass"])
	count(fx.by_rule(iam.deny, "iam-role-prohibited")) == 1 with input as inp with data.tollgate.config as {"prohibited_iam_roles": ["breakglass"]}
}

test_role_config_override_replaces_list if {
	inp := roles_input(["arn:aws:iam::123456789012:role/payments-deployer", "arn:aws:iam::123456789012:role/OrgAdmin"])
	res := fx.by_rule(iam.deny, "iam-role-prohibited") with input as inp with data.tollgate.config as {"prohibited_iam_roles": ["*deployer"]}
	{r.path | some r in res} == {["deploy", "iam_roles", 0]}
}

test_role_glob_is_case_sensitive if {
	inp := roles_input(["arn:aws:iam::1:role/ADMINS"])
	count(fx.by_rule(iam.deny, "iam-role-prohibited")) == 0 with input as inp
}

test_role_edge_cases if {
	inp1 := {"manifest": {}}
	count(iam.deny) == 0 with input as inp1
	inp2 := {"manifest": {"deploy": {"environment": "production"}}}
	count(iam.deny) == 0 with input as inp2
	inp3 := {"manifest": {"deploy": {"iam_roles": [1, null, ""]}}}
	count(iam.deny) == 0 with input as inp3
}
