/* SPDX-License-Identifier: GPL-3.0-or-later */
/* onnx_import.c — builds an ImpGraph from an ONNX file.
 *
 * protobuf-c does the wire-format decoding (onnx.pb-c.c, generated from onnx.proto); this file
 * checks what a hostile or broken file could get wrong — names, counts, tensor sizes against the
 * bytes present, external data paths — before trusting or allocating anything, and converts
 * tensors to the two element types the engine keeps (float32, int64).
 *
 * Conventions of the graph built here (beyond graph.h):
 *  - opset is 0 when the file imports no default-domain ("" / "ai.onnx") opset; node domain
 *    "ai.onnx" is stored as "".
 *  - Constant nodes stay nodes (their tensor is the "value" attribute); only initializers are
 *    is_const.  prepare folds Constant subgraphs.
 *  - Values produced by nodes have rank -1 unless they are graph outputs with a declared shape.
 *  - path is "" for imp_onnx_load_bytes. */
#include "graph.h"
#include "onnx.pb-c.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Sanity limits on counts a file declares (the arrays exist already — protobuf-c parsed them —
 * but the graph we build should stay small and int-indexable). */
#define MAX_VALUES      (1 << 22)
#define MAX_NODE_IO     (1 << 16) /* inputs or outputs of one node */
#define MAX_ATTRS       1024      /* attributes of one node */
#define MAX_ATTR_LIST   (1 << 24) /* FLOATS / INTS elements */
#define MAX_META        (1 << 16)
/* Nesting depth of protobuf messages accepted (see check_nesting). Real models use < 20. */
#define MAX_PROTO_DEPTH 64

typedef struct {
  const char *name;
  int value;
} NameRef;

typedef struct {
  ImpGraph *g;
  const char *label;     /* file path or "(memory)", prefix of every message */
  const char *model_dir; /* NULL: external data refused */
  ImpastoError *err;
  NameRef *index;        /* values[0 .. n_index) sorted by name (see index_build) */
  int n_index;
  int cap_values;
  char node[320];        /* "node 'NAME' (Op)" or "node #i (Op)": the node being loaded */
  struct Budget *budget; /* the unpacked message's allocator: raw_data may be taken over */
} Loader;

static const char *str_or_empty (const char *s)
{
  return s ? s : "";
}

static char *dup_str (const char *s)
{
  return strdup (str_or_empty (s));
}

/* ------------------------------------------------------------------------------------------- */
/* Reading the file.                                                                            */

/* open(2) for reading that does not block on a FIFO (which waits for a writer: forever, for a
 * model path that names a named pipe) or on a device; the caller refuses what is not a regular
 * file after fstat.  O_NONBLOCK is cleared again, so reads behave as usual.  -1 with errno. */
