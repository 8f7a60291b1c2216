package tollgate.evidence_test

import data.tollgate.evidence
import data.tollgate.lib_test as fx

# tests_input replaces the test requirement list and input.evidence.tests wholesale.
tests_input(reqs, facts) := replace_evidence("tests", object.union(fx.good_input, {"manifest": {"requirements": {"tests": reqs}}}), facts)

# scans_input replaces the scan requirement list and input.evidence.scans wholesale.
scans_input(reqs, facts) := replace_evidence("scans", object.union(fx.good_input, {"manifest": {"requirements": {"scans": reqs}}}), facts)

replace_evidence(kind, base, facts) := object.union(
	object.remove(base, ["evidence"]),
	{"evidence": object.union(object.remove(base.evidence, [kind]), {kind: facts})},
)

unit_req := {"name": "unit", "report": "reports/unit.xml"}

trivy_req := {"name": "trivy", "report": "reports/trivy.sarif"}

junit(total, passed, skipped) := {
	"found": true, "report": "reports/unit.xml", "total": total, "passed": passed,
	"failed": (total - passed) - skipped, "errors": 0, "skipped": skipped, "failures": [],
}

sarif(counts) := {
	"found": true, "report": "reports/trivy.sarif",
	"total": sum([n | some n in counts]),
	"counts": object.union({"critical": 0, "high": 0, "medium": 0, "low": 0, "none": 0}, counts),
	"findings": [],
}

paths(results) := {r.path | some r in results}

# --- test-report-missing ----------------------------------------------------

test_test_report_present_passes if {
	inp := fx.good_input
	count(fx.by_rule(evidence.deny, "test-report-missing")) == 0 with input as inp
}

test_test_report_absent_entry if {
	inp := tests_input([unit_req], {})
	res := fx.by_rule(evidence.deny, "test-report-missing") with input as inp
	paths(res) == {["requirements", "tests", 0, "report"]}
	some r in res
	r.severity == "error"
	r.waivable == true
	contains(r.msg, "unit")
	contains(r.msg, "reports/unit.xml")
}

test_test_report_not_found_names_error if {
	inp := tests_input([unit_req], {"unit": {"found": false, "report": "reports/unit.xml", "error": "no such file"}})
	res := fx.by_rule(evidence.deny, "test-report-missing") with input as inp
	count(res) == 1
	some r in res
	contains(r.msg, "no such file")
	count(fx.by_rule(evidence.deny, "test-failed")) == 0 with input as inp
}

test_test_report_path_without_report_key if {
	inp := tests_input([{"name": "unit"}], {})
	paths(evidence.deny) == {["requirements", "tests", 0]} with input as inp
}

# --- test-failed ------------------------------------------------------------

test_tests_all_passed if {
	inp := tests_input([unit_req], {"unit": junit(40, 40, 0)})
	count(evidence.deny) == 0 with input as inp
}

test_tests_failed_pass_rate if {
	facts := object.union(junit(40, 38, 0), {"failures": [
		{"name": "test_refund", "classname": "P", "message": "x"},
		{"name": "test_void", "classname": "P", "message": "y"},
	]})
	inp := tests_input([unit_req], {"unit": facts})
	res := fx.by_rule(evidence.deny, "test-failed") with input as inp
	paths(res) == {["requirements", "tests", 0, "report"]}
	some r in res
	r.severity == "error"
	r.waivable == true
	contains(r.msg, "38 of 40")
	contains(r.msg, "95%")
	contains(r.msg, "100%")
	contains(r.msg, "test_refund, test_void")
}

test_tests_min_pass_rate_override if {
	inp := tests_input([object.union(unit_req, {"min_pass_rate": 95})], {"unit": junit(40, 38, 0)})
	count(evidence.deny) == 0 with input as inp
	inp2 := tests_input([object.union(unit_req, {"min_pass_rate": 95})], {"unit": junit(40, 37, 0)})
	res := evidence.deny with input as inp2
	count(res) == 1
	some r in res
	contains(r.msg, "92.5%")
}

test_tests_skipped_are_not_executed if {
	inp := tests_input([unit_req], {"unit": junit(10, 8, 2)})
	count(evidence.deny) == 0 with input as inp
}

test_tests_too_few_executed if {
	inp := tests_input([unit_req], {"unit": junit(3, 0, 3)})
	res := fx.by_rule(evidence.deny, "test-failed") with input as inp
	count(res) == 1
	some r in res
	contains(r.msg, "executed 0 test(s)")
	contains(r.msg, "min_tests of 1")
}

test_tests_min_tests_override if {
	inp := tests_input([object.union(unit_req, {"min_tests": 50})], {"unit": junit(40, 40, 0)})
	res := fx.by_rule(evidence.deny, "test-failed") with input as inp
	count(res) == 1
	some r in res
	contains(r.msg, "min_tests of 50")
	inp2 := tests_input([object.union(unit_req, {"min_tests": 0})], {"unit": junit(0, 0, 0)})
	count(evidence.deny) == 0 with input as inp2
}

