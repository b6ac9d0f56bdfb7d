#!/usr/bin/env python3
# Checks the embedded codegen/schemas/buf/validate/validate.proto against the descriptor that PyPI's protovalidate
# ships (protovalidate/_gen/buf/validate/validate_pb.py holds the serialized FileDescriptorProto): every field of
# every *Rules message (name and number) must be in ours, so capgen knows each rule protovalidate judges.
# Usage: check_validate_proto.py <path to protovalidate's validate_pb.py>. Needs `protoc` with its well-known types.
import ast
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
OURS = ROOT / "codegen/schemas/buf/validate/validate.proto"
WKT = "/usr/include"


def shipped_descriptor(validate_pb: pathlib.Path) -> bytes:
    # The generated module passes the descriptor as one bytes literal on its own line to file_desc(...).
    for line in validate_pb.read_text().splitlines():
        line = line.strip()
        if line.startswith("b'\\n\\x1bbuf/validate/validate.proto"):
            return ast.literal_eval(line.rstrip(",)"))
    sys.exit(f"no serialized descriptor found in {validate_pb}")


def decode(descriptor: bytes) -> str:
    return subprocess.run(
        ["protoc", f"-I{WKT}", "--decode=google.protobuf.FileDescriptorProto", "google/protobuf/descriptor.proto"],
        input=descriptor, capture_output=True, check=True,
    ).stdout.decode()


def our_descriptor() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "set.pb"
        subprocess.run(
            ["protoc", f"-I{OURS.parent.parent.parent}", f"-I{WKT}", f"--descriptor_set_out={out}",
             "buf/validate/validate.proto"],
            check=True,
        )
        data = out.read_bytes()
    # A FileDescriptorSet with one file is field 1 (length-delimited) around the FileDescriptorProto.
    assert data[0] == 0x0A
    length, shift, i = 0, 0, 1
    while True:
        b = data[i]
        length |= (b & 0x7F) << shift
        i += 1
        shift += 7
        if b < 0x80:
            break
    return data[i:i + length]


def rule_fields(text: str) -> set:
    """(message, field, number) for the fields of top-level messages named *Rules, from protoc's text format."""
    fields, message, depth = set(), None, 0
    name = None
    for line in text.splitlines():
        s = line.strip()
        if s.endswith("{"):
            depth += 1
        elif s == "}":
            depth -= 1
            if depth == 0:
                message = None
        m = re.match(r'name: "(\w+)"', s)
        if m and depth == 1 and line.startswith("  name"):
            message = m.group(1)
        if m and depth == 2 and message:
            name = m.group(1)
        n = re.match(r"number: (\d+)", s)
        if n and depth == 2 and message and message.endswith("Rules") and name:
            fields.add((message, name, int(n.group(1))))
    return fields


def main() -> None:
    shipped = rule_fields(decode(shipped_descriptor(pathlib.Path(sys.argv[1]))))
    ours = rule_fields(decode(our_descriptor()))
    missing = sorted(shipped - ours)
    for m in missing:
        print(f"missing from ours: {m[0]}.{m[1]} = {m[2]}")
    print(f"{len(shipped)} *Rules fields shipped, {len(ours)} in ours, {len(missing)} missing")
    sys.exit(1 if missing or not shipped else 0)


if __name__ == "__main__":
    main()
