"""`python -m comms.cli`: the same as the `comms` command."""

from comms.cli import main

main()
