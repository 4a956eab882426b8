// Authentication: guest/guest is accepted, a wrong password or unknown user is refused.

import assert from "node:assert/strict";
import { brokerTest } from "./_broker.ts";
import { amqplibConnect, closeReason } from "./_clients.ts";
import { AMQPClient, amqplib } from "./_deps.ts";

const REFUSED = "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. " +
  "For details see the broker logfile.";

function withCredentials(url: string, user: string, pass: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = pass;
  return u.toString();
}

brokerTest("guest/guest can log in and open a channel", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  await ch.close();
});

brokerTest("amqplib: wrong password is refused with 403 ACCESS_REFUSED", async (ctx) => {
  // amqplib announces the authentication_failure_close capability, so the broker must send
  // connection.close(403) rather than just dropping the socket.
  const err = await amqplib.connect(withCredentials(ctx.url, "guest", "wrong-password")).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, "connect must reject");
  assert.deepEqual(closeReason(err), { code: 403, text: REFUSED });
});

brokerTest("amqplib: unknown user is refused with 403 ACCESS_REFUSED", async (ctx) => {
  const err = await amqplib.connect(withCredentials(ctx.url, "nobody", "guest")).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, "connect must reject");
  assert.deepEqual(closeReason(err), { code: 403, text: REFUSED });
});

brokerTest("@cloudamqp/amqp-client: wrong password is refused with 403 ACCESS_REFUSED", async (ctx) => {
  const client = new AMQPClient(withCredentials(ctx.url, "guest", "nope"));
  const err = await client.connect().then(
    async () => {
      await client.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, "connect must reject");
  assert.deepEqual(closeReason(err), { code: 403, text: REFUSED });
});
