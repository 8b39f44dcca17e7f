"""``python -m interfaces.cli``: the same as the ``vigil`` console script."""

from interfaces.cli import main

main()
