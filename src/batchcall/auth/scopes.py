from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    CALL_MANAGEMENT = "call_management"
    ADMIN = "admin"


ALL_SCOPES: tuple[Scope, ...] = (Scope.READ, Scope.CALL_MANAGEMENT, Scope.ADMIN)

# A key with a wider scope may do what a narrower one may.
_IMPLIED_BY: dict[Scope, frozenset[Scope]] = {
    Scope.READ: frozenset(ALL_SCOPES),
    Scope.CALL_MANAGEMENT: frozenset({Scope.CALL_MANAGEMENT, Scope.ADMIN}),
    Scope.ADMIN: frozenset({Scope.ADMIN}),
}


def grants(held: list[str], needed: Scope) -> bool:
    return any(scope in _IMPLIED_BY[needed] for scope in held)
