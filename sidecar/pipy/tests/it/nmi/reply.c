/* Answers each request with how many body bytes it had (the hello sample's
 * shape): gathers a message, then outputs one of its own. */
#include <pipy/nmi.h>
#include <stdio.h>
#include <stdlib.h>

struct request {
  pjs_value body; /* held between events; 0 outside a message */
};

static void init(pipy_pipeline ppl, void **user_ptr) {
  *user_ptr = calloc(1, sizeof(struct request));
}

static void release(pipy_pipeline ppl, void *user_ptr) {
  struct request *r = user_ptr;
  if (r->body) pjs_free(r->body);
  free(r);
}

static void process(pipy_pipeline ppl, void *user_ptr, pjs_value evt) {
  struct request *r = user_ptr;
  if (pipy_is_MessageStart(evt)) {
    if (!r->body) r->body = pjs_hold(pipy_Data_new(0, 0));
  } else if (pipy_is_Data(evt)) {
    if (r->body) pipy_Data_push(r->body, evt);
  } else if (pipy_is_MessageEnd(evt) && r->body) {
    char text[64];
    int n = snprintf(text, sizeof(text), "got %d bytes", pipy_Data_get_size(r->body));
    pjs_free(r->body);
    r->body = 0;
    pipy_output_event(ppl, pipy_MessageStart_new(0));
    pipy_output_event(ppl, pipy_Data_new(text, n));
    pipy_output_event(ppl, pipy_MessageEnd_new(0, 0));
  }
}

void pipy_module_init() {
  pipy_define_pipeline("", init, release, process);
}
