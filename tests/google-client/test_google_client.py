"""Google's official Python client (google-api-python-client) against a real authtrail server.

The expected behaviour comes from shared/reference/google-reports-api.md (Google's Reports API,
`activities.list`: §0 pitfalls, §2 parameters/response/errors, §6 the client's requests, §7 the
checklist) and, where the reference leaves it open, from issue 3. The data are 3000 demo activities
(seed 42) plus the hand-made activities of conftest.py.

Raw HTTP (urllib) is used only where the client cannot be: a 401 (the client turns it into a
RefreshError, §0.9), applicationName `logto` (not in the client's enum, §0.11), and the system
parameters `prettyPrint` and `fields`, whose effect on the raw bytes is the point.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from conftest import (
    IPV4_HANDMADE,
    IPV6_CANONICAL,
    PLUS_EMAIL,
    PLUS_PROFILE_ID,
    SLASH_EMAIL,
    TENANT,
    build_client,
)

LIST_KIND = "admin#reports#activities"
ITEM_KIND = "admin#reports#activity"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
INT64 = re.compile(r"^-?\d+$")
MAX_PAGES = 2000


# --------------------------------------------------------------------------------------------
# helpers


def parse_time(s: str) -> dt.datetime:
    """An RFC 3339 string as an aware datetime (fractions beyond microseconds dropped)."""
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", s)
    assert m, f"not RFC 3339: {s!r}"
    frac = (m.group(2) or "")[:6].ljust(6, "0")
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return dt.datetime.fromisoformat(f"{m.group(1)}.{frac}{tz}")


def rfc3339(t: dt.datetime, offset_minutes: int = 0, digits: int = 3, pad: str = "0") -> str:
    """`t` written in the given UTC offset with `digits` fraction digits (0: no fraction).

    Digits beyond microseconds are filled with `pad` (so pad="9" writes "just below" the next µs).
    """
    tz = dt.timezone(dt.timedelta(minutes=offset_minutes))
    local = t.astimezone(tz)
    out = local.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        frac = f"{local.microsecond:06d}"
        if digits <= 6:
            assert frac[digits:].strip("0") == "", "the time has more precision than the digits asked for"
            frac = frac[:digits]
        else:
            frac += pad * (digits - 6)
        out += "." + frac
    if offset_minutes == 0:
        return out + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    h, m = divmod(abs(offset_minutes), 60)
    return f"{out}{sign}{h:02d}:{m:02d}"


def key(item: dict) -> tuple:
    return parse_time(item["id"]["time"]), int(item["id"]["uniqueQualifier"])


def uqs(items: list) -> list:
    return [i["id"]["uniqueQualifier"] for i in items]


def traverse(reports, **kw) -> tuple[list, list]:
    """All pages of one query, followed with list_next(); returns (pages, items)."""
    pages = []
    req = reports.list(**kw)
    while req is not None:
        resp = req.execute()
        pages.append(resp)
        assert len(pages) <= MAX_PAGES, "paging does not end"
        req = reports.list_next(req, resp)
    items = [i for p in pages for i in p.get("items", [])]
    return pages, items


def assert_newest_first_no_duplicates(items: list):
    ids = uqs(items)
    assert len(ids) == len(set(ids)), "an activity was returned twice"
    keys = [key(i) for i in items]
    for a, b in zip(keys, keys[1:]):
        assert a > b, f"not newest first (by id.time, then uniqueQualifier): {a} before {b}"


def event(item: dict, name: str) -> dict | None:
    return next((e for e in item.get("events", []) if e.get("name") == name), None)


def param(ev: dict, name: str) -> dict | None:
    return next((p for p in ev.get("parameters", []) if p.get("name") == name), None)


def with_event(items: list, name: str) -> list:
    return [i for i in items if event(i, name) is not None]


def hm(server, name: str) -> str:
    """uniqueQualifier of a hand-made activity."""
    return server.handmade[name]["uniqueQualifier"]


def envelope(body: bytes, code: int, status: str, mentions: tuple = (), reason: str | None = None) -> dict:
    """Checks Google's error envelope and returns its `error` object."""
    doc = json.loads(body)
    assert isinstance(doc, dict) and set(doc) == {"error"}, doc
    err = doc["error"]
    assert err.get("code") == code, err
    assert isinstance(err.get("message"), str) and err["message"].strip(), err
    assert err.get("status") == status, err
    errors = err.get("errors")
    assert isinstance(errors, list) and errors, err
    for e in errors:
        for f in ("message", "domain", "reason"):
            assert isinstance(e.get(f), str) and e[f], f"errors[].{f} missing: {err}"
    if reason is not None:
        assert errors[0]["reason"] == reason, err
    for m in mentions:
        assert m.lower() in err["message"].lower(), f"the message does not mention {m!r}: {err['message']!r}"
    return err


