#include "threadpool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"

namespace sft {
namespace {

thread_local bool tl_in_job = false;

class Pool {
 public:
  explicit Pool(int n) : nthreads_(n < 1 ? 1 : n) {
    for (int i = 1; i < nthreads_; i++) workers_.emplace_back([this] { worker(); });
  }
  int size() const { return nthreads_; }

  void run(int ntasks, const std::function<void(int)>& fn) {
    if (ntasks <= 0) return;
    if (nthreads_ == 1 || ntasks == 1 || tl_in_job) {
      bool was = tl_in_job;
      tl_in_job = true;
      for (int i = 0; i < ntasks; i++) fn(i);
      tl_in_job = was;
      return;
    }
    std::lock_guard<std::mutex> serial(run_mu_);  // one job at a time (JS is single-threaded anyway)
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &fn;
      ntasks_ = ntasks;
      next_.store(0);
      pending_.store(ntasks);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    tl_in_job = true;
    work(&fn, ntasks);
    tl_in_job = false;
    // Tasks taken by other threads are short: spin briefly, then sleep. A worker that joined
    // the job must also have left it (active_ == 0) before the next job may reuse the counters.
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0 || active_.load() != 0; spin++) {
      if (spin < 20000) {
        cpu_relax();
      } else {
        std::unique_lock<std::mutex> lk(mu_);
        done_cv_.wait(lk, [this] { return pending_.load() == 0 && active_.load() == 0; });
      }
    }
    // No worker may join this job from now on; wait out one that joined after the last task.
    std::unique_lock<std::mutex> lk(mu_);
    job_ = nullptr;
    done_cv_.wait(lk, [this] { return active_.load() == 0; });
  }

 private:
  static void cpu_relax() {
#if SFT_X86
    __builtin_ia32_pause();
#elif SFT_ARM64
    __asm__ __volatile__("yield");
#endif
  }

  void work(const std::function<void(int)>* fn, int n) {
    for (;;) {
      int i = next_.fetch_add(1);
      if (i >= n) break;
      (*fn)(i);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void worker() {
    tl_in_job = true;
    unsigned long seen = 0;
    for (;;) {
      // Training issues kernels back to back: spin a little for the next job before sleeping.
      for (int spin = 0; spin < 4000 && generation_.load(std::memory_order_acquire) == seen; spin++) cpu_relax();
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return generation_.load() != seen; });
      seen = generation_.load();
      if (job_ == nullptr) continue;
      const std::function<void(int)>* fn = job_;
      int n = ntasks_;
      active_.fetch_add(1);
      lk.unlock();
      work(fn, n);
      lk.lock();
      active_.fetch_sub(1);
      done_cv_.notify_all();
    }
  }

  int nthreads_;
  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  int ntasks_ = 0;
  std::atomic<int> next_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> active_{0};
  std::atomic<unsigned long> generation_{0};
};

int configured_threads() {
  const char* env = std::getenv("SFTKIT_THREADS");
  if (env && *env) {
    int n = std::atoi(env);
    if (n >= 1 && n <= 256) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

Pool& pool() {
  static Pool* p = new Pool(configured_threads());  // never destroyed: workers outlive static teardown
  return *p;
}

}  // namespace

int pool_threads() { return pool().size(); }

void parallel_for(int ntasks, const std::function<void(int)>& fn) { pool().run(ntasks, fn); }

}  // namespace sft
