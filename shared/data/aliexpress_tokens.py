"""Per-shop AliExpress OAuth tokens in Secrets Manager: secret "<ALIEXPRESS_TOKEN_PREFIX><shop>".

Read straight from Secrets Manager (no Powertools cache): AliExpressAccounts keeps its own in-memory copy
until near expiry, and after a refresh elsewhere it must see the new pair at once.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, SecretStr


class StoredToken(BaseModel):
    """One shop's token pair; expiries in epoch milliseconds (as AliExpress gives them)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr
    expire_time: int  # access token expiry, epoch ms
    refresh_token_valid_time: int | None = None  # epoch ms; None when AliExpress did not say
    user_id: str | None = None
    account: str | None = None
    updated_at: int = 0  # epoch ms of the write, to tell a newer pair from ours

    def dump(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["access_token"] = self.access_token.get_secret_value()
        data["refresh_token"] = self.refresh_token.get_secret_value()
        return data


class AliExpressTokenStore:
    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def name(self, shop: str) -> str:
        return f"{self._prefix}{shop}"

    def get(self, shop: str) -> StoredToken | None:
        try:
            raw = self._client.get_secret_value(SecretId=self.name(shop))["SecretString"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        return StoredToken.model_validate(json.loads(raw))

    def put(self, shop: str, token: StoredToken) -> None:
        body = json.dumps(token.dump())
        try:
            self._client.put_secret_value(SecretId=self.name(shop), SecretString=body)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            try:
                self._client.create_secret(Name=self.name(shop), SecretString=body,
                                           Description="AliExpress OAuth tokens of one shop")
            except ClientError as race:
                # Two first connections at once: the other created it, so write a new version over it.
                if race.response["Error"]["Code"] != "ResourceExistsException":
                    raise
                self._client.put_secret_value(SecretId=self.name(shop), SecretString=body)
