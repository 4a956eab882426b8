#!/usr/bin/env bash
# Side-by-side throughput of RabbitMQ, Warren under Deno and Warren under Bun, measured with
# bench/amqp_bench.ts (`deno task bench`).
#
#   bench/run_side_by_side.sh
#
# 1. starts RabbitMQ on 127.0.0.1:5682 with /work/shared/tools/rabbitmq-up.sh if nothing listens there
# 2. starts Warren: `deno run -A server/main.ts --port 5673 --host 127.0.0.1` and
#    `bun run server/main.ts --port 5674 --host 127.0.0.1` in the background, waits for each port
# 3. runs `deno task bench -- --json ...` against each, interleaved (rabbitmq, warren-deno,
#    warren-bun) ROUNDS times, appending JSON lines to the results file
# 4. prints the median msg/s per broker, scenario and body size
# 5. stops what it started (Warren processes by their process group; RabbitMQ only if it started it)
#
# Environment (all optional):
#   BENCH_SECONDS (5)  BENCH_WARMUP (1)  ROUNDS (3)
#   BENCH_ARGS         extra amqp_bench flags, e.g. "--sizes 16 --scenarios pubsub"
#   RESULTS            JSON-lines file to append to (default /tmp/warren-side-by-side-<UTC>/results.jsonl);
#                      RESULTS minus .jsonl plus .runs.tsv gets one line per bench invocation with the
#                      broker's and the host's CPU% over it (coarse: set-up and drains included)
#   BROKERS            subset/order, default "rabbitmq warren-deno warren-bun"
#   RABBIT_PORT (5682) DENO_PORT (5673) BUN_PORT (5674)
#   RABBITMQ_UP        path of rabbitmq-up.sh (default /work/shared/tools/rabbitmq-up.sh)
#   WARREN_ARGS        extra Warren flags; default keeps its data dir and logs out of the repo:
#                      "--data-dir WORKDIR/data-NAME --log-level warn"
#   START_TIMEOUT (60) seconds to wait for a broker's port
#
# Everything talks to 127.0.0.1 only. Each bench invocation is bounded by `timeout`; the whole
# script by MAX_TOTAL seconds (default: computed from the settings). Exit status: 0 if every
# bench run of every broker that started succeeded, 1 otherwise.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo" || exit 2

secs=${BENCH_SECONDS:-5}
warm=${BENCH_WARMUP:-1}
rounds=${ROUNDS:-3}
rabbit_port=${RABBIT_PORT:-5682}
deno_port=${DENO_PORT:-5673}
bun_port=${BUN_PORT:-5674}
rabbit_up=${RABBITMQ_UP:-/work/shared/tools/rabbitmq-up.sh}
start_timeout=${START_TIMEOUT:-60}
brokers=${BROKERS:-rabbitmq warren-deno warren-bun}
read -r -a bench_extra <<< "${BENCH_ARGS:-}"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
workdir=${WORKDIR:-/tmp/warren-side-by-side-$stamp}
mkdir -p "$workdir"
results=${RESULTS:-$workdir/results.jsonl}
mkdir -p "$(dirname "$results")"
: >> "$results"

