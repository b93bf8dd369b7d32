#!/bin/sh
# tests/fuzz/cc.sh — the compiler of the fuzz build: clang, with its warnings not turned into errors (the
# regular build's -Werror is for GCC; a warning only clang gives must not stop fuzzing).
exec clang "$@" -Wno-error
