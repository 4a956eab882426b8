// Damaged store files: with the broker stopped, segments and queue journals are cut short or have
// bytes flipped (offsets found by parsing the files, server/store/format.ts), then the broker is
// started again. It must start, say what it found in an error line, and keep every intact
// message, in order; one damaged queue must not cost the others anything (DESIGN.md "Durability
// contract", docs/storage.md).
//
// Skipped against an external broker (WARREN_TEST_URL).

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { waitFor } from "./_broker.ts";
import { amqplib } from "./_deps.ts";
import type { AmqplibConnection, GetMessage } from "./_deps.ts";
import { restartIgnored, spawnWarren, tempDataDir, type WarrenProcess } from "./_process.ts";
import {
  ENTRY_DELIVERED,
  ENTRY_ENQUEUED,
  ENTRY_REMOVED,
  ENTRY_SIZE,
  readJournalHeader,
  RECORD_HEADER_SIZE,
  SEGMENT_HEADER_SIZE,
} from "../../server/store/format.ts";

interface Ctx {
  dataDir: string;
  /** Starts the broker on the data directory (it must not be running). */
  start(): Promise<WarrenProcess>;
  /** Stops it cleanly, closing the clients first. */
  stop(): Promise<void>;
  connect(): Promise<AmqplibConnection>;
}

function corruptionTest(name: string, fn: (c: Ctx) => Promise<void>): void {
  Deno.test({
    name,
    ignore: restartIgnored !== undefined,
    async fn() {
      const { dir, cleanup } = await tempDataDir("warren-corrupt-");
      const dataDir = join(dir, "data");
      let proc: WarrenProcess | null = null;
      let conns: AmqplibConnection[] = [];
      const ctx: Ctx = {
        dataDir,
        async start() {
          assert.equal(proc, null);
          proc = await spawnWarren(dataDir);
          return proc;
        },
        async stop() {
          for (const c of conns) await c.close().catch(() => {});
          conns = [];
          if (proc !== null) {
            const clean = await proc.stop();
            assert.ok(clean, `no clean exit on SIGTERM\n${proc.stderr()}`);
          }
          proc = null;
        },
        async connect() {
          const c = await amqplib.connect(proc!.url);
          c.on("error", () => {});
          conns.push(c);
          return c;
        },
      };
      try {
        await fn(ctx);
      } catch (err) {
        const p = proc as WarrenProcess | null;
        if (p !== null && err instanceof Error) err.message += `\n--- broker stderr ---\n${p.stderr()}`;
        throw err;
      } finally {
        await ctx.stop().catch(() => {});
        await cleanup();
      }
    },
  });
}

// ---------------------------------------------------------------- reading the files

interface RecordAt {
  offset: number;
  /** Whole record, header included. */
  length: number;
  body: string;
}

/** The records of a segment file, parsed with the format of server/store/format.ts. */
function segmentRecords(path: string): RecordAt[] {
  const b = Deno.readFileSync(path);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: RecordAt[] = [];
  let p = SEGMENT_HEADER_SIZE;
  while (p + RECORD_HEADER_SIZE <= b.length) {
    const len = v.getUint32(p);
    let q = p + RECORD_HEADER_SIZE;
    q += 1 + b[q]; // exchange
    q += 1 + b[q]; // routing key
    const props = v.getUint32(q);
    q += 4 + props;
    out.push({
      offset: p,
      length: RECORD_HEADER_SIZE + len,
      body: new TextDecoder().decode(b.subarray(q, p + RECORD_HEADER_SIZE + len)),
    });
    p += RECORD_HEADER_SIZE + len;
  }
  assert.equal(p, b.length, `${path} ends on a record boundary`);
  return out;
}

interface EntryAt {
  /** Byte offset of the entry in the journal file. */
  at: number;
  kind: number;
  segment: number;
  offset: number;
}