say() { printf '[side-by-side %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- bookkeeping of what we started -------------------------------------------------------------
declare -A pid_of=()   # broker -> pid (= process group id, started with setsid)
declare -A url_of=()
declare -A skip=()     # broker -> reason it is not benchmarked
started_rabbit=0
cleaned=0

cleanup() {
  [ "$cleaned" = 1 ] && return
  cleaned=1
  for b in "${!pid_of[@]}"; do
    local p=${pid_of[$b]}
    if kill -0 "$p" 2>/dev/null; then
      say "stopping $b (pid $p)"
      kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$p" 2>/dev/null && { kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; }
    fi
  done
  if [ "$started_rabbit" = 1 ]; then
    say "stopping the RabbitMQ this script started"
    timeout 60 bash "$rabbit_up" stop "$rabbit_port" >&2 || true
  fi
}
trap cleanup EXIT
trap 'say "interrupted"; cleanup; exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait until PORT accepts connections, while PID (if given) is alive; bounded by start_timeout
wait_port() {
  local port=$1 pid=${2:-} log=${3:-} i
  for i in $(seq 1 $((start_timeout * 5))); do
    if port_open "$port"; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      say "process $pid exited before port $port opened${log:+; last lines of $log:}"
      [ -n "$log" ] && tail -n 5 "$log" >&2
      return 1
    fi
    sleep 0.2
  done
  say "port $port did not open within ${start_timeout}s"
  return 1
}

# ---- 1. RabbitMQ ---------------------------------------------------------------------------------
want() { [[ " $brokers " == *" $1 "* ]]; }

if want rabbitmq; then
  url_of[rabbitmq]="amqp://guest:guest@127.0.0.1:$rabbit_port/"
  if port_open "$rabbit_port"; then
    say "RabbitMQ already listening on $rabbit_port (left running afterwards)"
  elif [ -f "$rabbit_up" ]; then
    say "starting RabbitMQ on $rabbit_port"
    if timeout 180 bash "$rabbit_up" "$rabbit_port" >&2; then
      started_rabbit=1
      wait_port "$rabbit_port" || skip[rabbitmq]="port $rabbit_port not open"
    else
      skip[rabbitmq]="rabbitmq-up.sh failed"
    fi
  else
    skip[rabbitmq]="nothing on $rabbit_port and no $rabbit_up"
  fi
fi

# ---- 2. Warren under Deno and Bun ----------------------------------------------------------------
start_warren() {
  local name=$1 port=$2
  shift 2
  local log=$workdir/$name.log
  url_of[$name]="amqp://guest:guest@127.0.0.1:$port/"
  if port_open "$port"; then
    skip[$name]="port $port is already in use by another process"
    say "not starting $name: ${skip[$name]}"
    return
  fi
  local extra
  if [ -n "${WARREN_ARGS+x}" ]; then extra=$WARREN_ARGS; else
    extra="--data-dir $workdir/data-$name --log-level warn"
  fi
  local -a extra_a
  read -r -a extra_a <<< "$extra"
  say "starting $name: $* --port $port --host 127.0.0.1 ${extra}"
  setsid "$@" --port "$port" --host 127.0.0.1 "${extra_a[@]}" > "$log" 2>&1 < /dev/null &
  pid_of[$name]=$!
}

if want warren-deno; then
  if command -v deno > /dev/null; then start_warren warren-deno "$deno_port" deno run -A server/main.ts
  else skip[warren-deno]="deno not installed"; fi
fi
if want warren-bun; then
  if command -v bun > /dev/null; then start_warren warren-bun "$bun_port" bun run server/main.ts
  else skip[warren-bun]="bun not installed"; fi
fi
for b in warren-deno warren-bun; do
  [ -n "${pid_of[$b]:-}" ] || continue
  port=${url_of[$b]##*:}; port=${port%/}
  if wait_port "$port" "${pid_of[$b]}" "$workdir/$b.log"; then
    line=$(grep -m1 "Warren listening on" "$workdir/$b.log" 2>/dev/null || true)
    say "$b ready (pid ${pid_of[$b]})${line:+: $line}"
  else
    skip[$b]="did not start (log: $workdir/$b.log)"
  fi
done

# ---- 3. interleaved bench runs -------------------------------------------------------------------
# variants per invocation: sizes x scenarios (2 x 2 by default); each costs warm-up + window +
# setup/drain/cleanup, bounded generously by the bench's own timeouts
variants=4
per_run=$(( variants * (${secs%.*} + ${warm%.*} + 60) + 60 ))
max_total=${MAX_TOTAL:-$(( rounds * 3 * per_run + 300 ))}
deadline=$(( $(date +%s) + max_total ))
say "results: $results  (rounds=$rounds, window=${secs}s, warm-up=${warm}s; each bench run capped at ${per_run}s)"

# coarse CPU figures per bench invocation (whole invocation: set-up, warm-ups and drains included),
# from /proc: the broker's CPU% of one core, and the host's busy CPU% (200 = both cores busy)
runs_tsv=${results%.jsonl}.runs.tsv
[ -s "$runs_tsv" ] || printf 'label\trun\twall_s\tbench_rc\tbroker_cpu_pct\thost_cpu_pct\n' > "$runs_tsv"
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
proc_ticks() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" | awk '{print $12+$13}'; }
host_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat 2>/dev/null; }
broker_pid() {
  case $1 in
    rabbitmq) cat "/tmp/rabbitmq-$rabbit_port/pid" 2>/dev/null ;;
    *) echo "${pid_of[$1]:-}" ;;
  esac
}
pct() { # ticks_before ticks_after seconds
  [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" -v s="$3" -v hz="$hz" \
    'BEGIN { if (s > 0) printf "%.0f", (b - a) / hz / s * 100; else printf "-" }' || printf -- "-"
}

rc=0
for round in $(seq 1 "$rounds"); do
  for b in $brokers; do
    if [ -n "${skip[$b]:-}" ]; then
      [ "$round" = 1 ] && say "skipping $b: ${skip[$b]}"
      continue
    fi
    if [ -n "${pid_of[$b]:-}" ] && ! kill -0 "${pid_of[$b]}" 2>/dev/null; then
      skip[$b]="process exited during the runs (log: $workdir/$b.log)"
      say "skipping $b from now on: ${skip[$b]}"
      rc=1
      continue
    fi
    left=$(( deadline - $(date +%s) ))
    if [ "$left" -le 60 ]; then say "overall time budget used up; stopping"; rc=1; break 2; fi
    cap=$(( per_run < left ? per_run : left ))
    say "round $round/$rounds: $b (${url_of[$b]##*@})"
    bp=$(broker_pid "$b")
    t0=$(date +%s.%N) b0=$(proc_ticks "$bp") h0=$(host_ticks)
    timeout -k 10 "$cap" deno task bench -- --url "${url_of[$b]}" --seconds "$secs" --warmup "$warm" \
      --json --label "$b" --run "$round" "${bench_extra[@]}" >> "$results"
    brc=$?
    t1=$(date +%s.%N) b1=$(proc_ticks "$bp") h1=$(host_ticks)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$round" "$wall" "$brc" "$(pct "$b0" "$b1" "$wall")" \
      "$(pct "$h0" "$h1" "$wall")" >> "$runs_tsv"
    if [ "$brc" != 0 ]; then
      say "bench against $b exited with status $brc"
      rc=1
    fi
  done
done

# ---- 4. median table -----------------------------------------------------------------------------
say "summary of $results"
deno eval --no-lock '
const file = Deno.args[0];
const order = Deno.args[1].split(" ").filter(Boolean);
const rows = new Map();
for (const line of Deno.readTextFileSync(file).split("\n")) {
  let r;
  try { r = JSON.parse(line); } catch { continue; }
  if (r?.tool !== "warren-amqp-bench") continue;
  const key = `${r.scenario}\t${r.size}`;
  if (!rows.has(key)) rows.set(key, new Map());
  const byLabel = rows.get(key);
  const label = r.label ?? "?";
  if (!byLabel.has(label)) byLabel.set(label, { ok: [], failed: 0 });
  const e = byLabel.get(label);
  if (r.valid) e.ok.push(r.msg_per_s); else e.failed++;
}
const median = (a) => {
  if (a.length === 0) return undefined;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const labels = [...new Set([...order, ...[...rows.values()].flatMap((m) => [...m.keys()])])]
  .filter((l) => [...rows.values()].some((m) => m.has(l)));
const fmt = (n) => n === undefined ? "-" : Math.round(n).toLocaleString("en-US");
const head = ["scenario", "size", ...labels.map((l) => `${l} msg/s`), ...labels.slice(1).map((l) => `${l}/${labels[0]}`)];
const out = [];
for (const [key, byLabel] of [...rows.entries()].sort()) {
  const [scen, size] = key.split("\t");
  const med = labels.map((l) => median(byLabel.get(l)?.ok ?? []));
  const cell = (l, i) => {
    const e = byLabel.get(l);
    if (!e) return "-";
    let s = fmt(med[i]);
    const n = e.ok.length;
    s += ` (n=${n}${e.failed ? `, ${e.failed} failed` : ""}${n > 1 ? `, ${fmt(Math.min(...e.ok))}-${fmt(Math.max(...e.ok))}` : ""})`;
    return s;
  };
  out.push([
    scen === "publish" ? "publish-only" : "pub+consume (ack)",
    Number(size) >= 1024 ? `${Number(size) / 1024} KiB` : `${size} B`,
    ...labels.map(cell),
    ...labels.slice(1).map((_, j) => med[0] && med[j + 1] !== undefined ? (med[j + 1] / med[0]).toFixed(2) : "-"),
  ]);
}
const w = head.map((h, i) => Math.max(h.length, ...out.map((r) => r[i].length)));
const line = (c) => c.map((x, i) => i < 2 ? x.padEnd(w[i]) : x.padStart(w[i])).join("  ");
console.log("");
console.log("median msg/s per broker (n = valid runs, then min-max)");
console.log(line(head));
console.log(line(w.map((n) => "-".repeat(n))));
for (const r of out) console.log(line(r));
console.log("");
' "$results" "$brokers" || rc=1

echo "per bench invocation (CPU% over the whole invocation, set-up and drains included):"
column -t -s $'\t' "$runs_tsv" 2>/dev/null || cat "$runs_tsv"
echo
for b in $brokers; do
  [ -n "${skip[$b]:-}" ] && say "note: $b was not (fully) benchmarked: ${skip[$b]}"
done
say "results file: $results (and $runs_tsv)"
exit $rc