static int open_nonblocking (const char *path, int flags)
{
  int fd = open (path, flags | O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return -1;
  int fl = fcntl (fd, F_GETFL);
  if (fl < 0 || fcntl (fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    int saved = errno;
    close (fd);
    errno = saved;
    return -1;
  }
  return fd;
}

static uint8_t *read_file (const char *path, size_t *n_out, ImpastoError *err)
{
  int fd = open_nonblocking (path, 0);
  if (fd < 0) {
    imp_fail (err, IMPASTO_E_IO, "%s: cannot open: %s", path, strerror (errno));
    return NULL;
  }
  struct stat st;
  if (fstat (fd, &st) != 0) {
    imp_fail (err, IMPASTO_E_IO, "%s: cannot stat: %s", path, strerror (errno));
    close (fd);
    return NULL;
  }
  if (S_ISDIR (st.st_mode)) {
    imp_fail (err, IMPASTO_E_IO, "%s: cannot read: %s", path, strerror (EISDIR));
    close (fd);
    return NULL;
  }
  if (!S_ISREG (st.st_mode)) {
    imp_fail (err, IMPASTO_E_IO, "%s: not a regular file", path);
    close (fd);
    return NULL;
  }
  if (st.st_size < 0 || (uint64_t) st.st_size > IMP_MAX_FILE_BYTES) {
    imp_fail (err, IMPASTO_E_FORMAT,
              "%s: not an ONNX model (file is %lld bytes, more than the 2 GiB protobuf limit)",
              path, (long long) st.st_size);
    close (fd);
    return NULL;
  }
  size_t size = (size_t) st.st_size;
  uint8_t *buf = imp_alloc (size ? size : 1, 1, "model file", NULL); /* large: huge pages */
  if (!buf) {
    imp_fail (err, IMPASTO_E_NOMEM, "%s: out of memory reading %zu bytes", path, size);
    close (fd);
    return NULL;
  }
  size_t got = 0;
  while (got < size) {
    ssize_t r = read (fd, buf + got, size - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      imp_fail (err, IMPASTO_E_IO, "%s: cannot read: %s", path, strerror (errno));
      imp_free (buf);
      close (fd);
      return NULL;
    }
    if (r == 0)
      break; /* file shrank while reading: parse what is there */
    got += (size_t) r;
  }
  close (fd);
  *n_out = got;
  return buf;
}

/* ------------------------------------------------------------------------------------------- */
/* Nesting guard.  protobuf-c unpacks nested messages recursively with no depth limit, so a few
 * kilobytes of hostile input (graph -> node -> attribute -> graph -> ...) can exhaust the stack.
 * Before unpacking, walk the wire format iteratively, using protobuf-c's own descriptors to know
 * which fields are messages, and refuse deeper nesting than MAX_PROTO_DEPTH.  This decodes no
 * values; malformed input is simply left for protobuf-c to reject. */

static bool read_varint (const uint8_t **p, const uint8_t *end, uint64_t *v)
{
  uint64_t x = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    x |= (uint64_t) (b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return true;
    }
  }
  return false;
}

static const ProtobufCMessageDescriptor *
submessage_descriptor (const ProtobufCMessageDescriptor *d, uint32_t field_number)
{
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field (d, field_number);
  if (f && f->type == PROTOBUF_C_TYPE_MESSAGE)
    return f->descriptor;
  return NULL;
}

/* true if fine (or malformed: protobuf-c will say so); false if nested deeper than allowed. */
static bool check_nesting (const uint8_t *data, size_t n)
{
  struct {
    const uint8_t *end;
    const ProtobufCMessageDescriptor *desc;
  } stack[MAX_PROTO_DEPTH + 1];
  int depth = 0;
  const uint8_t *p = data;
  stack[0].end = data + n;
  stack[0].desc = &onnx__model_proto__descriptor;
  for (;;) {
    if (p >= stack[depth].end) {
      if (depth == 0)
        return true;
      p = stack[depth].end;
      depth--;
      continue;
    }
    uint64_t key, v;
    if (!read_varint (&p, stack[depth].end, &key))
      return true;
    uint32_t wire = (uint32_t) (key & 7);
    uint64_t field = key >> 3;
    switch (wire) {
    case 0:
      if (!read_varint (&p, stack[depth].end, &v))
        return true;
      break;
    case 1:
      if ((size_t) (stack[depth].end - p) < 8)
        return true;
      p += 8;
      break;
    case 5:
      if ((size_t) (stack[depth].end - p) < 4)
        return true;
      p += 4;
      break;
    case 2: {
      if (!read_varint (&p, stack[depth].end, &v) || v > (uint64_t) (stack[depth].end - p))
        return true;
      const ProtobufCMessageDescriptor *sub =
          stack[depth].desc && field <= UINT32_MAX
              ? submessage_descriptor (stack[depth].desc, (uint32_t) field) : NULL;
      if (sub) {
        if (depth == MAX_PROTO_DEPTH)
          return false;
        depth++;
        stack[depth].end = p + v;
        stack[depth].desc = sub;
      } else {
        p += v;
      }
      break;
    }
    default:
      return true; /* groups (3, 4) and invalid wire types: protobuf-c rejects or skips them */
    }
  }
}

/* ------------------------------------------------------------------------------------------- */
/* protobuf-c allocator with a memory budget.                                                   */

/* Blocks of at least BUDGET_BIG_BYTES (a tensor's raw_data) are plain imp_alloc blocks, kept in
 * an address-sorted list: load_tensor takes a float tensor's raw_data over as the tensor's own
 * data (budget_steal) instead of copying it.  On pix2pix ngf 64 (218 MB of weights) every copy of
 * the weights cost about 0.4 s of fresh pages under load.  The threshold bounds the list: at most
 * budget / 1 MiB entries. */
#define BUDGET_BIG_BYTES ((size_t) 1 << 20)

typedef struct Budget {
  size_t used, limit;
  bool exhausted;
  void **big;       /* sorted by address */
  size_t *big_size; /* parallel to big */
  size_t n_big, cap_big;
} Budget;

typedef union {
  size_t size;
  max_align_t align; /* keep the returned pointer aligned for any type */
} BudgetHeader;

/* Index of p in b->big, or where it would go. */
static size_t big_find (const Budget *b, const void *p)
{
  size_t lo = 0, hi = b->n_big;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if ((uintptr_t) b->big[mid] < (uintptr_t) p)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static bool big_add (Budget *b, void *p, size_t size)
{
  if (b->n_big == b->cap_big) {
    size_t cap = b->cap_big ? 2 * b->cap_big : 64;
    void **nb = realloc (b->big, cap * sizeof *nb);
    if (nb)
      b->big = nb;
    size_t *ns = nb ? realloc (b->big_size, cap * sizeof *ns) : NULL;
    if (!ns)
      return false;
    b->big_size = ns;
    b->cap_big = cap;
  }
  size_t i = big_find (b, p);
  memmove (b->big + i + 1, b->big + i, (b->n_big - i) * sizeof *b->big);
  memmove (b->big_size + i + 1, b->big_size + i, (b->n_big - i) * sizeof *b->big_size);
  b->big[i] = p;
  b->big_size[i] = size;
  b->n_big++;
  return true;
}

/* Removes p from the big list; false when it is not there (a small block). */
static bool big_remove (Budget *b, const void *p, size_t *size)
{
  size_t i = big_find (b, p);
  if (i == b->n_big || b->big[i] != p)
    return false;
  *size = b->big_size[i];
  memmove (b->big + i, b->big + i + 1, (b->n_big - i - 1) * sizeof *b->big);
  memmove (b->big_size + i, b->big_size + i + 1, (b->n_big - i - 1) * sizeof *b->big_size);
  b->n_big--;
  return true;
}

static void *budget_alloc (void *data, size_t size)
{
  Budget *b = data;
  if (size > b->limit - b->used || size > SIZE_MAX - sizeof (BudgetHeader)) {
    b->exhausted = true;
    return NULL;
  }
  if (size >= BUDGET_BIG_BYTES) {
    void *p = imp_alloc (size, 1, "protobuf", NULL);
    if (p && !big_add (b, p, size)) {
      imp_free (p);
      p = NULL;
    }
    if (p)
      b->used += size;
    return p;
  }
  BudgetHeader *h = malloc (sizeof *h + size);
  if (!h)
    return NULL;
  h->size = size;
  b->used += size;
  return h + 1;
}

static void budget_free (void *data, void *p)
{
  if (!p)
    return;
  Budget *b = data;
  size_t size;
  if (big_remove (b, p, &size)) {
    b->used -= size;
    imp_free (p);
    return;
  }
  BudgetHeader *h = (BudgetHeader *) p - 1;
  b->used -= h->size;
  free (h);
}

/* p (a big block) is now the caller's, to free with imp_free; false when p is not a big block. */
static bool budget_steal (Budget *b, const void *p)
{
  size_t size;
  if (!b || !big_remove (b, p, &size))
    return false;
  b->used -= size;
  return true;
}

/* ------------------------------------------------------------------------------------------- */
/* Name index: the values sorted by (name, index), searched by bisection.  Sorting rather than
 * hashing keeps the worst case O(n log n) whatever names a hostile file chooses. */

static int cmp_name_ref (const void *a, const void *b)
{
  const NameRef *x = a, *y = b;
  int c = strcmp (x->name, y->name);
  return c ? c : (x->value > y->value) - (x->value < y->value);
}

/* Index of values [0, n); false on allocation failure (error set). */
static bool index_build (Loader *L, int n)
{
  free (L->index);
  L->n_index = 0;
  L->index = malloc ((size_t) (n ? n : 1) * sizeof *L->index);
  if (!L->index) {
    imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
    return false;
  }
  for (int i = 0; i < n; i++) {
    L->index[i].name = L->g->values[i].name;
    L->index[i].value = i;
  }
  qsort (L->index, (size_t) n, sizeof *L->index, cmp_name_ref);
  L->n_index = n;
  return true;
}

/* Lowest-numbered value called name among the indexed ones, or -1. */
static int index_find (const Loader *L, const char *name)
{
  int lo = 0, hi = L->n_index; /* first entry >= name */
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (strcmp (L->index[mid].name, name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < L->n_index && strcmp (L->index[lo].name, name) == 0 ? L->index[lo].value : -1;
}

/* ------------------------------------------------------------------------------------------- */
/* Element types.                                                                              */

typedef struct {
  int onnx;          /* TensorProto.DataType code */
  const char *name;
  ImpDType dtype;    /* what the engine keeps */
  size_t raw_size;   /* bytes per element in raw_data; 0: unsupported */
} TypeInfo;

static const TypeInfo type_table[] = {
  { 1, "FLOAT", IMP_DT_FLOAT, 4 },      { 2, "UINT8", IMP_DT_INT64, 1 },
  { 3, "INT8", IMP_DT_INT64, 1 },       { 4, "UINT16", IMP_DT_INT64, 2 },
  { 5, "INT16", IMP_DT_INT64, 2 },      { 6, "INT32", IMP_DT_INT64, 4 },
  { 7, "INT64", IMP_DT_INT64, 8 },      { 8, "STRING", IMP_DT_FLOAT, 0 },
  { 9, "BOOL", IMP_DT_INT64, 1 },       { 10, "FLOAT16", IMP_DT_FLOAT, 2 },
  { 11, "DOUBLE", IMP_DT_FLOAT, 8 },    { 12, "UINT32", IMP_DT_INT64, 4 },
  { 13, "UINT64", IMP_DT_INT64, 8 },    { 14, "COMPLEX64", IMP_DT_FLOAT, 0 },
  { 15, "COMPLEX128", IMP_DT_FLOAT, 0 }, { 16, "BFLOAT16", IMP_DT_FLOAT, 2 },
  { 17, "FLOAT8E4M3FN", IMP_DT_FLOAT, 0 }, { 18, "FLOAT8E4M3FNUZ", IMP_DT_FLOAT, 0 },
  { 19, "FLOAT8E5M2", IMP_DT_FLOAT, 0 }, { 20, "FLOAT8E5M2FNUZ", IMP_DT_FLOAT, 0 },
  { 21, "UINT4", IMP_DT_INT64, 0 },     { 22, "INT4", IMP_DT_INT64, 0 },
  { 23, "FLOAT4E2M1", IMP_DT_FLOAT, 0 },
};

static const TypeInfo *type_info (int code)
{
  for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++)
    if (type_table[i].onnx == code)
      return &type_table[i];
  return NULL;
}

static const char *type_name (int code, char *buf, size_t n)
{
  const TypeInfo *ti = type_info (code);
  if (ti)
    return ti->name;
  snprintf (buf, n, "type %d", code);
  return buf;
}

/* ------------------------------------------------------------------------------------------- */
/* Element conversion.  raw_data and external data are little-endian.                          */

static uint64_t load_le (const uint8_t *p, size_t n)
{
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v |= (uint64_t) p[i] << (8 * i);
  return v;
}

static float half_to_float (uint16_t h)
{
  uint32_t sign = (uint32_t) (h >> 15) << 31;
  int exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  float f;
  if (exp == 0)
    f = ldexpf ((float) mant, -24); /* zero or subnormal */
  else if (exp == 31)
    f = mant ? NAN : INFINITY;
  else
    f = ldexpf ((float) (mant | 0x400), exp - 25);
  return sign ? -f : f;
}

static float bits_to_float (uint32_t u)
{
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

static float double_to_float (double d)
{
  /* out-of-range double -> float conversion is undefined behaviour in C */
  if (isnan (d))
    return NAN;
  if (d > FLT_MAX)
    return INFINITY;
  if (d < -FLT_MAX)
    return -INFINITY;
  return (float) d;
}

/* Element i of a raw little-endian buffer of ONNX type code as float / int64. */
static float raw_to_float (int code, const uint8_t *p)
{
  switch (code) {
  case 1: return bits_to_float ((uint32_t) load_le (p, 4));
  case 10: return half_to_float ((uint16_t) load_le (p, 2));
  case 16: return bits_to_float ((uint32_t) load_le (p, 2) << 16);
  default: { /* 11 */
      uint64_t u = load_le (p, 8);
      double d;
      memcpy (&d, &u, sizeof d);
      return double_to_float (d);
    }
  }
}

static int64_t raw_to_int (int code, const uint8_t *p)
{
  switch (code) {
  case 2: return p[0];
  case 3: return (int8_t) p[0];
  case 4: return (uint16_t) load_le (p, 2);
  case 5: return (int16_t) (uint16_t) load_le (p, 2);
  case 6: return (int32_t) (uint32_t) load_le (p, 4);
  case 9: return p[0] != 0;
  case 12: return (uint32_t) load_le (p, 4);
  default: return (int64_t) load_le (p, 8); /* 7, 13 (range checked by the caller) */
  }
}

/* ------------------------------------------------------------------------------------------- */
/* Tensors.                                                                                    */

typedef struct {
  const uint8_t *raw; /* little-endian bytes, or NULL for typed fields */
  const Onnx__TensorProto *tp;
} TensorSource;

static void format_dims (const int64_t *dims, size_t n, char *buf, size_t size)
{
  size_t used = (size_t) snprintf (buf, size, "[");
  for (size_t i = 0; i < n && used < size; i++)
    used += (size_t) snprintf (buf + used, size - used, "%s%lld", i ? "," : "", (long long) dims[i]);
  if (used < size)
    snprintf (buf + used, size - used, "]");
}

/* Typed-field element count for the type, and the field's name (for messages). */
static size_t typed_count (const Onnx__TensorProto *tp, int code, const char **field)
{
  switch (code) {
  case 1: *field = "float_data"; return tp->n_float_data;
  case 7: *field = "int64_data"; return tp->n_int64_data;
  case 11: *field = "double_data"; return tp->n_double_data;
  case 12: case 13: *field = "uint64_data"; return tp->n_uint64_data;
  default: *field = "int32_data"; return tp->n_int32_data;
  }
}

static float typed_to_float (const Onnx__TensorProto *tp, int code, size_t i)
{
  switch (code) {
  case 1: return tp->float_data[i];
  case 10: return half_to_float ((uint16_t) tp->int32_data[i]);
  case 16: return bits_to_float ((uint32_t) (uint16_t) tp->int32_data[i] << 16);
  default: return double_to_float (tp->double_data[i]);
  }
}

static int64_t typed_to_int (const Onnx__TensorProto *tp, int code, size_t i)
{
  switch (code) {
  case 7: return tp->int64_data[i];
  case 12: return (int64_t) (uint32_t) tp->uint64_data[i];
  case 13: return (int64_t) tp->uint64_data[i]; /* range checked by the caller */
  case 9: return tp->int32_data[i] != 0;
  case 2: return (uint8_t) tp->int32_data[i];
  case 3: return (int8_t) tp->int32_data[i];
  case 4: return (uint16_t) tp->int32_data[i];
  case 5: return (int16_t) tp->int32_data[i];
  default: return tp->int32_data[i];
  }
}

static ImpastoStatus convert_tensor (Loader *L, const char *what, int code, size_t count,
                                     TensorSource src, ImpTensor *out)
{
  const TypeInfo *ti = type_info (code);
  void *data = imp_alloc (count, out->dtype == IMP_DT_FLOAT ? sizeof (float) : sizeof (int64_t),
                          what, L->err);
  if (!data)
    return IMPASTO_E_NOMEM;
  if (out->dtype == IMP_DT_FLOAT) {
    float *f = data; /* [count] */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (src.raw && code == 1) { /* float32 little-endian: the bytes as they are */
      memcpy (f, src.raw, count * sizeof (float));
      out->data = data;
      return IMPASTO_OK;
    }
#endif
    for (size_t i = 0; i < count; i++)
      f[i] = src.raw ? raw_to_float (code, src.raw + i * ti->raw_size)
                     : typed_to_float (src.tp, code, i);
  } else {
    int64_t *v = data; /* [count] */
    for (size_t i = 0; i < count; i++) {
      if (code == 13) {
        uint64_t u = src.raw ? load_le (src.raw + i * 8, 8) : src.tp->uint64_data[i];
        if (u > INT64_MAX) {
          imp_free (data);
          return imp_fail (L->err, IMPASTO_E_UNSUPPORTED,
                           "%s: %s: UINT64 value %llu does not fit in INT64", L->label, what,
                           (unsigned long long) u);
        }
      }
      v[i] = src.raw ? raw_to_int (code, src.raw + i * ti->raw_size)
                     : typed_to_int (src.tp, code, i);
    }
  }
  out->data = data;
  return IMPASTO_OK;
}

/* Parses a non-negative decimal integer (all of s); false otherwise. */
static bool parse_u64 (const char *s, uint64_t *out)
{
  if (!s || !*s)
    return false;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
      return false;
    v = v * 10 + (uint64_t) (*s - '0');
  }
  *out = v;
  return true;
}

/* true if location has no "." / ".." escapes: a relative path with no ".." component. */
static bool location_is_confined (const char *loc)
{
  if (loc[0] == '/')
    return false;
  const char *p = loc;
  while (*p) {
    const char *slash = strchr (p, '/');
    size_t len = slash ? (size_t) (slash - p) : strlen (p);
    if (len == 2 && p[0] == '.' && p[1] == '.')
      return false;
    if (!slash)
      break;
    p = slash + 1;
  }
  return true;
}

/* Reads `need` bytes of external data for tensor `what` into a malloc'd buffer. */
static uint8_t *read_external (Loader *L, const char *what, const Onnx__TensorProto *tp,
                               size_t need)
{
  const char *loc = NULL, *off_s = NULL, *len_s = NULL;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = tp->external_data[i];
    const char *k = str_or_empty (e->key);
    if (strcmp (k, "location") == 0) loc = e->value;
    else if (strcmp (k, "offset") == 0) off_s = e->value;
    else if (strcmp (k, "length") == 0) len_s = e->value;
  }
  if (!L->model_dir) {
    imp_fail (L->err, IMPASTO_E_FORMAT,
              "%s: %s: external data is not allowed when loading a model from memory", L->label,
              what);
    return NULL;
  }
  if (!loc || !*loc) {
    imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s: external data without a location", L->label,
              what);
    return NULL;
  }
  if (!location_is_confined (loc)) {
    imp_fail (L->err, IMPASTO_E_FORMAT,
              "%s: %s: external data file '%s' is outside the model's folder", L->label, what, loc);
    return NULL;
  }
  uint64_t offset = 0, length = 0;
  if ((off_s && !parse_u64 (off_s, &offset)) || (len_s && !parse_u64 (len_s, &length))) {
    imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s: external data offset '%s' / length '%s' invalid",
              L->label, what, str_or_empty (off_s), str_or_empty (len_s));
    return NULL;
  }

  /* Resolve symlinks and require the result to stay inside the (resolved) model folder. */
  size_t plen = strlen (L->model_dir) + 1 + strlen (loc) + 1;
  char *joined = malloc (plen);
  char *dir_real = realpath (L->model_dir, NULL);
  char *file_real = NULL;
  uint8_t *buf = NULL;
  int fd = -1;
  if (!joined || !dir_real) {
    imp_fail (L->err, IMPASTO_E_IO, "%s: %s: cannot resolve model folder '%s': %s", L->label,
              what, L->model_dir, joined ? strerror (errno) : "out of memory");
    goto done;
  }
  snprintf (joined, plen, "%s/%s", L->model_dir, loc);
  file_real = realpath (joined, NULL);
  if (!file_real) {
    imp_fail (L->err, IMPASTO_E_IO, "%s: %s: external data file '%s': %s", L->label, what, joined,
              strerror (errno));
    goto done;
  }
  size_t dlen = strlen (dir_real);
  bool inside = strncmp (file_real, dir_real, dlen) == 0
                && (file_real[dlen] == '/' || (dlen == 1 && dir_real[0] == '/'));
  if (!inside) {
    imp_fail (L->err, IMPASTO_E_FORMAT,
              "%s: %s: external data file '%s' is outside the model's folder (resolves to '%s')",
              L->label, what, loc, file_real);
    goto done;
  }
  fd = open_nonblocking (file_real, O_NOFOLLOW);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) != 0) {
    imp_fail (L->err, IMPASTO_E_IO, "%s: %s: cannot open external data file '%s': %s", L->label,
              what, file_real, strerror (errno));
    goto done;
  }
  if (!S_ISREG (st.st_mode)) {
    imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s: external data file '%s' is not a regular file",
              L->label, what, loc);
    goto done;
  }
  uint64_t fsize = (uint64_t) st.st_size;
  if (offset > fsize) {
    imp_fail (L->err, IMPASTO_E_FORMAT,
              "%s: %s: external data offset %llu is beyond the end of '%s' (%llu bytes)",
              L->label, what, (unsigned long long) offset, loc, (unsigned long long) fsize);
    goto done;
  }
  if (!len_s)
    length = fsize - offset;
  if (length > fsize - offset) {
    imp_fail (L->err, IMPASTO_E_FORMAT,
              "%s: %s: external data offset %llu + length %llu is beyond the end of '%s' (%llu "
              "bytes)", L->label, what, (unsigned long long) offset, (unsigned long long) length,
              loc, (unsigned long long) fsize);
    goto done;
  }
  if (length != need) {
    imp_fail (L->err, IMPASTO_E_FORMAT,
              "%s: %s: external data has %llu bytes but its dims and type need %zu", L->label,
              what, (unsigned long long) length, need);
    goto done;
  }
  buf = malloc (need ? need : 1);
  if (!buf) {
    imp_fail (L->err, IMPASTO_E_NOMEM, "%s: %s: out of memory reading %zu bytes", L->label, what,
              need);
    goto done;
  }
  size_t got = 0;
  while (got < need) {
    ssize_t r = pread (fd, buf + got, need - got, (off_t) (offset + got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      imp_fail (L->err, IMPASTO_E_IO, "%s: %s: cannot read external data file '%s': %s",
                L->label, what, loc, r < 0 ? strerror (errno) : "file shrank");
      free (buf);
      buf = NULL;
      goto done;
    }
    got += (size_t) r;
  }
done:
  if (fd >= 0)
    close (fd);
  free (joined);
  free (dir_real);
  free (file_real);
  return buf;
}

