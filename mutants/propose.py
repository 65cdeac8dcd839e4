#!/usr/bin/env python3
"""Propose one-line mutants systematically and draw a seeded, stratified random sample of them.

usage: mutants/propose.py [--seed N] [--per-area N] [--out FILE] [--list-candidates FILE] [--check]

Candidates come from universalmutator (pinned in mutants/requirements-propose.txt; this script
creates mutants/.venv with it on first use and re-runs itself there): its C++ rule set
(universal.rules + cpp.rules + c_like.rules, exactly as `mutate FILE cpp` uses) is applied line by
line by universalmutator.mutator.mutants_regexp. Of its rules we keep the standard operators below
and drop the rest (break/continue insertion, string emptying, min<->max, begin<->end, while->if,
else deletion, if(0==1)/if(1==1), literal -> 0/1/-1, unary minus deletion, +=/-= rewrites):

  ROR       relational operator replacement (==, !=, <, <=, >, >= among themselves, but:)
  BOUNDARY  the off-by-one pairs of them: < <-> <=, > <-> >=
  AOR       arithmetic operator replacement among + - * / (and % -> the others; nothing -> %:
            most arithmetic here is float, where % does not compile)
  CONST     integer literal n -> (n+1) or (n-1)
  NEG       negated condition: if (c) / while (c) -> if (!(c)) / while (!(c)); a `!` removed
  SDL       deleted statement: a one-line expression statement (call, assignment) commented out
  SWAP      swapped neighbouring arguments: f(a, b) -> f(b, a)
  LCR       && <-> ||
  BIT       bitwise & <-> | (not in the issue's list; added because the kernels are bit code)

Lexical filters drop what is certainly not the operator it looks like (none of them looks at
whether a mutant is interesting): a binary operator must stand alone between spaces (this repo's
style; excludes templates' <>, ->, <<, ++, +=, unary - and *, pointer and reference declarators),
a literal must be a plain decimal integer token (no 0x.., 1u, 1.0f, identifiers such as uint8_t),
the change must not lie in a string or character literal, + - * / next to a string literal or
std::to_string(..)/std::string(..) is string concatenation (message text) and is left out, a deleted line must be a whole
statement (the previous code line ends with ; { } or :, brackets balance, not a declaration, not
return/case/break), swapped arguments must be balanced expressions (not declarations, not equal).
NEG takes the balanced parenthesis group after `if`/`while` (universalmutator's greedy `.*`
would swallow a statement that follows on the same line). Skipped lines: comments (universal-
mutator's own // and /* */ handling), preprocessor lines (#include ...), static_assert (to its
`;`), and the historic-bug switches `mutant(N)` of optimized/mutants.h with their braceless bodies.

The sample: candidates are sorted (area, file, line, new line), then for each area in the fixed
order of AREAS, random.Random(seed).sample(candidates of that area, per_area) (one Random, drawn
area after area). No candidate is replaced by hand: one that does not compile is reported as such
by mutation_score.py and left out of the score. Each sampled mutant's old text is its line
(stripped), widened with whole neighbouring lines until it occurs exactly once in the file.

The parts: proposing/rules.py (universalmutator's rules sorted into the classes above),
proposing/lexical.py (the lexical filters and skipped lines), proposing/candidates.py (one file's
candidates, and the unique text of a sampled one); this file draws the sample and writes it.
"""
import argparse
import glob
import hashlib
import os
import random
import subprocess
import sys

from proposing.candidates import candidates_of, unique_text
from proposing.rules import RULE_FILES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "mutants", ".venv")
REQS = os.path.join(ROOT, "mutants", "requirements-propose.txt")
DEFAULT_SEED = 20261203
DEFAULT_PER_AREA = 11

# area -> file globs (relative to ROOT); "path::Function" restricts a file to one function.
AREAS = [
    ("optimized", ["optimized/*.cpp", "optimized/*.h"]),
    ("kernels", ["optimized/kernels/*.cpp", "optimized/kernels/*.h"]),
    ("core", ["core/allocator.cpp", "core/allocator.h", "core/checkpoint.cpp", "generator/checkpoint_writer.cpp",
              "core/module_map.cpp", "core/module_units.cpp", "core/guarded_mapping.cpp", "core/safetensors_writer.cpp",
              # the streaming part of the reader: dropping resident pages of a tensor once it is used
              "core/safetensors_reader.cpp::SafetensorsFile::release"]),
    ("checks", ["checks/*.cpp", "checks/*.h"]),
    ("cli", ["tools/cli/*.cpp", "tools/cli/verify/*.cpp", "tools/cli/verify/*.h"]),
    ("diff", ["tools/diff/*.cpp"]),
]
EXCLUDE = {"optimized/mutants.h"}  # the historic-bug switches themselves (compile-time test machinery)


def ensure_venv():
    """Re-run this script in mutants/.venv with the pinned universalmutator (created on first use)."""
    try:
        import universalmutator  # noqa: F401
        return
    except ImportError:
        pass
    py = os.path.join(VENV, "bin", "python")
    if os.path.abspath(sys.executable) == os.path.abspath(py):
        sys.exit("propose: universalmutator is missing from mutants/.venv; remove the folder and run again")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    subprocess.check_call([py, "-m", "pip", "install", "-q", "-r", REQS])
    os.execv(py, [py] + sys.argv)


