// NAT lookup throughput on one core: our binding table against the baselines of
// docs/DESIGN.md §8.
//
//   nat_lookup_bench [Google Benchmark flags] [-- EAL options]
//
// Every case looks up keys 32 at a time (one bulk call, or 32 calls where the structure has no
// bulk API) from a precomputed stream of random keys, and reports items/s and `vs_floor`: its
// rate divided by the floor's, measured in the same run. The floor is one random 8-byte read
// per lookup, independent of the others (no pointer chasing), from an array as large as our
// binding table's memory (hash plus hit counters): what any table of that size costs at least.
//
// Cases, each at 1K, 64K, 1M, 4M and 16M entries, all hits ("hit"), all misses ("miss") or
// half of the lookups for absent keys ("mixed"):
//   nat_table      ssw::nat_table::lookup_bulk (the bindings are in the hash's buckets);
//                  also reports its memory per binding (`bytes_per_binding`)
//   rte_hash_lf    rte_hash, RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF, rte_hash_lookup_bulk_data
//   unordered_map  std::unordered_map<uint32_t, uint32_t>::find
// `nat_table/{hit,miss,mixed}_churned`: nat_table again, on a second table of the same
// bindings that has been through 2 rebindings per key (nat_churned_fixture below): what a
// router's table looks like after migrations, next to the freshly loaded one. The hits are
// home addresses M, which rebinding never moves (only the care-of keys churn): these rows
// show M among churned neighbours. Lookups of churned keys themselves (M*, as a foreign
// router's DNAT and a home router's SNAT do) run ~20% slower than fresh ones (measured
// separately, 2026-11-26: 69 -> 53-56 M/s at 1M).
// And `nat_table/update_with_reader`: one writer rebinding M to a new M* (nat_table::set, with
// RCU reclamation, as the control thread does) on the churned table as fast as it can while
// a reader thread looks up bindings without pause; items/s are updates/s, `reader_vs_alone`
// the reader's lookup rate as a fraction of nat_table/hit_churned's.
// `nat_table/update_batched_with_reader`: the same writer applying its updates 256 at a
// time, each one's lines fetched a few updates ahead (nat_table::pipelined), as the control
// thread applies a batch of commands.
//
// rte_hash needs the EAL; the default EAL options (--no-huge -m 1024 --no-shconf --no-pci
// -l 0) run anywhere but leave rte_hash too little memory above 4M entries (those cases then
// say so). Give hugepage options after `--` (e.g. `-- -l 0 --no-pci --in-memory`) so that
// rte_hash, like our tables (the ordinary heap, advised to use transparent huge pages), sits
// on 2 MiB pages. Smoke run: --benchmark_min_time=0.01 --benchmark_filter=/1K.
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>

#include "bench/bench_eal.h"
#include "dataplane/tables/memory.h"
#include "dataplane/tables/nat_table.h"
#include "dataplane/tables/rcu.h"

