"""Pydantic models shared by every function: the stored order and its parts."""

from shared.models.order import (
    Address,
    AeOrder,
    Customer,
    LineItem,
    Order,
    OrderStatus,
    Package,
    PackageLine,
    Placement,
    StatusChange,
)

__all__ = [
    "Address",
    "AeOrder",
    "Customer",
    "LineItem",
    "Order",
    "OrderStatus",
    "Package",
    "PackageLine",
    "Placement",
    "StatusChange",
]
