// The web dashboard in a real browser: headless Chromium (Debian's `chromium` package, never a
// downloaded browser) driven by playwright-core, against an in-process broker with AMQP and HTTP
// on ephemeral ports. The test logs in, watches a queue created over AMQP appear with its depth,
// publishes and gets a message on the queue page (with markup in the payload: it must show as
// text), purges, and moves a dead letter back to its queue, checking each effect over AMQP.
//
// Run: `deno task test:browser`. Chromium comes from WARREN_CHROMIUM or /usr/bin/chromium; without
// it the test is skipped, unless WARREN_REQUIRE_BROWSER=1 (CI) makes that a failure.
// Screenshots go to WARREN_SCREENSHOTS (a directory; `WARREN_SCREENSHOTS=docs` refreshes the
// README's), by default a temporary directory named in the output.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { chromium, type Page } from "playwright-core";
import { createBroker } from "../../server/mod.ts";
import { amqplib } from "../integration/_deps.ts";
import { waitFor } from "../integration/_broker.ts";

const CHROMIUM = Deno.env.get("WARREN_CHROMIUM") ?? "/usr/bin/chromium";
const REQUIRED = Deno.env.get("WARREN_REQUIRE_BROWSER") === "1";

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const haveBrowser = exists(CHROMIUM);
if (!haveBrowser && REQUIRED) throw new Error(`Cannot run the browser test: no Chromium at "${CHROMIUM}"`);

/** The text of the first element matching `selector`, trimmed ("" when absent). */
async function text(page: Page, selector: string): Promise<string> {
  const el = await page.$(selector);
  return el ? (await el.innerText()).trim() : "";
}

/** Waits until the element's text satisfies `pred` (the dashboard refreshes every 5 s). */
async function waitText(
  page: Page,
  selector: string,
  pred: (t: string) => boolean,
  what: string,
): Promise<string> {
  let last = "";
  await waitFor(async () => pred(last = await text(page, selector)), {
    timeout: 15_000,
    interval: 100,
    message: `${what} (last text: ${JSON.stringify(last)})`,
  });
  return last;
}

