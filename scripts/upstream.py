#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# `make upstream`: the patch series that adds sockdup to a kernel tree,
# written with `git format-patch` (and a cover letter) into build/upstream/,
# against the newest linux-source-7.x the registry offers (resolved at run
# time by selftests/qemu/newest/kernel.sh --source, never written down).
#
# Everything in the series is generated from the project's own files:
#   1/4 uapi/linux/sockdup.h as include/uapi/linux/sockdup.h, and its ioctl
#       code in Documentation/userspace-api/ioctl/ioctl-number.rst
#   2/4 module/ as drivers/misc/sockdup/ (with a Kconfig and a Makefile),
#       the MAINTAINERS entry and the hooks in drivers/misc/{Kconfig,Makefile}
#   3/4 docs/sockdup.rst as Documentation/userspace-api/sockdup.rst, and
#       its index entry
#   4/4 selftests/ (the kernel's part of it) as
#       tools/testing/selftests/sockdup/, and its TARGETS entry
# In the tree the compat layer disappears: module/compat.h is resolved for
# the target kernel (its #if on LINUX_VERSION_CODE evaluated, its aliases
# and one-line wrappers inlined at their callers) and no file includes it.
# The out-of-tree MODULE_VERSION goes too: an in-tree driver has the
# kernel's version.
#
# The commits carry no Signed-off-by: the person who submits the series
# adds theirs (git am --signoff / git rebase --signoff), and the
# MAINTAINERS entry has no M: line until that person adds one.
#
# Usage: scripts/upstream.py [--source DIR] [--out DIR]
#   --source DIR  a pristine kernel source tree (default: the newest 7.x,
#                 from selftests/qemu/newest/kernel.sh --source)
#   --out DIR     where the series goes (default build/upstream)
# Prints the patch files, one a line, after a summary.

import argparse
import os
import re
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def die(msg):
    print(f"upstream: error: {msg}", file=sys.stderr)
    sys.exit(1)


def log(msg):
    print(f"upstream: {msg}", file=sys.stderr)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# ---- the target kernel -----------------------------------------------------

def kernel_version(src):
    mk = read(os.path.join(src, "Makefile"))
    v = {}
    for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL"):
        m = re.search(rf"^{key} = (\d+)$", mk, re.M)
        if not m:
            die(f"{src}/Makefile has no {key}: not a kernel source tree")
        v[key] = int(m.group(1))
    return v["VERSION"], v["PATCHLEVEL"], v["SUBLEVEL"]


def version_code(a, b, c):
    # include/linux/version.h: KERNEL_VERSION() saturates the sublevel.
    return (a << 16) + (b << 8) + min(c, 255)


# ---- compat.h resolved for one kernel ------------------------------------

COND_OK = re.compile(r"^[0-9\s()<>=!&|]+$")


def eval_cond(cond, code, where):
    c = re.sub(r"KERNEL_VERSION\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)",
               lambda m: str(version_code(*map(int, m.groups()))), cond)
    c = c.replace("LINUX_VERSION_CODE", str(code))
    if not COND_OK.match(c):
        return None
    c = c.replace("&&", " and ").replace("||", " or ")
    c = re.sub(r"!(?!=)", " not ", c)
    try:
        return bool(eval(c, {"__builtins__": {}}))  # digits and operators only
    except SyntaxError:
        die(f"{where}: cannot evaluate '#if {cond}'")


def tree_defines(src):
    """defined(NAME): does the target tree's include/ #define NAME?"""
    def defined(name):
        r = subprocess.run(["grep", "-rqsE", rf"^\s*#\s*define\s+{name}\b",
                            "include", "arch/x86/include"], cwd=src)
        return r.returncode == 0
    return defined


