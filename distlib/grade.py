"""``python -m distlib.grade PATH``: grade exercises notebooks (see :mod:`distlib.grading.grader`)."""

from distlib.grading.grader import main

if __name__ == "__main__":
    raise SystemExit(main())
