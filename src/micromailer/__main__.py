"""``python -m micromailer`` runs the CLI."""

from micromailer.cli import main

main()
