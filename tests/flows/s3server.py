"""A real S3-compatible server on loopback for tests: moto's server, started in this process.

moto checks ``If-None-Match: *`` and then stores the object in two steps, so two PUTs of the same
key racing on two of its threads could both succeed. Amazon S3 (and GCS with
``ifGenerationMatch=0``) decide it atomically. Requests are therefore served one at a time, so
the tests exercise claimwatch's commit protocol against the semantics of the real service.
"""

from __future__ import annotations

import os
import threading
import uuid
from contextlib import contextmanager
from typing import Iterator

ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true", "AWS_EC2_METADATA_DISABLED": "true"}


@contextmanager
def s3_server() -> Iterator[str]:
    """Start the server on 127.0.0.1, port 0; yields its endpoint URL with the environment set
    (``AWS_ENDPOINT_URL`` and test credentials) for boto, s3fs and polars, restored after."""
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    server = make_server("127.0.0.1", 0, one_at_a_time, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    saved = {k: os.environ.get(k) for k in [*ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(ENV, AWS_ENDPOINT_URL=endpoint)
    try:
        yield endpoint
    finally:
        server.shutdown()
        thread.join(5)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def new_bucket() -> str:
    """Create an empty bucket with a fresh name; returns the name."""
    import boto3

    name = f"cw-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name
