/* Exercises the value functions of the interface and answers each request
 * with a report of what they gave, under a head it builds itself. */
#include <pipy/nmi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char report[4096];
static int used;
#define SAY(...) (used += snprintf(report + used, sizeof(report) - used, __VA_ARGS__))

static pjs_value str(const char *s) { return pjs_string(s, -1); }

static void say_text(const char *label, pjs_value v) {
  char buf[128];
  pjs_value s = pjs_to_string(v);
  int n = pjs_string_get_utf8_data(s, buf, sizeof(buf));
  SAY("%s %.*s\n", label, n < (int)sizeof(buf) ? n : (int)sizeof(buf), buf);
}

static int each_key(pjs_value k, pjs_value v, void *user_ptr) {
  char key[32];
  int n = pjs_string_get_utf8_data(k, key, sizeof(key));
  *(int *)user_ptr += 1;
  SAY(" %.*s", n, key);
  say_text("=", v);
  return *(int *)user_ptr < 2; /* stops after two */
}

static int native_marker;
static void native_free(void *ptr) {}

static void build_report(pjs_value start) {
  used = 0;
  SAY("types %d %d %d %d %d %d\n", pjs_type_of(pjs_undefined()), pjs_type_of(pjs_boolean(1)),
      pjs_type_of(pjs_number(1)), pjs_type_of(str("a")), pjs_type_of(pjs_object()),
      pjs_type_of(pjs_null()));

  pjs_value a = pjs_array(0);
  pjs_array_push(a, pjs_number(1));
  pjs_array_push(a, str("two"));
  pjs_array_unshift(a, pjs_boolean(0));
  pjs_value popped = pjs_array_pop(a);
  pjs_value ins[2] = { pjs_number(7), pjs_number(8) };
  pjs_value removed = pjs_array_splice(a, 0, 1, 2, ins);
  pjs_value second = pjs_undefined();
  pjs_array_get_element(a, 1, second);
  SAY("array %d %d removed %d second %g\n", pjs_array_get_length(a), pjs_is_array(a),
      pjs_array_get_length(removed), pjs_to_number(second));
  say_text("popped", popped);
  say_text("joined", a);

  pjs_value s = str("h\xc3\xa9llo");
  SAY("string %d %d %d empty %d\n", pjs_string_get_length(s), pjs_string_get_utf8_size(s),
      pjs_string_get_char_code(s, 1), pjs_is_empty_string(pjs_string("", 0)));

  pjs_value o = pjs_object();
  pjs_object_set_property(o, str("x"), pjs_number(1));
  pjs_object_set_property(o, str("y"), str("why"));
  pjs_object_set_property(o, str("z"), pjs_boolean(1));
  pjs_object_set_property(o, str("w"), pjs_null());
  pjs_object_delete(o, str("x"));
  int seen = 0;
  SAY("keys");
  pjs_object_iterate(o, each_key, &seen);

  SAY("equal %d %d %d nullish %d %d\n", pjs_is_equal(pjs_number(1), str("1")),
      pjs_is_identical(pjs_number(1), str("1")), pjs_is_identical(pjs_number(2), pjs_number(2)),
      pjs_is_nullish(pjs_null()), pjs_is_nullish(pjs_number(0)));

  int data_class = pjs_class_id("Data");
  pjs_value x = pipy_Data_new("x", 1);
  SAY("class %d %d %d %d\n", data_class > 0, pjs_is_instance_of(x, data_class),
      pjs_class_of(x) == data_class, pjs_is_instance_of(pjs_object(), data_class));

  pjs_value nat = pjs_native(&native_marker, native_free);
  SAY("native %d %d %d\n", pjs_is_native(nat), pjs_native_ptr(nat) == &native_marker,
      pjs_is_native(pjs_object()));

  pjs_value d = pipy_Data_new("abcdef", 6);
  pjs_value first = pipy_Data_shift(d, 2);
  pjs_value last = pipy_Data_pop(d, 2);
  char buf[8];
  int n = pipy_Data_get_data(d, buf, sizeof(buf));
  SAY("data %d %d %.*s\n", pipy_Data_get_size(first), pipy_Data_get_size(last), n, buf);

  pjs_value end = pipy_StreamEnd_new(str("ConnectionReset"));
  say_text("error", pipy_StreamEnd_get_error(end));
  SAY("bad error %d\n", pipy_StreamEnd_new(str("NoSuchError")));

  pjs_value method = pjs_undefined();
  pjs_object_get_property(pipy_MessageStart_get_head(start), str("method"), method);
  say_text("method", method);
}

struct state { pjs_value start; };

static void init(pipy_pipeline ppl, void **user_ptr) { *user_ptr = calloc(1, sizeof(struct state)); }

static void release(pipy_pipeline ppl, void *user_ptr) {
  struct state *st = user_ptr;
  if (st->start) pjs_free(st->start);
  free(st);
}

static void process(pipy_pipeline ppl, void *user_ptr, pjs_value evt) {
  struct state *st = user_ptr;
  if (pipy_is_MessageStart(evt)) {
    st->start = pjs_hold(evt);
  } else if (pipy_is_MessageEnd(evt) && st->start) {
    build_report(st->start);
    pjs_free(st->start);
    st->start = 0;
    pjs_value head = pjs_object();
    pjs_value headers = pjs_object();
    pjs_object_set_property(headers, str("x-native"), str("yes"));
    pjs_object_set_property(head, str("status"), pjs_number(201));
    pjs_object_set_property(head, str("headers"), headers);
    pipy_output_event(ppl, pipy_MessageStart_new(head));
    pipy_output_event(ppl, pipy_Data_new(report, used));
    pipy_output_event(ppl, pipy_MessageEnd_new(0, 0));
  }
}

void pipy_module_init() {
  pipy_define_pipeline(0, init, release, process);
}
