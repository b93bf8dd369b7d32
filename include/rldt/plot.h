/* rldt/plot.h — `rldt plot`: a run's metrics.csv as learning curves in one PNG, and its per-step gradient
 * norms in a second (drawn with rldt/image.h). */
#ifndef RLDT_PLOT_H
#define RLDT_PLOT_H

#include "rldt/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads <run_dir>/metrics.csv and draws one panel per curve (eval return and success, critic loss, actor
 * loss terms, |phi|, env steps/s) against env steps into `out_png`. When the run has a step_grads.csv
 * (finetune.step_grad_freq), also draws step_grads.png in out_png's directory: the log10 of each denoising
 * step's mean gradient norm against k. Missing or malformed metrics file, malformed step_grads.csv:
 * RLDT_ERR_USAGE naming it. */
rldt_status_t rldt_plot_run(const char *run_dir, const char *out_png);

#ifdef __cplusplus
}
#endif
#endif
