#!/usr/bin/env bash
# Two "hosts" on one machine for multi-node MPI tests: two network namespaces
# joined by a veth pair, each run with its own hostname (UTS namespace) and a
# private /etc/hosts (mount namespace), so nothing on the machine changes.
#
#   netns.sh up DIR     create the hosts; writes into DIR:
#                         env        TH_* variables (source it)
#                         hosts      the private hosts file both hosts see
#                         run-on.sh  run-on.sh HOST CMD...  runs CMD on HOST
#                         agent.sh   rsh agent for Open MPI (plm_rsh_agent)
#   netns.sh down DIR   kill what still runs in the namespaces, delete them
#
# Addresses: 198.18.0.1 and 198.18.0.2 (RFC 2544 benchmarking range), only on
# the veth ends inside the two namespaces this script creates. Namespace and
# host names carry a per-run suffix, so concurrent runs do not collide.
# Exit 77 (skip) when not root or when network namespaces are unavailable.
set -u
SKIP=77
cmd=${1:-}
DIR=${2:-}
[[ -n $DIR ]] || { echo "usage: $0 up|down DIR" >&2; exit 2; }
say() { echo "netns.sh: $*" >&2; }

do_down() {
  [[ -f $DIR/env ]] || return 0
  # shellcheck disable=SC1091
  . "$DIR/env"
  local ns pids
  for ns in "$TH_NS0" "$TH_NS1"; do
    ip netns list 2>/dev/null | grep -qw -- "$ns" || continue
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [[ -n $pids ]]; then
      kill -TERM $pids 2>/dev/null
      sleep 0.5
      pids=$(ip netns pids "$ns" 2>/dev/null)
      [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
    fi
    ip netns del "$ns" || say "could not delete namespace $ns"
  done
  rm -f "$DIR/env"
  ! ip netns list 2>/dev/null | grep -qwE -- "$TH_NS0|$TH_NS1"
}

do_up() {
  if [[ $(id -u) != 0 ]]; then say "SKIP: needs root for network namespaces"; exit $SKIP; fi
  local t
  for t in ip unshare mount; do
    command -v $t >/dev/null || { say "SKIP: $t not installed (iproute2, util-linux)"; exit $SKIP; }
  done
  mkdir -p "$DIR" && chmod 755 "$DIR"
  local tag=${TH_TAG:-$$}
  local ns0=gs-h0-$tag ns1=gs-h1-$tag h0=gs-a-$tag h1=gs-b-$tag
  if ! ip netns add "$ns0" 2>"$DIR/err"; then
    say "SKIP: ip netns add failed: $(cat "$DIR/err")"; exit $SKIP
  fi
  cat >"$DIR/env" <<EOV
TH_DIR=$DIR
TH_NS0=$ns0
TH_NS1=$ns1
TH_H0=$h0
TH_H1=$h1
TH_IP0=198.18.0.1
TH_IP1=198.18.0.2
TH_NET=198.18.0.0/24
TH_AGENT=$DIR/agent.sh
TH_RUN=$DIR/run-on.sh
EOV
  if ! { ip netns add "$ns1" &&
         ip -n "$ns0" link add veth0 type veth peer name veth1 netns "$ns1" &&
         ip -n "$ns0" addr add 198.18.0.1/24 dev veth0 &&
         ip -n "$ns1" addr add 198.18.0.2/24 dev veth1 &&
         ip -n "$ns0" link set lo up && ip -n "$ns1" link set lo up &&
         ip -n "$ns0" link set veth0 up && ip -n "$ns1" link set veth1 up; }; then
    say "could not build the namespaces"
    do_down
    exit 1
  fi
  cat >"$DIR/hosts" <<EOH
127.0.0.1 localhost
198.18.0.1 $h0
198.18.0.2 $h1
EOH
  # run-on.sh HOST CMD...: CMD in HOST's network namespace, with HOST's name
  # and the private hosts file (bind-mounted in a mount namespace of its own).
  cat >"$DIR/run-on.sh" <<EOR
#!/bin/sh
case "\$1" in
  $h0|198.18.0.1) ns=$ns0; name=$h0 ;;
  $h1|198.18.0.2) ns=$ns1; name=$h1 ;;
  *) echo "run-on.sh: unknown host '\$1' (known: $h0 $h1)" >&2; exit 255 ;;
esac
shift
exec ip netns exec "\$ns" unshare --uts --mount sh -c \
  'mount --bind "\$0" /etc/hosts && hostname "\$1" && shift && exec "\$@"' \
  "$DIR/hosts" "\$name" "\$@"
EOR
  # agent.sh HOST WORDS...: what Open MPI's rsh launcher calls instead of ssh;
  # like ssh, it joins the words into one shell command line.
  cat >"$DIR/agent.sh" <<EOA
#!/bin/sh
host=\$1
shift
exec "$DIR/run-on.sh" "\$host" sh -c "\$*"
EOA
  chmod 755 "$DIR/run-on.sh" "$DIR/agent.sh"
  # Both ends must see each other (bash's /dev/tcp: ping may be absent).
  local ok=0
  ip netns exec "$ns1" timeout 5 bash -c 'exec 3<>/dev/tcp/198.18.0.1/1' 2>/dev/null; ok=$?
  # Connection refused (1) proves the route; a timeout (124) does not.
  if [[ $ok == 124 ]]; then say "198.18.0.1 unreachable from $ns1"; do_down; exit 1; fi
  return 0
}

case $cmd in
  up) do_up ;;
  down) do_down ;;
  *) echo "usage: $0 up|down DIR" >&2; exit 2 ;;
esac
