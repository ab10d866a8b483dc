#!/usr/bin/env bash
# Hosts on one machine for multi-node tests: each host a network namespace
# with its own hostname (UTS namespace) and a private /etc/hosts (mount
# namespace), all plugged into one bridge (a "switch" namespace of its own),
# so nothing on the machine itself changes.
#
#   netns.sh up DIR [NAME...]   create the hosts (default: two, gs-a-TAG and
#                               gs-b-TAG); writes into DIR:
#                                 env        TH_* variables (source it)
#                                 hosts      the private hosts file all hosts see
#                                 run-on.sh  run-on.sh HOST CMD...  runs CMD on HOST
#                                 agent.sh   rsh agent for Open MPI (plm_rsh_agent)
#   netns.sh down DIR           kill what still runs in the namespaces, delete
#                               them; fails if one is left
#   netns.sh check DIR          every host reaches every other one (names the
#                               pair and the error otherwise)
#   netns.sh unplug DIR HOST    pull HOST's cable: its switch port goes down, so
#                               from the other hosts its packets just stop (no
#                               connection reset, as after a power failure)
#   netns.sh plug DIR HOST      put the cable back (the switch port up)
#   netns.sh kill DIR HOST      SIGKILL every process in HOST's namespace
#
# Host i (0-based) has address 198.18.0.<i+1>/24 (RFC 2544 benchmarking
# range), only on its end of a veth pair inside the namespaces this script
# creates. Namespaces are gs-sw-TAG (the switch) and gs-h<i>-TAG (the
# hosts), TAG=${TH_TAG:-$$}, so concurrent runs do not collide.
# Exit 77 (skip) when not root or when network namespaces are unavailable.
set -u
SKIP=77
cmd=${1:-}
DIR=${2:-}
[[ -n $DIR ]] || { echo "usage: $0 up|down|check|unplug|plug|kill DIR [...]" >&2; exit 2; }
DIR=${DIR%/}
say() { echo "netns.sh: $*" >&2; }

load_env() {
  [[ -f $DIR/env ]] || { say "no hosts in $DIR (run: $0 up $DIR)"; return 1; }
  # shellcheck disable=SC1091
  . "$DIR/env"
}

# ns_of HOST: the namespace of a host given by name or address (sets NS, IP).
ns_of() {
  local i n ip
  for ((i = 0; i < TH_N; i++)); do
    n=TH_H$i ip=TH_IP$i
    if [[ $1 == "${!n}" || $1 == "${!ip}" ]]; then
      n=TH_NS$i NS=${!n} IP=${!ip}
      return 0
    fi
  done
  say "unknown host '$1' in $DIR"
  return 1
}

