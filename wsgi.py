import sys

from consult import create_app
from consult.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line, no traceback: the operator has a variable to fix.
    sys.exit(f"Configuration error: {exc}")
