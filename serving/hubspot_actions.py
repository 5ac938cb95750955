"""A contact's next action as the bodies HubSpot's own APIs take: a task, a deal.

`/hubspot/score?actions=true` answers, besides the properties to write back, one create
body per contact whose next action (`models.contract.NextAction`) needs one:

- `contact`, `retry_contact`, `recheck` → a task, `POST /crm/v3/objects/tasks`:
  `hs_timestamp` (required: the due time), `hs_task_subject`, `hs_task_body` (the
  reason), `hs_task_status` `NOT_STARTED`, `hs_task_priority` (`HIGH` for a first
  contact, `MEDIUM` for a retry, `LOW` for a re-check), `hs_task_type` (`CALL`, or `TODO`
  for a re-check), and `hubspot_owner_id` when the contact has an owner;
- `create_deal` → a deal, `POST /crm/v3/objects/deals`: `dealname`, `pipeline` and
  `dealstage` (settings: HubSpot's default pipeline and its first stage), and
  `hubspot_owner_id` when the contact has an owner.

Each body is associated with the contact (`associations[].to.id`, with the
HUBSPOT_DEFINED association type: task → contact 204, deal → contact 3 by default). Every
property value and id is a string, as HubSpot's API takes them; `nurture` and `none` need
no body. The shapes follow HubSpot's public CRM v3 documentation (tests/serving/crm has
examples written from it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from models.contract import LeadScore, NextAction
from models.i18n import N_, language
from serving.settings import HubSpotActionSettings

# action → (subject, hs_task_type, hs_task_priority) of its task; the subject a message
TASKS: dict[str, tuple[str, str, str]] = {
    "contact": (N_("Contact %(who)s"), "CALL", "HIGH"),
    "retry_contact": (N_("Try to reach %(who)s again"), "CALL", "MEDIUM"),
    "recheck": (N_("Re-check %(who)s (bad timing)"), "TODO", "LOW"),
}
CONTACT_ID = N_("contact %(id)s")  # a contact without a name or an e-mail address
DEAL_ACTIONS = frozenset({"create_deal"})
# HubSpot's limit on a single-line text property (a task's subject, a deal's name).
MAX_NAME_CHARS = 250


def action_bodies(
    objects: Sequence[tuple[str, Mapping[str, Any]]],
    outs: Sequence[LeadScore],
    settings: HubSpotActionSettings,
    lang: str = "en",
) -> dict[str, list[dict[str, Any]]]:
    """`{"tasks": [...], "deals": [...]}`: the create bodies of the contacts (id and
    properties as sent, with their scores) whose next action needs one, in input order;
    subjects in `lang` (the bodies are the actions' details, already in it)."""
    tasks: list[dict[str, Any]] = []
    deals: list[dict[str, Any]] = []
    for (contact_id, record), out in zip(objects, outs, strict=True):
        action = out.decision.next_action if out.decision is not None else None
        if action is None:
            continue
        if action.type in TASKS:
            tasks.append(task_body(contact_id, record, action, settings, lang))
        elif action.type in DEAL_ACTIONS:
            deals.append(deal_body(contact_id, record, settings, lang))
    return {"tasks": tasks, "deals": deals}


def task_body(
    contact_id: str,
    record: Mapping[str, Any],
    action: NextAction,
    settings: HubSpotActionSettings,
    lang: str = "en",
) -> dict[str, Any]:
    """The Tasks API create body of one contact's next action (a type in `TASKS`, with a
    due time)."""
    if action.type not in TASKS or action.due is None:
        raise ValueError(f"a {action.type!r} action with due {action.due!r} needs no task")
    subject, kind, priority = TASKS[action.type]
    properties = {
        "hs_timestamp": action.due,
        "hs_task_subject": _cut(language(lang).format(subject, who=who(contact_id, record, lang))),
        "hs_task_body": action.detail,
        "hs_task_status": "NOT_STARTED",
        "hs_task_priority": priority,
        "hs_task_type": kind,
        **_owner(record),
    }
    return {
        "properties": properties,
        "associations": [association(contact_id, settings.task_contact_association)],
    }


def deal_body(
    contact_id: str,
    record: Mapping[str, Any],
    settings: HubSpotActionSettings,
    lang: str = "en",
) -> dict[str, Any]:
    """The Deals API create body for one contact (status OPEN_DEAL: a deal is created)."""
    company, name = _text(record.get("company")), _name(record)
    dealname = (
        f"{company} ({name})" if company and name else company or who(contact_id, record, lang)
    )
    properties = {
        "dealname": _cut(dealname),
        "pipeline": settings.deal_pipeline,
        "dealstage": settings.deal_stage,
        **_owner(record),
    }
    return {
        "properties": properties,
        "associations": [association(contact_id, settings.deal_contact_association)],
    }


def association(contact_id: str, type_id: int) -> dict[str, Any]:
    """An association with the contact, of a HubSpot-defined type."""
    return {
        "to": {"id": contact_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def who(contact_id: str, record: Mapping[str, Any], lang: str = "en") -> str:
    """How a task or deal names the contact: its name, else its e-mail, else its id."""
    return (
        _name(record)
        or _text(record.get("email"))
        or language(lang).format(CONTACT_ID, id=contact_id)
    )


def _name(record: Mapping[str, Any]) -> str:
    return " ".join(
        part for part in (_text(record.get("firstname")), _text(record.get("lastname"))) if part
    )


def _owner(record: Mapping[str, Any]) -> dict[str, str]:
    """The contact's owner, who gets the task or deal (left out when it has none)."""
    owner = _text(record.get("hubspot_owner_id"))
    return {"hubspot_owner_id": owner} if owner else {}


def _text(value: Any) -> str:
    """A property as text (HubSpot sends strings; a number or boolean is read as text)."""
    if value is None or isinstance(value, bool):
        return ""
    return " ".join(str(value).split())


def _cut(text: str) -> str:
    return text if len(text) <= MAX_NAME_CHARS else text[: MAX_NAME_CHARS - 1] + "…"
