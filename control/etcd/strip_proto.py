#!/usr/bin/env python3
"""etcd's .proto files, as Debian ships them (golang-etcd-server-dev), made fit for protoc.

They import gogoproto (Go code generation options) and google/api/annotations.proto (the HTTP
gateway's routes), neither of which protoc needs or Debian ships for C++. This writes copies
without those imports and options, and with the imports of each other rewritten to the flat
layout of the output folder: kv.proto, auth.proto and rpc.proto side by side. Package names,
messages and services are untouched: the wire format and gRPC method paths are etcd's.

Usage: strip_proto.py ETCD_SOURCE_DIR OUTPUT_DIR
"""
import re
import sys
from pathlib import Path

# etcd's path under its source tree, the name it is imported as, and the name written.
FILES = [
    ("mvcc/mvccpb/kv.proto", "etcd/mvcc/mvccpb/kv.proto", "kv.proto"),
    ("auth/authpb/auth.proto", "etcd/auth/authpb/auth.proto", "auth.proto"),
    ("etcdserver/etcdserverpb/rpc.proto", None, "rpc.proto"),
]
RENAMES = {imported: out for _, imported, out in FILES if imported}

DROPPED_IMPORTS = ("gogoproto/gogo.proto", "google/api/annotations.proto")
IMPORT = re.compile(r'^\s*import\s+"([^"]+)"\s*;\s*$')
FILE_OPTION = re.compile(r'^\s*option\s+\(gogoproto\.[^)]*\)\s*=.*;\s*$')
HTTP_OPTION_START = re.compile(r'^\s*option\s+\(google\.api\.http\)\s*=\s*\{')
# A field's options: [(gogoproto.nullable) = false, (gogoproto.customname) = "ID"]
FIELD_OPTIONS = re.compile(r'\s*\[\s*\(gogoproto\.[^\]]*\]')


def strip(text: str, name: str) -> str:
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = IMPORT.match(line)
        if m and m.group(1) in DROPPED_IMPORTS:
            i += 1
            continue
        if m and m.group(1) in RENAMES:
            out.append(f'import "{RENAMES[m.group(1)]}";')
            i += 1
            continue
        if m:
            raise SystemExit(f"strip_proto: {name}: unexpected import {m.group(1)}")
        if FILE_OPTION.match(line):
            i += 1
            continue
        if HTTP_OPTION_START.match(line):
            # The option's message literal spans lines until the brace that closes it.
            depth = 0
            while i < len(lines):
                depth += lines[i].count("{") - lines[i].count("}")
                i += 1
                if depth <= 0:
                    break
            else:
                raise SystemExit(f"strip_proto: {name}: unterminated google.api.http option")
            continue
        out.append(FIELD_OPTIONS.sub("", line))
        i += 1
    result = "\n".join(out) + "\n"
    if "gogoproto" in result or "google.api" in result:
        raise SystemExit(f"strip_proto: {name}: an option was left behind")
    return result


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.mkdir(parents=True, exist_ok=True)
    for rel, _, out in FILES:
        path = src / rel
        if not path.is_file():
            print(f"strip_proto: {path} not found (Debian package golang-etcd-server-dev)",
                  file=sys.stderr)
            return 1
        (dst / out).write_text(strip(path.read_text(), rel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
