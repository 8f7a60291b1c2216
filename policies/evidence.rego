# Evidence rules: required test reports (JUnit) and scan reports (SARIF).
package tollgate.evidence

import data.tollgate.lib

severity_levels := ["none", "low", "medium", "high", "critical"]

required_tests := lib.arr(object.get(lib.requirements, "tests", []))

required_scans := lib.arr(object.get(lib.requirements, "scans", []))

junit_report(name) := lib.obj(object.get(lib.obj(object.get(lib.obj(object.get(input, "evidence", {})), "tests", {})), name, {}))

sarif_report(name) := lib.obj(object.get(lib.obj(object.get(lib.obj(object.get(input, "evidence", {})), "scans", {})), name, {}))

_report_desc(req, facts) := sprintf(" at '%s'", [r]) if {
	r := object.get(req, "report", object.get(facts, "report", null))
	is_string(r)
} else := ""

_reason(facts) := sprintf(": %s", [e]) if {
	e := object.get(facts, "error", null)
	is_string(e)
	e != ""
} else := " (no report was produced)" if {
	not lib.has_key(facts, "found")
} else := ""

# METADATA
# title: Test report missing
# description: Every requirements.tests entry needs a readable report (input.evidence.tests[name].found is true).
# custom:
#   id: test-report-missing
#   severity: error
#   help: Run the test suite before the gate and write its JUnit XML report to the manifest's path.
deny contains r if {
	some i, raw in required_tests
	req := lib.obj(raw)
	name := object.get(req, "name", null)
	facts := junit_report(name)
	object.get(facts, "found", false) != true
	r := lib.result(
		"test-report-missing",
		sprintf("test report '%v'%s was not found or could not be read%s", [name, _report_desc(req, facts), _reason(facts)]),
		lib.key_path(["requirements", "tests", i], req, "report"),
	)
}

_first_failures(facts) := sprintf("; first failures: %s", [concat(", ", names)]) if {
	names := [n |
		some f in array.slice(lib.arr(object.get(facts, "failures", [])), 0, 5)
		n := object.get(lib.obj(f), "name", null)
		is_string(n)
	]
	count(names) > 0
} else := ""

# _tests computes the numbers of one found test report.
_tests(req, facts) := {
	"total": total,
	"passed": passed,
	"skipped": skipped,
	"executed": total - skipped,
	"min_tests": lib.num(object.get(req, "min_tests", 1)),
	"min_pass_rate": lib.num(object.get(req, "min_pass_rate", 100)),
} if {
	total := lib.num(object.get(facts, "total", 0))
	passed := lib.num(object.get(facts, "passed", 0))
	skipped := lib.num(object.get(facts, "skipped", 0))
}

# METADATA
# title: Tests failed
# description: >-
#   A found test report must reach min_pass_rate (default 100) percent of
#   passed / (total - skipped) tests.
# custom:
#   id: test-failed
#   severity: error
#   help: Fix the failing tests until the pass rate meets min_pass_rate.
deny contains r if {
	some i, raw in required_tests
	req := lib.obj(raw)
	name := object.get(req, "name", null)
	facts := junit_report(name)
	object.get(facts, "found", false) == true
	t := _tests(req, facts)
	t.executed > 0
	t.passed * 100 < t.min_pass_rate * t.executed
	r := lib.result(
		"test-failed",
		sprintf(
			"test suite '%v' passed %v of %v executed tests (%v%%), below the required min_pass_rate of %v%%%s",
			[name, t.passed, t.executed, floor((t.passed * 1000) / t.executed) / 10, t.min_pass_rate, _first_failures(facts)],
		),
		lib.key_path(["requirements", "tests", i], req, "report"),
	)
}

