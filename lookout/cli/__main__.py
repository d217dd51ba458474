"""`python -m lookout.cli …` is the `lookout` command."""

from lookout.cli.main import main

main()
