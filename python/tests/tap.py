# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Run unittest test cases and print TAP, one line per test method.

The VM lane (selftests/qemu/verdict.awk) and make check count TAP lines:
"ok N name", "not ok N name", "ok N name # SKIP why".  A failing case
prints its traceback as "# " comment lines before its result line.
"""

from __future__ import annotations

import sys
import time
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self, stream, total: int) -> None:
        super().__init__()
        self.stream = stream
        self.n = 0
        self.t0 = 0.0
        self.bad = False
        stream.write(f"1..{total}\n")
        stream.flush()

    def _name(self, test: unittest.TestCase) -> str:
        method = getattr(test, "_testMethodName", None)
        return f"{type(test).__name__}.{method}" if method else str(test)

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _comment(self, text: str) -> None:
        for line in text.rstrip("\n").split("\n"):
            self._line("# " + line)

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self.n += 1
        self.t0 = time.monotonic()
        self.bad = False

    def _ms(self) -> str:
        return f"{(time.monotonic() - self.t0) * 1000:.0f} ms"

    def _failed(self, err) -> None:
        self._comment("".join(traceback.format_exception(*err)))
        self.bad = True

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        if not self.bad:
            self._line(f"ok {self.n} {self._name(test)} ({self._ms()})")

    def addSubTest(self, test, subtest, err) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._comment(f"{subtest}:")
            self._failed(err)

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        if self.bad:
            self._line(f"not ok {self.n} {self._name(test)}")

    def addFailure(self, test, err) -> None:
        super().addFailure(test, err)
        self._failed(err)

    def addError(self, test, err) -> None:
        super().addError(test, err)
        if not isinstance(test, unittest.TestCase):
            # a class or module fixture failed: a result line of its own
            self.n += 1
            self._comment("".join(traceback.format_exception(*err)))
            self._line(f"not ok {self.n} {self._name(test)}")
            return
        self._failed(err)

    def addSkip(self, test, reason: str) -> None:
        super().addSkip(test, reason)
        self._line(f"ok {self.n} {self._name(test)} # SKIP {reason}")

    def addExpectedFailure(self, test, err) -> None:
        super().addExpectedFailure(test, err)
        self._line(f"ok {self.n} {self._name(test)} # expected failure")

    def addUnexpectedSuccess(self, test) -> None:
        super().addUnexpectedSuccess(test)
        self.bad = True


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


def main(*modules) -> int:
    """Run every test of *modules*; print TAP; return the exit status."""
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for m in modules:
        suite.addTests(loader.loadTestsFromModule(m))
    tests = list(_flatten(suite))
    result = TapResult(sys.stdout, len(tests))
    unittest.TestSuite(tests).run(result)
    bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print(f"# {result.testsRun} run, {bad} failed, {len(result.skipped)} skipped")
    return 1 if bad else 0
