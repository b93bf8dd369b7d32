/* optim.c — Adam bias corrections and learning-rate schedules (see rldt/optim.h). The update loops
 * themselves are backend ops (host/backend_cpu.c, kernels/optim.cu). */
#include "rldt/optim.h"
#include "rldt/backend.h"

#include <math.h>

rldt_adam_t rldt_adam_default(void) { return (rldt_adam_t){0.9f, 0.999f, 1e-8f, 0.0f, false}; }

float rldt_sched_lr(const rldt_sched_t *s, long step)
{
    if (step < s->warmup) return s->lr * (float)(step + 1) / (float)s->warmup;
    if (s->kind == RLDT_SCHED_CONSTANT) return s->lr;
    long span = s->total - s->warmup;
    if (span <= 0 || step >= s->total) return s->lr_final;
    double frac = (double)(step - s->warmup) / (double)span;
    return (float)(s->lr_final + (s->lr - s->lr_final) * 0.5 * (1.0 + cos(RLDT_PI * frac)));
}

float rldt_clip_global_norm(const struct rldt_backend *be, float *g, size_t n, float max_norm)
{
    float norm = (float)sqrt(be->sumsq(g, n));
    if (max_norm > 0.0f && norm > max_norm) be->scale(g, max_norm / (norm + 1e-6f), n);
    return norm;
}
