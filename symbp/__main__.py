"""`python -m symbp` is the `symbp` command."""

import sys

from .cli import main

sys.exit(main())