def http_error(excinfo, code: int, status: str, mentions: tuple = (), reason: str | None = None) -> dict:
    e = excinfo.value
    assert e.resp.status == code, (e.resp.status, e.content[:500])
    err = envelope(e.content, code, status, mentions, reason)
    # What Google's client makes of the envelope (§0.8): message as reason, errors as details.
    assert e.reason == err["message"].strip()
    if "details" not in err and "detail" not in err:
        assert e.error_details == err["errors"]
    return err


def list_url(server, user_key: str, app: str, params=(), root: str | None = None) -> str:
    path = (
        "/admin/reports/v1/activity/users/"
        + urllib.parse.quote(user_key, safe="")
        + "/applications/"
        + urllib.parse.quote(app, safe="")
    )
    q = urllib.parse.urlencode(list(params), quote_via=urllib.parse.quote, safe="")
    return (root or server.base) + path + ("?" + q if q else "")


def raw_get(url: str, token: str | None = None, headers: dict | None = None):
    """(status, headers, body) of a GET, errors included."""
    h = {"Accept": "application/json"}
    if token is not None:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    req = urllib.request.Request(url, headers=h, method="GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


@pytest.fixture(scope="module")
def login_all(reports, server):
    """Every `login` activity seeded by the fixture, newest first (one traversal at 1000)."""
    _, items = traverse(reports, userKey="all", applicationName="login", maxResults=1000, endTime=server.seeded_end)
    assert len(items) > 1000, "the demo data should fill more than one page of 1000"
    return items


# --------------------------------------------------------------------------------------------
# listing, shapes, paging


def test_list_login_all_shape_and_kinds(reports, server):
    resp = reports.list(userKey="all", applicationName="login", maxResults=50).execute()
    assert resp["kind"] == LIST_KIND
    assert isinstance(resp.get("etag"), str) and resp["etag"]
    items = resp["items"]
    assert 0 < len(items) <= 50
    assert isinstance(resp.get("nextPageToken"), str) and resp["nextPageToken"]
    for i in items:
        assert i["kind"] == ITEM_KIND
        assert isinstance(i.get("etag"), str) and i["etag"]
        assert i["id"]["applicationName"] == "login"
        assert i["id"]["customerId"] == TENANT
        assert RFC3339.match(i["id"]["time"]), i["id"]["time"]
        assert isinstance(i["id"]["uniqueQualifier"], str) and INT64.match(i["id"]["uniqueQualifier"])
        # Google's quickstart indexes these directly (§0.7).
        assert isinstance(i["actor"]["email"], str) and "@" in i["actor"]["email"]
        assert i["events"] and isinstance(i["events"][0]["name"], str)
        for ev in i["events"]:
            for p in ev.get("parameters", []):
                assert isinstance(p["name"], str)
                assert "intValue" not in p or isinstance(p["intValue"], str)
                assert "boolValue" not in p or isinstance(p["boolValue"], bool)
                assert "multiValue" not in p or all(isinstance(v, str) for v in p["multiValue"])
    assert_newest_first_no_duplicates(items)


def test_int64_fields_are_strings(reports, server):
    resp = reports.list(userKey=PLUS_EMAIL, applicationName="login", eventName="suspicious_login").execute()
    assert uqs(resp["items"]) == [hm(server, "suspicious_login")]
    item = resp["items"][0]
    assert isinstance(item["id"]["uniqueQualifier"], str)
    ev = event(item, "suspicious_login")
    ts = param(ev, "login_timestamp")
    assert ts == {"name": "login_timestamp", "intValue": str(server.handmade["suspicious_login"]["login_timestamp_us"])}
    assert param(ev, "affected_email_address") == {"name": "affected_email_address", "value": PLUS_EMAIL}

    resp = reports.list(userKey=PLUS_EMAIL, applicationName="login", eventName="login_success").execute()
    by_uq = {i["id"]["uniqueQualifier"]: i for i in resp["items"]}
    ev = event(by_uq[hm(server, "success_suspicious")], "login_success")
    assert param(ev, "is_suspicious") == {"name": "is_suspicious", "boolValue": True}
    ev = event(by_uq[hm(server, "success_mfa")], "login_success")
    assert param(ev, "login_challenge_method") == {
        "name": "login_challenge_method",
        "multiValue": ["password", "security_key"],
    }
    assert param(ev, "is_suspicious") == {"name": "is_suspicious", "boolValue": False}
    assert param(ev, "login_type") == {"name": "login_type", "value": "google_password"}


def test_paging_with_list_next_matches_one_traversal(reports):
    pages37, small = traverse(reports, userKey="all", applicationName="login", maxResults=37)
    pages1000, big = traverse(reports, userKey="all", applicationName="login", maxResults=1000)
    assert len(big) > 1000
    assert len(pages1000) >= 2
    for pages, size in ((pages37, 37), (pages1000, 1000)):
        for p in pages:
            assert p["kind"] == LIST_KIND
            assert len(p.get("items", [])) <= size
        for p in pages[:-1]:
            assert isinstance(p.get("nextPageToken"), str) and p["nextPageToken"]
        assert "nextPageToken" not in pages[-1], "nextPageToken must be absent on the last page"
    assert uqs(small) == uqs(big)
    assert [i["id"]["time"] for i in small] == [i["id"]["time"] for i in big]
    assert_newest_first_no_duplicates(big)


def test_default_page_size_is_1000(reports, login_all):
    resp = reports.list(userKey="all", applicationName="login").execute()
    items = resp["items"]
    assert len(items) <= 1000
    assert "nextPageToken" in resp  # there are more than 1000 login activities
    assert uqs(items) == uqs(login_all[: len(items)])


def test_max_results_bounds_are_accepted(reports, login_all):
    one = reports.list(userKey="all", applicationName="login", maxResults=1).execute()
    assert len(one["items"]) == 1 and "nextPageToken" in one
    assert uqs(one["items"]) == uqs(login_all[:1])
    full = reports.list(userKey="all", applicationName="login", maxResults=1000).execute()
    assert 0 < len(full["items"]) <= 1000


# --------------------------------------------------------------------------------------------
# eventName and filters (expected results computed from the full traversal)


@pytest.mark.parametrize("name", ["logout", "login_success", "login_failure"])
def test_event_name(reports, server, login_all, name):
    _, items = traverse(reports, userKey="all", applicationName="login", eventName=name, endTime=server.seeded_end)
    expected = with_event(login_all, name)
    assert expected, f"the demo data should hold {name}"
    assert uqs(items) == uqs(expected)


def test_filters_is_suspicious_true(reports, server, login_all):
    _, items = traverse(
        reports,
        userKey="all",
        applicationName="login",
        eventName="login_success",
        filters="is_suspicious==true",
        endTime=server.seeded_end,
    )
    expected = [
        i for i in with_event(login_all, "login_success")
        if (param(event(i, "login_success"), "is_suspicious") or {}).get("boolValue") is True
    ]
    assert hm(server, "success_suspicious") in uqs(items)
    assert hm(server, "success_mfa") not in uqs(items)
    assert uqs(items) == uqs(expected)


@pytest.mark.parametrize(
    "filters,check",
    [
        (
            "is_suspicious==false,login_type<>google_password",
            lambda ev: param(ev, "is_suspicious")["boolValue"] is False
            and param(ev, "login_type")["value"] != "google_password",
        ),
        (
            "login_type<>saml,is_suspicious==true",
            lambda ev: param(ev, "is_suspicious")["boolValue"] is True and param(ev, "login_type")["value"] != "saml",
        ),
        (
            "login_type<>google_password,login_type<>saml",
            lambda ev: param(ev, "login_type")["value"] not in ("google_password", "saml"),
        ),
    ],
    ids=["not-suspicious-and-not-password", "suspicious-and-not-saml", "two-not-equal-clauses"],
)
def test_filters_multi_clause_with_not_equal(reports, server, login_all, filters, check):
    _, items = traverse(
        reports,
        userKey="all",
        applicationName="login",
        eventName="login_success",
        filters=filters,
        endTime=server.seeded_end,
    )
    expected = [i for i in with_event(login_all, "login_success") if check(event(i, "login_success"))]
    assert expected, f"the demo data should hold matches for {filters}"
    assert uqs(items) == uqs(expected)


def test_filters_multi_value_any_element(reports, server, login_all):
    # `==` on a multiValue parameter: some element equals (§2.4).
    _, items = traverse(
        reports,
        userKey="all",
        applicationName="login",
        eventName="login_success",
        filters="login_challenge_method==security_key",
        endTime=server.seeded_end,
    )
    expected = [
        i for i in with_event(login_all, "login_success")
        if "security_key" in param(event(i, "login_success"), "login_challenge_method")["multiValue"]
    ]
    assert hm(server, "success_mfa") in uqs(items)  # ["password", "security_key"]: not the first element
    assert uqs(items) == uqs(expected)

    # `<>` on a multiValue parameter: no element equals.
    _, items = traverse(
        reports,
        userKey="all",
        applicationName="login",
        eventName="login_success",
        filters="login_challenge_method<>password",
        endTime=server.seeded_end,
    )
    expected = [
        i for i in with_event(login_all, "login_success")
        if "password" not in param(event(i, "login_success"), "login_challenge_method")["multiValue"]
    ]
    assert expected, "the demo data should hold logins without a password challenge"
    assert hm(server, "success_mfa") not in uqs(items)
    assert uqs(items) == uqs(expected)


def test_an_unlisted_value_of_an_open_enum_is_stored_and_found(reports, server):
    # Google adds login_challenge_method values without notice: one authtrail does not list is
    # stored as sent, served as sent, and can be filtered on, never refused (issue #19, item 3).
    email = "open-enum@example.com"
    value = "passkey_cross_device_hybrid"  # not among the catalogue's values
    (receipt,) = server.ingest([{
        "eventId": "gclient-open-enum",
        "id": {"applicationName": "login"},
        "actor": {"email": email, "callerType": "USER"},
        "ipAddress": "198.51.100.252",
        "events": [{"name": "login_success", "parameters": [
            {"name": "login_type", "value": "google_password"},
            {"name": "login_challenge_method", "multiValue": ["password", value]},
        ]}],
    }])
    resp = reports.list(userKey=email, applicationName="login").execute()
    assert uqs(resp["items"]) == [str(receipt["uniqueQualifier"])]
    assert param(event(resp["items"][0], "login_success"), "login_challenge_method") == {
        "name": "login_challenge_method",
        "multiValue": ["password", value],
    }
    resp = reports.list(
        userKey="all", applicationName="login", filters=f"login_challenge_method=={value}"
    ).execute()
    assert uqs(resp["items"]) == [str(receipt["uniqueQualifier"])]


def test_filters_int_value_compares_numerically(reports, server, login_all):
    at = server.handmade["suspicious_login"]["login_timestamp_us"]
    warnings = with_event(login_all, "suspicious_login")

    def ts(i):
        return int(param(event(i, "suspicious_login"), "login_timestamp")["intValue"])

    for op, keep in ((">=", lambda v: v >= at), ("<", lambda v: v < at), ("==", lambda v: v == at)):
        _, items = traverse(
            reports,
            userKey="all",
            applicationName="login",
            eventName="suspicious_login",
            filters=f"login_timestamp{op}{at}",
            endTime=server.seeded_end,
        )
        assert uqs(items) == uqs([i for i in warnings if keep(ts(i))]), op
        assert (hm(server, "suspicious_login") in uqs(items)) == (op != "<")


def test_filter_on_a_parameter_of_another_event_is_empty(reports):
    # §2.4 / §7.5: a parameter that does not belong to the event gives an empty report.
    resp = reports.list(
        userKey="all", applicationName="login", eventName="logout", filters="is_suspicious==true"
    ).execute()
    assert resp["kind"] == LIST_KIND
    assert "items" not in resp
    assert "nextPageToken" not in resp


# --------------------------------------------------------------------------------------------
# time windows


def test_time_window_with_offsets_and_fractions(reports, server):
    t = {k: v["time"] for k, v in server.handmade.items()}
    us = dt.timedelta(microseconds=1)
    ms = dt.timedelta(milliseconds=1)
    cases = [
        # +05:30 with milliseconds, -03:00 with microseconds
        (rfc3339(t["success_suspicious"] - ms, 330, 3), rfc3339(t["suspicious_login"] + 500 * us, -180, 6),
         ["suspicious_login", "success_suspicious"]),
        # nine fraction digits: just below .250 and just above .375
        (rfc3339(t["success_suspicious"] - us, 330, 9, pad="9"), rfc3339(t["suspicious_login"] + us, 0, 9),
         ["suspicious_login", "success_suspicious"]),
        # a start one microsecond after an activity excludes it
        (rfc3339(t["success_suspicious"] + us, 540, 6), rfc3339(t["suspicious_login"] + ms, -600, 3),
         ["suspicious_login"]),
        # no fraction at all, Z and -08:00
        (rfc3339(t["success_mfa"] - dt.timedelta(seconds=1), 0, 0),
         rfc3339(t["failure"] + dt.timedelta(seconds=1), -480, 0),
         ["failure", "suspicious_login", "success_suspicious", "success_mfa"]),
    ]
    for start, end, names in cases:
        resp = reports.list(userKey=PLUS_EMAIL, applicationName="login", startTime=start, endTime=end).execute()
        assert uqs(resp.get("items", [])) == [hm(server, n) for n in names], (start, end)


def test_time_window_over_demo_data(reports, server, login_all):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start_t = now - dt.timedelta(days=3)
    end_t = now - dt.timedelta(days=2)
    start, end = rfc3339(start_t, 330, 3), rfc3339(end_t, -420, 3)
    _, items = traverse(reports, userKey="all", applicationName="login", startTime=start, endTime=end)
    assert items, "the demo spreads activities over 7 days"
    ms = dt.timedelta(milliseconds=1)
    for i in items:
        assert start_t - ms <= parse_time(i["id"]["time"]) <= end_t, i["id"]
    inside = [i for i in login_all if start_t < parse_time(i["id"]["time"]) < end_t - ms]
    got = set(uqs(items))
    assert all(u in got for u in uqs(inside))
    assert_newest_first_no_duplicates(items)


def test_start_time_after_end_time_is_400(reports):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with pytest.raises(HttpError) as excinfo:
        reports.list(
            userKey="all",
            applicationName="login",
            startTime=rfc3339(now - dt.timedelta(hours=1)),
            endTime=rfc3339(now - dt.timedelta(hours=2)),
        ).execute()
    http_error(excinfo, 400, "INVALID_ARGUMENT", mentions=("Start time is after end time",))


def test_start_time_in_the_future_is_400(reports):
    with pytest.raises(HttpError) as excinfo:
        reports.list(
            userKey="all",
            applicationName="login",
            startTime=rfc3339(dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=1), 330),
        ).execute()
    http_error(excinfo, 400, "INVALID_ARGUMENT")


