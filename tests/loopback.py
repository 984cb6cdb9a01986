"""One HTTP client and one CA context for the whole test process.

httpx and httpx2 build an SSL context and load the CA bundle into it for every client they make,
about 25 ms of CPU each, even for a client that only ever speaks plain HTTP to 127.0.0.1; a
thousand of them were a fifth of the suite's CPU. Tests pass ``verify=CA`` (or ``CA2`` for httpx2)
to the clients they make, and send one-off requests through ``LOOPBACK``.
"""

from __future__ import annotations

import httpx
import httpx2

CA = httpx.create_ssl_context()
CA2 = httpx2.create_ssl_context()
LOOPBACK = httpx.Client(verify=CA, timeout=10)