def resolve_ifs(text, code, where, defined):
    """Keep the branches of every version #if that hold for CODE, and of
    every #ifdef/#ifndef probe of a kernel macro as the target tree
    (DEFINED) answers it; the include guard stays as it is."""
    guard = re.search(r"^#ifndef\s+(\w+)\s*\n#define\s+\1\s*$", text, re.M)
    guard = guard.group(1) if guard else None
    out = []
    stack = []  # per #if: [is_version_if, taking, taken]
    for line in text.splitlines(keepends=True):
        s = line.strip()
        m = re.match(r"#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)", s)
        active = all(t[1] for t in stack if t[0])
        if m:
            kw, rest = m.group(1), m.group(2).strip()
            if kw == "if":
                val = eval_cond(rest, code, where)
                if val is not None:
                    stack.append([True, val, val])
                    continue
                stack.append([False, True, True])
            elif kw in ("ifdef", "ifndef"):
                if rest == guard:
                    stack.append([False, True, True])
                else:
                    val = defined(rest) == (kw == "ifdef")
                    stack.append([True, val, val])
                    continue
            elif kw == "elif":
                top = stack[-1]
                if top[0]:
                    val = eval_cond(rest, code, where)
                    if val is None:
                        die(f"{where}: '#elif {rest}' mixes a version test with something else")
                    top[1] = val and not top[2]
                    top[2] = top[2] or val
                    continue
            elif kw == "else":
                top = stack[-1]
                if top[0]:
                    top[1] = not top[2]
                    top[2] = True
                    continue
            elif kw == "endif":
                top = stack.pop()
                if top[0]:
                    continue
        if active:
            out.append(line)
    return "".join(out)


def parse_compat(text, where):
    """What resolved compat.h provides: aliases (#define NAME VALUE),
    wrappers (static inline ... NAME(params) { return EXPR; }) and helpers
    (any other static inline function: kept whole, with its kernel-doc,
    for the one file that calls it), each with the headers included just
    before it (what it needs).  Anything else fails."""
    aliases, wrappers, helpers = {}, {}, {}
    guard = re.search(r"#ifndef\s+(\w+)\s*\n\s*#define\s+\1\s*\n", text)
    body = text
    if guard:
        body = body.replace(guard.group(0), "", 1)
        body = re.sub(r"#endif[^\n]*\s*$", "", body.rstrip())
    item = re.compile(
        r"^#include[ \t]+(?P<inc><[^>\n]+>)[ \t]*$"
        r"|^#define[ \t]+(?P<alias>\w+)[ \t]+(?P<value>[^\n]+)$"
        r"|(?P<fntext>(?P<doc>^/\*\*\n(?:(?!\*/).)*?\*/\n)?"
        r"^static\s+inline\s+[^;{]*?\b(?P<fn>\w+)\((?P<params>[^)]*)\)\s*"
        r"\{\n(?P<fbody>.*?)\n\}\n)", re.M | re.S)
    pending = []
    for m in item.finditer(body):
        if m.group("inc"):
            if m.group("inc") != "<linux/version.h>":
                pending.append(m.group("inc"))
        elif m.group("alias"):
            aliases[m.group("alias")] = (m.group("value").strip(), pending)
            pending = []
        else:
            ret = re.fullmatch(r"\s*return\s+(.*?);\s*", m.group("fbody"), re.S)
            if ret:
                params = [re.findall(r"\w+", p)[-1] for p in m.group("params").split(",")]
                wrappers[m.group("fn")] = (params, " ".join(ret.group(1).split()), pending)
            else:
                helpers[m.group("fn")] = (m.group("fntext"), pending)
            pending = []
    rest = re.sub(r"/\*.*?\*/", "", item.sub("", body), flags=re.S)
    if rest.strip():
        die(f"{where} holds code that cannot be resolved for the tree: {rest.strip()[:200]!r}")
    return aliases, wrappers, helpers


def fold_constant_ifs(text):
    """if (true) A; else B; -> A (and false -> B), as alias substitution
    leaves them: the tree has no use for a branch that cannot run."""
    def one(m):
        ind, val, a, b = m.group(1), m.group(2), m.group(3), m.group(4)
        keep = a if val == "true" else b
        return f"{ind}{keep}\n" if keep else ""
    text = re.sub(r"^(\t+)if \((true|false)\)\n\1\t([^\n]*;)\n\1else\n\1\t([^\n]*;)\n",
                  one, text, flags=re.M)
    text = re.sub(r"^(\t+)if \((true|false)\)\n\1\t([^\n]*;)\n()",
                  one, text, flags=re.M)
    return text


