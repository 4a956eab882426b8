// Time-driven behaviour with an injected clock: the broker reads a clock the test moves forward,
// so TTLs, delays, queue expiry and consumer timeouts are checked in minutes of broker time that
// pass in a few real milliseconds, and a loaded machine cannot make them early or late. Only the
// broker's 100 ms tick is real: each step waits for a couple of ticks.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createBroker, type RunningBroker } from "../../server/mod.ts";
import { isExternal, waitFor } from "./_broker.ts";
import { amqplib } from "./_deps.ts";

/** A clock the test controls, starting at a fixed date. */
class FakeClock {
  now = Date.UTC(2026, 0, 1);
  read = (): number => this.now;
  /** Moves forward and lets the broker's tick see it. */
  async advance(ms: number): Promise<void> {
    this.now += ms;
    await new Promise((r) => setTimeout(r, 250));
  }
}

function clockTest(name: string, fn: (b: RunningBroker, clock: FakeClock, url: string) => Promise<void>) {
  Deno.test({
    name,
    ignore: isExternal,
    async fn() {
      const clock = new FakeClock();
      // Heartbeats off: a jump of an hour would otherwise count as missed heartbeats.
      const b = await createBroker({
        port: 0,
        host: "127.0.0.1",
        logLevel: "none",
        heartbeat: 0,
        clock: clock.read,
      });
      try {
        await fn(b, clock, `amqp://guest:guest@127.0.0.1:${b.port}`);
      } finally {
        await b.close();
      }
    },
  });
}

clockTest(
  "clock: per-message TTL expires a message in the middle of the queue, dead-lettered",
  async (_b, clock, url) => {
    const conn = await amqplib.connect(url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("dlq", { exclusive: true });
    await ch.assertQueue("work", {
      exclusive: true,
      arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq" },
    });
    ch.sendToQueue("work", Buffer.from("hour-1"), { expiration: "3600000" });
    ch.sendToQueue("work", Buffer.from("ten-seconds"), { expiration: "10000" });
    ch.sendToQueue("work", Buffer.from("hour-2"), { expiration: "3600000" });
    await ch.waitForConfirms();
    await clock.advance(9_000);
    assert.equal((await ch.checkQueue("work")).messageCount, 3);
    await clock.advance(1_500);
    assert.equal((await ch.checkQueue("work")).messageCount, 2);
    const dead = await ch.get("dlq", { noAck: true });
    assert.equal(dead && dead.content.toString(), "ten-seconds");
    const death = (dead as amqplib.Message).properties.headers!["x-death"]![0];
    assert.equal(death.reason, "expired");
    assert.equal(death["original-expiration"], "10000");
    // The x-death time is the broker's (injected) time, in whole seconds.
    assert.equal(death.time.value, Math.floor(clock.now / 1000));
    const left: string[] = [];
    for (let m = await ch.get("work", { noAck: true }); m; m = await ch.get("work", { noAck: true })) {
      left.push(m.content.toString());
    }
    assert.deepEqual(left, ["hour-1", "hour-2"]);
    await conn.close();
  },
);

clockTest("clock: x-message-ttl of a minute: there at 59 s, gone at 61 s", async (_b, clock, url) => {
  const conn = await amqplib.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue("minute", { exclusive: true, arguments: { "x-message-ttl": 60_000 } });
  ch.sendToQueue("minute", Buffer.from("m"));
  await ch.waitForConfirms();
  await clock.advance(59_000);
  assert.equal((await ch.checkQueue("minute")).messageCount, 1);
  await clock.advance(2_000);
  assert.equal((await ch.checkQueue("minute")).messageCount, 0);
  await conn.close();
});

clockTest("clock: delayed messages are released in due order, not before", async (_b, clock, url) => {
  const conn = await amqplib.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange("later", "x-delayed-message", {
    autoDelete: true,
    arguments: { "x-delayed-type": "direct" },
  });
  await ch.assertQueue("due", { exclusive: true });
  await ch.bindQueue("due", "later", "k");
  ch.publish("later", "k", Buffer.from("in-a-day"), { headers: { "x-delay": 86_400_000 } });
  ch.publish("later", "k", Buffer.from("in-a-minute"), { headers: { "x-delay": 60_000 } });
  ch.publish("later", "k", Buffer.from("in-an-hour"), { headers: { "x-delay": 3_600_000 } });
  await ch.waitForConfirms();
  const got: string[] = [];
  await ch.consume("due", (m) => m && got.push(m.content.toString()), { noAck: true });
  await clock.advance(59_000);
  assert.deepEqual(got, []);
  await clock.advance(2_000);
  await waitFor(() => got.length === 1);
  await clock.advance(3_600_000);
  await waitFor(() => got.length === 2);
  await clock.advance(86_400_000);
  await waitFor(() => got.length === 3);
  assert.deepEqual(got, ["in-a-minute", "in-an-hour", "in-a-day"]);
  await conn.close();
});

clockTest("clock: x-expires deletes a queue unused for its time, not before", async (b, clock, url) => {
  const conn = await amqplib.connect(url);
  const ch = await conn.createChannel();
  await ch.assertQueue("idle", { arguments: { "x-expires": 300_000 } });
  const exists = () => b.broker.vhosts.get("/")!.queues.has("idle"); // a passive declare would count as use
  await clock.advance(299_000);
  assert.equal(exists(), true);
  await clock.advance(2_000);
  assert.equal(exists(), false);
  const probe = await conn.createChannel();
  probe.on("error", () => {});
  await assert.rejects(probe.checkQueue("idle"), /404/);
  await conn.close();
});

clockTest(
  "clock: x-consumer-timeout cancels only the late consumer, its message requeued",
  async (_b, clock, url) => {
    const conn = await amqplib.connect(url);
    const ch = await conn.createChannel();
    await ch.assertQueue("slow", { exclusive: true, arguments: { "x-consumer-timeout": 600_000 } });
    ch.sendToQueue("slow", Buffer.from("job"));
    let cancelled = false;
    let got = 0;
    await ch.consume("slow", (m) => {
      if (m === null) cancelled = true;
      else got++;
    });
    await waitFor(() => got === 1);
    await clock.advance(590_000);
    assert.equal(cancelled, false);
    await clock.advance(15_000);
    await waitFor(() => cancelled, { message: "no basic.cancel after the timeout" });
    assert.equal((await ch.checkQueue("slow")).messageCount, 1); // requeued
    await conn.close();
  },
);
