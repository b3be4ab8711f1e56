#!/usr/bin/env python3
"""The layout's rules, checked on the source tree (docs/DESIGN.md §1):

- dataplane/ never includes control/;
- dataplane/net/ (the shared value types) includes neither DPDK nor the rest of the dataplane;
- dataplane/packet/ takes from the dataplane only net/, packet/ and drop_reason.h, and
  dataplane/tables/ only net/ and tables/ (dataplane/README.md);
- control/protocol, control/ctl, control/orchestrator, control/etcd, control/cluster and
  control/agent (what sswctl and ssw-agent are made of) include no DPDK header, and from the
  dataplane only dataplane/net/;
- nor do they include control/router/ (the router's side), except control/protocol, which
  both sides share;
- no source file is over 600 lines (OVERSIZE may name an exception, a table of cases).

Usage: check_layout.py SOURCE_ROOT. Prints every violation; exits 1 if there is one.
"""
import re
import sys
from pathlib import Path

MAX_LINES = 600
# Files allowed over MAX_LINES (none now; a test file that is a table of cases could be).
OVERSIZE: set[str] = set()

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
DPDK_FREE = ("control/protocol/", "control/ctl/", "control/orchestrator/", "control/etcd/",
             "control/cluster/", "control/agent/")


def rules(rel: str, quote: str, header: str) -> str | None:
    """Why `rel` may not include `header`, or None when it may."""
    is_dpdk = quote == "<" and (header.startswith("rte_") or header.startswith("dpdk/"))
    if rel.startswith("dataplane/") and header.startswith("control/"):
        return "dataplane/ never includes control/"
    if rel.startswith("dataplane/net/"):
        if is_dpdk:
            return "dataplane/net/ has no DPDK"
        if header.startswith("dataplane/") and not header.startswith("dataplane/net/"):
            return "dataplane/net/ includes only dataplane/net/"
    if rel.startswith("dataplane/packet/") and header.startswith("dataplane/") and not (
            header.startswith(("dataplane/net/", "dataplane/packet/"))
            or header == "dataplane/drop_reason.h"):
        return "dataplane/packet/ takes only net/, packet/ and drop_reason.h from the dataplane"
    if rel.startswith("dataplane/tables/") and header.startswith("dataplane/") and \
            not header.startswith(("dataplane/net/", "dataplane/tables/")):
        return "dataplane/tables/ takes only net/ and tables/ from the dataplane"
    if rel.startswith(DPDK_FREE):
        if is_dpdk:
            return "sswctl's and ssw-agent's folders include no DPDK header"
        if header.startswith("dataplane/") and not header.startswith("dataplane/net/"):
            return "sswctl's and ssw-agent's folders take only dataplane/net/ from the dataplane"
    if rel.startswith(DPDK_FREE) and not rel.startswith("control/protocol/") and \
            header.startswith("control/router/"):
        return "sswctl's and ssw-agent's folders do not include the router's control plane"
    return None


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    problems = []
    sources = []
    for top in ("dataplane", "control", "tests", "bench", "scripts"):
        for p in sorted((root / top).rglob("*")):
            if p.suffix in (".h", ".cc", ".py") and p.is_file():
                sources.append(p)
    for p in sources:
        rel = p.relative_to(root).as_posix()
        text = p.read_text(errors="replace")
        if p.suffix != ".py":
            for m in INCLUDE.finditer(text):
                why = rules(rel, m.group(1), m.group(2))
                if why:
                    line = text.count("\n", 0, m.start()) + 1
                    problems.append(f"{rel}:{line}: includes {m.group(2)}: {why}")
        n = text.count("\n")
        if n > MAX_LINES and rel not in OVERSIZE:
            problems.append(f"{rel}: {n} lines, over {MAX_LINES}: split it by concern")
    for rel in sorted(OVERSIZE):
        p = root / rel
        if p.is_file() and p.read_text(errors="replace").count("\n") <= MAX_LINES:
            problems.append(f"{rel}: now within {MAX_LINES} lines: take it off OVERSIZE")
    for msg in problems:
        print(msg)
    print(f"check_layout: {len(sources)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
