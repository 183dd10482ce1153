# -*- coding: utf-8 -*-
"""escalate against a real HTTP server on 127.0.0.1: retries, idempotency header, token handling."""

import json
import os
import sys

import pytest

from ansible_collections.memleak.remediation.plugins.modules import escalate

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "integration"))
from remediation_helpers import Webhook  # noqa: E402  pylint: disable=wrong-import-position

from test_remediation_ledger import patch_module_args  # noqa: E402  pylint: disable=wrong-import-position

BODY = {"case": "process_leak:process:java", "host": "db01"}


def run(args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            escalate.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def hook():
    server = Webhook()
    yield server
    server.stop()


def test_posts_json_with_the_key_and_the_token(hook, capsys):
    out = run({"url": hook.url, "body": BODY, "idempotency_key": "k1", "token": "t0ken", "backoff": 0}, capsys)
    assert out["changed"] is True and out["status"] == 201 and out["ticket"] == "TCK-1"
    request = hook.requests[0]
    assert request["body"] == BODY and request["headers"]["Idempotency-Key"] == "k1"
    assert request["headers"]["Authorization"] == "Bearer t0ken"
    assert "t0ken" not in json.dumps(out)


def test_the_same_key_is_a_duplicate_not_a_new_ticket(hook, capsys):
    run({"url": hook.url, "body": BODY, "idempotency_key": "k1", "backoff": 0}, capsys)
    again = run({"url": hook.url, "body": BODY, "idempotency_key": "k1", "backoff": 0}, capsys)
    assert again["duplicate"] is True and again["changed"] is False and again["ticket"] == "TCK-1"
    assert len(hook.tickets) == 1


def test_server_errors_are_retried_then_the_task_fails(hook, capsys):
    hook.fail_first, hook.fail_status = -1, 502
    out = run({"url": hook.url, "body": BODY, "idempotency_key": "k1", "retries": 2, "backoff": 0.01}, capsys)
    assert out["failed"] is True and [a["status"] for a in out["attempts"]] == [502, 502, 502]
    assert out["msg"].startswith("escalation to %s failed after 3 attempt(s): last status 502" % hook.url.split("://")[1])


def test_a_client_error_is_not_retried(hook, capsys):
    hook.fail_first, hook.fail_status = -1, 403
    out = run({"url": hook.url, "body": BODY, "idempotency_key": "k1", "retries": 3, "backoff": 0}, capsys)
    assert out["failed"] is True and len(out["attempts"]) == 1


def test_check_mode_posts_nothing(hook, capsys):
    out = run({"url": hook.url, "body": BODY, "idempotency_key": "k1"}, capsys, check_mode=True)
    assert out["changed"] is True and "would POST" in out["msg"] and hook.requests == []


def test_secrets_in_the_url_and_headers_are_sent_but_never_returned(hook, capsys):
    """A signature in the query, credentials before the host and header values reach the server only."""
    hook.fail_first, hook.fail_status = -1, 503
    url = hook.url.replace("://", "://user:pa55word-secret@") + "?sig=SIG-SECRET-123&x=1"
    out = run({"url": url, "body": BODY, "idempotency_key": "k1", "retries": 1, "backoff": 0,
               "headers": {"X-Signature": "HDR-SECRET-456"}}, capsys)
    assert out["failed"] is True
    assert hook.requests[0]["headers"]["X-Signature"] == "HDR-SECRET-456"
    assert "sig=SIG-SECRET-123" in hook.requests[0]["path"]
    text = json.dumps(out)
    for secret in ("SIG-SECRET-123", "HDR-SECRET-456", "pa55word-secret"):
        assert secret not in text
    assert "(query hidden)" in out["msg"] and "last status 503" in out["msg"]


def test_an_answer_that_echoes_a_secret_is_scrubbed():
    secrets = escalate._secrets({"url": "https://h/p?sig=SIG-SECRET-123", "token": None,
                                 "headers": {"X-Signature": "HDR-SECRET-456"}})
    answer = {"echo": "got sig=SIG-SECRET-123 and HDR-SECRET-456", "n": [1, "HDR-SECRET-456"]}
    assert escalate.scrub(answer, secrets) == {"echo": "got ******** and ********", "n": [1, "********"]}
