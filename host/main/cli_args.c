/* cli_args.c — plain name=value arguments of the commands that take no config file (collect, eval,
 * export), checked against a per-command table (see cli.h). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Decimal notation only (strtod alone also reads "0x10", " 5", "inf"): integers are [+-]digits, numbers
 * start with a digit or a '.' after the sign and hold no hexadecimal marker. */
static bool decimal(const char *text, bool integer)
{
    const char *p = text + (*text == '+' || *text == '-');
    if (integer) {
        if (!*p) return false;
        for (; *p; p++)
            if (*p < '0' || *p > '9') return false;
        return true;
    }
    return ((*p >= '0' && *p <= '9') || *p == '.') && !strpbrk(p, "xX");
}

/* Checks a numeric value against its row. */
static rldt_status_t parse_number(const rldt_cli_arg_t *a, const char *text, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (!decimal(text, a->kind == RLDT_ARG_INTEGER) || *end || errno || !isfinite(x) || x < a->min || x > a->max ||
        (a->kind == RLDT_ARG_INTEGER && x != floor(x)))
        return rldt_error_set(RLDT_ERR_USAGE, "%s='%s' is not %s in [%g, %g] (%s)", a->name, text,
                              a->kind == RLDT_ARG_INTEGER ? "an integer" : "a number", a->min, a->max, a->doc);
    *out = x;
    return RLDT_OK;
}

void rldt_cli_print_args(const rldt_cli_arg_t *args, int n)
{
    fprintf(stderr, "arguments:\n");
    for (int i = 0; i < n; i++)
        fprintf(stderr, "  %-14s %s (%s%s)\n", args[i].name, args[i].doc,
                !args[i].def ? "required" : args[i].def[0] ? "default " : "optional", args[i].def ? args[i].def : "");
}

int rldt_cli_args(const rldt_cli_arg_t *args, int n, int argc, char **argv, int first, const char **text, double *num)
{
    unsigned long long given = 0; /* bit k: argument k was on the command line */
    for (int i = 0; i < n; i++) {
        text[i] = args[i].def;
        num[i] = 0;
    }
    for (int i = first; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        int k = n;
        for (int j = 0; eq && j < n; j++)
            if ((size_t)(eq - argv[i]) == strlen(args[j].name) && strncmp(argv[i], args[j].name, strlen(args[j].name)) == 0) k = j;
        if (k == n) {
            rldt_error_set(RLDT_ERR_USAGE, "unknown argument '%s' (expected name=value, names below)", argv[i]);
            rldt_cli_fail(RLDT_ERR_USAGE);
            rldt_cli_print_args(args, n);
            return RLDT_ERR_USAGE;
        }
        text[k] = eq + 1;
        given |= 1ull << k;
    }
    for (int k = 0; k < n; k++) {
        if (!text[k]) {
            rldt_error_set(RLDT_ERR_USAGE, "missing argument %s=... (%s)", args[k].name, args[k].doc);
            rldt_cli_fail(RLDT_ERR_USAGE);
            rldt_cli_print_args(args, n);
            return RLDT_ERR_USAGE;
        }
        /* a number is parsed when it has text, and always when given (so "seed=" is an error) */
        bool numeric = args[k].kind != RLDT_ARG_TEXT;
        if (numeric && (*text[k] || (given >> k & 1)) && parse_number(&args[k], text[k], &num[k])) return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    return 0;
}
