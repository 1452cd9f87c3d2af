class LabError(RuntimeError):
    """The embedded lab cannot be brought to the wanted state; one line says why."""
