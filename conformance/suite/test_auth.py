"""Authentication: `Authorization: Bearer <token>` on every operation, checked before the body."""

import pytest

pytestmark = pytest.mark.group("auth")


@pytest.mark.operation("searchIncidents")
def test_missing_token_is_401(anonymous):
    answer = anonymous.get("/api/incident")
    assert answer.status_code == 401
