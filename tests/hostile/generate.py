#!/usr/bin/env python3
"""Writes tests/hostile/corpus.jsonl: the bad-input corpus that tests/hostile.rs replays.

    python3 tests/hostile/generate.py      # rewrites corpus.jsonl (commit both)

Every case is one request a hostile or broken client could send: malformed JSON and
multipart, wrong types, huge and deep values, invalid UTF-8, control characters, path
tricks, header abuse and compressed bombs, against every route. `expect` is `4xx` when the
request must be refused (and then write nothing), `lt500` when some answers are fine but
never a 5xx. The output is deterministic.
"""

import base64
import gzip
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
cases = []


def rep(char, times):
    """A long run of one ASCII character, kept short in the corpus file."""
    return f"@@REP:{char}:{times}@@"


REP = re.compile(rb"@@REP:(.):(\d+)@@")


def parts_of(body):
    """The body as parts: `{"b64": …}` for literal bytes, `{"b64": …, "times": n}` for runs."""
    parts, at = [], 0
    for m in REP.finditer(body):
        if m.start() > at:
            parts.append({"b64": base64.b64encode(body[at:m.start()]).decode()})
        parts.append({"b64": base64.b64encode(m.group(1)).decode(), "times": int(m.group(2))})
        at = m.end()
    if at < len(body):
        parts.append({"b64": base64.b64encode(body[at:]).decode()})
    return parts


def case(name, method, path, body=b"", auth="key", headers=None, expect="4xx"):
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    cases.append({
        "id": f"{len(cases):03d}-{name}",
        "method": method,
        "path": path,
        "auth": auth,
        "headers": headers or {},
        "body": parts_of(body),
        "expect": expect,
    })


JSON = {"content-type": "application/json"}

# --- GraphQL envelopes: malformed JSON, wrong types, size and depth -------------------
malformed = [
    "", "{", "}", "[", "null", "true", "0", '"query"', "[]", "{}", '{"query":}', "{'query': 1}",
    '{"query": "{ viewer { id } }"', '{"query": "{ viewer { id } }"}}', "\x00\x01\x02",
    '{"query": "\\ud800"}', '{"query": "\\u0000"}', "\ufeff{}", '{"query": "{ viewer { id } }", "query": 1}',
    '{"query":' + "[" * 5000 + "]" * 5000 + "}",
]
for i, body in enumerate(malformed):
    case(f"graphql-malformed-{i}", "POST", "/graphql", body, headers=JSON)
case("graphql-invalid-utf8", "POST", "/graphql", b'{"query": "\xff\xfe\xfd"}', headers=JSON)
case("graphql-latin1", "POST", "/graphql", b'{"query": "{ viewer { na\xe9me } }"}', headers=JSON)
for i, value in enumerate([1, True, [], {}, None, 1.5, "", " ", "\u0000", "query"]):
    case(f"graphql-query-type-{i}", "POST", "/graphql", json.dumps({"query": value}), headers=JSON)
for i, value in enumerate(["x", 1, [], True, '{"a":1}']):
    case(f"graphql-variables-type-{i}", "POST", "/graphql",
         json.dumps({"query": "query Q($a: String) { viewer { id } }", "variables": value}), headers=JSON)
for i, value in enumerate([1, [], {}, "Nope", "\u0000"]):
    case(f"graphql-operation-{i}", "POST", "/graphql",
         json.dumps({"query": "query A { viewer { id } }", "operationName": value}), headers=JSON)
