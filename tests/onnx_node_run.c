/* SPDX-License-Identifier: GPL-3.0-or-later */
/* onnx_node_run.c — runs one ONNX backend node case through the engine for
 * tests/onnx_conformance.py.
 *
 *   onnx_node_run MODEL INPUT.f32 N C H W OUTPUT.f32
 *
 * INPUT.f32 holds the [N, C, H, W] floats of the model's one runtime input (the conformance driver
 * has folded every other input into initializers).  The model goes through the loader and
 * prepare (folding, builders, fusion, weight packing) like impasto_model_load, but without its
 * RGB-image check (the node cases have any channel count), then through imp_model_exec, the
 * whole-tensor executor.  Prints the output dims on stdout and writes its floats to OUTPUT.f32.
 * Exit status: 0 ran; 3 refused at load (message on stdout, "refused: ..."); 4 refused at run
 * ("run error: ..."); 2 usage or I/O. */
#include "model.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

static float *read_floats (const char *path, size_t count)
{
  FILE *f = fopen (path, "rb");
  float *data = f ? malloc (count ? count * sizeof (float) : 1) : NULL;
  bool ok = data && fread (data, sizeof (float), count, f) == count && fgetc (f) == EOF;
  if (f)
    fclose (f);
  if (!ok) {
    free (data);
    return NULL;
  }
  return data;
}

int main (int argc, char **argv)
{
  if (argc != 8) {
    fprintf (stderr, "usage: onnx_node_run MODEL INPUT.f32 N C H W OUTPUT.f32\n");
    return 2;
  }
  ImpTensor input = { .dtype = IMP_DT_FLOAT, .rank = 4 };
  for (int d = 0; d < 4; d++)
    input.dims[d] = atoll (argv[3 + d]);
  size_t count;
  if (!imp_dims_count (input.dims, 4, &count) || !(input.data = read_floats (argv[2], count))) {
    fprintf (stderr, "onnx_node_run: cannot read %s as [%s, %s, %s, %s] floats\n", argv[2],
             argv[3], argv[4], argv[5], argv[6]);
    return 2;
  }

  ImpastoError err = { 0 };
  ImpGraph *g = imp_onnx_load (argv[1], &err);
  ImpastoModel *m = g ? calloc (1, sizeof *m) : NULL;
  if (g && !m) {
    imp_graph_free (g);
    return 2;
  }
  ImpastoStatus st = g ? imp_model_prepare (m, g, &err) : err.code; /* m owns g from here */
  if (!st && g->n_inputs != 1)
    st = imp_fail (&err, IMPASTO_E_ARGUMENT, "the model has %d runtime inputs, the runner feeds one",
                   g->n_inputs);
  if (st) {
    printf ("refused: %s\n", err.message);
    impasto_model_free (m);
    free (input.data);
    return 3;
  }
  m->input = g->inputs[0];
  m->output = g->outputs[0];

  ImpTensor out = { 0 };
  st = imp_model_exec (m, &input, &out, NULL, NULL, &err);
  free (input.data);
  if (st) {
    printf ("run error: %s\n", err.message);
    impasto_model_free (m);
    return 4;
  }
  FILE *f = fopen (argv[7], "wb");
  size_t n = imp_tensor_count (&out);
  bool ok = f && fwrite (out.data, sizeof (float), n, f) == n;
  if (f && fclose (f) != 0)
    ok = false;
  for (int d = 0; d < out.rank; d++)
    printf ("%s%lld", d ? " " : "", (long long) out.dims[d]);
  printf ("\n");
  imp_free (out.data);
  impasto_model_free (m);
  return ok ? 0 : 2;
}
