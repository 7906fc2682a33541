"""ShopBase Admin API simulator: shops, orders, fulfillments, signed webhook delivery, rate limit,
fault injection. See `server.ShopBaseSimulator` (URL scheme: `{url}/shops/{shop}/admin/...`)."""

from simulators.shopbase.delivery import DeliveryResult
from simulators.shopbase.server import ShopBaseSimulator
from simulators.shopbase.state import DEFAULT_CARRIERS, ApiError

__all__ = ["DEFAULT_CARRIERS", "ApiError", "DeliveryResult", "ShopBaseSimulator"]
