"""`python -m bench …` runs the same command line as the `inpaint-bench` console script."""

from bench.cli import main

raise SystemExit(main())
