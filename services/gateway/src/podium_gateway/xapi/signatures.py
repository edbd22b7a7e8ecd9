"""Signed statements (xAPI 1.0.3 Data 2.6, IEEE 9274.1.1 4.2.6): verify the JWS attachment.

A signed statement carries a JWS (RFC 7515, compact serialisation) as an
attachment with usageType `.../attachments/signature` and contentType
`application/octet-stream`. The LRS rejects with 400 a signature that is
malformed, uses an algorithm other than RS256/RS384/RS512, does not verify
against the X.509 certificate its header names (`x5c`), or whose payload is
not the statement itself (compared by xAPI's equivalence rules, without the
signature attachment the signer could not have included). A signature
referenced by `fileUrl` is stored unverified: the LRS holds no content for it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import jwt
import orjson
from cryptography import x509

from podium_gateway.xapi.attachments import Part
from podium_gateway.xapi.domain import equivalent

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
ALGORITHMS = ("RS256", "RS384", "RS512")


class SignatureError(ValueError):
    """A statement signature that xAPI requires the LRS to refuse."""


def _unsigned(statement: dict[str, Any], signature: dict[str, Any]) -> dict[str, Any]:
    """Return the statement as it was before its signature was attached."""
    unsigned = dict(statement)
    others = [a for a in statement.get("attachments", []) if a is not signature]
    if others:
        unsigned["attachments"] = others
    else:
        unsigned.pop("attachments", None)
    return unsigned


def _payload(token: str) -> Any:
    try:
        _, body, _ = token.split(".")
        return orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise SignatureError("the JWS payload is not a JSON serialisation of a statement") from exc


def _verify_certificate(token: str, header: dict[str, Any], algorithm: str) -> None:
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise SignatureError("x5c must be an array of base64 DER certificates")
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
        jwt.PyJWS().decode(token, key=certificate.public_key(), algorithms=[algorithm])  # type: ignore[arg-type]
    except (ValueError, binascii.Error, jwt.PyJWTError) as exc:
        raise SignatureError(
            f"the signature does not verify with its x5c certificate: {exc}"
        ) from exc


def verify_statement(statement: dict[str, Any], parts: dict[str, Part]) -> None:
    """Raise `SignatureError` unless every signature attachment of `statement` is valid."""
    for attachment in statement.get("attachments") or []:
        if attachment.get("usageType") != SIGNATURE_USAGE:
            continue
        if attachment.get("contentType", "").split(";")[0].strip() != "application/octet-stream":
            raise SignatureError("a signature attachment's contentType is application/octet-stream")
        part = parts.get(str(attachment.get("sha2", "")).lower())
        if part is None:
            continue  # referenced by fileUrl: the LRS holds no content to verify
        try:
            token = part.data.decode("ascii").strip()
            header = jwt.get_unverified_header(token)
        except (UnicodeDecodeError, jwt.PyJWTError) as exc:
            raise SignatureError("the signature is not a JWS in compact serialisation") from exc
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise SignatureError(f"the JWS algorithm must be one of {', '.join(ALGORITHMS)}")
        payload = _payload(token)
        if "x5c" in header:
            _verify_certificate(token, header, algorithm)
        try:
            same = isinstance(payload, dict) and equivalent(
                payload, _unsigned(statement, attachment)
            )
        except (KeyError, TypeError, AttributeError, ValueError):
            same = False
        if not same:
            raise SignatureError("the JWS payload differs from the statement it signs")
