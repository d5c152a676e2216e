#!/bin/sh
# Entry point of the container (and usable by any service manager):
#   entrypoint.sh [serve [OPTIONS]]   build the index when it is missing or unusable, then serve
#   entrypoint.sh COMMAND [ARGS]      any other reportbot command, e.g. `index status`
# `exec` hands the process over to reportbot, so SIGTERM reaches the bot, which finishes the
# answers in flight and exits.
set -eu

if [ "$#" -eq 0 ]; then
    set -- serve
fi

if [ "$1" = "serve" ]; then
    if ! reportbot health >/dev/null 2>&1; then
        echo "entrypoint: no usable index yet: running \`reportbot index build\`" >&2
        # A failed build is not fatal: the bot then answers that the index is unavailable
        # (and the healthcheck says unhealthy) until reports are there and it is rebuilt.
        reportbot index build || echo "entrypoint: index build failed (see above)" >&2
    fi
fi

exec reportbot "$@"
