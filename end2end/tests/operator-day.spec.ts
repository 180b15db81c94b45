// An operator's day, on a desk (1280×800) and on a phone at the gate (390×844): every page
// fits, runs no script the Content-Security-Policy blocks, says which installation it is, and
// asks before it deletes anything.
import AxeBuilder from "@axe-core/playwright";
import { Browser, expect, Page, test } from "@playwright/test";
import { Api, hydrated, logIn, PASSWORD, testPhoto, unique } from "./pages";

const DESK = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const SIZES = [
  ["desk", DESK],
  ["phone", PHONE],
] as const;

/** A list with a dossier that has a face, a webhook and a camera: something on every page. */
async function seed() {
  const api = await Api.as("admin");
  const listName = unique("Gate watch");
  const list = (await api.call("watch-lists/create", { name: listName, active: true, acknowledge: true })).id;
  const name = unique("Barack Obama");
  const [dossier] = await api.dossiers(name, 1, list);
  await api.photo(dossier, "obama.jpg");
  const camera = unique("gate").replace(/ /g, "-");
  const event = (await api.event(camera, "obama2.jpg")).events[0].id;
  return { api, list, listName, dossier, name: `${name} 001`, camera, event };
}

/** Every CSP violation the page reports, collected from the moment it starts loading. */
async function watchCsp(page: Page) {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return violations;
}

async function loggedIn(browser: Browser, size: { width: number; height: number }, javaScriptEnabled = true) {
  const context = await browser.newContext({ viewport: size, javaScriptEnabled });
  const page = await context.newPage();
  const violations = await watchCsp(page);
  await page.goto("/login");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("whoami")).toBeAttached();
  return { context, page, violations };
}

/** Nothing wider than the window: no sideways scrolling. */
async function expectNoSidewaysScroll(page: Page, where: string) {
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(scroll, `${where} is ${scroll} px wide in a ${width} px window`).toBeLessThanOrEqual(width);
}

