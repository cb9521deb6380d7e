# bench/lib.sh - what the benchmark scripts share.  Source it after setting
# BENCH_NAME (for messages) and TMP (the run's private directory).

log() { echo "$BENCH_NAME: $*" >&2; }

# kill_tree PID: SIGTERM to PID and every process below it (by pid, from
# the PPid lines of /proc/*/status)
kill_tree() {
	local table pids=" $1 " more=1 pid ppid
	table=$(awk '/^Pid:/ {pid = $2} /^PPid:/ {print pid, $2}' /proc/[0-9]*/status 2>/dev/null || true)
	while [ "$more" = 1 ]; do
		more=0
		while read -r pid ppid; do
			case $pids in *" $ppid "*) case $pids in *" $pid "*) ;; *) pids="$pids$pid " more=1 ;; esac ;; esac
		done <<<"$table"
	done
	for pid in $pids; do
		kill "$pid" 2>/dev/null || true
	done
}

# fg CMD...: run CMD in the background and wait for it, so that a signal to
# this script is acted on at once (bash runs traps only between commands, but
# interrupts a wait); the script's cleanup ends $CHILD with kill_tree
CHILD=
fg() {
	local rc=0
	"$@" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=
	return "$rc"
}

# private_home PREFIX...: a private HOME (no user config, token cache or
# audit log of the caller's) and none of the caller's PREFIX* variables
private_home() {
	local v p
	mkdir -p "$TMP/home"
	export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/home/.config \
		XDG_CACHE_HOME=$TMP/home/.cache XDG_STATE_HOME=$TMP/home/.state
	for p in "$@"; do
		for v in $(env | sed -n "s/^\(${p}[A-Za-z0-9_]*\)=.*/\1/p"); do
			unset "$v"
		done
	done
}
