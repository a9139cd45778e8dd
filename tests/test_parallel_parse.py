"""Cold loads parse on both cores (``squasher.graph.project.parse_files``, issue 16 goal 3).

Each case runs in a fresh interpreter: the forked worker is only used when the process
runs a single thread, which a pytest process that already ran other tests may not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "sample_apps"

_SCRIPT = """
import json, sys
from squasher.graph import project as P

pools = []
class CountingPool(P.ProcessPoolExecutor):
    def __init__(self, *args, **kwargs):
        pools.append(1)
        super().__init__(*args, **kwargs)
P.ProcessPoolExecutor = CountingPool

def snapshot():
    project = P.Project.load(sys.argv[1], use_cache=False)
    return (sorted(project.records_by_path.values(), key=lambda r: str(r.path)),
            sorted(project.graph.nx.edges()), sorted(project.graph.full.edges()))

P.PARALLEL_PARSE_MIN_FILES = 10**9
serial = snapshot()
P.PARALLEL_PARSE_MIN_FILES = 2
{prepare}
parallel = snapshot()
print("RESULT " + json.dumps({{"pools": len(pools), "same": serial == parallel,
                               "records": len(serial[0])}}))
"""


def _run(prepare: str = "") -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", _SCRIPT.format(prepare=prepare), str(SAMPLE)],
                          capture_output=True, text=True, timeout=300)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, proc.stdout + proc.stderr
    return json.loads(line[len("RESULT "):])


def test_parallel_parse_gives_the_same_records_and_graph() -> None:
    result = _run()
    assert result["pools"] == 1  # the worker was really used
    assert result["records"] > 50
    assert result["same"] is True


def test_a_failing_worker_is_replaced_by_parsing_here() -> None:
    prepare = ("def broken(jobs, settings):\n"
               "    raise MemoryError('worker died')\n"
               "P._parse_encoded = broken")
    result = _run(prepare)
    assert result["pools"] == 1
    assert result["same"] is True
