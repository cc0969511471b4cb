"""Each app process's temp folder: a neighbour starting at the same moment never sweeps it as dead."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

from explorer.server import limits


def test_a_folder_being_made_is_left_alone_and_a_dead_one_is_swept(tmp_path):
    making = tmp_path / f"{limits.MAKING}abc"  # a neighbour between mkdtemp and taking its lock
    making.mkdir()
    assert not limits.sweep_if_dead(making) and making.exists()
    old = time.time() - 2 * 3600
    os.utime(making, (old, old))  # one that died while making its folder: swept later
    assert limits.sweep_if_dead(making) and not making.exists()

    dead = tmp_path / "dead"
    dead.mkdir()
    (dead / ".lock").touch()
    assert limits.sweep_if_dead(dead) and not dead.exists()

    alive = tmp_path / "alive"
    alive.mkdir()
    with open(alive / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert not limits.sweep_if_dead(alive) and alive.exists()


def test_processes_starting_together_each_keep_their_folder(tmp_path):
    """Eight processes make their folders at once, each sweeping the others' as it starts: all survive."""
    script = ("import sys, time; from pathlib import Path; from explorer.server import limits; "
              "root = limits.temp_root(Path(sys.argv[1])); time.sleep(1.5); "
              "print(root.name, (root / 'gradio').is_dir() and (root / '.lock').exists())")
    processes = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, cwd=limits.Path(__file__).parent.parent)
                 for _ in range(8)]
    results = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err[-400:] for _, err in results]
    names = [out.split()[0] for out, _ in results]
    assert len(set(names)) == 8 and all(out.split()[1] == "True" for out, _ in results), results
    assert not any(name.startswith(limits.MAKING) for name in names)
    assert not list((tmp_path / limits.TEMP_PARENT).iterdir()), "each process removes its folder at exit"