/** A queue's journal file (found by the queue name in its header) and its entries. */
function journalOf(dataDir: string, queue: string): { path: string; headerSize: number; entries: EntryAt[] } {
  const dir = join(dataDir, "queues");
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.endsWith(".qj")) continue;
    const path = join(dir, e.name);
    const b = Deno.readFileSync(path);
    const h = readJournalHeader(b);
    if (typeof h === "string" || h.queue !== queue) continue;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const entries: EntryAt[] = [];
    for (let at = h.size; at + ENTRY_SIZE <= b.length; at += ENTRY_SIZE) {
      entries.push({ at, kind: b[at], segment: v.getUint32(at + 4), offset: v.getUint32(at + 8) });
    }
    return { path, headerSize: h.size, entries };
  }
  throw new Error(`no journal for queue ${queue} in ${dir}`);
}

/** Segment files, oldest first. */
function segments(dataDir: string): string[] {
  const dir = join(dataDir, "messages");
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /^\d{8}\.seg$/.test(n)).sort()
    .map((n) => join(dir, n));
}

/** The segment holding `body` and that record's place in it. */
function findRecord(dataDir: string, body: string): { path: string; record: RecordAt } {
  for (const path of segments(dataDir)) {
    const r = segmentRecords(path).find((x) => x.body === body);
    if (r) return { path, record: r };
  }
  throw new Error(`no record with body ${body}`);
}

function flipByte(path: string, at: number): void {
  const b = Deno.readFileSync(path);
  assert.ok(at < b.length, `offset ${at} inside ${path} (${b.length} bytes)`);
  b[at] ^= 0x5a;
  Deno.writeFileSync(path, b);
}

function truncate(path: string, size: number): void {
  Deno.truncateSync(path, size);
}

// ---------------------------------------------------------------- clients

async function publish(conn: AmqplibConnection, queue: string, payloads: string[]): Promise<void> {
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  for (const p of payloads) ch.sendToQueue(queue, Buffer.from(p), { persistent: true });
  await ch.waitForConfirms();
  await ch.close();
}

async function drain(conn: AmqplibConnection, queue: string): Promise<GetMessage[]> {
  const ch = await conn.createChannel();
  const out: GetMessage[] = [];
  while (true) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) break;
    out.push(m);
  }
  await ch.close();
  return out;
}

function bodies(ms: GetMessage[]): string[] {
  return ms.map((m) => m.content.toString());
}

function range(n: number, prefix = "m"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

/** Error lines of the broker's log matching `re`. */
function errorLines(proc: WarrenProcess, re: RegExp): string[] {
  return proc.stderr().split("\n").filter((l) => / error /.test(l) && re.test(l));
}

/** Publishes `n` messages to `queue`, stops the broker, and returns the files' state. */
async function setUp(c: Ctx, queues: Record<string, string[]>): Promise<void> {
  await c.start();
  const conn = await c.connect();
  for (const [q, payloads] of Object.entries(queues)) await publish(conn, q, payloads);
  await c.stop();
}

// ---------------------------------------------------------------- segments

corruptionTest(
  "a segment cut short mid-record: the broker starts, says so, keeps every message before the cut",
  async (c) => {
    await setUp(c, { q: range(10), other: range(3, "o") });
    // Both queues' records are in one segment, interleaved by publish order: q's m0..m9, then o0..o2.
    const { path, record } = findRecord(c.dataDir, "m6");
    truncate(path, record.offset + Math.floor(record.length / 2));
    const proc = await c.start();
    const conn = await c.connect();
    assert.deepEqual(bodies(await drain(conn, "q")), range(6));
    assert.deepEqual(bodies(await drain(conn, "other")), []); // past the cut too
    const lines = errorLines(proc, /queue journal damaged/);
    assert.equal(lines.length, 2, proc.stderr());
    assert.ok(
      lines.some((l) => /queue=q\b/.test(l) && /messagesWithMissingRecords=4/.test(l)),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => /queue=other\b/.test(l) && /messagesWithMissingRecords=3/.test(l)),
      lines.join("\n"),
    );
    // The store goes on: new messages are kept, and the next start is clean.
    await publish(conn, "q", ["after"]);
    await c.stop();
    const again = await c.start();
    const c2 = await c.connect();
    assert.deepEqual(bodies(await drain(c2, "q")), ["after"]);
    assert.deepEqual(errorLines(again, /./), []);
  },
);

