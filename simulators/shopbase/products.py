"""The simulated ShopBase products API (product import, issue 12), read independently of the app's client.

CONFIRMED (ShopBase docs and code that calls it): `POST /admin/products.json` with title, options, variants
(prices as strings), images, answered **200** (not 201) with `product.id`, `.handle`, `.title`;
`PUT /admin/products/{id}.json` updates the title, adds or reorders images, publishes or hides
(`published`); at most 500 variants per product (the whole product is refused over it) and 500 images.
UNCONFIRMED (Shopify-shaped): at most 3 options; `body_html`, `vendor`, `tags`, `handle`; variant fields
`sku`, `compare_at_price`, `inventory_quantity`, `inventory_management`; `GET /admin/products.json?handle=`
and `PUT /admin/variants/{id}.json`; a taken handle gets "-1", "-2" appended.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from simulators.shopbase.orders import iso

MAX_VARIANTS = 500  # CONFIRMED
MAX_IMAGES = 500  # CONFIRMED
MAX_OPTIONS = 3  # UNCONFIRMED (Shopify's)
MAX_PAGE_LIMIT = 250

PRODUCT_IDS_START = 1_000_000_406_421_124  # real ids look like this (a Playwright test against a dev shop)


class ProductError(Exception):
    """An answer other than 2xx: status and the `errors` body."""

    def __init__(self, status: int, errors: Any) -> None:
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = errors


def _invalid(field: str, message: str) -> ProductError:
    return ProductError(422, {field: [message]})


def id_counters() -> dict[str, Iterator[int]]:
    return {"product": itertools.count(PRODUCT_IDS_START), "variant": itertools.count(2_000_000_501_000_001),
            "image": itertools.count(3_000_000_601_000_001)}


def _now() -> str:
    return iso(datetime.now(UTC).replace(microsecond=0))


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:200] or "product"


def _price(value: Any, field: str, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise _invalid(field, "can't be blank")
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _invalid(field, "is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise _invalid(field, "must be greater than or equal to 0")
    return str(amount.quantize(Decimal("0.01")))


def _envelope(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping) or not isinstance(body.get("product"), Mapping):
        raise ProductError(400, {"product": ["Required parameter missing or invalid"]})
    inner: Mapping[str, Any] = body["product"]
    return inner


class ProductCatalog:
    """One shop's products. Not locked: the simulator's state lock is held around every call."""

    def __init__(self, ids: dict[str, Iterator[int]]) -> None:
        self._ids = ids
        self.products: dict[int, dict[str, Any]] = {}
        self.created = 0  # successful creates (what idempotency tests count)

    # ------------------------------------------------------------------ create

    def create(self, body: Any) -> dict[str, Any]:
        spec = _envelope(body)
        title = str(spec.get("title") or "").strip()
        if not title:
            raise _invalid("title", "can't be blank")
        options = self._options(spec.get("options"))
        variants_in = spec.get("variants") or [{}]
        if not isinstance(variants_in, list):
            raise _invalid("variants", "must be a list")
        if len(variants_in) > MAX_VARIANTS:
            raise _invalid("variants", f"Product can't have more than {MAX_VARIANTS} variants "
                                       f"({len(variants_in)} given)")
        images_in = spec.get("images") or []
        if not isinstance(images_in, list):
            raise _invalid("images", "must be a list")
        if len(images_in) > MAX_IMAGES:
            raise _invalid("images", f"Product can't have more than {MAX_IMAGES} images ({len(images_in)} given)")
        product_id = next(self._ids["product"])
        now = _now()
        published = spec.get("published", True) is not False
        product: dict[str, Any] = {
            "id": product_id,
            "title": title[:255],
            "handle": self._unique_handle(str(spec.get("handle") or "").strip() or _slug(title)),
            "body_html": str(spec.get("body_html") or ""),
            "vendor": str(spec.get("vendor") or ""),
            "product_type": str(spec.get("product_type") or ""),
            "tags": str(spec.get("tags") or ""),
            "published": published,
            "published_at": now if published else None,
            "created_at": now,
            "updated_at": now,
            "options": [{"id": n + 1, "name": o["name"], "position": n + 1, "values": o["values"]}
                        for n, o in enumerate(options)],
            "images": [],
            "variants": [],
        }
        product["images"] = [self._image(product_id, image, n + 1) for n, image in enumerate(images_in)]
        seen: set[tuple[str, ...]] = set()
        for n, spec_variant in enumerate(variants_in):
            variant = self._variant(product_id, spec_variant, options, n + 1)
            combo = tuple(variant.get(f"option{i + 1}") or "" for i in range(len(options)))
            if combo in seen:
                raise _invalid("variants", f"The variant '{' / '.join(combo)}' already exists")
            seen.add(combo)
            product["variants"].append(variant)
        self.products[product_id] = product
        self.created += 1
        return {"product": copy.deepcopy(product)}

    @staticmethod
    def _options(raw: Any) -> list[dict[str, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise _invalid("options", "must be a list")
        if len(raw) > MAX_OPTIONS:
            raise _invalid("options", f"Product can't have more than {MAX_OPTIONS} options")
        options: list[dict[str, Any]] = []
        for option in raw:
            if not isinstance(option, Mapping) or not str(option.get("name") or "").strip():
                raise _invalid("options", "name can't be blank")
            values = [str(v) for v in option.get("values") or []]
            if len(set(values)) != len(values):
                raise _invalid("options", f"{option['name']} has duplicate values")
            options.append({"name": str(option["name"]).strip(), "values": values})
        names = [o["name"].lower() for o in options]
        if len(set(names)) != len(names):
            raise _invalid("options", "option names must be unique")
        return options

    def _variant(self, product_id: int, spec: Any, options: list[dict[str, Any]], position: int) -> dict[str, Any]:
        if not isinstance(spec, Mapping):
            raise _invalid("variants", "must be objects")
        variant: dict[str, Any] = {
            "id": next(self._ids["variant"]),
            "product_id": product_id,
            "title": "",
            "position": position,
            "sku": str(spec.get("sku") or ""),
            "price": _price(spec.get("price", "0"), "variants.price", required=True),
            "compare_at_price": _price(spec.get("compare_at_price"), "variants.compare_at_price", required=False),
            "inventory_quantity": int(spec.get("inventory_quantity") or 0),
            "inventory_management": spec.get("inventory_management"),
            "inventory_policy": str(spec.get("inventory_policy") or "deny"),
            "grams": int(spec.get("grams") or 0),
            "barcode": spec.get("barcode"),
        }
        values = []
        for i in range(MAX_OPTIONS):
            key = f"option{i + 1}"
            value = spec.get(key)
            if i < len(options):
                if value is None or str(value) not in options[i]["values"]:
                    raise _invalid("variants", f"{key} {value!r} is not a value of option {options[i]['name']}")
                values.append(str(value))
                variant[key] = str(value)
            elif value not in (None, ""):
                raise _invalid("variants", f"{key} given but the product has {len(options)} option(s)")
            else:
                variant[key] = None
        variant["title"] = " / ".join(values) or "Default Title"
        return variant

    def _image(self, product_id: int, spec: Any, position: int) -> dict[str, Any]:
        if not isinstance(spec, Mapping) or not str(spec.get("src") or "").startswith(("http://", "https://")):
            raise _invalid("images", "src must be an http(s) URL")
        return {"id": next(self._ids["image"]), "product_id": product_id, "position": position,
                "src": str(spec["src"]), "alt": spec.get("alt")}

    def _unique_handle(self, handle: str) -> str:
        taken = {p["handle"] for p in self.products.values()}
        if handle not in taken:
            return handle
        for n in itertools.count(1):
            if f"{handle}-{n}" not in taken:
                return f"{handle}-{n}"
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ read

    def get(self, product_id: int) -> dict[str, Any]:
        product = self.products.get(int(product_id))
        if product is None:
            raise ProductError(404, "Not Found")
        return {"product": copy.deepcopy(product)}

    def list_products(self, query: Mapping[str, str]) -> dict[str, Any]:
        try:
            limit = min(MAX_PAGE_LIMIT, max(1, int(query.get("limit", "50"))))
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            raise ProductError(400, {"limit": ["must be a number"]}) from None
        found = sorted(self.products.values(), key=lambda p: p["id"])
        if query.get("handle"):
            found = [p for p in found if p["handle"] == query["handle"]]
        if query.get("ids"):
            wanted = {int(x) for x in query["ids"].split(",") if x.strip().isdigit()}
            found = [p for p in found if p["id"] in wanted]
        start = (page - 1) * limit
        return {"products": copy.deepcopy(found[start:start + limit])}

    # ------------------------------------------------------------------ update

    def update(self, product_id: int, body: Any) -> dict[str, Any]:
        spec = _envelope(body)
        product = self.products.get(int(product_id))
        if product is None:
            raise ProductError(404, "Not Found")
        if "id" in spec and int(spec["id"]) != product["id"]:
            raise _invalid("id", "does not match the URL")
        changed = copy.deepcopy(product)
        for field in ("title", "body_html", "vendor", "product_type", "tags"):
            if field in spec:
                changed[field] = str(spec[field] or "")
        if not changed["title"].strip():
            raise _invalid("title", "can't be blank")
        if "published" in spec:
            changed["published"] = bool(spec["published"])
            changed["published_at"] = _now() if changed["published"] else None
        if "images" in spec:
            changed["images"] = self._updated_images(changed, spec["images"])
        if "variants" in spec:
            by_id = {v["id"]: v for v in changed["variants"]}
            for update in spec["variants"] or []:
                variant = by_id.get(int(update.get("id") or 0)) if isinstance(update, Mapping) else None
                if variant is None:
                    raise _invalid("variants", "each variant to update needs the id of one of this product's")
                self._apply_variant(variant, update)
        changed["updated_at"] = _now()
        self.products[product["id"]] = changed
        return {"product": copy.deepcopy(changed)}

    def _updated_images(self, product: dict[str, Any], images: Any) -> list[dict[str, Any]]:
        if not isinstance(images, list):
            raise _invalid("images", "must be a list")
        if len(images) > MAX_IMAGES:
            raise _invalid("images", f"Product can't have more than {MAX_IMAGES} images")
        current = {image["id"]: image for image in product["images"]}
        out = []
        for n, spec in enumerate(images):
            if isinstance(spec, Mapping) and spec.get("id") is not None:
                image = current.get(int(spec["id"]))
                if image is None:
                    raise _invalid("images", f"image {spec['id']} is not this product's")
                out.append({**image, "position": int(spec.get("position") or n + 1)})
            else:
                out.append(self._image(product["id"], spec, n + 1))
        return sorted(out, key=lambda image: image["position"])

    @staticmethod
    def _apply_variant(variant: dict[str, Any], update: Mapping[str, Any]) -> None:
        if "price" in update:
            variant["price"] = _price(update["price"], "variants.price", required=True)
        if "compare_at_price" in update:
            variant["compare_at_price"] = _price(update["compare_at_price"], "variants.compare_at_price",
                                                 required=False)
        if "inventory_quantity" in update:
            variant["inventory_quantity"] = int(update["inventory_quantity"] or 0)
        if "sku" in update:
            variant["sku"] = str(update["sku"] or "")

    def update_variant(self, variant_id: int, body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping) or not isinstance(body.get("variant"), Mapping):
            raise ProductError(400, {"variant": ["Required parameter missing or invalid"]})
        for product in self.products.values():
            for variant in product["variants"]:
                if variant["id"] == int(variant_id):
                    self._apply_variant(variant, body["variant"])
                    product["updated_at"] = _now()
                    return {"variant": copy.deepcopy(variant)}
        raise ProductError(404, "Not Found")

    def delete(self, product_id: int) -> dict[str, Any]:
        if self.products.pop(int(product_id), None) is None:
            raise ProductError(404, "Not Found")
        return {}
