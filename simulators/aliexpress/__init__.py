"""AliExpress DS Open Platform simulator: the real gateway protocol over HTTP, with test controls."""

from simulators.aliexpress.config import SimConfig
from simulators.aliexpress.protocol import ControlError, SimError
from simulators.aliexpress.render import Shape
from simulators.aliexpress.server import CONTROL_ACTIONS, CONTROL_VIEWS, AliExpressSimulator
from simulators.aliexpress.state import SimState

__all__ = [
    "CONTROL_ACTIONS",
    "CONTROL_VIEWS",
    "AliExpressSimulator",
    "ControlError",
    "Shape",
    "SimConfig",
    "SimError",
    "SimState",
]
