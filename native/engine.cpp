#include "engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include "kernels.h"

namespace hps {
namespace {

uint32_t pow2AtLeast(uint64_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

// Threads kept for the host side of large requests (copies out of pinned staging, key routing): one
// process-wide pool, fed by every engine's worker thread. Spawning threads for each 64 MiB chunk cost
// more than spreading the copy gained. Never destroyed: its idle threads end with the process.
class HostPool {
 public:
  static HostPool& get() {
    static HostPool* pool = new HostPool();
    return *pool;
  }
  // Threads that can work on one request, the caller included.
  unsigned width() const { return static_cast<unsigned>(threads_.size()) + 1; }
  // Runs fn(0 .. parts-1): part 0 on the calling thread, the others on the pool; returns once all ran.
  void run(unsigned parts, const std::function<void(unsigned)>& fn) {
    if (parts <= 1) return fn(0);
    std::atomic<unsigned> left(parts - 1);
    std::mutex doneMu;
    std::condition_variable doneCv;
    {
      std::lock_guard<std::mutex> g(mu_);
      for (unsigned p = 1; p < parts; p++) {
        queue_.push_back([&, p] {
          fn(p);
          if (left.fetch_sub(1) == 1) {
            std::lock_guard<std::mutex> d(doneMu);
            doneCv.notify_one();
          }
        });
      }
    }
    cv_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> d(doneMu);
    doneCv.wait(d, [&] { return left.load() == 0; });
  }

 private:
  HostPool() {
    unsigned cores = std::thread::hardware_concurrency();
    // Up to 15 helpers, leaving two cores to JavaScript and the engine threads.
    unsigned n = std::min(15u, cores > 3 ? cores - 3 : 1u);
    for (unsigned i = 0; i < n; i++) threads_.emplace_back([this] { loop(); });
    for (auto& t : threads_) t.detach();
  }
  void loop() {
    for (;;) {
      std::function<void()> f;
      {
        std::unique_lock<std::mutex> g(mu_);
        cv_.wait(g, [&] { return !queue_.empty(); });
        f = std::move(queue_.front());
        queue_.pop_front();
      }
      f();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
};

// Copies the rows of hits from `src` (n x dim) to `dst`, skipping the ascending missing positions:
// runs of hits between misses, each in one memcpy, the position range split over the host pool in
// parts of 4 MiB or more (one thread moves about 10 GB/s; the bus brings rows at 55).
void copyHits(float* dst, const float* src, uint32_t n, uint32_t dim, const std::vector<uint32_t>& missing) {
  auto copyRange = [&](uint32_t lo, uint32_t hi) {
    auto it = std::lower_bound(missing.begin(), missing.end(), lo);
    uint32_t from = lo;
    for (; it != missing.end() && *it < hi; ++it) {
      if (*it > from) std::memcpy(dst + size_t(from) * dim, src + size_t(from) * dim, size_t(*it - from) * dim * sizeof(float));
      from = *it + 1;
    }
    if (hi > from) std::memcpy(dst + size_t(from) * dim, src + size_t(from) * dim, size_t(hi - from) * dim * sizeof(float));
  };
  size_t bytes = size_t(n) * dim * sizeof(float);
  HostPool& pool = HostPool::get();
  unsigned parts = static_cast<unsigned>(std::min<size_t>(pool.width(), std::max<size_t>(1, bytes >> 22)));
  uint32_t step = (n + parts - 1) / parts;
  pool.run(parts, [&](unsigned p) {
    copyRange(std::min<uint64_t>(n, uint64_t(p) * step), std::min<uint64_t>(n, uint64_t(p + 1) * step));
  });
}

// Lists in `missing` (room for n) the positions that some device flagged 1 (missed), ascending, and
// returns their count. One device's flags are 0 or 1; a sharded table's devices flag the keys of other
// shards 2. Eight positions at a time over every device's flags (runs of hits cost one load each), the
// positions split over the host pool; each part lists at its own offset, then the parts are packed.
size_t listMisses(const std::vector<const uint8_t*>& flags, uint32_t n, uint32_t* missing) {
  auto missed = [&](uint32_t j) {
    bool miss = false;
    for (const uint8_t* f : flags) miss |= f[j] == 1;
    return miss;
  };
  HostPool& pool = HostPool::get();
  unsigned parts = std::min<unsigned>(pool.width(), std::max<uint32_t>(1, n >> 16));
  uint32_t step = ((n + parts - 1) / parts + 7) & ~7u;  // whole words of 8 flags
  std::vector<uint32_t> listed(parts, 0);
  pool.run(parts, [&](unsigned p) {
    uint32_t lo = std::min<uint64_t>(n, uint64_t(p) * step), hi = std::min<uint64_t>(n, uint64_t(p + 1) * step);
    uint32_t* out = missing + lo;
    uint32_t k = 0, i = lo;
    for (; i + 8 <= hi; i += 8) {
      uint64_t ones = 0;
      for (const uint8_t* f : flags) {
        uint64_t w;
        std::memcpy(&w, f + i, 8);
        ones |= w & 0x0101010101010101ULL;
      }
      if (ones == 0) continue;
      for (uint32_t j = i; j < i + 8; j++) out[k] = j, k += missed(j);
    }
    for (; i < hi; i++) out[k] = i, k += missed(i);
    listed[p] = k;
  });
  size_t count = listed[0];
  for (unsigned p = 1; p < parts; p++) {
    uint32_t lo = std::min<uint64_t>(n, uint64_t(p) * step);
    std::memmove(missing + count, missing + lo, size_t(listed[p]) * sizeof(uint32_t));
    count += listed[p];
  }
  return count;
}

}  // namespace

int deviceCount() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

Engine::Engine(const EngineOptions& o) : opt_(o) {
  int count = deviceCount();
  if (count == 0) throw std::runtime_error("no CUDA device is available");
  if (opt_.devices.empty()) opt_.devices.push_back(0);
  for (int d : opt_.devices) {
    if (d < 0 || d >= count) {
      throw std::runtime_error("device " + std::to_string(d) + " is not present (this machine has " +
                               std::to_string(count) + " CUDA device(s))");
    }
  }
  size_t copies = opt_.devices.size();
  uint64_t perCopy = opt_.sharded ? (opt_.capacity + copies - 1) / copies : opt_.capacity;
  uint32_t buckets = static_cast<uint32_t>(std::max<uint64_t>(1, (perCopy + kBucketSlots - 1) / kBucketSlots));
  uint32_t stride = (opt_.dim + 3) & ~3u;
  capacity_ = uint64_t(buckets) * kBucketSlots * (opt_.sharded ? copies : 1);
  tables_.resize(copies);
  slots_.resize(opt_.slots);
  try {
    for (size_t c = 0; c < copies; c++) {
      DeviceTable& t = tables_[c];
      t.device = opt_.devices[c];
      check(cudaSetDevice(t.device), "cudaSetDevice");
      size_t slotsTotal = size_t(buckets) * kBucketSlots;
      TableView& v = t.view;
      v.buckets = buckets;
      v.dim = opt_.dim;
      v.stride = stride;
      v.policy = opt_.policy;
      check(cudaMalloc(&v.digests, slotsTotal), "cudaMalloc (digests)");
      check(cudaMalloc(&v.keys, slotsTotal * sizeof(int64_t)), "cudaMalloc (keys)");
      check(cudaMalloc(&v.scores, slotsTotal * sizeof(uint32_t)), "cudaMalloc (scores)");
      check(cudaMalloc(&v.values, slotsTotal * stride * sizeof(float)), "cudaMalloc (rows)");
      check(cudaMalloc(&v.locks, buckets * sizeof(int)), "cudaMalloc (locks)");
      check(cudaMemset(v.digests, 0, slotsTotal), "cudaMemset");
      check(cudaMemset(v.scores, 0, slotsTotal * sizeof(uint32_t)), "cudaMemset");
      check(cudaMemset(v.locks, 0, buckets * sizeof(int)), "cudaMemset");
      check(cudaEventCreateWithFlags(&t.lastWrite, cudaEventDisableTiming), "cudaEventCreate");
    }
    for (int i = 0; i < opt_.slots; i++) {
      slots_[i].dev.resize(copies);
      for (size_t c = 0; c < copies; c++) {
        check(cudaSetDevice(tables_[c].device), "cudaSetDevice");
        check(cudaStreamCreateWithFlags(&slots_[i].dev[c].stream, cudaStreamNonBlocking), "cudaStreamCreate");
        check(cudaEventCreateWithFlags(&slots_[i].dev[c].done, cudaEventDisableTiming), "cudaEventCreate");
      }
      freeSlots_.push_back(i);
    }
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  } catch (...) {
    close();
    throw;
  }
  worker_ = std::thread([this] { loop(); });
}

Engine::~Engine() { close(); }

void Engine::enqueue(std::unique_ptr<Request> r) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) throw std::runtime_error("the cache is closed");
    queue_.push_back(std::move(r));
  }
  cv_.notify_one();
}

void Engine::close() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_ && !worker_.joinable() && tables_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (worker_.joinable()) worker_.join();
  for (size_t c = 0; c < tables_.size(); c++) {
    cudaSetDevice(tables_[c].device);
    for (Slot& s : slots_) {
      if (c >= s.dev.size()) continue;
      SlotDevice& sd = s.dev[c];
      for (DeviceBuf* b : {&sd.keys, &sd.vectors, &sd.rows, &sd.miss, &sd.missByPos, &sd.offsets, &sd.weights,
                           &sd.scratch, &sd.leader, &sd.lastOf, &sd.pooled, &sd.counters, &sd.dumpKeys})
        b->release();
      for (PinnedBuf* b : {&sd.hMiss, &sd.hMissByPos, &sd.hPooled, &sd.hCounters})
        b->release();
      if (sd.stream) cudaStreamDestroy(sd.stream);
      if (sd.done) cudaEventDestroy(sd.done);
    }
    TableView& v = tables_[c].view;
    cudaFree(v.digests);
    cudaFree(v.keys);
    cudaFree(v.scores);
    cudaFree(v.values);
    cudaFree(v.locks);
    if (tables_[c].lastWrite) cudaEventDestroy(tables_[c].lastWrite);
  }
  for (Slot& s : slots_)
    for (PinnedBuf* b : {&s.hKeys, &s.hVectors, &s.hRows, &s.hOffsets, &s.hWeights}) b->release();
  tables_.clear();
  slots_.clear();
}

