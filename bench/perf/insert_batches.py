"""``python -m bench.perf.insert_batches [SIZES…]``: what one commit of new emails costs the
API and PostgreSQL, by the number of emails in it.

Stores emails through the API's own :meth:`~micromailer.store.emails.EmailStore.add_emails`
(one ``INSERT`` of the group, one commit) into a fresh PostgreSQL database, and reads this
process's CPU time and PostgreSQL's (from ``/proc``) before and after. The intake starts
commits at least ``STORE_INTERVAL`` apart so that, under load, more emails share one; this
shows what that buys.
"""

from __future__ import annotations

import argparse
import time

from tests.support.backends import fresh_backends
from tests.support.fakes import make_new_email

from bench.perf.profile import cpu_by_program
from micromailer.store.emails import EmailStore
from micromailer.store.engine import make_engine
from micromailer.store.migrate import upgrade


def postgres_cpu() -> float:
    return cpu_by_program({})["postgres"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1, 4, 8, 16, 30])
    parser.add_argument("--emails", type=int, default=6_000)
    args = parser.parse_args()
    with fresh_backends() as backends:
        upgrade(backends.database_url)
        store = EmailStore(make_engine(backends.database_url))
        print(f"{'batch':>6} {'API µs/email':>13} {'PostgreSQL µs/email':>20} "
              f"{'wall µs/email':>14}")
        for size in args.sizes:
            groups = [[make_new_email() for _ in range(size)]
                      for _ in range(max(1, args.emails // size))]
            for group in groups[:5]:  # connections up, statement cached
                store.add_emails(group)
            measured = groups[5:]
            count = size * len(measured)
            server, own, wall = postgres_cpu(), time.process_time(), time.perf_counter()
            for group in measured:
                store.add_emails(group)
            print(f"{size:>6} {1e6 * (time.process_time() - own) / count:>13.1f} "
                  f"{1e6 * (postgres_cpu() - server) / count:>20.1f} "
                  f"{1e6 * (time.perf_counter() - wall) / count:>14.1f}")
        store.engine.dispose()


if __name__ == "__main__":
    main()