deep = "{ viewer " + "{ teams { edges { node " * 300 + "{ name }" + " } } }" * 300 + " }"
case("graphql-deep", "POST", "/graphql", json.dumps({"query": deep}), headers=JSON)
case("graphql-deep-variables", "POST", "/graphql", '{"query": "query Q($x: JSON) { viewer { id } }", "variables": {"x": ' + "[" * 3000 + "1" + "]" * 3000 + "}}", headers=JSON)
aliases = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(5000)) + " }"
case("graphql-alias-bomb", "POST", "/graphql", json.dumps({"query": aliases}), headers=JSON)
fragments = "query { viewer { ...F0 } } " + " ".join(f"fragment F{i} on User {{ ...F{i + 1} }}" for i in range(300)) + " fragment F300 on User { id }"
case("graphql-fragment-chain", "POST", "/graphql", json.dumps({"query": fragments}), headers=JSON)
case("graphql-fragment-cycle", "POST", "/graphql", json.dumps({"query": "query { viewer { ...A } } fragment A on User { ...B } fragment B on User { ...A }"}), headers=JSON)
case("graphql-huge-body", "POST", "/graphql", json.dumps({"query": "{ viewer { id } }", "pad": rep("x", 40 << 20)}), headers=JSON)
case("graphql-huge-string-arg", "POST", "/graphql", json.dumps({"query": 'mutation { generateApiKey(input: {description: "' + rep("d", 300000) + '"}) { apiKey { id } } }'}), headers=JSON)
case("graphql-many-mutations", "POST", "/graphql", json.dumps({"query": "mutation { " + " ".join(f'k{i}: generateApiKey(input: {{description: "k{i}"}}) {{ apiKey {{ id }} }}' for i in range(50)) + " }"}), headers=JSON)
case("graphql-wrong-content-type", "POST", "/graphql", '{"query": "{ viewer { id } }"}', headers={"content-type": "text/plain"}, expect="lt500")
case("graphql-form-encoded", "POST", "/graphql", "query=%7B+viewer+%7B+id+%7D+%7D", headers={"content-type": "application/x-www-form-urlencoded"})
case("graphql-gzip-bomb", "POST", "/graphql", gzip.compress(b'{"query": "' + b"a" * (8 << 20) + b'"}'), headers={**JSON, "content-encoding": "gzip"})
case("graphql-get", "GET", "/graphql", auth="key", expect="4xx")
case("graphql-put", "PUT", "/graphql", '{"query": "{ viewer { id } }"}', headers=JSON)

# --- Every mutation input field with values no field accepts --------------------------
BAD_VALUES = {
    "int": "123",
    "bool": "true",
    "list": "[1, 2]",
    "object": "{a: 1}",
    "enum": "SOMETHING",
    "huge": '"' + rep("z", 200000) + '"',
}
MUTATIONS = {
    "updateProfile": ("input", ["name", "bio", "location", "institution", "website", "language"]),
    "generateApiKey": ("input", ["description"]),
    "deleteApiKey": ("input", ["id"]),
    "upsertBucket": ("input", ["name", "modelName", "entityName", "config", "summaryMetrics", "state", "displayName", "notes", "tags", "id"]),
    "createRunFiles": ("input", ["entityName", "projectName", "runName", "files"]),
    "notifyScriptableRunAlert": ("input", ["entityName", "projectName", "runName", "title", "text", "severity", "waitDuration"]),
    "createTeam": ("input", ["teamName", "organizationId"]),
    "updateBetaFeature": ("input", ["key", "enabled"]),
    "createInvite": ("input", ["entityName", "email", "username", "admin"]),
}
# JSONString fields take any JSON value, as W&B's do; everything else refuses these.
LENIENT = {("upsertBucket", "config", "object"), ("upsertBucket", "summaryMetrics", "object")}
for mutation, (arg, fields) in MUTATIONS.items():
    for field in fields:
        for label, value in BAD_VALUES.items():
            if (mutation, field, label) in LENIENT:
                continue
            if label == "huge" and field not in ("name", "config", "description", "title", "teamName", "entityName"):
                continue
            q = f"mutation {{ {mutation}({arg}: {{{field}: {value}}}) {{ __typename }} }}"
            case(f"{mutation}-{field}-{label}", "POST", "/graphql", json.dumps({"query": q}), headers=JSON)

# --- Strings with control characters, path tricks and overlong forms in key fields -----
TRICKS = {
    "nul": "a\u0000b", "newline": "a\nb", "bidi": "\u202eevil", "dotdot": "../../etc/passwd",
    "slash": "a/b", "backslash": "a\\\\b", "percent": "%2e%2e%2f", "space": "   ", "empty": "",
    "long": "n" * 5000, "zero-width": "\u200b", "emoji-only": "\U0001F600" * 300,
}
REQUIRED = {"deleteApiKey": "id", "createTeam": "teamName", "updateBetaFeature": "key", "createRunFiles": "files"}
for mutation, field in REQUIRED.items():
    q = f"mutation {{ {mutation}(input: {{{field}: null}}) {{ __typename }} }}"
    case(f"{mutation}-{field}-null", "POST", "/graphql", json.dumps({"query": q}), headers=JSON)

