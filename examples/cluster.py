"""The README's decorator example, run on a Dask cluster instead of threads.

Run it with ``python examples/cluster.py`` (needs ``pip install asynckit[dask]``).
It starts its own ``http.server`` on 127.0.0.1 and an in-process
``distributed.LocalCluster``, so it needs no network. Against a real cluster, the only line to
change is the Pool: ``Pool(backend="dask", address="tcp://scheduler:8786")``.
"""

from __future__ import annotations

from urllib.request import urlopen

from distributed import Client, LocalCluster
from localsite import serve

from asynckit import Pool


def main() -> None:
    with serve() as server:
        compute(server.base)


def compute(base: str) -> None:
    urls = [f"{base}/page-{n}" for n in range(8)]

    # processes=False: workers are threads of this process, talking in-process
    # (no sockets); processes=True would start worker processes on 127.0.0.1.
    cluster = LocalCluster(n_workers=2, threads_per_worker=2,  # type: ignore[no-untyped-call]
                           processes=False, dashboard_address=":0")  # any free port
    client = Client(cluster)  # type: ignore[no-untyped-call]
    with cluster, client:
        pool = Pool(client=client)

        @pool.task
        def download(url: str) -> bytes:
            with urlopen(url) as response:
                return response.read()  # type: ignore[no-any-return]

        @pool.task
        def total(pages: list[bytes]) -> int:
            return sum(len(page) for page in pages)

        pages = [download(u) for u in urls]  # all start at once, on the cluster
        t = total(pages)  # runs on the cluster too: the pages go worker to worker
        print([len(page) for page in pages])  # using a page brings it here
        print(t + 1)  # using the value blocks until it is ready
        pool.wait()  # every task has settled


if __name__ == "__main__":
    main()
