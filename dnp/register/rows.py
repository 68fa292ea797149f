"""Turning ingest items into register rows, and the content hash that detects real change."""

from __future__ import annotations

import hashlib
import json

from dnp.register.models import OrganisationType


def content_hash(document: dict) -> str:
    """A stable SHA-256 of a JSON-able document."""
    encoded = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _year(value) -> int | None:
    return int(value) if value is not None else None


def organisation_row(item: dict) -> dict:
    """Row for the organisation table."""
    return {
        "id": item["id"],
        "organisation_type": item.get("organisationType", OrganisationType.SKOLENHET),
        "display_name": item.get("displayName") or "",
        "school_unit_code": item.get("schoolUnitCode") or None,
        "organisation_number": item.get("organisationNumber"),
        "school_types": list(item.get("schoolTypes") or []),
        "parent_id": (item.get("parentOrganisation") or {}).get("id"),
    }


def person_row(item: dict) -> dict:
    """Row for the person table."""
    eppns = item.get("eduPersonPrincipalNames") or []
    civic = item.get("civicNo") or {}
    return {
        "id": item["id"],
        "given_name": item["givenName"],
        "middle_name": item.get("middleName"),
        "family_name": item["familyName"],
        "eppn": eppns[0] if eppns else None,
        "civic_no": civic.get("value", ""),
        "civic_nationality": civic.get("nationality"),
        "security_marking": item.get("securityMarking") or "Ingen",
        "alias_given_name": item.get("aliasGivenName"),
        "alias_family_name": item.get("aliasFamilyName"),
        "emails": [{"value": e["value"], "type": e.get("type")} for e in item.get("emails") or []],
        "external_identifiers": list(item.get("externalIdentifiers") or []),
    }


def enrolment_rows(item: dict) -> list[dict]:
    """Rows for the enrolment table."""
    return [
        {
            "person_id": item["id"],
            "school_unit_id": enrolment["enroledAt"]["id"],
            "school_type": enrolment["schoolType"],
            "school_year": _year(enrolment.get("schoolYear")),
            "education_code": enrolment.get("educationCode"),
            "programme_id": (enrolment.get("programme") or {}).get("id"),
            "specification": enrolment.get("specification"),
            "cancelled": bool(enrolment.get("cancelled", False)),
        }
        for enrolment in item.get("enrolments") or []
    ]


def duty_row(item: dict) -> dict:
    """Row for the duty table."""
    return {
        "id": item["id"],
        "person_id": item["person"]["id"],
        "school_unit_id": item["dutyAt"]["id"],
        "duty_role": item["dutyRole"],
    }


def group_row(item: dict) -> dict:
    """Row for the register_group table."""
    return {
        "id": item["id"],
        "display_name": item["displayName"],
        "group_type": item["groupType"],
        "school_type": item["schoolType"],
        "school_unit_id": item["organisation"]["id"],
    }


def membership_rows(item: dict) -> list[dict]:
    """Rows for register_group_membership, duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for membership in item.get("groupMemberships") or []:
        seen.setdefault(membership["person"]["id"], None)
    return [{"group_id": item["id"], "person_id": person_id} for person_id in seen]


def rows_for(kind: str, item: dict) -> tuple[dict, list[dict]]:
    """The main row and the child rows of an item, with the main row's source_hash set."""
    if kind == "organisations":
        row, children = organisation_row(item), []
    elif kind == "persons":
        row, children = person_row(item), enrolment_rows(item)
    elif kind == "duties":
        row, children = duty_row(item), []
    else:
        row, children = group_row(item), membership_rows(item)
    row["source_hash"] = content_hash({"row": row, "children": children})
    return row, children
