/*
 * pipy/nmi.h: the native module interface of this Pipy.
 *
 * A native module is a shared object (`cc -shared -fPIC mod.c -o mod.so`)
 * that a script loads with `use('path/to/mod.so' [, pipelineName])`. The
 * loader calls the module's `pipy_module_init()` once per worker thread; the
 * module defines there its pipelines and its context variables with the
 * `pipy_define_*` calls below. The function names, types and semantics are
 * those of upstream Pipy's interface, so that modules written for it load
 * here unchanged.
 *
 * Values. A `pjs_value` is a number naming a script value of the calling
 * thread (0 names none). A value made during a callback lives until that
 * callback returns, unless `pjs_hold` keeps it; `pjs_free` lets go of a hold.
 *
 * Threads. Values and pipelines belong to the thread that made them. From
 * another thread only `pipy_schedule` and `pipy_free` may be called:
 * `pipy_schedule` runs a function on the pipeline's thread, where the rest
 * of the interface is available.
 */
#ifndef PIPY_NMI_H
#define PIPY_NMI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NMI_EXPORT extern

/* ---- Script values ---------------------------------------------------- */

typedef int pjs_value;

typedef enum _pjs_type {
  PJS_TYPE_UNDEFINED = 0,
  PJS_TYPE_BOOLEAN   = 1,
  PJS_TYPE_NUMBER    = 2,
  PJS_TYPE_STRING    = 3,
  PJS_TYPE_OBJECT    = 4,
} pjs_type;

/* Called when the script engine lets go of a `pjs_native` object. */
typedef void (*fn_object_free)(void *ptr);

/* Making values. A string's `len` below 0 means "up to the NUL byte". */
NMI_EXPORT pjs_value pjs_undefined();
NMI_EXPORT pjs_value pjs_null();
NMI_EXPORT pjs_value pjs_boolean(int b);
NMI_EXPORT pjs_value pjs_number(double n);
NMI_EXPORT pjs_value pjs_string(const char *s, int len);
NMI_EXPORT pjs_value pjs_object();
NMI_EXPORT pjs_value pjs_array(int len);
NMI_EXPORT pjs_value pjs_native(void *ptr, fn_object_free free);

/* Lifetimes: `pjs_copy` makes `v` name what `src` names and returns `v`. */
NMI_EXPORT pjs_value pjs_copy(pjs_value v, pjs_value src);
NMI_EXPORT pjs_value pjs_hold(pjs_value v);
NMI_EXPORT void      pjs_free(pjs_value v);

/* Types and classes (class ids are numbers of this thread, by name). */
NMI_EXPORT pjs_type  pjs_type_of(pjs_value v);
NMI_EXPORT int       pjs_class_of(pjs_value v);
NMI_EXPORT int       pjs_class_id(const char *name);
NMI_EXPORT int       pjs_is_undefined(pjs_value v);
NMI_EXPORT int       pjs_is_null(pjs_value v);
NMI_EXPORT int       pjs_is_nullish(pjs_value v);
NMI_EXPORT int       pjs_is_string(pjs_value v);
NMI_EXPORT int       pjs_is_empty_string(pjs_value v);
NMI_EXPORT int       pjs_is_object(pjs_value v);
NMI_EXPORT int       pjs_is_instance_of(pjs_value v, int class_id);
NMI_EXPORT int       pjs_is_array(pjs_value v);
NMI_EXPORT int       pjs_is_function(pjs_value v);
NMI_EXPORT int       pjs_is_native(pjs_value v);
NMI_EXPORT int       pjs_is_equal(pjs_value a, pjs_value b);
NMI_EXPORT int       pjs_is_identical(pjs_value a, pjs_value b);

/* Conversions, as the script's own (`!!v`, `+v`, `String(v)`). */
NMI_EXPORT int       pjs_to_boolean(pjs_value v);
NMI_EXPORT double    pjs_to_number(pjs_value v);
NMI_EXPORT pjs_value pjs_to_string(pjs_value v);

/* Strings: lengths in characters; UTF-8 copies are not NUL-terminated and
 * the call returns the full UTF-8 size (-1 for a value that is no string). */
NMI_EXPORT int       pjs_string_get_length(pjs_value str);
NMI_EXPORT int       pjs_string_get_char_code(pjs_value str, int pos);
NMI_EXPORT int       pjs_string_get_utf8_size(pjs_value str);
NMI_EXPORT int       pjs_string_get_utf8_data(pjs_value str, char *buf, int len);

/* Objects: keys are string values; `get` stores the property into `v`. */
NMI_EXPORT int       pjs_object_get_property(pjs_value obj, pjs_value k, pjs_value v);
NMI_EXPORT int       pjs_object_set_property(pjs_value obj, pjs_value k, pjs_value v);
NMI_EXPORT int       pjs_object_delete(pjs_value obj, pjs_value k);
NMI_EXPORT void      pjs_object_iterate(pjs_value obj, int (*cb)(pjs_value k, pjs_value v, void *user_ptr), void *user_ptr);