def test_window_older_than_googles_180_days_is_answered_from_what_is_stored(reports, server):
    # Google clamps startTime to now - 180 days (reference §2.3) because Google keeps 180 days.
    # authtrail keeps what its own retention keeps, so an old window is answered, not refused
    # (docs/google-reports-api.md, "Deviations"). The demo holds nothing that old: empty, 200.
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    resp = reports.list(
        userKey="all",
        applicationName="login",
        startTime=rfc3339(now - dt.timedelta(days=400)),
        endTime=rfc3339(now - dt.timedelta(days=300)),
    ).execute()
    assert resp["kind"] == "admin#reports#activities"
    assert "items" not in resp


# --------------------------------------------------------------------------------------------
# userKey, actorIpAddress, customerId, applications


@pytest.mark.parametrize("user_key", [PLUS_EMAIL, "A+B@Example.COM", "a+B@EXAMPLE.com"])
def test_email_user_key_with_plus_and_mixed_case(reports, server, user_key):
    _, items = traverse(reports, userKey=user_key, applicationName="login", endTime=server.seeded_end)
    assert uqs(items) == [hm(server, n) for n in ("failure", "suspicious_login", "success_suspicious", "success_mfa")]
    assert all(i["actor"]["email"].lower() == PLUS_EMAIL for i in items)


