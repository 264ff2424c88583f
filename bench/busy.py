"""Training beside a CPU-bound process: the default ``movierec train``, alone and then with a busy
neighbour, in one run; prints both times and the slowdown next to the fair-share bound.

Each training runs the real CLI in a subprocess (so its thread settings, cli/threads.py, are the
ones measured) on every rating of ``--data``. The neighbour is ``--busy`` Python processes each
spinning one core. With ``c`` usable cores and ``b`` busy processes, a fair scheduler leaves the
training ``(c - b) / c`` of the machine at worst, so its fair slowdown is at most ``c / (c - b)``
(for b < c); the bar is 1.5x that.

    python bench/busy.py                      # ml-latest-small, one busy process
    python bench/busy.py --busy 2 --repeat 2

Timings on a shared machine are noisy: quote the load average printed with them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPIN = "while True: pass"


def train_once(data: str, out: Path, extra: list[str]) -> float:
    cmd = [sys.executable, "-c", "from movierec.cli import main; main()", "train", "--data", data,
           "-o", str(out), "--force", *extra]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"movierec train failed ({result.returncode}): {result.stderr.strip()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ml-latest-small")
    parser.add_argument("--busy", type=int, default=1, help="CPU-bound processes beside the training")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest counts")
    parser.add_argument("--train-args", default="", help="extra arguments for movierec train, e.g. '--ranking none'")
    args = parser.parse_args()

    from movierec.cli.threads import available_cores

    cores = available_cores()
    extra = args.train_args.split()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model"
        train_once(args.data, out, extra)  # warm-up: parse cache, imports, page cache
        alone = min(train_once(args.data, out, extra) for _ in range(args.repeat))
        load_alone = os.getloadavg()[0]
        spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.busy)]
        try:
            time.sleep(0.5)
            busy = min(train_once(args.data, out, extra) for _ in range(args.repeat))
            load_busy = os.getloadavg()[0]
        finally:
            for proc in spinners:
                proc.terminate()
                proc.wait()

    ratio = busy / alone
    fair = cores / (cores - args.busy) if args.busy < cores else float("inf")
    print(f"usable cores: {cores}; busy processes: {args.busy}; threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset (CLI default: cores)')}")
    print(f"movierec train --data {args.data} {args.train_args}".rstrip())
    print(f"  alone:       {alone:7.2f} s   (load average {load_alone:.2f})")
    print(f"  beside busy: {busy:7.2f} s   (load average {load_busy:.2f})")
    print(f"  slowdown:    {ratio:7.2f}x  fair share bound {fair:.2f}x, bar 1.5 x {fair:.2f} = {1.5 * fair:.2f}x"
          f"  -> {'within' if ratio <= 1.5 * fair else 'ABOVE'} the bar")


if __name__ == "__main__":
    main()
