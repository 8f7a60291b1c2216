package tollgate.refs_test

import data.tollgate.lib_test as fx
import data.tollgate.refs

test_protected_ref_pass if {
	inp := fx.good_input
	count(fx.by_rule(refs.deny, "protected-ref-required")) == 0 with input as inp
}

test_protected_ref_fail if {
	inp := fx.patched({"context": {"protected_ref": false, "ref": "refs/heads/feature"}})
	res := fx.by_rule(refs.deny, "protected-ref-required") with input as inp
	count(res) == 1
	some r in res
	r.path == ["deploy", "environment"]
	r.severity == "error"
	r.waivable == true
	contains(r.msg, "production")
	contains(r.msg, "refs/heads/feature")
}

test_protected_ref_fail_closed_without_context if {
	inp := object.remove(fx.good_input, ["context"])
	count(fx.by_rule(refs.deny, "protected-ref-required")) == 1 with input as inp
	inp2 := fx.patched({"context": {"protected_ref": null, "ref": null}})
	count(fx.by_rule(refs.deny, "protected-ref-required")) == 1 with input as inp2
}

test_unprotected_environment_pass if {
	inp := fx.patched({"context": {"protected_ref": false}, "manifest": {"deploy": {"environment": "staging"}}})
	count(fx.by_rule(refs.deny, "protected-ref-required")) == 0 with input as inp
}

test_protected_environments_override if {
	inp := fx.patched({"context": {"protected_ref": false}, "manifest": {"deploy": {"environment": "staging"}}})
	count(fx.by_rule(refs.deny, "protected-ref-required")) == 1 with input as inp with data.tollgate.config as {"protected_environments": ["staging", "production"]}
	inp2 := fx.patched({"context": {"protected_ref": false}})
	count(fx.by_rule(refs.deny, "protected-ref-required")) == 0 with input as inp2 with data.tollgate.config as {"protected_environments": []}
}

test_no_deploy_section if {
	inp := {"manifest": {"images": []}, "context": {"protected_ref": false}}
	count(refs.deny) == 0 with input as inp
}