def test_email_user_key_with_slash(reports, server):
    # The client sends x%2By%2Fz%40example.com; %2F is not a path separator (§0.3).
    resp = reports.list(userKey=SLASH_EMAIL.upper(), applicationName="login").execute()
    assert uqs(resp["items"]) == [hm(server, "slash_user")]
    assert resp["items"][0]["actor"]["email"].lower() == SLASH_EMAIL


def test_profile_id_user_key(reports, server):
    resp = reports.list(userKey=PLUS_PROFILE_ID, applicationName="login", endTime=server.seeded_end).execute()
    assert uqs(resp["items"]) == [
        hm(server, n) for n in ("failure", "suspicious_login", "success_suspicious", "success_mfa")
    ]
    assert all(i["actor"]["profileId"] == PLUS_PROFILE_ID for i in resp["items"])


@pytest.mark.parametrize("user_key", ["nobody.at.all@example.com", "12345678901234567890"])
def test_unknown_user_key_is_200_without_items(reports, user_key):
    resp = reports.list(userKey=user_key, applicationName="login").execute()
    assert resp["kind"] == LIST_KIND
    assert "items" not in resp, "an empty result has no items key (§0.7)"
    assert "nextPageToken" not in resp


def test_empty_result_has_no_items(reports):
    resp = reports.list(userKey=PLUS_EMAIL, applicationName="login", eventName="gov_attack_warning").execute()
    assert resp["kind"] == LIST_KIND
    assert "items" not in resp
    assert "nextPageToken" not in resp
    assert resp.get("items", []) == []  # what Google's quickstart does