/* Loads TensorProto tp (called `what` in messages) into out: dims checked, data size checked
 * against dims before anything is allocated, converted to float32 / int64. */
static ImpastoStatus load_tensor (Loader *L, const Onnx__TensorProto *tp, const char *what,
                                  ImpTensor *out)
{
  char tbuf[32], dbuf[160];
  int code = tp->has_data_type ? tp->data_type : 0;
  if (tp->n_dims > IMP_MAX_RANK)
    return imp_fail (L->err, IMPASTO_E_UNSUPPORTED, "%s: %s has rank %zu (at most %d supported)",
                     L->label, what, tp->n_dims, IMP_MAX_RANK);
  format_dims (tp->dims, tp->n_dims, dbuf, sizeof dbuf);
  for (size_t i = 0; i < tp->n_dims; i++)
    if (tp->dims[i] < 0)
      return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s has a negative dimension: dims %s",
                       L->label, what, dbuf);
  size_t count;
  if (!imp_dims_count (tp->dims, (int) tp->n_dims, &count) || count > IMP_MAX_TENSOR_ELEMS)
    return imp_fail (L->err, IMPASTO_E_SHAPE,
                     "%s: %s has absurd dims %s (more than 2^31 elements)", L->label, what, dbuf);

  const TypeInfo *ti = type_info (code);
  if (code == 0)
    return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s has no data type", L->label, what);
  if (!ti || ti->raw_size == 0)
    return imp_fail (L->err, IMPASTO_E_UNSUPPORTED, "%s: %s has data type %s, not supported",
                     L->label, what, type_name (code, tbuf, sizeof tbuf));
  out->dtype = ti->dtype;
  out->rank = (int) tp->n_dims;
  for (size_t i = 0; i < tp->n_dims; i++)
    out->dims[i] = tp->dims[i];

  size_t need = count * ti->raw_size; /* <= 2^31 * 8: no overflow */
  TensorSource src = { NULL, tp };
  uint8_t *external = NULL;
  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    external = read_external (L, what, tp, need);
    if (!external)
      return L->err ? L->err->code : IMPASTO_E_FORMAT;
    src.raw = external;
  } else if (tp->has_raw_data || tp->raw_data.len > 0) {
    if (tp->raw_data.len != need)
      return imp_fail (L->err, IMPASTO_E_FORMAT,
                       "%s: %s: raw_data has %zu bytes but dims %s of %s need %zu", L->label,
                       what, tp->raw_data.len, dbuf, ti->name, need);
    src.raw = tp->raw_data.data;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* float32 raw_data is the tensor already: take protobuf-c's block over (no copy) */
    if (code == 1 && ((uintptr_t) src.raw & 63) == 0 && budget_steal (L->budget, src.raw)) {
      Onnx__TensorProto *owned = (Onnx__TensorProto *) tp; /* the unpacked message is ours */
      out->data = owned->raw_data.data;
      owned->raw_data.data = NULL; /* free_unpacked skips it */
      owned->raw_data.len = 0;
      return IMPASTO_OK;
    }
#endif
  } else {
    const char *field;
    size_t have = typed_count (tp, code, &field);
    if (have != count)
      return imp_fail (L->err, IMPASTO_E_FORMAT,
                       "%s: %s: %s has %zu elements but dims %s need %zu", L->label, what, field,
                       have, dbuf, count);
  }
  ImpastoStatus st = convert_tensor (L, what, code, count, src, out);
  free (external);
  return st;
}

