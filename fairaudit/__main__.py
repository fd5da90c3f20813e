"""``python -m fairaudit``: the same as the ``fairaudit`` command."""
import sys

from fairaudit.cli import main

if __name__ == "__main__":
    sys.exit(main())
