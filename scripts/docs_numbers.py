"""Regenerate (or check) the README's numbers from the commands it documents.

The README shows what `make demo`, `make explain-demo` and `make evaluate-demo` print. Those
blocks sit between markers::

    <!-- docs-numbers: demo-train -->
    ```
    …what the command prints…
    ```
    <!-- /docs-numbers -->

This script runs the same commands in a temporary folder (its own MLflow SQLite store),
on the same generated data and seeds, and writes their output into the marked blocks:
`make docs-numbers`. With `--check` it only compares and exits 1 when a block differs
(the numbers drifted from the code). With X Education's Leads.csv (`--x-education PATH`)
the X Education blocks are refreshed too; without it they are left as they are.

Only what the commands print is rewritten; prose that quotes a number is not.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LEADSCORE = Path(sys.executable).with_name("leadscore")
AS_OF = "2026-07-01T00:00:00Z"  # the demo export's moment (Makefile: AS_OF)
EXPLAIN_ID = "1000020"
BLOCK = re.compile(
    r"(<!-- docs-numbers: (?P<name>[\w-]+) -->\n```\n)(?P<body>.*?)(```\n<!-- /docs-numbers -->)",
    re.DOTALL,
)
# What is not a number the README documents: MLflow's own log lines and run ids, paths.
NOISE = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d |Successfully registered|Created version)")


def run(args: list[str], folder: Path) -> str:
    """A `leadscore` command's standard output, 80 columns wide, in `folder`."""
    env = {
        **os.environ,
        "COLUMNS": "80",
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "BENTOML_DO_NOT_TRACK": "true",
    }
    done = subprocess.run(
        [str(LEADSCORE), *args], cwd=folder, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"leadscore {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def clean(text: str, folder: Path) -> str:
    lines = [line.rstrip() for line in text.splitlines() if not NOISE.match(line)]
    out = "\n".join(lines).replace(str(folder), "…").replace(f"{REPO}/", "")
    # a run id differs on every run: not a number the README documents
    out = re.sub(r"\b[0-9a-f]{32}\b", "<run id>", out)
    return out.strip("\n") + "\n"


def between(text: str, start: str, end: str | None = None) -> str:
    """The lines from the first starting with `start` up to (not including) the first after
    it starting with `end` (or the end)."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.lstrip().startswith(start))
    last = len(lines)
    if end is not None:
        last = next(
            (i for i in range(first + 1, len(lines)) if lines[i].lstrip().startswith(end)),
            len(lines),
        )
    return "\n".join(lines[first:last]) + "\n"


def demo_blocks(folder: Path) -> dict[str, str]:
    data = folder / "data"
    run(["generate", "--rows", "20000", "--seed", "7", "--out", str(data / "leads.csv"),
         "--events", str(data / "events.parquet")], folder)  # fmt: skip
    trained = clean(
        run(["train", "--data", str(data / "leads.csv"), "--events",
             str(data / "events.parquet"), "--spec", "hubspot", "--config",
             str(REPO / "configs" / "hubspot-demo.yaml")], folder),
        folder,
    )  # fmt: skip
    explained = clean(
        run(["explain", "--data", str(data / "leads.csv"), "--id", EXPLAIN_ID,
             "--as-of", AS_OF], folder),
        folder,
    )  # fmt: skip
    evaluated = clean(
        run(["evaluate", "--data", str(data / "leads.csv"), "--events",
             str(data / "events.parquet"), "--spec", "hubspot", "--config",
             str(REPO / "configs" / "hubspot-demo.yaml"), "--points",
             str(REPO / "configs" / "points-hubspot.yaml"), "--backtest", "3", "--out",
             str(folder / "reports")], folder),
        folder,
    )  # fmt: skip
    return {
        "demo-train": between(trained, "data:", "recommendations") + between(trained, "registered"),
        "demo-recommendations": between(trained, "recommendations", "registered"),
        "demo-explain": explained,
        "demo-evaluate": between(evaluated, "the newest", "note:"),
    }


def x_education_blocks(folder: Path, leads: Path) -> dict[str, str]:
    trained = clean(
        run(["train", "--data", str(leads), "--spec", "x-education", "--config",
             str(REPO / "configs" / "x-education.yaml"), "--model-name",
             "lead-scorer-x-education"], folder),
        folder,
    )  # fmt: skip
    evaluated = clean(
        run(["evaluate", "--data", str(leads), "--spec", "x-education", "--model",
             "models:/lead-scorer-x-education@champion", "--points",
             str(REPO / "configs" / "points-x-education.yaml"), "--out",
             str(folder / "reports-x")], folder),
        folder,
    )  # fmt: skip
    return {
        "x-education-train": between(trained, "data:", "registered"),
        "x-education-evaluate": between(evaluated, "the newest", "note:"),
    }


def refresh(readme: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """The README with the blocks replaced, and the names of those that changed."""
    changed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in blocks:
            return match.group(0)
        if blocks[name] != match["body"]:
            changed.append(name)
        return match.group(1) + blocks[name] + match.group(4)

    return BLOCK.sub(replace, readme), changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a drift")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    parser.add_argument("--x-education", type=Path, default=None, help="X Education's Leads.csv")
    args = parser.parse_args()
    readme = args.readme.read_text(encoding="utf-8")
    marked = {m["name"] for m in BLOCK.finditer(readme)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources: list[Callable[[], dict[str, str]]] = [lambda: demo_blocks(folder)]
        if args.x_education is not None and args.x_education.is_file():
            sources.append(lambda: x_education_blocks(folder, args.x_education.resolve()))
        blocks: dict[str, str] = {}
        for source in sources:
            blocks.update(source())
    unknown = sorted(set(blocks) - marked)
    if unknown:
        sys.exit(f"{args.readme} has no block marked {', '.join(unknown)}")
    updated, changed = refresh(readme, blocks)
    if args.check:
        print("up to date" if not changed else f"drifted: {', '.join(changed)}")
        sys.exit(1 if changed else 0)
    args.readme.write_text(updated, encoding="utf-8")
    print(f"{args.readme}: " + (f"refreshed {', '.join(changed)}" if changed else "up to date"))


if __name__ == "__main__":
    main()
