#!/usr/bin/env bash
# Bring up (or stop) a single-node SLURM cluster with fake GPUs on this machine, for the tests
# that submit a campaign through `snakemake --profile profiles/slurm`.
#
# Needs root and Debian's package archive; no init system: daemons are started by hand and
# tracked by PID files. Idempotent: installs only missing packages, rewrites configs only when
# they change (then restarts the daemons), leaves running daemons alone.
#
#   bash tests/cluster/local_slurm.sh start|stop|status
#   SLURM_FAKE_GPUS (default 2), SLURM_NODE_CPUS (default: detected), SLURM_PARTITION (default debug)
set -euo pipefail

action=${1:-start}
gpus=${SLURM_FAKE_GPUS:-2}
partition=${SLURM_PARTITION:-debug}
etc=/etc/slurm
run=/run/slurm
logs=/var/log/slurm
gpu_dir=/var/lib/slurm-fakegpu
ctld_pid=$run/slurmctld.pid
slurmd_pid=$run/slurmd.pid
munge_pid=/run/munge/munged.pid

say() { echo "[local_slurm] $*" >&2; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_until() { # wait_until SECONDS WHAT CMD...
  local limit=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= limit)); then
      say "timed out waiting for $what"
      return 1
    fi
    sleep 0.25
  done
}

# Daemons get stdio on /dev/null and no inherited descriptors, so none keeps a caller's pipe open.
detach() {
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    exec "$@"
  ) </dev/null >/dev/null 2>&1
}

stop_daemon() { # stop_daemon PIDFILE
  if alive "$1"; then
    local pid
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

install_packages() {
  local wanted=(slurmctld slurmd slurm-client munge) missing=() p
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  say "installing ${missing[*]}"
  local policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then # package scripts must not try to start services
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((policy_added)); then rm -f /usr/sbin/policy-rc.d; fi
}

replace_if_changed() { # replace_if_changed FILE (content on stdin); status 0 when it changed
  local tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
    return 1
  fi
  install -m 644 "$tmp" "$1"
  rm -f "$tmp"
}

start() {
  [ "$(id -u)" = 0 ] || { say "needs root"; exit 1; }
  install_packages
  install -d "$etc" "$run" "$logs" /var/spool/slurmctld /var/spool/slurmd
  local detected cpus mem changed=0 gres_types="" node_gres=""
  detected=$(slurmd -C)
  cpus=${SLURM_NODE_CPUS:-$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$detected" | head -1)}
  mem=$(($(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$detected" | head -1) * 9 / 10))
  if ((gpus > 0)); then
    # gres/gpu entries must be character devices: /dev/null clones stand in for GPUs.
    install -d "$gpu_dir"
    for ((i = 0; i < gpus; i++)); do
      [ -c "$gpu_dir/gpu$i" ] || { rm -f "$gpu_dir/gpu$i"; mknod "$gpu_dir/gpu$i" c 1 3; }
    done
    gres_types="GresTypes=gpu"
    node_gres="Gres=gpu:$gpus"
    replace_if_changed "$etc/gres.conf" <<EOF_GRES && changed=1
AutoDetect=off
NodeName=localhost Name=gpu File=$gpu_dir/gpu[0-$((gpus - 1))]
EOF_GRES
  else
    rm -f "$etc/gres.conf"
  fi
  replace_if_changed "$etc/slurm.conf" <<EOF_CONF && changed=1
# written by tests/cluster/local_slurm.sh
ClusterName=flcampaign-test
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldPidFile=$ctld_pid
SlurmdPidFile=$slurmd_pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
MinJobAge=300
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
$gres_types
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem $node_gres State=UNKNOWN
PartitionName=$partition Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF_CONF
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key --force
    chown munge:munge /etc/munge/munge.key
    chmod 600 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 755 /run/munge
  alive "$munge_pid" || detach runuser -u munge -- /usr/sbin/munged
  wait_until 20 munged bash -c 'munge -n | unmunge'
  if ((changed)); then
    stop_daemon "$slurmd_pid"
    stop_daemon "$ctld_pid"
  fi
  alive "$ctld_pid" || detach slurmctld
  wait_until 30 slurmctld scontrol ping
  alive "$slurmd_pid" || detach slurmd -N localhost
  local limit=$((SECONDS + 60)) state=""
  while :; do
    state=$(sinfo -h -n localhost -o %T 2>/dev/null | head -1)
    case "$state" in
      idle* | mixed* | allocated* | completing*) break ;;
      drain* | down* | inval* | fail*) scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
    esac
    if ((SECONDS >= limit)); then
      say "node not ready (state '$state')"
      tail -n 20 "$logs/slurmctld.log" "$logs/slurmd.log" >&2 || true
      exit 1
    fi
    sleep 0.25
  done
  say "ready: localhost $state, $cpus CPUs, ${mem} MB, $gpus fake GPUs, partition $partition"
}

stop() {
  stop_daemon "$slurmd_pid"
  stop_daemon "$ctld_pid"
  stop_daemon "$munge_pid"
}

status() {
  for pidfile in "$munge_pid" "$ctld_pid" "$slurmd_pid"; do
    if alive "$pidfile"; then echo "running $(basename "$pidfile" .pid)"; else echo "stopped $(basename "$pidfile" .pid)"; fi
  done
  if command -v sinfo >/dev/null; then sinfo 2>/dev/null || true; fi
}

case "$action" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
