"""`SLOW`: the opt-in marker of long cases (minutes on 2 cores), run only with
INPAINT_BENCH_SLOW=1 (docs/tests.md). The float64 parity cases have their own, SLOW_PARITY."""

import os

import pytest

SLOW = pytest.mark.skipif(os.environ.get("INPAINT_BENCH_SLOW") != "1",
                          reason="slow case: set INPAINT_BENCH_SLOW=1")
