"""Start wamulti: `python wsgi.py` (settings from the environment and .env)."""

import sys

from wamulti.server import main

if __name__ == "__main__":
    sys.exit(main())
