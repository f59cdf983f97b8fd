"""``python -m carebook`` runs the command line."""

from carebook.cli import main

main()
