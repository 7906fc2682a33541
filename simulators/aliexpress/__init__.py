"""AliExpress DS Open Platform simulator: the real gateway protocol over HTTP, with test controls."""

from simulators.aliexpress.render import Shape
from simulators.aliexpress.server import CONTROL_ACTIONS, CONTROL_VIEWS, AliExpressSimulator
from simulators.aliexpress.state import ControlError, SimConfig, SimError, SimState

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
