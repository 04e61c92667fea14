"""Replaces the section between <!-- NAME:start --> and <!-- NAME:end --> of a results file: update-results.py FILE NAME TEXT."""
import re
import sys

path, name, section = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
pattern = rf"<!-- {name}:start -->.*<!-- {name}:end -->"
if re.search(pattern, text, flags=re.S):
    open(path, "w").write(re.sub(pattern, lambda _: section, text, flags=re.S))
    print(f"updated {path}")