/* Arrays. */
NMI_EXPORT int       pjs_array_get_length(pjs_value arr);
NMI_EXPORT int       pjs_array_set_length(pjs_value arr, int len);
NMI_EXPORT int       pjs_array_get_element(pjs_value arr, int i, pjs_value v);
NMI_EXPORT int       pjs_array_set_element(pjs_value arr, int i, pjs_value v);
NMI_EXPORT int       pjs_array_delete(pjs_value arr, int i);
NMI_EXPORT int       pjs_array_push(pjs_value arr, pjs_value v);
NMI_EXPORT pjs_value pjs_array_pop(pjs_value arr);
NMI_EXPORT pjs_value pjs_array_shift(pjs_value arr);
NMI_EXPORT int       pjs_array_unshift(pjs_value arr, pjs_value v);
NMI_EXPORT pjs_value pjs_array_splice(pjs_value arr, int pos, int del_cnt, int ins_cnt, pjs_value v[]);

/* The pointer given to `pjs_native`. */
NMI_EXPORT void*     pjs_native_ptr(pjs_value obj);

/* ---- Pipelines and events --------------------------------------------- */

typedef int pipy_pipeline;

typedef void (*fn_pipy_module_init)();
typedef void (*fn_pipeline_init   )(pipy_pipeline ppl, void **user_ptr);
typedef void (*fn_pipeline_free   )(pipy_pipeline ppl, void  *user_ptr);
typedef void (*fn_pipeline_process)(pipy_pipeline ppl, void  *user_ptr, pjs_value evt);

/* Events: Data, MessageStart, MessageEnd and StreamEnd values. */
NMI_EXPORT int       pipy_is_Data(pjs_value obj);
NMI_EXPORT int       pipy_is_MessageStart(pjs_value obj);
NMI_EXPORT int       pipy_is_MessageEnd(pjs_value obj);
NMI_EXPORT int       pipy_is_StreamEnd(pjs_value obj);
NMI_EXPORT pjs_value pipy_Data_new(const char *buf, int len);
NMI_EXPORT pjs_value pipy_Data_push(pjs_value obj, pjs_value data);
NMI_EXPORT pjs_value pipy_Data_pop(pjs_value obj, int len);
NMI_EXPORT pjs_value pipy_Data_shift(pjs_value obj, int len);
NMI_EXPORT int       pipy_Data_get_size(pjs_value obj);
NMI_EXPORT int       pipy_Data_get_data(pjs_value obj, char *buf, int len);
NMI_EXPORT pjs_value pipy_MessageStart_new(pjs_value head);
NMI_EXPORT pjs_value pipy_MessageStart_get_head(pjs_value obj);
NMI_EXPORT pjs_value pipy_MessageEnd_new(pjs_value tail, pjs_value payload);
NMI_EXPORT pjs_value pipy_MessageEnd_get_tail(pjs_value obj);
NMI_EXPORT pjs_value pipy_MessageEnd_get_payload(pjs_value obj);
NMI_EXPORT pjs_value pipy_StreamEnd_new(pjs_value error);
NMI_EXPORT pjs_value pipy_StreamEnd_get_error(pjs_value obj);

/* Definitions, only inside pipy_module_init(). A variable with namespace
 * `ns` is what a script's `import({ name: ns })` reaches; an `id` below 0
 * asks for a fresh one. A pipeline named NULL or "" is the module's entry,
 * the one `use(file)` runs; `use(file, name)` runs a named one. Give all
 * three callbacks: upstream Pipy calls them without looking (this one skips
 * a NULL). */
NMI_EXPORT int  pipy_define_variable(int id, const char *name, const char *ns, pjs_value value);
NMI_EXPORT void pipy_define_pipeline(const char *name, fn_pipeline_init init, fn_pipeline_free free, fn_pipeline_process process);

/* A running pipeline: holds keep it (and a worker with no port) alive; its
 * output goes to the filter after `use`; variables are its context's. */
NMI_EXPORT void pipy_hold(pipy_pipeline ppl);
NMI_EXPORT void pipy_free(pipy_pipeline ppl);
NMI_EXPORT void pipy_output_event(pipy_pipeline ppl, pjs_value evt);
NMI_EXPORT void pipy_get_variable(pipy_pipeline ppl, int id, pjs_value value);
NMI_EXPORT void pipy_set_variable(pipy_pipeline ppl, int id, pjs_value value);

/* Runs `fn(user_ptr)` on the pipeline's thread after `timeout` seconds. */
NMI_EXPORT void pipy_schedule(pipy_pipeline ppl, double timeout, void (*fn)(void *), void *user_ptr);

#ifdef __cplusplus
}
#endif

#endif