/* ------------------------------------------------------------------------------------------- */
/* Values.                                                                                     */

/* New value named name (not yet in the table); returns its index or -1 (error set). */
static int add_value (Loader *L, const char *name)
{
  ImpGraph *g = L->g;
  if (g->n_values >= L->cap_values) {
    imp_fail (L->err, IMPASTO_E_FORMAT, "%s: too many values", L->label);
    return -1;
  }
  ImpValue *v = &g->values[g->n_values];
  memset (v, 0, sizeof *v);
  v->name = strdup (name);
  if (!v->name) {
    imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
    return -1;
  }
  v->producer = -1;
  v->t.dtype = IMP_DT_FLOAT;
  v->t.rank = -1;
  return g->n_values++;
}

/* "node 'NAME' (Op)", or "node #i (Op)" for an unnamed node, into buf. */
static const char *describe_node (const ImpNode *node, int index, char *buf, size_t n)
{
  if (node->name && node->name[0])
    snprintf (buf, n, "node '%s' (%s)", node->name, str_or_empty (node->op_type));
  else
    snprintf (buf, n, "node #%d (%s)", index, str_or_empty (node->op_type));
  return buf;
}

static const char *value_origin (const Loader *L, int v, char *buf, size_t n)
{
  const ImpValue *val = &L->g->values[v];
  if (val->producer >= 0) {
    const ImpNode *node = &L->g->nodes[val->producer];
    char nbuf[300];
    snprintf (buf, n, "output of %s", describe_node (node, val->producer, nbuf, sizeof nbuf));
  } else {
    snprintf (buf, n, "%s", val->is_const ? "an initializer" : "a graph input");
  }
  return buf;
}