// Submits whatever can start (a free slot and a queued request) before waiting on the oldest request
// in flight, so that the GPU always has the next request queued behind the current one.
void Engine::loop() {
  for (;;) {
    std::unique_ptr<Request> r;
    {
      std::unique_lock<std::mutex> g(mu_);
      cv_.wait(g, [&] { return stopping_ || !inflight_.empty() || (!queue_.empty() && !freeSlots_.empty()); });
      if (!queue_.empty() && !freeSlots_.empty()) {
        r = std::move(queue_.front());
        queue_.pop_front();
        r->slot = freeSlots_.back();
        freeSlots_.pop_back();
      } else if (inflight_.empty()) {
        if (stopping_ && queue_.empty()) return;
        continue;
      }
    }
    if (r) {
      try {
        submit(*r, slots_[r->slot]);
      } catch (const std::exception& e) {
        r->error = e.what();
      }
      inflight_.push_back(std::move(r));
      continue;
    }
    std::unique_ptr<Request> oldest = std::move(inflight_.front());
    inflight_.pop_front();
    try {
      finish(*oldest, slots_[oldest->slot]);
    } catch (const std::exception& e) {
      if (oldest->error.empty()) oldest->error = e.what();
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      freeSlots_.push_back(oldest->slot);
    }
    // `done` takes ownership: the binding hands the request to JavaScript's thread to settle it.
    Request* raw = oldest.release();
    if (raw->done) raw->done(raw);
    else delete raw;
  }
}