@pytest.mark.parametrize(
    "spelling",
    ["2001:0DB8:0000:00AB:0000:0000:0000:0042", "2001:db8:0:ab:0:0:0:42", "2001:DB8::AB:0:0:0:42", IPV6_CANONICAL],
)
def test_actor_ip_address_ipv6_any_spelling(reports, server, spelling):
    resp = reports.list(userKey="all", applicationName="login", actorIpAddress=spelling).execute()
    assert uqs(resp["items"]) == [hm(server, "success_suspicious")]
    assert resp["items"][0]["ipAddress"] == IPV6_CANONICAL


def test_actor_ip_address_ipv4(reports, server):
    _, items = traverse(reports, userKey="all", applicationName="login", actorIpAddress=IPV4_HANDMADE)
    got = uqs(items)
    assert hm(server, "success_mfa") in got and hm(server, "failure") in got
    assert all(i["ipAddress"] == IPV4_HANDMADE for i in items)


@pytest.mark.parametrize("customer", ["my_customer", TENANT])
def test_customer_id(reports, customer):
    plain = reports.list(userKey="all", applicationName="login", maxResults=20).execute()
    scoped = reports.list(userKey="all", applicationName="login", maxResults=20, customerId=customer).execute()
    assert uqs(scoped["items"]) == uqs(plain["items"])


