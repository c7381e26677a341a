"""Validates OCSF records against the JSON Schema of each record's class, in the OCSF version its
metadata.version names, as the ocsf-json-schema package generates it from the OCSF schema it
ships (no network). jsonschema applies it, with its format checker.

As a script: validate.py [--min N] [FILE...] reads NDJSON (stdin without files), prints every
error and exits 1 on any (or on fewer than N records).
"""

import json
import sys

import jsonschema
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema, get_packaged_versions


class Validator:
    """Caches one schema per OCSF version and one validator per (version, class)."""

    def __init__(self):
        self._schemas = {}
        self._validators = {}

    def errors(self, record):
        """Every schema error of one record, as readable strings (empty: valid)."""
        version = record.get("metadata", {}).get("version")
        if version not in get_packaged_versions():
            return [f"metadata.version {version!r} is not an OCSF version"]
        if version not in self._schemas:
            self._schemas[version] = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=version))
        key = (version, record.get("class_uid"))
        if key not in self._validators:
            schema = self._schemas[version]
            try:
                name = schema.lookup_class_name_from_uid(class_uid=record.get("class_uid"))
            except Exception as e:  # the package raises a bare exception for an unknown uid
                return [f"class_uid {record.get('class_uid')!r}: {e}"]
            js = schema.get_class_schema(class_name=name, profiles=[])
            cls = jsonschema.validators.validator_for(js)
            cls.check_schema(js)
            self._validators[key] = cls(js, format_checker=cls.FORMAT_CHECKER)
        found = sorted(self._validators[key].iter_errors(record), key=lambda e: list(e.absolute_path))
        return [f"{'/'.join(str(p) for p in e.absolute_path) or '(record)'}: {e.message}" for e in found]


def main(argv):
    minimum = 1
    if argv[:1] == ["--min"]:
        minimum, argv = int(argv[1]), argv[2:]
    streams = [open(p, encoding="utf-8") for p in argv] or [sys.stdin]
    v = Validator()
    checked, bad = 0, 0
    for stream in streams:
        for n, line in enumerate(stream, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            checked += 1
            for e in v.errors(record):
                bad += 1
                uid = record.get("metadata", {}).get("uid")
                print(f"invalid record {uid} (line {n}, type_uid {record.get('type_uid')}): {e}")
    print(f"{checked} OCSF records checked, {bad} errors")
    if checked < minimum:
        print(f"expected at least {minimum} records")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
