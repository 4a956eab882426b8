// Malformed and out-of-order AMQP 0-9-1 input: the exact response of RabbitMQ 3.10.8, asserted on raw frames.
//
// Every case is documented in docs/rabbitmq-error-reference.md (same letters). Reference run:
//   WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5682/ deno test -A tests/integration/protocol_errors_test.ts
// Without WARREN_TEST_URL the broker is Warren, started by ./_broker.ts. Where Warren deliberately differs
// (docs/rabbitmq-error-reference.md, "Warren differs"), a test asserts RabbitMQ's behaviour when `isExternal`
// and Warren's otherwise.

import assert from "node:assert/strict";
import { brokerTest, isExternal, type TestCtx, uniqueName } from "./_broker.ts";
import * as W from "./_wire.ts";

const { M } = W;

/** RabbitMQ closes the socket this long after a pre-`connection.open` error or a fatal frame error. */
const SILENT_CLOSE_MS = 3000;
/** Slack for the timing assertions (the reference broker may be busy). */
const SLACK_MS = 1500;
/** Window in which "nothing happens" is checked. */
const QUIET_MS = 300;

const te = new TextEncoder();
const bytes = (...b: number[]) => new Uint8Array(b);

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** A raw socket to the broker, closed when the test ends. */
async function raw(ctx: TestCtx): Promise<W.Wire> {
  const w = await W.Wire.connect(ctx.broker.host, ctx.broker.port);
  ctx.defer(() => w.close());
  return w;
}

/** A connection through connection.open-ok (+ channel 1 opened unless channel: 0). */
async function connect(ctx: TestCtx, o: W.HandshakeOptions & { channel?: number } = {}): Promise<W.Wire> {
  const w = await raw(ctx);
  await W.handshake(w, o);
  const ch = o.channel ?? 1;
  if (ch) await W.openChannel(w, ch);
  return w;
}

/** A socket that went through protocol header + connection.start only. */
async function started(ctx: TestCtx): Promise<W.Wire> {
  const w = await raw(ctx);
  await W.startHandshake(w);
  return w;
}

/** Through tune-ok, without connection.open. */
async function tuned(ctx: TestCtx, o: W.HandshakeOptions = {}): Promise<W.Wire> {
  const w = await raw(ctx);
  await W.handshake(w, { ...o, skipOpen: true });
  return w;
}

interface Expected {
  code: number;
  text: string;
  classId: number;
  methodId: number;
}

/**
 * Next frame must be connection.close with exactly these values. Then we send close-ok and (unless
 * `socketCloses` is false) the broker must close the socket promptly.
 */
async function expectConnectionClose(w: W.Wire, e: Expected, socketCloses = true): Promise<void> {
  const c = await w.expectClose();
  assert.deepEqual(c, {
    kind: "connection",
    channel: 0,
    replyCode: e.code,
    replyText: e.text,
    classId: e.classId,
    methodId: e.methodId,
  });
  await w.trySend(M.connectionCloseOk());
  if (socketCloses) assert.equal((await w.expectSocketClosed(1000)).length, 0, "bytes after close-ok");
}

/**
 * Next frame must be channel.close on `ch` with exactly these values. Then we send close-ok, re-open the
 * channel and require open-ok as the very next frame: the connection survived.
 */
async function expectChannelClose(w: W.Wire, ch: number, e: Expected): Promise<void> {
  const c = await w.expectClose();
  assert.deepEqual(c, {
    kind: "channel",
    channel: ch,
    replyCode: e.code,
    replyText: e.text,
    classId: e.classId,
    methodId: e.methodId,
  });
  await w.send(M.channelCloseOk(ch), M.channelOpen(ch));
  const ok = await w.expectMethod(20, 11);
  assert.equal(ok.channel, ch);
}

/** The broker answers a synchronous no-op on `ch` (basic.qos 0/0) as its very next frame: nothing else happened. */
async function expectAlive(w: W.Wire, ch = 1): Promise<void> {
  await w.send(M.basicQos(ch, 0, 0));
  const ok = await w.expectMethod(60, 11);
  assert.equal(ok.channel, ch);
}

/** The broker drops the TCP connection without sending anything (no connection.close). */
async function expectAbort(w: W.Wire, timeoutMs = 2000): Promise<void> {
  const got = await w.expectSocketClosed(timeoutMs);
  assert.deepEqual(Array.from(got), [], "expected no bytes before the socket closed");
}

/**
 * Unknown class or method id. RabbitMQ: the reader crashes and drops the TCP connection (expectAbort).
 * Warren: connection.close 503 naming the ids, carrying them as class/method id.
 */
async function expectUnknownMethod(w: W.Wire, classId: number, methodId: number): Promise<void> {
  if (isExternal) return await expectAbort(w);
  await expectConnectionClose(w, {
    code: 503,
    text: `COMMAND_INVALID - unknown method: class ${classId}, method ${methodId}`,
    classId,
    methodId,
  });
}

/**
 * Pre-connection.open failure: no connection.close, the socket is closed ~3 s later (RabbitMQ's silent
 * close delay). Returns the elapsed time.
 */
async function expectSilentClose(w: W.Wire, since: number): Promise<number> {
  await expectAbort(w, SILENT_CLOSE_MS + SLACK_MS * 2);
  const elapsed = Date.now() - since;
  assert.ok(
    elapsed >= SILENT_CLOSE_MS - 500,
    `socket closed after ${elapsed} ms, expected ~${SILENT_CLOSE_MS}`,
  );
  return elapsed;
}

/** Runs labelled checks concurrently; fails listing every failing label. */
async function allLabelled(cases: Record<string, () => Promise<unknown>>): Promise<void> {
  const names = Object.keys(cases);
  const results = await Promise.allSettled(names.map((n) => cases[n]()));
  const failed = results.flatMap((r, i) =>
    r.status === "rejected" ? [`${names[i]}: ${(r.reason as Error)?.message ?? r.reason}`] : []
  );
  if (failed.length) assert.fail(`${failed.length} case(s) failed:\n${failed.join("\n")}`);
}

/** queue.declare of an exclusive server-named-or-given queue; returns its name. */
async function declareExclusive(w: W.Wire, ch: number, name: string): Promise<string> {
  await w.send(M.queueDeclare(ch, name, { exclusive: true }));
  return (await w.expectMethod(50, 11)).args.shortstr();
}

const UNEXPECTED_METHOD_RUNNING = "CHANNEL_ERROR - unexpected method in connection state running";
const EXPECTED_CHANNEL_OPEN = "CHANNEL_ERROR - expected 'channel.open'";
const EXPECTED_METHOD_FRAME = "UNEXPECTED_FRAME - expected method frame, got non method frame instead";
const EXPECTED_HEADER_60 =
  "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead";
const EXPECTED_BODY = "UNEXPECTED_FRAME - expected content body, got non content body frame instead";
const LOGIN_REFUSED = (mech: string) =>
  `ACCESS_REFUSED - Login was refused using authentication mechanism ${mech}. For details see the broker logfile.`;

// ---------------------------------------------------------------------------------------------------------
// a. Protocol header

