"""`python -m symbp` is the `symbp` command."""

from .cli import console_main

if __name__ == "__main__":  # not when a worker process re-imports this module
    console_main()
