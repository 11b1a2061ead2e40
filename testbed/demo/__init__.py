"""The fictional demo network: about 150 districts in 41 states, 30 vendors with 45 products,
25 pilots in every state of their life, registered designs, and outcome data generated from
a stated process (testbed.demo.outcomes) so the right answers are known. docs/demo.md
describes it; `testbed demo --scale 10 --reset` loads it at ten times the size.

`generate_network` builds it as plain data (no database); `load_demo` inserts it.
"""

from testbed.demo.generate import DEMO_PASSWORD, canonical_sha256, generate_network
from testbed.demo.load import DEMO_SIGN_INS, empty_database, load_demo
from testbed.demo.model import DemoNetwork

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_SIGN_INS",
    "DemoNetwork",
    "canonical_sha256",
    "empty_database",
    "generate_network",
    "load_demo",
]
