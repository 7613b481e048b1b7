// The end-to-end journey in the real app window, driven over WebDriver (tauri-driver +
// WebKitWebDriver). Run by scripts/e2e-gui.sh, which builds the app, starts Xvfb and
// tauri-driver inside a private Secret Service session, and sets:
//   GUI_E2E_APP        the app binary (debug, assets embedded)
//   GUI_E2E_DRIVER     tauri-driver's URL
//   GUI_E2E_CLI        the clawkeep CLI binary
//   GUI_E2E_ARTIFACTS  where screenshots go
//   GUI_E2E_SCAN       ':'-separated files and directories that must never contain the key
//   CLAWKEEP_HOME, CLAWKEEP_KEYCHAIN_SERVICE, XDG_DATA_HOME, XDG_CONFIG_HOME: throw-away ones.
//   CLAWKEEP_E2E_SAVE_PATH  what the app's save dialog answers (WebDriver cannot click a
//                      native dialog; the webview never names a path)
//   GUI_E2E_WORLD_DIR  real sshd test hosts (testworld up 3 --no-gateway) for the onboarding wizard
// The key is made at run time and never written anywhere by this test.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomInt } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Builder, By, Capabilities, Key, until } from "selenium-webdriver";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run scripts/e2e-gui.sh)`);
  return v;
};
const APP = env("GUI_E2E_APP");
const DRIVER_URL = env("GUI_E2E_DRIVER");
const CLI = env("GUI_E2E_CLI");
const ARTIFACTS = env("GUI_E2E_ARTIFACTS");
const HOME = env("CLAWKEEP_HOME");
const SAVE_PATH = env("CLAWKEEP_E2E_SAVE_PATH");
// The fake Anthropic API binary (the cost trail's Admin API), started by this test on 127.0.0.1.
const FAKE = env("GUI_E2E_FAKE");

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
function fakeKey() {
  let body = "";
  for (let i = 0; i < 93; i++) body += ALPHABET[randomInt(ALPHABET.length)];
  return "sk-ant-" + "api03-" + body + "AA";
}
const KEY = fakeKey();
// A middle slice: neither the hint (first 16, last 4) nor the fingerprint contain it.
const FRAGMENT = KEY.slice(20, 60);
const TIMEOUT = 15000;

let driver;
let shot = 0;

const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))]);

/** The window as PNG, through WebDriver; if that does not answer, the X screen (ImageMagick). */
async function screenshot(name) {
  const file = path.join(ARTIFACTS, `${String(++shot).padStart(2, "0")}-${name}.png`);
  try {
    fs.writeFileSync(file, Buffer.from(await withTimeout(driver.takeScreenshot(), 10000, "screenshot"), "base64"));
  } catch {
    execFileSync("import", ["-window", "root", file]);
  }
}
const $ = (css) => driver.wait(until.elementLocated(By.css(css)), TIMEOUT, `waiting for ${css}`);
async function visible(css) {
  const el = await $(css);
  await driver.wait(until.elementIsVisible(el), TIMEOUT, `waiting for ${css} to show`);
  return el;
}
async function textOf(css) {
  const el = await visible(css);
  const t = await withTimeout(el.getText(), 10000, `text of ${css}`);
  return t;
}
async function fill(name, value) {
  const el = await visible(`[name="${name}"]`);
  await driver.executeScript("arguments[0].scrollIntoView({ block: 'center' })", el);
  await el.clear();
  if (value !== "") await el.sendKeys(value);
}
async function nav(name) {
  await (await visible(`button[data-nav="${name}"]`)).click();
  await $(`main[data-view="${name}"]`);
}
async function clickButton(text) {
  const el = await driver.wait(until.elementLocated(By.xpath(`//main//button[normalize-space(.)="${text}"]`)), TIMEOUT, `button ${text}`);
  // WebKitWebDriver does not scroll a target below the fold into view by itself.
  await driver.executeScript("arguments[0].scrollIntoView({ block: 'center' })", el);
  await driver.wait(until.elementIsVisible(el), TIMEOUT);
  await el.click();
}

/** A journey's body: on failure a screenshot, and the window's session ends so the next journey
 *  can open one (tauri-driver holds one session at a time). */
const guarded = (name, body) => async () => {
  try {
    await body();
  } catch (e) {
    if (driver) {
      await screenshot(`${name}-failure`).catch(() => {});
      await driver.quit().catch(() => {});
      driver = undefined;
    }
    throw e;
  }
};

let fake;
after(async () => {
  if (driver) await driver.quit().catch(() => {});
  if (fake) fake.kill("SIGTERM");
});

/** Starts the fake Anthropic API with a week of usage (preset demo); resolves to its base URL
 *  and its fixture keys (name → {id, key}), read from a 0600 file it writes. */