/* Indexes all values so far; IMPASTO_E_FORMAT if a name is defined twice. */
static ImpastoStatus index_unique (Loader *L)
{
  char first[320], second[320];
  if (!index_build (L, L->g->n_values))
    return IMPASTO_E_NOMEM;
  for (int i = 1; i < L->n_index; i++)
    if (strcmp (L->index[i - 1].name, L->index[i].name) == 0) /* equal names: lower index first */
      return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: value '%s' is defined twice (%s and %s)",
                       L->label, L->index[i].name,
                       value_origin (L, L->index[i].value, second, sizeof second),
                       value_origin (L, L->index[i - 1].value, first, sizeof first));
  return IMPASTO_OK;
}

/* Declared element type and shape of a graph input/output into t. */
static ImpastoStatus declared_type (Loader *L, const Onnx__ValueInfoProto *vi, const char *role,
                                    ImpTensor *t)
{
  char tbuf[32];
  const char *name = str_or_empty (vi->name);
  const Onnx__TypeProto *type = vi->type;
  if (!type || type->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
    return IMPASTO_OK; /* undeclared: dtype float, rank unknown */
  if (type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !type->tensor_type)
    return imp_fail (L->err, IMPASTO_E_UNSUPPORTED, "%s: %s '%s' is not a tensor", L->label,
                     role, name);
  const Onnx__TypeProto__Tensor *tt = type->tensor_type;
  if (tt->has_elem_type && tt->elem_type != 0) {
    const TypeInfo *ti = type_info (tt->elem_type);
    if (!ti || ti->raw_size == 0)
      return imp_fail (L->err, IMPASTO_E_UNSUPPORTED, "%s: %s '%s' has data type %s, not supported",
                       L->label, role, name, type_name (tt->elem_type, tbuf, sizeof tbuf));
    t->dtype = ti->dtype;
  }
  if (!tt->shape)
    return IMPASTO_OK;
  if (tt->shape->n_dim > IMP_MAX_RANK)
    return imp_fail (L->err, IMPASTO_E_UNSUPPORTED, "%s: %s '%s' has rank %zu (at most %d "
                     "supported)", L->label, role, name, tt->shape->n_dim, IMP_MAX_RANK);
  for (size_t i = 0; i < tt->shape->n_dim; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    int64_t dim = -1; /* dim_param or nothing: symbolic */
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      if (d->dim_value < 0)
        return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s '%s' has a negative dimension %lld",
                         L->label, role, name, (long long) d->dim_value);
      dim = d->dim_value;
    }
    t->dims[i] = dim;
  }
  t->rank = (int) tt->shape->n_dim;
  return IMPASTO_OK;
}

