"""What seams/openapi3_internals.py's CachedSchema saves per validated request, with and without it in one run.

A flask-openapi3 app validates the send route's headers (SendHeaders) and a client path on every
request; the same models built on plain pydantic BaseModel make pydantic rebuild their JSON schema
each time flask-openapi3 asks. Rounds alternate (this machine's speed drifts); the figure is the
median CPU microseconds per request of each, in one process.
"""

import argparse
import statistics
import time

from flask_openapi3 import OpenAPI
from pydantic import create_model

from wamulti.web.schemas import ClientPath, SendHeaders

from .common import report


def _plain(model: type) -> type:
    """The same fields and config on pydantic's BaseModel, without the cached schema."""
    fields = {name: (field.annotation, field) for name, field in model.model_fields.items()}
    return create_model(f"Plain{model.__name__}", __config__=model.model_config, **fields)


def _app(headers: type, path: type):
    app = OpenAPI(__name__, doc_ui=False)

    def probe(header, path):
        return {"client": path.client_id, "async": header.prefer is not None}

    probe.__annotations__ = {"header": headers, "path": path}
    app.post("/api/clients/<client_id>/probe")(probe)

    return app.test_client()


def _per_request_us(client, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        answer = client.post("/api/clients/work-phone/probe", headers={"Prefer": "respond-async",
                                                                     "Idempotency-Key": "order-4711"})
        assert answer.status_code == 200, answer.data
    return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    clients = {"with CachedSchema": _app(SendHeaders, ClientPath),
               "without (plain BaseModel)": _app(_plain(SendHeaders), _plain(ClientPath))}
    for client in clients.values():
        _per_request_us(client, 50)  # warm up
    samples = {name: [] for name in clients}
    for _ in range(args.rounds):
        for name, client in clients.items():
            samples[name].append(_per_request_us(client, args.requests))
    rows = [{"models": name, "cpu_us_per_request_median": round(statistics.median(s), 1),
             "min": round(min(s), 1), "max": round(max(s), 1)} for name, s in samples.items()]
    saved = rows[1]["cpu_us_per_request_median"] - rows[0]["cpu_us_per_request_median"]
    report("seams_schema", rows, {"saved_us_per_request": round(saved, 1), "requests": args.requests,
                                  "rounds": args.rounds})


if __name__ == "__main__":
    main()