async function startFake(dir) {
  const keysFile = path.join(dir, "fake-keys.tsv");
  fake = spawn(FAKE, ["--listen", "127.0.0.1:0", "--preset", "demo", "--keys-out", keysFile], { stdio: ["ignore", "pipe", "ignore"] });
  const base = await new Promise((resolve, reject) => {
    let out = "";
    fake.stdout.on("data", (b) => { out += b; if (out.includes("\n")) resolve(out.split("\n")[0].trim()); });
    fake.on("exit", (c) => reject(new Error(`fake-anthropic exited with ${c}`)));
  });
  const keys = Object.fromEntries(fs.readFileSync(keysFile, "utf8").trim().split("\n").map((l) => l.split("\t")).map(([name, id, key]) => [name, { id, key }]));
  fs.rmSync(keysFile);
  return { base, keys };
}

test("journey: empty inventory → add instance → malformed key refused → key stored, only hint and fingerprint shown", guarded("journey", async () => {
  const caps = new Capabilities();
  caps.set("tauri:options", { application: APP });
  caps.setBrowserName("wry");
  driver = await new Builder().withCapabilities(caps).usingServer(DRIVER_URL).build();

  // Empty data dir: the Fleet empty state tells a newcomer what to do.
  const empty = await textOf('[data-testid="fleet-empty"]');
  assert.match(empty, /No instances yet/);
  assert.match(empty, /scripts\/demo\.sh up/);
  await screenshot("fleet-empty");

  // Add an instance.
  await clickButton("Add instance");
  await visible('[data-testid="instance-form"]');
  await fill("name", "acme-prod");
  await fill("owner", "acme");
  await fill("environment", "prod");
  await fill("workload", "support");
  await fill("ssh_host", "10.20.0.5");
  await fill("ssh_user", "openclaw");
  await fill("agents", "main, triage");
  await screenshot("instance-form");
  await (await visible('[data-testid="instance-form"] button[type="submit"]')).click();
  await driver.wait(until.elementLocated(By.xpath('//main//h1[contains(., "acme-prod")]')), TIMEOUT);
  await $('main[data-view="instance"]');
  await screenshot("instance");

  // Add its key: first malformed (a space inside), then truncated, then good.
  await clickButton("Add key");
  await visible('[data-testid="add-key-form"]');
  const nameInput = await visible('[name="name"]');
  await driver.wait(async () => (await nameInput.getAttribute("value")) === "openclaw-acme-prod-support", TIMEOUT, "suggested key name");
  const input = await visible('[data-testid="key-input"]');
  await input.sendKeys(`${KEY.slice(0, 30)} ${KEY.slice(30)}`);
  const err = await textOf('[data-testid="key-lint-error"]');
  assert.match(err, /a space at position 31/);
  assert.ok(!err.includes(FRAGMENT));
  assert.equal(await (await $('[data-testid="add-key-submit"]')).isEnabled(), false, "a malformed key cannot be submitted");
  await screenshot("add-key-invalid");

  // A truncated key cannot be valid: refused with the reason, unless the person says the key
  // format has changed (then only a warning, and the override is audited).
  await input.clear();
  await input.sendKeys(KEY.slice(0, 100));
  const truncated = await textOf('[data-testid="key-lint-error"]');
  assert.match(truncated, /has 100 characters, but a api key has exactly 108: it looks truncated/);
  assert.ok(!truncated.includes(FRAGMENT));
  assert.equal(await (await $('[data-testid="add-key-submit"]')).isEnabled(), false, "a truncated key cannot be submitted");
  await screenshot("add-key-truncated");
  const formatChanged = await visible('[data-testid="format-changed"]');
  await formatChanged.click();
  const warning = await textOf('[data-testid="key-lint-warning"]');
  assert.match(warning, /looks truncated: 100 characters/);
  await screenshot("add-key-truncated-warning");
  await formatChanged.click();

  await input.clear();
  await input.sendKeys(KEY);
  await driver.wait(async () => (await driver.findElements(By.css('[data-testid="key-lint-error"]'))).length === 0, TIMEOUT);
  await driver.wait(until.elementIsEnabled(await $('[data-testid="add-key-submit"]')), TIMEOUT);
  await (await $('[data-testid="add-key-submit"]')).click();

  await visible('[data-testid="key-added"]');
  assert.equal(await textOf('[data-testid="key-hint"]'), `${KEY.slice(0, 16)}...${KEY.slice(-4)}`);
  const fp = createHash("sha256").update(KEY).digest("hex");
  assert.equal(await textOf('[data-testid="key-fingerprint"]'), `SHA256 ${fp}`);
  assert.equal(await (await $('[data-testid="key-input"]')).getAttribute("value"), "", "the key field is cleared after submit");
  await screenshot("key-added");

  // The other screens, with the new data.
  await nav("fleet");
  await driver.wait(until.elementLocated(By.xpath(`//table[@data-testid="fleet-table"]//td[contains(., "${KEY.slice(0, 16)}")]`)), TIMEOUT);
  await screenshot("fleet");
  // The Fleet fits a 1,280-px window without scrolling sideways, its status columns in view
  // (Key age and Workload give way); at 1,920 px every column shows. Then back to the default size.
  for (const [w, h, cols] of [[1280, 800, ["Instance", "Owner", "Environment", "Host", "Key", "Last check", "Rotation"]], [1920, 1080, ["Instance", "Owner", "Environment", "Workload", "Host", "Key", "Key age", "Last check", "Rotation"]]]) {
    await driver.manage().window().setRect({ width: w, height: h });
    const fleetAt = () => driver.executeScript(`const s = document.querySelector("main .table-scroll");
      return { width: window.innerWidth, scroll: s.scrollWidth, box: s.clientWidth, cols: [...document.querySelectorAll('[data-testid="fleet-table"] thead th')].map((t) => t.textContent.trim()) };`);
    await driver.wait(async () => { const f = await fleetAt(); return f.width === w && f.cols.length === cols.length; }, TIMEOUT, `the Fleet laid out for ${w} px`).catch(() => {});
    const f = await fleetAt();
    assert.equal(f.width, w, "the window's width");
    assert.deepEqual(f.cols, cols, `the Fleet's columns at ${w} px`);
    assert.ok(f.scroll <= f.box, `the Fleet scrolls sideways at ${w} px (${f.scroll} > ${f.box})`);
    await screenshot(`fleet-${w}`);
  }
  await driver.manage().window().setRect({ width: 1200, height: 780 });
  // The search field has no clear (×) button (it would load the icon theme): Escape clears it.
  const search = await visible('input[aria-label="Search instances"]');
  const allCount = await textOf('[data-testid="fleet-count"]');
  await search.sendKeys("no-such-instance");
  await driver.wait(async () => (await textOf('[data-testid="fleet-count"]')).startsWith("0 of"), TIMEOUT, "the search narrowing the Fleet");
  await search.sendKeys(Key.ESCAPE);
  await driver.wait(async () => (await textOf('[data-testid="fleet-count"]')) === allCount, TIMEOUT, "Escape clearing the search");
  assert.equal(await search.getAttribute("value"), "");
  await nav("keys");
  await visible('[data-testid="keys-table"]');
  await screenshot("keys");
  await nav("audit");
  await driver.wait(until.elementLocated(By.xpath('//table[@data-testid="audit-table"]//td[contains(., "key.add")]')), TIMEOUT);
  await screenshot("audit");
  await nav("settings");
  assert.equal(await textOf('[data-testid="data-dir"]'), HOME, "the app uses CLAWKEEP_HOME like the CLI");
  await clickButton("Run self-check");
  const check = await textOf('[data-testid="self-check"]');
  assert.match(check, /1 instances, 1 keys/);
  assert.match(check, /reachable/);
  await screenshot("settings");

  // The checklist: point the API at a closed loopback port (no network, fails fast), run the
  // instance's check from its screen, and see the domains in order with where to look first.
  await fill("base_url", "http://127.0.0.1:1");
  await (await driver.wait(until.elementLocated(By.xpath('//form[.//input[@name="base_url"]]//button[@type="submit"]')), TIMEOUT)).click();
  await nav("fleet");
  await (await visible('[data-testid="fleet-table"] button.link')).click();
  await (await visible('[data-testid="instance-check"]')).click();
  const report = await driver.wait(until.elementLocated(By.css('[data-testid="check-report"]')), 60000, "waiting for the check report");
  await driver.wait(until.elementIsVisible(report), TIMEOUT);
  const domains = await driver.executeScript(`return [...document.querySelectorAll("[data-testid=check-report] li.domain")].map((e) => e.dataset.domain);`);
  assert.deepEqual(domains, ["credential", "account-context", "protocol", "throughput", "boundary"]);
  assert.match(await textOf('[data-testid="first-failing"]'), /Look first at: /);
  await screenshot("check-results");

  // The fleet check: core's matrix (instances × domains, failing rows first), a row opening that
  // instance's checks and its fix, and back.
  await nav("fleet");
  await (await visible('[data-testid="fleet-check"]')).click();
  const matrix = await driver.wait(until.elementLocated(By.css('[data-testid="fleet-matrix"]')), 60000, "waiting for the fleet matrix");
  await driver.wait(until.elementIsVisible(matrix), TIMEOUT);
  const columns = await driver.executeScript(`return [...document.querySelectorAll("[data-testid=fleet-matrix] tbody tr:first-child td.cell")].map((e) => e.dataset.domain);`);
  assert.deepEqual(columns, ["credential", "account-context", "protocol", "throughput", "boundary"]);
  assert.equal(await driver.executeScript(`return document.querySelector("[data-testid=fleet-matrix] tbody tr").dataset.status;`), "fail");
  await screenshot("check-fleet-matrix");
  await (await visible('[data-testid="fleet-matrix"] tbody tr button.link')).click();
  await visible('[data-testid="check-report"]');
  await (await visible('[data-testid="matrix-back"]')).click();
  await visible('[data-testid="fleet-matrix"]');

  // Fleet deploy: the instance's host key is not pinned, so it can't be selected yet and the
  // screen says what to do first.
  await nav("fleet");
  await (await visible('[data-testid="fleet-deploy"]')).click();
  const planButton = await visible('[data-testid="fleet-deploy-plan"]');
  assert.equal(await planButton.isEnabled(), false, "nothing is selectable before the host key is pinned");
  await driver.wait(until.elementLocated(By.xpath('//button[contains(., "trust it first")]')), TIMEOUT);
  await screenshot("fleet-deploy");

  // Rotation: set the default policy from the app and see it in the table; export the plan as
  // a calendar file (to the path the save dialog answers).
  await nav("rotation");
  // the built-in default is a row of its own until one is stored
  await driver.wait(until.elementLocated(By.xpath('//section[@data-testid="rotation-policies"]//td[normalize-space(.)="built in"]')), TIMEOUT, "the built-in default policy");
  await fill("max_age_days", "45");
  await clickButton("Save policy");
  await driver.wait(until.elementLocated(By.xpath('//section[@data-testid="rotation-policies"]//td[normalize-space(.)="45 days"]')), TIMEOUT, "the saved policy");
  const ics = SAVE_PATH;
  await clickButton("Export");
  await driver.wait(async () => fs.existsSync(ics), TIMEOUT, "the exported calendar");
  const cal = fs.readFileSync(ics, "utf8");
  assert.ok(cal.startsWith("BEGIN:VCALENDAR") && cal.includes("acme-prod"), cal.slice(0, 200));
  assert.ok(!cal.includes(KEY) && !cal.includes(FRAGMENT), "a key in the exported calendar");
  await screenshot("rotation");

  // Costs: the fake Anthropic API with a week of usage; an instance holding the fake's key
  // instance-a and an Admin key (through the CLI, values on stdin); instance-b spends with no
  // owner. Sync from the app (progress, then the notice), set a budget, see the chart, retire
  // the stray key (confirm), screenshot.
  const { base, keys } = await startFake(path.dirname(SAVE_PATH));
  const cli = (args, input) => execFileSync(CLI, args, { encoding: "utf8", input });
  cli(["settings", "set-base-url", base]);
  cli(["instance", "add", "globex-prod", "--host", "127.0.0.9", "--user", "openclaw", "--owner", "globex", "--env", "prod", "--workload", "support"]);
  cli(["key", "add", "openclaw-globex-prod-support", "--instance", "globex-prod", "--key-id", keys["instance-a"].id, "--stdin"], keys["instance-a"].key);
  cli(["key", "add", "clawkeep-admin", "--allow-name", "--stdin"], keys["admin"].key);
  await nav("costs");
  await (await visible('[data-testid="cost-sync"]')).click();
  const synced = await textOf('[data-testid="cost-notice"]');
  assert.match(synced, /Synced \d+ usage rows/);
  await visible('[data-testid="cost-unowned"]');
  assert.match(await textOf('[data-testid="cost-unowned"]'), new RegExp(keys["instance-b"].id));
  await driver.executeScript("arguments[0].value = 'globex'; arguments[0].dispatchEvent(new Event('change', { bubbles: true }))", await $('[name="budget_name"]'));
  await fill("budget_usd", "5");
  await clickButton("Set budget");
  await driver.wait(until.elementLocated(By.xpath('//section[@data-testid="cost-budgets"]//td[contains(., "globex")]')), TIMEOUT, "the budget row");
  const chart = await visible('[data-testid="cost-chart"]');
  assert.ok(Number(await chart.getAttribute("data-periods")) >= 7, "a week of days in the chart");
  assert.ok(Number(await chart.getAttribute("data-series")) >= 2, "stacked by model");
  assert.equal(await chart.getAttribute("data-error"), null, "the chart drew");
  // Something is on the canvas (bars, axes, legend): count painted pixels.
  const painted = await driver.executeScript(`
    const c = document.querySelector('[data-testid="cost-chart"] canvas');
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
    return n;`);
  assert.ok(painted > 1000, `the chart's canvas is blank (${painted} painted pixels)`);
  assert.match(await textOf('[data-testid="cost-table"]'), /globex-prod/);
  await driver.executeScript("window.scrollTo(0, 0); document.getElementById('main').scrollTo(0, 0)");
  await screenshot("costs");
  await driver.executeScript("arguments[0].scrollIntoView({ block: 'start' })", await $('[data-testid="cost-budgets"]'));
  await screenshot("costs-budgets");
  const retireButton = await $('[data-testid="retire-unowned"]');
  await driver.executeScript("arguments[0].scrollIntoView({ block: 'center', inline: 'center' })", retireButton);
  await retireButton.click();
  await (await driver.wait(until.elementLocated(By.xpath('//dialog//button[normalize-space(.)="Deactivate at the Admin API"]')), TIMEOUT)).click();
  await driver.wait(async () => /is now inactive/.test(await driver.findElement(By.css('[data-testid="cost-notice"]')).getText().catch(() => "")), TIMEOUT, "the retire notice");

  // Nothing of the key in the WebView: DOM (attributes and form values) and storage.
  const page = await driver.executeScript(`
    const values = [...document.querySelectorAll("input, textarea, select")].map((e) => e.value).join("\\n");
    const store = (s) => { let out = ""; for (let i = 0; i < s.length; i++) { const k = s.key(i); out += k + "=" + s.getItem(k) + "\\n"; } return out; };
    return document.documentElement.outerHTML + "\\n" + values + "\\n" + store(localStorage) + store(sessionStorage) + document.cookie;
  `);
  assert.ok(page.length > 1000);
  assert.ok(!page.includes(KEY), "the key is in the WebView");
  assert.ok(!page.includes(FRAGMENT), "part of the key is in the WebView");

  await driver.quit();
  driver = undefined;
}));

