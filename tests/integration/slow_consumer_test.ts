// A consumer that stops reading its socket stops receiving: once its connection's unsent backlog
// passes the transport's high-water mark (1 MiB), the broker keeps the rest of the messages in
// the queue instead of piling them into the socket's write buffer, and resumes when it drains.
// In-process only: it reads the queue depth from the broker object.

import assert from "node:assert/strict";
import { assertStaysFalse, mode, uniqueName, waitFor } from "./_broker.ts";
import { AMQPClient } from "./_deps.ts";
import * as W from "./_wire.ts";

const MESSAGES = 20_000;
const BODY = new Uint8Array(1024);
Deno.test({
  name: "a consumer that does not read its socket stops receiving; the rest stays queued",
  ignore: mode !== "inprocess",
  async fn() {
    const { createBroker } = await import("../../server/mod.ts");
    const running = await createBroker({ port: 0, host: "127.0.0.1", logLevel: "none" });
    const q = uniqueName("slow");
    const url = `amqp://guest:guest@127.0.0.1:${running.port}`;
    const publisher = await new AMQPClient(url).connect();
    let raw: Deno.TcpConn | undefined;
    try {
      const ch = await publisher.channel();
      await ch.queueDeclare(q, { autoDelete: false });
      for (let i = 0; i < MESSAGES; i++) await ch.basicPublish("", q, BODY);
      const queue = running.broker.vhosts.get("/")!.queues.get(q)!;
      await waitFor(() => queue.messageCount === MESSAGES);

      // Raw consumer with no-ack that never reads what the broker sends (20 MB would be due).
      raw = await Deno.connect({ hostname: "127.0.0.1", port: running.port });
      await raw.write(W.concat(W.pipelinedOpen(1), W.M.basicConsume(1, q, "slow", { noAck: true })));
      await waitFor(() => queue.consumerCount === 1);
      // Deliveries stop at the high-water mark (plus what the kernel's socket buffers took):
      // most of the 20 MB stays in the queue.
      await waitFor(() => queue.messageCount < MESSAGES);
      await assertStaysFalse(() => queue.messageCount < MESSAGES / 2, 500);
      const heldBack = queue.messageCount;

      // Reading the socket lets the rest through.
      const buf = new Uint8Array(1 << 20);
      let bytes = 0;
      const expected = MESSAGES * (BODY.length + 8); // at least the body frames
      while (bytes < expected) {
        const n = await raw.read(buf);
        if (n === null) break;
        bytes += n;
      }
      await waitFor(() => queue.messageCount === 0);
      assert.ok(heldBack > MESSAGES / 2, `held back ${heldBack}`);
    } finally {
      raw?.close();
      await publisher.close().catch(() => {});
      await running.close();
    }
  },
});