ShardFilter Engine::filterFor(size_t c) const {
  return opt_.sharded ? ShardFilter{uint32_t(c), uint32_t(tables_.size())} : ShardFilter{0, 1};
}

// Orders this request on copy c after the last mutation; a mutation also waits for every read since.
void Engine::order(size_t c, SlotDevice& sd, bool write) {
  DeviceTable& t = tables_[c];
  check(cudaStreamWaitEvent(sd.stream, t.lastWrite, 0), "cudaStreamWaitEvent");
  if (write) {
    for (cudaEvent_t e : t.readsSinceWrite) check(cudaStreamWaitEvent(sd.stream, e, 0), "cudaStreamWaitEvent");
    t.readsSinceWrite.clear();
  }
}

void Engine::submit(Request& r, Slot& s) {
  r.copies.clear();
  switch (r.op) {
    case Op::Query: return submitQuery(r, s);
    case Op::Pooled: return submitPooled(r, s);
    case Op::Insert:
    case Op::Update:
    case Op::Erase: return submitMutation(r, s);
    case Op::Dump:
    case Op::Clear: {
      bool write = r.op == Op::Clear;
      size_t n = (write || opt_.sharded) ? tables_.size() : 1;
      for (size_t c = 0; c < n; c++) {
        r.copies.push_back(c);
        DeviceTable& t = tables_[c];
        SlotDevice& sd = s.dev[c];
        check(cudaSetDevice(t.device), "cudaSetDevice");
        order(c, sd, write);
        size_t total = size_t(t.view.buckets) * kBucketSlots;
        if (write) {
          check(cudaMemsetAsync(t.view.digests, 0, total, sd.stream), "cudaMemsetAsync");
          check(cudaMemsetAsync(t.view.scores, 0, total * sizeof(uint32_t), sd.stream), "cudaMemsetAsync");
          check(cudaEventRecord(t.lastWrite, sd.stream), "cudaEventRecord");
        } else {
          auto* count = static_cast<unsigned long long*>(sd.counters.ensure(4 * sizeof(unsigned long long)));
          sd.dumpKeys.ensure(total * sizeof(int64_t));
          sd.hCounters.ensure(4 * sizeof(unsigned long long));
          check(cudaMemsetAsync(count, 0, sizeof(unsigned long long), sd.stream), "cudaMemsetAsync");
          launchDump(t.view, sd.dumpKeys.as<int64_t>(), count, sd.stream);
          check(cudaGetLastError(), "dump kernel");
          check(cudaMemcpyAsync(sd.hCounters.ptr, count, sizeof(unsigned long long), cudaMemcpyDeviceToHost, sd.stream),
                "cudaMemcpyAsync");
          t.readsSinceWrite.push_back(sd.done);
        }
        check(cudaEventRecord(sd.done, sd.stream), "cudaEventRecord");
      }
      return;
    }
  }
}

