#!/bin/sh
# start.sh DIR [emulator options...]: see server.sh
exec "$(dirname "$0")/server.sh" start "$@"
