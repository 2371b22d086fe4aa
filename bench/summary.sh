#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The targets of SOCKDUP.md section 7 side by side for every kernel lane of
# one `make bench`: one column per lane, each figure marked met or MISSED
# against its target (on medians; each lane measured in its own run).
#
# Usage: bench/summary.sh build/<release>/bench.json...
# The rows are ratios sockdup-bench computes (bench/report.c), by id.  A row
# whose cases did not run (the batch row without the batch cases) reads n/a.

set -euo pipefail

[ $# -ge 1 ] || { echo "usage: bench/summary.sh bench.json..." >&2; exit 2; }

# id|label, in the order of the table of issue 13 and SOCKDUP.md section 7.
rows='sd_over_floor|share+redeem+close / syscall floor
sd_over_scm|  / SCM_RIGHTS 1 fd, same process
sd_cross_over_scm_cross|  / SCM_RIGHTS 1 fd, two processes
sd_over_pidfd|  / pidfd_open + pidfd_getfd, same process
sd_cross_over_pidfd|  / pidfd_open + pidfd_getfd, two processes
scale|redeem at 100,000 pending / at 10
batch_over_scm253|batch per fd / SCM_RIGHTS 253 fds per message
memory|kernel memory per pending share (bytes)'

awk -v rows="$rows" '
function field(line, key,    m) {
	if (match(line, "\"" key "\": (\"[^\"]*\"|[-0-9.]+|null)")) {
		m = substr(line, RSTART + length(key) + 4, RLENGTH - length(key) - 4)
		gsub(/"/, "", m)
		return m
	}
	return ""
}
FNR == 1 { lane++; name[lane] = FILENAME; sub(/^.*build\//, "", name[lane]); sub(/\/bench\.json$/, "", name[lane]) }
/"kernel": / && !kern[lane] { kern[lane] = field($0, "kernel") }
/"quick": true/ { quick[lane] = 1 }
/^    \{"id": / && /"status": / {
	id = field($0, "id")
	v = field($0, "value"); t = field($0, "target"); s = field($0, "status")
	val[lane, id] = (v == "" || v == "null") ? "-" : sprintf(id == "memory" ? "%.1f" : "%.3f", v)
	st[lane, id] = s
	if (t != "" && t != "null")
		tgt[id] = "<= " (t + 0)
	note[lane, id] = field($0, "note")
}
END {
	n = split(rows, r, "\n")
	w = 22
	printf "\nsockdup-bench targets (SOCKDUP.md section 7), each lane in its own run:\n\n"
	printf "%-50s %-8s", "measure", "target"
	for (l = 1; l <= lane; l++)
		printf "  %-" w "s", (kern[l] ? kern[l] : name[l]) (quick[l] ? " QUICK" : "")
	printf "\n"
	for (i = 1; i <= n; i++) {
		split(r[i], p, "|")
		printf "%-50s %-8s", p[2], (p[1] in tgt) ? tgt[p[1]] : "-"
		for (l = 1; l <= lane; l++) {
			if (!((l, p[1]) in st))
				cell = "- (not measured)"
			else if (st[l, p[1]] == "n/a")
				cell = "- n/a" (note[l, p[1]] != "" ? " (" note[l, p[1]] ")" : "")
			else
				cell = val[l, p[1]] " " st[l, p[1]]
			printf "  %-" w "s", cell
		}
		printf "\n"
	}
	printf "\n"
}' "$@" | sed 's/ *$//'
