#!/usr/bin/env bash
# Side-by-side figures from the independent load generator ../shared/tools/amqpbench (Go), for
# RabbitMQ, Warren under Deno and Warren under Bun, interleaved in one run on this machine.
#
#   bench/amqpbench_side_by_side.sh            # scenarios s1 s2 s3 s4 s5 s7, 5 s windows
#
# Environment: SCENARIOS ("s1 s2 s3 s4 s5 s7"), DURATION (5s), WARMUP (1s), ROUNDS (1),
#              OUT (/tmp/warren-amqpbench-<UTC>.jsonl). S6 (topic exchange) is left out until
#              Warren has the topic exchange type. All traffic stays on 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
tools=$(cd "$repo/../shared/tools" && pwd)
scenarios=${SCENARIOS:-"s1 s2 s3 s4 s5 s7"}
out=${OUT:-/tmp/warren-amqpbench-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
rounds=${ROUNDS:-1}
export AMQPBENCH_DURATION=${DURATION:-5s} AMQPBENCH_WARMUP=${WARMUP:-1s} AMQPBENCH_OUT=$out
export AMQPBENCH_SCENARIOS=$scenarios

bash "$tools/rabbitmq-up.sh" 5682 >/dev/null
work=$(mktemp -d)
ulimit -n 65536 2>/dev/null || true
(cd "$repo" && exec deno run -A server/main.ts --port 5673 --host 127.0.0.1 --http-port 0 --data-dir "$work/d" --log-level warn) >"$work/deno.log" 2>&1 &
deno_pid=$!
(cd "$repo" && exec bun run server/main.ts --port 5674 --host 127.0.0.1 --http-port 0 --data-dir "$work/b" --log-level warn) >"$work/bun.log" 2>&1 &
bun_pid=$!
trap 'kill $deno_pid $bun_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for port in 5673 5674; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

for run in $(seq "$rounds"); do
  for target in rabbitmq:5682 warren-deno:5673 warren-bun:5674; do
    label=${target%%:*}
    port=${target##*:}
    echo "== round $run: $label"
    AMQPBENCH_LABEL=$label AMQPBENCH_RUN=$run timeout 900 "$tools/amqpbench/run.sh" "amqp://guest:guest@127.0.0.1:$port/" \
      >"$work/$label-$run.txt" 2>&1 || echo "($label: some variants reported errors; see the summary)"
  done
done
"${AMQPBENCH_BIN:-/tmp/amqpbench/amqpbench}" summarize "$out" || true
echo "results: $out"