for (
  const [label, header] of [
    ["AMQP 0-9-2", bytes(0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 2)],
    ["HTTP/1.1 (8 bytes)", te.encode("HTTP/1.1")],
    ["an HTTP request", te.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
    ["AMQP 1.0", bytes(0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0)],
  ] as const
) {
  brokerTest(`a. protocol header ${label}: broker writes AMQP 0-9-1 header and closes`, async (ctx) => {
    const w = await raw(ctx);
    await w.send(header);
    const got = await w.expectSocketClosed(2000);
    assert.deepEqual(Array.from(got), Array.from(W.PROTOCOL_HEADER));
  });
}

brokerTest(
  "a. protocol header AMQP 1-1-0-9 (old 0-9 form): accepted as 0-9 (Warren: 0-9-1 header, close)",
  async (ctx) => {
    const w = await raw(ctx);
    await w.send(bytes(0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9));
    if (!isExternal) {
      // Warren differs: it speaks only 0-9-1, so it answers with the 0-9-1 header and closes, as for 0-9-2.
      const got = await w.expectSocketClosed(2000);
      assert.deepEqual(Array.from(got), Array.from(W.PROTOCOL_HEADER));
      return;
    }
    const start = await w.expectMethod(10, 10);
    assert.equal(start.channel, 0);
    assert.deepEqual([start.args.octet(), start.args.octet()], [0, 9]);
    await w.send(W.startOkFrame());
    const tune = await w.expectMethod(10, 30);
    const [channelMax, frameMax] = [tune.args.short(), tune.args.long()];
    await w.send(W.tuneOkFrame(channelMax, frameMax, 0), W.connectionOpenFrame("/"));
    await w.expectMethod(10, 41);
    await W.openChannel(w, 1);
  },
);

brokerTest("a. protocol header sent in two pieces is fine", async (ctx) => {
  const w = await raw(ctx);
  await w.send(W.PROTOCOL_HEADER.subarray(0, 4));
  await new Promise((r) => setTimeout(r, 50));
  await w.send(W.PROTOCOL_HEADER.subarray(4));
  await w.expectMethod(10, 10);
});

// ---------------------------------------------------------------------------------------------------------
// b. Frames on a channel that was never opened

brokerTest("b. queue.declare on unopened channel 5: 504 connection.close", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.queueDeclare(5, ""));
  await expectConnectionClose(w, { code: 504, text: EXPECTED_CHANNEL_OPEN, classId: 50, methodId: 10 });
});

brokerTest("b. channel.close on unopened channel 5: 504 connection.close", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.channelClose(5));
  await expectConnectionClose(w, { code: 504, text: EXPECTED_CHANNEL_OPEN, classId: 20, methodId: 40 });
});

brokerTest("b. content header on unopened channel 5: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.headerFrame(5, 3));
  await expectConnectionClose(w, { code: 505, text: EXPECTED_METHOD_FRAME, classId: 0, methodId: 0 });
});

brokerTest("b. body frame on unopened channel 5: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.bodyFrame(5, "abc"));
  await expectConnectionClose(w, { code: 505, text: EXPECTED_METHOD_FRAME, classId: 0, methodId: 0 });
});

brokerTest("b. heartbeat frame on channel 5: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.frame(W.FRAME_HEARTBEAT, 5, new Uint8Array(0)));
  await expectConnectionClose(w, {
    code: 505,
    text: "UNEXPECTED_FRAME - type 8, all octets = <<>>",
    classId: 0,
    methodId: 0,
  });
});

brokerTest(
  "b. basic.publish on unopened channel 5: RabbitMQ errs once the content is complete, Warren at once",
  async (ctx) => {
    const w = await connect(ctx);
    await w.send(M.basicPublish(5, "", "x"));
    if (!isExternal) {
      // Warren differs: it rejects the method at once instead of first reading content for a missing channel.
      await expectConnectionClose(w, { code: 504, text: EXPECTED_CHANNEL_OPEN, classId: 60, methodId: 40 });
      return;
    }
    await w.expectSilence(QUIET_MS);
    await w.send(W.headerFrame(5, 3), W.bodyFrame(5, "abc"));
    await expectConnectionClose(w, { code: 504, text: EXPECTED_CHANNEL_OPEN, classId: 60, methodId: 40 });
  },
);

// ---------------------------------------------------------------------------------------------------------
// c. channel.open misuse

brokerTest("c. channel.open twice on the same channel: 504 connection.close", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.channelOpen(1));
  await expectConnectionClose(w, {
    code: 504,
    text: "CHANNEL_ERROR - second 'channel.open' seen",
    classId: 20,
    methodId: 10,
  });
});

brokerTest("c. channel.open on channel 0: 504 connection.close", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.channelOpen(0));
  await expectConnectionClose(w, { code: 504, text: UNEXPECTED_METHOD_RUNNING, classId: 20, methodId: 10 });
});

// ---------------------------------------------------------------------------------------------------------
// d. Content framing

brokerTest("d. basic.publish followed by a method instead of the header: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicPublish(1, "", "x"), M.queueDeclare(1, ""));
  await expectConnectionClose(w, { code: 505, text: EXPECTED_HEADER_60, classId: 60, methodId: 40 });
});

brokerTest("d. basic.publish followed by a body frame instead of the header: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicPublish(1, "", "x"), W.bodyFrame(1, "abc"));
  await expectConnectionClose(w, { code: 505, text: EXPECTED_HEADER_60, classId: 60, methodId: 40 });
});

brokerTest("d. basic.publish then channel.close before the header: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicPublish(1, "", "x"), M.channelClose(1));
  await expectConnectionClose(w, { code: 505, text: EXPECTED_HEADER_60, classId: 60, methodId: 40 });
});

brokerTest("d. a heartbeat between basic.publish and its header is fine", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicPublish(1, "", "x"), W.heartbeatFrame(), W.headerFrame(1, 3), W.bodyFrame(1, "abc"));
  await expectAlive(w);
});

brokerTest("d. connection.close on channel 0 while channel 1 awaits a header: close-ok", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicPublish(1, "", "x"), M.connectionClose());
  await w.expectMethod(10, 51);
});

brokerTest("d. content header with class id 50 after basic.publish: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicPublish(1, "", "x"), W.headerFrame(1, 3, { classId: 50 }), W.bodyFrame(1, "abc"));
  await expectConnectionClose(w, {
    code: 505,
    text: "UNEXPECTED_FRAME - expected content header for class 60, got one for class 50 instead",
    classId: 60,
    methodId: 40,
  });
});

brokerTest("d. content header with non-zero weight: 505 (not recognised as a header)", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicPublish(1, "", "x"), W.headerFrame(1, 3, { weight: 1 }), W.bodyFrame(1, "abc"));
  await expectConnectionClose(w, { code: 505, text: EXPECTED_HEADER_60, classId: 60, methodId: 40 });
});

brokerTest("d. body frame without basic.publish: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.bodyFrame(1, "abc"));
  await expectConnectionClose(w, { code: 505, text: EXPECTED_METHOD_FRAME, classId: 0, methodId: 0 });
});

brokerTest("d. content header without basic.publish: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.headerFrame(1, 3));
  await expectConnectionClose(w, { code: 505, text: EXPECTED_METHOD_FRAME, classId: 0, methodId: 0 });
});

brokerTest("d. extra body frame after a complete message: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicPublish(1, "", "x"), W.headerFrame(1, 3), W.bodyFrame(1, "abc"), W.bodyFrame(1, "abc"));
  await expectConnectionClose(w, { code: 505, text: EXPECTED_METHOD_FRAME, classId: 0, methodId: 0 });
});

