// An investigator's tools: where else a person was seen (from an event), verdicts on matches
// and the list's calibration they feed, and the events of a filter exported as CSV.
import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { Api, hydrated, logIn, PASSWORD, testPhoto, unique } from "./pages";

/** One person seen by two cameras, and a stranger by a third; a list watching the person. */
async function seed() {
  const api = await Api.as("admin");
  const listName = unique("Investigated");
  const list = (await api.call("watch-lists/create", { name: listName, active: true })).id;
  const name = unique("Barack Obama");
  const [dossier] = await api.dossiers(name, 1, list);
  await api.photo(dossier, "obama.jpg");
  const [gate, yard, lobby] = ["gate", "yard", "lobby"].map((c) => unique(c).replace(/ /g, "-"));
  const atGate = (await api.event(gate, "obama2.jpg")).events[0];
  const inYard = (await api.event(yard, "obama3.jpg")).events[0];
  const stranger = (await api.event(lobby, "biden.jpg")).events[0].id;
  // Other specs enrol the same test photos: the list a match was made by is the event's.
  return {
    api,
    gate,
    yard,
    lobby,
    seenAtGate: atGate.id,
    seenInYard: inYard.id,
    gateList: atGate.matched.watch_list_id,
    yardList: inYard.matched.watch_list_id,
    stranger,
  };
}

for (const javaScriptEnabled of [true, false]) {
  test(`"Find this person elsewhere" lists the other appearances and not the stranger${javaScriptEnabled ? "" : " (no JavaScript)"}`, async ({
    browser,
  }) => {
    const s = await seed();
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    // The login form, as it works with or without JavaScript.
    await page.goto("/login");
    await page.getByLabel("Username").fill("operator");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page.getByTestId("whoami")).toBeAttached();
    await page.goto(`/events?camera=${s.gate}`);
    await page.getByTestId("find-elsewhere").first().click();
    await expect(page).toHaveTitle(/^Seen elsewhere · /);
    const found = page.getByTestId("appearance");
    await expect(page.locator(`[data-testid=appearance][data-event-id="${s.seenInYard}"]`)).toContainText(s.yard);
    await expect(page.locator(`[data-testid=appearance][data-event-id="${s.stranger}"]`)).toHaveCount(0);
    await expect(page.locator(`[data-testid=appearance][data-event-id="${s.seenAtGate}"]`)).toHaveCount(0);
    expect(Number(await found.first().getByTestId("confidence").innerText())).toBeGreaterThan(0.75);
    // Narrowed to the stranger's camera: nobody.
    await page.getByTestId("similar-scope").getByLabel("Camera").fill(s.lobby);
    await page.getByRole("button", { name: "Search again" }).click();
    await expect(page.getByTestId("no-appearances")).toBeVisible();
    // A photo of the person searches the events too, and keeps its face for the next search.
    await page.getByTestId("similar-photo").getByLabel("Photo").setInputFiles(testPhoto("obama.jpg"));
    await page.getByTestId("similar-photo").getByRole("button", { name: "Search the events" }).click();
    await expect(page.locator(`[data-testid=appearance][data-event-id="${s.seenAtGate}"]`)).toContainText(s.gate);
    await expect(page.locator(`[data-testid=appearance][data-event-id="${s.stranger}"]`)).toHaveCount(0);
    await page.getByTestId("similar-scope").getByLabel("Camera").fill(s.yard);
    await page.getByRole("button", { name: "Search again" }).click();
    await expect(page.getByTestId("appearance")).toHaveCount(1);
    await expect(page.getByTestId("appearance")).toContainText(s.yard);
    await context.close();
    await s.api.dispose();
  });
}

test("verdicts on matches feed the list's calibration, which an Administrator applies", async ({ page }) => {
  const s = await seed();
  await logIn(page, "admin");
  await page.goto(`/events?camera=${s.gate}`);
  await hydrated(page);
  await page.getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByText("Match confirmed.")).toBeVisible();
  await expect(page.getByTestId("verdict")).toHaveText("Confirmed");
  await page.goto(`/events?camera=${s.yard}`);
  await hydrated(page);
  await page.getByRole("button", { name: "Not this person" }).click();
  await expect(page.getByText("Marked: not this person.")).toBeVisible();
  await expect(page.getByTestId("verdict")).toHaveText("Not this person");

  if (s.yardList !== s.gateList) {
    await page.goto(`/watch-lists/${s.yardList}/calibration`);
    await expect(page.getByTestId("rejected-count")).toHaveText("1");
  }
  await page.goto(`/watch-lists/${s.gateList}/calibration`);
  await expect(page.getByTestId("confirmed-count")).toHaveText("1");
  if (s.yardList === s.gateList) await expect(page.getByTestId("rejected-count")).toHaveText("1");
  await expect(page.getByTestId("proposal")).toContainText("Proposed threshold");
  await hydrated(page);
  await page.getByTestId("apply-threshold").getByRole("button").click();
  await expect(page.getByText("Threshold applied")).toBeVisible();
  const list = await s.api.call("watch-lists/get", { id: s.gateList });
  expect(list.confidence_threshold).toBeGreaterThan(0.75);
  // Back to the default, so that other specs' matches are made as before.
  await s.api.call("watch-lists/apply-threshold", { id: s.gateList, threshold: "0.75" });
  await s.api.dispose();
});

test("the events of a filter download as CSV, one row per event", async ({ page }) => {
  const s = await seed();
  await logIn(page, "viewer");
  await page.goto(`/events?camera=${s.gate}`);
  const download = page.waitForEvent("download");
  await page.getByTestId("export-events").click();
  const file = await (await download).path();
  const lines = readFileSync(file, "utf8").trim().split("\n");
  expect(lines[0]).toContain("captured_at");
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain(s.gate);
  await s.api.dispose();
});

test("an unknown face from a camera this desk watches alerts the Events page", async ({ page }) => {
  const api = await Api.as("admin");
  const [yard, gate] = ["yard", "gate"].map((c) => unique(c).replace(/ /g, "-"));
  await logIn(page, "operator");
  await page.goto("/events");
  await hydrated(page);
  await page.getByTestId("unknown-cameras").fill(yard);
  await page.getByTestId("unknown-cameras").press("Tab");
  await page.reload();
  // Kept in this browser.
  await expect(page.getByTestId("unknown-cameras")).toHaveValue(yard);
  await expect(page.getByTestId("live-status")).toContainText("live");
  // A face nobody enrolled (the test photos' people are on other specs' lists): a vector far
  // from every real face.
  const stranger = (camera: string) =>
    api.call("events/faces", { camera, model: "dlib-resnet-v1", vectors: [[0.5, ...Array(127).fill(0)]] });
  const elsewhere = (await stranger(gate)).events[0].id;
  const unknown = (await stranger(yard)).events[0].id;
  await expect(page.locator("body")).toHaveAttribute("data-last-alert", String(unknown));
  expect(String(elsewhere)).not.toEqual(await page.locator("body").getAttribute("data-last-alert"));
  await api.dispose();
});
