"""Google's own client opens a watch channel (`activities.watch`), receives the `sync` message and
then each matching activity through a real local receiver, with Google's X-Goog-* headers, and
stops the channel (`channels.stop`); after the stop nothing more arrives. The reference is
shared/reference/google-reports-api.md §3."""

import datetime as dt
import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from googleapiclient.errors import HttpError

from conftest import build_client


def receiver():
    got: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            got.put(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, got, f"http://127.0.0.1:{srv.server_port}/notifications"


def failure(tag: str) -> dict:
    return {
        "eventId": f"watch-{tag}-{uuid.uuid4()}",
        "id": {"applicationName": "login"},
        "actor": {"email": "watched@example.com"},
        "ipAddress": "198.51.100.23",
        "events": [{"name": "login_failure", "parameters": [{"name": "login_type", "value": "google_password"}]}],
    }


def success(tag: str) -> dict:
    a = failure(tag)
    a["events"] = [{"name": "login_success"}]
    return a


def test_watch_receives_sync_then_matching_activities_and_stop_ends_it(server):
    srv, got, address = receiver()
    try:
        client = build_client(server.base + "/", server.read_ingest_token)
        channel_id = str(uuid.uuid4())
        before_ms = int(time.time() * 1000)
        channel = (
            client.activities()
            .watch(
                userKey="all",
                applicationName="login",
                eventName="login_failure",
                body={"id": channel_id, "type": "web_hook", "address": address, "token": "target=authtrail-tests"},
            )
            .execute()
        )
        assert channel["kind"] == "api#channel"
        assert channel["id"] == channel_id
        assert channel["resourceId"]
        assert channel["resourceUri"].endswith("/admin/reports/v1/activity/users/all/applications/login?alt=json")
        # int64 as a string; the default (and maximum) life is 6 hours.
        assert isinstance(channel["expiration"], str)
        life_ms = int(channel["expiration"]) - before_ms
        assert 6 * 3600_000 - 60_000 <= life_ms <= 6 * 3600_000 + 60_000, life_ms

        headers, body = got.get(timeout=30)
        assert headers["x-goog-resource-state"] == "sync"
        assert headers["x-goog-message-number"] == "1"
        assert headers["x-goog-channel-id"] == channel_id
        assert headers["x-goog-channel-token"] == "target=authtrail-tests"
        assert headers["x-goog-resource-id"] == channel["resourceId"]
        assert headers["x-goog-resource-uri"] == channel["resourceUri"]
        assert headers["x-goog-channel-expiration"].endswith(" GMT")
        assert body == b""

        # A success (not selected by eventName) between two failures: only the failures arrive.
        r = server.ingest([failure("a"), success("b"), failure("c")])
        numbers = []
        for want in (r[0], r[2]):
            headers, body = got.get(timeout=30)
            assert headers["x-goog-resource-state"] == "login_failure"
            assert headers["x-goog-channel-id"] == channel_id
            activity = json.loads(body)
            assert activity["kind"] == "admin#reports#activity"
            assert activity["id"]["uniqueQualifier"] == str(want["uniqueQualifier"])
            assert activity["events"][0]["name"] == "login_failure"
            numbers.append(int(headers["x-goog-message-number"]))
        assert 1 < numbers[0] < numbers[1], "increasing message numbers after the sync"

        assert client.channels().stop(body={"id": channel_id, "resourceId": channel["resourceId"]}).execute() in ("", {}, None)
        with pytest.raises(HttpError) as again:
            client.channels().stop(body={"id": channel_id, "resourceId": channel["resourceId"]}).execute()
        assert again.value.resp.status == 404
        server.ingest([failure("after-stop")])
        with pytest.raises(queue.Empty):
            got.get(timeout=3)
    finally:
        srv.shutdown()


def test_watch_refuses_bad_channels_naming_the_field(server):
    client = build_client(server.base + "/", server.read_ingest_token)
    srv, _, address = receiver()
    try:
        past = str(int((dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).timestamp() * 1000))
        cases = [
            ({"id": str(uuid.uuid4()), "type": "web_hook", "address": address, "expiration": past}, "expiration"),
            ({"id": str(uuid.uuid4()), "type": "web_hook", "address": address, "token": "t" * 257}, "token"),
            ({"id": str(uuid.uuid4()), "type": "web_hook", "address": "not a url"}, "address"),
            ({"id": str(uuid.uuid4()), "type": "carrier_pigeon", "address": address}, "type"),
        ]
        for body, field in cases:
            with pytest.raises(HttpError) as e:
                client.activities().watch(userKey="all", applicationName="login", body=body).execute()
            assert e.value.resp.status == 400, body
            assert field in e.value.content.decode(), (field, e.value.content)
        dup = {"id": str(uuid.uuid4()), "type": "web_hook", "address": address}
        opened = client.activities().watch(userKey="all", applicationName="login", body=dup).execute()
        with pytest.raises(HttpError) as e:
            client.activities().watch(userKey="all", applicationName="login", body=dup).execute()
        assert e.value.resp.status == 400
        assert "id" in e.value.content.decode()
        client.channels().stop(body={"id": dup["id"], "resourceId": opened["resourceId"]}).execute()
    finally:
        srv.shutdown()
