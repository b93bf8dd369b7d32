#!/usr/bin/env bash
# kernel-resources.sh — the resource table of the CUDA kernels, from the `ptxas -v` logs the build keeps
# beside each object (build/kernels/*.ptxas): per kernel and architecture, registers, shared memory, stack
# frame and spills. Exits 1, naming the kernels, when any kernel spills registers to local memory (every
# kernel of the plugin is on a training step's path, so all of them count as hot).
# usage: scripts/kernel-resources.sh LOG...     (the Makefile writes the table to build/kernel-resources.txt)
set -euo pipefail
awk '
/Compiling entry function/ { match($0, /\x27[^\x27]+\x27/); fn = substr($0, RSTART + 1, RLENGTH - 2)
                             match($0, /for \x27sm_[0-9]+/); arch = substr($0, RSTART + 5, RLENGTH - 5) }
/bytes stack frame/        { stack = $1; spill_st = $5; spill_ld = $9 }
/Used [0-9]+ registers/    { regs = $5; smem = 0
                             if (match($0, /[0-9]+ bytes smem/)) smem = substr($0, RSTART, RLENGTH - 10) + 0
                             cmd = "c++filt -p \"" fn "\" 2>/dev/null"; name = fn
                             if ((cmd | getline dm) > 0) name = dm; close(cmd)
                             printf "%-40s %-6s %5d regs %7d B smem %5d B stack %5d/%d B spills\n", substr(name, 1, 40), arch, regs, smem, stack, spill_st, spill_ld
                             if (spill_st + spill_ld > 0) { bad = bad " " name "(" arch ")" } }
END { if (bad != "") { print "kernel-resources: register spills in:" bad > "/dev/stderr"; exit 1 } }
' "$@"
