# pctl capture script: records what an HPC cluster's login node offers, read-only.
#
# Sent on stdin to a login shell (`ssh HOST bash -l -s`, or `bash -l -s` locally), because `module`
# often exists only there. pctl prepends three assignments: _PB (the boundary, unique per run),
# _PT (per-section timeout, seconds), _PM (per-section output cap, bytes).
#
# Output: one delimited section per command, stdout and stderr merged (Lmod prints listings to stderr):
#   <_PB> BEGIN <name>
#   ...output...
#   <_PB> END <name> rc=<exit status> us=<microseconds> to=<1 if it timed out>
# and a final "<_PB> DONE". pctl keeps partial results when a section fails or the connection drops.
#
# Never collected: /etc/shadow, password fields, environment dumps, SSH keys, tokens. Values that look
# like secrets in /etc/fstab and `scontrol show config` are redacted here, before they leave the host.
# Everything is wrapped in functions and run with stdin from /dev/null, so no command can eat the script.

_pctl_now() {
  if [ -n "${EPOCHREALTIME:-}" ]; then _now=${EPOCHREALTIME/[.,]/}; else _now=$(( $(date +%s%N 2>/dev/null || echo 0) / 1000 )); fi
}

_pctl_have() { command -v "$1" >/dev/null 2>&1; }

# _pctl_sec NAME CODE: run shell CODE as a child `bash -c` under `timeout` (kills the whole process group);
# BASH_ENV is cleared so the child does not re-run a module system's init (Lmod exports BASH_ENV)
_pctl_sec() {
  if [ -z "$_pctl_timeout" ]; then _pctl_shsec "$@"; return; fi
  local name=$1 code=$2 rc s to=0
  printf '%s BEGIN %s %s\n' "$_PB" "$name" "$code"
  _pctl_now; s=$_now
  BASH_ENV='' "$_pctl_timeout" -k 3 "$_PT" bash --noprofile --norc -c "$code" </dev/null 2>&1 | head -c "$_PM"
  rc=${PIPESTATUS[0]}
  _pctl_now
  if [ "$rc" = 124 ] || { [ "$rc" = 137 ] && [ $(( _now - s )) -ge $(( _PT * 1000000 )) ]; }; then to=1; fi
  printf '\n%s END %s rc=%d us=%d to=%d\n' "$_PB" "$name" "$rc" $(( _now - s )) "$to"
  _pctl_last_rc=$rc
}

