"""`hw3grade batch DIR -o OUT`: a whole class, in parallel, into a gradebook and a report.

DIR holds one submission per entry (folder, .zip, notebook or .py module), or is
Gradescope's "Export Submissions" folder (with `submission_metadata.yml`: then each
student's latest submission is graded). Each submission is graded exactly as
`hw3grade grade` grades it, by `grade_one`, on a pool of warm workers (processes that
imported torch, the reference and the checks once, each with a zygote that forks the
sandboxed child from an interpreter that imported torch once: grader/zygote.py) or on
a Dask cluster (`--scheduler`): the same function through the same `concurrent.futures`
interface.

OUT/<id>/results.json is what Gradescope would show; OUT/<id>/grading.json keeps the
full result and the fingerprint (content hash of the submission, the rubric, the
selected problems and the grader's own code) that lets a rerun skip what has not
changed. grades.csv and report.html are rewritten from the results on disk whenever
the batch ends, Ctrl-C included, so they always list exactly the finished gradings.

Nothing a child does reaches the batch's own processes: the batch (while it runs), the
forkserver, the workers and their zygotes are undumpable (no ptrace, no /proc/<pid>/mem
for the same user); a worker obeys the batch's SIGTERM only and ignores the other
catchable signals; each grading has a wall-clock watchdog, and a worker that dies, is
stopped or overruns it is killed with everything it started and replaced, the others
untouched. A grading disturbed that way (or whose child its zygote lost, or with a
failure of the grader) is graded again alone, with nothing else running; if that fails
too it is a grader failure (`grader_error`, "not your fault"), never cached as final.

The package, one job per module, in the order a batch meets them:

- discovery.py: the submissions in DIR (`discover`, `BatchItem`), Gradescope's export included;
- cache.py: fingerprints and the results on disk (what a rerun skips);
- run.py: `run_batch`, the conductor: discovery, the cache, the pool, then grades.csv and report.html;
- schedule.py: which grading goes where, and what a disturbed one gets (graded again alone);
- pool.py: our own warm workers with their watchdog (`LocalPool`), or the caller's executor;
- worker.py: what runs on a worker: `grade_one`, and a local worker's loop;
- cluster.py: the Dask executor (`--scheduler`) and the refusal of an open scheduler;
- progress.py and cli.py: what the instructor sees.
"""
from .cache import content_digest, fingerprint
from .cluster import DaskExecutor, check_scheduler, dask_executor
from .discovery import BatchError, BatchItem, discover
from .run import BatchSummary, run_batch
from .worker import grade_one, warm_imports

__all__ = ["BatchError", "BatchItem", "BatchSummary", "DaskExecutor", "check_scheduler", "content_digest",
           "dask_executor", "discover", "fingerprint", "grade_one", "run_batch", "warm_imports"]
