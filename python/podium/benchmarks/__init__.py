"""In-process benchmarks of podium's core over generated clusters (``podium bench core``).

Nothing here is imported by the scheduler itself; the modules import lazily so the CLI stays fast.
"""
