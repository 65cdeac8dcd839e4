"""The parts of mutants/mutation_score.py: the scratch tree, build artifacts, ctest tests and their runner."""
