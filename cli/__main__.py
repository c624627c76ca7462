"""``python -m cli ...``: the ``settle`` command line."""
from cli.main import main

main()
