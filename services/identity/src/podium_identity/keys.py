"""RS256 signing keys: loading, rotation, JWKS and access tokens (SPEC §5.1, §8)."""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from podium_identity.config import Settings

log = logging.getLogger(__name__)

ALGORITHM = "RS256"


class KeyConfigurationError(RuntimeError):
    """The configured signing keys cannot be used."""


def generate_private_key() -> rsa.RSAPrivateKey:
    """Return a fresh 2048-bit RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    """Serialise a private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_key_file(directory: Path, kid: str, key: rsa.RSAPrivateKey | None = None) -> Path:
    """Write `<kid>.pem` (owner-readable only) into `directory`; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kid}.pem"
    path.write_bytes(private_pem(key or generate_private_key()))
    path.chmod(0o600)
    return path


@dataclass
class KeyRing:
    """Every published key by `kid`, and the one that signs."""

    public_keys: dict[str, rsa.RSAPublicKey]
    active_kid: str
    signer: rsa.RSAPrivateKey
    _jwks: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """Load keys from the key directory and/or the environment (ephemeral if none, dev)."""
        private: dict[str, rsa.RSAPrivateKey] = {}
        public: dict[str, rsa.RSAPublicKey] = {}
        directory = settings.jwt_keys_dir
        if directory is not None:
            if settings.jwt_generate_missing_key and not list(directory.glob("*.pem")):
                write_key_file(directory, "dev-1")
                log.warning("generated a development signing key", extra={"dir": str(directory)})
            for path in sorted(directory.glob("*.pem")):
                _load_pem(path.stem, path.read_bytes(), private, public)
        if settings.jwt_private_key is not None:
            _load_pem(
                settings.jwt_private_key_kid,
                settings.jwt_private_key.get_secret_value().encode(),
                private,
                public,
            )
        if not private:
            # Tokens would not survive a restart nor verify across replicas: development only.
            log.warning("no signing key configured; using an ephemeral key")
            kid = f"ephemeral-{secrets.token_hex(4)}"
            key = generate_private_key()
            private[kid], public[kid] = key, key.public_key()
        active = settings.jwt_active_kid or sorted(private)[-1]
        if active not in private:
            raise KeyConfigurationError(f"active kid {active!r} has no private key")
        return cls(public_keys=public, active_kid=active, signer=private[active])

    def jwks(self) -> dict[str, Any]:
        """Return the JSON Web Key Set of every key (the next key is published before use)."""
        if not self._jwks:
            keys = []
            for kid, key in sorted(self.public_keys.items()):
                jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
                jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
                keys.append(jwk)
            self._jwks = {"keys": keys}
        return self._jwks

    def issue_access_token(
        self, user_id: uuid.UUID, email: str, role: str, lifetime: timedelta, issuer: str
    ) -> str:
        """Sign an access token with claims `sub, email, role, exp, iat, jti, kid`."""
        now = datetime.now(UTC)
        claims = {
            "iss": issuer,
            "sub": str(user_id),
            "email": email,
            "role": role,
            "iat": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
            "jti": str(uuid.uuid4()),
            "kid": self.active_kid,
        }
        return jwt.encode(
            claims, self.signer, algorithm=ALGORITHM, headers={"kid": self.active_kid}
        )

    def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of a valid RS256 token; raise `jwt.InvalidTokenError` otherwise."""
        header = jwt.get_unverified_header(token)
        # Never let the token choose the algorithm (SPEC §8: no `none`, no HS/RS confusion).
        if header.get("alg") != ALGORITHM:
            raise jwt.InvalidAlgorithmError("only RS256 is accepted")
        key = self.public_keys.get(str(header.get("kid")))
        if key is None:
            raise jwt.InvalidKeyError("unknown kid")
        return jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            leeway=5,
            options={"require": ["exp", "iat", "sub", "jti"]},
        )


def _load_pem(
    kid: str,
    data: bytes,
    private: dict[str, rsa.RSAPrivateKey],
    public: dict[str, rsa.RSAPublicKey],
) -> None:
    if b"PRIVATE KEY" in data:
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyConfigurationError(f"key {kid!r} is not an RSA key")
        private[kid], public[kid] = key, key.public_key()
    else:
        pub = serialization.load_pem_public_key(data)
        if not isinstance(pub, rsa.RSAPublicKey):
            raise KeyConfigurationError(f"key {kid!r} is not an RSA key")
        public[kid] = pub
