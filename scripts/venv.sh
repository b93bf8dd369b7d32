# venv.sh — sourced by the install scripts (which define `say`): make_venv VENV PYTHON [venv options] makes
# the venv with PYTHON unless VENV already holds one, and says which.
make_venv() {
    local venv=$1 python=$2
    shift 2
    if [ -x "$venv/bin/python" ]; then
        say "venv $venv exists ($("$venv/bin/python" --version 2>&1))"
        return 0
    fi
    say "creating venv $venv with $("$python" --version 2>&1)${*:+ ($*)}"
    if ! "$python" -m venv "$@" "$venv"; then
        rm -rf "$venv"
        say "error: '$python -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    fi
}
