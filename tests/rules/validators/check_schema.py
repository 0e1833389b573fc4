"""Validates every YAML document of a file against a JSON schema (strict: the schema's own
additionalProperties). Usage: check_schema.py SCHEMA.json FILE.yaml. Exit 0 when all pass."""
import json
import sys

try:
    import jsonschema
    import yaml
except ImportError as error:
    sys.exit(f"{error}: install the test tools with scripts/test, or pip install -r scripts/requirements/python.txt")

schema = json.load(open(sys.argv[1]))
documents = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d is not None]
if not documents:
    sys.exit("no documents")
errors = []
for number, document in enumerate(documents, 1):
    for error in jsonschema.Draft7Validator(schema).iter_errors(document):
        path = "/".join(str(p) for p in error.absolute_path)
        errors.append(f"document {number}: {path}: {error.message}")
if errors:
    sys.exit("\n".join(errors))
print(f"{len(documents)} documents valid")
