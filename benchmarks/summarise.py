"""Turn the JSON lines the benchmarks append (COMMS_BENCH_JSON=path) into the Markdown table
of benchmarks/README.md:

    COMMS_BENCH_JSON=/tmp/bench.jsonl .venv/bin/python benchmarks/bench_build.py
    .venv/bin/python benchmarks/summarise.py /tmp/bench.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness import number  # the script's folder is on sys.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the JSON lines file the benchmarks appended to")
    args = parser.parse_args()
    records = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    machines = sorted({r["machine"] for r in records})
    dates = sorted({r["when"][:10] for r in records})
    print(f"Measured {', '.join(dates)} on {'; '.join(machines)}.\n")
    print("| benchmark | figure | measured | target | | baseline (same run) | ratio |")
    print("|---|---|---|---|---|---|---|")
    for record in records:
        for figure in record["figures"]:
            print(_row(record["title"], figure))


def _row(title: str, figure: dict) -> str:  # type: ignore[type-arg]
    verdict = "" if figure["target"] is None else ("✅" if figure["meets_target"] else "❌")
    baseline = "" if figure["baseline"] is None else f"{number(figure['baseline'])} {figure['unit']}"
    ratio = "" if figure["ratio"] is None else f"{figure['ratio']:.2f}×"
    cells = [
        title,
        figure["name"] + (f" ({figure['notes']})" if figure["notes"] else ""),
        f"{number(figure['value'])} {figure['unit']}",
        figure["target"] or "",
        verdict,
        baseline,
        ratio,
    ]
    return "| " + " | ".join(cells) + " |"


if __name__ == "__main__":
    main()
