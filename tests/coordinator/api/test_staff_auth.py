"""Staff sign-in: argon2 + JWT pinned to HS256, bad tokens → 401, lockout, revocation, settings."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError
from sqlmodel import select

from coordinator.security import ISSUER
from coordinator.settings import Settings
from tests.coordinator.api.conftest import PASSWORD, TOKEN, Api, make_settings, serve
from workflow.codes import Role
from workflow.staff import Staff

SECRET = "j" * 64


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Sign-in does not depend on the database engine: SQLite only (the BOLA matrix runs on both)."""
    return f"sqlite:///{tmp_path / 'coordinator.db'}"


def _claims(api: Api, employee_no: str, **over: object) -> dict[str, object]:
    with api.session() as s:
        staff = s.exec(select(Staff).where(Staff.employee_no == employee_no)).one()
    now = int(time.time())
    base: dict[str, object] = {
        "sub": str(staff.id), "ver": staff.token_version, "jti": "x" * 32, "iat": now, "exp": now + 600,
        "iss": ISSUER,
    }  # fmt: skip
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def _me(api: Api, token: str) -> int:
    return api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_sign_in_and_whoami(world: Api) -> None:
    r = world.login("actor-clerk")
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == world.settings.jwt_ttl_s
    me = world.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["employee_no"] == "actor-clerk"
    assert me.json()["roles"] == ["clerk"]
    with world.session() as s:
        stored = s.exec(select(Staff.password_hash).where(Staff.employee_no == "actor-clerk")).one()
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_wrong_password_and_unknown_user_look_the_same(world: Api) -> None:
    wrong = world.login("actor-clerk", "not the password")
    unknown = world.login("nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_bad_tokens_are_refused(world: Api) -> None:
    good = jwt.encode(_claims(world, "actor-clerk"), SECRET, algorithm="HS256")
    assert _me(world, good) == 200
    header, payload, signature = good.split(".")
    none_alg = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    swapped = jwt.encode(_claims(world, "actor-clerk"), SECRET, algorithm="HS512")
    expired = jwt.encode(_claims(world, "actor-clerk", exp=int(time.time()) - 5), SECRET, algorithm="HS256")
    other_key = jwt.encode(_claims(world, "actor-clerk"), "k" * 64, algorithm="HS256")
    tampered = f"{header}.{_b64(_claims(world, 'actor-center_admin'))}.{signature}"
    no_version = jwt.encode(_claims(world, "actor-clerk", ver=None), SECRET, algorithm="HS256")
    wrong_issuer = jwt.encode(_claims(world, "actor-clerk", iss="someone"), SECRET, algorithm="HS256")
    for token in (
        none_alg,
        swapped,
        expired,
        other_key,
        tampered,
        no_version,
        wrong_issuer,
        "garbage",
        TOKEN,
    ):
        assert _me(world, token) == 401, token
    assert world.client.get("/api/v1/auth/me").status_code == 401


def test_service_token_and_staff_token_do_not_cross(world: Api) -> None:
    staff_token = world.token("actor-center_admin")
    assert (
        world.client.get("/api/v1/agents", headers={"Authorization": f"Bearer {staff_token}"}).status_code
        == 401
    )
    assert world.client.get("/api/v1/staff", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401


def test_lockout_after_repeated_failures(world: Api) -> None:
    for _ in range(world.settings.login_max_failures):
        assert world.login("actor-clerk", "wrong password!").status_code == 401
    locked = world.login("actor-clerk")
    assert locked.status_code == 401  # the right password does not help while locked
    admin = world.as_("actor-dept_admin")
    staff_id = world.ids[("actor", Role.CLERK)]
    assert world.client.get(f"/api/v1/staff/{staff_id}", headers=admin).json()["locked"] is True
    assert world.client.post(f"/api/v1/staff/{staff_id}/unlock", headers=admin).status_code == 200
    assert world.login("actor-clerk").status_code == 200


def test_lockout_expires(world: Api) -> None:
    for _ in range(world.settings.login_max_failures):
        world.login("actor-reviewer", "wrong password!")
    assert world.login("actor-reviewer").status_code == 401
    with world.session() as s:
        staff = s.exec(select(Staff).where(Staff.employee_no == "actor-reviewer")).one()
        staff.locked_until = time.time() - 1
        s.add(staff)
        s.commit()
    assert world.login("actor-reviewer").status_code == 200


def test_logout_password_change_disable_and_revoke_end_tokens(world: Api) -> None:
    t1 = world.login("actor-clerk").json()["access_token"]
    t2 = world.login("actor-clerk").json()["access_token"]
    assert (
        world.client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {t1}"}).status_code == 204
    )
    assert _me(world, t1) == _me(world, t2) == 401  # every session of the person

    t3 = world.login("actor-clerk").json()["access_token"]
    auth = {"Authorization": f"Bearer {t3}"}
    r = world.client.post(
        "/api/v1/auth/password", headers=auth, json={"old_password": "wrong one!!", "new_password": "x" * 12}
    )
    assert r.status_code == 403
    r = world.client.post(
        "/api/v1/auth/password",
        headers=auth,
        json={"old_password": PASSWORD, "new_password": "new password 1"},
    )
    assert r.status_code == 204
    assert _me(world, t3) == 401
    assert world.login("actor-clerk").status_code == 401
    t4 = world.login("actor-clerk", "new password 1").json()["access_token"]

    admin = world.as_("actor-dept_admin")
    clerk_id = world.ids[("actor", Role.CLERK)]
    assert world.client.post(f"/api/v1/staff/{clerk_id}/revoke-tokens", headers=admin).status_code == 204
    assert _me(world, t4) == 401
    t5 = world.login("actor-clerk", "new password 1").json()["access_token"]
    assert (
        world.client.patch(f"/api/v1/staff/{clerk_id}", headers=admin, json={"active": False}).status_code
        == 200
    )
    assert _me(world, t5) == 401
    assert world.login("actor-clerk", "new password 1").status_code == 401


def test_sign_in_is_off_without_a_secret(world: Api, tmp_path: Path) -> None:
    settings = make_settings(world.settings.database_url, tmp_path, jwt_secret=None)
    assert settings.jwt_secret is None
    served = serve(settings, world.coordinator)
    try:
        r = served.client.post(
            "/api/v1/auth/login", json={"employee_no": "actor-clerk", "password": PASSWORD}
        )
        assert r.status_code == 503
        good = jwt.encode(_claims(world, "actor-clerk"), SECRET, algorithm="HS256")
        assert (
            served.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {good}"}).status_code
            == 401
        )
    finally:
        served.close()


def test_jwt_secret_settings(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="HALLMESH_JWT_SECRET"):
        make_settings("sqlite://", tmp_path, jwt_secret="short")
    demo = make_settings("sqlite://", tmp_path, jwt_secret=None, demo=True)
    assert demo.jwt_secret is not None
    assert len(demo.jwt_secret.get_secret_value()) >= 32
    assert isinstance(demo, Settings)
