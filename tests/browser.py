"""Headless Chromium driven over the DevTools protocol, for tests that look at a web UI.

    with Browser() as browser:
        text = browser.open("http://127.0.0.1:4200/runs", until=["Degraded"])
        browser.screenshot("runs.png")

:func:`chromium` finds the browser (``chromium``, ``chromium-browser``, ``google-chrome`` on
PATH, or ``$CHROMIUM``); tests skip, saying so, when there is none. The browser runs with a
fresh profile and with every background network feature off, so it only talks to the page's
own server. The DevTools client uses ``websockets`` (already installed with Prefect).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterable

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]


def chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Browser:
    def __init__(self, width: int = 1600, height: int = 1000):
        self.width, self.height = width, height
        self._ids = itertools.count(1)

    def __enter__(self) -> "Browser":
        exe = chromium()
        if exe is None:
            raise RuntimeError("no chromium on PATH")
        self._profile = tempfile.TemporaryDirectory(prefix="claimwatch-chromium-")
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self._profile.name}", "--remote-debugging-port=0",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 60
        port = None
        while port is None:
            line = self.proc.stderr.readline()
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line or "")
            if found:
                port = int(found.group(1))
            elif not line and self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit {self.proc.poll()})")
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t.get("type") == "page")
        from websockets.sync.client import connect

        self.ws = connect(page["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=20)
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.ws.close()
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the browser and its helper processes
            self.proc.wait(timeout=10)
            shutil.rmtree(self._profile.name, ignore_errors=True)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def text(self) -> str:
        result = self.call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''",
                           returnByValue=True)
        return result.get("result", {}).get("value") or ""

    def open(self, url: str, until: Iterable[str] = (), timeout: float = 60, settle: float = 1.0) -> str:
        """Load ``url`` and wait until the page's visible text contains every string of
        ``until`` (then ``settle`` seconds more for late rendering); returns that text."""
        self.call("Page.navigate", url=url)
        wanted = list(until)
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if all(w in text for w in wanted):
                break
            if time.monotonic() > deadline:
                missing = [w for w in wanted if w not in text]
                raise AssertionError(f"{url}: {missing} never appeared; the page shows:\n{text[:3000]}")
            time.sleep(0.5)
        time.sleep(settle)
        return self.text()

    def screenshot(self, path: str | Path, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": min(size["height"], 4000), "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", **params)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
