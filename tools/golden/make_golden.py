#!/usr/bin/env python3
"""Generates every golden data set into OUT (run by the ctest fixture `golden.generate`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import codecs_golden  # noqa: E402
import pipeline_golden  # noqa: E402
import safetensors_golden  # noqa: E402

if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    codecs_golden.main(out)
    safetensors_golden.main(out)
    pipeline_golden.main(out)
    print(f"golden data written to {out}")
