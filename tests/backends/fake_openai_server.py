"""A fault-injecting OpenAI-compatible server for tests: a real HTTP server on
127.0.0.1 (a free port), stdlib only (``http.server``), one thread per request.

Completions are a pure function of (prompt, seed, choice index, max_tokens), one
"token" per character (token id = code point), so the same request always gets
the same answer. BOS is token 1.

Fault modes (``mode``; the fault hits the first ``times`` completion requests,
all of them when ``times`` is None, then the server answers normally):
  ok               answer normally
  ignore-n         answer one choice whatever n is (llama-cpp-python); never expires
  reject-n-500     HTTP 500 "Only one completion choice is allowed" for n > 1 (llama-server); never expires
  429-retry-after  HTTP 429 with ``Retry-After: retry_after``
  500-k-times      HTTP 500
  503-loading      HTTP 503 "Loading model" (llama-server while it loads, or when its slots are full)
  400              HTTP 400 with ``error_message`` in the OpenAI error envelope
  drop-connection  close the socket without answering
  slow             wait ``delay_s`` (interrupted at shutdown), then answer
  truncated        Content-Length larger than the body sent, then close
  truncated-stream chunked body cut before its last chunk, then close
  malformed-json   HTTP 200 with a body that is not JSON
  no-finish        HTTP 200 with finish_reason null (an incomplete completion)
  one-at-a-time    a saturated server: completions are served one at a time, each taking ``delay_s``
                   (llama-cpp-python's server); a request whose client hung up is dropped, as
                   llama-server cancels it, so abandoned work does not delay the next; never expires

``delay_s`` also delays every answer in mode ok (for concurrency tests).
``GET /v1/models`` lists ``models``; with ``strict_models`` a completion for a
model not listed is HTTP 404 "The model `x` does not exist." (vLLM, OpenAI),
else any name is served (llama-server, llama-cpp-python).
``logprobs``: 'openai' (token strings, no ids), 'llama-server' (content with
ids) or None. ``tokenize``: 'llama-cpp-python' (/extras/tokenize, adds BOS),
'llama-server' (/tokenize with add_special) or None (no endpoint: 404).
Every request is recorded (path, JSON body, arrival and end times), and the
most requests ever in flight at once is kept in ``max_in_flight``.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = (
    "ok", "ignore-n", "reject-n-500", "429-retry-after", "500-k-times", "503-loading", "400", "drop-connection",
    "slow", "truncated", "truncated-stream", "malformed-json", "no-finish", "one-at-a-time",
)  # fmt: skip
_STANDING_MODES = ("ok", "ignore-n", "reject-n-500", "one-at-a-time")  # modes that never expire
BOS = 1
_ALPHABET = "abcdefghijklmnopqrstuvwxyz "


@dataclass(frozen=True)
class Recorded:
    path: str
    body: dict | None
    started: float  # time.monotonic() at arrival
    ended: float | None


def completion_text(prompt: str, seed: int, index: int) -> str:
    """The fake model's full answer (before max_tokens): 2..9 letters."""
    digest = hashlib.sha256(f"{prompt}|{seed}|{index}".encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[1 : 2 + digest[0] % 8])


