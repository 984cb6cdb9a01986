"""How far the mirror's sync has got (``outperform://mirror/status``)."""

from __future__ import annotations

from ...store import mirror
from ..deps import Deps
from ..registry import resource


@resource("insights", "outperform://mirror/status", name="mirror_status", title="How far the mirror's sync has got")
async def status(deps: Deps) -> dict[str, object]:
    states, fresh = await deps.store.run(lambda conn: (mirror.all_states(conn), mirror.freshness(conn)))
    return {
        "as_of": mirror.iso(fresh.as_of),
        "complete": fresh.complete,
        "last_error": deps.mirror.last_error,
        "kinds": {
            kind: {
                "complete": s.complete,
                "next_page": s.next_page,
                "stored": s.items,
                "calls": s.calls,
                "as_of": mirror.iso(s.watermark),
            }
            for kind, s in states.items()
        },
    }
