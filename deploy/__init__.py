"""Deploy OpenStack on the report's testbed: inventory, remote access, steps, phases."""