brokerTest("d. body frame after a header with body size 0: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicPublish(1, "", "x"), W.headerFrame(1, 0), W.bodyFrame(1, "abc"));
  await expectConnectionClose(w, { code: 505, text: EXPECTED_METHOD_FRAME, classId: 0, methodId: 0 });
});

brokerTest("d. empty body frames in the middle of a message are fine", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicPublish(1, "", "x"), W.headerFrame(1, 3), W.bodyFrame(1, ""), W.bodyFrame(1, "abc"));
  await expectAlive(w);
});

brokerTest(
  "d. body size 10, body of 20 bytes: RabbitMQ waits for more body, Warren 501 FRAME_ERROR",
  async (ctx) => {
    const w = await connect(ctx);
    await w.send(M.basicPublish(1, "", "x"), W.headerFrame(1, 10), W.bodyFrame(1, "x".repeat(20)));
    if (!isExternal) {
      // Warren differs: a body longer than declared is a framing error; RabbitMQ's channel just hangs.
      await expectConnectionClose(w, {
        code: 501,
        text: "FRAME_ERROR - content body of 20 bytes exceeds the 10 bytes declared in the content header",
        classId: 60,
        methodId: 40,
      });
      return;
    }
    await w.expectSilence(QUIET_MS);
    // RabbitMQ's remaining size went negative and never reaches 0 again: the next method is out of place.
    await w.send(M.queueDeclare(1, ""));
    await expectConnectionClose(w, { code: 505, text: EXPECTED_BODY, classId: 60, methodId: 40 });
  },
);

brokerTest("d. body size 10, 5 bytes of body, then a method: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(
    M.basicPublish(1, "", "x"),
    W.headerFrame(1, 10),
    W.bodyFrame(1, "12345"),
    M.queueDeclare(1, ""),
  );
  await expectConnectionClose(w, { code: 505, text: EXPECTED_BODY, classId: 60, methodId: 40 });
});

brokerTest(
  "d. content header whose property flags promise missing data: 541 (Warren: 502 at publish)",
  async (ctx) => {
    const w = await connect(ctx);
    await w.send(M.basicPublish(1, "", "x"), W.headerFrame(1, 3, { flags: 0x8000 }), W.bodyFrame(1, "abc"));
    // Warren differs: it validates properties at publish (502 naming the field), not lazily at delivery.
    await expectConnectionClose(
      w,
      isExternal ? { code: 541, text: "INTERNAL_ERROR", classId: 0, methodId: 0 } : {
        code: 502,
        text: "SYNTAX_ERROR - invalid content header properties: bad content-type",
        classId: 60,
        methodId: 40,
      },
    );
  },
);

// ---------------------------------------------------------------------------------------------------------
// e. Frame-level errors

brokerTest("e. frame larger than frame-max 131072: 501 frame_too_large", async (ctx) => {
  const w = await connect(ctx);
  // Only the 7-byte frame header: the size is checked as soon as the header is read.
  await w.send(W.frame(W.FRAME_BODY, 1, new Uint8Array(131073)).subarray(0, 7));
  await expectConnectionClose(w, {
    code: 501,
    text: "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,131073,131064}",
    classId: 0,
    methodId: 0,
  }, false);
});

brokerTest("e. frame-max 4096 negotiated, frame payload 4097: 501 frame_too_large", async (ctx) => {
  const w = await connect(ctx, { frameMax: 4096 });
  await w.send(W.frame(W.FRAME_BODY, 1, new Uint8Array(4097)).subarray(0, 7));
  await expectConnectionClose(w, {
    code: 501,
    text: "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,4097,4088}",
    classId: 0,
    methodId: 0,
  }, false);
});

brokerTest("e. frame-max 4096 negotiated, frame payload of exactly 4096 is accepted", async (ctx) => {
  const w = await connect(ctx, { frameMax: 4096 });
  await w.send(M.basicPublish(1, "", "x"), W.headerFrame(1, 4096), W.bodyFrame(1, new Uint8Array(4096)));
  await expectAlive(w);
});

brokerTest("e. bad frame-end octet on a heartbeat: 501", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.frame(W.FRAME_HEARTBEAT, 0, new Uint8Array(0), 0xab));
  await expectConnectionClose(w, {
    code: 501,
    text: "FRAME_ERROR - type 8, all octets = <<>>: {invalid_frame_end_marker,171}",
    classId: 0,
    methodId: 0,
  }, false);
});

brokerTest("e. bad frame-end octet on a body frame: 501", async (ctx) => {
  const w = await connect(ctx);
  await w.send(
    M.basicPublish(1, "", "x"),
    W.headerFrame(1, 3),
    W.frame(W.FRAME_BODY, 1, te.encode("abc"), 0),
  );
  await expectConnectionClose(w, {
    code: 501,
    text: 'FRAME_ERROR - type 3, all octets = <<"abc">>: {invalid_frame_end_marker,0}',
    classId: 0,
    methodId: 0,
  }, false);
});

brokerTest(
  "e. fatal frame errors: socket closed ~3 s after connection.close (Warren: at once on close-ok)",
  async (ctx) => {
    const socketClosed = async (w: W.Wire, t0: number, sentCloseOk: boolean) => {
      if (isExternal || !sentCloseOk) return await expectSilentClose(w, t0);
      // Warren differs: it keeps parsing after a fatal frame error, so close-ok closes the socket at once.
      assert.equal((await w.expectSocketClosed(1000)).length, 0, "bytes after close-ok");
    };
    const cases: Record<string, () => Promise<unknown>> = {};
    for (const sendCloseOk of [true, false]) {
      cases[`bad frame end, close-ok ${sendCloseOk}`] = async () => {
        const w = await connect(ctx);
        await w.send(W.frame(W.FRAME_HEARTBEAT, 0, new Uint8Array(0), 0xab));
        const c = await w.expectClose();
        const t0 = Date.now();
        assert.equal(c.replyCode, 501);
        if (sendCloseOk) await w.trySend(M.connectionCloseOk());
        await socketClosed(w, t0, sendCloseOk);
      };
    }
    cases["frame too large, close-ok true"] = async () => {
      const w = await connect(ctx);
      await w.send(W.frame(W.FRAME_BODY, 1, new Uint8Array(200000)).subarray(0, 7));
      const c = await w.expectClose();
      const t0 = Date.now();
      assert.equal(c.replyCode, 501);
      await w.trySend(M.connectionCloseOk());
      await socketClosed(w, t0, true);
    };
    await allLabelled(cases);
  },
);

brokerTest("e. unknown frame type 9 on channel 0: 501 unknown_frame", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.frame(9, 0, bytes(1, 2, 3)));
  await expectConnectionClose(w, {
    code: 501,
    text: "FRAME_ERROR - type 9, all octets = <<1,2,3>>: unknown_frame",
    classId: 0,
    methodId: 0,
  });
});

brokerTest("e. frame type 0 on channel 1: 501 unknown_frame", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.frame(0, 1, new Uint8Array(0)));
  await expectConnectionClose(w, {
    code: 501,
    text: "FRAME_ERROR - type 0, all octets = <<>>: unknown_frame",
    classId: 0,
    methodId: 0,
  });
});

