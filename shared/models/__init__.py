"""Pydantic models at every boundary: the stored order, the ShopBase order, shops, seller API output, errors."""
