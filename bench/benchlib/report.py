"""The report: bench/RESULTS.md's Markdown (render) and the files a run writes (write)."""

import json
import os
import shlex
from pathlib import Path

from sswlab import table1

from .cases.table1 import POLLED, backends, variant
from .common import log, median


def render(bench, info, argv):
    """The Markdown report (bench/RESULTS.md) of the run: its header, then a section per case
    that has rows, then the notes."""
    def f(v, fmt="{:.2f}"):
        return "–" if v is None else fmt.format(v)

    out = []
    w = out.append
    w("# ssw benchmark results\n")
    w("Written by `bench/run_bench.py`; how to read it: `bench/README.md`.\n")
    w("| | |\n|---|---|")
    w(f"| date | {info['date']} |")
    w(f"| commit | `{info['commit']}`{' (dataplane/ or control/ modified in the working tree)' if info['dirty'] else ''} |")
    w(f"| machine | {info['model']} (family {info['family']}), {info['cpus']} vCPUs, kernel {info['kernel']} |")
    w(f"| DPDK | {info['dpdk']} (Debian packages); l3fwd built from `/usr/share/dpdk/examples/l3fwd` |")
    w(f"| ssw build | `{bench.build}` buildtype `{bench.buildtype}` |")
    w(f"| TSC | {info['cpu_mhz']:.3f} MHz, the `cpu MHz` of /proc/cpuinfo (constant_tsc, tsc_known_freq) |")
    w(f"| load average | start {' '.join(f'{x:.2f}' for x in info['loadavg_start'])}, end {' '.join(f'{x:.2f}' for x in os.getloadavg())} |")
    w(f"| repetitions | {bench.a.repeat} per variant; window {bench.a.duration}s after {bench.a.warmup}s warm-up; medians |")
    w(f"| command | `{shlex.join(argv)}` |\n")
    w("*cycles/pkt*: CPU-seconds the forwarding process used in the window × TSC Hz / packets. "
      "*× base*: Mpps ratio to a baseline measured in the same repetition (median over the "
      "repetitions), and in parentheses the ratio in "
      "packets per CPU-second (base cycles/pkt ÷ cycles/pkt), which holds better when the "
      "CPU is shared. *others*: cores' worth of CPU that processes not started by the "
      "benchmark used during the window (this machine is shared; above ~0.1 the Mpps are "
      "disturbed).\n")

    def fwd_table(case, rows, bases):
        # One cell per baseline (none when the run had none).
        w("| variant | Mpps (median) | cycles/pkt | " + "".join(f"× {b} | " for b in bases)
          + "samples (Mpps) | others (cores) | notes |")
        w("|---|---:|---:|" + "---:|" * len(bases) + "---|---:|---|")
        for r in rows:
            ratios = [f"{f(bench.ratio(case, r['variant'], b))} ({f(bench.ratio(case, r['variant'], b, 'cycles_per_packet'))})"
                      for b in bases]
            notes = []
            for s in r["samples"]:
                if s.get("drops"):
                    notes.append("drops " + ", ".join(f"{k} {v}" for k, v in s["drops"].items()))
                if s.get("load_seconds"):
                    notes.append(f"loaded in {s['load_seconds']}s")
                if s.get("startup_seconds"):
                    notes.append(f"started with the bindings in {s['startup_seconds']}s")
                if s.get("batches_written_during_storm"):
                    notes.append(f"{s['batches_written_during_storm']} batch files written "
                                 "during the storm (the prepared ones ran out)")
                if s.get("gen_mpps") is not None:
                    notes.append(f"offered {s['gen_mpps']:.2f}" + (f", sink {s['sink_mpps']:.2f}" if "sink_mpps" in s else ""))
            w(f"| {r['variant']} | {f(r.get('mpps'))} | {f(r.get('cycles_per_packet'), '{:.0f}')} | "
              + "".join(x + " | " for x in ratios) + ", ".join(f(s.get("mpps")) for s in r["samples"])
              + f" | {f(r.get('others_cores'))} | {'; '.join(dict.fromkeys(notes))} |")
        w("")

    rows = bench.rows
    if rows("lookup"):
        w("## NAT lookup (nat_lookup_bench), one core, bulk of 32\n")
        w(f"Random keys, random lookups among present keys (hit), absent keys (miss) or half of each (mixed). "
          f"Medians of {bench.a.repeat} repetitions; `vs floor`: rate / the floor's rate (one "
          f"independent random 8-byte read per lookup from an array as large as nat_table's "
          f"memory), measured in the same run; `× rte_hash`: rate / rte_hash_lf's for the same "
          f"lookups. Repetitions of all cases run in a random order. EAL memory: "
          f"{bench.lookup_memory}.\n")
        w("`nat_table/*_churned`: the same lookups on a second table of the same bindings after "
          "2 rebindings per key (a table that has lived through migrations: keys displaced from "
          "a full bucket stay displaced, ~15% of them against 5% in a fresh table); `× rte_hash` "
          "against rte_hash's fresh table. Their hits are home addresses, which rebinding "
          "never moves (only care-of keys churn).\n")
        w("`nat_table/update_with_reader`: M updates/s by one writer (`nat_table::set`, RCU "
          "reclamation included) on the churned table while a reader thread looks up without "
          "pause; `reader` is that reader's lookup rate as a fraction of "
          "`nat_table/hit_churned`'s alone. "
          "`nat_table/update_batched_with_reader`: the same, the updates applied 256 at a time "
          "as the control thread applies a batch, each one's table lines fetched a few updates "
          "ahead (`nat_table::pipelined`, `prepare_set`).\n")
        w("| case | M lookups/s | vs floor | × rte_hash | bytes/binding | notes |")
        w("|---|---:|---:|---:|---:|---|")
        for r in rows("lookup"):
            label = f" ({r['label']})" if r.get("label") else ""
            # nat_table/hit/1M -> rte_hash_lf/hit/1M: DPDK's answer to the same lookups
            # (its fresh table for our churned one too).
            theirs = bench.row("lookup", r["variant"].replace("nat_table/", "rte_hash_lf/", 1)
                              .replace("_churned/", "/"))
            vs_rte = (r["mitems_per_s"] / theirs["mitems_per_s"]
                      if r["variant"].startswith("nat_table/") and theirs and theirs.get("mitems_per_s")
                      else None)
            notes = []
            if r.get("reader_vs_alone") is not None:
                notes.append(f"updates/s; reader {r['reader_vs_alone']:.2f}× alone")
            if r.get("error"):
                notes.append(f"skipped: {r['error']}")
            w(f"| {r['variant']}{label} | {f(r['mitems_per_s'], '{:.1f}')} | {f(r.get('vs_floor'), '{:.3f}')} "
              f"| {f(vs_rte, '{:.2f}')} | {f(r.get('bytes_per_binding'), '{:.0f}')} | {'; '.join(notes)} |")
        w("")
    if rows("worker"):
        w("## The router's own cost per packet (worker_bench), one core, bursts of 32\n")
        w(f"A router on two null ports, driven without a PMD: each burst is 32 fresh mbufs with "
          f"a stored 64-byte frame copied in (what the pcap PMD does), then `io` sends them "
          f"(the floor), the others run the worker on them (the configuration of (a); "
          f"`nat/1M-miss`: 1M bindings held, every packet to an unbound address). `work`: "
          f"cycles per packet above io's, measured in the same run. Medians of {bench.a.repeat}.\n")
        w("| case | Mpps | cycles/pkt | work cycles/pkt | vs io |")
        w("|---|---:|---:|---:|---:|")
        for r in rows("worker"):
            w(f"| {r['variant']} | {f(r['mpps'])} | {f(r['cyc'], '{:.1f}')} | {f(r.get('work'), '{:.1f}')} "
              f"| {f(r.get('vs_io'), '{:.3f}')} |")
        w("")
    if rows("fwd"):
        w("## (a) One lcore, 64-byte UDP, pcap (infinite_rx) → forwarder → null\n")
        w(f"{bench.a.frames} distinct frames for testpmd, l3fwd and plain routing (destinations "
          f"in 198.18.1.0/24, l3fwd's route to port 1); the NAT cases send to random home "
          f"addresses of their bindings ({bench.a.frames} frames for 1K, {bench.a.nat_frames} for "
          f"1M: the pcap PMD holds every frame in an mbuf, so a 1M-binding run touches "
          f"{bench.a.nat_frames} of its bindings, in a fixed order). l3fwd-lpm-long: l3fwd "
          f"replaying {bench.a.nat_frames} frames too, ssw-nat-1m's baseline: the pcap PMD's "
          f"cost per frame grows with its file (a fresh mbuf and a copy of a stored frame that "
          f"no longer stay in cache). ssw: `--idle-sleep-us 0` (pcap and null have no "
          f"descriptor to sleep on: the worker polls), except ssw-route-adaptive, the default "
          f"`--rx-mode adaptive` and `--idle-sleep-us 500`; "
          f"egress port role core, every packet translated by a forward binding in the NAT cases "
          f"(loaded with `sswctl batch`, time in notes). testpmd and l3fwd counted by telemetry "
          f"(`/ethdev/stats` of the null port), ssw by `show stats` (tx_packets).\n")
        fwd_table("fwd", rows("fwd"), [b for b in ("testpmd-io", "l3fwd-lpm", "l3fwd-lpm-long")
                                       if bench.row("fwd", b)])
    if rows("stages"):
        w("## (f) Where a packet's cycles go: (a)'s ssw variants, stage by stage\n")
        w(f"The variants of (a), run again with an ssw-router built with `-Dstage_cycles=true` "
          f"(`{bench.stage_build}`): the worker reads the TSC once per stage per burst and "
          f"`show stats` reports cycles per received packet by stage; shown here over the "
          f"measurement window (medians of {bench.a.repeat}). rx: `rte_eth_rx_burst` and the "
          f"loop around it; parse: Ethernet and IPv4 checks; dnat: the bulk destination "
          f"lookup in the binding table; route: the LPM lookups, and with bindings the "
          f"per-packet decisions (next hop, TTL, MTU, source translation's need); snat: the "
          f"bulk source lookup; rewrite: translations, checksums, TTL, Ethernet header, hit "
          f"counters and queueing (plain routing decides TTL and MTU here too, in the same "
          f"pass); neighbor: what a run of packets to one next hop shares, once per run (its "
          f"MAC; in plain routing also the route's checks and its port's settings); tx: "
          f"`rte_eth_tx_burst` and freeing. Each stage mark reads the TSC (slow in a virtual "
          f"machine) and keeps the CPU from overlapping one stage with the next, so a packet "
          f"costs more here than without the marks; these runs also come minutes after (a)'s, "
          f"and this VM's speed drifts (last two columns): compare the stages with each other. "
          f"rx includes the pcap PMD's work for each frame (a fresh mbuf, the stored frame "
          f"copied in): the 1M-binding variant replays {bench.a.nat_frames} stored frames against "
          f"the others' {bench.a.frames}, and their mbufs do not stay in the caches, so its rx "
          f"stage is larger for the generator's sake, not the router's (in (a) too).\n")
        names = list(next(r["stages"] for r in rows("stages") if r.get("stages")))
        w("| variant | Mpps | " + " | ".join(names) + " | sum | cycles/pkt (process) | cycles/pkt in (a) |")
        w("|---|---:|" + "---:|" * (len(names) + 3))
        for r in rows("stages"):
            st = r.get("stages") or {}
            a_row = bench.row("fwd", r["variant"])
            w(f"| {r['variant']} | {f(r.get('mpps'))} | "
              + " | ".join(f(st.get(k), '{:.1f}') for k in names)
              + f" | {f(sum(st.values()) if st else None, '{:.1f}')} | {f(r.get('cycles_per_packet'), '{:.0f}')} "
              f"| {f(a_row and a_row.get('cycles_per_packet'), '{:.0f}')} |")
        w("")
    if rows("memif"):
        w("## (b) testpmd txonly → memif → forwarder → null, or → memif → testpmd rxonly\n")
        w("Generator: testpmd txonly, 60-byte frames (64 with FCS) to the forwarder's MAC, one "
          "flow, on CPU 0. Forwarder on CPU 1. With the testpmd sink, the sink's lcore shares "
          "CPU 0 with the generator (three busy pollers on two vCPUs). Rates at the forwarder's "
          "egress; notes: offered by the generator, received by the sink.\n")
        bases = []
        for sink in ("null", "testpmd"):
            for b in ("testpmd-macswap", "l3fwd-lpm"):
                if bench.row("memif", f"{b} -> {sink}"):
                    bases.append(f"{b} -> {sink}")
        fwd_table("memif", rows("memif"), bases)
    if rows("storm"):
        w("## (c) Update storm: 1M bindings, forwarding while bindings are rewritten\n")
        w(f"Bindings loaded from the startup file (`--config`); then a window without updates "
          f"and a window while `sswctl batch` files of {bench.a.storm_batch} updates "
          f"(`nat add M to M* epoch E`, random M, fresh M*, increasing epochs) are pushed "
          f"back to back; the files are written before the window, so that writing them "
          f"(Python, on the control thread's CPU) does not count against the router.\n")
        fwd_table("storm", rows("storm"), ["no updates"] if bench.row("storm", "no updates") else [])
        ups = [s.get("updates_per_s") for s in (bench.row("storm", "during updates") or {"samples": []})["samples"]]
        ups = [u for u in ups if u]
        if ups:
            w(f"Updates applied during the storm windows: median {median(ups) / 1e3:.0f}k/s "
              f"(samples: {', '.join(f'{u / 1e3:.0f}k' for u in ups)}).\n")
        c = bench.storm_check_result
        if c:
            w(f"**Translation check** ({c['seconds']}s, tx port captured with `tx_pcap`): "
              f"{c['captured']} packets captured ({c['router_tx']} sent by the router), "
              f"{c['correct']} translated to a care-of address their home address held at some "
              f"point, {c['untranslated']} untranslated, {c['wrong']} wrong; "
              f"{c['bad_checksums']} bad checksums among {c['checksums_checked']} checked "
              f"(every 16th packet, IPv4 and UDP); {c['updates']} updates "
              f"({c['updates_per_s'] / 1e3:.0f}k/s while the capture ran; writing the "
              f"capture competes for the CPU).\n")
    if rows("scaling"):
        w("## (d) Scaling: one worker vs two (`-l 1` vs `-l 0,1`), port 0 with two rx queues\n")
        w(f"The pcap port has two rx queues (two rx_pcap files of {bench.a.frames // 2} frames) "
          "in both runs; one worker polls one of them, two workers one each. Two workers "
          "take both vCPUs: the control thread, the benchmark driver and everything else on "
          "the machine then run on the forwarding cores.\n")
        w("| forwarder | 1 worker Mpps | 2 workers Mpps | 2 / 1 | cycles/pkt 1 | cycles/pkt 2 | others (cores) |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        for v in dict.fromkeys(r["variant"].rsplit(" ", 1)[0] for r in rows("scaling")):
            r1, r2 = bench.row("scaling", f"{v} x1"), bench.row("scaling", f"{v} x2")
            w(f"| {v} | {f(r1 and r1.get('mpps'))} | {f(r2 and r2.get('mpps'))} | "
              f"{f(bench.ratio('scaling', f'{v} x2', f'{v} x1'))} | "
              f"{f(r1 and r1.get('cycles_per_packet'), '{:.0f}')} | {f(r2 and r2.get('cycles_per_packet'), '{:.0f}')} | "
              f"{f(r2 and r2.get('others_cores'))} |")
        w("")
    if rows("idle"):
        w("## (e) Idle cost and round-trip time, af_packet on veth, no traffic\n")
        w("ssw-router in its own network namespace between two host namespaces (veth pairs, "
          "af_packet PMD). Idle CPU: utime+stime of the router process over "
          f"{2 if bench.a.quick else 30}s without traffic (100% = one core), in each "
          "`--rx-mode` (docs/DESIGN.md §3.8). RTT: `ping -i 0.2` from one host to the other "
          "through the router (medians of the pings, then of the repetitions); the router is "
          "idle between pings, so in interrupt and adaptive mode each ping finds the worker "
          "asleep in epoll. `direct veth`: the same hosts on one veth pair; `Linux router`: "
          "through a namespace that forwards in the kernel, one hop as the router's.\n")
        w("| router | idle CPU % | by thread (%) | RTT median ms | RTT mean ms | RTT max ms | added RTT ms |")
        w("|---|---:|---|---:|---:|---:|---:|")
        for r in rows("idle"):
            s = r["samples"]
            cpu = median([x["idle_cpu_percent"] for x in s if x.get("idle_cpu_percent") is not None])
            added = median([x["added_rtt_ms"] for x in s if x.get("added_rtt_ms") is not None])
            threads = {}
            for x in s:
                for k, v in x.get("threads_percent", {}).items():
                    threads.setdefault(k, []).append(v)
            by_thread = ", ".join(f"{k} {median(v):.1f}" for k, v in threads.items())
            w(f"| {r['variant']} | {f(cpu, '{:.1f}')} | {by_thread} | {f(median([x['rtt_median_ms'] for x in s]), '{:.3f}')} | "
              f"{f(median([x['rtt_mean_ms'] for x in s]), '{:.3f}')} | {f(max(x['rtt_max_ms'] for x in s), '{:.3f}')} | "
              f"{f(added, '{:.3f}')} |")
        w("")
    if rows("table1"):
        table1_section(bench, w, f)
    if bench.notes:
        w("## Notes\n")
        for n in dict.fromkeys(bench.notes):
            w(f"- {n}")
        w("")
    return "\n".join(out)


def table1_section(bench, w, f):
    """Case table1: per row of the paper's Table I, ssw's and Linux's times and their ratio."""
    a = bench.a
    w("## (g) The paper's Table I on the testbed: ssw-router against Linux forwarding\n")
    w(f"The testbed of `scripts/sswlab/testbed.py` (R1–R4 and the hosts in network namespaces) "
      f"with four ssw-router processes (af_packet on veth, on two vCPUs, default options"
      f"{' and ' + ' '.join(f'`{x}`' for x in a.router_args) if a.router_args else ''}) "
      f"and with Linux forwarding in the same namespaces (`sswlab.kernel_testbed`: the routes of "
      f"conf/testbed, stateless nftables address rewrites, proxy ARP), ssw then Linux, "
      f"{a.rounds} round(s), each on a fresh testbed. Ping: E → C every {table1.PING_INTERVAL} s "
      f"for {a.duration} s, after {a.warmup} s of pings not counted; web: 1 MB GETs from E at "
      f"{table1.WEB_RATE}/s for {a.duration} s, each timed to its last byte (`sswlab.table1`). "
      f"ms: the median over "
      f"the rounds of each round's mean (or median); ssw / Linux: the median of the rounds' "
      f"ratios.\n")
    polled = a.table1_polled_path
    if polled:
        w(f"`{POLLED}`: a third testbed, ssw with R1 and R3 (C's home path) in `--rx-mode poll` "
          "on a vCPU each (R1 on 1, R3 on 0) and R2, R4 in interrupt mode: no worker on the "
          "home path ever sleeps. Not a way to run four routers on two vCPUs; the floor of "
          "ssw / Linux on this machine for the row \"non migrated\" (the other rows pass R2, "
          "asleep, on R3's vCPU).\n")
    extra = f" {POLLED} ms | {POLLED} / Linux |" if polled else ""
    w("| Table I row | statistic | paper ms | ssw ms | Linux ms | ssw / Linux |" + extra
      + " ssw rounds | Linux rounds |")
    w("|---|---|---:|---:|---:|---:|" + ("---:|---:|" if polled else "") + "---|---|")
    for key, label in table1.LABELS.items():
        ssw, linux, pp = (bench.row("table1", variant(x, key)) for x in ("ssw", "linux", POLLED))
        stats = [("mean", "ms"), ("p50", "p50_ms")] if key.startswith("ping") else [("mean", "ms")]
        for stat, field in stats:
            per = [[s[field] for s in r["samples"]] if r else [] for r in (ssw, linux, pp)]
            # Bench.ratio of a cost: base / variant, i.e. ssw's time over Linux's.
            ratio = bench.ratio("table1", variant("linux", key), variant("ssw", key), field)
            cells = f" {f(median(per[2]), '{:.3f}')} | " + f(bench.ratio(
                "table1", variant("linux", key), variant(POLLED, key), field)) + " |" if polled else ""
            w(f"| {label} | {stat} | {f(table1.PAPER[key] if stat == 'mean' else None, '{:.3f}')} | "
              + " | ".join(f(median(v), '{:.3f}') for v in per[:2])
              + f" | {f(ratio)} |" + cells + " "
              + " | ".join(", ".join(f(x, '{:.3f}') for x in v) for v in per[:2]) + " |")
    moves = []
    for backend in backends(bench):
        r = bench.row("table1", variant(backend, "moves"))
        by_move = {}
        for s in r["samples"] if r else []:
            for what, ms in s["moves_ms"].items():
                by_move.setdefault(what, []).append(ms)
        moves.append(f"{backend} " + ", ".join(f"{what} {f(median(v), '{:.1f}')}"
                                               for what, v in by_move.items()))
    w("\nThe moves of C, median ms (ssw: `sswctl migrate` from the command to the last "
      "router's acknowledgement; Linux: `ip` and `nft` on every router, then the first ARP "
      "bursts, mostly the start of those processes): " + "; ".join(moves) + ".\n")


def write(bench, info, argv, failures, interrupted):
    """Prints the report; writes it to --results (unless the run was interrupted) and every
    sample to --json."""
    report = render(bench, info, argv)
    print("\n" + report)
    a = bench.a
    if a.results and interrupted:
        log(f"interrupted: {a.results} left as it was")
    elif a.results:
        Path(a.results).write_text(report + "\n")
        log(f"wrote {a.results}")
    if a.json:
        Path(a.json).write_text(json.dumps({"info": info, "buildtype": bench.buildtype,
                                            "results": bench.results, "notes": bench.notes,
                                            "storm_check": bench.storm_check_result,
                                            "failures": failures}, indent=1, default=str))
        log(f"wrote {a.json}")
