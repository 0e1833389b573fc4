"""Parses a Terraform file with python-hcl2 and prints its blocks as JSON (resources by type
and label, variables). Usage: check_hcl.py FILE.tf. Exit 1 on a parse error."""
import json
import sys

try:
    import hcl2
except ImportError as error:
    sys.exit(f"{error}: install the test tools with scripts/test, or pip install -r scripts/requirements/python.txt")

with open(sys.argv[1]) as handle:
    try:
        parsed = hcl2.load(handle)
    except Exception as error:  # the parser raises lark's own exception types
        sys.exit(f"HCL parse error: {error}")
print(json.dumps(parsed, default=str))