def files_of(area_globs):
    out = []
    for g in area_globs:
        path, _, fn = g.partition("::")
        for f in sorted(glob.glob(os.path.join(ROOT, path))):
            rel = os.path.relpath(f, ROOT)
            if rel not in EXCLUDE:
                out.append((rel, fn or None))
    return out


def check():
    """Exit 0 if every mutant of mutants/new_mutants.py still occurs exactly once, else 1."""
    sys.path.insert(0, os.path.join(ROOT, "mutants"))
    from new_mutants import NEW_MUTANTS
    bad = [(i, p) for i, (p, old, new, what) in enumerate(NEW_MUTANTS, 1) if open(os.path.join(ROOT, p)).read().count(old) != 1]
    for i, p in bad:
        print(f"mutant {i} ({p}): its text no longer occurs exactly once")
    sys.exit(1 if bad else 0)


def all_candidates():
    """({area: its candidates, sorted}, sha256 over every source file read)."""
    per_area, digest = {}, hashlib.sha256()
    for area, globs in AREAS:
        cands = []
        for rel, fn in files_of(globs):
            lines = open(os.path.join(ROOT, rel)).read().splitlines(keepends=True)
            digest.update(rel.encode() + b"\0" + "".join(lines).encode())
            cands += candidates_of(rel, lines, fn, None)
        cands.sort(key=lambda c: (c["file"], c["line"], c["new"], c["op"]))
        per_area[area] = cands
    return per_area, digest


def draw(per_area, seed, n):
    """One Random(seed), drawn area after area in AREAS' order; each area's pick sorted by place."""
    rng = random.Random(seed)
    sample = []
    for area, _ in AREAS:
        pick = rng.sample(per_area[area], min(n, len(per_area[area])))
        sample += [dict(c, area=area) for c in sorted(pick, key=lambda c: (c["file"], c["line"], c["new"]))]
    return sample


def write_candidates(path, per_area):
    with open(path, "w") as f:
        f.write("area\tfile\tline\top\told\tnew\n")
        for area, _ in AREAS:
            for c in per_area[area]:
                f.write("\t".join([area, c["file"], str(c["line"]), c["op"], c["old"].strip(), c["new"].strip()]) + "\n")


def counts_of(per_area):
    """('area n, ...', 'OP n, ...'): the candidates per area and per operator."""
    counts = ", ".join(f"{area} {len(per_area[area])}" for area, _ in AREAS)
    ops = {}
    for area, _ in AREAS:
        for c in per_area[area]:
            ops[c["op"]] = ops.get(c["op"], 0) + 1
    return counts, ", ".join(f"{k} {v}" for k, v in sorted(ops.items()))


def write_sample(a, sample, per_area, digest, version):
    """mutants/new_mutants.py (or --out): a header saying how it was drawn, then the sample."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        head = "?"
    counts, opcounts = counts_of(per_area)
    cmd = f"python3 mutants/propose.py --seed {a.seed} --per-area {a.per_area}"
    lines = [
        "# Generated by mutants/propose.py; do not edit by hand (a sampled mutant that does not compile stays",
        "# here and is reported as such by mutation_score.py, not replaced).",
        f"#   command: {cmd}",
        f"#   seed {a.seed}, {a.per_area} per area, universalmutator {version} (rules {' + '.join(RULE_FILES)})",
        f"#   drawn from HEAD {head} plus the working tree; source digest sha256 {digest.hexdigest()[:16]}",
        f"#   candidates per area: {counts}",
        f"#   candidates per operator: {opcounts}",
        "# Each entry: (file, exact text that occurs once, replacement, what it changes).",
        "NEW_MUTANTS = [",
    ]
    for c in sample:
        src_lines = open(os.path.join(ROOT, c["file"])).read().splitlines(keepends=True)
        old, new = unique_text(src_lines, c["line"], c["new"])
        what = f"{c['area']} {c['op']} l.{c['line']}: {c['what']}"
        lines.append(f"    ({c['file']!r},\n     {old!r},\n     {new!r},\n     {what!r}),")
    lines.append("]")
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"candidates: {counts}; by operator: {opcounts}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--per-area", type=int, default=DEFAULT_PER_AREA)
    ap.add_argument("--out", default=os.path.join(ROOT, "mutants", "new_mutants.py"))
    ap.add_argument("--list-candidates", default="", help="also write every candidate (TSV) to this file")
    ap.add_argument("--check", action="store_true", help="only report whether --out's mutants still apply")
    a = ap.parse_args()
    if a.check:
        check()
    ensure_venv()
    import importlib.metadata
    version = importlib.metadata.version("universalmutator")
    per_area, digest = all_candidates()
    sample = draw(per_area, a.seed, a.per_area)
    if a.list_candidates:
        write_candidates(a.list_candidates, per_area)
    write_sample(a, sample, per_area, digest, version)
    print(f"sampled {len(sample)} (seed {a.seed}) -> {os.path.relpath(a.out, ROOT)}")


if __name__ == "__main__":
    main()
