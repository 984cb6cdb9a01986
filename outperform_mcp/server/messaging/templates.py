"""The template catalogue: which WhatsApp templates exist and what each parameter means.

The API has no endpoint for templates, so the catalogue is the templates file in settings
(``OUTPERFORM_TEMPLATES_FILE``; ``--sandbox`` uses the emulator's own).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ...guard.service import SendService
from ...guard.templates import Template
from ..deps import Ctx, Deps, deps
from ..registry import resource, tool

NO_FILE = (
    "No templates file is configured, so template bodies and parameters are unknown here (previews show "
    "only the name and parameters). Set OUTPERFORM_TEMPLATES_FILE to a JSON list of "
    '{"name", "language", "category", "body" with {{1}}..., "parameters", "parameter_info"} (see README, Templates).'
)


class ParamOut(BaseModel):
    position: int
    meaning: str | None = None
    example: str | None = None


class TemplateOut(BaseModel):
    name: str
    language: str | None = None
    category: str | None = None
    body: str
    parameters: list[ParamOut]
    allowed: bool = Field(description="May be sent here (on the allow-list, or no allow-list is set)")


class TemplateList(BaseModel):
    templates: list[TemplateOut]
    allow_list: list[str] = Field(description="Only these may be sent; empty: any template")
    note: str | None = None


def _out(t: Template, allow: list[str]) -> TemplateOut:
    return TemplateOut(
        name=t.name,
        language=t.language,
        category=t.category,
        body=t.body,
        parameters=[
            ParamOut(position=n, meaning=t.param_info(n).meaning, example=t.param_info(n).example)
            for n in range(1, t.parameters + 1)
        ],
        allowed=not allow or t.name in allow,
    )


def catalogue(guard: SendService) -> TemplateList:
    allow = list(guard.settings.template_allowlist)
    if not guard.catalogue.known:
        return TemplateList(templates=[], allow_list=allow, note=NO_FILE)
    return TemplateList(templates=[_out(t, allow) for t in guard.catalogue.all()], allow_list=allow)


@tool("messaging", title="List templates", read_only=True, open_world=False)
async def list_templates(ctx: Ctx) -> TemplateList:
    """Templates: body, language, category, each {{n}}'s meaning and example, and whether it may be
    sent."""
    return catalogue(deps(ctx).guard)


@resource("messaging", "outperform://templates", name="templates", title="WhatsApp templates")
async def templates(deps: Deps) -> dict[str, object]:
    return catalogue(deps.guard).model_dump(mode="json", exclude_none=True)
