"""Parses a PowerShell script with tree-sitter's PowerShell grammar and lists every command
with its parameters as JSON lines: {"command": NAME, "parameters": [..], "line": N}. Usage:
check_powershell.py FILE.ps1. Exit 1 when the parse has an error or a missing node."""
import json
import sys

try:
    import tree_sitter
    import tree_sitter_powershell
except ImportError as error:
    sys.exit(f"{error}: install the test tools with scripts/test, or pip install -r scripts/requirements/python.txt")

language = tree_sitter.Language(tree_sitter_powershell.language())
parser = tree_sitter.Parser(language)
source = open(sys.argv[1], "rb").read()
tree = parser.parse(source)

problems = []
def walk(node):
    if node.type == "ERROR" or node.is_missing:
        problems.append(f"line {node.start_point[0] + 1}: {node.type} {source[node.start_byte:node.end_byte][:80]!r}")
    for child in node.children:
        walk(child)
    if node.type == "command":
        name = node.child_by_field_name("command_name")
        params = []
        def params_of(n):
            for c in n.children:
                if c.type == "command_parameter":
                    params.append(source[c.start_byte:c.end_byte].decode())
                params_of(c)
        params_of(node)
        print(json.dumps({"command": source[name.start_byte:name.end_byte].decode() if name else None,
                          "parameters": params, "line": node.start_point[0] + 1}))
walk(tree.root_node)
if problems:
    sys.exit("\n".join(problems))
