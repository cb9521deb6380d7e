#!/bin/sh
# stop.sh DIR: see server.sh
exec "$(dirname "$0")/server.sh" stop "$@"
