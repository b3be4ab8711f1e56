"""Cases lookup and worker: our Google Benchmark programs, nat_lookup_bench (NAT lookups
per second) and worker_bench (the router's own cycles per packet)."""

from ..common import log


def case_lookup(b):
    medians, b.lookup_memory = b.run_gbench("lookup", b.lookup_bench, "/1K", [], ["-m", "2048"],
                                            shuffle=True)
    for m in medians:
        b.add_gbench_row("lookup", m["name"], {
            "mitems_per_s": m.get("items_per_second", 0) / 1e6, "vs_floor": m.get("vs_floor"),
            "label": m.get("label", ""), "bytes_per_binding": m.get("bytes_per_binding"),
            "reader_vs_alone": m.get("reader_vs_alone"), "error": m.get("error_message")})
    log(f"lookup: {len(b.rows('lookup'))} cases")


def case_worker(b):
    medians, _ = b.run_gbench("worker", b.worker_bench, "io|route|nat/1K", ["-m", "512"], ["-m", "1024"])
    for m in medians:
        b.add_gbench_row("worker", m["name"], {
            "mpps": m.get("items_per_second", 0) / 1e6, "cyc": m.get("cyc_per_pkt"),
            "work": m.get("work_cyc_per_pkt"), "vs_io": m.get("vs_io")})
    log(f"worker: {len(b.rows('worker'))} cases")
