# run_pytest.sh - sourced by the pytest suites' run.sh (cli, server, serve, monitor).
#
#   run_pytest DIR [pytest args...]
#
# Runs $PY -m pytest over DIR with DIR/pytest.ini, shows its output, then prints
# "N passed, N failed" (errors count as failed; a non-zero exit with nothing counted
# is one failure) and returns pytest's exit status.
run_pytest() {
	local dir=$1 log rc last passed failed errors
	shift
	log=$(mktemp "/tmp/cairn-$(basename "$dir")-tests.XXXXXX")
	"$PY" -m pytest -p no:cacheprovider -c "$dir/pytest.ini" "$dir" "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	last=$(grep -E '[0-9]+ (passed|failed|error)' "$log" | tail -1)
	passed=$(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+' || true)
	failed=$(grep -oE '[0-9]+ failed' <<<"$last" | grep -oE '[0-9]+' || true)
	errors=$(grep -oE '[0-9]+ errors?' <<<"$last" | grep -oE '[0-9]+' || true)
	failed=$(( ${failed:-0} + ${errors:-0} ))
	if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
	rm -f "$log"
	echo "${passed:-0} passed, $failed failed"
	return "$rc"
}
