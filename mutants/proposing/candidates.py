"""The candidates of one file: universalmutator's mutants of it, classified (rules.py) and kept only
where the change is the operator it looks like (lexical.py); then each sampled one's text made unique."""
import contextlib
import io
import re

from proposing.lexical import (DECLISH, STRINGISH, balanced, expression_statement, group_end, in_literal, literal_spans,
                               prev_code_line, skipped_lines, spaced)
from proposing.rules import RULE_FILES, classify


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
        kind = cls[0]
        line = lines[lineno - 1]
        new = mutated_line(cls, lines, lineno, mutant, lhs, rhs)
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


def mutated_line(cls, lines, lineno, mutant, lhs, rhs):
    """The mutated line universalmutator's rule gives at lineno, or None where a lexical filter drops it."""
    kind, a, _ = cls
    line = lines[lineno - 1]
    if kind == "SDL":
        code = line.strip()
        if expression_statement(code) and prev_code_line(lines, lineno - 1)[-1:] in (";", "{", "}", ":"):
            return mutant
        return None
    m = used_match(line, mutant, lhs, rhs)
    if m is None:
        return None
    lit = literal_spans(line)
    if kind in ("ROR", "BOUNDARY", "AOR", "LCR", "BIT"):
        return binary_operator(line, m, lhs, kind, a, lit, mutant)
    if kind == "CONST":
        return constant(line, m, lit, mutant)
    if kind == "NEG" and a == "!":
        return not_removed(line, m, lit, mutant)
    if kind == "NEG":
        return negated_condition(line, m, lit)
    if kind == "SWAP":
        return swapped_arguments(line, m, lit)
    return None


def used_match(line, mutant, lhs, rhs):
    """The match universalmutator used: the one whose substitution gives its mutant (or None)."""
    pos = 0
    while True:
        p = lhs.search(line, pos)
        if not p:
            return None
        cand = line[:p.start()] + lhs.sub(rhs, line[p.start():], count=1)
        if not cand.endswith("\n"):
            cand += "\n"
        if cand == mutant:
            return p
        pos = p.start() + 1


def binary_operator(line, m, lhs, kind, a, lit, mutant):
    s = m.start() + (1 if lhs.pattern.startswith("([^") else 0)  # ([^-])>, ([^&])&(...), ...
    e = s + len(a)
    if line[s:e] != a or not spaced(line, s, e) or in_literal(lit, s, e):
        return None
    if kind == "AOR" and (line[:s].rstrip().endswith('"') or STRINGISH.match(line[e:].lstrip())):
        return None  # string concatenation (message text), not arithmetic
    return mutant


def constant(line, m, lit, mutant):
    s, e = m.start(2), m.end(2)
    before, after = line[s - 1] if s else " ", line[e] if e < len(line) else " "
    if re.match(r"[\w.']", before) or re.match(r"[\w.']", after) or in_literal(lit, s, e):
        return None
    return mutant


def not_removed(line, m, lit, mutant):
    s = m.start()
    if line[s + 1:s + 2] in ("=", "") or not re.match(r"[\w(]", line[s + 1]) or in_literal(lit, s, s + 1):
        return None
    return mutant


def negated_condition(line, m, lit):
    """if (c) / while (c) -> if (!(c)) / while (!(c)), c the balanced group after the keyword
    (universalmutator's greedy `.*` would swallow a statement that follows on the same line)."""
    k = line.find("(", m.start())
    end = group_end(line, k)
    if end < 0 or in_literal(lit, m.start(), k):
        return None
    return line[:k] + "(!" + line[k:end] + ")" + line[end:]


def swapped_arguments(line, m, lit):
    g2, g3 = m.group(2), m.group(3)
    x, y = g2.strip(), g3.strip()
    if (x == y or not x or not y or not balanced(x, True) or not balanced(y, True) or ";" in x + y
            or DECLISH.search(x) or DECLISH.search(y) or x in ("&", "this") or "<" in x + y and ">" not in x + y
            or in_literal(lit, m.start(), m.end()) and not (x.startswith('"') or y.startswith('"'))):
        return None
    return line[:m.start()] + m.group(1) + g2[:len(g2) - len(g2.lstrip())] + y + "," + g3[:len(g3) - len(g3.lstrip())] + x + m.group(4) + line[m.end():]


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
