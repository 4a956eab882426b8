#!/usr/bin/env bash
# Persistent messages with confirms, side by side: RabbitMQ (classic durable queue), Warren under
# Deno and Warren under Bun, interleaved in one run on this machine (ROUNDS rounds, default 3).
#
#   bench/durable_side_by_side.sh
#
# Environment: ROUNDS (3), SECONDS_PER (5), SIZE (1024), WINDOW (1000). Warren runs with its
# default --sync always (fsync before every confirm round); RabbitMQ with its defaults (classic
# queues do not fsync before confirming). All traffic stays on 127.0.0.1; data goes to a
# temporary directory removed at the end.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
tools=$(cd "$repo/../shared/tools" && pwd)
rounds=${ROUNDS:-3}
secs=${SECONDS_PER:-5}
size=${SIZE:-1024}
window=${WINDOW:-1000}

bash "$tools/rabbitmq-up.sh" 5682 >/dev/null
work=$(mktemp -d)
(cd "$repo" && exec deno run -A --v8-flags=--expose-gc server/main.ts --port 5673 --host 127.0.0.1 --http-port 0 \
  --data-dir "$work/d" --log-level warn) >"$work/deno.log" 2>&1 &
deno_pid=$!
(cd "$repo" && exec bun run server/main.ts --port 5674 --host 127.0.0.1 --http-port 0 --data-dir "$work/b" \
  --log-level warn) >"$work/bun.log" 2>&1 &
bun_pid=$!
trap 'kill $deno_pid $bun_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for port in 5673 5674; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

for run in $(seq "$rounds"); do
  for target in rabbitmq:5682 warren-deno:5673 warren-bun:5674; do
    label=${target%%:*}
    port=${target##*:}
    (cd "$repo" && deno run -A bench/durable_bench.ts --url "amqp://guest:guest@127.0.0.1:$port/" \
      --label "$label" --seconds "$secs" --size "$size" --window "$window" --json) | tee -a "$work/results.jsonl"
  done
done

# Medians per label and variant.
deno eval --ext=ts '
const lines = Deno.readTextFileSync(Deno.args[0]).trim().split("\n").map((l) => JSON.parse(l));
const groups = new Map<string, number[]>();
for (const r of lines) {
  const k = `${r.variant}\t${r.label}`;
  groups.set(k, [...(groups.get(k) ?? []), r.rate]);
}
console.log("variant\tlabel\tmedian msg/s\truns");
for (const [k, v] of [...groups].sort()) {
  const s = [...v].sort((a, b) => a - b);
  console.log(`${k}\t${Math.round(s[Math.floor(s.length / 2)])}\t${v.map(Math.round).join(" ")}`);
}' "$work/results.jsonl"
