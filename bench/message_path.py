"""``python -m bench.message_path``: the API's CPU per plain email from fields to stored row.

What the intake does for each ``POST /email`` between decoding the body and the store's
commit: validating the fields, rendering the Markdown, building the row and, where the code
has it, checking that the message is within the limits and that a provider can carry it
(``delivery/carriage.py``). No I/O. Run it from two checkouts side by side (``PYTHONPATH=…/src``)
to compare them: it imports only what every version has, and times the carriage check when
there is one. Prints the CPU time per email in microseconds, best and median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from collections.abc import Callable

from micromailer.config import Settings
from micromailer.delivery.intake import Sender, new_email
from micromailer.domain.rendering import render_markdown
from micromailer.domain.validation import parse_email_request

EMAIL = {
    "to": "ada@example.com",
    "to_name": "Ada Lovelace",
    "subject": "Your invoice for December",
    "content": "# Hello Ada\n\nYour **invoice** is ready: [see it](https://example.com/i/42).\n",
}


def email_steps() -> Callable[[], object]:
    """One plain email through the steps this checkout has."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    sender = Sender(settings.sender_email, settings.sender_name)
    try:
        carriage_module = importlib.import_module("micromailer.delivery.carriage")
        deps = importlib.import_module("micromailer.api.deps")
        intake = importlib.import_module("micromailer.delivery.intake")
    except ImportError:
        carriage_module = None
    if carriage_module is None:
        def steps() -> object:
            request = parse_email_request(EMAIL)
            return new_email(request, sender, render_markdown(request.content))
        return steps
    carriage = deps.carriage_of(settings)
    domains = settings.sender_domain_list()

    def steps_with_carriage() -> object:
        request = parse_email_request(EMAIL, domains)
        new = new_email(request, sender, render_markdown(request.content))
        intake.check_carriage(carriage, new)
        return new
    return steps_with_carriage


def cpu_per_call(steps: Callable[[], object], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        steps()
    return (time.process_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    steps = email_steps()
    cpu_per_call(steps, 1_000)  # warm up
    runs = [cpu_per_call(steps, args.calls) for _ in range(args.repeats)]
    print(f"plain email, fields to row: best {min(runs):.1f} µs, "
          f"median {statistics.median(runs):.1f} µs per email")


if __name__ == "__main__":
    main()
