"""Used OAuth states of the AliExpress connect flow: each one is accepted once.

  pk = "SHOP#<shop>", sk = "OAUTHSTATE#<nonce>"   used_at, expires_at (the table's TTL attribute)

The callback records its state with ONE conditional write (`attribute_not_exists(pk)`) before exchanging the
code: the first writer wins, a replay (or a second callback racing the first) finds the item and is refused.
The item outlives the state itself (whose signed expiry refuses it anyway afterwards), then TTL removes it.
An UpdateItem, not a PutItem: the connect function's role may only update items of the table.
"""

from __future__ import annotations

from typing import Any

from shared.data.dynamo import conditional_write
from shared.data.orders import shop_pk

STATE_PREFIX = "OAUTHSTATE#"
KEEP_AFTER_EXPIRY_SECONDS = 24 * 3600  # TTL deletion is lazy; the signed expiry is what refuses late states


class OAuthStateStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    @staticmethod
    def key(shop: str, nonce: str) -> dict[str, str]:
        return {"pk": shop_pk(shop), "sk": f"{STATE_PREFIX}{nonce}"}

    def use(self, shop: str, nonce: str, *, expires_at: int, now: int) -> bool:
        """Record the state as used; True the first time, False when it was used before."""
        return conditional_write(
            self._table.update_item,
            Key=self.key(shop, nonce),
            UpdateExpression="SET used_at = :now, expires_at = :exp, #entity = :entity",
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeNames={"#entity": "entity"},
            ExpressionAttributeValues={":now": now, ":exp": expires_at + KEEP_AFTER_EXPIRY_SECONDS,
                                       ":entity": "oauth_state"},
        )