test("the CLI sees what the app wrote (same data dir and keychain)", () => {
  const list = JSON.parse(execFileSync(CLI, ["instance", "list", "--json"], { encoding: "utf8" }));
  const rows = Array.isArray(list) ? list : list.instances ?? list.rows;
  assert.ok(Array.isArray(rows), `unexpected JSON: ${JSON.stringify(list).slice(0, 200)}`);
  assert.equal(rows.length, 2, "acme-prod from the app, globex-prod from the cost part");
  const row = rows.find((r) => (r.instance?.name ?? r.name) === "acme-prod");
  const name = row.instance?.name ?? row.name;
  assert.equal(name, "acme-prod");
  assert.ok(JSON.stringify(row).includes(`${KEY.slice(0, 16)}...${KEY.slice(-4)}`), "the CLI shows the key's hint");
  const check = JSON.parse(execFileSync(CLI, ["self-check", "--json"], { encoding: "utf8" }));
  assert.equal(check.keychain_ok, true, "the key's value is in the keychain");
  assert.deepEqual(check.missing_secrets, []);
});

test("leak check: the key is absent from the data dir (incl. WAL), the prefs store and the logs", () => {
  const roots = env("GUI_E2E_SCAN").split(":").filter(Boolean);
  const scanned = [];
  const walk = (p) => {
    if (!fs.existsSync(p)) return;
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    } else if (st.isFile()) {
      const bytes = fs.readFileSync(p);
      scanned.push(path.relative("/", p));
      assert.ok(!bytes.includes(KEY), `the key is in ${p}`);
      assert.ok(!bytes.includes(FRAGMENT), `part of the key is in ${p}`);
      assert.ok(!bytes.includes(Buffer.from(KEY, "utf16le")), `the key (UTF-16) is in ${p}`);
    }
  };
  roots.forEach(walk);
  const names = scanned.join("\n");
  assert.match(names, /clawkeep\.db/, "the database was scanned");
  assert.match(names, /prefs\.json/, "the UI-preferences store was scanned");
  assert.match(names, /tauri-driver\.log/, "the app's log was scanned");
  fs.writeFileSync(path.join(ARTIFACTS, "leak-check-files.txt"), names + "\n");
});