def test_login_application_holds_only_google_events(login_all, server):
    assert all(i["id"]["applicationName"] == "login" for i in login_all)
    assert hm(server, "logto_refresh") not in uqs(login_all)
    logto_key = re.compile(r"^[A-Z][A-Za-z0-9]*\.")
    assert not any(logto_key.match(e["name"]) for i in login_all for e in i["events"])


def test_logto_application(reports, server):
    # `logto` is not in the client's applicationName enum, so the client refuses it before sending
    # (§0.11); Google-client users cannot reach it, raw HTTP can.
    with pytest.raises(TypeError):
        reports.list(userKey="all", applicationName="logto")

    status, headers, body = raw_get(
        list_url(server, "all", "logto", [("maxResults", "200"), ("alt", "json")]), server.read_token
    )
    assert status == 200, body[:500]
    doc = json.loads(body)
    assert doc["kind"] == LIST_KIND
    items = doc["items"]
    assert items
    logto_key = re.compile(r"^[A-Z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$")
    for i in items:
        assert i["kind"] == ITEM_KIND
        assert i["id"]["applicationName"] == "logto"
        assert INT64.match(i["id"]["uniqueQualifier"])
        assert i["events"]
        for e in i["events"]:
            assert logto_key.match(e["name"]), e["name"]
    names = {e["name"] for i in items for e in i["events"]}
    assert any(n.startswith("Interaction.") or n.startswith("ExchangeTokenBy.") for n in names), names
    assert_newest_first_no_duplicates(items)

    status, _, body = raw_get(
        list_url(server, "A+B@example.com", "logto", [("eventName", "ExchangeTokenBy.RefreshToken")]),
        server.read_token,
    )
    assert status == 200, body[:500]
    doc = json.loads(body)
    assert uqs(doc["items"]) == [hm(server, "logto_refresh")]
    assert doc["items"][0]["events"][0]["name"] == "ExchangeTokenBy.RefreshToken"


# --------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("n", [0, 5000, 1001, -1])
def test_max_results_out_of_range_is_400(reports, n):
    # The client does not check maxResults bounds (§0.11); the server must.
    with pytest.raises(HttpError) as excinfo:
        reports.list(userKey="all", applicationName="login", maxResults=n).execute()
    http_error(excinfo, 400, "INVALID_ARGUMENT", mentions=("maxResults",))


@pytest.mark.parametrize("token", ["garbage", "Mg==", "!!!", "v1." + "A" * 60])
def test_garbage_page_token_is_400(reports, token):
    with pytest.raises(HttpError) as excinfo:
        reports.list(userKey="all", applicationName="login", pageToken=token).execute()
    http_error(excinfo, 400, "INVALID_ARGUMENT", mentions=("pageToken",))


