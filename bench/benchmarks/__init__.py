"""Speed and memory benchmarks: scripts that print figures (no assertions)."""
