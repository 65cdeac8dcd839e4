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
"""
import argparse
import contextlib
import glob
import hashlib
import io
import os
import random
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "mutants", ".venv")
REQS = os.path.join(ROOT, "mutants", "requirements-propose.txt")
DEFAULT_SEED = 20261203
DEFAULT_PER_AREA = 11
RULE_FILES = ["universal.rules", "cpp.rules", "c_like.rules"]

# area -> file globs (relative to ROOT); "path::Function" restricts a file to one function.
AREAS = [
    ("optimized", ["optimized/*.cpp", "optimized/*.h"]),
    ("kernels", ["optimized/kernels/*.cpp", "optimized/kernels/*.h"]),
    ("core", ["core/allocator.cpp", "core/allocator.h", "core/checkpoint.cpp", "generator/checkpoint_writer.cpp",
              "core/module_map.cpp", "core/module_units.cpp", "core/guarded_mapping.cpp", "core/safetensors_writer.cpp", "core/pipeline_state.cpp",
              # the streaming part of the reader: dropping resident pages of a tensor once it is used
              "core/safetensors_reader.cpp::SafetensorsFile::release"]),
    ("cli", ["tools/cli/*.cpp"]),
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


# ---------------------------------------------------------------------------------------------
# classification of universalmutator's rules

RELOPS = {"!=", "==", ">=", "<=", "<", ">"}
BOUNDARY = {("<", "<="), ("<=", "<"), (">", ">="), (">=", ">")}


def rule_op(side):
    """The operator a universalmutator rule side stands for, or None."""
    s = side.replace("\\1", "").replace("\\2", "").replace("([^-])", "").replace("([^>])", "")
    s = s.replace("([^\\*/])", "").replace("([^&])", "").replace("([^|])", "")
    s = s.replace("\\+", "+").replace("\\*", "*").replace("\\|", "|")
    return s.strip()


def classify(rule_text):
    """(class, lhs operator, rhs operator) of a universalmutator rule line, or None to drop it."""
    lhs, rhs = rule_text.split(" ==> ", 1) if " ==> " in rule_text else (rule_text.split(" ==>")[0], "")
    if lhs == r"(\D)(\d+)(\D)":
        return ("CONST", "n", rhs) if rhs in (r"\1(\2+1)\3", r"\1(\2-1)\3") else None
    if lhs == r"(^\s*)(\S+[^{}]+.*)\n" and rhs == r"\1/*\2*/\n":
        return ("SDL", "", "")
    if lhs == r"([,\(\[\{])([^=,\)\}\]]+),([^=,\)\}\]]+)([,\)\]\}])":
        return ("SWAP", "", "")
    if lhs in (r"if (\(.*\))", r"if(\(.*\))", r"while (\(.*\))", r"while(\(.*\))") and "!" in rhs:
        return ("NEG", "if/while", "")
    if lhs == "!" and rhs.strip() == "":
        return ("NEG", "!", "")
    a, b = rule_op(lhs), rule_op(rhs)
    if a in RELOPS and b in RELOPS:
        return ("BOUNDARY" if (a, b) in BOUNDARY else "ROR", a, b)
    if a in {"+", "-", "*", "/", "%"} and b in {"+", "-", "*", "/"} and a != b:
        return ("AOR", a, b)
    if (a, b) in {("&&", "||"), ("||", "&&")}:
        return ("LCR", a, b)
    if (a, b) in {("&", "|"), ("|", "&")}:
        return ("BIT", a, b)
    return None


# ---------------------------------------------------------------------------------------------
# lexical helpers

def literal_spans(line):
    """[start, end) of string and character literals in a line (no raw strings in this code)."""
    spans, i, n = [], 0, len(line)
    while i < n:
        c = line[i]
        if line.startswith("//", i):
            break
        if c in "\"'":
            if c == "'" and i > 0 and line[i - 1].isalnum():  # digit separator 1'000
                i += 1
                continue
            j = i + 1
            while j < n and line[j] != c:
                j += 2 if line[j] == "\\" else 1
            spans.append((i, min(j + 1, n)))
            i = j + 1
        else:
            i += 1
    return spans


def in_literal(spans, a, b):
    return any(s < b and a < e for s, e in spans)


PAIRS = {"(": ")", "[": "]", "{": "}"}


def balanced(s, angle=False):
    stack = []
    opens = dict(PAIRS, **({"<": ">"} if angle else {}))
    closes = {v: k for k, v in opens.items()}
    for ch in s:
        if ch in opens:
            stack.append(ch)
        elif ch in closes:
            if not stack or stack[-1] != closes[ch]:
                return False
            stack.pop()
    return not stack


def group_end(line, i):
    """Index just past the bracket group opening at line[i], or -1."""
    depth = 0
    for j in range(i, len(line)):
        if line[j] in "([{":
            depth += 1
        elif line[j] in ")]}":
            depth -= 1
            if depth == 0:
                return j + 1
    return -1


def spaced(line, s, e):
    return s > 0 and e < len(line) and line[s - 1] == " " and line[e] == " "


DECL_KEYWORDS = {"return", "case", "default", "break", "continue", "goto", "using", "typedef", "template", "struct", "class",
                 "namespace", "static_assert", "else", "if", "for", "while", "do", "switch", "public", "private", "protected",
                 "enum", "union", "friend", "extern", "static", "const", "constexpr", "inline", "auto", "unsigned", "signed",
                 "int", "char", "float", "double", "bool", "void", "long", "short", "virtual", "explicit", "operator", "mutable",
                 "volatile", "thread_local", "co_return", "try", "catch"}
ASSIGN = re.compile(r"\s*(=(?!=)|\+=|-=|\*=|/=|%=|\|=|&=|\^=|<<=|>>=)")


def expression_statement(code):
    """Whether a stripped one-line statement is an expression statement (not a declaration)."""
    if not code.endswith(";") or "{" in code or "}" in code or not balanced(code):
        return False
    m = re.match(r"[A-Za-z_][\w:]*", code)
    if not m:
        return code[0] in "*(+-"  # *p = ..., (void)x, ++i, --i
    w, rest = m.group(0), code[m.end():]
    if w in ("delete", "throw"):
        return True
    if w in DECL_KEYWORDS:
        return False
    if rest[:1] in ("(", "[", ".") or rest.startswith("->") or rest.startswith("++") or rest.startswith("--"):
        return True
    return bool(ASSIGN.match(rest))


STRINGISH = re.compile(r'("|std::to_string\(|std::string\()')
DECLISH = re.compile(r"\w[\*&]*\s+[\*&]*\w")


def skipped_lines(lines, restrict=None):
    """Line numbers (1-based) not to mutate: preprocessor, static_assert, mutant(N) switches."""
    skip = set()
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if s.startswith("#"):
            skip.add(i + 1)
            while lines[i].rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                skip.add(i + 1)
        elif "static_assert" in s:
            while True:
                skip.add(i + 1)
                if lines[i].split("//")[0].rstrip().endswith(";") or i + 1 >= len(lines):
                    break
                i += 1
        elif re.search(r"\bmutant\(", s):
            skip.add(i + 1)
            if re.match(r"(\}\s*)?(else\s+)?if\s+constexpr\s*\(.*\)\s*(//.*)?$", s):  # braceless body below
                ind = len(lines[i]) - len(lines[i].lstrip())
                while i + 1 < len(lines) and lines[i + 1].strip() and len(lines[i + 1]) - len(lines[i + 1].lstrip()) > ind:
                    i += 1
                    skip.add(i + 1)
        i += 1
    if restrict:
        lo = hi = None
        for k, l in enumerate(lines):
            if lo is None and re.search(r"\b" + re.escape(restrict) + r"\s*\(", l) and not l.strip().endswith(";"):
                lo = k
            elif lo is not None and l.startswith("}"):
                hi = k
                break
        if lo is None or hi is None:
            sys.exit(f"propose: function {restrict} not found")
        skip |= {k + 1 for k in range(len(lines)) if k < lo or k > hi}
    return skip


def prev_code_line(lines, k):
    """The previous non-blank, non-comment line before 0-based index k ('' if none)."""
    in_block = False
    for j in range(k - 1, -1, -1):
        s = lines[j].strip()
        if not s or s.startswith("//"):
            continue
        if s.endswith("*/") and "/*" not in s:
            in_block = True
            continue
        if in_block:
            if "/*" in s:
                in_block = False
            continue
        return s.split("//")[0].rstrip() if not s.startswith("#") else ";"
    return ";"


def candidates_of(path, lines, restrict, rules):
    """Filtered, classified universalmutator mutants of one file."""
    from universalmutator import mutator
    skip = skipped_lines(lines, restrict)
    src = [("\n" if (k + 1) in skip else l) for k, l in enumerate(lines)]
    with contextlib.redirect_stdout(io.StringIO()):
        raw = mutator.mutants_regexp(src, ruleFiles=RULE_FILES, ignorePatterns=[], ignoreStringOnly=True)
    out, seen = [], set()
    for lineno, mutant, rule_used, (lhs, rhs) in raw:
        cls = classify(rule_used[0])
        if not cls:
            continue
        kind, a, b = cls
        line = lines[lineno - 1]
        lit = literal_spans(line)
        new = None
        if kind == "SDL":
            code = line.strip()
            if expression_statement(code) and prev_code_line(lines, lineno - 1)[-1:] in (";", "{", "}", ":"):
                new = mutant
        else:
            # find the match universalmutator used: the one whose substitution gives its mutant
            m, pos = None, 0
            while True:
                p = lhs.search(line, pos)
                if not p:
                    break
                cand = line[:p.start()] + lhs.sub(rhs, line[p.start():], count=1)
                if not cand.endswith("\n"):
                    cand += "\n"
                if cand == mutant:
                    m = p
                    break
                pos = p.start() + 1
            if m is None:
                continue
            if kind in ("ROR", "BOUNDARY", "AOR", "LCR", "BIT"):
                s = m.start() + (1 if lhs.pattern.startswith("([^") else 0)  # ([^-])>, ([^&])&(...), ...
                e = s + len(a)
                if line[s:e] != a or not spaced(line, s, e) or in_literal(lit, s, e):
                    continue
                if kind == "AOR" and (line[:s].rstrip().endswith('"') or STRINGISH.match(line[e:].lstrip())):
                    continue  # string concatenation (message text), not arithmetic
                new = mutant
            elif kind == "CONST":
                s, e = m.start(2), m.end(2)
                before, after = line[s - 1] if s else " ", line[e] if e < len(line) else " "
                if re.match(r"[\w.']", before) or re.match(r"[\w.']", after) or in_literal(lit, s, e):
                    continue
                new = mutant
            elif kind == "NEG" and a == "!":
                s = m.start()
                if line[s + 1:s + 2] in ("=", "") or not re.match(r"[\w(]", line[s + 1]) or in_literal(lit, s, s + 1):
                    continue
                new = mutant
            elif kind == "NEG":
                k = line.find("(", m.start())
                end = group_end(line, k)
                if end < 0 or in_literal(lit, m.start(), k):
                    continue
                new = line[:k] + "(!" + line[k:end] + ")" + line[end:]
            elif kind == "SWAP":
                g2, g3 = m.group(2), m.group(3)
                x, y = g2.strip(), g3.strip()
                if (x == y or not x or not y or not balanced(x, True) or not balanced(y, True) or ";" in x + y
                        or DECLISH.search(x) or DECLISH.search(y) or x in ("&", "this") or "<" in x + y and ">" not in x + y
                        or in_literal(lit, m.start(), m.end()) and not (x.startswith('"') or y.startswith('"'))):
                    continue
                new = line[:m.start()] + m.group(1) + g2[:len(g2) - len(g2.lstrip())] + y + "," + g3[:len(g3) - len(g3.lstrip())] + x + m.group(4) + line[m.end():]
        if new is None or new == line:
            continue
        if not new.endswith("\n"):
            new += "\n"
        key = (lineno, new)
        if key in seen:
            continue
        seen.add(key)
        out.append({"file": path, "line": lineno, "old": line, "new": new, "op": kind,
                    "rule": rule_used[0], "what": describe(kind, line, new)})
    return out


def describe(kind, old, new):
    """A short 'old -> new' of the changed part of a line."""
    a, b = old.rstrip("\n"), new.rstrip("\n")
    p = 0
    while p < min(len(a), len(b)) and a[p] == b[p]:
        p += 1
    q = 0
    while q < min(len(a), len(b)) - p and a[len(a) - 1 - q] == b[len(b) - 1 - q]:
        q += 1
    if kind == "SDL":
        return "deletes `" + a.strip() + "`"
    ctx = 12
    lo = max(0, p - ctx)
    x, y = a[lo:len(a) - q + ctx].strip(), b[lo:len(b) - q + ctx].strip()
    return f"`{x}` -> `{y}`"


def unique_text(src_lines, lineno, new_line):
    """(old, new): the line stripped, widened with whole lines above (then below) until old occurs
    exactly once in the file."""
    text = "".join(src_lines)
    k = lo = hi = lineno - 1
    while True:
        old = "".join(src_lines[lo:hi + 1]).strip()
        if text.count(old) == 1:
            return old, "".join(src_lines[lo:k] + [new_line] + src_lines[k + 1:hi + 1]).strip()
        if lo > 0:
            lo -= 1
        elif hi < len(src_lines) - 1:
            hi += 1
        else:
            raise RuntimeError(f"line {lineno}: no unique context")


def files_of(area_globs):
    out = []
    for g in area_globs:
        path, _, fn = g.partition("::")
        for f in sorted(glob.glob(os.path.join(ROOT, path))):
            rel = os.path.relpath(f, ROOT)
            if rel not in EXCLUDE:
                out.append((rel, fn or None))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--per-area", type=int, default=DEFAULT_PER_AREA)
    ap.add_argument("--out", default=os.path.join(ROOT, "mutants", "new_mutants.py"))
    ap.add_argument("--list-candidates", default="", help="also write every candidate (TSV) to this file")
    ap.add_argument("--check", action="store_true", help="only report whether --out's mutants still apply")
    a = ap.parse_args()
    if a.check:
        sys.path.insert(0, os.path.join(ROOT, "mutants"))
        from new_mutants import NEW_MUTANTS
        bad = [(i, p) for i, (p, old, new, what) in enumerate(NEW_MUTANTS, 1) if open(os.path.join(ROOT, p)).read().count(old) != 1]
        for i, p in bad:
            print(f"mutant {i} ({p}): its text no longer occurs exactly once")
        sys.exit(1 if bad else 0)
    ensure_venv()
    import importlib.metadata
    version = importlib.metadata.version("universalmutator")
    per_area, digest = {}, hashlib.sha256()
    for area, globs in AREAS:
        cands = []
        for rel, fn in files_of(globs):
            lines = open(os.path.join(ROOT, rel)).read().splitlines(keepends=True)
            digest.update(rel.encode() + b"\0" + "".join(lines).encode())
            cands += candidates_of(rel, lines, fn, None)
        cands.sort(key=lambda c: (c["file"], c["line"], c["new"], c["op"]))
        per_area[area] = cands
    rng = random.Random(a.seed)
    sample = []
    for area, _ in AREAS:
        pick = rng.sample(per_area[area], min(a.per_area, len(per_area[area])))
        sample += [dict(c, area=area) for c in sorted(pick, key=lambda c: (c["file"], c["line"], c["new"]))]
    if a.list_candidates:
        with open(a.list_candidates, "w") as f:
            f.write("area\tfile\tline\top\told\tnew\n")
            for area, _ in AREAS:
                for c in per_area[area]:
                    f.write("\t".join([area, c["file"], str(c["line"]), c["op"], c["old"].strip(), c["new"].strip()]) + "\n")
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        head = "?"
    counts = ", ".join(f"{area} {len(per_area[area])}" for area, _ in AREAS)
    ops = {}
    for area, _ in AREAS:
        for c in per_area[area]:
            ops[c["op"]] = ops.get(c["op"], 0) + 1
    opcounts = ", ".join(f"{k} {v}" for k, v in sorted(ops.items()))
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
    print(f"sampled {len(sample)} (seed {a.seed}) -> {os.path.relpath(a.out, ROOT)}")


if __name__ == "__main__":
    main()