corruptionTest("a segment cut inside a record header, and one cut to its file header", async (c) => {
  await setUp(c, { q: range(5) });
  const { path, record } = findRecord(c.dataDir, "m3");
  truncate(path, record.offset + 5); // 5 bytes of m3's 12-byte record header remain
  let proc = await c.start();
  let conn = await c.connect();
  assert.deepEqual(bodies(await drain(conn, "q")), range(3));
  assert.equal(
    errorLines(proc, /queue journal damaged.*messagesWithMissingRecords=2/).length,
    1,
    proc.stderr(),
  );
  await publish(conn, "q", range(4, "n"));
  await c.stop();
  // Now the newest segment (holding n0..n3) loses everything but part of its own header.
  const newest = segments(c.dataDir).at(-1)!;
  assert.equal(segmentRecords(newest).length, 4);
  truncate(newest, 10);
  proc = await c.start();
  conn = await c.connect();
  assert.deepEqual(bodies(await drain(conn, "q")), []);
  assert.ok(errorLines(proc, /damaged file set aside/).length === 1, proc.stderr());
  await publish(conn, "q", ["fresh"]);
  assert.deepEqual(bodies(await drain(conn, "q")), ["fresh"]);
});

corruptionTest(
  "a flipped byte in one record's body: that message is dropped with a log line, the rest delivered in order",
  async (c) => {
    await setUp(c, { q: range(10) });
    const m4 = findRecord(c.dataDir, "m4");
    flipByte(m4.path, m4.record.offset + m4.record.length - 1); // last byte of m4's body
    const m7 = findRecord(c.dataDir, "m7");
    flipByte(m7.path, m7.record.offset + 2); // m7's length field
    const proc = await c.start();
    const conn = await c.connect();
    const got = await drain(conn, "q");
    assert.deepEqual(bodies(got), ["m0", "m1", "m2", "m3", "m5", "m6", "m8", "m9"]);
    await waitFor(() => errorLines(proc, /damaged message record dropped/).length > 0, { timeout: 2000 });
    const lines = errorLines(proc, /damaged message record dropped/);
    // One line per damaged segment, naming it and the first problem found.
    assert.equal(lines.length, 1, proc.stderr());
    assert.match(lines[0], /segment=00000001\.seg/);
    assert.match(lines[0], /checksum mismatch/);
    // The broker and the queue go on.
    await publish(conn, "q", ["after"]);
    assert.deepEqual(bodies(await drain(conn, "q")), ["after"]);
  },
);

corruptionTest(
  "a segment with a damaged file header is set aside; other segments' messages are kept",
  async (c) => {
    await setUp(c, { q: range(3) });
    await c.start();
    const conn = await c.connect();
    await publish(conn, "q", range(3, "n")); // into segment 2
    await c.stop();
    const [first, second] = segments(c.dataDir);
    assert.equal(segmentRecords(first).length, 3);
    assert.equal(segmentRecords(second).length, 3);
    flipByte(first, 0); // magic
    const proc = await c.start();
    const c2 = await c.connect();
    assert.deepEqual(bodies(await drain(c2, "q")), range(3, "n"));
    assert.equal(errorLines(proc, /damaged file set aside.*not a segment file/).length, 1, proc.stderr());
    assert.ok((await Deno.stat(`${first}.bad`)).isFile);
  },
);

// ---------------------------------------------------------------- journals

