"""JSON Schema oracle for `cargo xtask interop` (the normalised events).

    schema_oracle.py SCHEMA EVENTS   validate every JSON value of the file EVENTS (one per
                                     line) against the JSON Schema in SCHEMA with the
                                     `jsonschema` package (Draft 2020-12); print, per line,
                                     "valid" or the first error's message and path

The schema is docs/events.schema.json, generated from chatwire-core's types; the events are
the core forms the fixtures record next to each typed event.
"""

import json
import sys

import jsonschema


def main():
    schema_path, events_path = sys.argv[1], sys.argv[2]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    out = []
    with open(events_path, encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            error = jsonschema.exceptions.best_match(validator.iter_errors(event))
            if error is None:
                out.append("valid")
            else:
                path = "/".join(str(p) for p in error.absolute_path)
                out.append(f"{error.message} at /{path}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
