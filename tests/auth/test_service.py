"""Workspaces and keys: a key is shown once, stored hashed, and carries its scopes."""

import pytest
from sqlalchemy import select

from batchcall import db
from batchcall.auth import service as auth
from batchcall.kit.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from batchcall.models import ApiKey
from batchcall.runtime import Runtime


def test_a_key_is_stored_only_as_a_hash_and_verifies(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with db.unit_of_work(runtime.sessions) as session:
        workspace = auth.create_workspace(session, "Acme Inc.", now)
        issued = auth.create_key(session, workspace.id, now, name="ci")
    assert workspace.slug == "acme-inc"
    assert issued.api_key == f"{issued.key_id}.{issued.key_secret}"
    assert issued.key_id.startswith("bck_")
    assert set(issued.scopes) == {"read", "call_management", "admin"}
    with runtime.sessions() as session:
        stored = session.scalars(select(ApiKey)).one()
        assert issued.key_secret not in stored.secret_hash
        assert stored.name == "ci"
        principal = auth.verify_api_key(session, issued.api_key)
    assert (principal.workspace_id, principal.key_id) == (workspace.id, issued.key_id)


def test_keys_are_unique(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with db.unit_of_work(runtime.sessions) as session:
        workspace = auth.create_workspace(session, "Acme", now)
        keys = {auth.create_key(session, workspace.id, now).api_key for _ in range(5)}
    assert len(keys) == 5


def test_workspace_names_and_slugs(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with db.unit_of_work(runtime.sessions) as session:
        auth.create_workspace(session, "Acme", now)
    with pytest.raises(Conflict, match="acme"), db.unit_of_work(runtime.sessions) as session:
        auth.create_workspace(session, "ACME!", now)
    with pytest.raises(Invalid), db.unit_of_work(runtime.sessions) as session:
        auth.create_workspace(session, "   ", now)
    with db.unit_of_work(runtime.sessions) as session:
        assert auth.create_workspace(session, "Acme", now, slug="acme-2").slug == "acme-2"


def test_keys_need_a_workspace_and_known_scopes(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with pytest.raises(NotFound), db.unit_of_work(runtime.sessions) as session:
        auth.create_key(session, "no-such-workspace", now)
    with db.unit_of_work(runtime.sessions) as session:
        workspace = auth.create_workspace(session, "Acme", now)
    with pytest.raises(Invalid, match="superuser"), db.unit_of_work(runtime.sessions) as session:
        auth.create_key(session, workspace.id, now, scopes=["read", "superuser"])


def test_scopes_imply_narrower_ones(runtime: Runtime) -> None:
    from batchcall.auth.scopes import Scope

    now = runtime.clock.now()
    with db.unit_of_work(runtime.sessions) as session:
        workspace = auth.create_workspace(session, "Acme", now)
        reader = auth.create_key(session, workspace.id, now, scopes=["read"])
        admin = auth.create_key(session, workspace.id, now, scopes=["admin"])
    with runtime.sessions() as session:
        read_only = auth.verify_api_key(session, reader.api_key)
        read_only.require(Scope.READ)
        with pytest.raises(Forbidden, match="call_management"):
            read_only.require(Scope.CALL_MANAGEMENT)
        everything = auth.verify_api_key(session, admin.api_key)
        for scope in Scope:
            everything.require(scope)


def test_revoking_twice_keeps_the_first_time_and_unknown_keys_are_not_found(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with db.unit_of_work(runtime.sessions) as session:
        workspace = auth.create_workspace(session, "Acme", now)
        issued = auth.create_key(session, workspace.id, now)
        first = auth.revoke_key(session, issued.key_id, now).revoked_at
    with db.unit_of_work(runtime.sessions) as session:
        assert auth.revoke_key(session, issued.key_id, runtime.clock.now()).revoked_at == first
    with pytest.raises(NotFound), db.unit_of_work(runtime.sessions) as session:
        auth.revoke_key(session, "bck_nope", now)
    with runtime.sessions() as session, pytest.raises(Unauthorized):
        auth.verify_api_key(session, issued.api_key)