const int64_t* Engine::stageKeys(Request& r, Slot& s) {
  size_t bytes = size_t(r.n) * sizeof(int64_t);
  if (isPinned(r.keys, bytes)) return r.keys;
  std::memcpy(s.hKeys.ensure(bytes), r.keys, bytes);
  return s.hKeys.as<int64_t>();
}

// Host memory a kernel or a DMA may read: the caller's own if it is pinned, else a staged copy.
static const void* stageHost(const void* src, size_t bytes, PinnedBuf& staging) {
  if (src == nullptr) return nullptr;
  if (isPinned(src, bytes)) return src;
  std::memcpy(staging.ensure(bytes), src, bytes);
  return staging.ptr;
}

void Engine::submitQuery(Request& r, Slot& s) {
  size_t rowBytes = size_t(r.n) * opt_.dim * sizeof(float);
  bool direct = opt_.directWrite || opt_.sharded;
  // Rows are written over PCIe only for hits, so a pinned `out` keeps its miss rows untouched; the
  // copy-back path (directWrite off) moves whole rows and therefore always lands in staging.
  r.staged = !direct || !isPinned(r.out, rowBytes);
  float* hostRows = r.staged ? static_cast<float*>(s.hRows.ensure(rowBytes)) : r.out;
  uint32_t now = ++clock_;
  const int64_t* hk = stageKeys(r, s);
  // Replicated: one copy answers (round robin). Sharded: every device gets every key and answers the
  // keys it owns (the kernel's shard filter flags the others 2), writing their rows at their positions
  // in the output. Nothing is routed on the host: a key costs 8 more bytes on each device's link, and
  // the devices' miss flags are merged in finish().
  if (opt_.sharded) {
    for (size_t c = 0; c < tables_.size(); c++) r.copies.push_back(c);
  } else {
    r.copies.push_back(nextReplica_++ % tables_.size());
  }
  for (size_t c : r.copies) {
    DeviceTable& t = tables_[c];
    SlotDevice& sd = s.dev[c];
    check(cudaSetDevice(t.device), "cudaSetDevice");
    auto* dk = static_cast<int64_t*>(sd.keys.ensure(r.n * sizeof(int64_t)));
    auto* dm = static_cast<uint8_t*>(sd.miss.ensure(r.n));
    float* target = direct ? hostRows : static_cast<float*>(sd.rows.ensure(rowBytes));
    order(c, sd, false);
    check(cudaMemcpyAsync(dk, hk, r.n * sizeof(int64_t), cudaMemcpyHostToDevice, sd.stream), "cudaMemcpyAsync (keys)");
    launchQuery(t.view, dk, r.n, target, dm, nullptr, filterFor(c), now, opt_.tile, sd.stream);
    check(cudaGetLastError(), "query kernel");
    check(cudaMemcpyAsync(sd.hMiss.ensure(r.n), dm, r.n, cudaMemcpyDeviceToHost, sd.stream), "cudaMemcpyAsync (miss)");
    if (!direct) check(cudaMemcpyAsync(hostRows, target, rowBytes, cudaMemcpyDeviceToHost, sd.stream), "cudaMemcpyAsync (rows)");
    check(cudaEventRecord(sd.done, sd.stream), "cudaEventRecord");
    t.readsSinceWrite.push_back(sd.done);
  }
}

