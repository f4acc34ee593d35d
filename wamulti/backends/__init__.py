"""WhatsApp backends: the real one (neonize) and an offline simulator."""

from .backend_api import Backend


def make_backend(settings) -> Backend:
    """The backend named by WA_BACKEND; neonize is imported only when chosen."""
    if settings.wa_backend == "simulator":
        from .simulator.sim_backend import SimulatorBackend

        return SimulatorBackend.from_settings(settings)
    from .neonize.neonize_backend import NeonizeBackend

    return NeonizeBackend(settings)
