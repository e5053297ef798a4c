"""Realistic webhook payloads of HR and sales systems, and the mappings that read them.

Each payload imitates what a real sender posts (field names and shapes as those
systems use them, values made up); each mapping is what an admin would
configure for it. ``EXPECTED_*`` are the points the mapping must produce.
"""

from typing import Any

# HubSpot: a webhook request carries a JSON *array* of up to 100 events from
# several subscriptions; times are epoch milliseconds, property values strings.
# Only deal amount changes become points; the creation and contact events are
# skipped by the for_each filter.
HUBSPOT_DEALS_BATCH: list[dict[str, Any]] = [
    {
        "eventId": 1814461001,
        "subscriptionId": 2418,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1768471200000,  # 2026-01-15T10:00:00Z
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": 9001,
        "propertyName": "amount",
        "propertyValue": "12500.50",
        "changeSource": "CRM_UI",
    },
    {
        "eventId": 1814461002,
        "subscriptionId": 2417,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1768474800000,
        "subscriptionType": "deal.creation",
        "attemptNumber": 0,
        "objectId": 9002,
        "changeSource": "CRM_UI",
    },
    {
        "eventId": 1814461003,
        "subscriptionId": 2419,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1768478400000,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": 777,
        "propertyName": "lifecyclestage",
        "propertyValue": "customer",
        "changeSource": "INTEGRATION",
    },
    {
        "eventId": 1814461004,
        "subscriptionId": 2418,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1768561200000,  # 2026-01-16T11:00:00Z
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": 9003,
        "propertyName": "amount",
        "propertyValue": "8000",
        "changeSource": "API",
    },
]
HUBSPOT_MAPPING: dict[str, Any] = {
    "for_each": "[?subscriptionType=='deal.propertyChange' && propertyName=='amount']",
    "kpi": "'sales.pipeline'",
    "ts": "occurredAt",
    "value": "propertyValue",
    "dimensions": {"portal": "portalId", "source": "changeSource"},
}
HUBSPOT_KPI = "sales.pipeline"
EXPECTED_HUBSPOT = [
    ("2026-01-15T10:00:00+00:00", 12500.5, {"portal": "62515", "source": "CRM_UI"}),
    ("2026-01-16T11:00:00+00:00", 8000.0, {"portal": "62515", "source": "API"}),
]

# Salesforce: a record-triggered Flow's HTTP callout (or an outbound message relay)
# posting the changed Opportunity as JSON, with Salesforce's field names.
SALESFORCE_CLOSED_OPPORTUNITY: dict[str, Any] = {
    "organizationId": "00D5g000004XyZaEAK",
    "actionId": "04k5g000000TUVwAAO",
    "sobject": {
        "attributes": {"type": "Opportunity"},
        "Id": "0065g00000QrStUAAV",
        "Name": "Initech - Renewal 2026",
        "StageName": "Closed Won",
        "IsClosed": True,
        "IsWon": True,
        "Amount": 48000,
        "CurrencyIsoCode": "EUR",
        "Type": "Existing Customer - Upgrade",
        "Region__c": "EMEA",
        "LastModifiedDate": "2026-01-15T14:03:11.000Z",
    },
}
# `[sobject][?IsWon]` is the opportunity when it is won, else nothing.
SALESFORCE_MAPPING: dict[str, Any] = {
    "for_each": "[sobject][?IsWon]",
    "kpi": "'sales.closed_won'",
    "ts": "LastModifiedDate",
    "value": "Amount",
    "dimensions": {"region": "Region__c", "currency": "CurrencyIsoCode"},
}
SALESFORCE_KPI = "sales.closed_won"
EXPECTED_SALESFORCE = [
    ("2026-01-15T14:03:11+00:00", 48000.0, {"region": "EMEA", "currency": "EUR"}),
]

# BambooHR: the "employee changed" webhook; one request lists the employees whose
# monitored fields changed, with RFC 3339 timestamps and the fields as strings.
BAMBOOHR_EMPLOYEE_CHANGE: dict[str, Any] = {
    "employees": [
        {
            "id": "4231",
            "action": "Updated",
            "timestamp": "2026-01-15T09:30:00+01:00",
            "changedFields": ["department", "jobTitle"],
            "fields": {"department": "Engineering", "jobTitle": "Staff Engineer"},
        },
        {
            "id": "4232",
            "action": "Created",
            "timestamp": "2026-01-15T16:45:00Z",
            "changedFields": ["hireDate"],
            "fields": {"department": "Sales", "jobTitle": "Account Executive"},
        },
    ]
}
BAMBOOHR_MAPPING: dict[str, Any] = {
    "for_each": "employees",
    "kpi": "'people.changes'",
    "ts": "timestamp",
    "value": "length(changedFields)",
    "dimensions": {"department": "fields.department", "action": "action"},
}
BAMBOOHR_KPI = "people.changes"
EXPECTED_BAMBOOHR = [
    ("2026-01-15T08:30:00+00:00", 2.0, {"department": "Engineering", "action": "Updated"}),
    ("2026-01-15T16:45:00+00:00", 1.0, {"department": "Sales", "action": "Created"}),
]

# A survey tool (Delighted style) pushing one eNPS response; created_at in epoch seconds.
SURVEY_SCORE_PUSH: dict[str, Any] = {
    "event_type": "survey_response.created",
    "event_id": "evt_01HQ8Z6Y3K",
    "event_data": {
        "id": "98120",
        "score": 9,
        "comment": "Great onboarding",
        "created_at": 1768500000,  # 2026-01-15T18:00:00Z
        "person_properties": {"team": "support", "location": "Lisbon"},
    },
}
SURVEY_MAPPING: dict[str, Any] = {
    "kpi": "'people.enps'",
    "ts": "event_data.created_at",
    "value": "event_data.score",
    "dimensions": {"team": "event_data.person_properties.team"},
}
SURVEY_KPI = "people.enps"
EXPECTED_SURVEY = [("2026-01-15T18:00:00+00:00", 9.0, {"team": "support"})]

# (name, payload, mapping, KPI key, expected points as (ts, value, dimensions))
REALISTIC = [
    ("hubspot", HUBSPOT_DEALS_BATCH, HUBSPOT_MAPPING, HUBSPOT_KPI, EXPECTED_HUBSPOT),
    (
        "salesforce",
        SALESFORCE_CLOSED_OPPORTUNITY,
        SALESFORCE_MAPPING,
        SALESFORCE_KPI,
        EXPECTED_SALESFORCE,
    ),
    ("bamboohr", BAMBOOHR_EMPLOYEE_CHANGE, BAMBOOHR_MAPPING, BAMBOOHR_KPI, EXPECTED_BAMBOOHR),
    ("survey", SURVEY_SCORE_PUSH, SURVEY_MAPPING, SURVEY_KPI, EXPECTED_SURVEY),
]
