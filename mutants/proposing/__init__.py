"""The parts of mutants/propose.py: universalmutator rule classes, lexical filters, candidates."""
