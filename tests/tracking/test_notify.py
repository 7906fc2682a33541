"""notify_customer through the stream: SES under moto, the idempotency ledger, failures recorded on the order."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from shared import wiring
from shared.data.mail import SesMailer, ses_client
from shared.data.notifications import EmailStatus
from shared.models.shop import ShopSettings
from simulators.shopbase.server import ShopBaseSimulator
from tests.tracking.conftest import (
    SENDER,
    SHOP,
    all_lines,
    our_order,
    package,
    save,
    sent_emails,
    ship,
    store_order,
)
from tests.tracking.streams import Mapping, StreamTap, pump


def _stored(order_id: str) -> Any:
    found = wiring.orders().get(SHOP, order_id)
    assert found is not None
    return found


def test_email_per_package_with_its_items_carrier_and_link(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                          push: Mapping, notify: Mapping) -> None:
    store = store_order(sim, n_items=2)
    (a_id, a_qty), (b_id, b_qty) = all_lines(store)
    order = save(our_order(store))
    ship(order.order_id, package("YT000000001001", [(a_id, a_qty)], url="https://track.example/YT1001"),
         package("LP000000001002", [(b_id, b_qty)], carrier="China Post"))
    pump(tap, push, notify)
    mails = sent_emails()
    assert len(mails) == 2
    titles = {li["id"]: li["title"] for li in store["line_items"]}
    by_number = {("YT000000001001" if "YT000000001001" in m.body else "LP000000001002"): m for m in mails}
    first, second = by_number["YT000000001001"], by_number["LP000000001002"]
    assert first.source == SENDER and first.destinations["ToAddresses"] == [store["email"]]
    assert order.name and order.name in first.subject
    assert 'href="https://track.example/YT1001"' in first.body and "YunExpress" in first.body
    assert titles[int(a_id)] in first.body or titles[int(a_id)].replace("&", "&amp;") in first.body
    assert "China Post" in second.body and "https://t.17track.net/en#nums=LP000000001002" in second.body
    stored = _stored(order.order_id)
    assert all(p.notified_at is not None and p.notify_error is None for p in stored.packages)
    record = wiring.delivery_ledger().get_email(SHOP, order.order_id, "YT000000001001")
    assert record is not None and record.status == EmailStatus.SENT and record.message_id


def test_shop_switched_our_email_off(env: None, sim: ShopBaseSimulator, tap: StreamTap, push: Mapping,
                                     notify: Mapping) -> None:
    wiring.shops().update_settings(SHOP, send_tracking_email=False)
    store = store_order(sim, n_items=1)
    order = save(our_order(store))
    ship(order.order_id, package("YT000000002001", all_lines(store)))
    pump(tap, push, notify)
    assert sent_emails() == []
    stored = _stored(order.order_id)
    assert stored.packages[0].notified_at is None and "off" in (stored.packages[0].notify_error or "")


def test_rejected_address_is_recorded_not_retried(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                  push: Mapping, notify: Mapping) -> None:
    store = store_order(sim, n_items=1)
    order = save(our_order(store))

    def reject(params: dict[str, Any], **_: Any) -> None:
        raise ClientError({"Error": {"Code": "MessageRejected", "Message": "Address blacklisted."}}, "SendEmail")

    wiring.mailer().client.meta.events.register("before-call.ses.SendEmail", reject)
    ship(order.order_id, package("YT000000003001", all_lines(store)))
    pump(tap, push, notify)
    stored = _stored(order.order_id)
    assert "MessageRejected" in (stored.packages[0].notify_error or "")
    assert notify.function_errors == 0 and notify.on_failure == []
    record = wiring.delivery_ledger().get_email(SHOP, order.order_id, "YT000000003001")
    assert record is not None and record.status == EmailStatus.REJECTED


def test_ses_failures_that_sent_nothing_are_retried_to_exactly_one(env: None, sim: ShopBaseSimulator,
                                                                   tap: StreamTap, push: Mapping,
                                                                   notify: Mapping) -> None:
    store = store_order(sim, n_items=1)
    order = save(our_order(store))
    failures = iter([("ServiceUnavailable", 503), ("Throttling", 400), ("Throttling", 400), ("Throttling", 400)])

    def flaky(params: dict[str, Any], **_: Any) -> None:
        code = next(failures, None)
        if code is not None:
            raise ClientError({"Error": {"Code": code[0], "Message": "try later"},
                               "ResponseMetadata": {"HTTPStatusCode": code[1]}}, "SendEmail")

    wiring.override("mailer", SesMailer(ses_client(), sleep=lambda _: None))
    wiring.mailer().client.meta.events.register("before-call.ses.SendEmail", flaky)
    ship(order.order_id, package("YT000000004001", all_lines(store)))
    pump(tap, push, notify)
    assert len(sent_emails()) == 1
    assert _stored(order.order_id).packages[0].notified_at is not None
    assert notify.invocations >= 3 and notify.on_failure == []


def test_crash_between_send_and_mark_never_sends_twice(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                       push: Mapping, notify: Mapping) -> None:
    """At-most-once: the claim stays "sending"; the retry does not send again and says so on the order."""
    store = store_order(sim, n_items=1)
    order = save(our_order(store))
    crashed: list[bool] = []

    def crash_on_mark(params: dict[str, Any], **_: Any) -> None:
        body = json.loads(params.get("body") or b"{}")
        if body.get("Key", {}).get("sk", {}).get("S", "").startswith("EMAIL#") and not crashed:
            crashed.append(True)
            raise RuntimeError("Lambda died here")

    # The ledger's UpdateItem that marks the claim "sent" fails once, after SES accepted the email.
    wiring.delivery_ledger()._table.meta.client.meta.events.register("before-call.dynamodb.UpdateItem", crash_on_mark)
    ship(order.order_id, package("YT000000005001", all_lines(store)))
    pump(tap, push, notify)
    assert crashed and len(sent_emails()) == 1
    stored = _stored(order.order_id)
    assert stored.packages[0].notified_at is None
    assert "not confirmed" in (stored.packages[0].notify_error or "")
    assert notify.on_failure == []


def test_without_customer_email_or_sender(env: None, sim: ShopBaseSimulator, tap: StreamTap, push: Mapping,
                                          notify: Mapping) -> None:
    store = store_order(sim, n_items=1)
    draft = our_order(store)
    draft.customer.email = None
    order = save(draft)
    ship(order.order_id, package("YT000000006001", all_lines(store)))
    pump(tap, push, notify)
    assert sent_emails() == []
    assert "no customer email" in (_stored(order.order_id).packages[0].notify_error or "")


def test_unverified_sender_is_a_rejection(env: None, sim: ShopBaseSimulator, tap: StreamTap, push: Mapping,
                                          notify: Mapping) -> None:
    wiring.shops().update_settings(SHOP, sender_email="noreply@unverified.example.net")
    store = store_order(sim, n_items=1)
    order = save(our_order(store))
    ship(order.order_id, package("YT000000007001", all_lines(store)))
    pump(tap, push, notify)
    assert sent_emails() == []
    assert "not verified" in (_stored(order.order_id).packages[0].notify_error or "")
    assert boto3.client("ses").list_identities()["Identities"]  # the shop's own domain stays verified


def test_ses_down_gives_up_with_the_reason_on_the_package(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                           push: Mapping, notify: Mapping) -> None:
    store = store_order(sim, n_items=1)
    order = save(our_order(store))

    def down(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"},
                           "ResponseMetadata": {"HTTPStatusCode": 503}}, "SendEmail")

    wiring.mailer().client.meta.events.register("before-call.ses.SendEmail", down)
    ship(order.order_id, package("YT000000008001", all_lines(store)))
    pump(tap, push, notify)
    stored = _stored(order.order_id)
    assert "kept failing" in (stored.packages[0].notify_error or "")
    assert sent_emails() == [] and notify.on_failure == []
    # The claim was given back each time (nothing was sent), so nothing blocks a later resend.
    assert wiring.delivery_ledger().get_email(SHOP, order.order_id, "YT000000008001") is None


# ---------------------------------------------------------------- issue 10, item 2: one channel per package


def _one_channel_per_package(sim: ShopBaseSimulator, tap: StreamTap, push: Mapping, notify: Mapping) -> None:
    store = store_order(sim, n_items=2)
    (a_id, a_qty), (b_id, b_qty) = all_lines(store)
    order = save(our_order(store))
    ship(order.order_id, package("YT000000009001", [(a_id, a_qty)]), package("YT000000009002", [(b_id, b_qty)]))
    pump(tap, push, notify)
    # Our branded email: one per package; ShopBase asked not to send its own.
    assert len(sent_emails()) == 2
    created = [n for n in sim.notifications(SHOP) if n["event"] == "fulfillment_created"]
    assert len(created) == 2 and all(n["notify_customer"] is False for n in created)


def test_by_default_the_customer_hears_once_per_package(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                        push: Mapping, notify: Mapping) -> None:
    wiring.shops().put_settings(ShopSettings(shop=SHOP, sender_email=SENDER))  # nothing chosen: the defaults
    settings = wiring.shops().get_settings(SHOP)
    assert settings is not None and settings.send_tracking_email and not settings.notify_customer
    _one_channel_per_package(sim, tap, push, notify)


def test_stored_settings_with_both_channels_on_use_ours_only(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                             push: Mapping, notify: Mapping) -> None:
    # Saved before the channels were exclusive (both were on by default), never confirmed.
    wiring.shops().update_settings(SHOP, notify_customer=True, send_tracking_email=True)
    settings = wiring.shops().get_settings(SHOP)
    assert settings is not None and settings.send_tracking_email and not settings.notify_customer
    _one_channel_per_package(sim, tap, push, notify)


def test_both_channels_when_the_seller_confirmed_them(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                      push: Mapping, notify: Mapping) -> None:
    wiring.shops().update_settings(SHOP, notify_customer=True, send_tracking_email=True, both_channels=True)
    store = store_order(sim, n_items=1)
    order = save(our_order(store))
    ship(order.order_id, package("YT000000009101", all_lines(store)))
    pump(tap, push, notify)
    assert len(sent_emails()) == 1
    assert [n["notify_customer"] for n in sim.notifications(SHOP) if n["event"] == "fulfillment_created"] == [True]


def test_four_dynamodb_calls_per_email(env: None, sim: ShopBaseSimulator, tap: StreamTap, push: Mapping,
                                       notify: Mapping) -> None:
    """Issue 11, counted through moto: one email costs the order's read, the claim, its mark as sent and the
    order's write (the shop's settings come from the consumer's cache)."""
    from tests.tracking.test_push import DynamoCalls

    store = store_order(sim, n_items=1)
    order = save(our_order(store))
    ship(order.order_id, package("YT000000009001", all_lines(store)))
    push.deliver(tap.read())  # pushed: the stream now carries the change that makes the email pending
    wiring.cached_shop_settings().get_settings(SHOP)
    records = tap.read()
    calls = DynamoCalls()
    client = wiring.table().meta.client
    client.meta.events.register("before-call.dynamodb", calls)
    try:
        notify.deliver(records)
    finally:
        client.meta.events.unregister("before-call.dynamodb", calls)
    assert len(sent_emails()) == 1
    assert len(calls.names) == 4 and calls.names[0] == "GetItem" and calls.names[-1] == "PutItem", calls.names