// Onboarding (issue 17) on real sshd test hosts started by scripts/e2e-gui.sh
// (GUI_E2E_WORLD_DIR: the world's hosts.tsv and client key; hosts without a gateway). Each
// host's .env gets a key made here: two hosts share one (a boundary violation), one has its
// own; a fourth row is an address where nothing answers. The wizard reads the pasted batch,
// verifies one host key out of band, shows the rest for confirmation together, discovers,
// adopts with consent and ends on the fleet check. No key may reach the WebView, the data
// dir or the logs.
test("onboarding wizard: paste a batch → host keys confirmed together → discovery → adopt with consent → fleet check", guarded("onboarding", async () => {
  const worldDir = process.env.GUI_E2E_WORLD_DIR;
  assert.ok(worldDir, "GUI_E2E_WORLD_DIR is not set (run scripts/e2e-gui.sh)");
  const hosts = fs.readFileSync(path.join(worldDir, "hosts.tsv"), "utf8").trim().split("\n").filter((l) => !l.startsWith("#")).map((l) => {
    const [name, addr, port, user, home, , fingerprint] = l.split("\t");
    return { name, addr, port, user, home, fingerprint };
  });
  assert.ok(hosts.length >= 3, `3 test hosts expected, got ${hosts.length}`);
  const SHARED = fakeKey();
  const OWN = fakeKey();
  const plant = (h, key) => {
    const file = path.join(h.home, ".openclaw", ".env");
    fs.writeFileSync(file, `# client's env\nOPENCLAW_LOG_LEVEL=info\nexport ANTHROPIC_API_KEY="${key}"\n`, { mode: 0o600 });
    if (process.getuid() === 0) {
      const st = fs.statSync(path.join(h.home, ".openclaw"));
      fs.chownSync(file, st.uid, st.gid);
    }
  };
  plant(hosts[0], SHARED);
  plant(hosts[1], OWN);
  plant(hosts[2], SHARED);
  const names = ["acme-prod-web", "acme-prod-worker", "globex-dev-bot"];
  execFileSync(CLI, ["settings", "set-ssh-identity", "--key-file", path.join(worldDir, "client", "id_ed25519")]);

  const caps = new Capabilities();
  caps.set("tauri:options", { application: APP });
  caps.setBrowserName("wry");
  driver = await new Builder().withCapabilities(caps).usingServer(DRIVER_URL).build();

  try {
    await onboardingJourney(hosts, names, SHARED, OWN);
  } catch (e) {
    await screenshot("onboard-failure").catch(() => {});
    throw e;
  }
}));

