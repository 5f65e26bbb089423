"""``python -m device_sim``: the same as the ``device-sim`` command."""

from device_sim.cli import main

main()