brokerTest("e. heartbeat frame with a payload: 501 unknown_frame", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.frame(W.FRAME_HEARTBEAT, 0, bytes(1, 2)));
  await expectConnectionClose(w, {
    code: 501,
    text: "FRAME_ERROR - type 8, all octets = <<1,2>>: unknown_frame",
    classId: 0,
    methodId: 0,
  });
});

brokerTest("e. method frame shorter than class+method ids: 501 unknown_frame", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.frame(W.FRAME_METHOD, 1, bytes(0, 50, 0)));
  await expectConnectionClose(w, {
    code: 501,
    text: "FRAME_ERROR - type 1, all octets = <<0,50,0>>: unknown_frame",
    classId: 0,
    methodId: 0,
  });
});

brokerTest("e. unknown class id 99: TCP connection dropped (Warren: 503 COMMAND_INVALID)", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.methodFrame(1, 99, 10));
  // Warren differs: RabbitMQ's drop is a reader crash; Warren names the unknown method in a 503.
  await expectUnknownMethod(w, 99, 10);
});

brokerTest(
  "e. unknown method id basic.99: TCP connection dropped (Warren: 503 COMMAND_INVALID)",
  async (ctx) => {
    const w = await connect(ctx);
    await w.send(W.methodFrame(1, 60, 99));
    // Warren differs: RabbitMQ's drop is a reader crash; Warren names the unknown method in a 503.
    await expectUnknownMethod(w, 60, 99);
  },
);

brokerTest(
  "e. unknown method id on channel 0 (connection.99): dropped (Warren: 503 COMMAND_INVALID)",
  async (ctx) => {
    const w = await connect(ctx);
    await w.send(W.methodFrame(0, 10, 99));
    // Warren differs: RabbitMQ's drop is a reader crash; Warren names the unknown method in a 503.
    await expectUnknownMethod(w, 10, 99);
  },
);

brokerTest("e. truncated queue.declare arguments: 501 cannot decode", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.frame(W.FRAME_METHOD, 1, new W.Enc().short(50).short(10).short(0).shortstr("abc").finish()));
  await expectConnectionClose(w, {
    code: 501,
    text: "FRAME_ERROR - cannot decode <<0,0,3,97,98,99>>",
    classId: 50,
    methodId: 10,
  });
});

brokerTest("e. truncated basic.qos arguments: 501 cannot decode", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.frame(W.FRAME_METHOD, 1, new W.Enc().short(60).short(10).long(0).finish()));
  await expectConnectionClose(w, {
    code: 501,
    text: "FRAME_ERROR - cannot decode <<0,0,0,0>>",
    classId: 60,
    methodId: 10,
  });
});

brokerTest("e. queue.declare with trailing garbage after its arguments: 501 cannot decode", async (ctx) => {
  const w = await connect(ctx);
  const args = new W.Enc().short(0).shortstr("").bits(false, false, false, false, false).table({}).octet(7);
  await w.send(W.frame(W.FRAME_METHOD, 1, new W.Enc().short(50).short(10).bytes(args.finish()).finish()));
  await expectConnectionClose(w, {
    code: 501,
    text: "FRAME_ERROR - cannot decode <<0,0,0,0,0,0,0,0,7>>",
    classId: 50,
    methodId: 10,
  });
});

brokerTest(
  "e. field table with unknown type 'Z' in queue.declare: dropped (Warren: 502 SYNTAX_ERROR)",
  async (ctx) => {
    const w = await connect(ctx);
    await w.send(M.queueDeclare(1, "", { args: { x: { $raw: bytes(0x5a) } } }));
    if (isExternal) return await expectAbort(w);
    // Warren differs: RabbitMQ's drop is a decoder crash; Warren reports the bad type tag and the method.
    await expectConnectionClose(w, {
      code: 502,
      text: "SYNTAX_ERROR - unknown field table type 'Z' (0x5a)",
      classId: 50,
      methodId: 10,
    });
  },
);

brokerTest(
  "e. field table with unknown type 'Z' in message headers: 541 (Warren: 502 at publish)",
  async (ctx) => {
    const w = await connect(ctx);
    const header = W.headerFrame(1, 3, {
      flags: 0x2000,
      props: (e) => e.table({ x: { $raw: bytes(0x5a) } }),
    });
    await w.send(M.basicPublish(1, "", "x"), header, W.bodyFrame(1, "abc"));
    // Warren differs: it validates properties at publish (502 naming the field), not lazily at delivery.
    await expectConnectionClose(
      w,
      isExternal ? { code: 541, text: "INTERNAL_ERROR", classId: 0, methodId: 0 } : {
        code: 502,
        text: "SYNTAX_ERROR - invalid content header properties: bad headers table",
        classId: 60,
        methodId: 40,
      },
    );
  },
);

for (
  const [label, frame, classId, methodId] of [
    ["basic.qos", M.basicQos(0, 0, 10), 60, 10],
    ["queue.declare", M.queueDeclare(0, ""), 50, 10],
    ["basic.publish", M.basicPublish(0, "", "x"), 60, 40],
    ["channel.close", M.channelClose(0), 20, 40],
  ] as const
) {
  brokerTest(`e. ${label} on channel 0: 504 unexpected method`, async (ctx) => {
    const w = await connect(ctx);
    await w.send(frame);
    await expectConnectionClose(w, { code: 504, text: UNEXPECTED_METHOD_RUNNING, classId, methodId });
  });
}

brokerTest("e. content header on channel 0: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.headerFrame(0, 3));
  await expectConnectionClose(w, {
    code: 505,
    text: "UNEXPECTED_FRAME - type 2, all octets = <<0,60,0,0,0,0,0,0,0,0,0,3,0,0>>",
    classId: 0,
    methodId: 0,
  });
});

brokerTest("e. body frame on channel 0: 505", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.bodyFrame(0, "abc"));
  await expectConnectionClose(w, {
    code: 505,
    text: 'UNEXPECTED_FRAME - type 3, all octets = <<"abc">>',
    classId: 0,
    methodId: 0,
  });
});

for (
  const [label, frame, classId, methodId] of [
    ["connection.open again", W.connectionOpenFrame("/"), 10, 40],
    ["connection.start-ok again", W.startOkFrame(), 10, 11],
    ["connection.tune-ok again", W.tuneOkFrame(2047, 131072, 0), 10, 31],
    ["unsolicited connection.close-ok", M.connectionCloseOk(), 10, 51],
  ] as const
) {
  brokerTest(`e. ${label} once open: 504 unexpected method`, async (ctx) => {
    const w = await connect(ctx);
    await w.send(frame);
    await expectConnectionClose(w, { code: 504, text: UNEXPECTED_METHOD_RUNNING, classId, methodId });
  });
}

for (
  const [label, frame, classId, methodId] of [
    [
      "connection.close on channel 1",
      W.methodFrame(1, 10, 50, (e) => e.short(200).shortstr("").short(0).short(0)),
      10,
      50,
    ],
    [
      "queue.declare-ok (server-only)",
      W.methodFrame(1, 50, 11, (e) => e.shortstr("q").long(0).long(0)),
      50,
      11,
    ],
    ["channel.open-ok (server-only)", W.methodFrame(1, 20, 11, (e) => e.longstr("")), 20, 11],
    ["channel.flow-ok", W.methodFrame(1, 20, 21, (e) => e.bit(true)), 20, 21],
  ] as const
) {
  brokerTest(`e. client sends ${label}: 503 COMMAND_INVALID`, async (ctx) => {
    const w = await connect(ctx);
    await w.send(frame);
    await expectConnectionClose(w, {
      code: 503,
      text: "COMMAND_INVALID - unimplemented method",
      classId,
      methodId,
    });
  });
}

