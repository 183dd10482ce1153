#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: escalate
short_description: Post the evidence of a memory case to a ticket webhook, once per case
version_added: "0.1.0"
description:
  - Sends O(body) (the evidence bundle of P(memleak.remediation.evidence_bundle#filter)) as JSON to
    O(url) with an idempotency key in the O(idempotency_header) header, so a receiver that honours the key
    opens one ticket per case however often the run repeats. The C(remediate) role also remembers the key and
    the ticket in the host's remediation ledger and does not post again for a case that was escalated.
  - Connection errors, HTTP 408, 429 and 5xx answers are retried O(retries) times, waiting O(backoff)
    seconds, then twice as long each time (or the server's C(Retry-After), up to 60 s); any other
    4xx answer fails at once. When every try failed the task fails with each attempt's status, so the
    escalation is reported, never lost; the role records it as failed and the next run tries again with the same key.
  - HTTP 409 (conflict) counts as success with RV(duplicate=true) - the receiver already has this key.
  - Meant to run on the controller (C(delegate_to=localhost)); the managed host need not reach the ticket system.
author:
  - memleak.remediation contributors (!UNKNOWN)
options:
  url:
    description:
      - The webhook, C(http://) or C(https://).
      - Treated as a secret (a signature in its query, credentials before the host are common): never logged;
        messages name it by host, port and path only.
    type: str
    required: true
  body:
    description: The JSON document to post.
    type: dict
    required: true
  idempotency_key:
    description: The key of the case (P(memleak.remediation.next_step#filter) returns it); the same for every run of one case.
    type: str
    required: true
  idempotency_header:
    description: The header that carries O(idempotency_key).
    type: str
    default: Idempotency-Key
  token:
    description:
      - Secret sent in O(token_header) as O(token_prefix) followed by the token. Never logged, never returned.
    type: str
  token_header:
    description: The header of O(token).
    type: str
    default: Authorization
  token_prefix:
    description: Text before the token in O(token_header); set it to an empty string for a bare token.
    type: str
    default: "Bearer "
  headers:
    description: More headers to send. Their values are treated as secrets: never logged, never returned.
    type: dict
    default: {}
  timeout:
    description: Seconds one try may take.
    type: int
    default: 30
  retries:
    description: Tries after the first one for errors worth retrying.
    type: int
    default: 4
  backoff:
    description: Seconds before the first retry; doubled for each further retry.
    type: float
    default: 2
  validate_certs:
    description: Verify the TLS certificate of an C(https://) O(url).
    type: bool
    default: true
  use_proxy:
    description: Use the proxy from the C(https_proxy) / C(http_proxy) environment variables.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode nothing is posted; the result says what would be sent and where.
  diff_mode:
    support: none
    details: Nothing on the host changes.
  platform:
    platforms: posix
    details: Runs where it is delegated, normally the controller.
notes:
  - The receiver decides what a ticket is; RV(ticket) is read from the answer's JSON (C(ticket), C(id),
    C(number), C(key) or C(sys_id)) or its C(Location) header.
seealso:
  - name: The Idempotency-Key HTTP header (IETF draft)
    description: The convention this module follows for retried POST requests.
    link: https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
"""

EXAMPLES = r"""
- name: Escalate the case with its evidence
  memleak.remediation.escalate:
    url: https://tickets.example.com/hooks/memleak
    token: "{{ vault_memleak_webhook_token }}"
    idempotency_key: "{{ decision.idempotency_key }}"
    body: "{{ memleak_diagnosis | memleak.remediation.evidence_bundle(memleak_snapshot, ledger.entries, decision) }}"
  delegate_to: localhost
  register: ticket
"""

RETURN = r"""
status:
  description: HTTP status of the last try (-1 when no answer came), or null in check mode.
  returned: always
  type: int
  sample: 201
ticket:
  description: The ticket reference the receiver answered with, or null.
  returned: always
  type: str
  sample: INC0012345
duplicate:
  description: The receiver said it already had this idempotency key (HTTP 409, or C(duplicate) in its answer).
  returned: always
  type: bool
attempts:
  description: Every try with its status and error text.
  returned: always
  type: list
  elements: dict
  sample: [{status: 503, error: "HTTP Error 503: Service Unavailable"}, {status: 201, error: null}]
response:
  description: The receiver's answer, parsed when JSON, else the text (first 2000 characters).
  returned: when an answer came
  type: raw
bytes:
  description: Size of the posted JSON document.
  returned: always
  type: int
"""

import json
import time

from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

_RETRY = (-1, 408, 429)
_TICKET_KEYS = ("ticket", "id", "number", "key", "sys_id")


def _read(response, info):
    raw = b""
    if response is not None:
        try:
            raw = response.read()
        except Exception:  # a broken stream is an answer without a body
            raw = b""
    elif info.get("body"):
        raw = info["body"]
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    try:
        return json.loads(text)
    except ValueError:
        return text[:2000]


def _ticket(answer, info):
    if isinstance(answer, dict):
        holder = answer.get("result") if isinstance(answer.get("result"), dict) else answer
        for key in _TICKET_KEYS:
            if holder.get(key) not in (None, ""):
                return str(holder[key])
    location = info.get("location")
    return str(location) if location else None


def _delay(info, base, attempt):
    wait = base * (2 ** attempt)
    retry_after = info.get("retry-after")
    if retry_after is not None:
        try:
            wait = min(60.0, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return wait


def shown_url(url):
    """The webhook as messages may name it: host, port and path; no credentials, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = ":%d" % parts.port if parts.port else ""
    except ValueError:
        return "the webhook (url not shown)"
    hidden = " (query hidden)" if parts.query else ""
    # Without the scheme it never equals the url itself, which no_log would mask whole.
    return "%s%s%s%s" % (host, port, parts.path, hidden)


def _secrets(params):
    """Every text that must not appear in what the module returns or logs."""
    found = [params["url"], params.get("token") or ""]
    try:
        parts = urlsplit(params["url"])
        found += [parts.query, parts.fragment, parts.password or "", parts.username or ""]
        found += [pair.split("=", 1)[1] for pair in parts.query.split("&") if "=" in pair]
    except ValueError:
        pass
    found += [str(v) for v in (params.get("headers") or {}).values()]
    return sorted(set(f for f in found if len(f) >= 4), key=len, reverse=True)


def scrub(value, secrets):
    """``value`` (text, or a JSON-like answer) with every secret replaced by ********."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "********")
        return value
    if isinstance(value, dict):
        return dict((scrub(k, secrets), scrub(v, secrets)) for k, v in value.items())
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    return value


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True, no_log=True),
            body=dict(type="dict", required=True),
            idempotency_key=dict(type="str", required=True, no_log=False),
            idempotency_header=dict(type="str", default="Idempotency-Key"),
            token=dict(type="str", no_log=True),
            token_header=dict(type="str", default="Authorization", no_log=False),
            token_prefix=dict(type="str", default="Bearer ", no_log=False),
            headers=dict(type="dict", default={}, no_log=True),
            timeout=dict(type="int", default=30),
            retries=dict(type="int", default=4),
            backoff=dict(type="float", default=2),
            validate_certs=dict(type="bool", default=True),
            use_proxy=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    secrets = _secrets(params)
    if not params["url"].startswith(("http://", "https://")):
        module.fail_json(msg="url must start with http:// or https://, got %s" % scrub(shown_url(params["url"]), secrets))
    if params["retries"] < 0 or params["backoff"] < 0 or params["timeout"] < 1:
        module.fail_json(msg="retries and backoff must be 0 or more, timeout 1 or more")
    data = json.dumps(params["body"], sort_keys=True).encode("utf-8")
    result = {"changed": False, "status": None, "ticket": None, "duplicate": False, "attempts": [],
              "bytes": len(data)}
    if module.check_mode:
        result.update(changed=True, msg="would POST %d bytes to %s with %s: %s" % (
            len(data), shown_url(params["url"]), params["idempotency_header"], params["idempotency_key"]))
        module.exit_json(**result)

    headers = {"Content-Type": "application/json", "Accept": "application/json",
               params["idempotency_header"]: params["idempotency_key"]}
    headers.update(dict((str(k), str(v)) for k, v in params["headers"].items()))
    if params["token"]:
        headers[params["token_header"]] = (params["token_prefix"] or "") + params["token"]

    for attempt in range(params["retries"] + 1):
        response, info = fetch_url(module, params["url"], data=data, headers=headers, method="POST",
                                   timeout=params["timeout"], use_proxy=params["use_proxy"])
        status = int(info.get("status", -1))
        answer = scrub(_read(response, info), secrets)
        ok = 200 <= status < 300 or status == 409
        result["attempts"].append({"status": status, "error": None if ok else scrub(str(info.get("msg")), secrets)})
        result["status"] = status
        if ok:
            result["response"] = answer
            result["ticket"] = scrub(_ticket(answer, info), secrets)
            result["duplicate"] = status == 409 or (isinstance(answer, dict) and answer.get("duplicate") is True)
            result["changed"] = not result["duplicate"]
            module.exit_json(**result)
        if answer not in ("", None):
            result["response"] = answer
        if status not in _RETRY and status < 500:
            break
        if attempt < params["retries"]:
            time.sleep(_delay(info, params["backoff"], attempt))
    module.fail_json(msg="escalation to %s failed after %d attempt(s): last status %s (%s)" % (
        shown_url(params["url"]), len(result["attempts"]), result["status"], result["attempts"][-1]["error"]), **result)


if __name__ == "__main__":
    main()
