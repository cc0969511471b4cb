"""`python -m explorer.study train|status|evaluate`: train the ladder of budgets, see how far it is, score it.

    python -m explorer.study train              # every planned run, two at a time, resuming (explorer/study/ladder.py)
    python -m explorer.study train --variants unet naive-t --max-steps 2400
    python -m explorer.study status             # what is trained and what is left
    python -m explorer.study evaluate           # study.json (and the model card's section) from the trained runs

Runs and study.json go to out/study unless --shipped is given (then weights/study, the files the app shows);
checkpoints go to ~/.cache/unet-explorer/study (UNET_EXPLORER_CHECKPOINTS), outside the working tree.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from explorer.study import ladder, report
from explorer.study.protocol import STUDY_DIR, Protocol
from explorer.study.variants import VARIANTS

DEFAULT_OUT = Path("out/study")
CHECKPOINT_DIR = Path(os.environ.get("UNET_EXPLORER_CHECKPOINTS", Path.home() / ".cache" / "unet-explorer")) / "study"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["train", "status", "evaluate"])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", type=Path, help=f"weights and study.json (default {DEFAULT_OUT})")
    parser.add_argument("--shipped", action="store_true",
                        help=f"read and write the shipped {STUDY_DIR} (the app's files) instead of --out")
    parser.add_argument("--ladder", type=lambda text: tuple(int(x) for x in text.split(",")), default=ladder.LADDER,
                        help="budgets in steps, comma-separated (default %(default)s; small ones for a trial)")
    parser.add_argument("--max-steps", type=int, help="train: no rung above this budget (steps of 64 images)")
    parser.add_argument("--checkpoint-dir", type=Path, default=CHECKPOINT_DIR)
    parser.add_argument("--data", type=Path, default=Path("data/emoji"),
                        help="the prepared emoji (explorer.data prepare)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (one CPU thread each)")
    parser.add_argument("--resolution", type=int, help="override the protocol's resolution (e.g. 64 on a GPU)")
    parser.add_argument("--threads", type=int, help="CPU threads per run (default 1)")
    parser.add_argument("--seeds", type=int, help="at most this many seeds per variant (a quick trial)")
    parser.add_argument("--images", type=int, help="evaluate: only the first N held-out images (a quick trial)")
    parser.add_argument("--readme", type=Path, help="model card to update (default: weights/README.md with "
                                                    "--shipped, none otherwise; '-' for none)")
    return parser.parse_args(argv)


def protocol_from(args) -> Protocol:
    protocol = Protocol()
    changes = {key: value for key, value in (("threads", args.threads),) if value}
    return replace(protocol, **changes)


def output_folder(args) -> Path:
    """--out, or the shipped folder when --shipped says so; never the shipped folder by default."""
    if args.shipped:
        return STUDY_DIR
    out = args.out or DEFAULT_OUT
    if out.resolve() == STUDY_DIR.resolve():
        raise SystemExit(f"--out {out} is the shipped study folder (the app shows its files): pass --shipped to "
                         "write there")
    return out


def main(argv=None) -> None:
    args = parse_args(argv)
    protocol = protocol_from(args)
    args.out = output_folder(args)
    if args.command in ("train", "status"):
        chains = ladder.chains(variants=args.variants, max_top=args.max_steps, rungs=args.ladder)
        if args.seeds:
            chains = [chain for chain in chains if chain.seed < args.seeds]
        if args.resolution:
            chains = [chain for chain in chains if chain.resolution == args.resolution]
        runs = ladder.Ladder(chains, protocol, args.out, args.checkpoint_dir, args.data, args.jobs)
        runs.train() if args.command == "train" else print(runs.status())
    else:
        readme = args.readme if args.readme not in (None, Path("-")) else \
            (STUDY_DIR.parent / "README.md" if args.shipped and args.readme is None else None)
        scores = report.ScoreCache(args.checkpoint_dir / "scores")  # per-image scores, kept outside the work tree
        report.evaluate_study(args.out, readme, args.images, protocol, scores)


if __name__ == "__main__":
    main()