def test_tampered_page_token_is_400(reports):
    first = reports.list(userKey="all", applicationName="login", maxResults=5).execute()
    token = first["nextPageToken"]
    mid = len(token) // 2
    swap = "B" if token[mid] != "B" else "C"
    tampered = token[:mid] + swap + token[mid + 1:]
    assert tampered != token
    with pytest.raises(HttpError) as excinfo:
        reports.list(userKey="all", applicationName="login", maxResults=5, pageToken=tampered).execute()
    http_error(excinfo, 400, "INVALID_ARGUMENT", mentions=("pageToken",))
    # The untouched token still works.
    second = reports.list(userKey="all", applicationName="login", maxResults=5, pageToken=token).execute()
    assert not set(uqs(first["items"])) & set(uqs(second["items"]))


@pytest.mark.parametrize(
    "kw,name",
    [({"orgUnitID": "id:abc"}, "orgUnitID"), ({"groupIdFilter": "id:abc123,id:xyz456"}, "groupIdFilter")],
)
def test_org_unit_and_group_filters_are_not_supported(reports, kw, name):
    with pytest.raises(HttpError) as excinfo:
        reports.list(userKey="all", applicationName="login", **kw).execute()
    http_error(excinfo, 400, "INVALID_ARGUMENT", mentions=(name, "not supported"))


def test_ingest_only_token_is_403(server):
    reports = build_client(server.base + "/", server.ingest_token).activities()
    with pytest.raises(HttpError) as excinfo:
        reports.list(userKey="all", applicationName="login").execute()
    http_error(excinfo, 403, "PERMISSION_DENIED")


BAD_TOKENS = [None, "not-a-token", "atr_" + "A" * 43]


@pytest.mark.parametrize("token", BAD_TOKENS, ids=["missing", "garbage", "unknown"])
def test_bad_token_is_401_with_www_authenticate(server, token):
    # Raw HTTP: with a bare token the client turns a 401 into RefreshError (§0.9).
    status, headers, body = raw_get(list_url(server, "all", "login", [("alt", "json")]), token)
    assert status == 401, body[:500]
    assert (headers.get("WWW-Authenticate") or "").startswith("Bearer"), dict(headers)
    envelope(body, 401, "UNAUTHENTICATED", reason="authError")


def test_bad_token_through_the_client_raises_refresh_error(server):
    # What Google's client does on a 401 with a bare bearer token (§0.9, §6).
    reports = build_client(server.base + "/", "atr_" + "B" * 43).activities()
    with pytest.raises(RefreshError):
        reports.list(userKey="all", applicationName="login").execute()


def test_access_token_query_parameter(server):
    url = list_url(server, "all", "login", [("maxResults", "3"), ("access_token", server.read_token)])
    status, _, body = raw_get(url)
    assert status == 200, body[:500]
    doc = json.loads(body)
    assert doc["kind"] == LIST_KIND and len(doc["items"]) == 3

    url = list_url(server, "all", "login", [("maxResults", "3"), ("access_token", "atr_" + "C" * 43)])
    status, headers, body = raw_get(url)
    assert status == 401
    assert (headers.get("WWW-Authenticate") or "").startswith("Bearer")
    envelope(body, 401, "UNAUTHENTICATED", reason="authError")


def test_unknown_route_is_404_in_envelope(server):
    url = server.base + "/admin/reports/v1/activity/users/all/applications/login/no-such-thing?alt=json"
    status, _, body = raw_get(url, server.read_token)
    assert status == 404, body[:500]
    envelope(body, 404, "NOT_FOUND")


# --------------------------------------------------------------------------------------------
# system parameters (raw HTTP)


def test_pretty_print_false_gives_compact_json(server):
    params = [("maxResults", "3"), ("alt", "json")]
    status, headers, pretty = raw_get(list_url(server, PLUS_EMAIL, "login", params), server.read_token)
    assert status == 200
    assert "application/json" in (headers.get("Content-Type") or "")
    assert b"\n" in pretty.strip(), "Google's default is prettyPrint=true"

    status, headers, compact = raw_get(
        list_url(server, PLUS_EMAIL, "login", params + [("prettyPrint", "false")]), server.read_token
    )
    assert status == 200
    doc = json.loads(compact)
    # The same content (the page token may differ: each request freezes its own window end).
    strip = lambda d: {k: v for k, v in d.items() if k != "nextPageToken"}  # noqa: E731
    assert strip(doc) == strip(json.loads(pretty))
    assert b"\n" not in compact.strip()
    assert compact.strip() == json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def test_fields_partial_response(server):
    params = [("maxResults", "5"), ("alt", "json")]
    status, _, body = raw_get(list_url(server, "all", "login", params), server.read_token)
    assert status == 200
    whole = json.loads(body)

    fields = "items(id/uniqueQualifier),nextPageToken"
    status, _, body = raw_get(list_url(server, "all", "login", params + [("fields", fields)]), server.read_token)
    assert status == 200, body[:500]
    part = json.loads(body)
    assert set(part) == {"items", "nextPageToken"}
    assert part["items"] == [{"id": {"uniqueQualifier": u}} for u in uqs(whole["items"])]
    assert isinstance(part["nextPageToken"], str) and part["nextPageToken"]


