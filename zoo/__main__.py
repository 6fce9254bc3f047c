"""`python -m tsadbench.zoo check PATH_OR_NAME` (see `cli.py`)."""
import sys

from .cli import main

sys.exit(main())
