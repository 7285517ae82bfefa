# tests/cli_harness.sh - what the command-line tool's shell tests share (sourced by
# tests/test_cli.sh and tests/test_cli_transform.sh from a scratch directory): pass
# and fail counters and the check, run and has steps. Print the total with
# "$passed passed, $failed failed" at the end.
passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# check DESC COMMAND...: passes when COMMAND succeeds
check() { d=$1; shift; if "$@"; then pass; else fail "$d"; fi; }
# run WANT DESC COMMAND...: runs COMMAND (stdout in out, stderr in err), checks its exit status
run() {
    run_want=$1; d=$2; shift 2
    "$@" >out 2>err
    run_got=$?
    if [ "$run_got" -eq "$run_want" ]; then pass; else fail "$d: exit $run_got, want $run_want"; sed 's/^/    | /' err >&2; fi
}
has() { grep -q -- "$1" "$2"; }
