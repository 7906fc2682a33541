"""What an order can be found by, as sort keys on the order item itself, one sparse index per kind of term:

    find_pk = "<shop>"; find_<kind> = "<term>#<order id>"        (Find<Kind>Index, keys only)

kinds: the order's name ("#1042" → "1042"), the customer's email, full name and last name, the first two
AliExpress order ids and the first two tracking numbers (an order with more suppliers or parcels than that is
found by its first two). Terms are lower case with their spaces collapsed, cut to 100 characters.

A search is one Query per index with begins_with(find_<kind>, "<query>") — a prefix match that reads only the
keys that match — then one BatchGetItem of the orders found (shared.data.order_search). The keys are written with
the order in the same conditional PutItem, so an order is findable exactly as it is stored: no extra items, no
extra writes, no second copy to fall behind (DynamoDB maintains the indexes; a write that leaves a key unchanged
costs the index nothing).
"""

from __future__ import annotations

from shared.models.order import Order

MAX_TERM_CHARS = 100
FIND_PK = "find_pk"
FIND_KINDS = ("name", "email", "person", "last", "ae1", "ae2", "trk1", "trk2")
FIND_ATTRIBUTES = (FIND_PK, *(f"find_{kind}" for kind in FIND_KINDS))


def index_name(kind: str) -> str:
    """FindNameIndex, FindEmailIndex, …, FindTrk2Index."""
    return f"Find{kind.capitalize()}Index"


def normalize(value: str) -> str:
    return " ".join(value.split()).lower()[:MAX_TERM_CHARS]


def order_terms(order: Order) -> dict[str, str]:
    """kind → term, for the kinds this order has."""
    customer = order.customer
    address = order.shipping_address
    first = customer.first_name or (address.first_name if address else None)
    last = customer.last_name or (address.last_name if address else None)
    person = " ".join(p for p in (first, last) if p) or (address.name if address else None)
    values: dict[str, str | None] = {
        "name": order.name.lstrip("#") if order.name else None,
        "email": customer.email, "person": person, "last": last,
        "ae1": order.ae_orders[0].ae_order_id if order.ae_orders else None,
        "ae2": order.ae_orders[1].ae_order_id if len(order.ae_orders) > 1 else None,
        "trk1": order.packages[0].tracking_number if order.packages else None,
        "trk2": order.packages[1].tracking_number if len(order.packages) > 1 else None,
    }
    terms = {kind: normalize(value) for kind, value in values.items() if value}
    return {kind: term for kind, term in terms.items() if term}


def find_keys(order: Order) -> dict[str, str]:
    """The find_* attributes of the order's item (none when it has no term)."""
    terms = order_terms(order)
    if not terms:
        return {}
    return {FIND_PK: order.shop, **{f"find_{kind}": f"{term}#{order.order_id}" for kind, term in terms.items()}}


def query_term(query: str) -> str:
    """A search box's text as the terms are stored ("#1042" finds order name "1042")."""
    return normalize(query).lstrip("#")