# An empty or blank run name asks for a generated ID (a valid request), so it is not here.
for label, value in TRICKS.items():
    v = json.dumps(value)
    case(f"createTeam-name-{label}", "POST", "/graphql", json.dumps({"query": f"mutation {{ createTeam(input: {{teamName: {v}}}) {{ entity {{ id }} }} }}"}), headers=JSON)
    if label not in ("empty", "space"):
        case(f"upsertBucket-run-{label}", "POST", "/graphql", json.dumps({"query": f'mutation {{ upsertBucket(input: {{name: {v}, modelName: "p", entityName: "ada"}}) {{ bucket {{ id }} }} }}'}), headers=JSON)
    case(f"upsertBucket-project-{label}", "POST", "/graphql", json.dumps({"query": f'mutation {{ upsertBucket(input: {{name: "r9", modelName: {v}, entityName: "ada"}}) {{ bucket {{ id }} }} }}'}), headers=JSON)
    # A name the server will not take gets no upload URL (null); the request succeeds.
    case(f"createRunFiles-name-{label}", "POST", "/graphql", json.dumps({"query": f'mutation {{ createRunFiles(input: {{entityName: "ada", projectName: "p", runName: "r1", files: [{v}]}}) {{ files {{ name uploadUrl }} }} }}'}), headers=JSON, expect="lt500")
for label, value in TRICKS.items():
    case(f"login-{label}", "POST", "/api/v1/login", json.dumps({"login": value, "password": value}), auth="none", headers=JSON)

# --- REST bodies: sign-in, setup, account changes ---------------------------------------
REST = ["/api/v1/login", "/api/v1/setup", "/api/v1/account/password", "/api/v1/account/email",
        "/api/v1/account/reauth", "/api/v1/account/deletion"]
REST_BODIES = ["", "{", "[]", "null", '"x"', '{"login": 1, "password": 2}', '{"password": null}',
               '{"password": "' + rep("p", 100000) + '"}', "\xff\xfe", '{"a": ' * 1000 + "1" + "}" * 1000]
for path in REST:
    auth = "none" if path in ("/api/v1/login", "/api/v1/setup") else "session"
    for i, body in enumerate(REST_BODIES):
        case(f"rest-{path.rsplit('/', 1)[1]}-{i}", "POST", path, body.encode("latin-1") if body.startswith("\xff") else body, auth=auth, headers=JSON)
case("login-huge", "POST", "/api/v1/login", json.dumps({"login": "a", "password": rep("b", 2 << 20)}), auth="none", headers=JSON)
case("setup-bad-token", "POST", "/api/v1/setup", json.dumps({"token": "x" * 500, "username": "../x", "email": "not-an-email", "password": "p"}), auth="none", headers=JSON)

# --- CSRF and session abuse: state changes from a browser without the right Origin ------
for path in ["/api/v1/logout", "/api/v1/logout-everywhere", "/api/v1/account/password", "/api/v1/account/exports", "/api/v1/account/sessions/end-others"]:
    case(f"csrf-no-origin-{path.rsplit('/', 1)[1]}", "POST", path, "{}", auth="session-no-origin", headers=JSON)
    case(f"csrf-evil-origin-{path.rsplit('/', 1)[1]}", "POST", path, "{}", auth="session-evil-origin", headers=JSON)
for i, cookie in enumerate(["fulcrum_session=", "fulcrum_session=" + "A" * 5000, "fulcrum_session=%00", "fulcrum_session=a;fulcrum_session=b", "=" * 100]):
    case(f"cookie-garbage-{i}", "GET", "/api/v1/account/sessions", auth="none", headers={"cookie": cookie})
case("session-delete-bad-id", "DELETE", "/api/v1/account/sessions/not-a-number", auth="session")
case("session-delete-overflow", "DELETE", "/api/v1/account/sessions/99999999999999999999999", auth="session")
case("session-delete-negative", "DELETE", "/api/v1/account/sessions/-1", auth="session")

# --- Authorization header abuse ---------------------------------------------------------
AUTHS = ["Basic", "Basic ", "Basic !!!", "Basic " + base64.b64encode(b"api").decode(), "Basic " + base64.b64encode(b"api:").decode(),
         "Basic " + base64.b64encode(b"api:" + b"k" * 5000).decode(), "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
         "Bearer", "Bearer x", "Bearer " + "x" * 10000, "Digest abc", "basic YXBpOmZrLXg=", "Basic YXBpOmZrLXg= extra",
         "Basic " + base64.b64encode(b"api:local-" + b"0" * 40).decode(), "Basic " + base64.b64encode(b"api:fk-" + b"A" * 80).decode()]
for i, value in enumerate(AUTHS):
    case(f"authorization-{i}", "POST", "/graphql", json.dumps({"query": "{ viewer { id } }"}), auth="none", headers={**JSON, "authorization": value}, expect="lt500" if i == 11 else "4xx")
case("authorization-twice", "POST", "/graphql", json.dumps({"query": "{ viewer { id } }"}), auth="none", headers={**JSON, "authorization": "Basic YXBpOmZrLXg=, Basic YXBpOmZrLXk="})