# _pctl_shsec NAME CODE: run CODE in a subshell of this login shell (shell functions such as `module`
# stay available), in its own process group, killed by a watchdog after _PT seconds
_pctl_shsec() {
  local name=$1 code=$2 rc s pid wd to=0
  printf '%s BEGIN %s %s\n' "$_PB" "$name" "$code"
  _pctl_now; s=$_now
  set -m
  ( ( eval "$code" ) </dev/null 2>&1 | head -c "$_PM"; exit "${PIPESTATUS[0]}" ) &
  pid=$!
  ( sleep "$_PT"; kill -TERM -- "-$pid" 2>/dev/null; sleep 3; kill -KILL -- "-$pid" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
  wd=$!
  wait "$pid" 2>/dev/null; rc=$?
  kill -- "-$wd" 2>/dev/null || kill "$wd" 2>/dev/null
  wait "$wd" 2>/dev/null
  set +m
  _pctl_now
  if [ "$rc" -gt 128 ] && [ $(( _now - s )) -ge $(( _PT * 1000000 )) ]; then to=1; fi
  printf '\n%s END %s rc=%d us=%d to=%d\n' "$_PB" "$name" "$rc" $(( _now - s )) "$to"
  _pctl_last_rc=$rc
}

_pctl_kv() { printf '%s=%s\n' "$1" "$2"; }

_pctl_meta() {
  printf '%s BEGIN meta\n' "$_PB"
  _pctl_kv script_version 1
  _pctl_kv hostname "$(hostname 2>/dev/null || uname -n)"
  _pctl_kv user "$(id -un 2>/dev/null)"
  _pctl_kv uid "$(id -u 2>/dev/null)"
  _pctl_kv date "$(date -u +%Y-%m-%dT%H:%M:%SZ 2>/dev/null)"
  _pctl_kv bash "${BASH_VERSION:-}"
  _pctl_kv shell "${SHELL:-}"
  _pctl_kv timeout "${_pctl_timeout:-}"
  local c found=""
  for c in sbatch scontrol sinfo squeue sacctmgr qsub qstat pbsnodes qconf qhost bqueues bhosts lshosts lsid \
           nvidia-smi lspci findmnt df lscpu gcc gfortran icc icx ifort ifx nvc pgcc clang aocc mpirun mpiexec \
           ompi_info mpichversion nvcc; do
    _pctl_have "$c" && found="$found $c"
  done
  _pctl_kv commands "${found# }"
  printf '\n%s END meta rc=0 us=0 to=0\n' "$_PB"
}

_pctl_modules() {
  local kind=none mtype
  mtype=$(type -t module 2>/dev/null)
  if [ -n "${LMOD_CMD:-}" ] || [ -n "${LMOD_VERSION:-}" ] || [ -n "${LMOD_DIR:-}" ]; then kind=lmod
  elif [ -n "${MODULES_CMD:-}" ] || [ -n "${MODULESHOME:-}" ] || [ -n "$mtype" ]; then kind=tcl
  fi
  _pctl_lmod_dir=${LMOD_DIR:-}
  if [ -z "$_pctl_lmod_dir" ] && [ -n "${LMOD_CMD:-}" ]; then _pctl_lmod_dir=$(dirname "$LMOD_CMD"); fi
  export _pctl_lmod_dir
  printf '%s BEGIN modules.env\n' "$_PB"
  _pctl_kv kind "$kind"
  _pctl_kv module_type "$mtype"
  _pctl_kv LMOD_VERSION "${LMOD_VERSION:-}"
  _pctl_kv LMOD_DIR "$_pctl_lmod_dir"
  _pctl_kv LMOD_CMD "${LMOD_CMD:-}"
  _pctl_kv MODULES_CMD "${MODULES_CMD:-}"
  _pctl_kv MODULESHOME "${MODULESHOME:-}"
  _pctl_kv MODULEPATH "${MODULEPATH:-}"
  _pctl_kv MODULEPATH_ROOT "${MODULEPATH_ROOT:-}"
  printf '\n%s END modules.env rc=0 us=0 to=0\n' "$_PB"
  [ "$kind" = none ] && return 0
  [ -n "$mtype" ] && _pctl_shsec modules.version 'module --version'
  if [ "$kind" = lmod ]; then
    # the whole hierarchy (Compiler/MPI levels included) in one call; defaults and the Core level from avail
    if [ -x "$_pctl_lmod_dir/spider" ] && [ -n "${MODULEPATH:-}" ]; then
      _pctl_sec modules.spider_json '"$_pctl_lmod_dir/spider" -o spider-json "$MODULEPATH"'
      _pctl_spider_rc=$_pctl_last_rc
    else
      _pctl_spider_rc=127
    fi
    if [ -n "$mtype" ]; then
      _pctl_shsec modules.avail_default 'module -t -d avail'
      if [ "$_pctl_spider_rc" != 0 ]; then
        _pctl_shsec modules.avail_terse 'module --show_hidden -t avail'
        _pctl_shsec modules.spider 'module -t spider'
      fi
    fi
  elif [ -n "$mtype" ]; then
    _pctl_shsec modules.avail_terse 'module -t avail'
    _pctl_shsec modules.avail 'module avail'
  elif [ -n "${MODULES_CMD:-}" ] && [ -x "$MODULES_CMD" ]; then   # Environment Modules 4+, no shell function
    _pctl_sec modules.avail_terse '"$MODULES_CMD" bash -t avail 2>&1 >/dev/null'
  elif [ -n "${MODULESHOME:-}" ] && [ -x "$MODULESHOME/bin/modulecmd" ]; then   # Environment Modules 3.2
    _pctl_sec modules.avail_terse '"$MODULESHOME/bin/modulecmd" bash -t avail 2>&1 >/dev/null'
  fi
  _pctl_shell_loads
}

# The names of the modules loaded at login by the site (profile.d, LMOD_SYSTEM_DEFAULT_MODULES) and by users'
# own shell start-up files, counted: "COUNT site|login|user MODULE". Only module names leave the host, never
# the files, never a user name; unreadable home directories are simply not counted.
# shellcheck disable=SC2089  # an awk program, handed to awk as one argument: its quotes are awk's
_pctl_loads_awk='{ line = $0; sub(/#.*/, "", line); n = split(line, part, /[;&|`(){}]/)
  for (i = 1; i <= n; i++) {
    m = split(part[i], t, /[ \t]+/); k = 1
    while (k <= m && (t[k] == "" || t[k] ~ /^(then|else|do|command|builtin|time)$/)) k++
    if (t[k] == "module" && (t[k+1] == "load" || t[k+1] == "add" || t[k+1] == "try-load" || t[k+1] == "try-add")) s = k + 2
    else if (t[k] == "ml" && t[k+1] == "load") s = k + 2
    else if (t[k] == "ml" && t[k+1] !~ /^(av|avail|spider|purge|list|show|help|save|restore|unload|rm|del|swap|sw|use|unuse|keyword|whatis|reset|describe|savelist|-.*)$/) s = k + 1
    else continue
    for (j = s; j <= m; j++) if (t[j] ~ /^[A-Za-z0-9][A-Za-z0-9._+\/-]*$/) print scope, t[j]
  } }'

