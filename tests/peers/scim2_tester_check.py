"""Runs scim2-tester (PyPI) against a live Vestibule SCIM endpoint.

Usage: python scim2_tester_check.py BASE_URL TOKEN
Prints one line per check, then the summary `scim2-tester: N checks, F failed, S skipped` and
one line counting each status. Exits non-zero when any check reports ERROR or CRITICAL, when any
was SKIPPED (a check that did not run proves nothing), or when none ran. The caller pins N.
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
    failed = skipped = 0
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status.name] = counts.get(result.status.name, 0) + 1
        if result.status in FAILING:
            failed += 1
            mark = "FAIL"
        elif result.status is Status.SKIPPED:
            skipped += 1
            mark = "SKIP"
        else:
            mark = "ok  "
        where = f"[{result.resource_type}] " if result.resource_type else ""
        print(f"{mark} {result.status.name:<10} {where}{result.title}: {result.reason}")
        if mark != "ok  " and result.data is not None:
            print(f"     data: {result.data!r}"[:2000])
    print(f"scim2-tester: {len(results)} checks, {failed} failed, {skipped} skipped")
    print("statuses: " + ", ".join(f"{n} {k.lower()}" for k, n in sorted(counts.items())))
    return 1 if failed or skipped or not results else 0


if __name__ == "__main__":
    sys.exit(main())
