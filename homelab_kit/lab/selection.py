"""Selection: named objects picked by selectors ("all", a name, a glob, "@role", "a,b", "!x")."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..errors import InventoryError

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")


class Selection(Mapping[str, T], Generic[T]):
    """Named objects with selectors: "all", a name, a glob, "@role" (or @os), "a,b", "!x"."""

    def __init__(self, items: Mapping[str, T], kind: str, tags: Any = None) -> None:
        self._items = dict(items)
        self._kind = kind
        self._tags = tags  # callable(obj, tag) -> bool for "@tag"

    def __getitem__(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            import difflib

            hint = difflib.get_close_matches(key, list(self._items), n=1)
            extra = f' (did you mean "{hint[0]}"?)' if hint else ""
            known = ", ".join(self._items) or "none"
            raise InventoryError(f'no {self._kind} "{key}"{extra}; known: {known}') from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __contains__(self, key: object) -> bool:  # `in` and get() answer, never raise
        return key in self._items

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<{self._kind}s: {', '.join(self._items)}>"

    def select(self, selector: str | Sequence[str] = "all") -> Selection[T]:
        """Union of comma-separated terms, minus terms starting with "!"; error if nothing matched."""
        terms = [selector] if isinstance(selector, str) else list(selector)
        terms = [t.strip() for term in terms for t in term.split(",") if t.strip()]
        chosen: dict[str, T] = {}
        for term in [t for t in terms if not t.startswith("!")] or ["all"]:
            found = self._match(term)
            if not found:
                import difflib

                hint = difflib.get_close_matches(term.lstrip("@"), list(self._items), n=1)
                extra = f' (did you mean "{hint[0]}"?)' if hint else ""
                raise InventoryError(
                    f'selector "{term}" matches no {self._kind}{extra}; '
                    f"known: {', '.join(self._items)}"
                )
            chosen.update(found)
        for term in (t[1:] for t in terms if t.startswith("!")):
            for key in self._match(term):
                chosen.pop(key, None)
        return Selection(
            {k: v for k, v in self._items.items() if k in chosen}, self._kind, self._tags
        )

    __call__ = select

    def _match(self, term: str) -> dict[str, T]:
        if term in ("all", "*"):
            return dict(self._items)
        if term.startswith("@") and self._tags:
            return {k: v for k, v in self._items.items() if self._tags(v, term[1:])}
        if any(ch in term for ch in "*?["):
            return {k: v for k, v in self._items.items() if fnmatch.fnmatchcase(k, term)}
        return {term: self._items[term]} if term in self._items else {}

    def frame(self) -> pd.DataFrame:
        from .frames import records_frame

        return records_frame(self._items.values())

    def _repr_html_(self) -> str:
        return self.frame()._repr_html_()
