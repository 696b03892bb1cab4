"""`python -m tether` is the `tether` command."""

from .cli import main

main()
