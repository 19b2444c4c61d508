# Source this after scripts/setup.sh: puts `amphora` and `amphora-export` on PATH.
#   source scripts/env.sh
_amphora_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export AMPHORA_ROOT="$_amphora_root"
export PATH="$_amphora_root/scripts/bin:$_amphora_root/build:$PATH"
unset _amphora_root
