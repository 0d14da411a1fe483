"""What the test API server costs at run time: kine and kube-apiserver started as the `k8s`
tests start them (tests/apiserver.py), the time to `/readyz`, then GETs over new TLS
connections as the tests' client makes them. No peer: it compares builds of the same server
(tests.kube.go_build_flags), given as paths; by default the cached ones.

    .venv/bin/python -m benchmarks.apiserver [--starts 2] [--gets 200]
        [--kube-apiserver PATH] [--kine PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from unittest import mock

from tests import apiserver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=2)
    parser.add_argument("--gets", type=int, default=200, help="rounds of two GETs each")
    parser.add_argument("--kube-apiserver", type=Path, default=None)
    parser.add_argument("--kine", type=Path, default=None)
    args = parser.parse_args()
    binary = args.kube_apiserver or apiserver.kube_apiserver_binary()
    kine = args.kine or apiserver.kine_binary()
    with (
        mock.patch.object(apiserver, "kube_apiserver_binary", lambda: binary),
        mock.patch.object(apiserver, "kine_binary", lambda: kine),
    ):
        for _ in range(args.starts):
            with tempfile.TemporaryDirectory() as workdir:
                started = time.monotonic()
                with apiserver.ApiServer(Path(workdir)) as server:
                    ready = time.monotonic() - started
                    client = server.client()
                    started = time.monotonic()
                    for _ in range(args.gets):
                        client.request("GET", "/api/v1/namespaces/default")
                        client.request("GET", "/apis")
                    gets = time.monotonic() - started
            print(f"{binary.name}: ready in {ready:.1f} s; {2 * args.gets} GETs in {gets:.1f} s")


if __name__ == "__main__":
    main()
