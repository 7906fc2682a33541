"""Edits before push, by the names the seller sees; refused as a whole (Invalid naming the field) when they
name something the product does not have or would leave nothing to sell, so nothing is written."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from shared.logic.products.listing import option_name, value_key, value_name
from shared.logic.products.sanitize import clean_description
from shared.models.errors import Invalid
from shared.models.product import DraftEdits, ImportedProduct, SupplierOption


class EditRequest(BaseModel):
    """PATCH body. Options and values are named as shown (after earlier renames) or as AliExpress names them."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=255)
    description_html: str | None = Field(default=None, max_length=100_000)
    images: list[str] | None = Field(default=None, max_length=600)  # URLs of the product's images, in order
    rename_options: dict[str, str] = Field(default_factory=dict)
    rename_values: dict[str, dict[str, str]] = Field(default_factory=dict)
    remove_values: dict[str, list[str]] = Field(default_factory=dict)
    restore_values: dict[str, list[str]] = Field(default_factory=dict)
    drop_options: dict[str, str | None] = Field(default_factory=dict)  # option -> the one value kept (None: first)
    restore_options: list[str] = Field(default_factory=list)
    prices: dict[str, Decimal | None] = Field(default_factory=dict)  # sku id -> price (None: back to the rules)
    shipping_service: str | None = Field(default=None, min_length=1, max_length=128)


def _option(product: ImportedProduct, name: str, field: str) -> SupplierOption:
    wanted = name.strip().lower()
    for option in product.supplier.options:
        if wanted in (option.name.lower(), option_name(product, option).lower()):
            return option
    known = ", ".join(option_name(product, o) for o in product.supplier.options) or "none"
    raise Invalid(f"the product has no option {name!r} (its options: {known})", field=field)


def _value_id(product: ImportedProduct, option: SupplierOption, name: str, field: str) -> str:
    wanted = name.strip().lower()
    for value in option.values:
        shown = value_name(product, option.property_id, value.value_id)
        if wanted in (value.name.lower(), shown.lower(), (value.standard_name or "").lower(), value.value_id):
            return value.value_id
    known = ", ".join(value_name(product, option.property_id, v.value_id) for v in option.values)
    raise Invalid(f"option {option_name(product, option)!r} has no value {name!r} (its values: {known})",
                  field=field)


def apply_edits(product: ImportedProduct, request: EditRequest) -> DraftEdits:
    """The product's edits with `request` applied (the product itself is not changed)."""
    edits = product.edits.model_copy(deep=True)
    original = product
    product = product.model_copy(update={"edits": edits})  # names resolve against the edits made so far
    if request.title is not None:
        edits.title = request.title.strip()
        if not edits.title:
            raise Invalid("the title cannot be blank", field="title")
    if request.description_html is not None:
        edits.description_html = clean_description(request.description_html)
    if request.images is not None:
        known = set(product.supplier.images) | {v.image for o in product.supplier.options for v in o.values
                                                if v.image}
        unknown = [u for u in request.images if u not in known]
        if unknown:
            raise Invalid(f"{unknown[0][:100]} is not one of this product's images", field="images")
        edits.images = list(dict.fromkeys(request.images))
    for name, new in request.rename_options.items():
        option = _option(product, name, "rename_options")
        if not new.strip() or len(new) > 255:
            raise Invalid(f"the new name of option {name!r} must be 1 to 255 characters", field="rename_options")
        edits.option_names[option.property_id] = new.strip()
    for name, renames in request.rename_values.items():
        option = _option(product, name, "rename_values")
        for old, new in renames.items():
            if not new.strip() or len(new) > 255:
                raise Invalid(f"the new name of {old!r} must be 1 to 255 characters", field="rename_values")
            edits.value_names[value_key(option.property_id, _value_id(product, option, old, "rename_values"))] = \
                new.strip()
    for name, values in request.remove_values.items():
        option = _option(product, name, "remove_values")
        for value in values:
            key = value_key(option.property_id, _value_id(product, option, value, "remove_values"))
            if key not in edits.dropped_values:
                edits.dropped_values.append(key)
    for name, values in request.restore_values.items():
        option = _option(product, name, "restore_values")
        for value in values:
            key = value_key(option.property_id, _value_id(product, option, value, "restore_values"))
            edits.dropped_values = [k for k in edits.dropped_values if k != key]
    for name, keep in request.drop_options.items():
        option = _option(product, name, "drop_options")
        kept = _value_id(product, option, keep, "drop_options") if keep else option.values[0].value_id
        edits.dropped_options[option.property_id] = kept
    for name in request.restore_options:
        edits.dropped_options.pop(_option(product, name, "restore_options").property_id, None)
    for sku_id, price in request.prices.items():
        if product.supplier.sku(sku_id) is None:
            raise Invalid(f"the product has no SKU {sku_id[:40]!r}", field="prices")
        if price is None:
            edits.prices.pop(sku_id, None)
        elif price <= 0 or price.as_tuple().exponent < -2:  # type: ignore[operator]
            raise Invalid(f"the price of SKU {sku_id} must be above 0 with at most 2 decimals", field="prices")
        else:
            edits.prices[sku_id] = price
    if request.shipping_service is not None:
        edits.shipping_service = request.shipping_service.strip()
    _check_names(original, edits)
    return edits


def _check_names(product: ImportedProduct, edits: DraftEdits) -> None:
    preview = product.model_copy(update={"edits": edits})
    kept = [o for o in product.supplier.options if o.property_id not in edits.dropped_options]
    names = [option_name(preview, o).lower() for o in kept]
    if len(set(names)) != len(names):
        raise Invalid("two options would have the same name", field="rename_options")
    for option in kept:
        shown = [value_name(preview, option.property_id, v.value_id).lower() for v in option.values
                 if value_key(option.property_id, v.value_id) not in edits.dropped_values]
        if not shown:
            raise Invalid(f"every value of option {option_name(preview, option)!r} would be removed: keep one, or "
                          "drop the option", field="remove_values")
        if len(set(shown)) != len(shown):
            raise Invalid(f"two values of option {option_name(preview, option)!r} would have the same name",
                          field="rename_values")