void Engine::submitPooled(Request& r, Slot& s) {
  const int64_t* hk = stageKeys(r, s);
  auto* ho = static_cast<const uint32_t*>(stageHost(r.offsets, (r.rows + 1) * sizeof(uint32_t), s.hOffsets));
  auto* hw = static_cast<const float*>(stageHost(r.weights, r.n * sizeof(float), s.hWeights));
  uint32_t now = ++clock_;
  uint32_t slots = pow2AtLeast(2ull * std::max<uint32_t>(r.n, 1));
  size_t outBytes = size_t(r.rows) * opt_.dim * sizeof(float);
  if (opt_.sharded) {
    for (size_t c = 0; c < tables_.size(); c++) r.copies.push_back(c);
  } else {
    r.copies.push_back(nextReplica_++ % tables_.size());
  }
  r.staged = r.copies.size() > 1 || !isPinned(r.out, outBytes);
  for (size_t c : r.copies) {
    DeviceTable& t = tables_[c];
    SlotDevice& sd = s.dev[c];
    check(cudaSetDevice(t.device), "cudaSetDevice");
    auto* dk = static_cast<int64_t*>(sd.keys.ensure(r.n * sizeof(int64_t) + 8));
    auto* doff = static_cast<uint32_t*>(sd.offsets.ensure((r.rows + 1) * sizeof(uint32_t)));
    float* dw = hw ? static_cast<float*>(sd.weights.ensure(r.n * sizeof(float) + 4)) : nullptr;
    auto* scratch = static_cast<int*>(sd.scratch.ensure(2ull * slots * sizeof(int)));
    auto* leader = static_cast<int*>(sd.leader.ensure(r.n * sizeof(int) + 4));
    auto* lastOf = static_cast<int*>(sd.lastOf.ensure(r.n * sizeof(int) + 4));
    auto* miss = static_cast<uint8_t*>(sd.miss.ensure(r.n + 1));
    auto* missByPos = static_cast<uint8_t*>(sd.missByPos.ensure(r.n + 1));
    auto* rows = static_cast<float*>(sd.rows.ensure(size_t(r.n) * opt_.dim * sizeof(float) + 16));
    auto* pooled = static_cast<float*>(sd.pooled.ensure(outBytes + 16));
    order(c, sd, false);
    check(cudaMemcpyAsync(dk, hk, r.n * sizeof(int64_t), cudaMemcpyHostToDevice, sd.stream), "cudaMemcpyAsync (keys)");
    check(cudaMemcpyAsync(doff, ho, (r.rows + 1) * sizeof(uint32_t), cudaMemcpyHostToDevice, sd.stream),
          "cudaMemcpyAsync (offsets)");
    if (hw) check(cudaMemcpyAsync(dw, hw, r.n * sizeof(float), cudaMemcpyHostToDevice, sd.stream), "cudaMemcpyAsync (weights)");
    launchDedup(dk, r.n, scratch, slots, leader, lastOf, sd.stream);
    launchQuery(t.view, dk, r.n, rows, miss, leader, filterFor(c), now, opt_.tile, sd.stream);
    launchPool(rows, opt_.dim, doff, r.rows, dw, leader, miss, missByPos, r.combiner, pooled, sd.stream);
    check(cudaGetLastError(), "pooled lookup kernels");
    // One device and a pinned output: the pooled rows go straight into it.
    void* rowsDst = r.staged ? sd.hPooled.ensure(outBytes + 16) : static_cast<void*>(r.out);
    check(cudaMemcpyAsync(rowsDst, pooled, outBytes, cudaMemcpyDeviceToHost, sd.stream), "cudaMemcpyAsync (pooled rows)");
    check(cudaMemcpyAsync(sd.hMissByPos.ensure(r.n + 1), missByPos, r.n, cudaMemcpyDeviceToHost, sd.stream),
          "cudaMemcpyAsync (miss)");
    check(cudaEventRecord(sd.done, sd.stream), "cudaEventRecord");
    t.readsSinceWrite.push_back(sd.done);
  }
}