# METADATA
# title: Too few tests executed
# description: A found test report must have executed (total - skipped) at least min_tests (default 1) tests.
# custom:
#   id: test-failed
#   severity: error
#   help: Make sure the suite actually runs its tests (min_tests).
deny contains r if {
	some i, raw in required_tests
	req := lib.obj(raw)
	name := object.get(req, "name", null)
	facts := junit_report(name)
	object.get(facts, "found", false) == true
	t := _tests(req, facts)
	t.executed < t.min_tests
	r := lib.result(
		"test-failed",
		sprintf(
			"test suite '%v' executed %v test(s) (total %v, skipped %v), fewer than the required min_tests of %v",
			[name, t.executed, t.total, t.skipped, t.min_tests],
		),
		lib.key_path(["requirements", "tests", i], req, "report"),
	)
}

# METADATA
# title: Scan report missing
# description: Every requirements.scans entry needs a readable report (input.evidence.scans[name].found is true).
# custom:
#   id: scan-report-missing
#   severity: error
#   help: Run the scanner before the gate and write its SARIF report to the manifest's path.
deny contains r if {
	some i, raw in required_scans
	req := lib.obj(raw)
	name := object.get(req, "name", null)
	facts := sarif_report(name)
	object.get(facts, "found", false) != true
	r := lib.result(
		"scan-report-missing",
		sprintf("scan report '%v'%s was not found or could not be read%s", [name, _report_desc(req, facts), _reason(facts)]),
		lib.key_path(["requirements", "scans", i], req, "report"),
	)
}

# severity_index is the position of a severity name in severity_levels; unknown names count as "none" (strictest).
severity_index(s) := i if {
	some i, level in severity_levels
	level == s
} else := 0

_examples(facts, above) := sprintf(" (e.g. %s)", [concat(", ", ids)]) if {
	ids := array.slice(
		[id |
			some f in lib.arr(object.get(facts, "findings", []))
			object.get(lib.obj(f), "severity", null) in above
			id := object.get(f, "rule_id", null)
			is_string(id)
		],
		0, 3,
	)
	count(ids) > 0
} else := ""

# METADATA
# title: Scan threshold exceeded (severity)
# description: >-
#   A found scan report must have no findings with a severity above max_severity
#   (none < low < medium < high < critical; default none).
# custom:
#   id: scan-threshold-exceeded
#   severity: error
#   help: Fix or suppress the findings, or relax max_severity in the manifest.
deny contains r if {
	some i, raw in required_scans
	req := lib.obj(raw)
	name := object.get(req, "name", null)
	facts := sarif_report(name)
	object.get(facts, "found", false) == true
	max_sev := object.get(req, "max_severity", "none")
	limit := severity_index(max_sev)
	counts := lib.obj(object.get(facts, "counts", {}))
	above := {level |
		some idx, level in severity_levels
		idx > limit
		lib.num(object.get(counts, level, 0)) > 0
	}
	count(above) > 0
	parts := [sprintf("%v %s", [counts[level], level]) |
		some level in ["critical", "high", "medium", "low"]
		level in above
	]
	r := lib.result(
		"scan-threshold-exceeded",
		sprintf(
			"scan '%v' has findings above max_severity '%v': %s%s",
			[name, max_sev, concat(", ", parts), _examples(facts, above)],
		),
		lib.key_path(["requirements", "scans", i], req, "max_severity"),
	)
}

# METADATA
# title: Scan threshold exceeded (count)
# description: A found scan report must have at most max_findings findings in total, when max_findings is set.
# custom:
#   id: scan-threshold-exceeded
#   severity: error
#   help: Fix or suppress findings until the total is within max_findings.
deny contains r if {
	some i, raw in required_scans
	req := lib.obj(raw)
	name := object.get(req, "name", null)
	facts := sarif_report(name)
	object.get(facts, "found", false) == true
	max_findings := object.get(req, "max_findings", null)
	is_number(max_findings)
	total := lib.num(object.get(facts, "total", 0))
	total > max_findings
	r := lib.result(
		"scan-threshold-exceeded",
		sprintf("scan '%v' has %v findings, more than max_findings %v", [name, total, max_findings]),
		["requirements", "scans", i, "max_findings"],
	)
}
