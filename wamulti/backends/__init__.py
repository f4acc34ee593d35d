"""WhatsApp backends: the real one (neonize) and an offline simulator."""

from .base import Backend


def make_backend(settings) -> Backend:
    """The backend named by WA_BACKEND; neonize is imported only when chosen."""
    if settings.wa_backend == "simulator":
        from .simulator import SimulatorBackend

        return SimulatorBackend.from_settings(settings)
    from .neonize import NeonizeBackend

    return NeonizeBackend(settings)
