#!/bin/sh
# tests/test_readonly.sh - "inspecting a cache never changes it" (issue 11): every
# read-only command of build/llmcache (stats, ls, get, export, verify) against a log,
# a log another process has open, an empty file, a torn file, a damaged file, a file
# of another format, a directory, a missing file and an unreadable one. After each
# run every file in the directory is byte-identical (content, mode, size) and no file
# appeared. Then a cache in a directory the user may not write, read by another
# user: as root, through setpriv with an unused uid (nothing to create); otherwise
# as this user. Run from the repository root; last line "N passed, N failed".

BIN=${LLMCACHE_BIN:-build/llmcache}
[ -x "$BIN" ] || { echo "no $BIN (make builds it)"; echo "0 passed, 1 failed"; exit 1; }
L="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
T=$(mktemp -d) || exit 1
O=$(mktemp -d) || exit 1   # the commands' output, outside the directory under watch
W=
trap '[ -n "$W" ] && kill -9 $W 2>/dev/null; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T" "$O"' EXIT
trap 'exit 1' HUP INT TERM
chmod 755 "$T"
cd "$T" || exit 1

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# state: every name in the directory (hidden ones too) with its mode, size and checksum
state() { for _s in .* *; do case $_s in .|..) continue;; esac; [ -e "$_s" ] || continue
          if [ -f "$_s" ]; then printf '%s %s %s\n' "$_s" "$(stat -c '%a %s' "$_s")" "$(cksum < "$_s" 2>/dev/null)";
          else printf '%s %s\n' "$_s" "$(stat -c '%F %a' "$_s")"; fi; done; }
key() { printf '%064d' "$1"; }

# run WANT TEXT FILE CMD [ARGS]: runs `llmcache CMD FILE ARGS`, wants exit status WANT,
# TEXT in its stderr (or "" for none wanted) and the directory unchanged.
run() {
    want=$1; text=$2; file=$3; cmd=$4; shift 4
    state > "$O/before"
    $RUNAS "$L" "$cmd" "$file" "$@" > "$O/out" 2> "$O/err"
    got=$?
    state > "$O/after"
    if [ "$got" -eq "$want" ]; then pass; else fail "$cmd $file: exit $got, want $want"; sed 's/^/    | /' "$O/err" >&2; fi
    if [ -z "$text" ] || grep -q -- "$text" "$O/err"; then pass; else fail "$cmd $file: stderr lacks '$text'"; sed 's/^/    | /' "$O/err" >&2; fi
    if [ "$unwatched" = 1 ] || cmp -s "$O/before" "$O/after"; then pass; else fail "$cmd $file changed the directory"; diff "$O/before" "$O/after" >&2; fi
}
RUNAS=
unwatched=0

# the files
for i in 1 2 3 4 5 6; do printf '{"answer":%d,"text":"%s"}' "$i" "value number $i" | "$L" put good.log "$(key $i)" >/dev/null; done
rm -f good.log-shm   # a pre-filled cache as shipped: no shared page
cp good.log torn.log; printf 'garbage that is not a record, 40 bytes..' >> torn.log
cp good.log damaged.log
python3 -c "
import sys
p='damaged.log'; b=bytearray(open(p,'rb').read()); b[len(b)//2] ^= 0x55; open(p,'wb').write(bytes(b))"
: > empty.log
printf '{"not":"a log"}\n' > other.json
mkdir dir.log
cp good.log secret.log; chmod 000 secret.log

K=$(key 3)
for f in good.log; do
    run 0 "" $f stats; run 0 "" $f stats --json; run 0 "" $f ls; run 0 "" $f ls --json
    run 0 "" $f get "$K"; run 0 "" $f export; run 0 "" $f verify
done
for f in torn.log damaged.log; do
    run 1 DAMAGED $f stats; run 1 DAMAGED $f ls; run 1 DAMAGED $f export; run 1 "" $f verify
done
run 0 "" torn.log get "$K"
for cmd in stats ls export verify; do
    run 2 "empty file, not an llmcache log" empty.log $cmd
    run 2 "not an llmcache log" other.json $cmd
    run 2 "Is a directory" dir.log $cmd
    run 2 "No such file or directory" missing.log $cmd
done
run 2 "empty file, not an llmcache log" empty.log get "$K"
run 2 "Is a directory" dir.log get "$K"
run 2 "No such file or directory" nodir/x.log ls

# a log that a writer process has open (a live path-shm, which the commands follow):
# they see its entries while it writes (the directory changes: the writer's doing)
LW=$(cd "$(dirname "$L")" && pwd)/tests/log_writer
if [ -x "$LW" ]; then
    "$LW" live.log never 0 2000 > "$O/acks" &
    W=$!
    n=0; while [ "$(wc -l < "$O/acks")" -lt 20 ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
    unwatched=1
    run 0 "" live.log ls
    [ "$(grep -c '^[0-9a-f]\{64\}' "$O/out")" -ge 20 ] && pass || fail "ls of a live log: $(tail -n 1 "$O/out")"
    run 0 "" live.log stats
    unwatched=0
    kill -9 $W; wait $W 2>/dev/null; W=
else
    fail "no $LW (make test-build builds it)"
fi

# another user, in a directory it may not write, on a file it may only read
mkdir ro; cp good.log ro/cache.log; chmod 755 ro; chmod 644 ro/cache.log
if [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv >/dev/null 2>&1; then
        RUNAS="setpriv --reuid=64999 --regid=64999 --clear-groups"
    else
        echo "skipped: the other-user part (needs setpriv, util-linux)"
        RUNAS=skip
    fi
else
    chmod 555 ro
fi
if [ "$RUNAS" != skip ]; then
    cd ro || exit 1
    run 0 "" cache.log ls
    [ "$(grep -c '^0000' "$O/out")" -eq 6 ] && pass || fail "ls as another user: $(cat "$O/out")"
    run 0 "" cache.log get "$K"
    grep -q '"answer":3' "$O/out" && pass || fail "get as another user: $(cat "$O/out")"
    run 0 "" cache.log stats
    run 0 "" cache.log export
    run 0 "" cache.log verify
    run 2 "Permission denied" cache.log rm "$K"
    run 2 "Permission denied" cache.log compact
    cd .. || exit 1
    run 2 "Permission denied" secret.log ls
    run 2 "Permission denied" secret.log stats
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