def test_system_and_unknown_parameters_are_ignored(server):
    params = [
        ("maxResults", "4"),
        ("alt", "json"),
        ("prettyPrint", "true"),
        ("key", "AIzaSyNotARealKey"),
        ("quotaUser", "user-42"),
        ("$.xgafv", "2"),
        ("upload_protocol", "raw"),
        ("someParameterGoogleDoesNotHave", "1"),
    ]
    status, _, body = raw_get(list_url(server, "all", "login", params), server.read_token)
    assert status == 200, body[:500]
    doc = json.loads(body)
    assert doc["kind"] == LIST_KIND and len(doc["items"]) == 4


def test_duplicate_query_parameter_last_wins(server):
    url = list_url(server, "all", "login", [("maxResults", "0"), ("maxResults", "3"), ("alt", "json")])
    status, _, body = raw_get(url, server.read_token)
    assert status == 200, body[:500]
    assert len(json.loads(body)["items"]) == 3


# --------------------------------------------------------------------------------------------
# path prefix (only when the server was started with one)


@pytest.mark.skipif(
    not os.environ.get("AUTHTRAIL_GOOGLE_PREFIX"),
    reason="set AUTHTRAIL_GOOGLE_PREFIX=/audit to start the server with --google-prefix and test it",
)
@pytest.mark.parametrize("trailing_slash", [True, False])
def test_path_prefix(server, reports, trailing_slash):
    prefix = "/" + server.google_prefix.strip("/")
    endpoint = server.base + prefix + ("/" if trailing_slash else "")
    prefixed = build_client(endpoint, server.read_token).activities()
    a = prefixed.list(userKey=PLUS_EMAIL, applicationName="login", endTime=server.seeded_end).execute()
    b = reports.list(userKey=PLUS_EMAIL, applicationName="login", endTime=server.seeded_end).execute()
    assert uqs(a["items"]) == uqs(b["items"]) and a["items"]
    # Paging under the prefix too.
    _, items = traverse(prefixed, userKey="all", applicationName="login", maxResults=400, endTime=server.seeded_end)
    _, expected = traverse(reports, userKey="all", applicationName="login", maxResults=1000, endTime=server.seeded_end)
    assert uqs(items) == uqs(expected)


# --------------------------------------------------------------------------------------------
# paging while new activities arrive (last: it ingests)


def test_paging_is_stable_while_new_activities_arrive(reports, server):
    # §0.10: a keyset cursor frozen at the first page's effective endTime.
    _, baseline = traverse(reports, userKey="all", applicationName="login", maxResults=37)
    req = reports.list(userKey="all", applicationName="login", maxResults=37)
    resp = req.execute()
    seen = list(resp.get("items", []))
    fresh = [
        {
            "eventId": f"gclient-live-{k}",
            "id": {"applicationName": "login"},  # time of receipt: newer than everything listed
            "actor": {"email": f"live{k}@example.com", "callerType": "USER"},
            "ipAddress": "192.0.2.200",
            "events": [{"name": "login_success", "parameters": [
                {"name": "login_type", "value": "google_password"},
                {"name": "login_challenge_method", "multiValue": ["password"]},
                {"name": "is_suspicious", "boolValue": False},
            ]}],
        }
        for k in range(3)
    ]
    receipts = server.ingest(fresh)
    new_uqs = [str(r["uniqueQualifier"]) for r in receipts]
    pages = 1
    req = reports.list_next(req, resp)
    while req is not None:
        resp = req.execute()
        seen.extend(resp.get("items", []))
        pages += 1
        assert pages <= MAX_PAGES
        req = reports.list_next(req, resp)
    assert uqs(seen) == uqs(baseline), "paging shifted while new activities arrived"
    assert not set(new_uqs) & set(uqs(seen))

    # A new query sees them, first.
    head = reports.list(userKey="all", applicationName="login", maxResults=3).execute()
    assert sorted(uqs(head["items"])) == sorted(new_uqs)
