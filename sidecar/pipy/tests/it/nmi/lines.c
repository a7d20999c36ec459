/* Counts the lines that pass into a context variable exported under the
 * namespace 'lines' (the line-count sample's shape). */
#include <pipy/nmi.h>
#include <stdlib.h>

enum { LINES };

static void init(pipy_pipeline ppl, void **user_ptr) {
  *user_ptr = calloc(1, sizeof(int));
}

static void release(pipy_pipeline ppl, void *user_ptr) {
  free(user_ptr);
}

static void process(pipy_pipeline ppl, void *user_ptr, pjs_value evt) {
  if (pipy_is_Data(evt)) {
    int size = pipy_Data_get_size(evt);
    char *bytes = malloc(size > 0 ? size : 1);
    int *count = user_ptr;
    pipy_Data_get_data(evt, bytes, size);
    for (int i = 0; i < size; i++) {
      if (bytes[i] == '\n') (*count)++;
    }
    free(bytes);
    pipy_set_variable(ppl, LINES, pjs_number(*count));
  }
  pipy_output_event(ppl, evt);
}

void pipy_module_init() {
  pipy_define_variable(LINES, "__lines", "lines", pjs_number(0));
  pipy_define_pipeline("", init, release, process);
}
