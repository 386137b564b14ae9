// The N-API binding: the only place JavaScript values meet the engine. Every cache call returns a
// Promise; the request runs on the engine's worker thread and is settled back on JavaScript's thread
// through one thread-safe function per cache. The JS buffers of a request are held by references
// until it settles, so they cannot be collected while the GPU reads or writes them.
#include <napi.h>
#include <memory>
#include "engine.h"

namespace {

using hps::Engine;
using hps::Op;
using hps::Request;

// The typed array's first element. Read through napi_get_typedarray_info, which also serves arrays over
// a SharedArrayBuffer (Napi::ArrayBuffer::Data() rejects those with "Invalid argument").
template <typename T>
T* dataOf(const Napi::TypedArray& a) {
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer;
  napi_status st = napi_get_typedarray_info(a.Env(), a, &type, &length, &data, &buffer, &offset);
  if (st != napi_ok) throw Napi::Error::New(a.Env(), "could not read the typed array's memory");
  return static_cast<T*>(data);
}

Napi::TypedArray typedArg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* what) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(info.Env(), std::string("argument ") + std::to_string(i) + ": expected " + what);
  }
  return info[i].As<Napi::TypedArray>();
}

struct Pending;

class Cache : public Napi::ObjectWrap<Cache> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Cache",
                       {InstanceMethod("query", &Cache::Query), InstanceMethod("pooled", &Cache::Pooled),
                        InstanceMethod("insert", &Cache::Insert), InstanceMethod("update", &Cache::Update),
                        InstanceMethod("erase", &Cache::Erase), InstanceMethod("dump", &Cache::Dump),
                        InstanceMethod("clear", &Cache::Clear), InstanceMethod("close", &Cache::Close),
                        InstanceAccessor("capacity", &Cache::Capacity, nullptr),
                        InstanceAccessor("shardingSeconds", &Cache::ShardingSeconds, nullptr)});
  }

  explicit Cache(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Cache>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "expected an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    hps::EngineOptions opt;
    opt.dim = o.Get("dim").As<Napi::Number>().Uint32Value();
    opt.capacity = static_cast<uint64_t>(o.Get("capacity").As<Napi::Number>().DoubleValue());
    opt.policy = o.Get("policy").As<Napi::Number>().Int32Value();
    opt.sharded = o.Get("sharded").As<Napi::Boolean>().Value();
    opt.slots = o.Get("slots").As<Napi::Number>().Int32Value();
    opt.tile = o.Get("tile").As<Napi::Number>().Int32Value();
    opt.directWrite = o.Get("directWrite").As<Napi::Boolean>().Value();
    Napi::Array devices = o.Get("devices").As<Napi::Array>();
    for (uint32_t i = 0; i < devices.Length(); i++) opt.devices.push_back(devices.Get(i).As<Napi::Number>().Int32Value());
    try {
      engine_ = std::make_unique<Engine>(opt);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "hps-cuda-cache", 0, 1);
    tsfn_.Unref(env);
  }

  ~Cache() override {
    if (engine_) engine_->close();
    if (!released_) tsfn_.Release();
  }

  // Called on JavaScript's thread when a request is done.
  void settle(Napi::Env env, Pending* p);

 private:
  Napi::Value Capacity(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(engine_ ? engine_->capacity() : 0));
  }

  Napi::Value ShardingSeconds(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), engine_ ? engine_->shardingSeconds() : 0);
  }

  Napi::Value start(const Napi::CallbackInfo& info, std::unique_ptr<Request> r, std::vector<Napi::Value> hold);

  Napi::Value Query(const Napi::CallbackInfo& info) {
    auto keys = typedArg(info, 0, napi_bigint64_array, "a BigInt64Array of keys");
    auto out = typedArg(info, 1, napi_float32_array, "a Float32Array for the rows");
    auto r = std::make_unique<Request>();
    r->op = Op::Query;
    r->keys = dataOf<int64_t>(keys);
    r->n = static_cast<uint32_t>(keys.ElementLength());
    r->out = dataOf<float>(out);
    if (info.Length() > 2 && info[2].IsNumber()) r->base = info[2].As<Napi::Number>().Uint32Value();
    return start(info, std::move(r), {keys, out});
  }

  Napi::Value Pooled(const Napi::CallbackInfo& info) {
    auto keys = typedArg(info, 0, napi_bigint64_array, "a BigInt64Array of keys");
    auto offsets = typedArg(info, 1, napi_uint32_array, "a Uint32Array of row offsets");
    auto out = typedArg(info, 4, napi_float32_array, "a Float32Array for the pooled rows");
    auto r = std::make_unique<Request>();
    r->op = Op::Pooled;
    r->keys = dataOf<int64_t>(keys);
    r->n = static_cast<uint32_t>(keys.ElementLength());
    r->offsets = dataOf<uint32_t>(offsets);
    r->rows = static_cast<uint32_t>(offsets.ElementLength() - 1);
    r->combiner = info[3].As<Napi::Number>().Int32Value();
    r->out = dataOf<float>(out);
    std::vector<Napi::Value> hold{keys, offsets, out};
    if (!info[2].IsNull() && !info[2].IsUndefined()) {
      auto weights = typedArg(info, 2, napi_float32_array, "a Float32Array of weights or null");
      r->weights = dataOf<float>(weights);
      hold.push_back(weights);
    }
    return start(info, std::move(r), hold);
  }

  Napi::Value mutation(const Napi::CallbackInfo& info, Op op) {
    auto keys = typedArg(info, 0, napi_bigint64_array, "a BigInt64Array of keys");
    auto r = std::make_unique<Request>();
    r->op = op;
    r->keys = dataOf<int64_t>(keys);
    r->n = static_cast<uint32_t>(keys.ElementLength());
    std::vector<Napi::Value> hold{keys};
    if (op != Op::Erase) {
      auto vectors = typedArg(info, 1, napi_float32_array, "a Float32Array of vectors");
      r->vectors = dataOf<float>(vectors);
      hold.push_back(vectors);
    }
    return start(info, std::move(r), hold);
  }
  Napi::Value Insert(const Napi::CallbackInfo& info) { return mutation(info, Op::Insert); }
  Napi::Value Update(const Napi::CallbackInfo& info) { return mutation(info, Op::Update); }
  Napi::Value Erase(const Napi::CallbackInfo& info) { return mutation(info, Op::Erase); }

  Napi::Value Dump(const Napi::CallbackInfo& info) {
    auto r = std::make_unique<Request>();
    r->op = Op::Dump;
    return start(info, std::move(r), {});
  }
  Napi::Value Clear(const Napi::CallbackInfo& info) {
    auto r = std::make_unique<Request>();
    r->op = Op::Clear;
    return start(info, std::move(r), {});
  }

  // Waits for requests in flight, then frees the GPU memory, off JavaScript's thread.
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::unique_ptr<Engine> engine_;
  Napi::ThreadSafeFunction tsfn_;
  bool released_ = false;
  int pending_ = 0;
  friend class CloseWorker;
};