// Insert, update and erase go to every copy: each replica applies all of them; in sharded mode each
// device applies the keys of its own shard (the kernel skips the others).
void Engine::submitMutation(Request& r, Slot& s) {
  const int64_t* hk = stageKeys(r, s);
  size_t vecBytes = size_t(r.n) * opt_.dim * sizeof(float);
  auto* hv = static_cast<const float*>(stageHost(r.vectors, vecBytes, s.hVectors));
  uint32_t now = ++clock_;
  uint32_t slots = pow2AtLeast(2ull * std::max<uint32_t>(r.n, 1));
  for (size_t c = 0; c < tables_.size(); c++) {
    r.copies.push_back(c);
    DeviceTable& t = tables_[c];
    SlotDevice& sd = s.dev[c];
    check(cudaSetDevice(t.device), "cudaSetDevice");
    auto* dk = static_cast<int64_t*>(sd.keys.ensure(r.n * sizeof(int64_t) + 8));
    float* dv = hv ? static_cast<float*>(sd.vectors.ensure(vecBytes + 16)) : nullptr;
    auto* scratch = static_cast<int*>(sd.scratch.ensure(2ull * slots * sizeof(int)));
    auto* leader = static_cast<int*>(sd.leader.ensure(r.n * sizeof(int) + 4));
    auto* lastOf = static_cast<int*>(sd.lastOf.ensure(r.n * sizeof(int) + 4));
    auto* counters = static_cast<unsigned long long*>(sd.counters.ensure(4 * sizeof(unsigned long long)));
    order(c, sd, true);
    check(cudaMemcpyAsync(dk, hk, r.n * sizeof(int64_t), cudaMemcpyHostToDevice, sd.stream), "cudaMemcpyAsync (keys)");
    if (hv) check(cudaMemcpyAsync(dv, hv, vecBytes, cudaMemcpyHostToDevice, sd.stream), "cudaMemcpyAsync (vectors)");
    check(cudaMemsetAsync(counters, 0, 4 * sizeof(unsigned long long), sd.stream), "cudaMemsetAsync");
    launchDedup(dk, r.n, scratch, slots, leader, lastOf, sd.stream);
    auto* found = static_cast<uint8_t*>(sd.miss.ensure(r.n + 1));
    if (r.op == Op::Insert) launchInsert(t.view, dk, r.n, dv, lastOf, filterFor(c), now, found, counters, sd.stream);
    if (r.op == Op::Update) launchUpdate(t.view, dk, r.n, dv, lastOf, filterFor(c), counters, sd.stream);
    if (r.op == Op::Erase) launchErase(t.view, dk, r.n, lastOf, filterFor(c), counters, sd.stream);
    check(cudaGetLastError(), "mutation kernels");
    check(cudaMemcpyAsync(sd.hCounters.ensure(4 * sizeof(unsigned long long)), counters, 3 * sizeof(unsigned long long),
                          cudaMemcpyDeviceToHost, sd.stream),
          "cudaMemcpyAsync (counters)");
    check(cudaEventRecord(t.lastWrite, sd.stream), "cudaEventRecord");
    check(cudaEventRecord(sd.done, sd.stream), "cudaEventRecord");
  }
}

