"""``python -m listener ...``: the same command line as the ``listener`` script."""

from listener.app.cli import cli

if __name__ == "__main__":
    cli(prog_name="listener")
