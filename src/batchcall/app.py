"""The FastAPI application: routers, middleware, error handlers, and the dispatcher's lifetime."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from batchcall import observability, openapi
from batchcall.agent_sessions.api import router as agent_sessions_router
from batchcall.agents.api import router as agents_router
from batchcall.batches.api import router as batches_router
from batchcall.calls.api import router as calls_router
from batchcall.contacts.api import router as contacts_router
from batchcall.dialects import ROUTERS as DIALECT_ROUTERS
from batchcall.dispatcher.api import router as provider_callbacks_router
from batchcall.dispatcher.worker import BackgroundDispatcher
from batchcall.email_templates.api import router as email_templates_router
from batchcall.mail.api import router as unsubscribe_router
from batchcall.mail.api import suppressions_router
from batchcall.numbers.api import router as numbers_router
from batchcall.provider_accounts.api import router as provider_accounts_router
from batchcall.providers import registry
from batchcall.ratelimit import Limiter, limit_callback_client, limit_client
from batchcall.results.api import router as results_router
from batchcall.runtime import Runtime
from batchcall.web import pages
from batchcall.web.http import BodySizeLimit, install_error_handlers
from batchcall.web.memory import ReleaseMemory
from batchcall.webhooks.api import router as webhooks_router
from batchcall.webhooks.sender import BackgroundSender

NATIVE_ROUTERS = (
    agents_router,
    numbers_router,
    contacts_router,
    batches_router,
    calls_router,
    results_router,
    agent_sessions_router,
    webhooks_router,
    provider_accounts_router,
    email_templates_router,
    suppressions_router,
)


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        registry.read_installation_secrets(runtime)
        background = (
            (BackgroundDispatcher(runtime), BackgroundSender(runtime))
            if runtime.settings.run_dispatcher
            else ()
        )
        for part in background:
            part.start()
        yield
        for part in background:
            part.stop()
        runtime.engine.dispose()

    app = FastAPI(
        title="batchcall",
        version="0.1.0",
        description="Bulk outbound engagements by AI agents: phone calls, SMS and email.",
        lifespan=lifespan,
        # The documentation pages are the service's own (web/pages.py), which load nothing from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.limiter = Limiter(runtime.settings)
    install_error_handlers(app)
    # Added first, so it runs inside BodySizeLimit, which counts the body it reads.
    app.add_middleware(ReleaseMemory)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=runtime.settings.max_body_bytes,
        max_upload_bytes=runtime.settings.max_upload_bytes,
    )
    per_client = [Depends(limit_client)]
    for router in NATIVE_ROUTERS:
        app.include_router(router, prefix="/v1", dependencies=per_client)
    # Callbacks are signed, not keyed: they count per client only, in a count of their own.
    app.include_router(provider_callbacks_router, prefix="/v1", dependencies=[Depends(limit_callback_client)])
    # An email's unsubscribe link is signed for its address, and needs no key either.
    app.include_router(unsubscribe_router, prefix="/v1", dependencies=[Depends(limit_callback_client)])
    for vendor in registry.vendors().values():
        if vendor.router is not None:
            app.include_router(vendor.router, prefix="/v1", dependencies=[Depends(limit_callback_client)])
    for router in DIALECT_ROUTERS:
        app.include_router(router, dependencies=per_client)
    app.include_router(observability.router, dependencies=per_client)
    pages.install(app, dependencies=per_client)
    openapi.install(app)
    return app
