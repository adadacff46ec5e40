"""Finding the template a sender names: by id, else by name, and only among its own workspace's."""

from batchcall import db
from batchcall.email_templates import service
from batchcall.email_templates.schemas import EmailTemplateCreate
from batchcall.runtime import Runtime
from tests.support import Tenant


def test_a_template_is_found_by_id_else_by_name_only_in_its_workspace(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    now = runtime.clock.now()
    with db.unit_of_work(runtime.sessions) as session:
        ours = service.create(
            session, tenant.workspace_id, EmailTemplateCreate(name="welcome", subject="Hi", text="Hi"), now
        )
        theirs = service.create(
            session,
            other_tenant.workspace_id,
            EmailTemplateCreate(name="welcome", subject="Hello", text="Hello"),
            now,
        )
    with runtime.sessions() as session:

        def found(workspace_id: str, name: str | None, template_id: str | None) -> str | None:
            template = service.find(session, workspace_id, name=name, template_id=template_id)
            return None if template is None else template.id

        assert found(tenant.workspace_id, "welcome", None) == ours.id
        assert found(other_tenant.workspace_id, "welcome", None) == theirs.id
        assert found(tenant.workspace_id, None, ours.id) == ours.id
        # The id is what counts when both are given, and another workspace's id is nothing.
        assert found(tenant.workspace_id, "welcome", theirs.id) is None
        assert found(other_tenant.workspace_id, None, ours.id) is None
        assert found(tenant.workspace_id, "goodbye", None) is None
        assert found(tenant.workspace_id, None, None) is None
