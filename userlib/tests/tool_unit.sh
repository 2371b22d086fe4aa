#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Host unit tests of the sockdup tool's command line: usage errors, malformed
# tokens, exit codes, --help.  No module needed (device-dependent cases are
# skipped where /dev/sockdup exists).  Prints TAP.
#
# usage: tool_unit.sh path/to/sockdup (from the top directory)
tool=${1:?usage: tool_unit.sh SOCKDUP}
n=0 failed=0 skipped=0
good=sd1_AAECAwQFBgcICQoLDA0ODw
good2=sd1_BAECAwQFBgcICQoLDA0ODw

# expect_in INPUT CODE DESCRIPTION -- ARGS...: run the tool with INPUT on
# its standard input, compare its exit status
expect_in() {
	input=$1
	shift
	want=$1 what=$2
	shift 3
	printf '%b' "$input" | "$tool" "$@" >/tmp/tool_unit.$$ 2>&1
	got=$?
	n=$((n + 1))
	if [ "$got" = "$want" ]; then
		echo "ok $n - $what (exit $got)"
	else
		failed=$((failed + 1))
		echo "not ok $n - $what: exit $got, expected $want"
		sed 's/^/# /' /tmp/tool_unit.$$
	fi
}

# expect CODE DESCRIPTION -- ARGS...: the same with nothing on stdin
expect() {
	expect_in "" "$@"
}

# expect_no_msg PATTERN DESCRIPTION: the last run's output lacks PATTERN
expect_no_msg() {
	n=$((n + 1))
	if grep -q -- "$1" /tmp/tool_unit.$$; then
		failed=$((failed + 1))
		echo "not ok $n - $2: '$1' in:"
		sed 's/^/# /' /tmp/tool_unit.$$
	else
		echo "ok $n - $2"
	fi
}

# expect_msg PATTERN DESCRIPTION: the last run's message matches
expect_msg() {
	n=$((n + 1))
	if grep -q -- "$1" /tmp/tool_unit.$$; then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2: no '$1' in:"
		sed 's/^/# /' /tmp/tool_unit.$$
	fi
}

skip() {
	n=$((n + 1)) skipped=$((skipped + 1))
	echo "ok $n # SKIP $1"
}

echo "TAP version 13"
expect 0 "--help" -- --help
expect_msg "Usage: sockdup exec" "--help prints the usage"
expect 0 "exec --help" -- exec --help
expect 0 "--version" -- --version
expect_msg "^sockdup $(sed 's/[.]/\\./g' VERSION)$" "--version prints the version in VERSION"
expect 2 "no command" --
expect_msg "missing command" "no command: says what is missing"
expect_no_msg "Usage: sockdup exec" "no command: a hint, not the whole usage"
expect 0 "share --help" -- share --help
expect_msg "Usage: sockdup share \[--ttl MS\] \[--wait\] FD... PID" "share --help: the share usage"
expect_no_msg "sockdup exec" "share --help: only the share usage"
expect 0 "help revoke" -- help revoke
expect_msg "Usage: sockdup revoke TOKEN | --id ID" "help revoke: the revoke usage"
expect 127 "exec of a missing program" -- exec $good -- /no/such/program
expect_msg "no token was redeemed" "exec of a missing program: before any token is spent"
expect 127 "exec of a program not in PATH" -- exec $good -- no-such-program-xyz
expect 2 "query --id 0" -- query --id 0
expect 2 "revoke --id not a number" -- revoke --id x1
expect 2 "revoke --id and a token" -- revoke --id 5 $good
expect 2 "unknown command" -- frobnicate
expect_msg "unknown command 'frobnicate'" "unknown command is named"
expect 2 "exec without -- PROGRAM" -- exec $good
expect 2 "exec with nothing after --" -- exec $good --
expect 2 "exec without a token" -- exec -- true
expect 2 "exec with an unknown --env style" -- exec --env inetd $good -- true
expect_msg "systemd, nginx or none" "exec --env names the styles"
expect 2 "exec --env without a value" -- exec --env
expect 2 "exec with an unknown option" -- exec --bogus $good -- true
expect 2 "exec --name with ':'" -- exec --name a:b $good -- true
expect 2 "exec --name empty" -- exec --name= $good -- true
expect 2 "exec --name without a value" -- exec --name
# a token may hold a batch: the module counts the sockets before the names
expect 4 "exec more names than tokens asks the module" -- exec --name a --name b $good -- true
expect 3 "exec malformed token" -- exec sd1_short -- true
expect_msg "malformed token 'sd1_short'" "malformed token is named"
expect 3 "exec second token malformed" -- exec $good sd2_AAECAwQFBgcICQoLDA0ODw -- true
expect 3 "exec non-canonical token" -- exec sd1_AAECAwQFBgcICQoLDA0ODx -- true
expect 2 "exec - with empty stdin" -- exec - -- true
expect 2 "share without arguments" -- share
expect 2 "share with one argument" -- share 3
expect 2 "share FD not a number" -- share x 1
expect 2 "share negative FD" -- share -1 1
expect 2 "share PID 0" -- share 0 0
expect 2 "share PID not a number" -- share 0 12abc
expect 2 "share bad --ttl" -- share --ttl 5s 0 1
expect 2 "share --ttl too large" -- share --ttl 4294967296 0 1
expect 2 "share several FDs, one not a number" -- share 0 x 2
expect_msg "bad FD 'x'" "share names the bad FD"
expect 2 "share --wait without arguments" -- share --wait
expect 2 "share --wait with a bad PID" -- share --wait 0 0
expect 2 "query without token" -- query
expect 2 "query two tokens" -- query $good $good
expect 3 "query malformed token" -- query sd1_AAECAwQFBgcICQoLDA0OD
expect 3 "revoke malformed token" -- revoke 'sd1_AAECAwQFBgcICQoLDA0O/w'
expect 2 "list with an argument" -- list extra
if [ -e /dev/sockdup ]; then
	for i in 1 2 3 4 5 6 7 8; do
		skip "/dev/sockdup exists on this host"
	done
else
	expect 4 "list without /dev/sockdup" -- list
	expect_msg "is the sockdup module loaded" "missing module is explained"
	expect 4 "exec without /dev/sockdup" -- exec $good -- true
	expect 4 "query without /dev/sockdup" -- query $good
	# two '-': each line keeps its own token (token 1 is redeemed first)
	expect_in "$good\n$good2\n" 4 "exec - - reads two lines" -- exec - - -- true
	expect_msg "token 1 ($good)" "exec - -: the first line's token is token 1"
	expect 4 "revoke --id without /dev/sockdup" -- revoke --id 7
	expect 4 "share --wait without /dev/sockdup" -- share --wait 0 1
fi
rm -f /tmp/tool_unit.$$
echo "1..$n"
echo "# tool_unit: $((n - failed - skipped)) passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
