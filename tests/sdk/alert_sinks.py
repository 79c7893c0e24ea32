"""Loopback receivers for the alert tests: an SMTP server that keeps what it is sent, and a
Slack incoming-webhook stand-in that answers as Slack does. Fulcrum reaches both only
through its configuration (FULCRUM_SMTP_*, FULCRUM_SLACK_WEBHOOK_HOSTS)."""
import email
import email.policy
import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SmtpSink:
    """A plain SMTP server (no TLS, no auth): every message is parsed and kept."""

    def __init__(self):
        self.messages = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line):
                self.wfile.write((line + "\r\n").encode())

            def handle(self):
                self.reply("220 sink ESMTP")
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    verb = raw.decode(errors="replace").strip().split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-sink")
                        self.reply("250 8BITMIME")
                    elif verb == "DATA":
                        self.reply("354 go ahead")
                        lines = []
                        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                            lines.append(line[1:] if line.startswith(b"..") else line)
                        msg = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                        sink.messages.append(msg)
                        self.reply("250 kept")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self):
        return {"FULCRUM_SMTP_HOST": "127.0.0.1", "FULCRUM_SMTP_PORT": str(self.port), "FULCRUM_SMTP_TLS": "none"}

    def subjects(self, to):
        return [str(m["subject"]) for m in self.messages if to in str(m["to"])]

    def close(self):
        self.server.shutdown()


class SlackStandin:
    """Slack's incoming webhooks: `…/ok` keeps the message and answers `ok`; `…/gone`
    answers 404 `no_service`, as Slack does for a removed integration."""

    def __init__(self):
        self.hits = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = None
                hook = self.path.rsplit("/", 1)[-1]
                if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
                    status, text = 400, "invalid_payload"
                elif hook == "gone":
                    status, text = 404, "no_service"
                else:
                    standin.hits.append((hook, payload))
                    status, text = 200, "ok"
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(text.encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self):
        return {"FULCRUM_SLACK_WEBHOOK_HOSTS": self.base.removeprefix("http://")}

    def webhook(self, hook):
        return f"{self.base}/services/T0001/B0001/{hook}"

    def headlines(self, hook):
        return [p["blocks"][0]["text"]["text"] for h, p in self.hits if h == hook]

    def close(self):
        self.server.shutdown()
