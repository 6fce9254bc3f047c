"""`python -m tsadbench.datasets ...` (or `python -m datasets ...` from the repository root)."""
from tsadbench.datasets.cli import main

raise SystemExit(main())
