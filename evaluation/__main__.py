"""``python -m tsadbench.evaluation`` (or ``python -m evaluation`` from the repository root)."""

from tsadbench.evaluation.cli import main

raise SystemExit(main())
