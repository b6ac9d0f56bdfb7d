#!/usr/bin/env python3
# Judges the messages tests/tests/differential.rs wrote with PyPI's protovalidate and prints each message where
# its violations (field path, rule id, for_key) differ from the generated validator's; exits 1 on any mismatch.
# Usage: differential.py <dir> <message full name>. <dir> holds descriptors.bin (a FileDescriptorSet with
# every import), messages.bin (u32 little-endian length + binary message, repeated) and verdicts.txt (one line
# per message: `path|rule_id|for_key` entries, sorted, tab-separated). Map string keys print as `[<key>]`, as
# Capacitor's FieldPath does, so no data is printed.
import pathlib
import struct
import sys

import protovalidate
from protobuf import Registry
from protobuf._file_registry import add_file
from protobuf.wkt.google.protobuf.descriptor_pb import FileDescriptorSet


def registry(descriptors: bytes) -> Registry:
    reg = Registry()
    for file in FileDescriptorSet.from_binary(descriptors).file:
        add_file(reg, file, None)
    return reg


def path(field) -> str:
    if field is None:  # a message-level rule
        return ""
    parts = []
    for e in field.elements:
        part = e.field_name
        sub = e.subscript
        if sub is not None:
            if sub.field == "string_key":
                part += "[<key>]"
            elif sub.field == "bool_key":
                part += "[true]" if sub.value else "[false]"
            else:
                part += f"[{sub.value}]"
        parts.append(part)
    return ".".join(parts)


def main() -> None:
    folder = pathlib.Path(sys.argv[1])
    reg = registry((folder / "descriptors.bin").read_bytes())
    cls = reg.message(sys.argv[2]).type
    validator = protovalidate.Validator()
    data = (folder / "messages.bin").read_bytes()
    expected = (folder / "verdicts.txt").read_text().split("\n")
    offset, index, mismatches = 0, 0, 0
    invalid, rule_ids = 0, set()
    while offset < len(data):
        (length,) = struct.unpack_from("<I", data, offset)
        offset += 4
        message = cls.from_binary(data[offset:offset + length])
        offset += length
        theirs = sorted(
            f"{path(v.proto.field)}|{v.proto.rule_id}|{str(bool(v.proto.for_key)).lower()}"
            for v in validator.collect_violations(message)
        )
        ours = [x for x in expected[index].split("\t") if x]
        invalid += bool(theirs)
        rule_ids.update(t.split("|")[1] for t in theirs)
        if theirs != ours:
            mismatches += 1
            if mismatches <= 20:
                print(f"message {index}: protovalidate {theirs} != capacitor {ours}")
        index += 1
    print(f"{index} messages judged ({invalid} invalid, {len(rule_ids)} rule ids: {' '.join(sorted(rule_ids))}), "
          f"{mismatches} mismatches")
    sys.exit(1 if mismatches or index == 0 else 0)


if __name__ == "__main__":
    main()
