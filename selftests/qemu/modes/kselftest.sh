#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# vm-root: yes
#
# kselftest mode: the whole suite, as a kernel tree runs it.
#
# /sockdup/kselftest_install is the kselftest_install of selftests/ copied
# unchanged to tools/testing/selftests/sockdup/ of the kernel's own source
# tree (selftests/qemu/kselftest-install.sh, on the host).  Every program of
# its kselftest-list.txt runs through that tree's run_kselftest.sh, one
# program per call, so that lib.sh checks the kernel log, taint and leaks
# between programs exactly as in mode check.  The runner's verdict for the
# program decides its exit status here (SKIP: 4, TIMEOUT: 124, exit=N: N);
# the program's own TAP, which the runner logs per test, is judged case by
# case.  The project's programs that a kernel tree does not build
# (libsockdup, sockdup(1), examples, bench) run from /sockdup/tests as in
# mode check, in the same order: together the whole suite.

#
# Sourced with SOCKDUP_KSFT_LIB=1 (mode debug does), it only defines
# sockdup_run_kselftest, which does all of the above and returns 1 when
# anything failed.

. /sockdup/lib.sh

sockdup_run_kselftest()
{
ksft=/sockdup/kselftest_install
suite=/tmp/ksft-suite
logs=/tmp/ksft-logs

if [ ! -x "$ksft/run_kselftest.sh" ] || [ ! -r "$ksft/kselftest-list.txt" ]; then
	echo "not ok 1 kselftest: no $ksft/run_kselftest.sh or kselftest-list.txt in the initramfs"
	return 1
fi

mkdir -p "$suite" "$logs"
cat >"$suite/.run-one" <<EOF
#!/bin/sh
# Run one program (named by \$0) through run_kselftest.sh.
name=\${0##*/}
rm -f "$logs/\$name"
out=\$("$ksft/run_kselftest.sh" -p "$logs" -t "sockdup:\$name" 2>&1)
rc=\$?
# The program's output as the runner logged it, one "# " less.
[ ! -f "$logs/\$name" ] || sed 's/^# //' "$logs/\$name"
echo "\$out" | sed 's/^/# runner: /'
verdict=\$(echo "\$out" | grep -E "^(not )?ok 1 selftests: sockdup: \$name( |\\\$)")
case "\$verdict" in
"ok 1 selftests: sockdup: \$name")		exit 0 ;;
"ok 1 selftests: sockdup: \$name # SKIP"*)	exit 4 ;;
*"# TIMEOUT"*)					exit 124 ;;
*"# exit="*)					exit "\${verdict##*exit=}" ;;
esac
echo "# runner: no verdict for \$name (exit status \$rc)"
exit 1
EOF
chmod +x "$suite/.run-one"

direct=0
for t in /sockdup/tests/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=${t##*/}
	if grep -qx "sockdup:$name" "$ksft/kselftest-list.txt"; then
		ln -s .run-one "$suite/$name"
	else
		ln -s "$t" "$suite/$name"
		direct=$((direct + 1))
	fi
done
# A program the kernel tree built but the project did not: run it too.
for name in $(sed -n 's/^sockdup://p' "$ksft/kselftest-list.txt"); do
	[ -e "$suite/$name" ] || ln -s .run-one "$suite/$name"
done

echo "# kselftest: $(grep -c . "$ksft/kselftest-list.txt") programs through run_kselftest.sh," \
	"$direct from /sockdup/tests"
sockdup_run_tests "$suite"
}

[ -n "${SOCKDUP_KSFT_LIB:-}" ] || sockdup_run_kselftest