def drop_unused_statics(text, before):
    """Remove the static functions that the resolution left without a
    caller (they served a branch that the target kernel does not take)."""
    for m in list(re.finditer(r"^static [^\n(;]*?\b(\w+)\([^)]*\)\n\{\n.*?\n\}\n\n?",
                              text, re.M | re.S)):
        name = m.group(1)
        used_before = len(re.findall(rf"\b{name}\b", before)) > 1
        if used_before and len(re.findall(rf"\b{name}\b", text)) == 1:
            text = text.replace(m.group(0), "", 1)
    return text


def add_helper(text, name, fntext):
    """Put helper NAME before the top-level function of TEXT that first
    calls it (before that function's comment)."""
    call = re.search(rf"\b{name}\(", text)
    if not call:
        return text
    ends = [m.end() for m in re.finditer(r"^\}\n\n", text[:call.start()], re.M)]
    if ends:
        at = ends[-1]
    else:
        at = max(m.end() for m in re.finditer(r"^#include [^\n]*\n\n?", text, re.M))
    return text[:at] + fntext + "\n" + text[at:]


def split_args(s):
    args, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            continue
        depth += ch in "([{"
        depth -= ch in ")]}"
        cur += ch
    args.append(cur.strip())
    return args


def inline_wrappers(text, wrappers):
    for name, (params, expr, _) in wrappers.items():
        while True:
            m = re.search(rf"\b{name}\(", text)
            if not m:
                break
            depth, i = 1, m.end()
            while depth:
                depth += text[i] == "("
                depth -= text[i] == ")"
                i += 1
            args = split_args(text[m.end():i - 1])
            if len(args) != len(params):
                die(f"{name}() called with {len(args)} arguments, compat.h takes {len(params)}")
            e = expr
            for p, a in zip(params, args):
                e = re.sub(rf"\b{p}\b", lambda _m, a=a: a, e)
            text = text[:m.start()] + e + text[i:]
    return text


def add_includes(text, includes):
    """Add #include lines to the file's block of <linux/...> includes, in
    alphabetical order, unless present."""
    lines = text.split("\n")
    idx = [i for i, l in enumerate(lines) if re.match(r"#include <linux/", l)]
    if not idx:
        die("a file that included compat.h has no <linux/...> includes to join")
    first, last = idx[0], idx[-1]
    block = lines[first:last + 1]
    for inc in includes:
        line = f"#include {inc}"
        if line not in block:
            block.append(line)
    block.sort()
    return "\n".join(lines[:first] + block + lines[last + 1:])


def tree_module_sources(code, defined):
    """module/*.[ch] as drivers/misc/sockdup/ holds them: {name: text}."""
    compat_path = os.path.join(TOP, "module", "compat.h")
    aliases, wrappers, helpers = {}, {}, {}
    if os.path.exists(compat_path):
        resolved = resolve_ifs(read(compat_path), code, "module/compat.h", defined)
        aliases, wrappers, helpers = parse_compat(resolved, "module/compat.h")
    users = {}
    out = {}
    for name in sorted(os.listdir(os.path.join(TOP, "module"))):
        if not re.search(r"\.[ch]$", name) or name == "compat.h":
            continue
        text = orig = read(os.path.join(TOP, "module", name))
        if re.search(r'^#include "compat.h"\n', text, re.M):
            text = re.sub(r'^#include "compat.h"\n', "", text, flags=re.M)
            # The headers of the items this file uses.
            items = list(aliases.items()) + list(wrappers.items()) + list(helpers.items())
            need = [inc for n, (*_, incs) in items
                    if re.search(rf"\b{n}\b", text) for inc in incs]
            if need:
                text = add_includes(text, need)
        for h, (fntext, _) in helpers.items():
            if re.search(rf"\b{h}\(", text):
                users.setdefault(h, []).append(name)
                text = add_helper(text, h, fntext)
        for a, (v, _) in aliases.items():
            text = re.sub(rf"\b{a}\b", v, text)
        text = inline_wrappers(text, wrappers)
        text = fold_constant_ifs(text)
        text = drop_unused_statics(text, orig)
        # The version of an in-tree driver is the kernel's.
        text, n = re.subn(r"^MODULE_VERSION\(SOCKDUP_VERSION\);\n", "", text, flags=re.M)
        for bad in ("LINUX_VERSION_CODE", "KERNEL_VERSION", "SOCKDUP_VERSION"):
            if bad in text:
                die(f"module/{name} still names {bad} after compat resolution: "
                    "move the version test into module/compat.h")
        if "compat.h" in text:
            die(f"module/{name} mentions compat.h, which the kernel tree does not have: "
                "say in the comment which kernels it is about instead")
        out[name] = text
    for h, files in users.items():
        if len(files) > 1:
            die(f"compat.h's {h}() is called from {', '.join(files)}: a helper the tree "
                "keeps must have one caller's file (or be a one-line wrapper)")
    return out


