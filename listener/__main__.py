"""``python -m listener ...``: the same command line as the ``listener`` script."""

from listener.cli import cli

if __name__ == "__main__":
    cli(prog_name="listener")
