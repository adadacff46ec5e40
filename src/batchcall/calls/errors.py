"""Row errors as every answer lists them: the first ``settings.max_errors_listed`` in row order, and how
many there were in all, so a million bad rows make a count, not a million error objects."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from batchcall.ingest.rows import NATIVE_WORDING, RowError, RowWording


@dataclass
class RowErrors:
    limit: int
    listed: list[RowError] = field(default_factory=list)
    count: int = 0

    def add(self, errors: Iterable[RowError]) -> None:
        """Count ``errors`` and list those there is room for; they are of rows after any added before."""
        for error in sorted(errors, key=lambda e: e.row):
            self.count += 1
            if len(self.listed) < self.limit:
                self.listed.append(error)

    def take(self, later: "RowErrors") -> "RowErrors":
        """Count in the errors of a later part of the request (its next chunk), listing those there is still
        room for; answers that part's errors as listed here."""
        room = max(0, self.limit - len(self.listed))
        taken = RowErrors(room, later.listed[:room], later.count)
        self.listed.extend(taken.listed)
        self.count += taken.count
        return taken

    @property
    def unlisted(self) -> int:
        return self.count - len(self.listed)

    def __iter__(self) -> Iterator[RowError]:
        return iter(self.listed)

    def summary(self, wording: RowWording = NATIVE_WORDING) -> str:
        """The listed errors on one line, each as ``wording`` words it, then how many more there were."""
        parts = [error.as_text(wording) for error in self.listed]
        if self.unlisted:
            parts.append(f"and {self.unlisted} more" if parts else f"{self.unlisted} row error(s)")
        return "; ".join(parts)
