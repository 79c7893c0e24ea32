"""Loopback receivers for the alert tests and bench/alert_latency.py: an SMTP server that
keeps what it is sent, and a Slack incoming-webhook stand-in that answers as Slack does,
each noting when every message arrived. Fulcrum reaches both only through its
configuration (FULCRUM_SMTP_*, FULCRUM_SLACK_WEBHOOK_HOSTS)."""
import asyncio
import email
import email.policy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# http.server listens with a backlog of 5: Fulcrum's worker opens up to 16
# connections at once, and the rest would wait out SYN retransmits (1 s, 3 s) that no real
# SMTP server or Slack causes.
BACKLOG = 128


class _HttpServer(ThreadingHTTPServer):
    request_queue_size = BACKLOG


class SmtpSink:
    """A plain SMTP server (no TLS, no auth) on an event loop of its own: every message is
    kept with the moment its DATA ended, in `received` as (time.monotonic(), raw bytes).
    It is parsed only when read, so receiving stays cheap when many arrive at once (the
    alert benchmark measures through it)."""

    def __init__(self):
        self.received = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait()

    def _serve(self, ready):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0, backlog=BACKLOG))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _client(self, reader, writer):
        writer.write(b"220 sink ESMTP\r\n")
        data, in_data = [], False
        while line := await reader.readline():
            if in_data:
                if line in (b".\r\n", b".\n"):
                    in_data = False
                    self.received.append((time.monotonic(), b"".join(data)))
                    data = []
                    writer.write(b"250 kept\r\n")
                else:
                    data.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-sink\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                in_data = True
                writer.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    def env(self):
        return {"FULCRUM_SMTP_HOST": "127.0.0.1", "FULCRUM_SMTP_PORT": str(self.port), "FULCRUM_SMTP_TLS": "none"}

    @staticmethod
    def parse(raw):
        return email.message_from_bytes(raw, policy=email.policy.default)

    @property
    def messages(self):
        return [self.parse(raw) for _, raw in self.received]

    def subjects(self, to):
        return [str(m["subject"]) for m in self.messages if to in str(m["to"])]

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


class SlackStandin:
    """Slack's incoming webhooks: `…/gone` answers 404 `no_service`, as Slack does for a
    removed integration; any other hook keeps the message and answers `ok`. `hits` holds
    (time.monotonic(), hook, payload) of every message kept."""

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
                    standin.hits.append((time.monotonic(), hook, payload))
                    status, text = 200, "ok"
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(text.encode())

        self.server = _HttpServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.base = f"http://{self.host}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self):
        return {"FULCRUM_SLACK_WEBHOOK_HOSTS": self.host}

    def webhook(self, hook):
        return f"{self.base}/services/T0001/B0001/{hook}"

    def headlines(self, hook):
        return [p["blocks"][0]["text"]["text"] for _, h, p in self.hits if h == hook]

    def close(self):
        self.server.shutdown()
