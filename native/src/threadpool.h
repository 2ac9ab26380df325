// A small persistent thread pool (std::thread only, no OpenMP): the calling thread takes
// part in every job, so a pool of size 1 runs jobs inline with no synchronization.
#pragma once
#include <functional>

namespace sft {

/** Number of threads (including the caller) jobs are split over: SFTKIT_THREADS or the core count. */
int pool_threads();

/**
 * Runs fn(task) for task in [0, ntasks), spread over the pool; returns when all are done.
 * Called from inside a task (nested), it runs the tasks serially on the current thread.
 */
void parallel_for(int ntasks, const std::function<void(int)>& fn);

/** Splits [0, n) into at most `parts` contiguous chunks aligned to `align`; chunk i is [begin, end). */
inline void chunk_range(long n, int parts, int i, long align, long* begin, long* end) {
  long units = (n + align - 1) / align;
  long per = units / parts, extra = units % parts;
  long ub = i * per + (i < extra ? i : extra);
  long ue = ub + per + (i < extra ? 1 : 0);
  *begin = ub * align < n ? ub * align : n;
  *end = ue * align < n ? ue * align : n;
}

}  // namespace sft
