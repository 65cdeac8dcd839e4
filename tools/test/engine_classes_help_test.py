#!/usr/bin/env python3
"""`nvfp4 engine-check --help` names every finding class engines/findings.py defines, and no other:
the command's help is written by hand in C++, the classes live in Python. Needs no engine.

    engine_classes_help_test.py NVFP4_BINARY SOURCE_DIR
"""
import re
import subprocess
import sys

nvfp4, root = sys.argv[1:3]
sys.path.insert(0, root)
from engines.findings import CLASSES  # noqa: E402

text = subprocess.run([nvfp4, "engine-check", "--help"], capture_output=True, text=True, check=True).stdout
expect = text[text.index("--expect"):].split("\n  --", 1)[0]
named = set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+){2,}", " ".join(expect.split())))
missing, unknown = set(CLASSES) - named, named - set(CLASSES)
if missing or unknown:
    sys.exit(f"engine-check --help --expect: missing {sorted(missing)}, not a class {sorted(unknown)}")
print(f"engine-check --help names all {len(CLASSES)} finding classes")
