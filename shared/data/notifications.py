"""Delivery ledger: the idempotency records of the tracking consumers, beside the shop's orders.

  pk = "SHOP#<shop>", sk = "EMAIL#<order id>#<tracking number>"   one tracking email per package
      status "sending" (claimed, SES not confirmed) -> "sent" (message_id) | "rejected" (error)
  pk = "SHOP#<shop>", sk = "TRY#<kind>#<order id>#<attempt key>"  failed deliveries of one stream record

Every write is one conditional write; the items carry `expires_at` so TTL removes them after the
stream's 24 h replay window has long passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from shared.data.dynamo import condition_failed, conditional_write, from_item
from shared.data.orders import shop_pk

EMAIL_TTL_SECONDS = 90 * 24 * 3600  # far beyond any replay; long enough to answer "was it sent?"
ATTEMPT_TTL_SECONDS = 2 * 24 * 3600

_deserializer = TypeDeserializer()


class EmailStatus:
    SENDING = "sending"
    SENT = "sent"
    REJECTED = "rejected"


@dataclass(frozen=True)
class EmailRecord:
    status: str
    token: str
    claimed_at: str | None = None
    sent_at: str | None = None
    message_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Claim:
    claimed: bool  # True: this caller holds the right to send; False: `existing` says what happened
    existing: EmailRecord | None = None


def email_sk(order_id: str, tracking_number: str) -> str:
    return f"EMAIL#{order_id}#{tracking_number}"


def attempt_sk(kind: str, order_id: str, attempt_key: str) -> str:
    return f"TRY#{kind}#{order_id}#{attempt_key}"


def _record(item: dict[str, Any]) -> EmailRecord:
    data = from_item(item)
    return EmailRecord(status=str(data.get("status")), token=str(data.get("token", "")),
                       claimed_at=data.get("claimed_at"), sent_at=data.get("sent_at"),
                       message_id=data.get("message_id"), error=data.get("error"))


class DeliveryLedger:
    def __init__(self, table: Any, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    # --- one email per package ---------------------------------------------------------------------

    def claim_email(self, shop: str, order_id: str, tracking_number: str, token: str, at: datetime) -> Claim:
        """Take the right to send this package's email: one conditional put (attribute_not_exists).

        On a lost race DynamoDB returns the existing record with the failure, so no extra read.
        """
        item = {"pk": shop_pk(shop), "sk": email_sk(order_id, tracking_number), "entity": "email",
                "status": EmailStatus.SENDING, "token": token, "claimed_at": at.isoformat(),
                "expires_at": int(self._clock()) + EMAIL_TTL_SECONDS}
        try:
            self._table.put_item(Item=item, ConditionExpression=Attr("pk").not_exists(),
                                 ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return Claim(claimed=True)
        except ClientError as error:
            if not condition_failed(error):
                raise
            old = error.response.get("Item")
            if old:
                return Claim(claimed=False, existing=_record({k: _deserializer.deserialize(v) for k, v in old.items()}))
            return Claim(claimed=False, existing=self.get_email(shop, order_id, tracking_number))

    def get_email(self, shop: str, order_id: str, tracking_number: str) -> EmailRecord | None:
        item = self._table.get_item(Key={"pk": shop_pk(shop), "sk": email_sk(order_id, tracking_number)},
                                    ConsistentRead=True).get("Item")
        return _record(item) if item else None

    def mark_email_sent(self, shop: str, order_id: str, tracking_number: str, token: str, message_id: str,
                        at: datetime) -> None:
        self._finish(shop, order_id, tracking_number, token, EmailStatus.SENT,
                     {"sent_at": at.isoformat(), "message_id": message_id})

    def mark_email_rejected(self, shop: str, order_id: str, tracking_number: str, token: str, error: str) -> None:
        self._finish(shop, order_id, tracking_number, token, EmailStatus.REJECTED, {"error": error[:500]})

    def release_email(self, shop: str, order_id: str, tracking_number: str, token: str) -> None:
        """Give the claim back after a failure that surely sent nothing, so a retry may send."""
        conditional_write(self._table.delete_item,
                          Key={"pk": shop_pk(shop), "sk": email_sk(order_id, tracking_number)},
                          ConditionExpression=Attr("token").eq(token) & Attr("status").eq(EmailStatus.SENDING))

    def _finish(self, shop: str, order_id: str, tracking_number: str, token: str, status: str,
                fields: dict[str, Any]) -> None:
        names = {"#status": "status", **{f"#f{i}": name for i, name in enumerate(fields)}}
        values = {":status": status, ":token": token, ":sending": EmailStatus.SENDING,
                  **{f":v{i}": value for i, value in enumerate(fields.values())}}
        sets = ", ".join(["#status = :status", *(f"#f{i} = :v{i}" for i in range(len(fields)))])
        # Only the holder of the claim finishes it (a stale attempt cannot overwrite a newer outcome).
        self._table.update_item(
            Key={"pk": shop_pk(shop), "sk": email_sk(order_id, tracking_number)},
            UpdateExpression=f"SET {sets}",
            ConditionExpression="#token = :token AND #status = :sending",
            ExpressionAttributeNames={**names, "#token": "token"},
            ExpressionAttributeValues=values,
        )

    # --- attempts of one stream record ----------------------------------------------------------------

    def count_failure(self, shop: str, kind: str, order_id: str, attempt_key: str) -> int:
        """Add one failed delivery of a stream record; returns the count so far (ADD is atomic)."""
        response = self._table.update_item(
            Key={"pk": shop_pk(shop), "sk": attempt_sk(kind, order_id, attempt_key)},
            UpdateExpression="ADD #n :one SET #entity = :entity, #exp = if_not_exists(#exp, :exp)",
            ExpressionAttributeNames={"#n": "failures", "#entity": "entity", "#exp": "expires_at"},
            ExpressionAttributeValues={":one": 1, ":entity": "attempts",
                                       ":exp": int(self._clock()) + ATTEMPT_TTL_SECONDS},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["failures"])
