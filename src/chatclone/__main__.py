"""`python -m chatclone …` runs the CLI."""

from chatclone.cli import main

main()
