#!/usr/bin/env bash
# Create the isolated environments of the peer flare detectors used in the benchmark tables.
#
#   bash benchmarks/peers/setup_peers.sh [altaipony|stella|all]      (default: all)
#
# altaipony: $PEERS_DIR/altaipony-venv (Python 3.11) with AltaiPony 2.1.2 from PyPI.
# stella:    $PEERS_DIR/stella-venv (Python 3.7: stella 0.1.0 pins TensorFlow 2.1.0, whose wheels
#            stop at 3.7) with stella 0.1.0 from PyPI, and the ten CNN models of its sdist
#            (final_models.zip, which `pip install` leaves out) unpacked to
#            $PEERS_DIR/stella-models/run01.
# Everything goes under PEERS_DIR (default /work/peers), outside the repository. Re-running is
# safe. Interpreters are found as pythonX.Y on PATH or under `pyenv root`; override with
# ALTAIPONY_PYTHON / STELLA_PYTHON. See benchmarks/peers/README.md.
set -euo pipefail

PEERS_DIR="${PEERS_DIR:-/work/peers}"
WHAT="${1:-all}"

# Versions tested together (numpy < 2.4: k2sc, imported by AltaiPony, uses numpy.linalg.linalg).
ALTAIPONY_PINS=(
    "altaipony==2.1.2" "numpy==2.3.5" "k2sc==1.0.2.2" "lightkurve==2.6.0" "astropy==8.0.2"
    "pandas==2.3.3" "scipy==1.17.1" "george==0.4.4" "matplotlib==3.11.2"
)
# stella 0.1.0 asks for tensorflow==2.1.0, scipy==1.4.1, lightkurve==1.9.0 and the retired
# `sklearn` alias; tensorflow-cpu 2.1.0 is the same release without CUDA, h5py < 3 and
# protobuf < 4 are what TensorFlow 2.1 can read its HDF5 models / protos with.
STELLA_PINS=(
    "tensorflow-cpu==2.1.0" "h5py==2.10.0" "protobuf==3.20.3" "numpy==1.18.5" "scipy==1.4.1"
    "lightkurve==1.9.0" "astropy==4.0.6" "scikit-learn==0.22.2.post1" "matplotlib==3.3.4"
    "astroquery==0.4.6" "more-itertools==9.1.0" "tqdm==4.68.2"
)
STELLA_SDIST_SHA256="9e1e124dcb80f1806aabe0177169f6b6746573c6a1b70670556dca5f4c8773de"
STELLA_MODELS_SHA256="65ae8ce96a07315b18057c0ab9034a731a606a2ebf44a829ec6b29ecee856696"

find_python() {  # find_python X.Y [explicit interpreter]; prints a working pythonX.Y with venv
    local want="$1" explicit="${2:-}" root cand
    if [[ -n "$explicit" ]]; then
        echo "$explicit"
        return 0
    fi
    root="$(pyenv root 2>/dev/null || true)"
    for cand in "python$want" "$root"/versions/"$want".*/bin/"python$want"; do
        if "$cand" -c "import sys, venv; assert '%d.%d' % sys.version_info[:2] == '$want'" \
            >/dev/null 2>&1; then
            echo "$cand"
            return 0
        fi
    done
    return 1
}

setup_altaipony() {
    local py venv="$PEERS_DIR/altaipony-venv"
    py="$(find_python 3.11 "${ALTAIPONY_PYTHON:-}")" || {
        echo "AltaiPony: no Python 3.11 found (set ALTAIPONY_PYTHON)" >&2
        return 1
    }
    echo "AltaiPony: $venv with $("$py" --version)"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet "${ALTAIPONY_PINS[@]}"
    "$venv/bin/python" -W ignore -c "
import importlib.metadata as md, numpy, altaipony.flarelc
print('AltaiPony', md.version('altaipony'), 'numpy', numpy.__version__,
      'lightkurve', md.version('lightkurve'), 'astropy', md.version('astropy'))"
}

setup_stella() {
    local py venv="$PEERS_DIR/stella-venv" dl="$PEERS_DIR/downloads"
    local sdist="$dl/stella-0.1.0.tar.gz" models="$PEERS_DIR/stella-models"
    py="$(find_python 3.7 "${STELLA_PYTHON:-}")" || {
        echo "stella: no Python 3.7 found (set STELLA_PYTHON); stella 0.1.0 needs" \
             "TensorFlow 2.1.0, which has wheels for Python 3.5-3.7 only" >&2
        return 1
    }
    echo "stella: $venv with $("$py" --version)"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet "${STELLA_PINS[@]}"
    mkdir -p "$dl" "$models"
    [[ -f "$sdist" ]] || "$venv/bin/python" -m pip download --quiet --no-deps \
        --no-binary :all: --dest "$dl" "stella==0.1.0"
    echo "$STELLA_SDIST_SHA256  $sdist" | sha256sum --check --quiet
    "$venv/bin/python" -m pip install --quiet --no-deps "$sdist"
    "$venv/bin/python" - "$sdist" "$models" "$STELLA_MODELS_SHA256" <<'EOF'
import hashlib, io, sys, tarfile, zipfile
sdist, models, sha = sys.argv[1:]
with tarfile.open(sdist) as tar:
    payload = tar.extractfile("stella-0.1.0/final_models.zip").read()
if hashlib.sha256(payload).hexdigest() != sha:
    sys.exit("final_models.zip checksum mismatch")
with zipfile.ZipFile(io.BytesIO(payload)) as zf:
    members = [m for m in zf.namelist() if m.startswith("run01/")]
    zf.extractall(models, members)
print("stella models:", sum(m.endswith(".h5") for m in members), "x .h5 in", models + "/run01")
EOF
    MPLBACKEND=agg TF_CPP_MIN_LOG_LEVEL=2 "$venv/bin/python" -W ignore -c "
import stella, tensorflow as tf
print('stella', stella.__version__, 'tensorflow', tf.__version__)" 2>&1 | grep -v '^WARNING'
}

case "$WHAT" in
    altaipony) setup_altaipony ;;
    stella) setup_stella ;;
    all)
        setup_altaipony
        setup_stella || echo "stella: skipped (see above); AltaiPony is ready" >&2
        ;;
    *) echo "usage: $0 [altaipony|stella|all]" >&2; exit 2 ;;
esac
