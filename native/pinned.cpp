// Registry of the pinned allocations handed to JavaScript, so that a request can tell whether a
// buffer it was given can be reached by DMA and by kernels directly.
#include <map>
#include <mutex>
#include "buffers.h"

namespace hps {
namespace {
std::mutex mu;
std::map<uintptr_t, size_t>& blocks() {
  static std::map<uintptr_t, size_t> m;
  return m;
}
}  // namespace

void* allocPinned(size_t bytes) {
  void* p = nullptr;
  check(cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocPortable | cudaHostAllocMapped), "cudaHostAlloc");
  std::lock_guard<std::mutex> g(mu);
  blocks()[reinterpret_cast<uintptr_t>(p)] = bytes;
  return p;
}

void freePinned(void* p) {
  {
    std::lock_guard<std::mutex> g(mu);
    blocks().erase(reinterpret_cast<uintptr_t>(p));
  }
  cudaFreeHost(p);
}

bool isPinned(const void* p, size_t bytes) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> g(mu);
  auto it = blocks().upper_bound(a);
  if (it == blocks().begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second;
}

}  // namespace hps
