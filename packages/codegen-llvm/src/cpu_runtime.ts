// The small C runtime linked into every CPU kernel library: a persistent thread pool for
// parallel loops (the range is cut into a few parts per thread; each thread first runs
// the parts of its own contiguous share, so from one call to the next a core touches the
// same data and keeps it in its cache, then takes parts left in other shares, so a worker
// the OS has not scheduled yet never holds up the call; spin-then-sleep workers; nested
// parallelism runs inline; workers are joined when the library is unloaded) and 64-byte
// aligned allocation for temporaries too large for the stack.
// It is C source kept here as a string so the package ships it without extra files.

export const CPU_RUNTIME_C = String.raw`
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef void (*kiln_task_fn)(int64_t begin, int64_t end, void *closure);

static int g_nthreads = 0;           /* total threads including the caller */
static int g_started = 0;
static pthread_t *g_threads = 0;
static _Atomic int g_shutdown = 0;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t g_call_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t g_generation = 0;
/* One claim word per thread's share of the current call:
   generation (32 bits) | end of the share (16) | next part (16).
   One word, so a late worker can never claim a part of a call that has moved on. */
#define KILN_MAX_THREADS 256
static _Atomic uint64_t g_claim[KILN_MAX_THREADS];
static _Atomic int g_shares = 0;
static _Atomic int g_done = 0;
static kiln_task_fn g_fn;
static void *g_closure;
static int64_t g_n;
static int g_parts;
static __thread int t_in_parallel = 0;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void run_part(int part) {
  int64_t begin = g_n * part / g_parts;
  int64_t end = g_n * (part + 1) / g_parts;
  if (begin < end) g_fn(begin, end, g_closure);
}

/* Claim and run the parts left in share s of call gen. */
static void run_share(uint64_t gen, int s) {
  for (;;) {
    uint64_t c = atomic_load_explicit(&g_claim[s], memory_order_acquire);
    if ((c >> 32) != (gen & 0xffffffffu)) return;
    uint64_t end = (c >> 16) & 0xffffu;
    uint64_t part = c & 0xffffu;
    if (part >= end) return;
    if (!atomic_compare_exchange_weak_explicit(&g_claim[s], &c, c + 1, memory_order_acq_rel, memory_order_relaxed)) continue;
    run_part((int)part);
    atomic_fetch_add_explicit(&g_done, 1, memory_order_release);
  }
}

/* Thread "self" runs its own share, then whatever is left in the others'. */
static void run_parts(uint64_t gen, int self) {
  int shares = atomic_load_explicit(&g_shares, memory_order_acquire);
  if (shares <= 0) return;
  for (int k = 0; k < shares; k++) run_share(gen, (self + k) % shares);
}

static void *worker(void *arg) {
  int self = (int)(intptr_t)arg;
  uint64_t seen = 0;
  t_in_parallel = 1;
  for (;;) {
    uint64_t gen;
    int spins = 0;
    while ((gen = atomic_load_explicit(&g_generation, memory_order_acquire)) == seen) {
      if (++spins < 20000) {
        cpu_relax();
      } else {
        pthread_mutex_lock(&g_mu);
        while (atomic_load_explicit(&g_generation, memory_order_acquire) == seen) pthread_cond_wait(&g_cv, &g_mu);
        pthread_mutex_unlock(&g_mu);
      }
    }
    seen = gen;
    if (atomic_load_explicit(&g_shutdown, memory_order_acquire)) break;
    run_parts(gen, self);
  }
  return 0;
}

static int default_threads(void) {
  const char *env = getenv("KILN_NUM_THREADS");
  long n = env && atoi(env) > 0 ? atoi(env) : sysconf(_SC_NPROCESSORS_ONLN);
  if (n > KILN_MAX_THREADS) n = KILN_MAX_THREADS;
  return n > 0 ? (int)n : 1;
}

/* Set the number of threads (including the caller). Must be called before the first
   parallel loop runs; later calls can only lower the count in use. */
int kiln_set_num_threads(int n) {
  if (n < 1) n = 1;
  if (n > KILN_MAX_THREADS) n = KILN_MAX_THREADS;
  if (!g_started) g_nthreads = n;
  else if (n < g_nthreads) g_nthreads = n;
  return g_nthreads;
}

int kiln_get_num_threads(void) {
  if (g_nthreads == 0) g_nthreads = default_threads();
  return g_nthreads;
}

static void ensure_pool(void) {
  if (g_started) return;
  if (g_nthreads == 0) g_nthreads = default_threads();
  g_threads = (pthread_t *)calloc((size_t)g_nthreads, sizeof(pthread_t));
  for (int i = 1; i < g_nthreads; i++) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 8u << 20);
    pthread_create(&g_threads[i], &attr, worker, (void *)(intptr_t)i);
    pthread_attr_destroy(&attr);
  }
  g_started = 1;
}

/* Stop and join the workers. Runs when the library is unloaded (dlclose), so no worker
   is left executing code that is about to be unmapped. */
__attribute__((destructor)) void kiln_shutdown(void) {
  if (!g_started) return;
  pthread_mutex_lock(&g_call_mu);
  atomic_store_explicit(&g_shutdown, 1, memory_order_release);
  pthread_mutex_lock(&g_mu);
  atomic_fetch_add_explicit(&g_generation, 1, memory_order_release);
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  for (int i = 1; i < g_nthreads; i++) pthread_join(g_threads[i], 0);
  free(g_threads);
  g_threads = 0;
  g_started = 0;
  atomic_store_explicit(&g_shutdown, 0, memory_order_release);
  pthread_mutex_unlock(&g_call_mu);
}

void kiln_parallel_for(kiln_task_fn fn, void *closure, int64_t n) {
  if (n <= 0) return;
  int threads = kiln_get_num_threads();
  if (t_in_parallel || threads <= 1 || n == 1 || pthread_mutex_trylock(&g_call_mu) != 0) {
    fn(0, n, closure);
    return;
  }
  ensure_pool();
  int workers = g_nthreads;
  /* A few parts per thread: whoever is running claims the next one. */
  int64_t parts = (int64_t)workers * 8;
  if (parts > n) parts = n;
  if (parts > 0xffff) parts = 0xffff;
  g_fn = fn;
  g_closure = closure;
  g_n = n;
  g_parts = (int)parts;
  atomic_store_explicit(&g_done, 0, memory_order_relaxed);
  uint64_t gen = atomic_load_explicit(&g_generation, memory_order_relaxed) + 1;
  /* Thread t's share is parts [parts*t/workers, parts*(t+1)/workers). */
  int shares = workers < (int)parts ? workers : (int)parts;
  atomic_store_explicit(&g_shares, shares, memory_order_release);
  for (int t = 0; t < shares; t++) {
    uint64_t b = (uint64_t)(parts * t / shares);
    uint64_t e = (uint64_t)(parts * (t + 1) / shares);
    atomic_store_explicit(&g_claim[t], ((gen & 0xffffffffu) << 32) | (e << 16) | b, memory_order_release);
  }
  pthread_mutex_lock(&g_mu);
  atomic_store_explicit(&g_generation, gen, memory_order_release);
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  t_in_parallel = 1;
  run_parts(gen, 0);
  t_in_parallel = 0;
  /* A part still running belongs to a worker; on a busy machine the OS may have
     preempted it, so after a short spin give the core away instead of burning it. */
  for (int spins = 0; atomic_load_explicit(&g_done, memory_order_acquire) < (int)parts; spins++) {
    if (spins < 2000) cpu_relax();
    else sched_yield();
  }
  pthread_mutex_unlock(&g_call_mu);
}

void *kiln_alloc(int64_t bytes) {
  size_t size = (size_t)(bytes > 0 ? bytes : 1);
  size = (size + 63) & ~(size_t)63;
  return aligned_alloc(64, size);
}

void kiln_free(void *p) { free(p); }
`;