# --- file_stream: the SDK's JSON, broken every way -------------------------------------
FS = "/files/ada/p/r1/file_stream"
FS_BODIES = [
    "", "{", "[]", "null", '{"files": 1}', '{"files": []}', '{"files": {"wandb-history.jsonl": 1}}',
    '{"files": {"wandb-history.jsonl": {"offset": -1, "content": ["{}"]}}}',
    '{"files": {"wandb-history.jsonl": {"offset": "0", "content": ["{}"]}}}',
    '{"files": {"wandb-history.jsonl": {"offset": 1e300, "content": ["{}"]}}}',
    '{"files": {"wandb-history.jsonl": {"offset": 18446744073709551616, "content": ["{}"]}}}',
    '{"files": {"wandb-history.jsonl": {"offset": 0, "content": "not a list"}}}',
    '{"files": {"wandb-history.jsonl": {"offset": 0, "content": [1, 2]}}}',
    '{"files": {"wandb-history.jsonl": {"offset": 0, "content": ["not json"]}}}',
    '{"files": {"../../etc/passwd": {"offset": 0, "content": ["x"]}}}',
    '{"files": {"wandb-summary.json": {"offset": 0, "content": ["[1,2"]}}}',
    '{"files": {"wandb-history.jsonl": {"offset": 0, "content": ["' + rep("x", 5 << 20) + '"]}}}',
    '{"complete": "yes", "exitcode": "zero"}',
    '{"complete": true, "exitcode": 99999999999999999999}',
    '{"preempting": [1]}',
    '{"files": {"output.log": {"offset": 0, "content": ["\\u0000\\u0001"]}}, "dropped": "x"}',
]
for i, body in enumerate(FS_BODIES):
    # An empty body is the SDK's heartbeat; files it does not keep are skipped, not refused.
    case(f"file-stream-{i}", "POST", FS, body, headers=JSON, expect="lt500" if i in (0, 5, 14, 20) else "4xx")
case("file-stream-invalid-utf8", "POST", FS, b'{"files": {"output.log": {"offset": 0, "content": ["\xff"]}}}', headers=JSON)
case("file-stream-gzip-bomb", "POST", FS, gzip.compress(b"{" * (4 << 20)), headers={**JSON, "content-encoding": "gzip"})
for i, path in enumerate(["/files/ada/p/%2e%2e/file_stream", "/files/ada/..%2F..%2Fetc/r1/file_stream", "/files/nobody/p/r1/file_stream",
                          "/files/" + "e" * 3000 + "/p/r1/file_stream", "/files/ada/p/" + "%00" + "/file_stream", "/files/ada/p/r%20x/file_stream"]):
    case(f"file-stream-path-{i}", "POST", path, '{"files": {}}', headers=JSON)

# --- Run files: downloads and signed uploads with tricks --------------------------------
for i, name in enumerate(["../../secret.key", "..%2F..%2Fsecret.key", "%2e%2e/%2e%2e/fulcrum.db", "a/../../b", "nope.txt",
                          "x" * 5000, "%00", "model.txt%00.png", "/etc/passwd", "model.txt/../../../secret.key"]):
    case(f"run-file-get-{i}", "GET", f"/files/ada/p/r1/{name}")
for i, q in enumerate(["", "?sig=x", "?sig=&exp=1", "?exp=99999999999999999999&sig=" + "a" * 64, "?exp=-1&sig=00",
                       "?name=../../x&exp=1&sig=00", "?" + "a=b&" * 2000]):
    case(f"run-file-upload-{i}", "PUT", f"/files/uploads/1{q}", b"bytes", auth="none")
case("run-file-upload-bad-run", "PUT", "/files/uploads/not-a-number?exp=1&sig=00", b"x", auth="none")
case("run-file-upload-overflow", "PUT", "/files/uploads/99999999999999999999999?exp=1&sig=00", b"x", auth="none")

# --- Avatars: multipart broken every way, image bombs, path tricks ----------------------
def multipart(parts, boundary="XyZ"):
    out = b""
    for name, filename, ctype, data in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"Content-Disposition: {disp}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