# ---- the series ------------------------------------------------------------

def run(cmd, cwd, **kw):
    r = subprocess.run(cmd, cwd=cwd, text=True, capture_output=True, **kw)
    if r.returncode != 0:
        die(f"{' '.join(cmd)} failed in {cwd}:\n{r.stdout}{r.stderr}")
    return r.stdout


def insert_sorted_line(text, pattern, new_line, key, where):
    """Insert NEW_LINE before the first line matching PATTERN whose key
    sorts after KEY (lines matching PATTERN form a sorted list)."""
    lines = text.split("\n")
    last = None
    for i, l in enumerate(lines):
        m = re.match(pattern, l)
        if not m:
            continue
        last = i
        if m.group(1) > key:
            lines.insert(i, new_line)
            return "\n".join(lines)
    if last is None:
        die(f"{where}: no line matches {pattern!r}")
    lines.insert(last + 1, new_line)
    return "\n".join(lines)


def ioctl_number(text):
    # Columns as the table has them: code, sequence, header, comment.
    row = next(l for l in text.split("\n") if l.startswith("0xB7  all    uapi/"))
    col = row.index("<mailto:") if "<mailto:" in row else 71
    entry = "0xB9  00-0F  uapi/linux/sockdup.h"
    entry += " " * (col - len(entry)) + "sockdup: hand a socket to a named process"
    return insert_sorted_line(text, r"^(0x[0-9A-F]{2})  ", entry, "0xB9",
                              "ioctl-number.rst")


MAINT_TITLE = "SOCKDUP SOCKET HANDOVER DRIVER"


def maintainers(text, files):
    entry = [MAINT_TITLE,
             "L:\tlinux-kernel@vger.kernel.org",
             "S:\tMaintained"] + [f"F:\t{f}" for f in sorted(files)]
    lines = text.split("\n")
    start = lines.index("Maintainers List")
    for i in range(start, len(lines) - 1):
        l = lines[i]
        if (lines[i - 1] == "" and re.match(r"^[A-Z0-9]", l) and
                re.match(r"^[A-Z]:\t", lines[i + 1]) and l > MAINT_TITLE):
            return "\n".join(lines[:i] + entry + [""] + lines[i:])
    die("MAINTAINERS: found no entry to insert before")


def maintainers_add_file(text, path):
    lines = text.split("\n")
    i = lines.index(MAINT_TITLE) + 1
    fs = []
    while lines[i]:
        i += 1
    j = lines.index(MAINT_TITLE) + 1
    while lines[j] and not lines[j].startswith("F:\t"):
        j += 1
    fs = lines[j:i] + [f"F:\t{path}"]
    return "\n".join(lines[:j] + sorted(fs) + lines[i:])


