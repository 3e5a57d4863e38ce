#!/bin/sh
# xinetd's built-in RFC 862 echo service (`echo-stream`, type INTERNAL) on loopback port $1.
# xinetd stays in the foreground (-dontfork) as this script's child; its configuration and log live
# in a temporary directory that the script removes when it is ended.
set -eu
port="$1"
dir="$(mktemp -d "${TMPDIR:-/tmp}/echo-conform-xinetd.XXXXXX")"
cat > "$dir/xinetd.conf" <<CONF
service echo
{
    type        = INTERNAL UNLISTED
    id          = echo-stream
    socket_type = stream
    protocol    = tcp
    wait        = no
    user        = root
    bind        = 127.0.0.1
    port        = $port
}
CONF
xinetd -dontfork -stayalive -filelog /dev/stderr -f "$dir/xinetd.conf" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"; exit 0' TERM INT
trap 'rm -rf "$dir"' EXIT
echo "xinetd (pid $pid) serving echo-stream on 127.0.0.1:$port"
wait "$pid"