MP = {"content-type": "multipart/form-data; boundary=XyZ"}
PNG_HEADER = b"\x89PNG\r\n\x1a\n"
BOMB = PNG_HEADER + b"\x00\x00\x00\rIHDR" + (60000).to_bytes(4, "big") + (60000).to_bytes(4, "big") + b"\x08\x06\x00\x00\x00" + b"\x00" * 4
avatar_bodies = {
    "empty": b"",
    "no-boundary-end": b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
    "no-file-part": multipart([("other", None, None, b"x")]),
    "not-an-image": multipart([("file", "a.png", "image/png", b"#!/bin/sh\nrm -rf /\n")]),
    "svg": multipart([("file", "a.svg", "image/svg+xml", b"<svg onload=alert(1)></svg>")]),
    "html": multipart([("file", "a.html", "text/html", b"<script>alert(1)</script>")]),
    "truncated-png": multipart([("file", "a.png", "image/png", PNG_HEADER + b"\x00\x00")]),
    "pixel-bomb": multipart([("file", "a.png", "image/png", BOMB)]),
    "path-filename": multipart([("file", "../../../../etc/passwd", "image/png", PNG_HEADER)]),
    "nul-filename": multipart([("file", "a\x00.png", "image/png", PNG_HEADER)]),
    "huge": multipart([("file", "a.png", "image/png", rep("Z", 6 << 20).encode())]),
    "two-files": multipart([("file", "a.png", "image/png", b"x"), ("file", "b.png", "image/png", b"y")]),
    "gzip-bomb": multipart([("file", "a.png", "image/png", gzip.compress(b"\x00" * (16 << 20)))]),
    "header-flood": b"--XyZ\r\n" + b"X-A: b\r\n" * 2000 + b"\r\n\r\n--XyZ--\r\n",
}
for label, body in avatar_bodies.items():
    case(f"avatar-{label}", "POST", "/api/v1/avatar", body, headers=MP)
for i, ctype in enumerate(["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=" + "b" * 5000, "application/json", "image/png"]):
    case(f"avatar-content-type-{i}", "POST", "/api/v1/avatar", multipart([("file", "a.png", "image/png", b"x")]), headers={"content-type": ctype})
for i, name in enumerate(["..%2Fsecret.key", "..%2F..%2Ffulcrum.db", "x.svg", "nope-256.png", "%00.png", "a" * 3000 + ".png", "secret.key", "CON.png"]):
    case(f"avatar-get-{i}", "GET", f"/avatars/{name}", auth="none")

# --- Exports, OAuth callbacks and the rest --------------------------------------------
for i, token in enumerate(["x", "..%2F..%2Fsecret.key", "0" * 64, "%00", "a" * 5000]):
    case(f"export-download-{i}", "GET", f"/api/v1/account/exports/{token}/download", auth="session")
for path in ["/api/v1/github/callback", "/api/v1/alerts/slack/callback"]:
    for i, q in enumerate(["", "?code=x", "?state=x", "?code=x&state=" + "s" * 5000, "?error=access_denied&state=%00", "?code=%ff&state=%fe"]):
        case(f"oauth{path.split('/')[3]}-{i}", "GET", path + q, auth="session", expect="lt500")
case("otel-huge", "POST", "/sdk/otel/v1/metrics", rep("x", 2 << 20).encode(), auth="none")
case("metrics-bad-token", "GET", "/metrics", auth="none", headers={"authorization": "Bearer " + "t" * 10000})
case("method-patch", "PATCH", "/api/v1/login", "{}", auth="none", headers=JSON)
case("method-trace", "TRACE", "/graphql", auth="none")
for i, path in enumerate(["/%2e%2e/%2e%2e/etc/passwd", "/..;/secret.key", "/assets/../../secret.key", "/" + "a/" * 3000, "/api/v1/%00", "/assets/%ff%fe.js"]):
    case(f"path-{i}", "GET", path, auth="none", expect="lt500")

# --- Header abuse -------------------------------------------------------------------
HEADERS = [
    {"content-length": "abc"}, {"content-length": "-1"}, {"content-length": "99999999999999999999"},
    {"x-forwarded-for": "999.999.999.999, ::zz"}, {"x-forwarded-for": "1.1.1.1, " * 1000},
    {"host": "evil.example"}, {"x-request-id": "\u00e9" * 2}, {"x-request-id": "r" * 10000},
    {"accept-language": "ko;q=abc, *;q=-1, " + "x" * 3000}, {"user-agent": "u" * 20000},
    {"expect": "100-continue"}, {"transfer-encoding": "chunked, identity"},
]
for i, extra in enumerate(HEADERS):
    case(f"header-{i}", "POST", "/graphql", json.dumps({"query": "{ viewer { id } }"}), headers={**JSON, **extra}, expect="lt500")

with open(os.path.join(HERE, "corpus.jsonl"), "w") as f:
    for c in cases:
        f.write(json.dumps(c, sort_keys=True) + "\n")
print(f"{len(cases)} cases")
