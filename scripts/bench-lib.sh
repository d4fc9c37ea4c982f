# Sourced by the bench scripts: a scratch folder, processes stopped on exit,
# and free loopback ports. Callers append the PIDs they start to `pids`.
# shellcheck shell=bash

work=$(mktemp -d -t "${bench_name:-wings-bench}.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a loopback port nobody listens on, from 21000-28999:
# below the kernel's ephemeral range (32768-60999 here), so an outgoing
# connection of the load cannot take it before the server binds it, and
# apart from the clusters' 29xxx/30xxx.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((21000 + RANDOM % 8000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "no free port found" >&2
	return 1
}