# Every process in namespace $1: TERM, half a second, then KILL.
kill_ns() {
  local pids
  pids=$(ip netns pids "$1" 2>/dev/null)
  [[ -n $pids ]] || return 0
  kill -"${2:-TERM}" $pids 2>/dev/null
  [[ ${2:-TERM} == KILL ]] && return 0
  sleep 0.5
  pids=$(ip netns pids "$1" 2>/dev/null)
  [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
  return 0
}

do_down() {
  [[ -f $DIR/env ]] || return 0
  load_env || return 1
  local i n ns left=()
  for ((i = 0; i < TH_N; i++)); do
    n=TH_NS$i ns=${!n}
    ip netns list 2>/dev/null | grep -qw -- "$ns" || continue
    kill_ns "$ns"
    ip netns del "$ns" || say "could not delete namespace $ns"
  done
  if ip netns list 2>/dev/null | grep -qw -- "$TH_SW"; then
    ip netns del "$TH_SW" || say "could not delete namespace $TH_SW"
  fi
  for ns in "$TH_SW" $(for ((i = 0; i < TH_N; i++)); do n=TH_NS$i; echo "${!n}"; done); do
    ip netns list 2>/dev/null | grep -qw -- "$ns" && left+=("$ns")
  done
  if ((${#left[@]})); then
    say "namespaces left after down: ${left[*]}"
    return 1
  fi
  rm -f "$DIR/env"
}

# probe NS IP: can a process in NS open a TCP connection to IP? Nothing
# listens on port 1, so "Connection refused" proves the route both ways;
# "Network is unreachable" or a timeout does not.
probe() {
  local out
  out=$(ip netns exec "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/1" 2>&1)
  case $? in
    0) return 0 ;;
    124) PROBE_ERR="no answer in 3 s" ;;
    *) [[ $out == *"Connection refused"* ]] && return 0
       PROBE_ERR=$(tr '\n' ' ' <<<"$out" | sed 's/.*: //; s/ *$//') ;;
  esac
  return 1
}

do_check() {
  load_env || return 1
  local i j a b ia ib bad=0
  for ((i = 0; i < TH_N; i++)); do
    for ((j = 0; j < TH_N; j++)); do
      ((i == j)) && continue
      a=TH_NS$i ia=TH_H$i b=TH_IP$j ib=TH_H$j
      if ! probe "${!a}" "${!b}"; then
        say "host ${!ia} cannot reach ${!ib} (${!b}): $PROBE_ERR"
        bad=1
      fi
    done
  done
  return $bad
}

do_up() {
  if [[ $(id -u) != 0 ]]; then say "SKIP: needs root for network namespaces"; exit $SKIP; fi
  local t
  for t in ip nsenter unshare mount; do
    command -v $t >/dev/null || { say "SKIP: $t not installed (iproute2, util-linux)"; exit $SKIP; }
  done
  mkdir -p "$DIR" && chmod 755 "$DIR"
  local tag=${TH_TAG:-$$}
  local names=("$@")
  ((${#names[@]})) || names=("gs-a-$tag" "gs-b-$tag")
  ((${#names[@]} >= 2 && ${#names[@]} <= 250)) || { say "need 2 to 250 hosts, not ${#names[@]}"; exit 2; }
  local sw=gs-sw-$tag i
  if ! ip netns add "$sw" 2>"$DIR/err"; then
    say "SKIP: ip netns add failed: $(cat "$DIR/err")"; exit $SKIP
  fi
  {
    echo "TH_DIR=$DIR"
    echo "TH_N=${#names[@]}"
    echo "TH_SW=$sw"
    for ((i = 0; i < ${#names[@]}; i++)); do
      echo "TH_NS$i=gs-h$i-$tag"
      echo "TH_H$i=${names[i]}"
      echo "TH_IP$i=198.18.0.$((i + 1))"
    done
    echo "TH_NET=198.18.0.0/24"
    echo "TH_AGENT=$DIR/agent.sh"
    echo "TH_RUN=$DIR/run-on.sh"
  } >"$DIR/env"
  # The switch: a bridge; host i's cable is the veth pair eth0 (in the host)
  # <-> p<i> (a bridge port in the switch).
  local ok=1 ns
  ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up &&
    ip -n "$sw" link set lo up || ok=0
  for ((i = 0; ok && i < ${#names[@]}; i++)); do
    ns=gs-h$i-$tag
    { ip netns add "$ns" &&
      ip -n "$sw" link add "p$i" type veth peer name eth0 netns "$ns" &&
      ip -n "$sw" link set "p$i" master br0 && ip -n "$sw" link set "p$i" up &&
      ip -n "$ns" addr add "198.18.0.$((i + 1))/24" dev eth0 &&
      ip -n "$ns" link set lo up && ip -n "$ns" link set eth0 up; } || ok=0
  done
  if ((!ok)); then
    say "could not build the namespaces"
    do_down
    exit 1
  fi
  {
    echo "127.0.0.1 localhost"
    for ((i = 0; i < ${#names[@]}; i++)); do echo "198.18.0.$((i + 1)) ${names[i]}"; done
  } >"$DIR/hosts"
  # run-on.sh HOST CMD...: CMD in HOST's network namespace, with HOST's name
  # and the private hosts file (bind-mounted in a mount namespace of its own).
  # nsenter, not `ip netns exec`: that one mounts a fresh /sys without
  # /sys/fs/cgroup, and slurmd refuses to start without it.
  {
    echo '#!/bin/sh'
    echo 'case "$1" in'
    for ((i = 0; i < ${#names[@]}; i++)); do
      echo "  ${names[i]}|198.18.0.$((i + 1))) ns=gs-h$i-$tag; name=${names[i]} ;;"
    done
    echo "  *) echo \"run-on.sh: unknown host '\$1' (known: ${names[*]})\" >&2; exit 255 ;;"
    echo 'esac'
    echo 'shift'
    echo 'exec nsenter --net="/run/netns/$ns" unshare --uts --mount sh -c \'
    echo "  'mount --bind \"\$0\" /etc/hosts && hostname \"\$1\" && shift && exec \"\$@\"' \\"
    echo "  \"$DIR/hosts\" \"\$name\" \"\$@\""
  } >"$DIR/run-on.sh"
  # agent.sh HOST WORDS...: what Open MPI's rsh launcher calls instead of ssh;
  # like ssh, it joins the words into one shell command line.
  cat >"$DIR/agent.sh" <<EOA
#!/bin/sh
host=\$1
shift
exec "$DIR/run-on.sh" "\$host" sh -c "\$*"
EOA
  chmod 755 "$DIR/run-on.sh" "$DIR/agent.sh"
  # Every host must see every other (bash's /dev/tcp: ping may be absent).
  TH_N=${#names[@]}
  load_env
  if ! do_check; then
    do_down
    exit 1
  fi
  return 0
}

case $cmd in
  up) shift 2; do_up "$@" ;;
  down) do_down ;;
  check) do_check ;;
  unplug|plug)
    load_env && ns_of "${3:-}" || exit 1
    i=${NS#gs-h}; i=${i%%-*}
    updown=down; [[ $cmd == plug ]] && updown=up
    ip -n "$TH_SW" link set "p$i" $updown || { say "could not set the switch port of ${3} $updown"; exit 1; } ;;
  kill)
    load_env && ns_of "${3:-}" || exit 1
    kill_ns "$NS" KILL ;;
  *) echo "usage: $0 up|down|check|unplug|plug|kill DIR [...]" >&2; exit 2 ;;
esac
