"""python -m amphora_export (what scripts/bin/amphora-export runs)."""

import sys

from .cli import main

sys.exit(main())
