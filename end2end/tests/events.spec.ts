import { expect, test } from "@playwright/test";
import { Api, logIn, PASSWORD, unique } from "./pages";

/** An active list that asks for acknowledgement and alerts, holding one dossier with a face. */
async function watched(api: Api) {
  const listName = unique("Monitored");
  const list = (await api.call("watch-lists/create", { name: listName, active: true, acknowledge: true, notify: true, color: "#d0021b" })).id;
  const name = unique("Barack Obama");
  const [dossier] = await api.dossiers(name, 1, list);
  await api.photo(dossier, "obama.jpg");
  return { listName, name };
}

test("a camera's match appears live beside the dossier's photo and is acknowledged", async ({ page }) => {
  const api = await Api.as("admin");
  const { listName, name } = await watched(api);
  const camera = unique("gate");

  await logIn(page, "operator");
  await page.getByRole("link", { name: "Events" }).click();
  await page.goto(`/events?camera=${camera}`);
  await expect(page.getByText("No event matches these filters.")).toBeVisible();
  await expect(page.getByTestId("live-status")).toContainText("live");

  // Posted while the page is open: it comes in without a reload.
  await api.event(camera, "obama2.jpg");
  const row = page.getByTestId("event").first();
  await expect(row).toContainText(name, { timeout: 5000 });
  await expect(row).toContainText(listName);
  const confidence = Number(await row.getByTestId("confidence").innerText());
  expect(confidence).toBeGreaterThan(0.75);
  const pictures = row.getByRole("img");
  await expect(pictures).toHaveCount(2);
  await expect(pictures.first()).toHaveJSProperty("complete", true);
  await expect(pictures.last()).toHaveAttribute("alt", `Photo of ${name} 001`);

  // A stranger is an event too, without a match.
  await api.event(camera, "biden.jpg");
  await expect(page.getByTestId("event")).toHaveCount(2, { timeout: 5000 });
  await expect(page.getByTestId("event").first().getByTestId("unmatched")).toHaveText("no match");

  await page.getByTestId("event").nth(1).getByRole("button", { name: "Acknowledge" }).click();
  await expect(page.getByTestId("notice")).toHaveText("Event acknowledged.");
  await expect(page.getByTestId("event").nth(1).getByTestId("acknowledgement")).toContainText("operator ·");
  await api.dispose();
});

test("the events page and acknowledging work before the WASM loads", async ({ browser }) => {
  const api = await Api.as("admin");
  await watched(api);
  const camera = unique("door");
  await api.event(camera, "obama3.jpg");
  await api.dispose();

  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Username").fill("operator");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.goto(`/events?camera=${camera}&acknowledged=awaiting`);
  const row = page.getByTestId("event");
  await expect(row).toHaveCount(1);
  // Other specs' lists may hold the same face: the best of them is the match.
  await expect(row).toContainText("Barack Obama");
  await page.getByTestId("acknowledge-all").getByRole("button", { name: "Acknowledge all" }).click();
  await expect(page.getByTestId("notice")).toContainText("acknowledged");
  await expect(page.getByText("No event matches these filters.")).toBeVisible();
  await context.close();
});

test("an administrator adds a webhook and sees its deliveries", async ({ page }) => {
  await logIn(page, "admin");
  await page.getByRole("link", { name: "Webhooks" }).click();
  const form = page.getByTestId("new-webhook");
  const url = `http://127.0.0.1:9/${unique("hook").replace(" ", "-")}`;
  await form.getByLabel("URL").fill(url);
  await form.getByRole("button", { name: "Add webhook" }).click();
  await expect(page.getByTestId("notice")).toHaveText("Webhook added.");
  const card = page.getByTestId("webhook").filter({ hasText: url });
  await expect(card).toContainText("0 delivered");
  await card.getByText("Delete…").click();
  await card.getByRole("button", { name: "Delete webhook" }).click();
  await expect(page.getByTestId("notice")).toContainText("Webhook deleted");
  await expect(page.getByTestId("webhook").filter({ hasText: url })).toHaveCount(0);
});