namespace {

constexpr unsigned kBulk = 32;
// Lookups are drawn from a stream this long (a power of two), read sequentially and wrapped.
constexpr size_t kStream = size_t(1) << 20;
// Updates applied together by the batched update case, as the control thread applies a batch.
constexpr size_t kUpdateBatch = 256;

enum class mix { hit, miss, mixed };

double thread_cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// A bijection of 32-bit words (xor-shifts and odd multipliers are each invertible) that
// scatters consecutive inputs: distinct keys without remembering the ones drawn. Only 0 maps
// to 0, and inputs start at 1.
constexpr uint32_t scatter(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

// N distinct random non-zero keys, plus keys known to be absent, for one table size. Shared
// by every case of that size so that all of them see the same keys.
struct key_set {
    std::vector<uint32_t> present;       // N keys: the table's keys
    std::vector<uint32_t> care_of;       // N more distinct keys: the bindings' M* (nat_table)
    std::vector<uint32_t> absent;        // keys in neither
    std::vector<uint32_t> spare;         // N more: the other M* the update case alternates with
    std::vector<uint32_t> hit_stream;    // kStream lookups, all present
    std::vector<uint32_t> miss_stream;   // kStream lookups, all absent
    std::vector<uint32_t> mixed_stream;  // kStream lookups, every other one absent (shuffled)

    const std::vector<uint32_t> &stream(mix m) const {
        return m == mix::hit ? hit_stream : m == mix::miss ? miss_stream : mixed_stream;
    }
};

const key_set &keys_for(uint32_t n) {
    static std::map<uint32_t, std::unique_ptr<key_set>> cache;
    auto &slot = cache[n];
    if (slot) return *slot;
    slot = std::make_unique<key_set>();
    key_set &k = *slot;
    for (auto *v : {&k.present, &k.care_of, &k.absent, &k.spare}) v->resize(n);
    for (uint32_t i = 0; i < n; ++i) {
        k.present[i] = scatter(1 + i);
        k.care_of[i] = scatter(1 + n + i);
        k.absent[i] = scatter(1 + 2 * n + i);
        k.spare[i] = scatter(1 + 3 * n + i);
    }
    std::mt19937_64 rng(0x5eed0000u + n);
    k.hit_stream.resize(kStream);
    k.miss_stream.resize(kStream);
    k.mixed_stream.resize(kStream);
    for (size_t i = 0; i < kStream; ++i) {
        k.hit_stream[i] = k.present[rng() % n];
        k.miss_stream[i] = k.absent[rng() % n];
        k.mixed_stream[i] = (i & 1) ? k.absent[rng() % n] : k.present[rng() % n];
    }
    std::shuffle(k.mixed_stream.begin(), k.mixed_stream.end(), rng);
    return k;
}

// The bytes nat_table allocates for n bindings and one worker: the hash over 2n keys and one
// worker's hit counters (a line per bucket).
size_t nat_table_bytes(uint32_t n) { return ssw::nat_table::memory_for(n, 1); }

// The floor's rate per table size, from the floor case (or measured here when a filter left
// it out), so that every case can report its ratio to it.
std::map<uint32_t, double> floor_rate;
// nat_table/hit_churned's rate per size: the update cases (on that table) compare their
// reader with it.
std::map<uint32_t, double> alone_rate;

struct floor_array {
    uint64_t *words = nullptr;
    size_t n_words = 0;
    bool from_dpdk = false;
    std::vector<uint32_t> index;  // kStream random word indices

    explicit floor_array(uint32_t entries) {
        n_words = nat_table_bytes(entries) / 8;
        // The same allocator as our tables: same page size.
        words = static_cast<uint64_t *>(ssw::table_alloc(n_words * 8, from_dpdk));
        if (!words) throw std::bad_alloc();
        for (size_t i = 0; i < n_words; ++i) words[i] = i;
        std::mt19937_64 rng(0xf100f + entries);
        index.resize(kStream);
        for (auto &x : index) x = uint32_t(rng() % n_words);
    }
    ~floor_array() { ssw::table_free(words, from_dpdk); }

    // One bulk: 32 independent reads.
    uint64_t bulk(size_t pos) const {
        uint64_t sum = 0;
        const uint32_t *ix = &index[pos];
        for (unsigned i = 0; i < kBulk; ++i) sum += words[ix[i]];
        return sum;
    }
};

const floor_array &floor_for(uint32_t n) {
    static std::map<uint32_t, std::unique_ptr<floor_array>> cache;
    auto &f = cache[n];
    if (!f) f = std::make_unique<floor_array>(n);
    return *f;
}

double measure_floor(uint32_t n) {
    const floor_array &f = floor_for(n);
    uint64_t sum = 0, lookups = 0;
    size_t pos = 0;
    const double start = thread_cpu_seconds();
    double now = start;
    while (now - start < 0.2) {
        for (int r = 0; r < 1024; ++r) {
            sum += f.bulk(pos);
            pos = (pos + kBulk) & (kStream - 1);
        }
        lookups += 1024 * kBulk;
        now = thread_cpu_seconds();
    }
    benchmark::DoNotOptimize(sum);
    return double(lookups) / (now - start);
}

// Items/s and the ratio to the floor, both over the thread's CPU time (Google Benchmark's
// default clock: on a shared machine, time the thread was not running is not counted).
void report(benchmark::State &state, uint32_t n, double cpu_seconds) {
    const int64_t items = int64_t(state.iterations()) * kBulk;
    state.SetItemsProcessed(items);
    if (cpu_seconds <= 0) return;
    auto it = floor_rate.find(n);
    if (it == floor_rate.end()) it = floor_rate.emplace(n, measure_floor(n)).first;
    state.counters["vs_floor"] = double(items) / cpu_seconds / it->second;
}

// Tables are built once per size and kept: Google Benchmark calls a case several times while
// it sizes the iteration count, and filling 1M entries takes a while.
// They are freed before the EAL shuts down (release_tables).
std::vector<std::function<void()>> releasers;

template <typename T>
T &cached(uint32_t n) {
    static std::map<uint32_t, std::unique_ptr<T>> cache;
    auto &t = cache[n];
    if (!t) {
        if (cache.size() == 1) releasers.push_back([] { cache.clear(); });
        t = std::make_unique<T>(keys_for(n));
    }
    return *t;
}

void release_tables() {
    for (auto &r : releasers) r();
    releasers.clear();
}

// ---- the floor ----

void BM_floor(benchmark::State &state) {
    const uint32_t n = uint32_t(state.range(0));
    const floor_array &f = floor_for(n);
    uint64_t sum = 0;
    size_t pos = 0;
    const double start = thread_cpu_seconds();
    for (auto _ : state) {
        sum += f.bulk(pos);
        pos = (pos + kBulk) & (kStream - 1);
    }
    const double secs = thread_cpu_seconds() - start;
    benchmark::DoNotOptimize(sum);
    if (secs > 0) floor_rate[n] = double(state.iterations()) * kBulk / secs;
    state.SetLabel(std::to_string(f.n_words * 8 >> 10) + " KiB");
    report(state, n, secs);
}

// ---- ssw::nat_table ----

struct nat_fixture {
    ssw::rcu_domain rcu;
    ssw::nat_table table;
    explicit nat_fixture(const key_set &k) {
        if (!rcu.init(1) || !table.init(uint32_t(k.present.size()), 1, rcu)) throw std::bad_alloc();
        std::string error;
        for (size_t i = 0; i < k.present.size(); ++i) {
            ssw::binding b{ssw::ip4_addr(k.present[i]), ssw::ip4_addr(k.care_of[i]),
                           ssw::binding_kind::forward, 0};
            if (!table.set(b, error)) throw std::runtime_error(error);
        }
    }
};

// The same table after 2 updates per key (each rebinding replaces one key, M*): a table that
// has lived through migrations. Keys never move in lockfree_hash, so one displaced when its
// home bucket was full stays displaced after that bucket empties: 5% of the keys of a fresh
// table live beyond their home bucket, ~15% after this much churn (17% where it levels off,
// at 4 per key). The update cases run on this table, so that the fresh one stays fresh
// whatever order the cases run in.
struct nat_churned_fixture : nat_fixture {
    std::vector<uint8_t> on_spare;  // per binding: bound to spare[i]
    explicit nat_churned_fixture(const key_set &k) : nat_fixture(k), on_spare(k.present.size(), 0) {
        std::mt19937 rng(0xc4u + uint32_t(k.present.size()));
        std::vector<ssw::binding> bs(kUpdateBatch);
        std::string error;
        for (uint64_t done = 0; done < 4 * uint64_t(k.present.size()); done += bs.size()) {
            if (!apply_batch(k, rng, bs, error)) throw std::runtime_error(error);
            if (done % (64 * kUpdateBatch) == 0) rcu.reclaim();
        }
        rcu.synchronize();
    }
    // The next random rebinding: M to its other M* (free, so every update is accepted).
    template <typename Rng>
    ssw::binding rebind(const key_set &k, Rng &rng) {
        const uint32_t i = uint32_t(rng() % k.present.size());
        on_spare[i] ^= 1;
        return ssw::binding{ssw::ip4_addr(k.present[i]),
                            ssw::ip4_addr(on_spare[i] ? k.spare[i] : k.care_of[i]),
                            ssw::binding_kind::forward, 0};
    }
    // Applies `batch` rebindings as the control thread applies a batch (false: refused).
    template <typename Rng>
    bool apply_batch(const key_set &k, Rng &rng, std::vector<ssw::binding> &bs,
                     std::string &error) {
        for (auto &b : bs) b = rebind(k, rng);
        bool ok = true;
        ssw::nat_table::pipelined(
            bs.size(), [&](size_t i, unsigned step) { table.prepare_set(bs[i], step); },
            [&](size_t i) { ok = ok && table.set(bs[i], error); });
        return ok;
    }
};

template <mix M, typename Fixture = nat_fixture>
void BM_nat_table(benchmark::State &state) {
    const uint32_t n = uint32_t(state.range(0));
    const key_set &k = keys_for(n);
    Fixture &f = cached<Fixture>(n);
    const uint32_t *stream = k.stream(M).data();
    ssw::nat_table::view out[kBulk];
    ssw::lockfree_hash::bulk_hint hint;  // as a worker keeps it
    uint64_t sum = 0;
    size_t pos = 0;
    const double start = thread_cpu_seconds();
    for (auto _ : state) {
        f.table.lookup_bulk(stream + pos, kBulk, out, -1, &hint);
        // What the worker uses next: the binding (a miss is view{}: care_of 0). Without a
        // branch on hit or miss, here and in the other cases: a mixed stream would pay a
        // mispredicted branch per lookup in this loop, not in the table.
        for (unsigned i = 0; i < kBulk; ++i) sum += out[i].care_of;
        pos = (pos + kBulk) & (kStream - 1);
    }
    const double secs = thread_cpu_seconds() - start;
    benchmark::DoNotOptimize(sum);
    report(state, n, secs);
    state.counters["bytes_per_binding"] = double(nat_table_bytes(n)) / n;
    if constexpr (M == mix::hit && std::is_same_v<Fixture, nat_churned_fixture>) {
        if (secs > 0) alone_rate[n] = double(state.iterations()) * kBulk / secs;
    }
}

// One writer rebinds M to another M* (alternating between two, so every new M* is free) as
// fast as it can, while a reader thread looks bindings up without pause and reports quiescent
// states; items/s are updates/s. The writer reclaims erased entries as the control thread
// does (the hash holds them for a grace period, and waits for one when too many are held).
void BM_nat_update_with_reader(benchmark::State &state, size_t batch) {
    const uint32_t n = uint32_t(state.range(0));
    const key_set &k = keys_for(n);
    nat_churned_fixture &f = cached<nat_churned_fixture>(n);
    std::atomic<bool> stop{false};
    uint64_t reads = 0;
    double reader_secs = 0;
    // The reader runs on another CPU than the writer (the EAL pinned this thread to its
    // lcore, and a new thread inherits that): two threads on one CPU would halve both.
    cpu_set_t others;
    CPU_ZERO(&others);
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (c != sched_getcpu()) CPU_SET(c, &others);
    std::thread reader([&] {
        pthread_setaffinity_np(pthread_self(), sizeof others, &others);
        f.rcu.register_reader(0);
        f.rcu.online(0);
        ssw::nat_table::view out[kBulk];
        const uint32_t *stream = k.hit_stream.data();
        ssw::lockfree_hash::bulk_hint hint;
        uint64_t sum = 0, local = 0;
        size_t pos = 0;
        const double start = thread_cpu_seconds();
        while (!stop.load(std::memory_order_relaxed)) {
            f.table.lookup_bulk(stream + pos, kBulk, out, -1, &hint);
            for (unsigned i = 0; i < kBulk; ++i) sum += out[i] ? out[i].care_of : 0;
            pos = (pos + kBulk) & (kStream - 1);
            local += kBulk;
            f.rcu.quiescent(0);
        }
        reader_secs = thread_cpu_seconds() - start;
        f.rcu.offline(0);
        f.rcu.unregister_reader(0);
        benchmark::DoNotOptimize(sum);
        reads = local;
    });
    std::mt19937 rng(n);
    std::string error;
    uint64_t updates = 0;
    std::vector<ssw::binding> bs(batch);
    for (auto _ : state) {
        const bool ok =
            batch == 1 ? f.table.set(f.rebind(k, rng), error) : f.apply_batch(k, rng, bs, error);
        if (!ok) {
            state.SkipWithError(error.c_str());
            break;
        }
        updates += batch;
    }
    stop.store(true);
    reader.join();
    f.rcu.synchronize();
    f.rcu.reclaim();
    state.SetItemsProcessed(int64_t(updates));
    const auto alone = alone_rate.find(n);
    if (reader_secs > 0 && alone != alone_rate.end())
        state.counters["reader_vs_alone"] = double(reads) / reader_secs / alone->second;
}

// ---- rte_hash, lock-free readers ----

struct rte_hash_fixture {
    std::unique_ptr<rte_hash, void (*)(rte_hash *)> h{nullptr, rte_hash_free};
    std::string error;
    explicit rte_hash_fixture(const key_set &k) {
        const uint32_t n = uint32_t(k.present.size());
        const std::string name = "bench_hash_" + std::to_string(n);
        rte_hash_parameters p{};
        p.name = name.c_str();
        // As loaded as our index (at most ~60%): rte_hash cannot place every key at 100%.
        p.entries = uint32_t(uint64_t(n) * 10 / 6);
        p.key_len = sizeof(uint32_t);
        p.hash_func = rte_hash_crc;
        p.hash_func_init_val = 0;
        p.socket_id = int(rte_socket_id());
        p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
        h.reset(rte_hash_create(&p));
        if (!h) {
            error = "rte_hash_create failed (EAL memory? give EAL options after --)";
            return;
        }
        for (uint32_t i = 0; i < n; ++i) {
            if (rte_hash_add_key_data(h.get(), &k.present[i],
                                      reinterpret_cast<void *>(uintptr_t(i) + 1)) < 0) {
                error = "rte_hash_add_key_data failed: table full";
                return;
            }
        }
    }
};

template <mix M>
void BM_rte_hash_lf(benchmark::State &state) {
    const uint32_t n = uint32_t(state.range(0));
    const key_set &k = keys_for(n);
    rte_hash_fixture &f = cached<rte_hash_fixture>(n);
    if (!f.error.empty()) {
        state.SkipWithError(f.error.c_str());
        return;
    }
    rte_hash *h = f.h.get();
    const uint32_t *stream = k.stream(M).data();
    const void *key_ptrs[kBulk];
    void *data[kBulk];
    uint64_t sum = 0;
    size_t pos = 0;
    const double start = thread_cpu_seconds();
    for (auto _ : state) {
        for (unsigned i = 0; i < kBulk; ++i) key_ptrs[i] = stream + pos + i;
        uint64_t hits = 0;
        rte_hash_lookup_bulk_data(h, key_ptrs, kBulk, &hits, data);
        for (unsigned i = 0; i < kBulk; ++i) sum += uintptr_t(data[i]) & (0 - (hits >> i & 1));
        pos = (pos + kBulk) & (kStream - 1);
    }
    const double secs = thread_cpu_seconds() - start;
    benchmark::DoNotOptimize(sum);
    report(state, n, secs);
}

// ---- std::unordered_map ----

struct map_fixture {
    std::unordered_map<uint32_t, uint32_t> m;
    explicit map_fixture(const key_set &k) {
        m.reserve(k.present.size());
        for (uint32_t i = 0; i < k.present.size(); ++i) m.emplace(k.present[i], i);
    }
};

template <mix M>
void BM_unordered_map(benchmark::State &state) {
    const uint32_t n = uint32_t(state.range(0));
    const key_set &k = keys_for(n);
    const auto &m = cached<map_fixture>(n).m;
    const uint32_t *stream = k.stream(M).data();
    uint64_t sum = 0;
    size_t pos = 0;
    const double start = thread_cpu_seconds();
    for (auto _ : state) {
        for (unsigned i = 0; i < kBulk; ++i) {
            auto it = m.find(stream[pos + i]);
            sum += it != m.end() ? it->second : 0;
        }
        pos = (pos + kBulk) & (kStream - 1);
    }
    const double secs = thread_cpu_seconds() - start;
    benchmark::DoNotOptimize(sum);
    report(state, n, secs);
}

// Floor first for each size: the others divide by it. The update case last: it rebinds.
void register_all() {
    const std::pair<int64_t, const char *> sizes[] = {{int64_t(1) << 10, "1K"},
                                                      {int64_t(1) << 16, "64K"},
                                                      {int64_t(1) << 20, "1M"},
                                                      {int64_t(1) << 22, "4M"},
                                                      {int64_t(1) << 24, "16M"}};
    for (const auto &[n, size] : sizes) {
        auto reg = [&](const std::string &name, auto fn) {
            return benchmark::RegisterBenchmark((name + "/" + size).c_str(), fn)->Arg(n);
        };
        reg("floor", BM_floor);
        reg("nat_table/hit", BM_nat_table<mix::hit>);
        reg("rte_hash_lf/hit", BM_rte_hash_lf<mix::hit>);
        reg("unordered_map/hit", BM_unordered_map<mix::hit>);
        reg("nat_table/miss", BM_nat_table<mix::miss>);
        reg("rte_hash_lf/miss", BM_rte_hash_lf<mix::miss>);
        reg("unordered_map/miss", BM_unordered_map<mix::miss>);
        reg("nat_table/mixed", BM_nat_table<mix::mixed>);
        reg("nat_table/hit_churned", BM_nat_table<mix::hit, nat_churned_fixture>);
        reg("nat_table/miss_churned", BM_nat_table<mix::miss, nat_churned_fixture>);
        reg("nat_table/mixed_churned", BM_nat_table<mix::mixed, nat_churned_fixture>);
        reg("rte_hash_lf/mixed", BM_rte_hash_lf<mix::mixed>);
        reg("unordered_map/mixed", BM_unordered_map<mix::mixed>);
        reg("nat_table/update_with_reader", [](benchmark::State &s) {
            BM_nat_update_with_reader(s, 1);
        })->UseRealTime();
        reg("nat_table/update_batched_with_reader", [](benchmark::State &s) {
            BM_nat_update_with_reader(s, kUpdateBatch);
        })->UseRealTime();
    }
}

}  // namespace

int main(int argc, char **argv) {
    ssw::bench::eal_session eal(argc, argv, "nat-lookup-bench");
    if (!eal.ok()) return 1;
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    release_tables();  // before the EAL shuts down
    return 0;
}
