/* A thread of its own outputs a message every 50 ms, five times, then ends
 * the stream and lets go of the pipeline (the counter-threads sample's
 * shape): everything reaches the pipeline through pipy_schedule. */
#include <pipy/nmi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct ticker {
  pipy_pipeline ppl;
  int count;
};

static void tick(void *user_ptr) {
  struct ticker *t = user_ptr;
  char text[32];
  int n = snprintf(text, sizeof(text), "tick %d", t->count);
  pipy_output_event(t->ppl, pipy_MessageStart_new(0));
  pipy_output_event(t->ppl, pipy_Data_new(text, n));
  pipy_output_event(t->ppl, pipy_MessageEnd_new(0, 0));
}

static void finish(void *user_ptr) {
  struct ticker *t = user_ptr;
  pipy_output_event(t->ppl, pipy_StreamEnd_new(0));
  pipy_free(t->ppl);
}

static void *run(void *user_ptr) {
  struct ticker *t = user_ptr;
  for (int i = 1; i <= 5; i++) {
    usleep(50000);
    __atomic_store_n(&t->count, i, __ATOMIC_SEQ_CST);
    pipy_schedule(t->ppl, 0, tick, t);
    usleep(10000);
  }
  pipy_schedule(t->ppl, 0.05, finish, t);
  return 0;
}

static void init(pipy_pipeline ppl, void **user_ptr) {
  struct ticker *t = calloc(1, sizeof(struct ticker));
  pthread_t thread;
  t->ppl = ppl;
  *user_ptr = t;
  pipy_hold(ppl);
  pthread_create(&thread, 0, run, t);
  pthread_detach(thread);
}

static void release(pipy_pipeline ppl, void *user_ptr) {
  free(user_ptr);
}

static void process(pipy_pipeline ppl, void *user_ptr, pjs_value evt) {
}

void pipy_module_init() {
  pipy_define_pipeline("", init, release, process);
}
