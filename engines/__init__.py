"""The engine harness `nvfp4 engine-check` runs in a release's venv (README.md here)."""