/** What axe-core finds wrong on the page as it stands, one line per rule and element. */
async function accessibilityViolations(page: Page) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations.flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(" ")} — ${v.help}`));
}

for (const [label, size] of SIZES) {
  for (const javaScriptEnabled of [true, false]) {
    const how = javaScriptEnabled ? ", passes axe" : " without JavaScript";
    test(`every page fits a ${label}${how} and logs no CSP violation`, async ({ browser }) => {
      test.setTimeout(180_000);
      const { api, list, dossier, camera, event } = await seed();
      const { context, page, violations } = await loggedIn(browser, size, javaScriptEnabled);
      const pages = [
        "/watch-lists",
        "/watch-lists/new",
        `/watch-lists/${list}/edit`,
        `/watch-lists/${list}/delete`,
        "/dossiers",
        `/dossiers?watch_list=${list}`,
        "/dossiers/new",
        `/dossiers/${dossier}`,
        `/dossiers/${dossier}/edit`,
        `/dossiers/${dossier}/delete`,
        "/faces/search",
        "/events",
        `/events?camera=${camera}`,
        `/events/similar?event=${event}`,
        `/watch-lists/${list}/calibration`,
        "/cameras",
        "/webhooks",
        "/users",
        "/imports",
        "/audit",
        "/replication",
        "/sites",
        "/api-docs",
      ];
      const inaccessible: string[] = [];
      for (const path of pages) {
        await page.goto(path);
        if (javaScriptEnabled && path !== "/api-docs") await hydrated(page);
        await expectNoSidewaysScroll(page, path);
        // axe runs in the page, so only with JavaScript; without it the page is the same
        // server-rendered markup, not yet hydrated.
        if (javaScriptEnabled) {
          inaccessible.push(...(await accessibilityViolations(page)).map((v) => `${path}: ${v}`));
        }
        if (path === "/api-docs") continue;
        // The page is there, JavaScript or not, and its tab says the page and the installation.
        await expect(page.locator("main h1").first()).toBeVisible();
        await expect(page).toHaveTitle(/ · (127\.0\.0\.1:\d+|.+)$/);
        if (label === "desk") {
          // The header's links sit on one line.
          const tops = await page.locator(".topbar nav a").evaluateAll((links) =>
            links.map((a) => Math.round(a.getBoundingClientRect().top)),
          );
          expect(new Set(tops).size, `${path}: header links on ${new Set(tops).size} lines`).toBe(1);
          expect((await page.locator(".topbar").boundingBox())!.height).toBeLessThan(72);
        } else {
          // Folded behind "Menu", which opens it.
          await expect(page.locator(".topbar nav")).toBeHidden();
        }
      }
      // Logged out: the login page.
      await context.clearCookies();
      await page.goto("/login");
      await expectNoSidewaysScroll(page, "/login");
      if (javaScriptEnabled) {
        inaccessible.push(...(await accessibilityViolations(page)).map((v) => `/login: ${v}`));
      }
      expect(inaccessible, inaccessible.join("\n")).toEqual([]);
      expect(violations, violations.join("\n")).toEqual([]);
      await context.close();
      await api.dispose();
    });
  }
}

test("the phone's menu opens with and without JavaScript, and the tab names the page and the installation", async ({
  browser,
}) => {
  for (const javaScriptEnabled of [true, false]) {
    const { context, page } = await loggedIn(browser, PHONE, javaScriptEnabled);
    await page.goto("/events");
    await expect(page).toHaveTitle(/^Events · /);
    await expect(page.getByRole("link", { name: "Audit log" })).toBeHidden();
    await page.getByText("Menu", { exact: true }).click();
    await expect(page.getByRole("link", { name: "Audit log" })).toBeVisible();
    await page.getByTestId("me-menu").click();
    await expect(page.getByRole("button", { name: "Log out", exact: true })).toBeVisible();
    await page.getByRole("link", { name: "Audit log" }).click();
    await expect(page).toHaveTitle(/^Audit log · /);
    await expect(page.getByTestId("role")).toHaveText(/^(Leader|Subscriber|Standalone)$/);
    await context.close();
  }
});

test("events start at the top, with what awaits beside the heading, and new ones stand out", async ({ browser }) => {
  const { api, camera } = await seed();
  for (const size of [DESK, PHONE]) {
    const { context, page } = await loggedIn(browser, size);
    await page.goto(`/events?camera=${camera}`);
    await hydrated(page);
    // A filter is on: the bar is open and says which.
    await expect(page.getByTestId("filter-summary")).toContainText(`camera: ${camera}`);
    await expect(page.getByTestId("event-filters")).toBeVisible();
    await page.goto("/events");
    await hydrated(page);
    // None on: folded, so the first event is on the first screen.
    await expect(page.getByTestId("event-filters")).toBeHidden();
    const heading = (await page.getByRole("heading", { name: "Events" }).boundingBox())!;
    const awaiting = (await page.getByTestId("awaiting-count").boundingBox())!;
    // Beside the heading on a desk; right under it on a phone.
    const room = size === DESK ? 0 : 60;
    expect(awaiting.y).toBeLessThan(heading.y + heading.height + room);
    await expect(page.getByTestId("awaiting-count")).toContainText("awaiting acknowledgement");
    const first = (await page.getByTestId("event").first().boundingBox())!;
    // It starts high on the first screen: in the top half on a desk, the top 60 % on a phone.
    expect(first.y).toBeLessThan(size.height * (size === DESK ? 0.5 : 0.6));
    await context.close();
  }

  const { context, page } = await loggedIn(browser, DESK);
  await page.goto(`/events?camera=${camera}`);
  await hydrated(page);
  await expect(page.getByTestId("live-status")).toContainText("live");
  const before = await page.getByTestId("awaiting-count").innerText();
  await api.event(camera, "obama3.jpg");
  await expect(page.getByTestId("event")).toHaveCount(2, { timeout: 5000 });
  await expect(page.getByTestId("event").first()).toHaveClass(/\bnew\b/);
  // (Its best match may be another spec's Obama: an event keeps the best of all lists.)
  await expect(page.getByTestId("event").first()).toContainText("Barack Obama");
  await expect(page.getByTestId("event").nth(1)).not.toHaveClass(/\bnew\b/);
  // The count beside the heading follows.
  await expect(page.getByTestId("awaiting-count")).not.toHaveText(before);
  await context.close();
  await api.dispose();
});

test("dismissing a confirmation keeps the photo, the dossier, the list, the webhook and the camera", async ({
  browser,
}) => {
  test.setTimeout(90_000);
  const { api, list, listName, dossier, name } = await seed();
  await api.call("webhooks/create", { url: "http://127.0.0.1:9/kept" });
  const cameraName = unique("kept-camera").replace(/ /g, "-");
  await api.call("cameras/create", { name: cameraName, url: "rtsp://127.0.0.1:9/none", enabled: false });
  for (const [size, javaScriptEnabled] of [
    [DESK, true],
    [PHONE, false],
  ] as const) {
    const { context, page } = await loggedIn(browser, size, javaScriptEnabled);
    const open = async (path: string) => {
      await page.goto(path);
      if (javaScriptEnabled) await hydrated(page);
    };

    // A photo: asked in the page; dismissed, the photo stays.
    await open(`/dossiers/${dossier}`);
    const gallery = page.getByTestId("gallery").getByRole("img");
    await expect(gallery).toHaveCount(1);
    await page.getByText("Remove…").click();
    await expect(page.getByText("Remove this photo?")).toBeVisible();
    await page.getByText("Remove…").click();
    await expect(page.getByText("Remove this photo?")).toBeHidden();
    await open(`/dossiers/${dossier}`);
    await expect(gallery).toHaveCount(1);
    // Its thumbnail is the face, not the whole photo.
    await expect(gallery.first()).toHaveAttribute("src", /\/face$/);

    // A dossier and a list: a confirmation page; cancelled, they stay.
    await page.getByRole("link", { name: "Delete" }).click();
    await expect(page.getByText("This cannot be undone.")).toBeVisible();
    await page.getByRole("link", { name: "Cancel" }).click();
    await expect(page.getByTestId("dossier-name")).toHaveText(name);
    await open(`/watch-lists/${list}/delete`);
    await page.getByRole("link", { name: "Cancel" }).click();
    await expect(page.getByTestId("watch-list-row").filter({ hasText: listName })).toHaveCount(1);

    // A webhook and a camera: asked in the page; dismissed, they stay.
    for (const [path, card, question] of [
      ["/webhooks", "webhook", "Delete this webhook"],
      ["/cameras", "camera", "Delete this camera?"],
    ] as const) {
      await open(path);
      const count = await page.getByTestId(card).count();
      expect(count).toBeGreaterThan(0);
      await page.getByTestId(card).first().getByText("Delete…").click();
      await expect(page.getByText(question).first()).toBeVisible();
      await page.getByTestId(card).first().getByText("Delete…").click();
      await open(path);
      await expect(page.getByTestId(card)).toHaveCount(count);
    }
    await context.close();
  }

  // Confirmed, without JavaScript, the photo goes.
  const { context, page } = await loggedIn(browser, PHONE, false);
  await page.goto(`/dossiers/${dossier}`);
  await page.getByText("Remove…").click();
  await page.getByRole("button", { name: "Remove photo" }).click();
  await expect(page.getByText("No photos yet.")).toBeVisible();
  await context.close();
  await api.dispose();
});

test("the audit log names what changed and records webhooks", async ({ page }) => {
  const api = await Api.as("admin");
  const listName = unique("Audited names");
  const list = await api.watchList(listName);
  const hook = `http://127.0.0.1:9/${Date.now()}`;
  const [id] = await api.call("webhooks/create", { url: hook, watch_lists: [list] });
  await api.call("webhooks/delete", { id });
  await api.dispose();

  await logIn(page, "admin");
  await page.goto("/audit?subject_kind=webhook");
  const entries = page.getByTestId("audit-entry").filter({ hasText: hook });
  await expect(entries).toHaveCount(3);
  await expect(entries.getByTestId("audit-action")).toHaveText(["deleted", "secret shown", "created"]);
  await page.goto(`/audit?subject_kind=watch_list&subject_id=${list}`);
  await expect(page.getByTestId("audit-subject").first()).toContainText(`watch list ${list} · ${listName}`);
  await expect(page.getByTestId("audit-log")).not.toContainText("name folded");
});

