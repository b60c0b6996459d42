"""``python -m polyface``: the same as the ``polyface`` command."""

from polyface.entry import main

main()