static ImpastoStatus load_initializers (Loader *L, const Onnx__GraphProto *gp)
{
  char what[320];
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    const char *name = str_or_empty (tp->name);
    if (!*name)
      return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: initializer #%zu has no name", L->label, i);
    int v = add_value (L, name);
    if (v < 0)
      return L->err ? L->err->code : IMPASTO_E_FORMAT;
    L->g->values[v].is_const = true;
    snprintf (what, sizeof what, "initializer '%s'", name);
    ImpastoStatus st = load_tensor (L, tp, what, &L->g->values[v].t);
    if (st != IMPASTO_OK)
      return st;
  }
  if (gp->n_sparse_initializer > 0)
    return imp_fail (L->err, IMPASTO_E_UNSUPPORTED, "%s: sparse initializers are not supported",
                     L->label);
  return IMPASTO_OK;
}

static ImpastoStatus load_inputs (Loader *L, const Onnx__GraphProto *gp)
{
  ImpGraph *g = L->g;
  g->inputs = calloc (gp->n_input ? gp->n_input : 1, sizeof *g->inputs);
  if (!g->inputs)
    return imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
  for (size_t i = 0; i < gp->n_input; i++) {
    const char *name = str_or_empty (gp->input[i]->name);
    if (!*name)
      return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: graph input #%zu has no name", L->label, i);
    if (index_find (L, name) >= 0) /* the index holds the initializers only, here */
      continue; /* an initializer listed as input too (IR < 4 style): a constant */
    int v = add_value (L, name);
    if (v < 0)
      return L->err ? L->err->code : IMPASTO_E_FORMAT;
    g->values[v].is_input = true;
    g->inputs[g->n_inputs++] = v;
    ImpastoStatus st = declared_type (L, gp->input[i], "graph input", &g->values[v].t);
    if (st != IMPASTO_OK)
      return st;
  }
  return IMPASTO_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Nodes and attributes.                                                                       */

static ImpAttrType attr_kind (const Onnx__AttributeProto *a)
{
  int type = a->has_type ? (int) a->type : 0;
  if (type == 0) { /* IR version 1 files have no type field: infer it from what is set */
    if (a->has_f) return IMP_ATTR_FLOAT;
    if (a->has_i) return IMP_ATTR_INT;
    if (a->has_s) return IMP_ATTR_STRING;
    if (a->t) return IMP_ATTR_TENSOR;
    if (a->n_floats) return IMP_ATTR_FLOATS;
    if (a->n_ints) return IMP_ATTR_INTS;
    return IMP_ATTR_OTHER;
  }
  switch (type) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return IMP_ATTR_FLOAT;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return IMP_ATTR_INT;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return IMP_ATTR_STRING;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return IMP_ATTR_TENSOR;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return IMP_ATTR_FLOATS;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return IMP_ATTR_INTS;
  default: return IMP_ATTR_OTHER;
  }
}

static ImpastoStatus load_attr (Loader *L, const Onnx__AttributeProto *a,
                                ImpAttr *out)
{
  char what[400];
  const char *name = str_or_empty (a->name);
  if (!*name)
    return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s has an attribute without a name",
                     L->label, L->node);
  out->name = strdup (name);
  if (!out->name)
    return imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
  out->type = attr_kind (a);
  switch (out->type) {
  case IMP_ATTR_FLOAT:
    out->f = a->f;
    break;
  case IMP_ATTR_INT:
    out->i = a->i;
    break;
  case IMP_ATTR_STRING:
    out->s = strndup (a->s.data ? (const char *) a->s.data : "", a->s.len);
    if (!out->s)
      return imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
    break;
  case IMP_ATTR_TENSOR:
    if (!a->t)
      return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s attribute '%s' has no tensor",
                       L->label, L->node, name);
    snprintf (what, sizeof what, "%s attribute '%s'", L->node, name);
    return load_tensor (L, a->t, what, &out->t);
  case IMP_ATTR_FLOATS:
  case IMP_ATTR_INTS: {
    bool fl = out->type == IMP_ATTR_FLOATS;
    size_t n = fl ? a->n_floats : a->n_ints;
    if (n > MAX_ATTR_LIST)
      return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s attribute '%s' has %zu "
                       "elements (limit %d)", L->label, L->node, name, n,
                       MAX_ATTR_LIST);
    out->n = (int) n;
    if (fl) {
      out->floats = malloc ((n ? n : 1) * sizeof (float));
      if (out->floats && n)
        memcpy (out->floats, a->floats, n * sizeof (float));
    } else {
      out->ints = malloc ((n ? n : 1) * sizeof (int64_t));
      if (out->ints && n)
        memcpy (out->ints, a->ints, n * sizeof (int64_t));
    }
    if (fl ? !out->floats : !out->ints)
      return imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
    break;
  }
  case IMP_ATTR_OTHER:
    break;
  }
  return IMPASTO_OK;
}

