# steps.sh — sourced by .ci/run: `step NAME CMD...` runs one section with a header, keeps its
# output in $CI_LOGS, and records status and time; `summary` prints the table and test counts and
# returns non-zero if any step failed. Every step runs even after a failure, to report them all.
CI_LOGS=${CI_LOGS:-$(mktemp -d /tmp/kiln-ci-logs.XXXXXX)}
ci_rows=()
ci_failed=0
ci_passed_tests=0
ci_failed_tests=0
ci_skipped_tests=0

step() {
	local name=$1 log start status
	shift
	log="$CI_LOGS/$(echo "$name" | tr -c 'a-zA-Z0-9\n' '-').log"
	printf '\n===== %s =====\n' "$name"
	start=$SECONDS
	if "$@" 2>&1 | tee "$log"; then status=ok; else status="FAILED"; ci_failed=$((ci_failed + 1)); fi
	local p f s
	# go test -v lines (tests and subtests) and plain go test package lines.
	p=$(grep -cE '^\s*--- PASS|^ok\s' "$log" || true)
	f=$(grep -cE '^\s*--- FAIL|^FAIL\s' "$log" || true)
	s=$(grep -cE '^\s*--- SKIP' "$log" || true)
	ci_passed_tests=$((ci_passed_tests + p)) ci_failed_tests=$((ci_failed_tests + f)) ci_skipped_tests=$((ci_skipped_tests + s))
	local counts=""
	[ $((p + f + s)) -eq 0 ] || counts="$p passed, $f failed, $s skipped"
	ci_rows+=("$(printf '%-24s %-7s %5ss  %s' "$name" "$status" $((SECONDS - start)) "$counts")")
	echo "----- $name: $status in $((SECONDS - start))s"
}

summary() {
	printf '\n===== summary =====\n'
	printf '%s\n' "${ci_rows[@]}"
	if [ "$ci_failed" -gt 0 ]; then
		echo "$ci_failed step(s) failed; logs in $CI_LOGS"
		grep -hE '^\s*--- FAIL|^FAIL\s' "$CI_LOGS"/*.log | sort -u | head -40 || true
	fi
	echo "counted: go packages of make test, and tests and subtests of the -v runs"
	echo "ci: $ci_passed_tests passed, $ci_failed_tests failed, $ci_skipped_tests skipped"
	[ "$ci_failed" -eq 0 ]
}
