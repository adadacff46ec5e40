"""What a process shares between requests and the dispatcher: settings, the engine, the clock."""

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from batchcall.config import Settings
from batchcall.db import make_engine, make_session_factory, unit_of_work
from batchcall.installation import service as installation
from batchcall.kit.clock import Clock, SystemClock
from batchcall.kit.sealing import Sealer
from batchcall.providers import registry


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)
    _secrets: dict[str, bytes] = field(default_factory=dict, init=False, repr=False)
    _sealer: Sealer | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> "Runtime":
        """The runtime of ``settings``; raises registry.UnknownProvider when they name no provider, so a
        process configured so stops before it serves or dials anything."""
        registry.check(settings)
        engine = make_engine(settings.database_url)
        return cls(settings, engine, make_session_factory(engine), clock or SystemClock())

    @property
    def sealer(self) -> Sealer:
        """What seals and opens stored secrets, with the keys of ``BATCHCALL_SECRET_KEYS``."""
        if self._sealer is None:
            self._sealer = Sealer(self.settings.secret_keys)
        return self._sealer

    def installation_secret(self, name: str) -> bytes:
        """The installation's secret ``name``, the same in every process; read once per process."""
        if name not in self._secrets:
            # Its own transaction, committed at once: a secret handed out must be the one every process reads.
            with unit_of_work(self.sessions) as session:
                self._secrets[name] = installation.secret(session, name, self.clock.now())
        return self._secrets[name]
