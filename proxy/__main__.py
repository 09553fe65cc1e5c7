"""``python -m proxy``: the same as the ``s3-auth-proxy`` command."""

import sys

from .cli import main

sys.exit(main())
