"""``python -m podium``: the same CLI as the ``podium`` command."""

from podium.cli import main

main()