class FakeOpenAIServer:
    def __init__(
        self,
        mode: str = "ok",
        *,
        times: int | None = None,
        retry_after: str = "1",
        delay_s: float = 0.0,
        error_message: str = "prompt is too long for this model (context 8 tokens)",
        logprobs: str | None = "openai",
        tokenize: str | None = "llama-cpp-python",
        usage: bool = True,
        models: tuple[str, ...] = ("fake-model",),
        strict_models: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode, self.times, self.retry_after, self.delay_s = mode, times, retry_after, delay_s
        self.error_message, self.logprobs, self.tokenize, self.usage = error_message, logprobs, tokenize, usage
        self.models, self.strict_models = models, strict_models
        self.requests: list[Recorded] = []
        self.served = 0  # completions answered with HTTP 200
        self.in_flight = self.max_in_flight = 0
        self._faults = 0
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeOpenAIServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # clients hang up on purpose
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ------------------------------------------------------------- queries

    def completion_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == "/v1/completions"]

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    # ------------------------------------------------------------ internals

    def _record(self, path: str, body: dict | None) -> int:
        with self._lock:
            self.requests.append(Recorded(path, body, time.monotonic(), None))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return len(self.requests) - 1

    def _done(self, position: int) -> None:
        with self._lock:
            r = self.requests[position]
            self.requests[position] = Recorded(r.path, r.body, r.started, time.monotonic())
            self.in_flight -= 1

    def _take_fault(self) -> str:
        """The fault for this completion request ('ok' once ``times`` faults have been served)."""
        if self.mode in _STANDING_MODES:
            return self.mode
        with self._lock:
            if self.times is not None and self._faults >= self.times:
                return "ok"
            self._faults += 1
        return self.mode

    def completion(self, body: dict, n_choices: int) -> dict:
        prompt, seed, max_tokens = body["prompt"], body.get("seed", 0), body.get("max_tokens", 16)
        choices, completion_tokens = [], 0
        for index in range(n_choices):
            full = completion_text(prompt, seed, index)
            text = full[:max_tokens]
            completion_tokens += len(text)
            choice = {"text": text, "index": index, "finish_reason": "stop" if len(full) <= max_tokens else "length"}
            if self.logprobs == "openai" and body.get("logprobs"):
                choice["logprobs"] = {"tokens": list(text), "token_logprobs": [-0.5] * len(text), "top_logprobs": None,
                                      "text_offset": list(range(len(text)))}  # fmt: skip
            elif self.logprobs == "llama-server" and body.get("logprobs"):
                choice["logprobs"] = {"content": [{"id": ord(c), "token": c, "logprob": -0.5} for c in text]}
            else:
                choice["logprobs"] = None
            choices.append(choice)
        answer = {"id": "cmpl-fake", "object": "text_completion", "model": body.get("model"), "choices": choices}
        if self.usage:
            prompt_tokens = 1 + len(prompt)
            answer["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                               "total_tokens": prompt_tokens + completion_tokens}  # fmt: skip
        return answer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stall
    fake: FakeOpenAIServer

    def log_message(self, *args) -> None:  # quiet
        pass

    def _json(self, status: int, obj: object, headers: dict | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        position = self.fake._record(self.path, None)
        try:
            if self.path == "/v1/models":
                data = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.fake.models]
                self._json(200, {"object": "list", "data": data})
            else:
                self._json(404, {"error": {"message": f"File Not Found: {self.path}", "code": 404}})
        finally:
            self.fake._done(position)

    def _client_gone(self) -> bool:
        """True when the client has closed its end (it timed out and hung up)."""
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _work_alone(self) -> bool:
        """Wait for the server's only worker, then work ``delay_s``; False when the client left first."""
        fake = self.fake
        with fake._one_at_a_time:
            deadline = time.monotonic() + fake.delay_s
            while time.monotonic() < deadline:
                if self._client_gone() or fake._closing.is_set():
                    return False
                time.sleep(0.005)
        return True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        position = self.fake._record(self.path, body)
        try:
            self._answer(body)
        except OSError:  # the client hung up (it timed out): nothing to answer
            self.close_connection = True
        finally:
            self.fake._done(position)

    def _answer(self, body: dict | None) -> None:
        fake = self.fake
        if self.path == "/v1/completions" and isinstance(body, dict):
            self._completions(body)
        elif self.path == "/extras/tokenize" and fake.tokenize == "llama-cpp-python" and isinstance(body, dict):
            self._json(200, {"tokens": [BOS] + [ord(c) for c in body.get("input", "")]})
        elif self.path == "/tokenize" and fake.tokenize == "llama-server" and isinstance(body, dict):
            special = [BOS] if body.get("add_special") else []
            self._json(200, {"tokens": special + [ord(c) for c in body.get("content", "")]})
        else:
            self._json(404, {"error": {"message": f"File Not Found: {self.path}", "code": 404}})

    def _completions(self, body: dict) -> None:
        fake = self.fake
        n = body.get("n", 1)
        if fake.strict_models and body.get("model") not in fake.models:
            message = f"The model `{body.get('model')}` does not exist."  # vLLM's words
            return self._json(404, {"error": {"message": message, "type": "NotFoundError", "code": 404}})
        fault = fake._take_fault()
        if fault == "one-at-a-time" and not self._work_alone():
            self.close_connection = True
            return
        if fake.delay_s and fault in ("ok", "ignore-n", "reject-n-500"):
            fake._closing.wait(fake.delay_s)
        if fault == "reject-n-500" and n > 1:
            message = "Only one completion choice is allowed"  # llama-server's words
            return self._json(500, {"error": {"code": 500, "message": message, "type": "server_error"}})
        if fault == "429-retry-after":
            headers = {"Retry-After": fake.retry_after}
            return self._json(429, {"error": {"message": "rate limited", "code": 429}}, headers)
        if fault == "500-k-times":
            return self._json(500, {"error": {"message": "transient failure", "code": 500}})
        if fault == "503-loading":
            return self._json(503, {"error": {"message": "Loading model", "code": 503, "type": "unavailable_error"}})
        if fault == "400":
            error = {"message": fake.error_message, "type": "invalid_request_error", "code": 400}
            return self._json(400, {"error": error})
        if fault == "drop-connection":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "slow":
            fake._closing.wait(fake.delay_s)
        answer = fake.completion(body, 1 if fault == "ignore-n" else n)
        data = json.dumps(answer).encode()
        if fault == "malformed-json":
            return self._raw(200, data[: len(data) // 2], len(data) // 2)
        if fault == "no-finish":
            for choice in answer["choices"]:
                choice["finish_reason"] = None
            return self._json(200, answer)
        if fault == "truncated":
            self._raw(200, data[: len(data) // 2], len(data))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "truncated-stream":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = data[: len(data) // 2]
            self.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n")  # no terminating 0-chunk
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._json(200, answer)
        with fake._lock:
            fake.served += 1

    def _raw(self, status: int, data: bytes, content_length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(content_length))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