_pctl_shell_loads() {
  # shellcheck disable=SC2090
  export _pctl_loads_awk
  _pctl_sec modules.shell_loads '{
    if [ -n "${LMOD_SYSTEM_DEFAULT_MODULES:-}" ]; then
      printf "%s\n" "$LMOD_SYSTEM_DEFAULT_MODULES" | tr ": " "\n\n" | grep -E "^[A-Za-z0-9][A-Za-z0-9._+/-]*$" | sed "s/^/login /"
    fi
    for f in /etc/profile /etc/bashrc /etc/bash.bashrc /etc/csh.cshrc /etc/csh.login /etc/profile.d/*.sh /etc/profile.d/*.csh; do
      if [ -f "$f" ] && [ -r "$f" ]; then awk -v scope=site "$_pctl_loads_awk" "$f"; fi
    done
    getent passwd | awk -F: "\$3 >= 1000 { print \$6 }" | sort -u | head -n 20000 | while IFS= read -r h; do
      for f in "$h/.bashrc" "$h/.bash_profile" "$h/.profile" "$h/.login" "$h/.cshrc" "$h/.tcshrc" "$h/.zshrc"; do
        if [ -f "$f" ] && [ -r "$f" ]; then awk -v scope=user "$_pctl_loads_awk" "$f"; fi
      done
    done
  } 2>/dev/null | sort | uniq -c | head -n 20000'
}

_pctl_users() {
  # name:uid:gid:home:shell for uid >= 1000 (the password field is never read out)
  _pctl_sec users.passwd 'getent passwd | awk -F: '\''$3 >= 1000 && $1 != "nobody" && $1 != "nfsnobody" { print $1 ":" $3 ":" $4 ":" $6 ":" $7 }'\'' | head -n 20000'
  _pctl_sec users.groups 'getent group | awk -F: '\''{ print $1 ":" $3 ":" $4 }'\'' | head -n 50000'
  _pctl_sec users.id 'getent passwd | awk -F: '\''$3 >= 1000 && $1 != "nobody" && $1 != "nfsnobody" { print $1 }'\'' | head -n 2000 | while read -r u; do printf "%s:%s\n" "$u" "$(id -G -- "$u" 2>/dev/null)"; done'
}

_pctl_storage() {
  if _pctl_have findmnt; then
    _pctl_sec storage.findmnt 'findmnt -J -l -o TARGET,SOURCE,FSTYPE,OPTIONS | sed -E '\''s/((pass(word)?|secret|token)=)[^,"[:space:]]*/\1<redacted>/Ig'\'''
  else
    _pctl_sec storage.proc_mounts 'sed -E '\''s/((pass(word)?|secret|token)=)[^,[:space:]]*/\1<redacted>/Ig'\'' /proc/mounts'
  fi
  _pctl_sec storage.df 'df -PTk 2>&1'
  [ -r /etc/fstab ] && _pctl_sec storage.fstab 'sed -E '\''s/((pass(word)?|secret|token)=)[^,[:space:]]*/\1<redacted>/Ig'\'' /etc/fstab'
}

