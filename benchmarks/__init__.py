"""offtarget's benchmarks: throughput and overhead as ratios against baselines measured in the same run.

    make bench                                   # every benchmark, writes benchmarks/results.json
    .venv/bin/python benchmarks/run.py --quick --only sampling

One module per benchmark (sampling, scoring, cache, monitor, scaling), the shared timing harness
in :mod:`benchmarks.harness`, the entry point in :mod:`benchmarks.run`. Not part of ``make test``;
``tests/benchmarks`` smoke-runs the harness on tiny sizes.
"""