struct Pending {
  Napi::Promise::Deferred deferred;
  std::vector<Napi::Reference<Napi::Value>> hold;
  Cache* cache;
  Request* request = nullptr;
};

Napi::Value Cache::start(const Napi::CallbackInfo& info, std::unique_ptr<Request> r, std::vector<Napi::Value> hold) {
  Napi::Env env = info.Env();
  if (!engine_) throw Napi::Error::New(env, "the cache is closed");
  auto* p = new Pending{Napi::Promise::Deferred::New(env), {}, this};
  hold.push_back(info.This());
  for (auto& v : hold) p->hold.push_back(Napi::Persistent(v));
  r->done = [this, p](Request* done) {
    p->request = done;
    tsfn_.BlockingCall(p, [](Napi::Env env, Napi::Function, Pending* q) { q->cache->settle(env, q); });
  };
  Napi::Promise promise = p->deferred.Promise();
  try {
    engine_->enqueue(std::move(r));
  } catch (const std::exception& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    delete p;
    throw err;
  }
  if (pending_++ == 0) tsfn_.Ref(env);
  return promise;
}

void Cache::settle(Napi::Env env, Pending* p) {
  Napi::HandleScope scope(env);
  std::unique_ptr<Request> r(p->request);
  std::unique_ptr<Pending> owner(p);
  if (--pending_ == 0 && !released_) tsfn_.Unref(env);
  if (!r->error.empty()) {
    p->deferred.Reject(Napi::Error::New(env, r->error).Value());
    return;
  }
  switch (r->op) {
    case Op::Query:
    case Op::Pooled: {
      // The positions were written on the worker thread; JavaScript gets them without a copy.
      size_t count = r->missing.size();
      if (count == 0) {
        p->deferred.Resolve(Napi::Uint32Array::New(env, 0));
        return;
      }
      auto* owned = new std::vector<uint32_t>(std::move(r->missing));
      auto buf = Napi::ArrayBuffer::New(env, owned->data(), count * sizeof(uint32_t),
                                        [](Napi::Env, void*, std::vector<uint32_t>* v) { delete v; }, owned);
      p->deferred.Resolve(Napi::Uint32Array::New(env, count, buf, 0));
      return;
    }
    case Op::Insert: {
      auto counts = Napi::Array::New(env, 3);
      for (uint32_t j = 0; j < 3; j++) counts.Set(j, Napi::Number::New(env, static_cast<double>(r->counts[j])));
      p->deferred.Resolve(counts);
      return;
    }
    case Op::Update:
    case Op::Erase: p->deferred.Resolve(Napi::Number::New(env, static_cast<double>(r->counts[0]))); return;
    case Op::Dump: {
      auto buf = Napi::ArrayBuffer::New(env, r->dumped.size() * sizeof(int64_t));
      std::copy(r->dumped.begin(), r->dumped.end(), static_cast<int64_t*>(buf.Data()));
      napi_value arr;
      napi_create_typedarray(env, napi_bigint64_array, r->dumped.size(), buf, 0, &arr);
      p->deferred.Resolve(Napi::Value(env, arr));
      return;
    }
    case Op::Clear: p->deferred.Resolve(env.Undefined()); return;
  }
}

