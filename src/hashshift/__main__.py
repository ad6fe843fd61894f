"""`python -m hashshift` runs the command line."""

from .cli import main

main()
