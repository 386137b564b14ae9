// Grow-only device and pinned host buffers, one set per (request slot, device).
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>
#include <cuda_runtime.h>

namespace hps {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

// Device memory on the current device.
struct DeviceBuf {
  void* ptr = nullptr;
  size_t bytes = 0;
  void* ensure(size_t need) {
    if (need <= bytes) return ptr;
    if (ptr) check(cudaFree(ptr), "cudaFree");
    ptr = nullptr;
    bytes = 0;
    size_t grow = need + need / 4;
    check(cudaMalloc(&ptr, grow), "cudaMalloc (request buffer)");
    bytes = grow;
    return ptr;
  }
  template <typename T> T* as() const { return static_cast<T*>(ptr); }
  void release() {
    if (ptr) cudaFree(ptr);
    ptr = nullptr;
    bytes = 0;
  }
};

// Pinned host memory, mapped into every device's address space (kernels may write it directly).
struct PinnedBuf {
  void* ptr = nullptr;
  size_t bytes = 0;
  void* ensure(size_t need) {
    if (need <= bytes) return ptr;
    if (ptr) check(cudaFreeHost(ptr), "cudaFreeHost");
    ptr = nullptr;
    bytes = 0;
    size_t grow = need + need / 4;
    check(cudaHostAlloc(&ptr, grow, cudaHostAllocPortable | cudaHostAllocMapped), "cudaHostAlloc (staging)");
    bytes = grow;
    return ptr;
  }
  template <typename T> T* as() const { return static_cast<T*>(ptr); }
  void release() {
    if (ptr) cudaFreeHost(ptr);
    ptr = nullptr;
    bytes = 0;
  }
};

// Pinned allocations handed to JavaScript (allocPinned): a request whose buffers lie inside one is
// copied by DMA (or written by the kernel) with no staging copy.
void* allocPinned(size_t bytes);
void freePinned(void* p);
bool isPinned(const void* p, size_t bytes);

}  // namespace hps