/* Names, op type and attributes of node i; outputs registered as values.  Inputs are resolved
 * later, once every node's outputs are known (file order need not be topological). */
static ImpastoStatus load_node_header (Loader *L, const Onnx__NodeProto *np, int index)
{
  ImpNode *node = &L->g->nodes[index];
  node->name = dup_str (np->name);
  node->op_type = dup_str (np->op_type);
  const char *dom = str_or_empty (np->domain);
  node->domain = strdup (strcmp (dom, "ai.onnx") == 0 ? "" : dom);
  if (!node->name || !node->op_type || !node->domain)
    return imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
  describe_node (node, index, L->node, sizeof L->node);
  if (!node->op_type[0])
    return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: node #%d ('%s') has no op_type", L->label,
                     index, node->name);
  if (np->n_input > MAX_NODE_IO || np->n_output > MAX_NODE_IO || np->n_attribute > MAX_ATTRS)
    return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s has too many inputs, outputs or "
                     "attributes", L->label, L->node);

  node->inputs = malloc ((np->n_input ? np->n_input : 1) * sizeof *node->inputs);
  node->outputs = malloc ((np->n_output ? np->n_output : 1) * sizeof *node->outputs);
  node->attrs = calloc (np->n_attribute ? np->n_attribute : 1, sizeof *node->attrs);
  if (!node->inputs || !node->outputs || !node->attrs)
    return imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
  node->n_inputs = (int) np->n_input;
  for (int k = 0; k < node->n_inputs; k++)
    node->inputs[k] = -1;
  node->n_outputs = (int) np->n_output;
  node->n_attrs = (int) np->n_attribute;

  for (int k = 0; k < node->n_outputs; k++) {
    const char *name = str_or_empty (np->output[k]);
    node->outputs[k] = -1;
    if (!*name)
      continue; /* optional output not wanted */
    int v = add_value (L, name);
    if (v < 0)
      return L->err ? L->err->code : IMPASTO_E_FORMAT;
    L->g->values[v].producer = index;
    node->outputs[k] = v;
  }

  for (int k = 0; k < node->n_attrs; k++) {
    ImpastoStatus st = load_attr (L, np->attribute[k], &node->attrs[k]);
    if (st != IMPASTO_OK)
      return st;
    for (int j = 0; j < k; j++)
      if (strcmp (node->attrs[j].name, node->attrs[k].name) == 0)
        return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s has attribute '%s' twice",
                         L->label, L->node, node->attrs[k].name);
  }
  return IMPASTO_OK;
}

static ImpastoStatus resolve_node_inputs (Loader *L, const Onnx__NodeProto *np, int index)
{
  ImpNode *node = &L->g->nodes[index];
  describe_node (node, index, L->node, sizeof L->node);
  for (int k = 0; k < node->n_inputs; k++) {
    const char *name = str_or_empty (np->input[k]);
    if (!*name)
      continue; /* omitted optional input: -1 */
    int v = index_find (L, name);
    if (v < 0)
      return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %s input '%s' is not defined (no "
                       "graph input, initializer or node output has that name)", L->label,
                       L->node, name);
    node->inputs[k] = v;
  }
  return IMPASTO_OK;
}

static ImpastoStatus load_outputs (Loader *L, const Onnx__GraphProto *gp)
{
  ImpGraph *g = L->g;
  g->outputs = calloc (gp->n_output ? gp->n_output : 1, sizeof *g->outputs);
  if (!g->outputs)
    return imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = str_or_empty (gp->output[i]->name);
    int v = *name ? index_find (L, name) : -1;
    if (v < 0)
      return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: graph output '%s' is not defined (no node, "
                       "graph input or initializer produces it)", L->label, name);
    g->outputs[g->n_outputs++] = v;
    ImpValue *val = &g->values[v];
    if (!val->is_const && !val->is_input) { /* keep what inputs and constants already say */
      ImpastoStatus st = declared_type (L, gp->output[i], "graph output", &val->t);
      if (st != IMPASTO_OK)
        return st;
    }
  }
  return IMPASTO_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Model.                                                                                      */

static ImpastoStatus load_model_info (Loader *L, const Onnx__ModelProto *mp)
{
  ImpGraph *g = L->g;
  g->ir_version = mp->has_ir_version ? mp->ir_version : 0;
  g->opset = 0; /* 0: the file imports no default-domain opset */
  for (size_t i = 0; i < mp->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *op = mp->opset_import[i];
    const char *dom = str_or_empty (op->domain);
    if ((strcmp (dom, "") == 0 || strcmp (dom, "ai.onnx") == 0) && op->has_version)
      g->opset = op->version;
  }

  const char *pn = str_or_empty (mp->producer_name), *pv = str_or_empty (mp->producer_version);
  size_t plen = strlen (pn) + 1 + strlen (pv) + 1;
  g->producer = malloc (plen);
  if (!g->producer)
    return imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
  snprintf (g->producer, plen, "%s%s%s", pn, *pn && *pv ? " " : "", pv);

  if (mp->n_metadata_props > MAX_META)
    return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %zu metadata entries (limit %d)", L->label,
                     mp->n_metadata_props, MAX_META);
  g->meta = calloc (mp->n_metadata_props ? mp->n_metadata_props : 1, sizeof *g->meta);
  if (!g->meta)
    return imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
  for (size_t i = 0; i < mp->n_metadata_props; i++) {
    ImpMeta *m = &g->meta[g->n_meta++];
    m->key = dup_str (mp->metadata_props[i]->key);
    m->value = dup_str (mp->metadata_props[i]->value);
    if (!m->key || !m->value)
      return imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
  }
  return IMPASTO_OK;
}