test_tests_found_with_missing_numbers if {
	inp := tests_input([unit_req], {"unit": {"found": true}})
	count(fx.by_rule(evidence.deny, "test-failed")) == 1 with input as inp
}

# --- scan-report-missing ----------------------------------------------------

test_scan_report_present_passes if {
	inp := fx.good_input
	count(fx.by_rule(evidence.deny, "scan-report-missing")) == 0 with input as inp
}

test_scan_report_missing if {
	inp := scans_input([trivy_req], {"trivy": {"found": false, "error": "invalid SARIF: expected version 2.1.0"}})
	res := fx.by_rule(evidence.deny, "scan-report-missing") with input as inp
	paths(res) == {["requirements", "scans", 0, "report"]}
	some r in res
	r.waivable == true
	contains(r.msg, "invalid SARIF")
	inp2 := scans_input([trivy_req], {})
	count(fx.by_rule(evidence.deny, "scan-report-missing")) == 1 with input as inp2
}

# --- scan-threshold-exceeded ------------------------------------------------

test_scan_default_max_severity_none if {
	inp := scans_input([trivy_req], {"trivy": sarif({"low": 1})})
	res := fx.by_rule(evidence.deny, "scan-threshold-exceeded") with input as inp
	paths(res) == {["requirements", "scans", 0]}
	some r in res
	r.severity == "error"
	r.waivable == true
	contains(r.msg, "1 low")
	inp2 := scans_input([trivy_req], {"trivy": sarif({"none": 4})})
	count(evidence.deny) == 0 with input as inp2
}

test_scan_max_severity_medium if {
	req := object.union(trivy_req, {"max_severity": "medium"})
	inp := scans_input([req], {"trivy": sarif({"medium": 5, "low": 2})})
	count(evidence.deny) == 0 with input as inp
	facts := object.union(sarif({"high": 1, "critical": 2, "medium": 1}), {"findings": [
		{"rule_id": "CVE-1", "severity": "critical"},
		{"rule_id": "CVE-2", "severity": "high"},
		{"rule_id": "CVE-3", "severity": "medium"},
	]})
	inp2 := scans_input([req], {"trivy": facts})
	res := fx.by_rule(evidence.deny, "scan-threshold-exceeded") with input as inp2
	paths(res) == {["requirements", "scans", 0, "max_severity"]}
	some r in res
	contains(r.msg, "2 critical, 1 high")
	contains(r.msg, "CVE-1, CVE-2")
	not contains(r.msg, "CVE-3")
}

test_scan_max_severity_critical_allows_everything if {
	req := object.union(trivy_req, {"max_severity": "critical"})
	inp := scans_input([req], {"trivy": sarif({"critical": 3})})
	count(evidence.deny) == 0 with input as inp
}

test_scan_max_findings if {
	req := object.union(trivy_req, {"max_severity": "critical", "max_findings": 2})
	inp := scans_input([req], {"trivy": sarif({"low": 3})})
	res := fx.by_rule(evidence.deny, "scan-threshold-exceeded") with input as inp
	paths(res) == {["requirements", "scans", 0, "max_findings"]}
	some r in res
	contains(r.msg, "3 findings")
	inp2 := scans_input([req], {"trivy": sarif({"low": 2})})
	count(evidence.deny) == 0 with input as inp2
}

test_scan_max_findings_zero if {
	req := object.union(trivy_req, {"max_severity": "critical", "max_findings": 0})
	inp := scans_input([req], {"trivy": sarif({"none": 1})})
	count(evidence.deny) == 1 with input as inp
}

test_scan_both_thresholds if {
	req := object.union(trivy_req, {"max_severity": "low", "max_findings": 1})
	inp := scans_input([req], {"trivy": sarif({"high": 2})})
	paths(evidence.deny) == {["requirements", "scans", 0, "max_severity"], ["requirements", "scans", 0, "max_findings"]} with input as inp
}

test_scan_unknown_max_severity_is_strictest if {
	req := object.union(trivy_req, {"max_severity": "bogus"})
	inp := scans_input([req], {"trivy": sarif({"low": 1})})
	count(evidence.deny) == 1 with input as inp
}

# --- edge cases -------------------------------------------------------------

test_evidence_edge_cases if {
	inp1 := {"manifest": {}}
	count(evidence.deny) == 0 with input as inp1
	inp2 := {"manifest": {"requirements": {"signoffs": []}}}
	count(evidence.deny) == 0 with input as inp2
	inp3 := {"manifest": {"requirements": {"tests": [unit_req], "scans": [trivy_req]}}}
	paths(evidence.deny) == {["requirements", "tests", 0, "report"], ["requirements", "scans", 0, "report"]} with input as inp3
	inp4 := {"manifest": {"requirements": {"tests": [unit_req]}}, "evidence": {"tests": {"unit": {"found": true, "total": 2, "passed": 2, "skipped": 0, "failures": null}}}}
	count(evidence.deny) == 0 with input as inp4
}
