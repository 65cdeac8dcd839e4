"""``python -m nvfp4 ARGS``: the nvfp4 command from the installed package (the same C++)."""

import sys

from . import _core


def main() -> int:
    rc, out, err = _core.cli(sys.argv[1:], False)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


if __name__ == "__main__":
    sys.exit(main())
