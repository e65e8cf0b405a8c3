"""The partner API's OpenAPI 3.1 document, served at /partner/v1/openapi.json.

Rule: this document describes exactly the routes in ``partner_api`` and the JSON keys
they answer with; tests validate it with openapi-spec-validator and check that every
route is in it. Keys are added, never renamed (issue 15, point 4).
"""

from __future__ import annotations

from typing import Any

from ..partners import ACTIONS, MAX_CHECK_INDICATORS, MAX_REFERRALS, PARTNER_KINDS

_ERROR = {"$ref": "#/components/responses/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _ERROR for s in statuses}


def openapi_document() -> dict[str, Any]:
    account = {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {k: {"type": "string", "maxLength": 320} for k in PARTNER_KINDS},
        "additionalProperties": False,
    }
    recommendation = {
        "type": ["object", "null"],
        "required": ["action", "note"],
        "properties": {
            "action": {"type": "string", "enum": list(ACTIONS)},
            "note": {"type": "string"},
        },
    }
    result = {
        "type": "object",
        "required": [
            "kind", "value", "matches", "organisations", "max_danger", "categories",
            "recommendation",
        ],
        "properties": {
            "kind": {"type": "string", "enum": list(PARTNER_KINDS)},
            "value": {"type": "string", "description": "The value as the partner sent it."},
            "matches": {"type": "integer", "minimum": 0},
            "organisations": {"type": "integer", "minimum": 0},
            "max_danger": {
                "type": "integer",
                "minimum": 0,
                "maximum": 3,
                "description": "0 no match, 1 nuisance, 2 risky, 3 dangerous.",
            },
            "categories": {"type": "array", "items": {"type": "string"}},
            "recommendation": recommendation,
        },
    }  # fmt: skip
    report_status = {
        "type": "object",
        "required": ["id", "status", "recommendation"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["received", "reviewing", "answered"]},
            "recommendation": recommendation,
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "alertnode partner API",
            "version": "1.0.0",
            "description": (
                "Bulk checks, problem-account reports, recommendations and referral "
                "codes for partner platforms. Answers never hold descriptions, member "
                "data or identifiers in clear."
            ),
        },
        "servers": [{"url": "/partner/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/check": {
                "post": {
                    "operationId": "check",
                    "summary": "Check up to 100 accounts (scope: check).",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["indicators"],
                                    "properties": {
                                        "indicators": {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": MAX_CHECK_INDICATORS,
                                            "items": {
                                                "type": "object",
                                                "required": ["kind", "value"],
                                                "properties": {
                                                    "kind": {
                                                        "type": "string",
                                                        "enum": list(PARTNER_KINDS),
                                                    },
                                                    "value": {"type": "string"},
                                                },
                                            },
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["results"],
                                "properties": {"results": {"type": "array", "items": result}},
                            },
                            "One result per indicator, in order.",
                        ),
                        **_errors(400, 401, 403, 429, 503),
                    },
                }
            },
            "/reports": {
                "post": {
                    "operationId": "createReport",
                    "summary": "Report a problem account, with the advertiser's consent "
                    "(scope: report).",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["account", "consent"],
                                    "properties": {
                                        "account": account,
                                        "description": {"type": "string", "maxLength": 4000},
                                        "consent": {"const": True},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json(
                            {
                                "type": "object",
                                "required": ["id"],
                                "properties": {"id": {"type": "string"}},
                            },
                            "The report is in the caseworkers' review queue.",
                        ),
                        **_errors(400, 401, 403, 429, 503),
                    },
                }
            },
            "/reports/{id}": {
                "get": {
                    "operationId": "getReport",
                    "summary": "A report's status and the organisation's recommendation "
                    "(scope: report).",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _json(report_status, "The report's status."),
                        **_errors(401, 403, 404, 429, 503),
                    },
                }
            },
            "/complaints": {
                "get": {
                    "operationId": "listComplaints",
                    "summary": "Members' complaints about this platform, in the "
                    "organisation's words, never naming a member (scope: report).",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["complaints"],
                                "properties": {
                                    "complaints": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id", "day", "text"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "day": {"type": "string", "format": "date"},
                                                "text": {"type": "string"},
                                            },
                                        },
                                    }
                                },
                            },
                            "Every complaint passed on and still kept.",
                        ),
                        **_errors(401, 403, 429, 503),
                    },
                }
            },
            "/referrals": {
                "post": {
                    "operationId": "createReferrals",
                    "summary": "Referral codes; each opens a membership request the "
                    "organisation vets (scope: referral).",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["count"],
                                    "properties": {
                                        "count": {
                                            "type": "integer",
                                            "minimum": 1,
                                            "maximum": MAX_REFERRALS,
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["codes"],
                                "properties": {
                                    "codes": {"type": "array", "items": {"type": "string"}}
                                },
                            },
                            "New codes, valid for 60 days.",
                        ),
                        **_errors(400, 401, 403, 429, 503),
                    },
                }
            },
        },
        "webhooks": {
            "recommendation": {
                "post": {
                    "summary": "Sent to the partner's webhook URL when the organisation "
                    "answers a report. Headers: X-Alertnode-Timestamp (Unix seconds) and "
                    "X-Alertnode-Signature: v1=hex(HMAC-SHA256(secret, timestamp + '.' + "
                    "body)).",
                    "requestBody": {"content": {"application/json": {"schema": report_status}}},
                    "responses": {"200": {"description": "Received."}},
                }
            }
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": _json(
                    {
                        "type": "object",
                        "required": ["error"],
                        "properties": {
                            "error": {
                                "type": "object",
                                "required": ["code", "message"],
                                "properties": {
                                    "code": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            }
                        },
                    },
                    "An error: 400 invalid, 401 bad or revoked token, 403 missing scope, "
                    "404 unknown, 429 rate limited, 503 node locked.",
                )
            },
        },
    }