void Engine::finish(Request& r, Slot& s) {
  for (size_t c : r.copies) {
    check(cudaSetDevice(tables_[c].device), "cudaSetDevice");
    check(cudaEventSynchronize(s.dev[c].done), "CUDA request");
  }
  if (!r.error.empty()) return;
  switch (r.op) {
    case Op::Query:
    case Op::Pooled: {
      bool pooled = r.op == Op::Pooled;
      auto flagsOf = [&](size_t c) {
        return pooled ? s.dev[c].hMissByPos.as<uint8_t>() : s.dev[c].hMiss.as<uint8_t>();
      };
      r.missing.resize(r.n);
      std::vector<const uint8_t*> flags;
      for (size_t c : r.copies) flags.push_back(flagsOf(c));
      auto t0 = std::chrono::steady_clock::now();
      size_t count = listMisses(flags, r.n, r.missing.data());
      if (flags.size() > 1) {
        // Sharded: merging the devices' flags is the host's share of sharding.
        auto spent = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        shardingNanos_.fetch_add(static_cast<uint64_t>(spent), std::memory_order_relaxed);
      }
      r.missing.resize(count);
      if (!pooled) {
        if (r.staged) copyHits(r.out, s.hRows.as<float>(), r.n, opt_.dim, r.missing);
        if (r.base) for (uint32_t& p : r.missing) p += r.base;
        return;
      }
      if (!r.staged) return;
      size_t floats = size_t(r.rows) * opt_.dim;
      std::memcpy(r.out, s.dev[r.copies[0]].hPooled.ptr, floats * sizeof(float));
      for (size_t k = 1; k < r.copies.size(); k++) {
        const float* part = s.dev[r.copies[k]].hPooled.as<float>();
        for (size_t j = 0; j < floats; j++) r.out[j] += part[j];
      }
      return;
    }
    case Op::Insert:
    case Op::Update:
    case Op::Erase: {
      // Replicas apply the same stream and report the same counts; shards add up.
      size_t n = opt_.sharded ? r.copies.size() : 1;
      for (size_t k = 0; k < n; k++) {
        const auto* c = s.dev[r.copies[k]].hCounters.as<unsigned long long>();
        for (int j = 0; j < 3; j++) r.counts[j] += c[j];
      }
      return;
    }
    case Op::Dump: {
      r.dumped.clear();
      for (size_t c : r.copies) {
        SlotDevice& sd = s.dev[c];
        unsigned long long count = sd.hCounters.as<unsigned long long>()[0];
        size_t at = r.dumped.size();
        r.dumped.resize(at + count);
        check(cudaSetDevice(tables_[c].device), "cudaSetDevice");
        check(cudaMemcpy(r.dumped.data() + at, sd.dumpKeys.ptr, count * sizeof(int64_t), cudaMemcpyDeviceToHost),
              "cudaMemcpy (dump)");
      }
      return;
    }
    case Op::Clear: return;
  }
}

}  // namespace hps