KCONFIG = """\
# SPDX-License-Identifier: GPL-2.0-only
config SOCKDUP
	tristate "sockdup: hand an open socket to a named process"
	depends on NET
	help
	  Provides /dev/sockdup, through which a process hands one of its
	  sockets to another process that it names by pid.  The owner pins
	  the socket and receives an unguessable single-use cookie bound to
	  the target; it passes the cookie over any channel it likes, and
	  the target redeems it for a new descriptor of the same open
	  socket.  Unlike SCM_RIGHTS this needs no AF_UNIX connection
	  between the two, and unlike pidfd_getfd() no ptrace rights over
	  the owner.

	  See Documentation/userspace-api/sockdup.rst.

	  To compile this driver as a module, choose M here: the module
	  will be called sockdup.  If unsure, say N.
"""


def driver_makefile(names):
    objs = " ".join(n[:-2] + ".o" for n in names if n.endswith(".c"))
    lines = ["# SPDX-License-Identifier: GPL-2.0-only",
             "obj-$(CONFIG_SOCKDUP)\t+= sockdup.o", ""]
    cur = "sockdup-y\t:="
    for o in objs.split():
        if len(cur.expandtabs(8)) + 1 + len(o) > 72:
            lines.append(cur)
            cur = "sockdup-y\t+="
        cur += " " + o
    lines.append(cur)
    return "\n".join(lines) + "\n"


def selftest_files():
    """selftests/ files that belong in tools/testing/selftests/sockdup/:
    the Makefile, config, settings, .gitignore, the kernel's tests (not
    PROJECT_TESTS, which test libsockdup and the tools) and the headers
    they include."""
    sel = os.path.join(TOP, "selftests")
    mk = read(os.path.join(sel, "Makefile"))
    m = re.search(r"^PROJECT_TESTS := (.*)$", mk, re.M)
    if not m:
        die("selftests/Makefile has no PROJECT_TESTS line")
    project = set(m.group(1).split())
    files = ["Makefile", "config", "settings", ".gitignore"]
    tests = [f for f in sorted(os.listdir(sel))
             if f.endswith("_test.c") and f[:-2] not in project]
    need, todo = set(), list(tests)
    while todo:
        f = todo.pop()
        for inc in re.findall(r'^#include "([^"/]+)"', read(os.path.join(sel, f)), re.M):
            if inc not in need and os.path.exists(os.path.join(sel, inc)):
                need.add(inc)
                todo.append(inc)
    return files + sorted(need) + tests