/* Number of values the graph can have (upper bound), or -1 when over the limit. */
static int count_values (const Onnx__GraphProto *gp)
{
  size_t n = gp->n_initializer + gp->n_input;
  for (size_t i = 0; i < gp->n_node && n <= MAX_VALUES; i++)
    n += gp->node[i]->n_output;
  return n > MAX_VALUES ? -1 : (int) n;
}

static ImpastoStatus load_graph (Loader *L, const Onnx__GraphProto *gp)
{
  ImpGraph *g = L->g;
  if (gp->n_node > IMP_MAX_NODES)
    return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: %zu nodes (limit %d)", L->label, gp->n_node,
                     IMP_MAX_NODES);
  int cap = count_values (gp);
  if (cap < 0)
    return imp_fail (L->err, IMPASTO_E_FORMAT, "%s: more than %d values", L->label, MAX_VALUES);
  L->cap_values = cap;
  g->values = calloc (cap ? (size_t) cap : 1, sizeof *g->values);
  g->nodes = calloc (gp->n_node ? gp->n_node : 1, sizeof *g->nodes);
  if (!g->values || !g->nodes)
    return imp_fail (L->err, IMPASTO_E_NOMEM, "%s: out of memory", L->label);
  g->n_nodes = (int) gp->n_node; /* zeroed entries are safe to free */

  ImpastoStatus st = load_initializers (L, gp);
  if (st == IMPASTO_OK)
    st = index_unique (L);
  if (st == IMPASTO_OK)
    st = load_inputs (L, gp);
  for (int i = 0; st == IMPASTO_OK && i < g->n_nodes; i++)
    st = load_node_header (L, gp->node[i], i);
  if (st == IMPASTO_OK)
    st = index_unique (L); /* every value is known now: inputs resolve against this index */
  for (int i = 0; st == IMPASTO_OK && i < g->n_nodes; i++)
    st = resolve_node_inputs (L, gp->node[i], i);
  if (st == IMPASTO_OK)
    st = load_outputs (L, gp);
  return st;
}

static ImpGraph *load_bytes (const uint8_t *bytes, size_t n_bytes, const char *label,
                             const char *model_dir, ImpastoError *err)
{
  if (n_bytes == 0) {
    imp_fail (err, IMPASTO_E_FORMAT, "%s: not an ONNX model (empty file)", label);
    return NULL;
  }
  if (n_bytes > IMP_MAX_FILE_BYTES) {
    imp_fail (err, IMPASTO_E_FORMAT, "%s: not an ONNX model (%zu bytes, more than 2 GiB)", label,
              n_bytes);
    return NULL;
  }
  if (!check_nesting (bytes, n_bytes)) {
    imp_fail (err, IMPASTO_E_FORMAT, "%s: not an ONNX model (messages nested more than %d deep)",
              label, MAX_PROTO_DEPTH);
    return NULL;
  }
  /* A budget of 4x the input + 64 MiB: enough for any real model (raw tensor data is copied
   * once; graph structure costs a few times its wire size) but not for hostile input made of
   * millions of empty messages, each 2 bytes on the wire and ~100 bytes unpacked. */
  Budget budget = { .limit = (n_bytes > (SIZE_MAX - (64u << 20)) / 4 ? SIZE_MAX
                                                                     : 4 * n_bytes + (64u << 20)) };
  ProtobufCAllocator allocator = { budget_alloc, budget_free, &budget };
  Onnx__ModelProto *mp = onnx__model_proto__unpack (&allocator, n_bytes, bytes);
  if (!mp) {
    free (budget.big); /* the blocks themselves are freed by protobuf-c */
    free (budget.big_size);
    if (budget.exhausted)
      imp_fail (err, IMPASTO_E_NOMEM, "%s: unpacking the protobuf needs more than %zu MiB", label,
                budget.limit >> 20);
    else
      imp_fail (err, IMPASTO_E_FORMAT, "%s: not an ONNX model (protobuf parse failed)", label);
    return NULL;
  }
  if (!mp->graph) {
    imp_fail (err, IMPASTO_E_FORMAT, "%s: not an ONNX model (no graph)", label);
    onnx__model_proto__free_unpacked (mp, &allocator);
    free (budget.big);
    free (budget.big_size);
    return NULL;
  }

  Loader L = { .label = label, .model_dir = model_dir, .err = err, .budget = &budget };
  L.g = calloc (1, sizeof *L.g);
  ImpastoStatus st = L.g ? IMPASTO_OK
                         : imp_fail (err, IMPASTO_E_NOMEM, "%s: out of memory", label);
  if (st == IMPASTO_OK)
    st = load_model_info (&L, mp);
  if (st == IMPASTO_OK)
    st = load_graph (&L, mp->graph);
  free (L.index);
  onnx__model_proto__free_unpacked (mp, &allocator);
  free (budget.big);
  free (budget.big_size);
  if (st != IMPASTO_OK) {
    imp_graph_free (L.g);
    return NULL;
  }
  imp_error_clear (err);
  return L.g;
}

ImpGraph *imp_onnx_load_bytes (const uint8_t *bytes, size_t n_bytes, const char *model_dir,
                               ImpastoError *err)
{
  if (!bytes && n_bytes > 0) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "imp_onnx_load_bytes: NULL bytes");
    return NULL;
  }
  ImpGraph *g = load_bytes (bytes, n_bytes, "(memory)", model_dir, err);
  if (g && !(g->path = strdup (""))) {
    imp_graph_free (g);
    imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
    return NULL;
  }
  return g;
}

/* Folder of path ("." when it has no slash); malloc'd. */
static char *folder_of (const char *path)
{
  const char *slash = strrchr (path, '/');
  if (!slash)
    return strdup (".");
  if (slash == path)
    return strdup ("/");
  return strndup (path, (size_t) (slash - path));
}

ImpGraph *imp_onnx_load (const char *path, ImpastoError *err)
{
  if (!path || !*path) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "imp_onnx_load: no path given");
    return NULL;
  }
  size_t n = 0;
  uint8_t *bytes = read_file (path, &n, err);
  if (!bytes)
    return NULL;
  char *dir = folder_of (path);
  ImpGraph *g = NULL;
  if (!dir)
    imp_fail (err, IMPASTO_E_NOMEM, "%s: out of memory", path);
  else
    g = load_bytes (bytes, n, path, dir, err);
  imp_free (bytes);
  free (dir);
  if (g && !(g->path = strdup (path))) {
    imp_graph_free (g);
    imp_fail (err, IMPASTO_E_NOMEM, "%s: out of memory", path);
    return NULL;
  }
  return g;
}