brokerTest("e. access.request is answered with access.request-ok ticket 1", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.methodFrame(1, 30, 10, (e) => e.shortstr("/data").bits(false, false, true, true, true)));
  const ok = await w.expectMethod(30, 11);
  assert.equal(ok.args.short(), 1);
});

// ---------------------------------------------------------------------------------------------------------
// f. Negotiation and authentication

brokerTest("f. connection.tune proposes channel-max 2047, frame-max 131072, heartbeat 60", async (ctx) => {
  const w = await raw(ctx);
  const r = await W.handshake(w);
  assert.deepEqual(r.tune, { channelMax: 2047, frameMax: 131072, heartbeat: 60 });
  assert.equal(r.mechanisms, "PLAIN AMQPLAIN");
});

brokerTest(
  "f. pre-open errors: silent close after ~3 s (Warren: connection.close with the reason)",
  async (ctx) => {
    /** RabbitMQ: silent close. Warren, when `warren` is given: that connection.close. */
    type WarrenOutcome = Expected | ((w: W.Wire) => Promise<void>);
    const preOpenError = async (w: W.Wire, t0: number, warren?: WarrenOutcome) => {
      // Warren differs: it tells the client why (RabbitMQ only closes silently, 3 s later).
      if (warren && !isExternal) {
        return typeof warren === "function" ? await warren(w) : await expectConnectionClose(w, warren);
      }
      await expectSilentClose(w, t0);
    };
    // Warren differs: frame-max 0 / channel-max 0 mean "no limit of the client's own" in the spec, so
    // Warren uses its own maximum and the handshake completes.
    const handshakeCompletes = async (w: W.Wire) => {
      await w.expectMethod(10, 41);
    };
    // Warren differs: a refused login without authentication_failure_close closes at once, silently.
    const closedSilently = async (w: W.Wire) => {
      assert.equal((await w.expectSocketClosed(1000)).length, 0, "bytes before the close");
    };
    // Warren differs: a client closing during the handshake gets close-ok, like any close.
    const closeOk = async (w: W.Wire) => {
      await w.expectMethod(10, 51);
    };
    const tuneOk = (cm: number, fm: number, warren?: WarrenOutcome) => async () => {
      const w = await started(ctx);
      await w.send(W.startOkFrame());
      await w.expectMethod(10, 30);
      const t0 = Date.now();
      await w.send(W.tuneOkFrame(cm, fm, 0), W.connectionOpenFrame("/"));
      await preOpenError(w, t0, warren);
    };
    const afterStart = (f: Uint8Array, warren?: WarrenOutcome) => async () => {
      const w = await started(ctx);
      const t0 = Date.now();
      await w.send(f);
      await preOpenError(w, t0, warren);
    };
    const notAllowed = (text: string): Expected => ({
      code: 530,
      text: `NOT_ALLOWED - ${text}`,
      classId: 10,
      methodId: 31,
    });
    const refused = (mech: string): Expected => ({
      code: 403,
      text: LOGIN_REFUSED(mech),
      classId: 0,
      methodId: 0,
    });
    const amqplain = (u: string, p: string) =>
      new W.Enc().table({ LOGIN: u, PASSWORD: p }).finish().subarray(4);
    await allLabelled({
      "tune-ok frame-max 131073 (> server's)": tuneOk(
        2047,
        131073,
        notAllowed("frame_max=131073 > 131072 max size"),
      ),
      "tune-ok frame-max 4095 (< 4096)": tuneOk(2047, 4095, notAllowed("frame_max=4095 < 4096 min size")),
      "tune-ok frame-max 0": tuneOk(2047, 0, handshakeCompletes),
      "tune-ok channel-max 2048 (> server's)": tuneOk(
        2048,
        131072,
        notAllowed("negotiated channel_max = 2048 is higher than the maximum allowed value (2047)"),
      ),
      "tune-ok channel-max 0": tuneOk(0, 131072, handshakeCompletes),
      "bad password without authentication_failure_close": afterStart(
        W.startOkFrame({ password: "wrong", capabilities: { consumer_cancel_notify: true } }),
        closedSilently,
      ),
      "unknown SASL mechanism (with authentication_failure_close)": afterStart(
        W.startOkFrame({ mechanism: "CRAM-MD5", response: "x" }),
        {
          code: 503,
          text: "COMMAND_INVALID - unknown authentication mechanism 'CRAM-MD5'",
          classId: 10,
          methodId: 11,
        },
      ),
      "PLAIN response without NULs": afterStart(W.startOkFrame({ response: "guestguest" }), refused("PLAIN")),
      "AMQPLAIN response that is not a table": afterStart(
        W.startOkFrame({ mechanism: "AMQPLAIN", response: "garbage" }),
        refused("AMQPLAIN"),
      ),
      "AMQPLAIN sanity (not an error)": async () => {
        const w = await started(ctx);
        await w.send(W.startOkFrame({ mechanism: "AMQPLAIN", response: amqplain("guest", "guest") }));
        await w.expectMethod(10, 30);
      },
      "tune-ok before start-ok": afterStart(W.tuneOkFrame(2047, 131072, 0), {
        code: 504,
        text: "CHANNEL_ERROR - unexpected method in connection state starting",
        classId: 10,
        methodId: 31,
      }),
      "channel.open before start-ok": afterStart(M.channelOpen(1), {
        code: 503,
        text: "COMMAND_INVALID - method channel.open on channel 1 before connection.open",
        classId: 20,
        methodId: 10,
      }),
      "connection.close before start-ok": afterStart(M.connectionClose(), closeOk),
      "unknown frame type before start-ok": afterStart(W.frame(9, 0, new Uint8Array(0)), {
        code: 501,
        text: "FRAME_ERROR - type 9, all octets = <<>>: unknown_frame",
        classId: 0,
        methodId: 0,
      }),
      "connection.open before tune-ok": async () => {
        const w = await started(ctx);
        await w.send(W.startOkFrame());
        await w.expectMethod(10, 30);
        const t0 = Date.now();
        await w.send(W.connectionOpenFrame("/"));
        await preOpenError(w, t0, {
          code: 504,
          text: "CHANNEL_ERROR - unexpected method in connection state tuning",
          classId: 10,
          methodId: 40,
        });
      },
    });
  },
);

brokerTest("f. tune-ok frame-max 4096 and heartbeat 65535 are accepted", async (ctx) => {
  await connect(ctx, { frameMax: 4096, heartbeat: 65535 });
});

brokerTest("f. connection.open to vhost 'nope': 530 NOT_ALLOWED", async (ctx) => {
  const w = await tuned(ctx);
  await w.send(W.connectionOpenFrame("nope"));
  await expectConnectionClose(w, {
    code: 530,
    text: "NOT_ALLOWED - vhost nope not found",
    classId: 10,
    methodId: 40,
  });
});

brokerTest("f. bad password with authentication_failure_close: 403 ACCESS_REFUSED", async (ctx) => {
  const w = await started(ctx);
  await w.send(W.startOkFrame({ password: "wrong" }));
  await expectConnectionClose(w, { code: 403, text: LOGIN_REFUSED("PLAIN"), classId: 0, methodId: 0 });
});

