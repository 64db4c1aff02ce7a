"""One module per `pygan` command; pygan/cli.py assembles them into the Typer app."""
