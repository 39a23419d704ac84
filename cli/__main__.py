"""`python -m cli`: the same as the `person-search` command."""

from cli import main

main()
