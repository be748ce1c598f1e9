"""Example podium plugins: ``MostAvailableCPU`` and ``LowestGPUUtilisation``."""