corruptionTest("a flipped byte in journal entries: only those entries are lost", async (c) => {
  await c.start();
  const conn = await c.connect();
  await publish(conn, "q", range(10));
  await publish(conn, "other", range(3, "o"));
  // m0 delivered and acked: its journal says enqueued, delivered, removed.
  const ch = await conn.createChannel();
  const m0 = await ch.get("q", { noAck: false });
  assert.ok(m0 !== false);
  ch.ack(m0);
  await ch.close();
  await c.stop();
  const j = journalOf(c.dataDir, "q");
  assert.deepEqual(
    j.entries.map((e) => e.kind),
    [...Array(10).fill(ENTRY_ENQUEUED), ENTRY_DELIVERED, ENTRY_REMOVED],
  );
  // The enqueued entry of m3: m3 is lost. The removed entry of m0: m0 comes back (at least once),
  // marked redelivered (its delivered entry is intact).
  flipByte(j.path, j.entries[3].at + 9);
  flipByte(j.path, j.entries[11].at + 21);
  const proc = await c.start();
  const c2 = await c.connect();
  const got = await drain(c2, "q");
  assert.deepEqual(bodies(got), ["m0", "m1", "m2", "m4", "m5", "m6", "m7", "m8", "m9"]);
  assert.deepEqual(got.map((m) => m.fields.redelivered), [true, ...Array(8).fill(false)]);
  assert.deepEqual(bodies(await drain(c2, "other")), range(3, "o"));
  const lines = errorLines(proc, /queue journal damaged/);
  assert.equal(lines.length, 1, proc.stderr());
  assert.match(lines[0], /queue=q\b/);
  assert.match(lines[0], /damagedEntries=2/);
});

corruptionTest(
  "a flipped byte in a delivered entry: the message comes back, not marked redelivered",
  async (c) => {
    await c.start();
    const conn = await c.connect();
    await publish(conn, "q", range(3));
    const ch = await conn.createChannel();
    const m0 = await ch.get("q", { noAck: false }); // m0 delivered, not acked: requeued at the stop
    assert.ok(m0 !== false);
    await c.stop();
    const j = journalOf(c.dataDir, "q");
    const delivered = j.entries.findIndex((e) => e.kind === ENTRY_DELIVERED);
    assert.equal(delivered, 3);
    flipByte(j.path, j.entries[delivered].at + 0);
    await c.start();
    const got = await drain(await c.connect(), "q");
    assert.deepEqual(bodies(got), range(3));
    assert.deepEqual(got.map((m) => m.fields.redelivered), [false, false, false]);
  },
);

corruptionTest("a journal cut mid-entry keeps every whole entry before the cut", async (c) => {
  await setUp(c, { q: range(10), other: range(2, "o") });
  const j = journalOf(c.dataDir, "q");
  assert.equal(j.entries.length, 10);
  truncate(j.path, j.entries[9].at + 12);
  const proc = await c.start();
  const conn = await c.connect();
  assert.deepEqual(bodies(await drain(conn, "q")), range(9));
  assert.deepEqual(bodies(await drain(conn, "other")), range(2, "o"));
  const lines = errorLines(proc, /queue journal damaged/);
  assert.equal(lines.length, 1, proc.stderr());
  assert.match(lines[0], /tornBytes=12/);
  // Appending after the repaired journal works: the next start finds everything.
  await publish(conn, "q", ["after"]);
  await c.stop();
  const again = await c.start();
  assert.deepEqual(bodies(await drain(await c.connect(), "q")), ["after"]);
  assert.deepEqual(errorLines(again, /./), []);
});

