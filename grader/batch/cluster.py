"""Grading on a Dask cluster (`--scheduler`): the executor, and the refusal of a scheduler anyone can reach."""
from __future__ import annotations

import concurrent.futures as cf
import ipaddress
import socket
from urllib.parse import urlsplit
from .discovery import BatchError
from .worker import prepare_worker


class DaskExecutor(cf.Executor):
    """Dask's concurrent.futures executor on a cluster, owning its client."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise BatchError("--scheduler needs dask.distributed: pip install 'hw3grade[dask]'") from None
        self.client = Client(address)
        self.client.run(prepare_worker)
        self._executor = self.client.get_executor(pure=False)

    @property
    def parallelism(self) -> int:
        return max(sum(self.client.nthreads().values()), 1)

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        try:
            self._executor.shutdown(wait=wait and not cancel_futures)
        finally:
            self.client.close()


def dask_executor(address: str) -> DaskExecutor:
    """The executor for `--scheduler ADDRESS` (pip install 'hw3grade[dask]')."""
    return DaskExecutor(address)


def check_scheduler(address: str, allow_insecure: bool = False) -> str:
    """Refuse a plain-TCP scheduler on another machine (Dask has no authentication of its own:
    anyone who reaches that address runs code on every worker, and reads every submission);
    "" for a secure address, else a warning to print (plain TCP on this machine, or allowed)."""
    scheme, _, rest = address.rpartition("://")
    scheme = scheme or "tcp"
    if scheme not in ("tcp", "ws"):
        return ""      # tls://, wss://, inproc://, ucx://: encrypted, or not a network address
    host = urlsplit(f"//{rest}").hostname or ""
    if _loopback(host):
        return (f"the scheduler {address} is plain TCP: every process on this machine that reaches it can run "
                "code on its workers (Dask has no authentication of its own); use TLS on a shared machine "
                "(docs/BATCH.md)")
    if not allow_insecure:
        raise BatchError(f"the scheduler {address} is plain TCP on another machine: whoever reaches it runs code on "
                         "every worker and reads every submission. Use a tls:// scheduler with certificates "
                         "(docs/BATCH.md, \"A shared cluster\"), or --allow-insecure-scheduler on a network "
                         "that is yours alone")
    return f"the scheduler {address} is plain TCP on another machine (--allow-insecure-scheduler)"


def _loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:   # a name: loopback only if every address it has is
        try:
            addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}   # an IP address (a str)
        except OSError:
            return False
        return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)