_pctl_system() {
  _pctl_sec os.release 'cat /etc/os-release 2>/dev/null || cat /etc/redhat-release'
  _pctl_sec os.kernel 'uname -srmo'
  _pctl_have lscpu && _pctl_sec hw.cpu 'LC_ALL=C lscpu'
  _pctl_sec hw.memory 'grep -E "^(MemTotal|SwapTotal):" /proc/meminfo'
  _pctl_have nvidia-smi && _pctl_sec hw.gpu_nvidia 'nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader'
  _pctl_have lspci && _pctl_sec hw.gpu_lspci 'lspci | grep -Ei "vga|3d controller|display controller"'
  return 0
}

_pctl_scheduler() {
  if _pctl_have scontrol; then
    _pctl_sec slurm.version 'scontrol --version'
    _pctl_sec slurm.config 'scontrol show config | sed -E '\''s/^([A-Za-z]*(Pass|Password|Secret|Token|Key)[A-Za-z]*[[:space:]]*=).*/\1 <redacted>/'\'''
    _pctl_sec slurm.partitions 'scontrol -a show partition'
    _pctl_sec slurm.nodes 'scontrol -o show node'
  fi
  _pctl_have sinfo && _pctl_sec slurm.sinfo 'sinfo -a'
  if _pctl_have qstat && ! _pctl_have scontrol; then
    _pctl_sec pbs.queues 'qstat -Qf'
    _pctl_have pbsnodes && _pctl_sec pbs.nodes 'pbsnodes -a'
  fi
  if _pctl_have qconf; then
    _pctl_sec sge.queue_list 'qconf -sql'
    _pctl_sec sge.queues 'for q in $(qconf -sql | head -n 200); do qconf -sq "$q"; echo; done'
    _pctl_sec sge.hostgroups 'for g in $(qconf -shgrpl 2>/dev/null | head -n 200); do qconf -shgrp "$g"; echo; done'
    _pctl_have qhost && _pctl_sec sge.qhost 'qhost'
  fi
  if _pctl_have bqueues; then
    _pctl_sec lsf.queues 'bqueues -l'
    _pctl_have bhosts && _pctl_sec lsf.bhosts 'bhosts -w'
    _pctl_have lshosts && _pctl_sec lsf.lshosts 'lshosts -w'
  fi
  return 0
}

_pctl_software() {
  local c
  for c in gcc gfortran icc icx ifort ifx nvc pgcc clang aocc; do
    _pctl_have "$c" && _pctl_sec "compiler.$c" "$c --version"
  done
  _pctl_have mpirun && _pctl_sec mpi.mpirun 'mpirun --version'
  _pctl_have ompi_info && _pctl_sec mpi.ompi_info 'ompi_info --version'
  _pctl_have mpichversion && _pctl_sec mpi.mpichversion 'mpichversion'
  _pctl_have nvcc && _pctl_sec cuda.nvcc 'nvcc --version'
  return 0
}

_pctl_main() {
  export LC_ALL=C LANG=C _PT _PM
  _pctl_timeout=""
  # coreutils timeout (kills the command's whole process group); BusyBox's lacks -k: use the watchdog then
  if _pctl_have timeout && timeout -k 1 5 true </dev/null >/dev/null 2>&1; then _pctl_timeout=$(command -v timeout); fi
  _pctl_last_rc=0
  _pctl_meta
  _pctl_system
  _pctl_modules
  _pctl_users
  _pctl_storage
  _pctl_scheduler
  _pctl_software
  printf '%s DONE\n' "$_PB"
}
_pctl_main </dev/null 2>/dev/null
exit 0
