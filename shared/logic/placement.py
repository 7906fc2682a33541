"""Placing a store order on AliExpress (awaiting_order → awaiting_payment), never twice.

Never twice:
1. Before calling aliexpress.ds.order.create the order is *claimed* with one conditional write
   (OrderRepository.mutate, optimistic lock on version): order.placement = Placement(out_order_id,
   claimed_at, attempt). Only one claimer wins; a racer sees the fresh claim and skips.
2. out_order_id = "<shop>-<order id>-<attempt>" is deterministic for the attempt, and AliExpress treats it
   as an idempotency key for 24 h: even two calls that both believed they held the claim create one order,
   and a retry after a timeout gets the same order ids back.
3. The out_order_id of an attempt is only retired ("closed") after a definitive AliExpress answer: accepted
   (→ awaiting_payment) or refused (→ failed). After timeouts, 5xx, rate limits or a disconnect the claim is
   *released* and the next try reuses the SAME out_order_id. A claim whose holder died (Lambda timeout) is
   taken over with the same out_order_id once older than CLAIM_TTL_SECONDS (longer than any placing
   function runs). An open reference older than DEDUP_WINDOW_SECONDS is never resent (AliExpress would no
   longer de-duplicate it): the seller is asked to check AliExpress first.
4. A seller retry of a failed order (failed → awaiting_order) makes the next claim use attempt + 1.

placement.request_id carries the state of the attempt: None = held since claimed_at, "held:<epoch s>" =
held again since then, "released" = open and nobody on it, "closed" = retired.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.aliexpress.errors import AliExpressError, RepeatedOrderError
from shared.data.links import LinkRepository
from shared.data.orders import OrderRepository
from shared.data.shops import ShopRepository
from shared.lifecycle import Event, transition
from shared.logic.accounts import (
    RECONNECT_ATTENTION,
    TRANSIENT_ERRORS,
    AliExpressAccounts,
    AliExpressDisconnected,
)
from shared.logic.auto_place import CLOSED
from shared.logic.intake import CANCEL_AFTER_PLACEMENT
from shared.models.errors import Conflict, NotFound
from shared.models.order import AeOrder, Order, OrderStatus, Placement
from shared.models.shop import Link
from shared.observability import logger, metrics

CLAIM_TTL_SECONDS = 5 * 60
DEDUP_WINDOW_SECONDS = 23 * 3600  # AliExpress de-duplicates out_order_id for 24 h; keep an hour of margin
HELD_PREFIX = "held:"
RELEASED = "released"

UNLINKED = "UNLINKED_ITEM"
NO_ADDRESS = "ADDRESS_MISSING"
DISCONNECTED = "ALIEXPRESS_DISCONNECTED"
UNCONFIRMED = "PLACEMENT_UNCONFIRMED"
SKU_CHANGED = "SKU_CHANGED"

# One table: AliExpress error code (prefix match, first wins) → (category, sentence for the seller).
# `{detail}` is AliExpress's own message.
REFUSALS: list[tuple[str, str, str]] = [
    ("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL_CPF", "address",
     "AliExpress refused the customer's CPF (Brazilian tax id): {detail}. Get a valid CPF from the customer, "
     "correct the order, then retry."),
    ("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "address",
     "AliExpress refused the shipping address: {detail}. Correct the address in the store, then retry."),
    ("INVENTORY_HOLD_ERROR", "stock",
     "The supplier does not have enough stock for this order. Link another product or wait for a restock, "
     "then retry."),
    ("DELIVERY_METHOD_NOT_EXIST", "shipping",
     "The shipping method chosen for a linked product is not offered for it ({detail}). Change the link's "
     "shipping service, then retry."),
    ("A001_ORDER_CANNOT_BE_PLACED", "shipping",
     "A linked product cannot be shipped to the customer's country ({detail}). Link a product that ships "
     "there, then retry."),
    ("BLACKLIST_BUYER_IN_LIST", "account",
     "AliExpress has blocked the connected AliExpress account from ordering. Contact AliExpress support or "
     "connect another account, then retry."),
    ("USER_ACCOUNT_DISABLED", "account",
     "The connected AliExpress account is disabled. Restore it on AliExpress or connect another account, "
     "then retry."),
    ("A00", "account",
     "AliExpress refused the connected account ({detail}). Check the account on AliExpress (verification, "
     "address book, payment details), then retry."),
    ("isv.insufficient-permission", "account",
     "This app is not allowed to place orders for the connected AliExpress account. Reconnect AliExpress and "
     "accept every permission, then retry."),
    ("isv.invalid-authorization", "account",
     "The connected AliExpress account may not place this order. Reconnect AliExpress, then retry."),
    ("PRICE_PAY_CURRENCY_ERROR", "payment",
     "AliExpress refused the payment currency for this order. Check the currency of the AliExpress account, "
     "then retry."),
    ("ERROR_WHEN_BUILD_FOR_PLACE_ORDER", "product",
     "AliExpress could not build the order: {detail}. Check the product links (product removed or SKU "
     "changed), then retry."),
]
FALLBACK = ("other", "AliExpress refused the order ({code}: {detail}). Fix the cause, then retry.")

TAX_ID_FIELDS = {"BR": "cpf", "CL": "rut_no", "MX": "passport_no"}  # elsewhere: tax_number
# International calling codes, to split "+55 11 9…" into phone_country and mobile_no.
CALLING_CODES = {
    "US": "1", "CA": "1", "GB": "44", "IE": "353", "FR": "33", "DE": "49", "ES": "34", "PT": "351", "IT": "39",
    "NL": "31", "BE": "32", "LU": "352", "CH": "41", "AT": "43", "PL": "48", "CZ": "420", "SE": "46", "NO": "47",
    "DK": "45", "FI": "358", "GR": "30", "RO": "40", "HU": "36", "UA": "380", "TR": "90", "IL": "972",
    "SA": "966", "AE": "971", "IN": "91", "JP": "81", "KR": "82", "SG": "65", "MY": "60", "TH": "66",
    "PH": "63", "ID": "62", "VN": "84", "AU": "61", "NZ": "64", "BR": "55", "MX": "52", "CL": "56", "AR": "54",
    "CO": "57", "PE": "51", "ZA": "27", "NG": "234", "EG": "20", "MA": "212",
}


def refusal(code: str, detail: str) -> tuple[str, str]:
    """(category, sentence) for an AliExpress refusal code."""
    for prefix, category, sentence in REFUSALS:
        if code.startswith(prefix):
            return category, sentence.format(detail=detail or code, code=code)
    category, sentence = FALLBACK
    return category, sentence.format(code=code, detail=detail or "no detail")


# Answers that do not say whether AliExpress created the order.
UNKNOWN_OUTCOME_CODES = frozenset({"EMPTY_ORDER_LIST", "INVALID_RESPONSE"})


def _outcome_unknown(error: AliExpressError) -> bool:
    return (isinstance(error, TRANSIENT_ERRORS) or error.code in UNKNOWN_OUTCOME_CODES
            or (error.error_type or "").upper() in ("ISP", "SYSTEM"))


class PlacementOutcome(StrEnum):
    PLACED = "placed"
    FAILED = "failed"
    SKIPPED = "skipped"
    QUEUED = "queued"  # used by callers that defer work to PlaceOrdersQueue


@dataclass
class PlacementResult:
    order_id: str
    outcome: PlacementOutcome
    reason: str | None = None
    reason_code: str | None = None
    ae_order_ids: list[str] = field(default_factory=list)
    retryable: bool = False  # the outcome is not final: trying again later may place it

    def as_dict(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "outcome": self.outcome.value, "reason": self.reason,
                "reason_code": self.reason_code, "ae_order_ids": self.ae_order_ids}


class AddressProblem(ValueError):
    pass


def out_order_id(shop: str, order_id: str, attempt: int) -> str:
    return f"{shop}-{order_id}-{attempt}"


def split_phone(phone: str | None, country: str) -> tuple[str, str]:
    """(phone_country, mobile_no) from a free-form number."""
    if not phone:
        return "", ""
    international = phone.strip().startswith(("+", "00"))
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("00"):
        digits = digits[2:]
    code = CALLING_CODES.get(country, "")
    if international and code and digits.startswith(code):
        return code, digits[len(code):]
    return code, digits


def logistics_address(order: Order) -> dict[str, str]:
    """The order's shipping address as ds.order.create's logistics_address (empty fields left out)."""
    address = order.shipping_address
    if address is None:
        raise AddressProblem("The order has no shipping address. Add one in the store, then retry.")
    country = (address.country_code or "").strip().upper()
    if len(country) != 2:
        raise AddressProblem("The shipping address has no country. Correct it in the store, then retry.")
    name = (address.name or " ".join(p for p in (address.first_name, address.last_name) if p)).strip()
    phone_country, mobile = split_phone(address.phone or order.customer.phone, country)
    fields = {
        "address": address.address1,
        "address2": address.address2,
        "city": address.city,
        "province": address.province or address.province_code,
        "country": country,
        "zip": address.zip,
        "full_name": name,
        "contact_person": name,
        "mobile_no": mobile,
        "phone_country": phone_country,
        "locale": "en_US",
    }
    if address.tax_id:
        fields[TAX_ID_FIELDS.get(country, "tax_number")] = address.tax_id.strip()
    return {k: v.strip() for k, v in fields.items() if v and v.strip()}


def product_items(order: Order, links: dict[str, Link], default_service: str | None) -> list[dict[str, Any]]:
    """One product item per (product, SKU, shipping service); line items for the same SKU are merged."""
    counts: dict[tuple[str, str, str | None], int] = {}
    for line in order.line_items:
        if line.quantity <= 0 or line.variant_id is None:
            continue
        link = links[line.variant_id]
        key = (link.product_id, link.sku_attr, link.shipping_service or default_service)
        counts[key] = counts.get(key, 0) + line.quantity
    items = []
    for (product_id, sku_attr, service), count in counts.items():
        item: dict[str, Any] = {"product_id": product_id, "product_count": count, "sku_attr": sku_attr}
        if service:
            item["logistics_service_name"] = service
        items.append(item)
    return items


def _attr_key(sku_attr: str) -> tuple[str, ...]:
    # "14:193#Black;5:100014064" and "5:100014064;14:193" name the same SKU: compare property ids only.
    parts = (p.split("#", 1)[0].strip() for p in sku_attr.split(";"))
    return tuple(sorted(p for p in parts if p))


def _held_since(placement: Placement) -> float | None:
    """When the current holder took the claim; None when nobody holds it (released or closed)."""
    marker = placement.request_id
    if marker is None:
        return placement.claimed_at.timestamp()
    if marker.startswith(HELD_PREFIX):
        return float(marker[len(HELD_PREFIX):])
    return None


@dataclass
class Placer:
    orders: OrderRepository
    links: LinkRepository
    accounts: AliExpressAccounts
    shops: ShopRepository
    clock: Callable[[], float] = time.time
    claim_ttl: float = CLAIM_TTL_SECONDS

    # ------------------------------------------------------------ public

    def place(self, shop: str, order_id: str) -> PlacementResult:
        result = self._place(shop, order_id)
        metrics.add_metric(name=f"Placement_{result.outcome.value}", unit=MetricUnit.Count, value=1)
        logger.info("placement", extra={"shop": shop, "order_id": order_id, "outcome": result.outcome.value,
                                        "reason_code": result.reason_code})
        return result

    def retry(self, shop: str, order_id: str) -> Order:
        """A failed order back to awaiting_order (the seller fixed the cause).

        NotFound for an unknown order, Conflict when the order is not failed.
        """
        def change(current: Order | None) -> Order | None:
            if current is None:
                raise NotFound.order(order_id)
            if current.status is not OrderStatus.FAILED:
                raise Conflict(f"only failed orders can be retried; this one is {current.status.value}")
            moved = transition(current, OrderStatus.AWAITING_ORDER, Event.SELLER_RETRY, self._now())
            moved.reason = moved.reason_code = None
            if moved.attention == RECONNECT_ATTENTION:
                moved.attention = None
            return moved

        retried = self.orders.mutate(shop, order_id, change).order
        assert retried is not None
        return retried

    # ------------------------------------------------------------ steps

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _place(self, shop: str, order_id: str) -> PlacementResult:
        order = self.orders.get(shop, order_id)
        if order is None:
            return PlacementResult(order_id, PlacementOutcome.SKIPPED, "order not found", "not_found")
        skip = self._not_placeable(order)
        if skip is not None:
            return skip
        lines = [li for li in order.line_items if li.quantity > 0]
        if not lines:
            return PlacementResult(order_id, PlacementOutcome.SKIPPED, "the order has nothing left to order", "empty")
        variants = [li.variant_id or f"(line item {li.id})" for li in lines]
        links = self.links.batch_get(shop, [li.variant_id for li in lines if li.variant_id])
        missing = [v for v in dict.fromkeys(variants) if v not in links]
        if missing:
            names = ", ".join(missing)
            return self._refuse(order, UNLINKED, f"Link variant {names} to an AliExpress product, then retry.",
                                claimed=None)
        try:
            address = logistics_address(order)
        except AddressProblem as problem:
            return self._refuse(order, NO_ADDRESS, str(problem), claimed=None)
        changed = self._sku_changed(shop, links, address["country"])
        if changed is not None:
            return self._refuse(order, SKU_CHANGED, changed, claimed=None)
        settings = self.shops.get_settings(shop)
        items = product_items(order, links, settings.default_shipping_service if settings else None)

        claimed = self._claim(shop, order_id)
        if isinstance(claimed, PlacementResult):
            return claimed
        try:
            ids = self.accounts.call(shop, lambda client, token: client.create_order(
                token, out_order_id=claimed.out_order_id, logistics_address=address, product_items=items))
        except AliExpressDisconnected:
            self._release(shop, order_id, claimed, attention=RECONNECT_ATTENTION)
            return PlacementResult(order_id, PlacementOutcome.FAILED, RECONNECT_ATTENTION, DISCONNECTED)
        except RepeatedOrderError:
            # AliExpress has an order under this reference but did not give its ids: a person must look.
            note = (f"AliExpress already has an order with reference {claimed.out_order_id} but did not return "
                    "it: find it on AliExpress before doing anything else with this order.")
            self._release(shop, order_id, claimed, attention=note)
            return PlacementResult(order_id, PlacementOutcome.SKIPPED, note, "REPEATED_ORDER_ERROR")
        except AliExpressError as error:
            if not _outcome_unknown(error):
                category, sentence = refusal(error.sub_code or error.code, error.message)
                metrics.add_metric(name=f"PlacementRefused_{category}", unit=MetricUnit.Count, value=1)
                return self._refuse(order, error.sub_code or error.code, sentence, claimed=claimed)
            # Outcome unknown (maybe accepted): keep the reference open; the next try resends the same one.
            self._release(shop, order_id, claimed)
            return PlacementResult(order_id, PlacementOutcome.SKIPPED,
                                   "AliExpress did not answer in time; placing again is safe (same reference).",
                                   error.sub_code or error.code, retryable=True)
        return self._accepted(shop, order_id, claimed, ids)

    def _sku_changed(self, shop: str, links: dict[str, Link], country: str) -> str | None:
        """Re-check links that name their SKU (pushed products, checked links) against a fresh ds.product.get:
        the reason to fail the order when a SKU changed or went, so a wrong item is never ordered. When AliExpress
        does not answer, the order.create that follows meets the same problem and reports it."""
        from shared.aliexpress.errors import BusinessError
        from shared.logic.products.parse import ProductUnavailable, UnreadableProduct, parse_product

        by_product: dict[str, list[Link]] = {}
        for link in links.values():
            if link.sku_id:
                by_product.setdefault(link.product_id, []).append(link)
        for product_id, checked in by_product.items():
            try:
                fresh = parse_product(self._product_result(shop, product_id, country), ship_to=country)
            except (BusinessError, ProductUnavailable) as error:
                code = getattr(error, "code", "UNAVAILABLE")
                if code not in ("605", "EMPTY_RESULT", "UNAVAILABLE") and not isinstance(error, ProductUnavailable):
                    continue
                variants = ", ".join(link.variant_id for link in checked)
                return (f"SKU changed on AliExpress: remap variant {variants} (AliExpress product {product_id} is no "
                        "longer sold), then retry.")
            except (AliExpressError, AliExpressDisconnected, UnreadableProduct):
                return None
            for link in checked:
                sku = fresh.sku(str(link.sku_id))
                if sku is None:
                    return (f"SKU changed on AliExpress: remap variant {link.variant_id} (SKU {link.sku_id} of "
                            f"AliExpress product {product_id} is gone), then retry.")
                if _attr_key(sku.sku_attr) != _attr_key(link.sku_attr):
                    return (f"SKU changed on AliExpress: remap variant {link.variant_id} (SKU {link.sku_id} is now "
                            f"{sku.sku_attr!r}, linked as {link.sku_attr!r}), then retry.")
        return None

    def _product_result(self, shop: str, product_id: str, country: str) -> dict[str, Any]:
        result, _ = self.accounts.call(shop, lambda client, token: client.product_result(token, product_id, country))
        return result

    def _not_placeable(self, order: Order) -> PlacementResult | None:
        oid = order.order_id
        if order.fulfilled_in_store:
            return PlacementResult(oid, PlacementOutcome.SKIPPED, "fulfilled by hand in the store",
                                   "fulfilled_in_store")
        if order.status is not OrderStatus.AWAITING_ORDER:
            if order.aliexpress_placed and order.status is OrderStatus.AWAITING_PAYMENT:
                return PlacementResult(oid, PlacementOutcome.SKIPPED, "already placed on AliExpress", "already_placed",
                                       ae_order_ids=[a.ae_order_id for a in order.ae_orders])
            return PlacementResult(oid, PlacementOutcome.SKIPPED,
                                   f"the order is {order.status.value}, not awaiting_order", "wrong_status")
        return None

    def _claim(self, shop: str, order_id: str) -> Placement | PlacementResult:
        """Take the claim with one conditional write; a PlacementResult when someone else has it."""
        now = self._now()
        verdict: PlacementResult | None = None
        taken: Placement | None = None

        def change(current: Order | None) -> Order | None:
            nonlocal verdict, taken
            verdict, taken = None, None
            if current is None:
                verdict = PlacementResult(order_id, PlacementOutcome.SKIPPED, "order not found", "not_found")
                return None
            verdict = self._not_placeable(current)
            if verdict is not None:
                return None
            previous = current.placement
            if previous is None or previous.request_id == CLOSED:
                attempt = previous.attempt + 1 if previous else 1
                taken = Placement(out_order_id=out_order_id(shop, order_id, attempt), claimed_at=now,
                                  attempt=attempt)
            else:
                held = _held_since(previous)
                if held is not None and now.timestamp() - held < self.claim_ttl:
                    verdict = PlacementResult(order_id, PlacementOutcome.SKIPPED, "being placed by another request",
                                              "in_progress", retryable=True)
                    return None
                if now.timestamp() - previous.claimed_at.timestamp() > DEDUP_WINDOW_SECONDS:
                    verdict = PlacementResult(order_id, PlacementOutcome.SKIPPED, self._unconfirmed_note(previous),
                                              UNCONFIRMED)
                    if current.attention == verdict.reason:
                        return None
                    current.attention = verdict.reason
                    return current
                # Released, or its holder died: resend the SAME reference (AliExpress de-duplicates it).
                taken = previous.model_copy(update={"request_id": f"{HELD_PREFIX}{now.timestamp():.3f}"})
            current.placement = taken
            return current

        self.orders.mutate(shop, order_id, change)
        if taken is not None:
            return taken
        assert verdict is not None
        return verdict

    @staticmethod
    def _unconfirmed_note(placement: Placement) -> str:
        return (f"Placement under reference {placement.out_order_id} was never confirmed and is over 23 hours "
                "old. Check AliExpress for that reference; if there is no order, cancel and re-create it here.")

    def _release(self, shop: str, order_id: str, claimed: Placement, attention: str | None = None) -> None:
        def change(current: Order | None) -> Order | None:
            if current is None or current.placement is None or current.placement.out_order_id != claimed.out_order_id:
                return None
            if current.placement.request_id == CLOSED:
                return None
            current.placement = current.placement.model_copy(update={"request_id": RELEASED})
            if attention:
                current.attention = attention
            return current

        self.orders.mutate(shop, order_id, change)

    def _refuse(self, order: Order, code: str, sentence: str, claimed: Placement | None) -> PlacementResult:
        """→ failed (PLACEMENT_FAILED) with a reason the seller understands; closes the claimed reference."""
        def change(current: Order | None) -> Order | None:
            if current is None:
                return None
            if claimed is None:
                # A local refusal (no call made) must not fail an order someone else is placing right now.
                p = current.placement
                if current.status is not OrderStatus.AWAITING_ORDER or (p is not None and p.request_id != CLOSED):
                    return None
            elif current.placement is None or current.placement.out_order_id != claimed.out_order_id:
                return None
            if claimed is not None and current.placement is not None:
                current.placement = current.placement.model_copy(update={"request_id": CLOSED})
            if current.status is not OrderStatus.AWAITING_ORDER:
                return current  # e.g. cancelled in the store meanwhile: only retire the reference
            moved = transition(current, OrderStatus.FAILED, Event.PLACEMENT_FAILED, self._now())
            moved.reason, moved.reason_code = sentence, code
            if moved.attention == RECONNECT_ATTENTION:
                moved.attention = None
            return moved

        mutation = self.orders.mutate(order.shop, order.order_id, change)
        if not mutation.written:
            return PlacementResult(order.order_id, PlacementOutcome.SKIPPED, "the order changed meanwhile; try again",
                                   "changed", retryable=True)
        return PlacementResult(order.order_id, PlacementOutcome.FAILED, sentence, code)

    def _accepted(self, shop: str, order_id: str, claimed: Placement, ids: list[str]) -> PlacementResult:
        def change(current: Order | None) -> Order | None:
            if current is None:
                return None
            if [a.ae_order_id for a in current.ae_orders] == ids and current.status is not OrderStatus.AWAITING_ORDER:
                return None  # already recorded
            # One AliExpress order covers every line item; with several (one per supplier) sync tells which.
            covered = [li.id for li in current.line_items if li.quantity > 0] if len(ids) == 1 else []
            current.ae_orders = [AeOrder(ae_order_id=str(i), line_item_ids=covered) for i in ids]
            current.placement = claimed.model_copy(update={"request_id": CLOSED})
            if current.attention == RECONNECT_ATTENTION or (current.attention or "").startswith("Placement under"):
                current.attention = None
            if current.status is OrderStatus.AWAITING_ORDER:
                moved = transition(current, OrderStatus.AWAITING_PAYMENT, Event.ORDER_PLACED, self._now())
                moved.reason = moved.reason_code = None
                return moved
            if current.status is OrderStatus.CANCELED:
                current.reason, current.reason_code = CANCEL_AFTER_PLACEMENT, "cancel_on_aliexpress"
            return current

        self.orders.mutate(shop, order_id, change)
        return PlacementResult(order_id, PlacementOutcome.PLACED, ae_order_ids=[str(i) for i in ids])

