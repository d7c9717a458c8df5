"""``python -m clientrules``: the same as the ``clientrules`` command."""

from clientrules.cli.main import main

main()
