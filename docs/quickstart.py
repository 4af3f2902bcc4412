import time

from asynckit import Pool

pool = Pool(worker_count=8)


@pool.task
def download(n):
    time.sleep(0.5)  # stands in for urlopen(url).read(): half a second of waiting
    return f"page {n} " * n


@pool.task
def count_words(page):
    return len(page.split())


@pool.task
def total(counts):
    return sum(counts)


start = time.perf_counter()
pages = [download(n) for n in range(8)]  # all eight start at once
t = total([count_words(p) for p in pages])  # a list of AsyncValues is a dependency
print(t + 1)  # using the value waits until it is ready: 57
print(f"{time.perf_counter() - start:.1f} s")  # about 0.5 s, not 8 x 0.5 s
pool.wait()  # at program end: every task has settled
