"""`python -m server.cli ...`: the `personas` command without its installed script."""

import sys

from server.cli.main import main

sys.exit(main())