brokerTest("f. unknown user with authentication_failure_close: 403 ACCESS_REFUSED", async (ctx) => {
  const w = await started(ctx);
  await w.send(W.startOkFrame({ user: uniqueName("nobody"), password: "x" }));
  await expectConnectionClose(w, { code: 403, text: LOGIN_REFUSED("PLAIN"), classId: 0, methodId: 0 });
});

brokerTest("f. AMQPLAIN login works; bad AMQPLAIN password: 403", async (ctx) => {
  const amqplain = (u: string, p: string) =>
    new W.Enc().table({ LOGIN: u, PASSWORD: p }).finish().subarray(4);
  const ok = await raw(ctx);
  await W.handshake(ok, { mechanism: "AMQPLAIN", response: amqplain("guest", "guest") });
  await W.openChannel(ok, 1);

  const bad = await started(ctx);
  await bad.send(W.startOkFrame({ mechanism: "AMQPLAIN", response: amqplain("guest", "nope") }));
  await expectConnectionClose(bad, { code: 403, text: LOGIN_REFUSED("AMQPLAIN"), classId: 0, methodId: 0 });
});

brokerTest("f. channel.open after tune-ok but before connection.open: 505 (Warren: 503)", async (ctx) => {
  const w = await tuned(ctx);
  await w.send(M.channelOpen(1));
  // Warren differs: it names the out-of-order method instead of RabbitMQ's raw-octets 505.
  await expectConnectionClose(
    w,
    isExternal
      ? {
        code: 505,
        text: "UNEXPECTED_FRAME - type 1, all octets = <<0,20,0,10,0>>",
        classId: 0,
        methodId: 0,
      }
      : {
        code: 503,
        text: "COMMAND_INVALID - method channel.open on channel 1 before connection.open",
        classId: 20,
        methodId: 10,
      },
  );
});

brokerTest(
  "f. connection.close after tune-ok but before connection.open: 504 (Warren: close-ok)",
  async (ctx) => {
    const w = await tuned(ctx);
    await w.send(M.connectionClose());
    if (!isExternal) {
      // Warren differs: a client may close during the handshake; it gets close-ok like any close.
      await w.expectMethod(10, 51);
      return;
    }
    await expectConnectionClose(w, {
      code: 504,
      text: "CHANNEL_ERROR - unexpected method in connection state opening",
      classId: 10,
      methodId: 50,
    });
  },
);

brokerTest(
  "f. channel ids above channel-max are accepted (only the channel count is limited)",
  async (ctx) => {
    const w = await connect(ctx, { channel: 0 });
    await W.openChannel(w, 2047);
    await W.openChannel(w, 2048);
    await W.openChannel(w, 65535);
  },
);

brokerTest("f. channel-max 1 negotiated, a second channel: 530 NOT_ALLOWED", async (ctx) => {
  const w = await connect(ctx, { channelMax: 1, channel: 7 });
  await w.send(M.channelOpen(8));
  await expectConnectionClose(w, {
    code: 530,
    text: "NOT_ALLOWED - number of channels opened (1) has reached the negotiated channel_max (1)",
    classId: 0,
    methodId: 0,
  });
});

brokerTest("f. channel-max 2: closing a channel frees a slot", async (ctx) => {
  const w = await connect(ctx, { channelMax: 2 });
  await W.openChannel(w, 2);
  await w.send(M.channelClose(1));
  await w.expectMethod(20, 41);
  await W.openChannel(w, 3);
});

// ---------------------------------------------------------------------------------------------------------
// g. Semantic errors

for (
  const [label, frame, tag, methodId] of [
    ["basic.ack unknown tag", M.basicAck(1, 7), 7, 80],
    ["basic.ack multiple unknown tag", M.basicAck(1, 7, true), 7, 80],
    ["basic.ack tag 0 (single)", M.basicAck(1, 0), 0, 80],
    ["basic.nack unknown tag", M.basicNack(1, 7), 7, 120],
    ["basic.reject unknown tag", M.basicReject(1, 7), 7, 90],
  ] as const
) {
  brokerTest(`g. ${label}: 406 channel.close`, async (ctx) => {
    const w = await connect(ctx);
    await w.send(frame);
    await expectChannelClose(w, 1, {
      code: 406,
      text: `PRECONDITION_FAILED - unknown delivery tag ${tag}`,
      classId: 60,
      methodId,
    });
  });
}

brokerTest("g. basic.ack multiple with tag 0 and nothing outstanding: no error", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicAck(1, 0, true));
  await expectAlive(w);
});

brokerTest("g. acking the same tag twice: 406 on the second", async (ctx) => {
  const w = await connect(ctx);
  const q = await declareExclusive(w, 1, "");
  await w.send(W.publishFrames(1, "", q, "hi"), M.basicGet(1, q));
  await w.expectMethod(60, 71);
  await w.readFrame(); // header
  await w.readFrame(); // body
  await w.send(M.basicAck(1, 1), M.basicAck(1, 1));
  await expectChannelClose(w, 1, {
    code: 406,
    text: "PRECONDITION_FAILED - unknown delivery tag 1",
    classId: 60,
    methodId: 80,
  });
});

brokerTest("g. basic.qos with prefetch-size 1: 540 NOT_IMPLEMENTED (connection)", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicQos(1, 1, 0));
  await expectConnectionClose(w, {
    code: 540,
    text: "NOT_IMPLEMENTED - prefetch_size!=0 (1)",
    classId: 60,
    methodId: 10,
  });
});

brokerTest(
  "g. basic.publish immediate=true: 540 NOT_IMPLEMENTED once the content is complete",
  async (ctx) => {
    const w = await connect(ctx);
    await w.send(M.basicPublish(1, "", "x", false, true));
    await w.expectSilence(QUIET_MS);
    await w.send(W.headerFrame(1, 0));
    await expectConnectionClose(w, {
      code: 540,
      text: "NOT_IMPLEMENTED - immediate=true",
      classId: 60,
      methodId: 40,
    });
  },
);

brokerTest("g. basic.publish to a missing exchange: 404 channel.close", async (ctx) => {
  const w = await connect(ctx);
  const ex = uniqueName("missing-ex");
  await w.send(W.publishFrames(1, ex, "x", "abc"));
  await expectChannelClose(w, 1, {
    code: 404,
    text: `NOT_FOUND - no exchange '${ex}' in vhost '/'`,
    classId: 60,
    methodId: 40,
  });
});

brokerTest("g. basic.publish to 'amq.default': 404 (only '' is the default exchange)", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.publishFrames(1, "amq.default", "x", ""));
  await expectChannelClose(w, 1, {
    code: 404,
    text: "NOT_FOUND - no exchange 'amq.default' in vhost '/'",
    classId: 60,
    methodId: 40,
  });
});

brokerTest(
  "g. basic.consume reusing a consumer tag on the channel: 530 NOT_ALLOWED (connection)",
  async (ctx) => {
    const w = await connect(ctx);
    const q = await declareExclusive(w, 1, "");
    await w.send(M.basicConsume(1, q, "tag1"));
    await w.expectMethod(60, 21);
    await w.send(M.basicConsume(1, q, "tag1"));
    await expectConnectionClose(w, {
      code: 530,
      text: "NOT_ALLOWED - attempt to reuse consumer tag 'tag1'",
      classId: 60,
      methodId: 20,
    });
  },
);

