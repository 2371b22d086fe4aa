# SPDX-License-Identifier: GPL-2.0-only
#
# Judge one VM run from its verdict channel (see lib.sh for the protocol).
# Prints a TAP stream (one result per test case, per program-level problem
# and per check of the run) and a last line "# counts pass=N fail=N skip=N".
#
# Variables: release (expected uname -r, empty for a custom kernel), mode,
# nonce (expected in the success marker), why_no_marker (what the host saw
# when the marker is missing: timeout, QEMU exit status).
#
# The run fails when: a test program's TAP plan is missing or short, a test
# case is "not ok", a program exits non-zero, times out or leaves a kernel
# log line or taint behind, fewer programs ran than announced, a check of
# the run itself failed (insmod, rmmod, taint, kernel log), the guest booted
# another kernel than asked, or the success marker is missing.

function result(ok, desc,    d) {
	n++
	d = desc
	if (ok && d ~ / # SKIP/) {
		skip++
	} else if (ok) {
		pass++
	} else {
		fail++
	}
	printf "%s %d %s\n", ok ? "ok" : "not ok", n, d
}

function add_kmsg(line) {
	if (!(line in seen_kmsg)) {
		seen_kmsg[line] = 1
		kmsg[++nk] = line
	}
}

function end_program(rc, kern, ms) {
	if (pplan < 0)
		result(0, prog ": no TAP plan")
	else if (pcount != pplan)
		result(0, prog ": TAP plan 1.." pplan " but " pcount " results")
	if (ptimeout != "")
		result(0, prog ": killed after " ptimeout " s (timeout)")
	else if (rc != "0" && pfail == 0)
		result(0, prog ": exit status " rc)
	if (kern != "ok")
		result(0, prog ": kernel log or taint dirty after it (see kmsg below)")
	if (ms != "")
		printf "# %s: exit status %s, %.1f s\n", prog, rc, ms / 1000
	inprog = 0
	ended++
}

BEGIN {
	n = pass = fail = skip = 0
	inprog = 0
	planned = -1
	ended = 0
	marker = 0
	booted = ""
	nk = 0
}

{ sub(/\r$/, "") }

/^@@sockdup uname / { booted = $3; next }
/^@@sockdup version / { version = substr($0, 19); next }
/^@@sockdup plan [0-9]+$/ { planned = $3 + 0; next }

/^@@sockdup begin / {
	if (inprog)
		end_program("?", "ok", "")
	prog = $3
	pplan = -1
	pcount = 0
	pfail = 0
	ptimeout = ""
	inprog = 1
	ndiag = 0
	next
}

/^@@sockdup timeout / { ptimeout = $4; next }
/^@@sockdup kmsg / { add_kmsg(substr($0, 16)); next }
/^@@sockdup taint / { add_kmsg("taint " $3); next }

/^@@sockdup end / {
	rc = "?"
	kern = "?"
	ms = ""
	for (i = 4; i <= NF; i++) {
		if ($i ~ /^rc=/)
			rc = substr($i, 4)
		else if ($i ~ /^kernel=/)
			kern = substr($i, 8)
		else if ($i ~ /^ms=/)
			ms = substr($i, 4)
	}
	if (inprog)
		end_program(rc, kern, ms)
	next
}

/^@@sockdup point / {
	desc = $0
	sub(/^@@sockdup point [a-z]+ /, "", desc)
	result($3 == "ok", mode ": " desc)
	next
}

/^@@sockdup PASS / {
	if ($3 == nonce)
		marker = 1
	next
}

/^@@sockdup verdict FAIL/ { guest_fail = 1; next }

/^@@sockdup / { next }

# TAP inside a program's output; top-level lines only (no indentation).
inprog && /^1\.\.[0-9]+/ {
	pplan = $1
	sub(/^1\.\./, "", pplan)
	pplan += 0
	next
}

# Comment lines of a program's current test case: shown under a failure.
inprog && /^#/ {
	if ($0 ~ /^#  RUN /)
		ndiag = 0
	else if ($0 !~ /^# +(OK|FAIL|SKIP) /)
		diag[++ndiag] = $0
	next
}

/^(not )?ok [0-9]+/ {
	ok = ($1 == "ok")
	desc = $0
	sub(/^(not )?ok [0-9]+ ?(- )?/, "", desc)
	if (inprog) {
		pcount++
		if (!ok)
			pfail++
		result(ok, prog ": " desc)
		if (!ok)
			for (i = 1; i <= ndiag && i <= 20; i++)
				print "#   " diag[i]
		ndiag = 0
	} else {
		result(ok, mode ": " desc)
	}
	next
}

END {
	if (inprog)
		result(0, prog ": did not finish (kernel panic, hang or timeout?)")
	if (planned == 0)
		result(0, mode ": no test programs to run (wrong TESTS=?)")
	else if (planned > 0 && ended < planned)
		result(0, mode ": only " ended " of " planned " test programs finished")
	if (booted == "")
		result(0, "vm: no verdict at all (kernel did not reach /init?)")
	else if (release != "" && booted != release)
		result(0, "vm: booted " booted ", expected " release)
	if (n == 0)
		result(0, mode ": no test results")
	if (guest_fail && why_no_marker == "")
		why_no_marker = "the guest found a failure"
	if (marker)
		result(1, "vm: success marker")
	else
		result(0, "vm: success marker missing" \
		       (why_no_marker != "" ? " (" why_no_marker ")" : ""))
	for (i = 1; i <= nk; i++)
		printf "# kmsg: %s\n", kmsg[i]
	printf "1..%d\n", n
	printf "# counts pass=%d fail=%d skip=%d\n", pass, fail, skip
}