Deno.test({
  name: "dashboard: login, live queue depth, publish/get/purge, dead letter moved back (headless Chromium)",
  ignore: !haveBrowser,
  // playwright-core keeps a pipe and timers to the browser process between steps.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const shots = Deno.env.get("WARREN_SCREENSHOTS") ??
      await Deno.makeTempDir({ prefix: "warren-dashboard-" });
    await Deno.mkdir(shots, { recursive: true });
    const running = await createBroker({ port: 0, host: "127.0.0.1", httpPort: 0, logLevel: "none" });
    const base = `http://127.0.0.1:${running.httpPort}/`;
    const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${running.port}`);
    const ch = await conn.createConfirmChannel();
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox"] });
    const pageErrors: string[] = [];
    // Some traffic for the overview's charts while the test runs.
    await ch.assertQueue("dash.traffic", { durable: false });
    const started = Date.now();
    const traffic = setInterval(() => {
      const n = 20 + Math.round(15 * Math.sin((Date.now() - started) / 4000));
      for (let i = 0; i < n; i++) ch.sendToQueue("dash.traffic", Buffer.from("tick"));
    }, 100);
    await ch.consume("dash.traffic", (m) => m && ch.ack(m));
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      page.on("pageerror", (e) => pageErrors.push(e.message));
      page.on("dialog", (d) => d.accept());
      const go = (hash: string) => page.evaluate((h) => (location.hash = h), hash);

      await t.step("a wrong password is refused, the right one logs in", async () => {
        await page.goto(base);
        await page.fill("input[name=username]", "guest");
        await page.fill("input[name=password]", "nope");
        await page.click("button[type=submit]");
        await waitText(page, ".notice.error", (s) => s.includes("Login failed"), "login refused");
        await page.fill("input[name=password]", "guest");
        await page.click("button[type=submit]");
        await page.waitForSelector("[data-stat=queues]");
        assert.equal(await page.evaluate(() => sessionStorage.getItem("warren.auth") !== null), true);
      });

      await t.step("a queue declared over AMQP appears with its depth", async () => {
        await go("#/queues");
        await page.waitForSelector("[data-depth='dash.traffic']");
        await ch.assertQueue("dash.orders", { durable: true });
        for (let i = 0; i < 3; i++) ch.sendToQueue("dash.orders", Buffer.from(`order ${i}`));
        await ch.waitForConfirms();
        await waitText(page, "[data-depth='dash.orders']", (s) => s === "3", "dash.orders shows 3 messages");
      });

      await t.step("the overview counts the queue and draws the charts", async () => {
        await go("#/overview");
        await waitText(page, "[data-stat=queues]", (s) => s === "2", "2 queues in the overview");
        // Samples are taken on every page since login: the rate chart has drawn a line by now.
        await page.waitForSelector(".chart polyline", { timeout: 15_000 });
      });

      const payload = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> héllo`;
      await t.step("queue page: publish, then get the message back, shown as text", async () => {
        await go("#/queues");
        await page.click("a[data-queue='dash.orders']");
        await waitText(page, "[data-stat=messages]", (s) => s === "3", "queue page depth");
        await page.fill("form[data-form=publish] textarea[name=headers]", '{"origin": "browser"}');
        await page.fill("form[data-form=publish] textarea[name=payload]", payload);
        await page.click("form[data-form=publish] button[type=submit]");
        await waitText(
          page,
          "[data-role=publish-status]",
          (s) => s.includes("published to dash.orders"),
          "publish",
        );
        const q = await ch.checkQueue("dash.orders");
        assert.equal(q.messageCount, 4);

        await page.fill("form[data-form=get] input[name=count]", "4");
        await page.click("form[data-form=get] button[type=submit]");
        await waitText(page, "[data-role=get-status]", (s) => s.includes("Got 4 messages"), "get 4");
        const payloads = await page.$$eval(
          "[data-role=get-results] [data-role=payload]",
          (els) => els.map((e) => e.textContent),
        );
        assert.deepEqual(payloads, ["order 0", "order 1", "order 2", payload]);
        assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
        assert.equal(
          await page.$$eval("[data-role=get-results] img, [data-role=get-results] script", (e) => e.length),
          0,
        );
        assert.match(await text(page, "[data-message='3']"), /origin\s+browser/);
        // ack_requeue_true: still there.
        assert.equal((await ch.checkQueue("dash.orders")).messageCount, 4);
      });

      await t.step("queue page: purge empties the queue", async () => {
        await page.click("button[data-action=purge]");
        await waitText(page, "[data-role=danger-status]", (s) => s.includes("purged"), "purge");
        assert.equal((await ch.checkQueue("dash.orders")).messageCount, 0);
      });

      await t.step("dead letters: x-death shown, a message moved back to its queue", async () => {
        await ch.assertExchange("dash.dlx", "fanout", { durable: false });
        await ch.assertQueue("dash.dlq", { durable: false });
        await ch.bindQueue("dash.dlq", "dash.dlx", "");
        await ch.assertQueue("dash.work", {
          durable: false,
          arguments: { "x-dead-letter-exchange": "dash.dlx" },
        });
        for (const body of ["first", "second"]) {
          ch.sendToQueue("dash.work", Buffer.from(body), { headers: { keep: "me" }, messageId: body });
        }
        await ch.waitForConfirms();
        for (let i = 0; i < 2; i++) {
          const m = await ch.get("dash.work");
          assert.ok(m);
          ch.nack(m, false, false);
        }
        await waitFor(async () => (await ch.checkQueue("dash.dlq")).messageCount === 2);

        await go("#/dead-letters");
        await page.click("a[data-inspect='dash.dlq']");
        await page.waitForSelector("[data-role=x-death]");
        const xdeath = await text(page, "[data-message='1'] [data-role=x-death] tbody tr");
        assert.match(xdeath, /dash\.work\s+rejected\s+1/);
        await page.screenshot({ path: `${shots}/dashboard-dead-letters.png`, fullPage: true });

        // Move the second one: the first is taken too and goes back to the end of the DLQ.
        await page.click("[data-message='1'] button[data-action=move-back]");
        const said = await waitText(page, "[data-role=dl-status]", (s) => s.includes("Moved"), "move back");
        assert.match(said, /Moved message 2 back to queue 'dash\.work'/);
        assert.match(said, /1 message that was ahead of it in 'dash\.dlq'/);

        const back = await ch.get("dash.work", { noAck: true });
        assert.ok(back, "the message is back in dash.work");
        assert.equal(back.content.toString(), "second");
        const headers = back.properties.headers ?? {};
        assert.equal(headers.keep, "me");
        assert.equal(back.properties.messageId, "second");
        assert.equal(headers["x-death"]?.[0]?.queue, "dash.work");
        assert.equal(headers["x-death"]?.[0]?.reason, "rejected");
        assert.equal(await ch.get("dash.work"), false);
        const left = await ch.get("dash.dlq", { noAck: true });
        assert.ok(left);
        assert.equal(left.content.toString(), "first");
        assert.equal(await ch.get("dash.dlq"), false);
      });

      await t.step("connections: the close button closes the AMQP connection", async () => {
        const victim = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${running.port}`, {
          clientProperties: { product: "dash-victim" },
        });
        const closed = new Promise<unknown>((resolve) => victim.on("close", resolve));
        victim.on("error", () => {});
        await go("#/connections");
        const row = page.locator("tr", { hasText: "dash-victim" });
        await row.waitFor({ timeout: 15_000 });
        await row.locator("button[data-action=close-connection]").click();
        await closed;
      });

      await t.step("admin: add a user, a vhost, a permission and a policy through the forms", async () => {
        await go("#/admin");
        await page.waitForSelector("[data-user=guest]");
        await page.fill("form[data-form=add-user] input[name=name]", "dash-ops");
        await page.fill("form[data-form=add-user] input[name=password]", "s3cret");
        await page.fill("form[data-form=add-user] input[name=tags]", "monitoring");
        await page.click("form[data-form=add-user] button[type=submit]");
        await page.waitForSelector("[data-user=dash-ops]");
        await page.fill("form[data-form=add-vhost] input[name=name]", "dash-vh");
        await page.click("form[data-form=add-vhost] button[type=submit]");
        await page.waitForSelector("[data-vhost=dash-vh]");
        await page.selectOption("form[data-form=set-permission] select[name=user]", "dash-ops");
        await page.selectOption("form[data-form=set-permission] select[name=vhost]", "dash-vh");
        await page.fill("form[data-form=set-permission] input[name=write]", "^$");
        await page.click("form[data-form=set-permission] button[type=submit]");
        await waitText(
          page,
          "[data-role=admin-status]",
          (s) => s.includes("Permissions of dash-ops"),
          "permission set",
        );
        const perms = await fetch(`${base}api/permissions/dash-vh/dash-ops`, {
          headers: { authorization: `Basic ${btoa("guest:guest")}` },
        });
        assert.deepEqual(await perms.json(), {
          user: "dash-ops",
          vhost: "dash-vh",
          configure: ".*",
          write: "^$",
          read: ".*",
        });
        // The new user can log in to the API with the password given in the form.
        const whoami = await fetch(`${base}api/whoami`, {
          headers: { authorization: `Basic ${btoa("dash-ops:s3cret")}` },
        });
        assert.deepEqual(await whoami.json(), { name: "dash-ops", tags: ["monitoring"] });

        await page.fill("form[data-form=add-policy] input[name=name]", "dash-cap");
        await page.fill("form[data-form=add-policy] input[name=pattern]", "^dash\\.");
        await page.fill("form[data-form=add-policy] textarea[name=definition]", '{"max-length": 1000}');
        await page.click("form[data-form=add-policy] button[type=submit]");
        // Saved, or (on a broker without /api/policies) the API's refusal shown to the user.
        const said = await waitText(
          page,
          "[data-role=admin-status]",
          (s) => s.includes("olicy"),
          "policy answer",
        );
        if (said.includes("saved")) await page.waitForSelector("[data-policy=dash-cap]");
        else assert.match(said, /Failed: Not Found/);
      });

      await t.step("queues: many queues are paged and filtered by the broker", async () => {
        const auth = { authorization: `Basic ${btoa("guest:guest")}`, "content-type": "application/json" };
        for (let i = 0; i < 120; i++) {
          const name = `dash.page-${String(i).padStart(3, "0")}`;
          const res = await fetch(`${base}api/queues/%2F/${name}`, {
            method: "PUT",
            headers: auth,
            body: "{}",
          });
          assert.equal(res.status, 201);
          await res.body?.cancel();
        }
        await go("#/queues");
        const total = 124; // dash.traffic, dash.orders, dash.dlq, dash.work and these 120
        await waitText(page, "[data-role=page]", (s) => s === "Page 1 of 3", "three pages of 50");
        assert.equal(await page.$$eval("a[data-queue]", (els) => els.length), 50);
        await page.click("text=Next ›");
        await waitText(page, "[data-role=page]", (s) => s === "Page 2 of 3", "page 2");
        await page.fill("input[data-role=filter]", "page-11");
        await waitFor(async () => (await page.$$eval("a[data-queue]", (els) => els.length)) === 10, {
          timeout: 5_000,
          message: "the filter keeps dash.page-110 … 119",
        });
        assert.match(await text(page, ".toolbar .muted"), new RegExp(`^10 of ${total} match$`));
        assert.equal(await text(page, "[data-role=page]"), "Page 1 of 1");
      });

      await t.step("the overview's charts keep the history of the whole visit", async () => {
        await go("#/overview");
        // One sample per 5 s poll on every page since login: four by now, or soon.
        await waitFor(
          async () => ((await page.getAttribute(".chart polyline", "points")) ?? "").split(" ").length >= 4,
          { timeout: 20_000, interval: 200, message: "four samples in the rate chart" },
        );
        await page.screenshot({ path: `${shots}/dashboard.png` });
      });

      assert.deepEqual(pageErrors, [], "no script errors in the page");
    } finally {
      clearInterval(traffic);
      await browser.close();
      await conn.close().catch(() => {});
      await running.close();
      // deno-lint-ignore no-console
      console.log(`screenshots in ${shots}`);
    }
  },
});
