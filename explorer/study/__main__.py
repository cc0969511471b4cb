"""`python -m explorer.study train|evaluate`: train every variant by one protocol, then score them all.

    python -m explorer.study train              # all variants and seeds, two runs at a time (resumes)
    python -m explorer.study train --variants unet naive --jobs 1
    python -m explorer.study evaluate           # weights/study/study.json and the model card's section
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from explorer.study import report, runner
from explorer.study.protocol import CHECKPOINT_DIR, STUDY_DIR, Protocol
from explorer.study.variants import VARIANTS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["train", "evaluate"])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=STUDY_DIR, help="weights and study.json (default weights/study)")
    parser.add_argument("--checkpoint-dir", type=Path, default=CHECKPOINT_DIR)
    parser.add_argument("--data", type=Path, default=Path("data/emoji"),
                        help="the prepared emoji (explorer.data prepare)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (one CPU thread each)")
    parser.add_argument("--steps", type=int, help="override the protocol's steps (for a quick trial; all runs alike)")
    parser.add_argument("--resolution", type=int, help="override the protocol's resolution (e.g. 64 on a GPU)")
    parser.add_argument("--threads", type=int, help="CPU threads per run (default 1)")
    parser.add_argument("--seeds", type=int, help="at most this many seeds per variant (a quick trial)")
    parser.add_argument("--images", type=int, help="evaluate: only the first N held-out images (a quick trial)")
    parser.add_argument("--readme", type=Path, help="model card to update (default weights/README.md; "
                                                    "'-' for none)")
    return parser.parse_args(argv)


def protocol_from(args) -> Protocol:
    protocol = Protocol()
    changes = {key: value for key, value in (("steps", args.steps), ("resolution", args.resolution),
                                             ("threads", args.threads)) if value}
    if args.steps:
        changes["eval_every"] = max(1, args.steps // 12)
        changes["warmup"] = min(protocol.warmup, max(1, args.steps // 12))
    return replace(protocol, **changes)


def main(argv=None) -> None:
    args = parse_args(argv)
    protocol = protocol_from(args)
    if args.command == "train":
        args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        runner.train_all(args.variants, protocol, args.out, args.checkpoint_dir, args.data, args.jobs, args.seeds)
    else:
        readme = None if args.readme == Path("-") else (args.readme or args.out.parent / "README.md")
        report.evaluate_study(args.variants, protocol, args.out, readme, args.images, args.seeds)


if __name__ == "__main__":
    main()
