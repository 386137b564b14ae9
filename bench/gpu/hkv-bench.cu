// HierarchicalKV's own merlin_hashtable_benchmark, run at the shapes of bench/gpu/ops-bench.cu: capacity
// 16 Mi rows, 1 Mi keys an op, pure HBM, dim 32 / 64 / 128, load factors 0.5 / 0.75 / 1.0. Only main()
// is ours; HKV's benchmark file (not part of this repository) supplies everything else. Build it with
// bench/gpu/build-hkv-bench.sh; it prints HKV's markdown tables (billion keys a second).
#define main hkv_stock_main
#include "merlin_hashtable_benchmark.cc.cu"
#undef main

int main() {
  std::vector<API_Select> apis{API_Select::insert_or_assign, API_Select::find,      API_Select::find_or_insert,
                               API_Select::assign,           API_Select::find_ptr, API_Select::find_or_insert_ptr,
                               API_Select::insert_and_evict};
  cudaDeviceProp props;
  CUDA_CHECK(cudaGetDeviceProperties(&props, 0));
  std::cout << "HierarchicalKV merlin_hashtable_benchmark on " << props.name
            << ": capacity 16 Mi, 1 Mi keys an op, pure HBM, LRU, Billion-KV/second\n";
  test_mode = Test_Mode::pure_hbm;
  for (size_t dim : {32, 64, 128}) {
    std::cout << "\n* dim = " << dim << "\n";
    print_title_a();
    test_main(apis, dim, 16 * 1024 * 1024UL, 1024 * 1024UL, 16);
  }
  CUDA_CHECK(cudaDeviceSynchronize());
  return 0;
}
