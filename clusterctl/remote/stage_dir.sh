# The directory packages are staged in, made writable by the login user who receives them.
#
#   bash -s -- DIR USER      (as root) DIR exists and belongs to USER
#
# The bytes arrive as the login user (node to node, over that user's SSH trust, in a pipeline);
# what is installed from them is installed as root.
set -eu

main() {
    mkdir -p -- "$1"
    chown -- "$2" "$1"
}

main "$@"
