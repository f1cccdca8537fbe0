"""Bearer-token authentication. It never fails open: without a configured token, one is
generated and kept in the data directory."""

import hmac
import logging
import os
import secrets
from pathlib import Path

from connexion.exceptions import OAuthProblem
from connexion.security import BearerSecurityHandler

from kener_api.settings import Settings

log = logging.getLogger(__name__)

TOKEN_FILE_NAME = "api-token"


def resolve_token(settings: Settings) -> str:
    """The configured token; else the one stored in the data directory, created (readable by
    its owner only) and announced on the first start."""
    if settings.api_token:
        return settings.api_token
    path = settings.data_dir / TOKEN_FILE_NAME
    try:
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    return _generate_token(path)


def _generate_token(path: Path) -> str:
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    os.chmod(path, 0o600)  # in case the file existed, empty, with wider rights
    log.warning("No API_TOKEN set: generated an API token, stored in %s: %s", path, token)
    return token


def bearer_handler(token: str) -> type:
    """A connexion security handler class for `bearerAuth` that accepts exactly `token`."""
    expected = token.encode("utf-8")

    class TokenBearerHandler(BearerSecurityHandler):
        def get_fn(self, security_scheme, required_scopes):
            async def verify(request):
                header = request.headers.get("Authorization")
                if not header:
                    raise OAuthProblem(detail="missing Authorization header: send 'Bearer <token>'")
                scheme, _, credentials = header.strip().partition(" ")
                if scheme.lower() != "bearer" or not credentials.strip():
                    raise OAuthProblem(detail="Authorization header must be 'Bearer <token>'")
                # Constant time: the comparison does not reveal how much of the token matched.
                if not hmac.compare_digest(credentials.strip().encode("utf-8"), expected):
                    raise OAuthProblem(detail="invalid token")
                return {"sub": "api-token"}

            return verify

    return TokenBearerHandler