class CloseWorker : public Napi::AsyncWorker {
 public:
  CloseWorker(Napi::Env env, Cache* cache, Napi::Object self, std::unique_ptr<Engine> engine)
      : Napi::AsyncWorker(env),
        cache_(cache),
        self_(Napi::Persistent(self)),
        engine_(std::move(engine)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override { engine_->close(); }
  void OnOK() override {
    if (!cache_->released_) cache_->tsfn_.Release();
    cache_->released_ = true;
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Cache* cache_;
  Napi::ObjectReference self_;  // keeps the cache object alive until closed
  std::unique_ptr<Engine> engine_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value Cache::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine_) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  // Requests already queued still finish and settle (their callbacks are queued before the release).
  auto* worker = new CloseWorker(env, this, info.This().As<Napi::Object>(), std::move(engine_));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value DeviceCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), hps::deviceCount()); }

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int d = info[0].As<Napi::Number>().Int32Value();
  cudaDeviceProp prop;
  cudaError_t e = cudaGetDeviceProperties(&prop, d);
  if (e != cudaSuccess) throw Napi::Error::New(env, std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(e));
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", prop.name);
  o.Set("major", prop.major);
  o.Set("minor", prop.minor);
  o.Set("multiProcessors", prop.multiProcessorCount);
  o.Set("memoryBytes", static_cast<double>(prop.totalGlobalMem));
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  o.Set("runtimeVersion", runtime);
  o.Set("driverVersion", driver);
  return o;
}

// A pinned, device-mapped ArrayBuffer: rows queried into it cross PCIe straight from the kernel.
Napi::Value AllocPinned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t bytes = static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue());
  void* p;
  try {
    p = hps::allocPinned(bytes);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  return Napi::ArrayBuffer::New(env, p, bytes, [](Napi::Env, void* data) { hps::freePinned(data); });
}

// Where keys land (bucket within a table copy, and shard): lets tests check eviction rules.
Napi::Value Placement(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto keys = typedArg(info, 0, napi_bigint64_array, "a BigInt64Array of keys");
  uint32_t buckets = info[1].As<Napi::Number>().Uint32Value();
  uint32_t shards = info[2].As<Napi::Number>().Uint32Value();
  size_t n = keys.ElementLength();
  auto bucket = Napi::Uint32Array::New(env, n);
  auto shard = Napi::Uint32Array::New(env, n);
  const int64_t* k = dataOf<int64_t>(keys);
  for (size_t i = 0; i < n; i++) {
    uint64_t h = hps::mixKey(k[i]);
    bucket[i] = hps::bucketOf(h, buckets);
    shard[i] = hps::shardOf(h, shards);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("bucket", bucket);
  o.Set("shard", shard);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Cache", Cache::Define(env));
  exports.Set("deviceCount", Napi::Function::New(env, DeviceCount));
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo));
  exports.Set("allocPinned", Napi::Function::New(env, AllocPinned));
  exports.Set("placement", Napi::Function::New(env, Placement));
  exports.Set("bucketSlots", Napi::Number::New(env, hps::kBucketSlots));
  return exports;
}

}  // namespace

NODE_API_MODULE(hps_cuda, Init)
