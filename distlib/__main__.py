"""``python -m distlib``: the terminal CLI (see :mod:`distlib.cli`)."""

from distlib.cli import main

raise SystemExit(main())
