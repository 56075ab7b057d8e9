"""Compare two outboxes message for message: a change that must not show stays invisible.

    python scripts/compare_outboxes.py OLD_OUTBOX NEW_OUTBOX
    python scripts/compare_outboxes.py --demo OUTBOX [--config comms.toml]

Messages are matched by edition (the outbox folder) and recipient (the To address). Only the
values of Message-ID and Date are ignored; every other header line and every body byte must be
equal. The outbox's other files (index.html, the variant previews) are compared byte for byte.
Prints each difference and exits 1 when there is one.

`--demo` runs `comms demo` into OUTBOX with what would otherwise differ between two runs held
still: contacts get public ids from a counter instead of at random (they are in every link
token and Message-ID), and COMMS_SECRET_KEY is fixed when it is not set. The demo's clock is
already fixed, so tokens and Date agree too. Run it once with the old code and once with the
new (e.g. PYTHONPATH pointing at a copy of the old tree), then compare the two outboxes.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import os
import sys
from email import message_from_bytes, policy
from pathlib import Path

IGNORED = (b"message-id", b"date")
DEMO_KEY = "compare-outboxes-fixed-key-" + "x" * 40


def messages(outbox: Path) -> dict[tuple[str, str], Path]:
    """(edition, recipient address) → the .eml file."""
    found: dict[tuple[str, str], Path] = {}
    for path in sorted(outbox.glob("*/messages/*.eml")):
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        to = parsed["To"]
        address = to.addresses[0].addr_spec if to and to.addresses else path.stem
        found[(path.parent.parent.name, address)] = path
    return found


def comparable(data: bytes) -> list[bytes]:
    """The message's lines, with the value of each ignored header (and its continuations) blanked."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines: list[bytes] = []
    ignoring = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not ignoring:
                lines.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        ignoring = name in IGNORED
        lines.append(name + b": (ignored)" if ignoring else line)
    return [*lines, b"", *body.split(b"\r\n")]


def differences(old: Path, new: Path) -> list[str]:
    problems: list[str] = []
    old_messages, new_messages = messages(old), messages(new)
    for key in sorted(old_messages.keys() - new_messages.keys()):
        problems.append(f"only in {old}: {key[0]} to {key[1]}")
    for key in sorted(new_messages.keys() - old_messages.keys()):
        problems.append(f"only in {new}: {key[0]} to {key[1]}")
    for key in sorted(old_messages.keys() & new_messages.keys()):
        before = comparable(old_messages[key].read_bytes())
        after = comparable(new_messages[key].read_bytes())
        if before != after:
            diff = difflib.unified_diff(
                [line.decode("utf-8", "replace") for line in before],
                [line.decode("utf-8", "replace") for line in after],
                f"{old_messages[key]}",
                f"{new_messages[key]}",
                lineterm="",
                n=1,
            )
            problems.append("\n".join(itertools.islice(diff, 40)))
    problems += _other_files(old, new)
    return problems


def _other_files(old: Path, new: Path) -> list[str]:
    def files(root: Path) -> set[Path]:
        return {p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.suffix != ".eml"}

    old_files, new_files = files(old), files(new)
    problems = [f"only in {old}: {p}" for p in sorted(old_files - new_files)]
    problems += [f"only in {new}: {p}" for p in sorted(new_files - old_files)]
    problems += [
        f"differs: {p}"
        for p in sorted(old_files & new_files)
        if (old / p).read_bytes() != (new / p).read_bytes()
    ]
    return problems


def run_demo(outbox: Path, config: Path) -> None:
    """`comms demo` with public ids from a counter and a fixed key (see the module's docstring)."""
    from comms.audience import sync
    from comms.cli import main

    os.environ.setdefault("COMMS_SECRET_KEY", DEMO_KEY)
    counter = itertools.count(1)
    # Before issue 14's streaming import one id was made at a time, since then a batch at once.
    if hasattr(sync, "public_ids"):
        sync.public_ids = lambda count: [f"{next(counter):016x}" for _ in range(count)]  # type: ignore[attr-defined]
    else:
        sync.new_public_id = lambda: f"{next(counter):016x}"  # type: ignore[attr-defined]
    main(["--config", str(config), "demo", "--outbox", str(outbox)], standalone_mode=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outboxes", nargs="*", type=Path, help="OLD_OUTBOX NEW_OUTBOX")
    parser.add_argument("--demo", type=Path, metavar="OUTBOX", help="run the demo into OUTBOX")
    parser.add_argument("--config", type=Path, default=Path("comms.toml"))
    args = parser.parse_args()
    if args.demo:
        run_demo(args.demo, args.config)
        return 0
    if len(args.outboxes) != 2:
        parser.error("give OLD_OUTBOX and NEW_OUTBOX, or --demo OUTBOX")
    old, new = args.outboxes
    problems = differences(old, new)
    for problem in problems:
        print(problem)
    compared = len(messages(old).keys() & messages(new).keys())
    print(f"{compared} messages compared; {len(problems)} differences (Message-ID and Date ignored)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