/** Sets a textarea's text as a paste would (WebKitWebDriver's sendKeys drops newlines). */
async function paste(name, value) {
  const el = await visible(`[name="${name}"]`);
  await driver.executeScript("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', { bubbles: true }));", el, value);
}

/** Scrolls an element into view, then clicks it (WebKitWebDriver does not scroll by itself). */
async function press(css) {
  const el = await visible(css);
  await driver.executeScript("arguments[0].scrollIntoView({ block: 'center' })", el);
  await driver.wait(until.elementIsEnabled(el), TIMEOUT, `${css} enabled`);
  await el.click();
}

async function onboardingJourney(hosts, names, SHARED, OWN) {
  await nav("onboard");
  const batch = "name,host,port,user\n" + hosts.slice(0, 3).map((h, i) => `${names[i]},${h.addr},${h.port},${h.user}`).join("\n") + "\ninitech-prod-legacy,127.0.0.1,1,ops\n";
  await paste("onboard_hosts", batch);
  await press('[data-testid="onboard-read-pasted"]');
  assert.match(await textOf('[data-testid="onboard-batch-count"]'), /4 hosts from pasted list/);
  // One host key verified out of band (the provider's list); the others confirmed by the person.
  await press('[data-testid="onboard-batch"] details.trusted summary');
  await paste("onboard_fingerprints", `${hosts[0].addr}:${hosts[0].port} ${hosts[0].fingerprint}\n`);
  await clickButton("Use these");
  await driver.wait(until.elementLocated(By.xpath('//summary[contains(., "1 host from pasted fingerprints")]')), TIMEOUT);
  await press('[data-testid="onboard-fetch"]');
  await visible('[data-testid="onboard-host-keys"]');
  const status = async (n) => (await $(`[data-testid="onboard-host-keys"] tr[data-host="${n}"]`)).getAttribute("data-status");
  assert.equal(await status(names[0]), "verified");
  assert.equal(await status(names[1]), "unverified");
  assert.equal(await status("initech-prod-legacy"), "unreachable");
  assert.match(await textOf('[data-testid="onboard-host-keys"]'), new RegExp(hosts[1].fingerprint.replace(/[+/]/g, "\\$&")));
  await screenshot("onboard-host-keys");

  // Discovery over the pinned connections: nothing written yet.
  const countInstances = () => {
    const listed = JSON.parse(execFileSync(CLI, ["instance", "list", "--json"], { encoding: "utf8" }));
    return (Array.isArray(listed) ? listed : listed.instances ?? listed.rows).length;
  };
  const before = countInstances();
  assert.equal(await textOf('[data-testid="onboard-discover"]'), "Trust 3 host keys and discover");
  await press('[data-testid="onboard-discover"]');
  const previewCard = await driver.wait(until.elementLocated(By.css('[data-testid="onboard-preview"]')), 60000, "the discovery results");
  await driver.wait(until.elementIsVisible(previewCard), TIMEOUT);
  const web = await textOf(`[data-testid="onboard-preview"] article[data-host="${names[0]}"]`);
  assert.match(web, /Injection method\s*env-file/);
  assert.match(web, /Service manager/);
  assert.match(web, /\.env/);
  assert.match(web, new RegExp(`${SHARED.slice(0, 16)}\\.\\.\\.${SHARED.slice(-4)}`), "the hint, only");
  assert.match(await textOf(`[data-testid="onboard-preview"] article[data-host="${names[2]}"]`), /SHARED with acme-prod-web/);
  assert.match(await textOf('[data-testid="onboard-preview"]'), /Boundary violation/);
  assert.equal((await driver.findElements(By.css('[data-testid="onboard-consent"]'))).length, 2, "consent on the hosts whose key can be adopted");
  // (the earlier journeys left their instances: the preview adds none)
  assert.equal(countInstances(), before, "the preview wrote nothing");
  await driver.executeScript("document.querySelector('[data-testid=\"onboard-preview\"]').scrollIntoView({ block: 'start' })");
  await screenshot("onboard");

  // Apply with consent: the keys travel from the hosts into the keychain.
  await press('[data-testid="onboard-apply"]');
  await clickButton("Onboard");
  const result = await driver.wait(until.elementLocated(By.css('[data-testid="onboard-result"]')), 60000, "the onboarding summary");
  await driver.wait(until.elementIsVisible(result), TIMEOUT);
  const summary = await textOf('[data-testid="onboard-summary"]');
  assert.match(summary, /3 of 4 hosts onboarded \(3 created, 0 updated\), 2 keys adopted/);
  assert.match(summary, /1 shared/);
  assert.match(summary, /1 unreachable/);
  await screenshot("onboard-result");

  const keys = JSON.parse(execFileSync(CLI, ["key", "list", "--json"], { encoding: "utf8" }));
  const rows = Array.isArray(keys) ? keys : keys.keys;
  const hints = rows.map((k) => k.hint ?? k.key?.hint);
  assert.ok(hints.includes(`${SHARED.slice(0, 16)}...${SHARED.slice(-4)}`) && hints.includes(`${OWN.slice(0, 16)}...${OWN.slice(-4)}`), JSON.stringify(hints));

  // The summary leads to the fleet check.
  await press('[data-testid="onboard-check-fleet"]');
  await $('main[data-view="check"]');

  // Nothing of the adopted keys in the WebView, the data dir, the prefs store or the logs.
  const page = await driver.executeScript(`
    const values = [...document.querySelectorAll("input, textarea, select")].map((e) => e.value).join("\\n");
    return document.documentElement.outerHTML + "\\n" + values + "\\n" + JSON.stringify(localStorage) + JSON.stringify(sessionStorage);
  `);
  for (const k of [SHARED, OWN]) {
    assert.ok(!page.includes(k) && !page.includes(k.slice(20, 60)), "an adopted key is in the WebView");
  }
  await driver.quit();
  driver = undefined;
  const walk = (p) => {
    if (!fs.existsSync(p)) return;
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    else if (st.isFile()) {
      const bytes = fs.readFileSync(p);
      for (const k of [SHARED, OWN]) assert.ok(!bytes.includes(k) && !bytes.includes(k.slice(20, 60)), `an adopted key is in ${p}`);
    }
  };
  env("GUI_E2E_SCAN").split(":").filter(Boolean).forEach(walk);
}

