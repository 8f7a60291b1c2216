package tollgate.signoffs_test

import data.tollgate.lib_test as fx
import data.tollgate.signoffs

signoff_input(reqs, given) := object.union(
	object.union(fx.good_input, {"manifest": {"requirements": {"signoffs": reqs}}}),
	{"signoffs": given},
)

test_signoff_pass if {
	inp := fx.good_input
	count(fx.by_rule(signoffs.deny, "signoff-missing")) == 0 with input as inp
}

test_signoff_fail_duplicate_signer if {
	inp := signoff_input([{"role": "security", "min": 2}], {"security": [{"signer": "alice", "time": "t1"}, {"signer": "alice", "time": "t2"}]})
	res := fx.by_rule(signoffs.deny, "signoff-missing") with input as inp
	count(res) == 1
	some r in res
	r.path == ["requirements", "signoffs", 0, "role"]
	r.severity == "error"
	r.waivable == true
	contains(r.msg, "security")
	contains(r.msg, "2")
	contains(r.msg, "1")
}

test_signoff_pass_distinct_signers if {
	inp := signoff_input([{"role": "security", "min": 2}], {"security": [{"signer": "alice", "time": "t1"}, {"signer": "bob", "time": "t2"}]})
	count(signoffs.deny) == 0 with input as inp
}

test_signoff_default_min_is_one if {
	inp := signoff_input([{"role": "qa"}], {"security": [{"signer": "alice"}]})
	res := signoffs.deny with input as inp
	{r.path | some r in res} == {["requirements", "signoffs", 0, "role"]}
}

test_signoff_fail_closed_without_signoffs if {
	inp := object.remove(fx.good_input, ["signoffs"])
	count(fx.by_rule(signoffs.deny, "signoff-missing")) == 1 with input as inp
}

test_signoff_min_zero if {
	inp := signoff_input([{"role": "qa", "min": 0}], {})
	count(signoffs.deny) == 0 with input as inp
}

test_signoff_edge_cases if {
	inp1 := {"manifest": {}}
	count(signoffs.deny) == 0 with input as inp1
	inp2 := {"manifest": {"requirements": {"tests": []}}, "signoffs": {"x": [{"signer": "a"}]}}
	count(signoffs.deny) == 0 with input as inp2
	inp3 := {"manifest": {"requirements": {"signoffs": [{"role": "r"}]}}, "signoffs": {"r": [{"time": "t"}, null]}}
	count(signoffs.deny) == 1 with input as inp3
}

test_signoff_invalid_warns_per_problem if {
	inp := object.union(fx.good_input, {"signoff_problems": [
		{"file": ".tollgate/signoffs/a.json", "role": "security", "signer": "bob", "problem": "wrong-role", "message": "key 'bob' does not hold the role"},
		{"file": ".tollgate/signoffs/b.json", "role": null, "signer": null, "problem": "malformed", "message": "not JSON"},
	]})
	res := fx.by_rule(signoffs.warn, "signoff-invalid") with input as inp
	count(res) == 2
	some r in res
	r.severity == "warning"
	r.waivable == false
	contains(r.msg, "wrong-role")
	contains(r.msg, "a.json")
}

test_signoff_invalid_quiet_without_problems if {
	inp := fx.good_input
	count(signoffs.warn) == 0 with input as inp
}

test_signoff_invalid_ignores_a_mistyped_list if {
	inp := object.union(fx.good_input, {"signoff_problems": "nonsense"})
	count(signoffs.warn) == 0 with input as inp
}
