"""universalmutator's C++ rules, sorted into the standard operator classes propose.py keeps."""

RULE_FILES = ["universal.rules", "cpp.rules", "c_like.rules"]  # exactly as `mutate FILE cpp` uses them

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
