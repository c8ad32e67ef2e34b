"""Runs scim2-tester (PyPI) against a live Vestibule SCIM endpoint.

Usage: python scim2_tester_check.py BASE_URL TOKEN
Prints one line per check and exits non-zero when any check reports ERROR or CRITICAL.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

FAILING = {Status.ERROR, Status.CRITICAL}


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    client.discover()
    results = check_server(client)
    failed = 0
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status.name] = counts.get(result.status.name, 0) + 1
        mark = "FAIL" if result.status in FAILING else "ok  "
        if result.status in FAILING:
            failed += 1
        where = f"[{result.resource_type}] " if result.resource_type else ""
        print(f"{mark} {result.status.name:<10} {where}{result.title}: {result.reason}")
        if result.status in FAILING and result.data is not None:
            print(f"     data: {result.data!r}"[:2000])
    summary = ", ".join(f"{n} {k.lower()}" for k, n in sorted(counts.items()))
    print(f"scim2-tester: {len(results)} checks: {summary}")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