brokerTest("g. exclusive basic.consume on a queue with consumers: 403 channel.close", async (ctx) => {
  const w = await connect(ctx);
  const q = await declareExclusive(w, 1, uniqueName("excl-consume"));
  await w.send(M.basicConsume(1, q, "a"));
  await w.expectMethod(60, 21);
  await w.send(M.basicConsume(1, q, "b", { exclusive: true }));
  await expectChannelClose(w, 1, {
    code: 403,
    text: `ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`,
    classId: 60,
    methodId: 20,
  });
});

brokerTest("g. basic.consume on a queue with an exclusive consumer: 403 channel.close", async (ctx) => {
  const w = await connect(ctx, { channel: 0 });
  await W.openChannel(w, 1);
  await W.openChannel(w, 2);
  const q = await declareExclusive(w, 1, uniqueName("excl-consumer"));
  await w.send(M.basicConsume(1, q, "a", { exclusive: true }));
  await w.expectMethod(60, 21);
  await w.send(M.basicConsume(2, q, "b"));
  await expectChannelClose(w, 2, {
    code: 403,
    text: `ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`,
    classId: 60,
    methodId: 20,
  });
});

brokerTest("g. queue.declare of 'amq.*' name: 403; passive: 404", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.queueDeclare(1, "amq.foo"));
  await expectChannelClose(w, 1, {
    code: 403,
    text: "ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'",
    classId: 50,
    methodId: 10,
  });
  await w.send(M.queueDeclare(1, "amq.foo", { passive: true }));
  await expectChannelClose(w, 1, {
    code: 404,
    text: "NOT_FOUND - no queue 'amq.foo' in vhost '/'",
    classId: 50,
    methodId: 10,
  });
});

brokerTest("g. exchange.declare of 'amq.*' name: 403", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.exchangeDeclare(1, "amq.foo"));
  await expectChannelClose(w, 1, {
    code: 403,
    text: "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'",
    classId: 40,
    methodId: 10,
  });
});

brokerTest("g. queue.bind / queue.unbind on the default exchange: 403", async (ctx) => {
  const w = await connect(ctx);
  const q = await declareExclusive(w, 1, "");
  const text = "ACCESS_REFUSED - operation not permitted on the default exchange";
  await w.send(M.queueBind(1, q, "", "rk"));
  await expectChannelClose(w, 1, { code: 403, text, classId: 50, methodId: 20 });
  await w.send(W.methodFrame(1, 50, 50, (e) => e.short(0).shortstr(q).shortstr("").shortstr(q).table({})));
  await expectChannelClose(w, 1, { code: 403, text, classId: 50, methodId: 50 });
});

brokerTest("g. exchange.declare with an unknown type: 503 COMMAND_INVALID (connection)", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.exchangeDeclare(1, uniqueName("ex"), "nosuchtype"));
  await expectConnectionClose(w, {
    code: 503,
    text: "COMMAND_INVALID - unknown exchange type 'nosuchtype'",
    classId: 40,
    methodId: 10,
  });
});

brokerTest("g. basic.recover requeue=false: 540 NOT_IMPLEMENTED (Warren: recover-ok)", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicRecover(1, false));
  if (!isExternal) {
    // Warren differs: it implements requeue=false (redelivery to the same consumer, as the spec says).
    await w.expectMethod(60, 111);
    return;
  }
  await expectConnectionClose(w, {
    code: 540,
    text: "NOT_IMPLEMENTED - requeue=false",
    classId: 60,
    methodId: 110,
  });
});

brokerTest("g. basic.recover-async requeue=false: 540 NOT_IMPLEMENTED (Warren: accepted)", async (ctx) => {
  const w = await connect(ctx);
  await w.send(W.methodFrame(1, 60, 100, (e) => e.bit(false)));
  if (!isExternal) {
    // Warren differs: requeue=false is implemented; recover-async has no reply, so the channel
    // must still answer the next method.
    await w.send(M.basicQos(1, 0, 5));
    await w.expectMethod(60, 11);
    return;
  }
  await expectConnectionClose(w, {
    code: 540,
    text: "NOT_IMPLEMENTED - requeue=false",
    classId: 60,
    methodId: 100,
  });
});

brokerTest("g. basic.recover requeue=true: recover-ok", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.basicRecover(1, true));
  await w.expectMethod(60, 111);
});

brokerTest(
  "g. channel.flow active=false: 540 NOT_IMPLEMENTED (Warren: flow-ok, deliveries pause)",
  async (ctx) => {
    const w = await connect(ctx);
    if (!isExternal) {
      // Warren differs: it implements flow control (flow-ok active=false, no deliveries until active=true).
      const q = await declareExclusive(w, 1, "");
      await w.send(M.basicConsume(1, q, "c"));
      await w.expectMethod(60, 21);
      await w.send(M.channelFlow(1, false));
      assert.equal((await w.expectMethod(20, 21)).args.bit(), false);
      await w.send(W.publishFrames(1, "", q, "hi"));
      await w.expectSilence(QUIET_MS);
      await w.send(M.channelFlow(1, true));
      assert.equal((await w.expectMethod(20, 21)).args.bit(), true);
      await w.expectMethod(60, 60);
      return;
    }
    await w.send(M.channelFlow(1, false));
    await expectConnectionClose(w, {
      code: 540,
      text: "NOT_IMPLEMENTED - active=false",
      classId: 20,
      methodId: 20,
    });
  },
);

brokerTest("g. channel.flow active=true: flow-ok active=true", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.channelFlow(1, true));
  const ok = await w.expectMethod(20, 21);
  assert.equal(ok.args.bit(), true);
});

brokerTest("g. tx.select then confirm.select: 406 channel.close", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.txSelect(1));
  await w.expectMethod(90, 11);
  await w.send(M.confirmSelect(1));
  await expectChannelClose(w, 1, {
    code: 406,
    text: "PRECONDITION_FAILED - cannot switch from tx to confirm mode",
    classId: 85,
    methodId: 10,
  });
});

brokerTest("g. confirm.select then tx.select: 406 channel.close", async (ctx) => {
  const w = await connect(ctx);
  await w.send(M.confirmSelect(1));
  await w.expectMethod(85, 11);
  await w.send(M.txSelect(1));
  await expectChannelClose(w, 1, {
    code: 406,
    text: "PRECONDITION_FAILED - cannot switch from confirm to tx mode",
    classId: 90,
    methodId: 10,
  });
});

brokerTest("g. tx.commit / tx.rollback without tx.select: 406 channel.close", async (ctx) => {
  const w = await connect(ctx);
  const text = "PRECONDITION_FAILED - channel is not transactional";
  await w.send(W.methodFrame(1, 90, 20));
  await expectChannelClose(w, 1, { code: 406, text, classId: 90, methodId: 20 });
  await w.send(W.methodFrame(1, 90, 30));
  await expectChannelClose(w, 1, { code: 406, text, classId: 90, methodId: 30 });
});

