"""ShopBase: webhook signatures, the Admin API client. Unconfirmed ShopBase behaviour lives in `protocol.py`."""
