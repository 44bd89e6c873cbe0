"""``python -m distlib``: the terminal CLI (see :mod:`distlib.cli`)."""

from distlib.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
