"""Run the fake nutid auth server by hand, to try the SS 12000 API locally with curl.

    .venv/bin/python -m tests.fakes.serve_nutid [LOCATION]

LOCATION defaults to ``$DNP_SS12000_LOCATION``, else the address ``make run`` serves (``$PORT``, 5000).
Prints the ``DNP_*`` settings to start DNP with and a bearer token (valid for 10 hours) that
Skolverket's SS 12000 client would hold; stops on Ctrl-C. Never for production: its keys are thrown
away when it stops.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tests.fakes.auth_server import API_LOCATION
from tests.fakes.auth_server import FakeAuthServer


def default_location(environ) -> str:
    """The SS 12000 location that ``make run`` in the same environment checks tokens against."""
    return environ.get("DNP_SS12000_LOCATION") or f"http://127.0.0.1:{environ.get('PORT') or 5000}/ss12000"


def main() -> None:
    """Start the fake, print how to use it, wait."""
    location = sys.argv[1] if len(sys.argv) > 1 else default_location(os.environ)
    with tempfile.TemporaryDirectory() as tmp, FakeAuthServer(Path(tmp)) as server:
        print("Start DNP with:")
        print(f"  export DNP_SS12000_JWKS_URL={server.jwks_url}")
        print(f"  export DNP_SS12000_ISSUER={server.issuer}")
        print(f"  export DNP_SS12000_LOCATION={location}")
        print(f"  export DNP_TLS_CA_BUNDLE={server.ca_bundle_path}")
        print("Then:")
        token = server.issue(location=location or API_LOCATION, lifetime=36000)
        print(f'  curl -H "Authorization: Bearer {token}" "{location}/persons?limit=2"')
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
