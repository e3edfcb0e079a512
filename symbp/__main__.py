"""`python -m symbp` is the `symbp` command."""

import sys

from .cli import main

if __name__ == "__main__":  # not when a worker process re-imports this module
    sys.exit(main())