brokerTest(
  "g. basic.cancel of an unknown tag: cancel-ok; queue.delete of a missing queue: delete-ok 0",
  async (ctx) => {
    const w = await connect(ctx);
    await w.send(M.basicCancel(1, "nope"));
    assert.equal((await w.expectMethod(60, 31)).args.shortstr(), "nope");
    await w.send(M.queueDelete(1, uniqueName("missing")));
    assert.equal((await w.expectMethod(50, 41)).args.long(), 0);
  },
);

// ---------------------------------------------------------------------------------------------------------
// h. After the server sent channel.close

/** Connection with channel 1 closed by the server (406, unknown delivery tag), close-ok not yet sent. */
async function closingChannel(ctx: TestCtx): Promise<W.Wire> {
  const w = await connect(ctx);
  await w.send(M.basicAck(1, 99));
  const c = await w.expectClose();
  assert.deepEqual([c.kind, c.channel, c.replyCode], ["channel", 1, 406]);
  return w;
}

brokerTest("h. methods and whole messages on a closing channel are ignored until close-ok", async (ctx) => {
  const w = await closingChannel(ctx);
  await w.send(
    M.queueDeclare(1, ""),
    W.publishFrames(1, "", "x", "abc"),
    M.basicAck(1, 100), // would be another 406
    M.basicQos(1, 5, 0), // would be a 540 connection error
    M.channelFlow(1, false), // would be a 540 connection error
    M.channelCloseOk(1),
    M.channelOpen(1),
  );
  const ok = await w.expectMethod(20, 11);
  assert.equal(ok.channel, 1);
});

brokerTest("h. client channel.close on a closing channel: close-ok, channel still closing", async (ctx) => {
  const w = await closingChannel(ctx);
  await w.send(M.channelClose(1));
  assert.equal((await w.expectMethod(20, 41)).channel, 1);
  await w.send(M.channelOpen(1));
  await expectConnectionClose(w, {
    code: 504,
    text: "CHANNEL_ERROR - second 'channel.open' seen",
    classId: 20,
    methodId: 10,
  });
});

brokerTest("h. channel.open on a closing channel: 504 second 'channel.open'", async (ctx) => {
  const w = await closingChannel(ctx);
  await w.send(M.channelOpen(1));
  await expectConnectionClose(w, {
    code: 504,
    text: "CHANNEL_ERROR - second 'channel.open' seen",
    classId: 20,
    methodId: 10,
  });
});

brokerTest("h. content header alone on a closing channel: 505 (not ignored)", async (ctx) => {
  const w = await closingChannel(ctx);
  await w.send(W.headerFrame(1, 3));
  await expectConnectionClose(w, { code: 505, text: EXPECTED_METHOD_FRAME, classId: 0, methodId: 0 });
});

brokerTest(
  "h. basic.publish then a method on a closing channel: 505 (framing still checked)",
  async (ctx) => {
    const w = await closingChannel(ctx);
    await w.send(M.basicPublish(1, "", "x"), M.queueDeclare(1, ""));
    await expectConnectionClose(w, { code: 505, text: EXPECTED_HEADER_60, classId: 60, methodId: 40 });
  },
);

brokerTest("h. truncated method on a closing channel: 501 (decoding still checked)", async (ctx) => {
  const w = await closingChannel(ctx);
  await w.send(W.frame(W.FRAME_METHOD, 1, new W.Enc().short(60).short(10).finish()));
  await expectConnectionClose(w, {
    code: 501,
    text: "FRAME_ERROR - cannot decode <<>>",
    classId: 60,
    methodId: 10,
  });
});

brokerTest("h. unknown method on a closing channel: dropped (Warren: 503 COMMAND_INVALID)", async (ctx) => {
  const w = await closingChannel(ctx);
  await w.send(W.methodFrame(1, 60, 99));
  // Warren differs: RabbitMQ's drop is a reader crash; Warren names the unknown method in a 503.
  await expectUnknownMethod(w, 60, 99);
});

brokerTest("h. other channels keep working while one is closing", async (ctx) => {
  const w = await closingChannel(ctx);
  await W.openChannel(w, 2);
  await expectAlive(w, 2);
});

brokerTest("h. after close-ok the channel is closed: a method on it is 504", async (ctx) => {
  const w = await closingChannel(ctx);
  await w.send(M.channelCloseOk(1), M.queueDeclare(1, ""));
  await expectConnectionClose(w, { code: 504, text: EXPECTED_CHANNEL_OPEN, classId: 50, methodId: 10 });
});

brokerTest(
  "h. after the server's connection.close, frames are ignored and connection.close gets close-ok",
  async (ctx) => {
    const w = await connect(ctx);
    await w.send(M.queueDeclare(5, ""));
    const c = await w.expectClose();
    assert.equal(c.replyCode, 504);
    await w.send(
      M.queueDeclare(1, ""),
      M.channelOpen(2),
      W.frame(9, 0, new Uint8Array(0)),
      M.connectionClose(),
    );
    await w.expectMethod(10, 51);
  },
);

// ---------------------------------------------------------------------------------------------------------
// i. Heartbeats

brokerTest(
  "i. heartbeat=1 and a silent client: heartbeats every ~0.5 s, socket dropped after ~3 s",
  async (ctx) => {
    const w = await connect(ctx, { heartbeat: 1, channel: 0 });
    const t0 = Date.now();
    let heartbeats = 0;
    while (true) {
      let f: W.Frame;
      try {
        f = await w.readFrame(SILENT_CLOSE_MS + SLACK_MS - (Date.now() - t0));
      } catch (e) {
        if (e instanceof W.SocketClosedError) break;
        throw e;
      }
      assert.equal(f.type, W.FRAME_HEARTBEAT, "only heartbeats before the socket is dropped");
      assert.equal(f.channel, 0);
      heartbeats++;
    }
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 1900 && elapsed <= 3000 + SLACK_MS, `dropped after ${elapsed} ms`);
    assert.ok(heartbeats >= 3, `${heartbeats} heartbeats received`);
  },
);

// ---------------------------------------------------------------------------------------------------------
// j. Handshake timeout (RabbitMQ: 10 s; Warren in-process with handshakeTimeout: 500 ms)

const HANDSHAKE_TIMEOUT = 500;
const hsOpts = { broker: { handshakeTimeout: HANDSHAKE_TIMEOUT } };

brokerTest("j. handshake timeout: a socket that sends nothing is closed, nothing written", async (ctx) => {
  const w = await raw(ctx);
  const t0 = Date.now();
  await expectAbort(w, HANDSHAKE_TIMEOUT + 2000);
  assert.ok(Date.now() - t0 >= HANDSHAKE_TIMEOUT - 100);
}, hsOpts);

brokerTest(
  "j. handshake timeout: silent after the protocol header, connection.start then close",
  async (ctx) => {
    const w = await started(ctx);
    await expectAbort(w, HANDSHAKE_TIMEOUT + 2000);
  },
  hsOpts,
);

brokerTest(
  "j. handshake timeout: an incomplete protocol header, closed with nothing written",
  async (ctx) => {
    const w = await raw(ctx);
    await w.send(te.encode("AMQP"));
    await expectAbort(w, HANDSHAKE_TIMEOUT + 2000);
  },
  hsOpts,
);

brokerTest(
  "j. handshake timeout: tune-ok but no connection.open, closed with nothing written",
  async (ctx) => {
    const w = await tuned(ctx);
    await expectAbort(w, HANDSHAKE_TIMEOUT + 2000);
  },
  hsOpts,
);
