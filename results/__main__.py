"""`python -m results DIR` (from the repository root) or `python -m tsadbench.results DIR`."""
import sys

from tsadbench.results.cli import main

sys.exit(main())