// The team vault (issue 15) in the window: join (an age identity made and kept in the keychain),
// create a team store on a bare Git repository, invite a second member who joined with the CLI
// in their own data dir and keychain service, grant them one owner, sync; then the second member
// attaches with the CLI and reads exactly that owner's instances. Real git, ssh-keygen signing
// keys made here; no key value in any object of the repository or in the second member's data.
test("team vault: join → create → invite → grant → sync in the window; a scoped teammate attaches and reads one owner", guarded("team", async () => {
  const dir = fs.mkdtempSync("/tmp/ck-gui-team-");
  const keygen = (name) => {
    const f = path.join(dir, `${name}_signing`);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", f]);
    return f;
  };
  const aliceKey = keygen("alice");
  const bobKey = keygen("bob");
  const bare = path.join(dir, "team.git");
  execFileSync("git", ["init", "-q", "--bare", "--initial-branch=main", bare]);
  const bobEnv = { ...process.env, CLAWKEEP_HOME: path.join(dir, "bob"), CLAWKEEP_KEYCHAIN_SERVICE: `${process.env.CLAWKEEP_KEYCHAIN_SERVICE}-bob` };
  const bob = JSON.parse(execFileSync(CLI, ["--json", "team", "join", "--name", "bob", "--signing-key", bobKey], { env: bobEnv, encoding: "utf8" }));
  assert.match(bob.recipient, /^age1/);

  // The earlier journeys left instances of a few owners: bob is granted the first one's.
  const mine = JSON.parse(execFileSync(CLI, ["instance", "list", "--json"], { encoding: "utf8" }));
  const OWNER = mine.map((r) => r.instance.owner).find(Boolean);
  assert.ok(OWNER, "an instance with an owner");

  const caps = new Capabilities();
  caps.set("tauri:options", { application: APP });
  caps.setBrowserName("wry");
  driver = await new Builder().withCapabilities(caps).usingServer(DRIVER_URL).build();
  try {
    await nav("team");
    await fill("member", "alice");
    await fill("signing_key", aliceKey);
    await press('[data-testid="team-join"] button[type="submit"]');
    const send = await visible('[data-testid="team-send"]');
    const sendText = await send.getAttribute("value");
    assert.match(sendText, /age1[0-9a-z]+/);
    assert.match(sendText, /ssh-ed25519 AAAA/);
    assert.doesNotMatch(sendText, /AGE-SECRET-KEY/, "the identity never reaches the window");

    await fill("repository", bare);
    await press('[data-testid="team-init"] button[type="submit"]');
    const created = await driver.wait(until.elementLocated(By.css('[data-testid="team-init-result"]')), 60000, "the team store");
    await driver.wait(until.elementIsVisible(created), TIMEOUT);
    assert.match(await created.getText(), /first admin/);
    assert.match(await textOf('[data-testid="team-status"]'), /alice\s*admin/);

    await fill("invite_member", "bob");
    await fill("invite_recipient", bob.recipient);
    await fill("invite_signing_key", bob.signing_key);
    await press('[data-testid="team-invite"] button[type="submit"]');
    await driver.wait(until.elementLocated(By.xpath('//table[@data-testid="team-members"]//td[starts-with(normalize-space(.), "bob")]')), 60000, "bob in the members");
    const member = await visible('select[name="scope_member"]');
    await driver.wait(async () => (await member.findElements(By.css('option[value="bob"]'))).length === 1, TIMEOUT, "bob to choose");
    await driver.executeScript("arguments[0].value = 'bob'; arguments[0].dispatchEvent(new Event('change', { bubbles: true }));", member);
    await fill("scope_owner", OWNER);
    await clickButton("Grant");
    await driver.wait(until.elementLocated(By.xpath(`//table[@data-testid="team-members"]//tr[td[starts-with(normalize-space(.), "bob")]]//td[contains(., "${OWNER}")]`)), 60000, "bob reads the owner");

    await press('[data-testid="team-sync"]');
    // Creating the store shared the inventory: this sync has nothing more to share.
    await driver.wait(async () => /nothing to push/.test(await textOf('[data-testid="team-sync-result"]').catch(() => "")), 60000, "the sync result");
    await driver.wait(until.elementIsEnabled(await visible('[data-testid="team-sync"]')), 60000, "the sync to end");
    // The activity: alice's own audit stream in the store, newest first, in words.
    await driver.wait(until.elementLocated(By.xpath(`//table[@data-testid="team-activity"]/tbody/tr[1]/td[starts-with(normalize-space(.), "gave bob access to ${OWNER}")]`)), 60000, "the grant in the activity");
    assert.match(await textOf('[data-testid="team-activity"]'), /invited bob as a member[\s\S]*shared \d+ instances? and \d+ keys?[\s\S]*created the team store as its first admin/);
    await driver.executeScript("arguments[0].scrollIntoView({ block: 'center' })", await visible('[data-testid="team-activity"]'));
    await screenshot("team-activity");
    await driver.executeScript("arguments[0].scrollIntoView({ block: 'start' })", await visible(".screen-head"));
    await screenshot("team");
  } catch (e) {
    await screenshot("team-failure").catch(() => {});
    throw e;
  }

  // Every commit is signed; no object of the repository holds the key in plaintext.
  const commits = execFileSync("git", ["-C", bare, "rev-list", "--all"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  assert.ok(commits.length >= 3, `commits: ${commits.length}`);
  for (const c of commits) assert.match(execFileSync("git", ["-C", bare, "cat-file", "commit", c], { encoding: "utf8" }), /gpgsig -----BEGIN SSH SIGNATURE-----/, `commit ${c} is signed`);
  const objects = execFileSync("git", ["-C", bare, "cat-file", "--batch-all-objects", "--batch"], { maxBuffer: 256 << 20 });
  assert.ok(!objects.includes(KEY) && !objects.includes(FRAGMENT), "a key is in the repository in plaintext");

  // Bob attaches (history verified from its root) and reads that owner's instances, only them.
  execFileSync(CLI, ["team", "init", bare], { env: bobEnv, encoding: "utf8" });
  const bobs = JSON.parse(execFileSync(CLI, ["instance", "list", "--json"], { env: bobEnv, encoding: "utf8" }));
  assert.deepEqual(bobs.map((r) => r.instance.name).sort(), mine.filter((r) => r.instance.owner === OWNER).map((r) => r.instance.name).sort(), "bob reads exactly the granted owner's instances");
  const walk = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    else if (st.isFile()) {
      const b = fs.readFileSync(p);
      assert.ok(!b.includes(KEY) && !b.includes(FRAGMENT), `the key is in ${p}`);
    }
  };
  walk(path.join(dir, "bob"));
  await driver.quit();
  driver = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
}));
