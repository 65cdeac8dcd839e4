"""Lexical helpers: what a C++ line's characters are (string literals, bracket groups, statements)
and which lines are never mutated. Plain text rules, no parser: the style of this repository
(binary operators between spaces, one statement a line) is what makes them enough."""
import re
import sys

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
    """Line numbers (1-based) not to mutate: preprocessor, static_assert, mutant(N) switches, and
    with `restrict`, every line outside that function."""
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
            i = skip_switch(lines, i, s, skip)
        i += 1
    if restrict:
        skip |= outside_function(lines, restrict)
    return skip


def skip_switch(lines, i, s, skip):
    """Adds a historic-bug switch line (optimized/mutants.h's mutant(N)) and its braceless body to
    skip; returns the index of the last line added."""
    skip.add(i + 1)
    if re.match(r"(\}\s*)?(else\s+)?if\s+constexpr\s*\(.*\)\s*(//.*)?$", s):  # braceless body below
        ind = len(lines[i]) - len(lines[i].lstrip())
        while i + 1 < len(lines) and lines[i + 1].strip() and len(lines[i + 1]) - len(lines[i + 1].lstrip()) > ind:
            i += 1
            skip.add(i + 1)
    return i


def outside_function(lines, name):
    """Line numbers (1-based) outside the definition of function `name` (its first line that is not
    a declaration, to the next line that starts with `}`)."""
    lo = hi = None
    for k, l in enumerate(lines):
        if lo is None and re.search(r"\b" + re.escape(name) + r"\s*\(", l) and not l.strip().endswith(";"):
            lo = k
        elif lo is not None and l.startswith("}"):
            hi = k
            break
    if lo is None or hi is None:
        sys.exit(f"propose: function {name} not found")
    return {k + 1 for k in range(len(lines)) if k < lo or k > hi}


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
