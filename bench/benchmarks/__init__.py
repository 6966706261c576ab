"""Speed and memory benchmarks: scripts that measure and print figures (never timed tests)."""
