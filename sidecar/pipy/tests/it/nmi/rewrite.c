/* Replaces the words of a body found in a map the script puts into a context
 * variable (the string-transform sample's shape), and names a second
 * pipeline that shouts. */
#include <pipy/nmi.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int map_id;

static void emit_word(pipy_pipeline ppl, pjs_value out, const char *word, int len) {
  pjs_value map = pjs_undefined();
  pipy_get_variable(ppl, map_id, map);
  if (len > 0 && pjs_is_object(map)) {
    pjs_value found = pjs_undefined();
    pjs_object_get_property(map, pjs_string(word, len), found);
    if (!pjs_is_nullish(found)) {
      pjs_value text = pjs_to_string(found);
      int size = pjs_string_get_utf8_size(text);
      char *bytes = malloc(size + 1);
      pjs_string_get_utf8_data(text, bytes, size);
      pipy_Data_push(out, pipy_Data_new(bytes, size));
      free(bytes);
      return;
    }
  }
  pipy_Data_push(out, pipy_Data_new(word, len));
}

static void process(pipy_pipeline ppl, void *user_ptr, pjs_value evt) {
  if (!pipy_is_Data(evt)) {
    pipy_output_event(ppl, evt);
    return;
  }
  int size = pipy_Data_get_size(evt);
  char *bytes = malloc(size + 1);
  pipy_Data_get_data(evt, bytes, size);
  pjs_value out = pipy_Data_new(0, 0);
  int start = 0;
  for (int i = 0; i <= size; i++) {
    if (i == size || !isalnum((unsigned char)bytes[i])) {
      emit_word(ppl, out, bytes + start, i - start);
      if (i < size) pipy_Data_push(out, pjs_number(bytes[i]));
      start = i + 1;
    }
  }
  free(bytes);
  pipy_output_event(ppl, out);
}

static void shout(pipy_pipeline ppl, void *user_ptr, pjs_value evt) {
  if (pipy_is_Data(evt)) {
    int size = pipy_Data_get_size(evt);
    char *bytes = malloc(size + 1);
    pipy_Data_get_data(evt, bytes, size);
    for (int i = 0; i < size; i++) bytes[i] = toupper((unsigned char)bytes[i]);
    pipy_output_event(ppl, pipy_Data_new(bytes, size));
    free(bytes);
  } else {
    pipy_output_event(ppl, evt);
  }
}

static void init(pipy_pipeline ppl, void **user_ptr) { *user_ptr = 0; }
static void release(pipy_pipeline ppl, void *user_ptr) {}

void pipy_module_init() {
  map_id = pipy_define_variable(-1, "__words", "rewrite", pjs_object());
  pipy_define_pipeline("", init, release, process);
  pipy_define_pipeline("shout", init, release, shout);
}