def commit(repo, subject, body):
    run(["git", "add", "-A"], repo)
    msg = subject + "\n\n" + body.strip() + "\n"
    run(["git", "commit", "-q", "-F", "-"], repo, input=msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source")
    ap.add_argument("--out", default=os.path.join(TOP, "build", "upstream"))
    opts = ap.parse_args()

    src = opts.source
    if not src:
        r = subprocess.run([os.path.join(TOP, "selftests/qemu/newest/kernel.sh"), "--source"],
                           text=True, stdout=subprocess.PIPE)
        if r.returncode != 0 or not r.stdout.strip():
            die("no linux-source-7.x: selftests/qemu/newest/kernel.sh --source failed "
                "(its messages above say why)")
        src = r.stdout.strip().split("\n")[-1]
    src = src.rstrip("/")
    ver = kernel_version(src)
    code = version_code(*ver)
    srcname = os.path.basename(src)
    # newest/kernel.sh --source records the package version beside the tree.
    vfile = os.path.join(os.path.dirname(src), "version")
    pkgver = read(vfile).strip() if os.path.exists(vfile) else "(version unknown)"
    release = "%d.%d.%d" % ver
    log(f"series against Linux {release} ({srcname} {pkgver}, {src})")

    base_files = [
        "Documentation/userspace-api/ioctl/ioctl-number.rst",
        "Documentation/userspace-api/index.rst",
        "MAINTAINERS",
        "drivers/misc/Kconfig",
        "drivers/misc/Makefile",
        "tools/testing/selftests/Makefile",
    ]
    repo = os.path.join(TOP, "build", "upstream.git")
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(repo)
    run(["git", "init", "-q"], repo)
    for f in base_files:
        if not os.path.exists(os.path.join(src, f)):
            die(f"{src} has no {f}")
        write(os.path.join(repo, f), read(os.path.join(src, f)))
    commit(repo, f"Linux {release} ({srcname} {pkgver})",
           "The files of the tree that the series changes, as the package has them.")
    base = run(["git", "rev-parse", "HEAD"], repo).strip()

    # 1: the UAPI header and its ioctl code.
    write(os.path.join(repo, "include/uapi/linux/sockdup.h"),
          read(os.path.join(TOP, "uapi/linux/sockdup.h")))
    p = os.path.join(repo, base_files[0])
    write(p, ioctl_number(read(p)))
    commit(repo, "misc: sockdup: Add the user API header", """
Linux has no way for a process to hand one of its sockets to another
process it names, without a channel between the two.  SCM_RIGHTS needs an
AF_UNIX connection the receiver is already listening on; pidfd_getfd()
lets the receiver take the descriptor, but only with ptrace rights over
the owner, which is far more than it needs.  Windows programs have had
WSADuplicateSocket() for this: the owner asks for a token bound to one
target process, passes it over any IPC it likes, and the target turns it
into its own descriptor of the same socket.

Add the user API of sockdup, a misc device that does the same with an
unguessable 128-bit cookie: SOCKDUP_IOC_SHARE pins a socket for one
target and returns the cookie, SOCKDUP_IOC_REDEEM turns the cookie into a
new descriptor (once), SOCKDUP_IOC_REVOKE withdraws or declines a share,
and SOCKDUP_IOC_QUERY, SOCKDUP_IOC_STATS and SOCKDUP_IOC_LIST let owners
and administrators see what is pending.

The structures follow Documentation/process/botching-up-ioctls.rst:
fixed-width fields, no implicit padding, sizes a multiple of 8, every
unknown flag and every non-zero reserved field rejected, and growth at
the end only, with the size in the ioctl command telling the kernel which
version the caller knows.  The ioctl code 0xB9 is free in
ioctl-number.rst and is reserved there.
""")

    # 2: the driver.
    mods = tree_module_sources(code, tree_defines(src))
    d = os.path.join(repo, "drivers/misc/sockdup")
    for name, text in mods.items():
        write(os.path.join(d, name), text)
    write(os.path.join(d, "Kconfig"), KCONFIG)
    write(os.path.join(d, "Makefile"), driver_makefile(list(mods)))
    p = os.path.join(repo, "drivers/misc/Kconfig")
    t = read(p)
    if "\nendmenu\n" not in t:
        die("drivers/misc/Kconfig does not end its menu with 'endmenu'")
    i = t.rindex("\nendmenu\n")
    write(p, t[:i] + '\nsource "drivers/misc/sockdup/Kconfig"' + t[i:])
    p = os.path.join(repo, "drivers/misc/Makefile")
    write(p, read(p).rstrip("\n") + "\nobj-$(CONFIG_SOCKDUP)\t\t+= sockdup/\n")
    p = os.path.join(repo, "MAINTAINERS")
    write(p, maintainers(read(p), ["drivers/misc/sockdup/", "include/uapi/linux/sockdup.h"]))
    nfiles = len(mods)
    commit(repo, "misc: sockdup: Add the /dev/sockdup driver", f"""
Add the driver behind include/uapi/linux/sockdup.h, a misc character
device.

A share holds its own reference to the socket's struct file from
SOCKDUP_IOC_SHARE until it is redeemed, revoked, expires (a TTL the owner
chooses within a module parameter's limit) or its owner or target exits.
The cookie is 128 bits from get_random_bytes(), looked up in an
rhashtable, and is single use: a redeemer claims the share with an
atomic state change before it installs the descriptor with receive_fd(),
which runs the LSM file_receive hook and updates the socket's cgroup
data exactly as SCM_RIGHTS does; if the installation fails, the claim is
returned and the cookie stays valid.  The cookie is bound to the
target's thread-group struct pid, so a recycled pid number does not
inherit it.  Nothing fallible follows the installation of the
descriptor, which is the ioctl's return value.

Shares are counted per user and in total against limits that are module
parameters, so one user cannot pin an unbounded number of sockets.  A
delayed work reaps expired shares and shares whose target has exited.
Each structure's lock and lifetime are written down where it is
defined.

The driver is {nfiles} files, one concern each: device and ioctl dispatch,
share, redeem, the cookie table, lifetime and reaping, listing, quotas,
control and the events descriptor.
""")

    # 3: the documentation.
    rst = os.path.join(TOP, "docs", "sockdup.rst")
    if not os.path.exists(rst):
        die("docs/sockdup.rst is missing")
    write(os.path.join(repo, "Documentation/userspace-api/sockdup.rst"), read(rst))
    p = os.path.join(repo, "Documentation/userspace-api/index.rst")
    t = read(p)
    if "\n   ntsync\n" not in t:
        die("Documentation/userspace-api/index.rst has no ntsync entry to follow")
    write(p, t.replace("\n   ntsync\n", "\n   ntsync\n   sockdup\n", 1))
    p = os.path.join(repo, "MAINTAINERS")
    write(p, maintainers_add_file(read(p), "Documentation/userspace-api/sockdup.rst"))
    commit(repo, "docs: sockdup: Document the sockdup user API", """
Describe what sockdup is for, the ioctls and their structures (pulled
from include/uapi/linux/sockdup.h with kernel-doc directives, so that
the header stays the one place the ABI is written), the security model a
reviewer needs to judge it (who may share what with whom, what a cookie
proves, what the LSM hooks see) and how it compares with SCM_RIGHTS and
pidfd_getfd(), the two ways Linux already has to move a descriptor
between processes.
""")

    # 4: the selftests.
    sel = os.path.join(repo, "tools/testing/selftests/sockdup")
    files = selftest_files()
    for f in files:
        write(os.path.join(sel, f), read(os.path.join(TOP, "selftests", f)))
    p = os.path.join(repo, "tools/testing/selftests/Makefile")
    write(p, insert_sorted_line(read(p), r"^TARGETS \+= (\S+)$", "TARGETS += sockdup",
                                "sockdup", "tools/testing/selftests/Makefile"))
    p = os.path.join(repo, "MAINTAINERS")
    write(p, maintainers_add_file(read(p), "tools/testing/selftests/sockdup/"))
    ntests = len([f for f in files if f.endswith("_test.c")])
    commit(repo, "selftests: sockdup: Add tests for /dev/sockdup", f"""
Add {ntests} test programs (kselftest_harness.h) for every ioctl, every
errno the documentation promises, the lifetime rules (TTL, reaping on
exit, revocation, module unload with shares pending), pid and user
namespaces, the LSM hook, fault injection on every allocation, races
between redeemers and a fuzzer of the ioctl arguments.

Each program skips (KSFT_SKIP) with the reason when /dev/sockdup is
missing.  config lists what the tests need, CONFIG_SOCKDUP among it.
""")

    # format-patch and the cover letter
    out = opts.out
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    names = run(["git", "format-patch", "--cover-letter", "--no-signature",
                 "-o", out, f"{base}..HEAD"], repo).split()
    cover = names[0]
    stat = run(["git", "diff", "--stat=72", f"{base}..HEAD"], repo)
    cover_body = read(os.path.join(TOP, "docs", "upstream-cover.txt"))
    cover_body = cover_body.replace("@RELEASE@", release).replace(
        "@SOURCE@", f"{srcname} {pkgver}")
    t = read(cover)
    t = t.replace("*** SUBJECT HERE ***", "misc: sockdup: hand an open socket to a named process")
    t = t.replace("*** BLURB HERE ***", cover_body.rstrip("\n"))
    write(cover, t)
    print(f"upstream: {len(names) - 1} patches and a cover letter against Linux {release} "
          f"in {os.path.relpath(out, TOP)}/ (git am them onto {srcname} {pkgver})")
    for n in names:
        print(n)


if __name__ == "__main__":
    main()
