"""The stages of a run, in the order data flows through them (engine.run drives them):

1. plan      which files are checked, which the project holds (discovery, excludes, .gitignore)
2. scan      per file: read, prefilter, ast module facts; in worker processes, cached by content
3. link      the project (modules, constants, callees) and the host value-flow graph
4. kernels   which jit functions a convention can reach, and their libcst index flow (workers, cached)
5. check     conventions resolved per kernel parameter, the rules run per file, suppressions applied

``memo`` answers a run where nothing changed; ``workers`` is the process pool the per-file stages share.
"""
