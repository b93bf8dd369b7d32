/* test_docker.c — docker/Dockerfile cannot drift from the project (no Docker engine runs the image here):
 * every stage installs its packages through scripts/install-deps.sh and lists none of its own, the CUDA base
 * image has the major version of the toolkit the project builds with, and the make targets it calls exist. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

Test(docker, every_stage_installs_through_install_deps)
{
    char *d = slurp("../docker/Dockerfile");
    int stages = 0;
    for (const char *p = d; (p = strstr(p, "\nFROM ")); p++) stages++;
    cr_assert_eq(stages, 2, "expected the cuda and cpu stages, found %d FROM lines", stages);
    cr_assert_eq(count(d, "RUN bash scripts/install-deps.sh"), stages, "a stage does not install through install-deps.sh");
    cr_assert_eq(count(d, "apt-get"), 0, "the Dockerfile has a package list of its own");
    cr_assert_eq(count(d, "pip install"), 0, "the Dockerfile has a package list of its own");
    free(d);
}

Test(docker, the_cuda_base_matches_the_toolkit_major_version)
{
    char *d = slurp("../docker/Dockerfile");
    const char *tag = strstr(d, "nvidia/cuda:");
    cr_assert_not_null(tag);
    int image_major = atoi(tag + strlen("nvidia/cuda:"));
    FILE *p = popen("nvcc --version 2>/dev/null || /usr/local/cuda/bin/nvcc --version 2>/dev/null", "r");
    char line[256];
    int toolkit_major = 0;
    while (p && fgets(line, sizeof line, p)) {
        const char *r = strstr(line, "release ");
        if (r) toolkit_major = atoi(r + strlen("release "));
    }
    if (p) pclose(p);
    if (!toolkit_major) cr_skip_test("skipped: no CUDA toolkit here to compare with (image: CUDA %d)", image_major);
    cr_assert_eq(image_major, toolkit_major, "the image is CUDA %d, the toolkit %d", image_major, toolkit_major);
    free(d);
}

Test(docker, the_make_targets_it_calls_exist)
{
    char *d = slurp("../docker/Dockerfile"), *mk = slurp("../Makefile");
    int checked = 0;
    for (const char *p = strstr(d, "make "); p; p = strstr(p + 1, "make ")) {
        if (p > d && (isalnum((unsigned char)p[-1]) || p[-1] == '-')) continue; /* part of another word */
        const char *w = p + 5;
        for (;;) { /* the words up to the end of the command: options and VAR=value are not targets */
            while (*w == ' ') w++;
            size_t len = strcspn(w, " \n\\&;");
            if (!len) break;
            char word[64];
            snprintf(word, sizeof word, "%.*s", (int)len, w);
            w += len;
            if (word[0] == '-' || strchr(word, '=')) continue;
            char rule[80];
            snprintf(rule, sizeof rule, "\n%s:", word);
            cr_assert(strstr(mk, rule), "the Dockerfile calls `make %s`, which the Makefile does not define", word);
            checked++;
        }
    }
    cr_assert_geq(checked, 2, "found %d make targets in the Dockerfile", checked);
    free(d), free(mk);
}
