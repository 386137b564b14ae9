// The host side of the GPU cache: one Engine per cache, owning one table per listed device and a worker
// thread that submits requests in arrival order on a pool of request slots (a CUDA stream and its
// buffers on each device), so several requests are in flight and JavaScript's thread never waits.
// Mutations are ordered after every earlier request and before every later one with CUDA events;
// reads run concurrently with each other.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include "buffers.h"
#include "layout.cuh"

namespace hps {

struct EngineOptions {
  uint32_t dim = 0;
  uint64_t capacity = 0;      // rows, over all devices for sharded tables, per device for replicated
  int policy = kLru;
  std::vector<int> devices;   // deployed_device_list; a device may be listed twice (tests)
  bool sharded = false;
  int slots = 4;              // requests in flight
  int tile = 8;               // threads per key in the query kernel
  bool directWrite = true;    // query kernels write rows straight into pinned host memory
};

enum class Op { Query, Pooled, Insert, Update, Erase, Dump, Clear };

struct Request {
  Op op = Op::Query;
  const int64_t* keys = nullptr;
  uint32_t n = 0;
  float* out = nullptr;            // query: n x dim; pooled: rows x dim
  const float* vectors = nullptr;  // insert/update: n x dim
  const uint32_t* offsets = nullptr;
  uint32_t rows = 0;
  const float* weights = nullptr;
  int combiner = kSum;
  uint32_t base = 0;               // query: added to every missing position (a chunk of a larger call)
  // Results.
  std::vector<uint32_t> missing;
  unsigned long long counts[3] = {0, 0, 0};
  std::vector<int64_t> dumped;
  std::string error;
  std::function<void(Request*)> done;  // runs on the worker thread once results are in place; owns the request
  // Filled by the engine.
  int slot = -1;
  std::vector<size_t> copies;  // table copies (indices into the engine's tables) this request used
  bool staged = false;         // rows landed in the slot's staging buffer, not in `out`
};

struct DeviceTable {
  int device = 0;
  TableView view{};
  cudaEvent_t lastWrite = nullptr;
  std::vector<cudaEvent_t> readsSinceWrite;
};

struct SlotDevice {
  cudaStream_t stream = nullptr;
  cudaEvent_t done = nullptr;
  DeviceBuf keys, vectors, rows, miss, missByPos, offsets, weights, scratch, leader, lastOf, pooled, counters,
      dumpKeys;
  PinnedBuf hMiss, hMissByPos, hPooled, hCounters;
};

struct Slot {
  std::vector<SlotDevice> dev;  // one per table copy
  PinnedBuf hKeys, hVectors, hRows, hOffsets, hWeights;
};

class Engine {
 public:
  explicit Engine(const EngineOptions& o);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  uint64_t capacity() const { return capacity_; }
  const EngineOptions& options() const { return opt_; }
  // Host time spent on sharded queries' own work (merging the devices' miss flags), summed over requests.
  double shardingSeconds() const { return shardingNanos_.load(std::memory_order_relaxed) * 1e-9; }
  // Queues a request; its `done` runs on the worker thread. Throws once closed.
  void enqueue(std::unique_ptr<Request> r);
  // Finishes queued requests, then frees every device and host buffer.
  void close();

 private:
  void loop();
  void submit(Request& r, Slot& s);
  void finish(Request& r, Slot& s);
  void order(size_t d, SlotDevice& sd, bool write);
  void submitQuery(Request& r, Slot& s);
  void submitPooled(Request& r, Slot& s);
  void submitMutation(Request& r, Slot& s);
  const int64_t* stageKeys(Request& r, Slot& s);
  ShardFilter filterFor(size_t d) const;

  EngineOptions opt_;
  uint64_t capacity_ = 0;
  std::vector<DeviceTable> tables_;
  std::vector<Slot> slots_;
  std::vector<int> freeSlots_;
  std::deque<std::unique_ptr<Request>> queue_;
  std::deque<std::unique_ptr<Request>> inflight_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint32_t clock_ = 0;
  uint32_t nextReplica_ = 0;
  std::atomic<uint64_t> shardingNanos_{0};
  std::thread worker_;
};

int deviceCount();

}  // namespace hps
