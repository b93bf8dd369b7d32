/* rldt/plot.h — `rldt plot`: a run's metrics.csv as learning curves in one PNG (drawn with rldt/image.h). */
#ifndef RLDT_PLOT_H
#define RLDT_PLOT_H

#include "rldt/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads <run_dir>/metrics.csv and draws one panel per curve (eval return and success, critic loss, actor
 * loss terms, |phi|, env steps/s) against env steps into `out_png`. Missing or malformed file:
 * RLDT_ERR_USAGE naming it. */
rldt_status_t rldt_plot_run(const char *run_dir, const char *out_png);

#ifdef __cplusplus
}
#endif
#endif
