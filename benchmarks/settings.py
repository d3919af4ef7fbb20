"""mysite's settings plus the benchmark-only views (``benchmarks.urls``); consumers use it too."""

from mysite.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
