/**
 * `/docs` in a real browser (Debian's headless Chromium driven by puppeteer-core): the page loads
 * with no failed request and nothing from another origin, renders the enabled plugins' operations
 * with their schemas and error codes, and a "try it" of `GET /v1/echo` sends the API key typed at
 * the top and shows the answer. Skipped, saying why, where no Chromium is installed.
 */
import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";
import { echoPlugin } from "../../plugins/echo/mod.ts";
import { configYaml, openApp } from "../_helpers.ts";
import { createHarness } from "../core/_harness.ts";

const KEY = "docs-page-test-key-0123456789";

function findChromium(): string | undefined {
  const candidates = [
    Deno.env.get("CHROMIUM_PATH"),
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
  ];
  for (const path of candidates) {
    if (!path) continue;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not there */ }
  }
  return undefined;
}

const chromium = findChromium();

Deno.test({
  name: chromium
    ? "/docs loads with no failed request and 'try it' on GET /v1/echo shows the answer"
    : "/docs in a browser (ignored: no Chromium; apt-get install chromium, or set CHROMIUM_PATH)",
  ignore: chromium === undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const h = createHarness({ test: [] }, [echoPlugin]);
    await using running = await openApp(
      configYaml({ echo: { greeting: "hello from the docs test" } }, {
        auth: { keys: [{ name: "docs", key: KEY }] },
      }),
      h.registry,
    );
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request, info) => running.app.fetch(request, info),
    );
    const origin = `http://127.0.0.1:${server.addr.port}`;
    const browser = await puppeteer.launch({
      executablePath: chromium!,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    try {
      const page = await browser.newPage();
      const failed: string[] = [];
      const foreign: string[] = [];
      const errors: string[] = [];
      page.on("requestfailed", (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
      page.on("request", (r) => {
        if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) foreign.push(r.url());
      });
      page.on("response", (r) => {
        if (r.status() >= 400) failed.push(`${r.url()} ${r.status()}`);
      });
      page.on("pageerror", (e) => errors.push(String(e)));

      const response = await page.goto(`${origin}/docs`, { waitUntil: "networkidle0" });
      assert.equal(response?.status(), 200);
      assert.deepEqual(failed, []);
      assert.deepEqual(foreign, []);
      assert.deepEqual(errors, []);

      // Operations with schemas and error codes are rendered.
      const text = await page.$eval("main", (m) => m.textContent ?? "");
      assert.match(text, /\/v1\/echo\/messages/);
      assert.match(text, /core\.validation_failed/);
      assert.ok(await page.$('details[id="get /v1/echo"]'), "GET /v1/echo is listed");

      await page.type("#apikey", KEY);
      await page.$eval(
        'details[id="get /v1/echo"]',
        (d) => d.setAttribute("open", ""),
      );
      await page.click('details[id="get /v1/echo"] button[data-try]');
      await page.waitForSelector('details[id="get /v1/echo"] pre.response', { timeout: 30_000 });
      const status = await page.$eval(
        'details[id="get /v1/echo"] [data-status]',
        (el) => el.getAttribute("data-status"),
      );
      const answer = await page.$eval(
        'details[id="get /v1/echo"] pre.response',
        (el) => el.textContent ?? "",
      );
      assert.equal(status, "200", answer);
      assert.match(answer, /hello from the docs test/);
      assert.deepEqual(failed, []);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});