corruptionTest("a journal with a bad header is set aside as .bad; the other queues are whole", async (c) => {
  await setUp(c, { q1: range(4, "a"), q2: range(5, "b"), q3: range(2, "c") });
  const j = journalOf(c.dataDir, "q2");
  flipByte(j.path, j.headerSize - 1); // inside the queue name: the header checksum fails
  const proc = await c.start();
  const conn = await c.connect();
  assert.deepEqual(bodies(await drain(conn, "q1")), range(4, "a"));
  assert.deepEqual(bodies(await drain(conn, "q3")), range(2, "c"));
  // q2 is still defined (definitions.json), with no messages.
  assert.deepEqual(bodies(await drain(conn, "q2")), []);
  const lines = errorLines(proc, /damaged file set aside/);
  assert.equal(lines.length, 1, proc.stderr());
  assert.match(lines[0], /header checksum mismatch/);
  assert.ok((await Deno.stat(`${j.path}.bad`)).isFile);
  // q2 works again, with a fresh journal.
  await publish(conn, "q2", ["new"]);
  await c.stop();
  await c.start();
  assert.deepEqual(bodies(await drain(await c.connect(), "q2")), ["new"]);
});

corruptionTest(
  "an empty journal file (crash right after creating it) does not stop the broker",
  async (c) => {
    await setUp(c, { q1: range(3), q2: range(3, "b") });
    const j = journalOf(c.dataDir, "q1");
    truncate(j.path, 0);
    const proc = await c.start();
    const conn = await c.connect();
    assert.deepEqual(bodies(await drain(conn, "q2")), range(3, "b"));
    assert.deepEqual(bodies(await drain(conn, "q1")), []);
    assert.equal(errorLines(proc, /damaged file set aside/).length, 1, proc.stderr());
  },
);

// ---------------------------------------------------------------- definitions

for (const leftover of ["garbage{{{not json", ""]) {
  corruptionTest(
    `a ${leftover === "" ? "empty" : "garbage"} definitions.json.tmp left by a crash is ignored and removed`,
    async (c) => {
      await setUp(c, { q: range(3) });
      const tmp = join(c.dataDir, "definitions.json.tmp");
      await Deno.writeTextFile(tmp, leftover);
      const proc = await c.start();
      const conn = await c.connect();
      assert.deepEqual(bodies(await drain(conn, "q")), range(3));
      assert.deepEqual(errorLines(proc, /./), []);
      await assert.rejects(Deno.stat(tmp), Deno.errors.NotFound);
    },
  );
}

corruptionTest(
  "an unreadable definitions.json is set aside with an error line; the broker starts",
  async (c) => {
    // Write-then-rename never leaves a torn file; this is damage from outside. Without definitions
    // no queue is defined; their journals are set aside (`.bad`) and no segment is deleted, so an
    // operator can still recover the messages, rather than every message being dropped.
    await setUp(c, { q: range(3) });
    const path = join(c.dataDir, "definitions.json");
    const journal = journalOf(c.dataDir, "q").path;
    const segmentsBefore = [...Deno.readDirSync(join(c.dataDir, "messages"))].map((e) => e.name).sort();
    await Deno.writeTextFile(path, "{ torn");
    const proc = await c.start();
    const conn = await c.connect();
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    await assert.rejects(ch.checkQueue("q"), /404/);
    assert.equal(errorLines(proc, /definitions file unreadable, set aside/).length, 1, proc.stderr());
    assert.equal(errorLines(proc, /damaged file set aside/).length, 1, proc.stderr());
    assert.equal(await Deno.readTextFile(`${path}.bad`), "{ torn");
    await Deno.stat(`${journal}.bad`);
    const segmentsAfter = [...Deno.readDirSync(join(c.dataDir, "messages"))].map((e) => e.name).sort();
    for (const name of segmentsBefore) assert.ok(segmentsAfter.includes(name), `segment ${name} was deleted`);
  },
);

corruptionTest(
  "a journal compaction left unfinished (queues/*.qj.tmp) is removed; the journal is used",
  async (c) => {
    await setUp(c, { q: range(3) });
    const j = journalOf(c.dataDir, "q");
    const tmp = `${j.path}.tmp`;
    await Deno.writeTextFile(tmp, "half a rewrite");
    const proc = await c.start();
    assert.deepEqual(bodies(await drain(await c.connect(), "q")), range(3));
    assert.deepEqual(errorLines(proc, /./), []);
    await assert.rejects(Deno.stat(tmp), Deno.errors.NotFound);
  },
);
