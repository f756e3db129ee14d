"""Shared helpers of the benchmark scripts: workload generators, statistics, servers.

Not a package of the workspace: the scripts put ``benchmarks/`` on ``sys.path`` (running
``python benchmarks/x.py`` does it; ``benchmarks/conftest.py`` does it for pytest).
"""
