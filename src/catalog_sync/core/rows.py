"""The rules one catalog record must pass: the pydantic model and its field validators.

Each rule says what is wrong and, where it can, what was meant; the messages are what a person
fixing the file reads, so they name the value (an excerpt of it) and the accepted forms.

Every value a row keeps must be sendable as it is: text holds no lone surrogate (it could not be
encoded, hashed or sent) and no control character (Digital River would store it, and names
would carry a NUL into every system downstream), numbers are ASCII decimals and integers fit
the 64-bit range the API stores.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from catalog_sync.core import codes
from catalog_sync.core.problems import excerpt
from catalog_sync.core.textstream import OversizedInteger

#: Digital River's recommendations and limits.
DESCRIPTION_MAX: Final = 1000
METADATA_KEY_MAX: Final = 40
METADATA_VALUE_MAX: Final = 500
#: Metadata integers are stored as 64-bit signed integers.
INTEGER_MIN: Final = -(2**63)
INTEGER_MAX: Final = 2**63 - 1

#: What no sent text may hold: control characters (C0, DEL, C1) and lone surrogates; a field
#: that allows line breaks allows tab, LF and CR. One search per value: rows are many.
_UNSENDABLE: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSENDABLE_MULTILINE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: A weight as people write it: ASCII digits with an optional decimal point, nothing else
#: (``float`` would also take ``1_000``, ``1e3``, ``inf`` and digits of any script).
_DECIMAL: Final = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def _fail(kind: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, message, context)


def _quoted(value: object) -> str:
    """A value as a message quotes it: short and printable."""
    return excerpt(value if isinstance(value, str) else str(value))


def _sendable(text: str, *, multiline: bool = False) -> str:
    """``text`` if it can be encoded and sent as it is, else the problem that says why not."""
    found = (_UNSENDABLE_MULTILINE if multiline else _UNSENDABLE).search(text)
    if found is None:
        return text
    raise _unsendable(found.group(), multiline=multiline)


def _unsendable(char: str, *, multiline: bool) -> PydanticCustomError:
    code = f"U+{ord(char):04X}"
    if "\ud800" <= char <= "\udfff":
        return _fail(
            "surrogate",
            "holds {char}, a lone surrogate that cannot be encoded as UTF-8: "
            "fix the escape in the file",
            char=code,
        )
    allowed = "" if multiline else "; only description may hold tabs and line breaks"
    return _fail("control", "holds the control character {char}" + allowed, char=code)


def unsendable(text: str) -> str | None:
    """Why ``text`` (a name or key, on one line) cannot be sent as it is; ``None`` if it can."""
    try:
        _sendable(text)
    except PydanticCustomError as exc:
        return exc.message()
    return None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _fail("text", "must be a string (quote it in JSON)")
    # The search inlined: this runs for every text cell of every row.
    found = _UNSENDABLE.search(value)
    if found is not None:
        raise _unsendable(found.group(), multiline=False)
    return value


def _multiline_text(value: object) -> str:
    if not isinstance(value, str):
        raise _fail("text", "must be a string (quote it in JSON)")
    return _sendable(value, multiline=True)


def _sku_id(value: object) -> str:
    text = _text(value)
    if not codes.is_valid_id(text):
        raise _fail(
            "sku_id",
            "'{value}' is not a valid SKU id: " + codes.ID_RULES,
            value=_quoted(text),
        )
    return text


def _country(value: object) -> str:
    text = _text(value)
    if codes.is_accepted_country(text):
        return text
    if text in codes.REFUSED_COUNTRIES:
        raise _fail("country", "'{value}' is refused by Digital River", value=_quoted(text))
    hint = codes.suggest_country(text)
    suffix = f"; did you mean '{hint}'?" if hint else ""
    raise _fail(
        "country",
        "'{value}' is not an ISO 3166-1 alpha-2 code" + suffix,
        value=_quoted(text),
    )


def _eccn(value: object) -> str:
    text = _text(value)
    if codes.is_valid_eccn(text):
        return text
    upper = text.upper()
    hint = f"; did you mean '{upper}'?" if codes.is_valid_eccn(upper) else ""
    raise _fail(
        "eccn",
        "'{value}' is not an ECCN: expected EAR99 or e.g. 5A992.c" + hint,
        value=_quoted(text),
    )


def _hs_code(value: object) -> str:
    text = _text(value)
    if not codes.is_valid_hs_code(text):
        raise _fail(
            "hs_code",
            "'{value}' is not an HS code: expected ####.##.#### (6-10 digits)",
            value=_quoted(text),
        )
    return text


def _weight(value: object) -> float:
    number: float | None = None
    number_given = isinstance(value, int | float) and not isinstance(value, bool)
    if number_given or (isinstance(value, str) and _DECIMAL.fullmatch(value)):
        number = float(value)  # type: ignore[arg-type]
    if number is None or not math.isfinite(number) or number <= 0:
        raise _fail(
            "weight",
            "'{value}' is not a positive number: write ASCII digits with an optional "
            "decimal point, e.g. 2.5",
            value=_quoted(value),
        )
    return number


def _weight_unit(value: object) -> str:
    text = _text(value)
    if text not in codes.WEIGHT_UNITS:
        units = ", ".join(sorted(codes.WEIGHT_UNITS))
        raise _fail(
            "weight_unit", "'{value}' is not a weight unit: use " + units, value=_quoted(text)
        )
    return text


_TRUE: Final = frozenset({"true", "yes", "y", "1", "on"})
_FALSE: Final = frozenset({"false", "no", "n", "0", "off"})


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in {0, 1}:
        return bool(value)
    if isinstance(value, str) and value.casefold() in _TRUE | _FALSE:
        return value.casefold() in _TRUE
    raise _fail(
        "boolean",
        "'{value}' is not a boolean: use true/false, yes/no, y/n, 1/0 or on/off",
        value=_quoted(value),
    )


_URL: Final = re.compile(r"^https?://[^\s/?#]+\S*$", re.IGNORECASE)


def _url(value: object) -> str:
    text = _text(value)
    if not _URL.fullmatch(text):
        raise _fail("url", "'{value}' is not an http(s) URL", value=_quoted(text))
    return text


def _metadata_key(value: object) -> str:
    text = _text(value)
    if not 0 < len(text) <= METADATA_KEY_MAX:
        raise _fail("metadata_key", f"key must be 1 to {METADATA_KEY_MAX} characters")
    return text


def _metadata_value(value: object) -> str | bool | int:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INTEGER_MIN <= value <= INTEGER_MAX:
            raise _fail("metadata_integer", f"integer out of range {INTEGER_MIN} to {INTEGER_MAX}")
        return value
    if isinstance(value, OversizedInteger):
        raise _fail(
            "metadata_integer",
            "{value} is out of range " + f"{INTEGER_MIN} to {INTEGER_MAX}",
            value=str(value),
        )
    if isinstance(value, str) and len(value) <= METADATA_VALUE_MAX:
        return _text(value)
    raise _fail("metadata_value", f"must be a string of at most {METADATA_VALUE_MAX} characters")


Text = Annotated[str, PlainValidator(_text)]
MultilineText = Annotated[str, PlainValidator(_multiline_text)]
Url = Annotated[str, PlainValidator(_url)]
Metadata = dict[
    Annotated[str, PlainValidator(_metadata_key)],
    Annotated[str | bool | int, PlainValidator(_metadata_value)],
]


class CatalogRow(BaseModel):
    """One catalog record; attribute aliases are the API's field names.

    Field order matters: the rules that depend on another field (``taxCode`` needs
    ``skuGroupId``, ``weightUnit`` needs ``weight``) run after that field.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, PlainValidator(_sku_id)]
    name: Text
    sku_group_id: Text | None = Field(None, alias="skuGroupId")
    tax_code: Text | None = Field(None, alias="taxCode", validate_default=True)
    eccn: Annotated[str, PlainValidator(_eccn)] | None = Field(None, validate_default=True)
    country_of_origin: Annotated[str, PlainValidator(_country)] | None = Field(
        None, alias="countryOfOrigin", validate_default=True
    )
    hs_code: Annotated[str, PlainValidator(_hs_code)] | None = Field(None, alias="hsCode")
    part_number: Text | None = Field(None, alias="partNumber")
    manufacturer_id: Text | None = Field(None, alias="manufacturerId")
    description: MultilineText | None = None
    weight: Annotated[float, PlainValidator(_weight)] | None = None
    weight_unit: Annotated[str, PlainValidator(_weight_unit)] | None = Field(
        None, alias="weightUnit", validate_default=True
    )
    allow_oversell: Annotated[bool, PlainValidator(_flag)] | None = Field(
        None, alias="allowOversell"
    )
    image: Url | None = None
    url: Url | None = None
    item_breadcrumb: Text | None = Field(None, alias="itemBreadcrumb")
    metadata: Metadata | None = None

    @field_validator("tax_code", "eccn", "country_of_origin")
    @classmethod
    def _required_without_group(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A SKU group may supply these; otherwise the API requires them."""
        if value is None and "sku_group_id" in info.data and info.data["sku_group_id"] is None:
            raise _fail("missing_unless_group", "required unless skuGroupId is set")
        return value

    @field_validator("weight_unit")
    @classmethod
    def _unit_with_weight(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The API silently assumes ounces for a bare weight; a catalog must say what it means."""
        if "weight" not in info.data:
            return value
        if info.data["weight"] is not None and value is None:
            raise _fail("unit_missing", "required when weight is given (the API would assume oz)")
        if info.data["weight"] is None and value is not None:
            raise _fail("unit_alone", "given without a weight")
        return value