test("a webhook is offered the lists by name and says to copy its secret", async ({ page }) => {
  const api = await Api.as("admin");
  const listName = unique("Hooked list");
  await api.watchList(listName);
  await api.dispose();
  await logIn(page, "admin");
  await page.goto("/webhooks");
  await hydrated(page);
  await expect(page.getByTestId("secret-hint")).toContainText("Copy this secret now");
  const url = `http://127.0.0.1:9/${Date.now()}`;
  await page.getByLabel("URL").fill(url);
  await page.getByRole("checkbox", { name: listName }).check();
  await page.getByRole("button", { name: "Add webhook" }).click();
  await expect(page.getByTestId("notice")).toBeVisible();
  await expect(page.getByTestId("webhook").filter({ hasText: url })).toContainText(`Lists: ${listName}`);
});

test("a search by photo keeps the filters that made its results", async ({ page }) => {
  const api = await Api.as("admin");
  const listName = unique("Searched list");
  await api.watchList(listName);
  await api.dispose();
  await logIn(page, "operator");
  await page.goto("/faces/search");
  await page.getByLabel("Photo").setInputFiles(testPhoto("obama.jpg"));
  await page.getByLabel("Watch list").selectOption({ label: listName });
  await page.getByLabel("Minimum confidence").fill("0.65");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/result=/);
  await expect(page.getByLabel("Minimum confidence")).toHaveValue("0.65");
  await expect(page.getByLabel("Watch list").locator("option:checked")).toHaveText(listName);
  await expect(page.getByTestId("face-results")).toContainText(/compared with (no dossier photos|1 dossier photo\b|\d+ dossier photos)/);
});

// The pictures in the README (docs/events-*.png, docs/dossier-*.png) are these, copied from
// end2end/test-results/screenshots after a run.
test("the Events page and a dossier page render whole on a desk and a phone", async ({ browser }) => {
  const { api, dossier, name } = await seed();
  for (const [label, size] of SIZES) {
    const { context, page } = await loggedIn(browser, size);
    await page.goto("/events");
    await hydrated(page);
    await expect(page.getByTestId("event").first()).toBeVisible();
    await page.screenshot({ path: `test-results/screenshots/events-${label}.png` });
    await page.goto(`/dossiers/${dossier}`);
    await hydrated(page);
    await expect(page.getByTestId("dossier-name")).toHaveText(name);
    await expect(page.getByTestId("gallery").getByRole("img")).toHaveJSProperty("complete", true);
    await page.screenshot({ path: `test-results/screenshots/dossier-${label}.png`, fullPage: true });
    await context.close();
  }
  await api.dispose();
});
